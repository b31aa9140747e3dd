//! `cargo xtask demo`: the main job of msal-rs, shown against the bundled Entra ID emulator.
//! Starts `msal-emulator`, reads its manifest (ports, test CA, seeded apps), and runs the
//! programs in `msal-core/examples` as a user would run them, pointed at the emulator.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::util::{build_executables, target_dir};

/// Kills the emulator when the demo ends, however it ends.
struct EmulatorProcess(Child);

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn run() -> Result<()> {
    eprintln!("demo: building the emulator and the examples (debug profile)");
    // Debug, as the tests are built, so that a fresh machine builds the workspace once; the
    // daemon says so next to its timing (`cargo xtask bench` measures the optimised build).
    let built = build_executables(&[
        "--quiet",
        "-p",
        "msal-emulator",
        "--bin",
        "msal-emulator",
        "-p",
        "msal-core",
        "--features",
        "msal-core/azure",
        "--examples",
    ])?;
    let exe = |name: &str| -> Result<&std::path::Path> {
        built
            .get(name)
            .map(std::path::PathBuf::as_path)
            .with_context(|| format!("cargo built no executable named {name}"))
    };
    let state = target_dir()?.join("demo");
    let mut child = Command::new(exe("msal-emulator")?)
        .arg("--state-dir")
        .arg(&state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting msal-emulator")?;
    let stdout = child.stdout.take().context("emulator stdout")?;
    let emulator = EmulatorProcess(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading the emulator manifest")?;
    let manifest: Value = serde_json::from_str(&line).context("parsing the emulator manifest")?;
    let addr = manifest["https_addr"]
        .as_str()
        .context("manifest: https_addr")?;
    let admin = manifest["admin_url"]
        .as_str()
        .context("manifest: admin_url")?;
    let ca = manifest["ca_pem_path"]
        .as_str()
        .context("manifest: ca_pem_path")?;
    let hosts: Vec<&str> = manifest["hosts"]
        .as_array()
        .context("manifest: hosts")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    println!("msal-rs demo against the local Entra ID emulator");
    println!(
        "  emulator: https on {addr} for {} host names (test CA {ca}), admin API {admin}",
        hosts.len()
    );

    let seeds = &manifest["seeds"];
    let app = |name: &str| -> Result<&Value> {
        seeds["apps"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .with_context(|| format!("manifest: no app named {name}"))
    };
    let tenant = |name: &str| -> Result<&str> {
        seeds["tenants"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .and_then(|t| t["domains"][0].as_str())
            .with_context(|| format!("manifest: no tenant named {name}"))
    };
    let secret_app = app("secret app")?;
    let cert_app = app("cert app")?;
    let api = app("middle-tier API")?;
    let str_of = |v: &Value, k: &str| -> Result<String> {
        v[k].as_str()
            .map(str::to_owned)
            .with_context(|| format!("manifest: {k}"))
    };

    let emulator_env = |cmd: &mut Command| {
        cmd.env("MSAL_EMULATOR_MANIFEST", line.trim());
    };

    println!();
    let mut daemon = Command::new(exe("daemon")?);
    emulator_env(&mut daemon);
    daemon
        .env("AZURE_CLIENT_ID", str_of(secret_app, "client_id")?)
        .env("AZURE_CLIENT_SECRET", str_of(secret_app, "secret")?)
        .env("AZURE_TENANT_ID", tenant("contoso")?)
        .env("AZURE_OTHER_TENANT_ID", tenant("fabrikam")?)
        .env("AZURE_CERT_CLIENT_ID", str_of(cert_app, "client_id")?)
        .env(
            "AZURE_CLIENT_CERTIFICATE_PATH",
            str_of(cert_app, "certificate_path")?,
        )
        .env(
            "AZURE_CLIENT_KEY_PATH",
            str_of(cert_app, "private_key_path")?,
        );
    run_example(&mut daemon, "daemon")?;

    println!();
    let alice = seeds["users"][0]["username"]
        .as_str()
        .context("manifest: users")?;
    let user_token = mint_user_token(admin, tenant("contoso")?, alice, &str_of(api, "client_id")?)?;
    println!("(a front end signed {alice} in and called the web API with a token for it)");
    let mut obo = Command::new(exe("web_api_obo")?);
    emulator_env(&mut obo);
    obo.env("AZURE_CLIENT_ID", str_of(api, "client_id")?)
        .env("AZURE_CLIENT_SECRET", str_of(api, "secret")?)
        .env("AZURE_TENANT_ID", tenant("contoso")?)
        .env("USER_ASSERTION", user_token);
    run_example(&mut obo, "web_api_obo")?;

    println!();
    let web = app("web app")?;
    let mut web_app = Command::new(exe("web_app")?);
    emulator_env(&mut web_app);
    web_app
        .env("AZURE_CLIENT_ID", str_of(web, "client_id")?)
        .env("AZURE_CLIENT_SECRET", str_of(web, "secret")?)
        .env("AZURE_TENANT_ID", tenant("contoso")?)
        .env(
            "REDIRECT_URI",
            web["redirect_uris"][0]
                .as_str()
                .context("manifest: web app redirect")?,
        )
        .env("LOGIN_HINT", alice);
    run_example(&mut web_app, "web_app")?;

    println!();
    let public = app("public client")?;
    let mut cli = Command::new(exe("cli")?);
    emulator_env(&mut cli);
    cli.env("AZURE_CLIENT_ID", str_of(public, "client_id")?)
        .env("AZURE_TENANT_ID", tenant("contoso")?)
        .env("MSAL_EMULATOR_ADMIN", admin);
    // The user, on their phone: approves every device code the CLI shows.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let approver = {
        let stop = std::sync::Arc::clone(&stop);
        let admin = admin.to_owned();
        let user = alice.to_owned();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(codes) = http(&admin, "GET", "/admin/device", None) {
                    for c in codes.as_array().into_iter().flatten() {
                        if c["status"] == "pending"
                            && let Some(code) = c["user_code"].as_str()
                        {
                            println!("  (the user enters {code} on their phone and signs in)");
                            let body = serde_json::json!({ "username": user });
                            let _ = http(
                                &admin,
                                "POST",
                                &format!("/admin/device/{code}/approve"),
                                Some(&body),
                            );
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let cli_result = run_example(&mut cli, "cli");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = approver.join();
    cli_result?;

    println!();
    let endpoints = &manifest["managed_identity"];
    let user_mi = seeds["managed_identities"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["system_assigned"] == false))
        .context("manifest: no user-assigned managed identity")?;
    for (style, vars) in [
        (
            "App Service",
            vec![
                (
                    "IDENTITY_ENDPOINT",
                    str_of(endpoints, "app_service_endpoint")?,
                ),
                ("IDENTITY_HEADER", str_of(endpoints, "identity_header")?),
            ],
        ),
        (
            "an Azure VM (IMDS)",
            vec![(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                str_of(endpoints, "imds_host")?,
            )],
        ),
    ] {
        println!("(running as if on {style})");
        let mut mi = Command::new(exe("managed_identity")?);
        for var in [
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "IDENTITY_SERVER_THUMBPRINT",
            "IMDS_ENDPOINT",
            "MSI_ENDPOINT",
            "MSI_SECRET",
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "AZUREPS_HOST_ENVIRONMENT",
        ] {
            mi.env_remove(var);
        }
        mi.envs(vars)
            .env("AZURE_CLIENT_ID", str_of(user_mi, "client_id")?);
        run_example(&mut mi, "managed_identity")?;
    }

    println!(
        "\n(an Azure SDK Key Vault client with an msal-rs credential, as an AKS pod with workload identity)"
    );
    let workload = app("workload")?;
    let subject = workload["federated_credentials"][0]["subject"]
        .as_str()
        .context("manifest: the workload app's federated credential")?;
    let minted = http(
        admin,
        "POST",
        "/admin/tokens/federated",
        Some(&serde_json::json!({ "subject": subject })),
    )?;
    let token_file = state.join("azure-identity-token");
    std::fs::write(
        &token_file,
        minted["access_token"]
            .as_str()
            .context("admin: a federated token")?,
    )
    .with_context(|| format!("writing {}", token_file.display()))?;
    let mut sdk = Command::new(exe("azure_sdk")?);
    emulator_env(&mut sdk);
    for var in [
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IDENTITY_SERVER_THUMBPRINT",
        "IMDS_ENDPOINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "AZUREPS_HOST_ENVIRONMENT",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
    ] {
        sdk.env_remove(var);
    }
    sdk.env("AZURE_TENANT_ID", tenant("contoso")?)
        .env("AZURE_CLIENT_ID", str_of(workload, "client_id")?)
        .env("AZURE_FEDERATED_TOKEN_FILE", &token_file)
        .env("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com")
        .env("AZURE_KEYVAULT_URL", "https://contoso.vault.azure.net/")
        // Managed identity, last in the chain, stays on the emulator's loopback IMDS.
        .env(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            str_of(endpoints, "imds_host")?,
        );
    run_example(&mut sdk, "azure_sdk")?;

    let stats = http(admin, "GET", "/admin/stats", None)?;
    println!(
        "\nemulator saw {} token requests and {} discovery requests in all",
        stats["token_requests"], stats["discovery_requests"]
    );
    drop(emulator);
    println!("demo: done");
    Ok(())
}

fn run_example(cmd: &mut Command, name: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running example {name}"))?;
    if !status.success() {
        bail!("example {name} failed ({status})");
    }
    Ok(())
}

fn mint_user_token(admin: &str, tenant: &str, username: &str, audience: &str) -> Result<String> {
    let body = serde_json::json!({
        "tenant": tenant,
        "username": username,
        "audience": audience,
        "scopes": ["access_as_user"],
    });
    let v = http(admin, "POST", "/admin/tokens/user", Some(&body))?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("the emulator minted no token")
}

/// A minimal HTTP/1.1 JSON exchange with the emulator's loopback admin API.
fn http(base: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let hostport = base
        .strip_prefix("http://")
        .context("the admin URL is not http://")?
        .trim_end_matches('/');
    let addr: std::net::SocketAddr = hostport.parse().context("admin address")?;
    if !addr.ip().is_loopback() {
        bail!("the admin API must be on loopback");
    }
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let (head, body) = resp
        .split_once("\r\n\r\n")
        .context("malformed admin response")?;
    if !head.starts_with("HTTP/1.1 2") {
        bail!(
            "admin API {method} {path}: {}",
            head.lines().next().unwrap_or("")
        );
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).context("admin API answered with non-JSON")
}

fn dechunk(mut s: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").context("chunk size")?;
        let n = usize::from_str_radix(size.trim(), 16).context("chunk size")?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).context("chunk")?);
        s = rest.get(n + 2..).context("chunk end")?;
    }
}
