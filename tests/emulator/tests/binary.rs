//! The `msal-emulator` binary: `--help`, the manifest line, serving, stopping.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use msal_core::http::ReqwestHttpClient;
use msal_core::{Authority, ClientCredential, ConfidentialClient, TokenSource};
use msal_emulator::seeds::*;
use msal_emulator::{AdminClient, MANIFEST_VERSION, Manifest};

const EMULATOR: &str = env!("CARGO_BIN_EXE_msal-emulator");

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the emulator did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the binary; returns it, its manifest line and the parsed manifest.
fn spawn_binary(args: &[&str]) -> (std::process::Child, String, Manifest) {
    let mut child = Command::new(EMULATOR)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn msal-emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let manifest: Manifest = serde_json::from_str(line.trim()).expect("one JSON manifest line");
    (child, line, manifest)
}

#[test]
fn help_exits_0_and_documents_the_manifest_line_and_the_admin_api() {
    for flag in ["--help", "-h"] {
        let out = Command::new(EMULATOR).arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8(out.stdout).unwrap();
        for needle in [
            "usage: msal-emulator",
            "--state-dir DIR",
            "ONE line on stdout, the manifest",
            "trust_emulator",
            "| `manifest_version` | `1`",
            "| `ca_pem` |",
            "## The admin API",
            "| `POST` | `/admin/apps` |",
            "| `POST` | `/admin/faults` |",
            "| `POST` | `/admin/clock` |",
            "| `POST` | `/admin/device/{user_code}/deny` |",
            "--managed-identity-port N",
            "--service-fabric-port N",
            "| `managed_identity` |",
            "| `POST` | `/admin/managed-identity/faults` |",
        ] {
            assert!(text.contains(needle), "{flag}: no {needle:?} in\n{text}");
        }
        assert!(!text.contains("<!--"), "the README markers stay out");
    }
    let out = Command::new(EMULATOR).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument --bogus"));
}

#[tokio::test]
async fn binary_prints_a_manifest_and_serves() {
    let (mut child, line, m) = spawn_binary(&[]);
    assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
    assert_eq!(m.manifest_version, MANIFEST_VERSION);
    assert_eq!(MANIFEST_VERSION, 1);
    assert!(m.https_addr.starts_with("127.0.0.1:"));
    assert!(m.admin_url.starts_with("http://127.0.0.1:"));
    assert!(m.hosts.iter().any(|h| h == PUBLIC_HOST));
    assert_eq!(m.seeds.tenants[0].id, CONTOSO_TENANT_ID);
    let secret_app = m
        .seeds
        .apps
        .iter()
        .find(|a| a.client_id == SECRET_APP_CLIENT_ID)
        .unwrap();
    assert_eq!(secret_app.secret.as_deref(), Some(SECRET_APP_SECRET));
    let cert_app = m
        .seeds
        .apps
        .iter()
        .find(|a| a.client_id == CERT_APP_CLIENT_ID)
        .unwrap();
    let cert_path = cert_app.certificate_path.clone().unwrap();
    assert_eq!(std::fs::read_to_string(&cert_path).unwrap(), APP_CERT_PEM);
    assert_eq!(
        m.seeds
            .users
            .iter()
            .find(|u| u.username == ALICE_USERNAME)
            .unwrap()
            .oid,
        ALICE_OID
    );
    assert_eq!(m.seeds.authorities.adfs, "https://fs.contoso.com/adfs");
    // The CA is in the manifest and in the state directory.
    assert!(m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(std::fs::read_to_string(&m.ca_pem_path).unwrap(), m.ca_pem);

    // A program using msal-core gets a token through the manifest line alone.
    let http = ReqwestHttpClient::builder()
        .trust_emulator(&line)
        .expect("the manifest line is accepted")
        .build()
        .unwrap();
    let app = ConfidentialClient::builder(
        SECRET_APP_CLIENT_ID,
        ClientCredential::secret(SECRET_APP_SECRET),
    )
    .authority(Authority::tenant(CONTOSO_DOMAIN))
    .http_client(http)
    .build()
    .unwrap();
    let token = app
        .acquire_token_for_client("https://graph.microsoft.com/.default")
        .await
        .expect("a token from the emulator");
    assert_eq!(token.source(), TokenSource::IdentityProvider);
    let admin = AdminClient::new(m.admin_url.clone());
    assert_eq!(admin.manifest().await.unwrap(), m);
    assert_eq!(admin.stats().await.unwrap().token_requests, 1);

    // End of stdin stops it, and its temporary state directory goes away.
    drop(child.stdin.take());
    assert!(wait_exit(&mut child).success());
    assert!(!std::path::Path::new(&m.ca_pem_path).exists());
}

#[cfg(unix)]
#[tokio::test]
async fn binary_stops_on_sigterm_and_keeps_a_given_state_dir() {
    let dir = std::env::temp_dir().join(format!(
        "msal-emulator-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string()
    };
    let (mi_port, sf_port) = (free(), free());
    let (mut child, _, m) = spawn_binary(&[
        "--ignore-stdin",
        "--state-dir",
        dir.to_str().unwrap(),
        "--managed-identity-port",
        &mi_port,
        "--service-fabric-port",
        &sf_port,
    ]);
    assert_eq!(std::path::Path::new(&m.ca_pem_path), dir.join("ca.pem"));
    let mi = &m.managed_identity;
    assert_eq!(
        mi.app_service_endpoint,
        format!("http://127.0.0.1:{mi_port}/msi/token")
    );
    assert_eq!(
        mi.service_fabric_endpoint,
        format!("https://127.0.0.1:{sf_port}/sf/token")
    );
    assert_eq!(
        std::path::Path::new(&mi.arc_key_dir),
        dir.join("arc-tokens")
    );
    assert!(dir.join("arc-tokens").is_dir());
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(wait_exit(&mut child).success());
    assert!(dir.join("ca.pem").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
