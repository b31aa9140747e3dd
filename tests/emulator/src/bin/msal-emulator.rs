//! `msal-emulator [--https-port N] [--admin-port N] [--imds-port N] [--managed-identity-port N]
//! [--service-fabric-port N] [--state-dir DIR] [--ignore-stdin]`
//!
//! Starts the Entra ID emulator, prints its manifest as ONE JSON line on stdout, then serves
//! until SIGTERM/SIGINT or end of stdin (unless `--ignore-stdin`). `--help` prints the manifest
//! and admin API tables of the crate's README.

use std::io::Write as _;
use std::path::PathBuf;

use msal_emulator::{Emulator, EmulatorConfig};

const USAGE: &str = "usage: msal-emulator [--https-port N] [--admin-port N] [--imds-port N] [--managed-identity-port N] [--service-fabric-port N] [--state-dir DIR] [--ignore-stdin]";

const ABOUT: &str = "\
msal-emulator: a local Microsoft Entra ID emulator for offline tests (real HTTPS on 127.0.0.1
under Microsoft's host names, a JSON admin API).

Options (every port 0 = ephemeral, the default; everything binds 127.0.0.1):
  --https-port N    the HTTPS port serving every host name
  --admin-port N    the admin API port (plain HTTP)
  --imds-port N     the emulated Azure Instance Metadata Service port (plain HTTP; it serves
                    the IMDS managed-identity token path too)
  --managed-identity-port N
                    the App Service, Azure Machine Learning, Azure Arc and Cloud Shell
                    managed-identity port (plain HTTP)
  --service-fabric-port N
                    the Service Fabric managed-identity port (HTTPS, self-signed certificate)
  --state-dir DIR   write ca.pem, the fixture keys and Azure Arc's key files there, and keep
                    them (default: a temporary directory, removed on exit)
  --ignore-stdin    do not stop at the end of stdin (stop on SIGTERM or Ctrl-C only)
  -h, --help        print this help and exit

Once listening it prints ONE line on stdout, the manifest (a JSON object, \"manifest_version\": 1),
then serves until SIGTERM, Ctrl-C or the end of stdin. A program using msal-core trusts it in one
step: ReqwestHttpClient::builder().trust_emulator(&manifest_line)?. Other clients: resolve every
name in `hosts` to `https_addr` and trust only `ca_pem`.
";

/// The part of the README between `<!-- {name}:start -->` and `<!-- {name}:end -->`.
fn readme_section(name: &str) -> &'static str {
    const README: &str = include_str!("../../README.md");
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    README
        .split_once(start.as_str())
        .and_then(|(_, rest)| rest.split_once(end.as_str()))
        .map_or("", |(section, _)| section.trim())
}

fn help() -> String {
    format!(
        "{USAGE}\n\n{ABOUT}\n{}\n\n{}\n",
        readme_section("manifest"),
        readme_section("admin-api")
    )
}

/// What the command line asks for.
enum Command {
    Serve(EmulatorConfig, bool),
    Help,
}

fn parse_args() -> Result<Command, String> {
    let mut config = EmulatorConfig::default();
    let mut ignore_stdin = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match name.as_str() {
            "--https-port" => {
                config.https_port = value()?.parse().map_err(|e| format!("--https-port: {e}"))?;
            }
            "--admin-port" => {
                config.admin_port = value()?.parse().map_err(|e| format!("--admin-port: {e}"))?;
            }
            "--imds-port" => {
                config.imds_port = value()?.parse().map_err(|e| format!("--imds-port: {e}"))?;
            }
            "--managed-identity-port" => {
                config.managed_identity_port = value()?
                    .parse()
                    .map_err(|e| format!("--managed-identity-port: {e}"))?;
            }
            "--service-fabric-port" => {
                config.service_fabric_port = value()?
                    .parse()
                    .map_err(|e| format!("--service-fabric-port: {e}"))?;
            }
            "--state-dir" => config.state_dir = Some(PathBuf::from(value()?)),
            "--ignore-stdin" => ignore_stdin = true,
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Command::Serve(config, ignore_stdin))
}

/// Resolves when stdin reaches end of file (read on a plain thread, which never blocks exit).
fn stdin_closed() -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut sink = [0u8; 1024];
        let mut stdin = std::io::stdin().lock();
        loop {
            match std::io::Read::read(&mut stdin, &mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = tx.send(());
    });
    rx
}

/// Resolves on SIGTERM or Ctrl-C. The SIGTERM handler is installed when this is called (not
/// when first polled), so call it before announcing readiness: a SIGTERM right after the
/// manifest line then stops the emulator cleanly instead of killing it.
fn terminate() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        {
            if let Some(mut term) = term {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() {
    let (config, ignore_stdin) = match parse_args() {
        Ok(Command::Serve(config, ignore_stdin)) => (config, ignore_stdin),
        Ok(Command::Help) => {
            let mut out = std::io::stdout().lock();
            let written = out.write_all(help().as_bytes()).and_then(|()| out.flush());
            std::process::exit(if written.is_ok() { 0 } else { 1 });
        }
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let emulator = match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("msal-emulator: cannot start: {e:#}");
            std::process::exit(1);
        }
    };
    let stop = terminate();
    let line = emulator.manifest_json();
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            std::process::exit(1);
        }
    }
    if ignore_stdin {
        stop.await;
    } else {
        let eof = stdin_closed();
        tokio::select! {
            _ = stop => {}
            _ = eof => {}
        }
    }
    drop(emulator);
    std::process::exit(0);
}
