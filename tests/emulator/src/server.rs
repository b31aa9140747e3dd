//! Accept loops: HTTPS (tokio-rustls, HTTP/1.1 and h2) and plain HTTP, each connection served
//! by hyper-util's auto builder over an axum router.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// Serves `router` on `listener` (TLS when `tls` is given) until the task is aborted; aborting
/// drops every connection.
pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<ServerConfig>>,
) -> JoinHandle<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let router = router.clone();
                        let acceptor = acceptor.clone();
                        connections.spawn(serve(stream, router, acceptor));
                    }
                    Err(e) => {
                        tracing::debug!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

async fn serve(stream: TcpStream, router: Router, acceptor: Option<TlsAcceptor>) {
    let _ = stream.set_nodelay(true);
    let service = TowerToHyperService::new(router);
    let builder = auto::Builder::new(TokioExecutor::new());
    let result = match acceptor {
        Some(acceptor) => {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            builder.serve_connection(TokioIo::new(tls), service).await
        }
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection ended with an error: {e}");
    }
}
