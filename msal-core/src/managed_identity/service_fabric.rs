//! Service Fabric: `GET $IDENTITY_ENDPOINT?api-version=2019-07-01-preview&resource=…` with
//! `Secret: $IDENTITY_HEADER`, over https to a certificate no CA vouches for: the connection
//! is accepted only when the server certificate's SHA-1 equals `IDENTITY_SERVER_THUMBPRINT`
//! (msal/managed_identity.py `_obtain_token_on_service_fabric` and its pinned session). The
//! cluster decides the identity; the request names none. A claims challenge sends
//! `token_sha256_to_refresh`, and client capabilities go as `xms_cc`.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use url::Url;

use super::sources::{has_token, text};
use super::wire::{self, Outgoing};
use crate::error::{Error, ErrorKind, Result};
use crate::http::ReqwestHttpClient;

const API_VERSION: &str = "2019-07-01-preview";

/// The token request.
pub(crate) fn request(
    url: &Url,
    secret: &SecretString,
    resource: &str,
    token_sha256_to_refresh: Option<&str>,
    capabilities: &[String],
) -> Outgoing {
    let caps = capabilities.join(",");
    let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
    if let Some(h) = token_sha256_to_refresh {
        params.push(("token_sha256_to_refresh", h));
    }
    if !caps.is_empty() {
        params.push(("xms_cc", &caps));
    }
    Outgoing::get(url, &params).header("Secret", secret.expose_secret())
}

/// A token (with `expires_on` and `token_type`), or the error mapped by its `error.code` as
/// MSAL Python maps it, with the body as the description.
pub(crate) fn parse(resp: &http::Response<Vec<u8>>) -> Result<Map<String, Value>> {
    let status = resp.status().as_u16();
    let m = wire::json_object(resp)?;
    if has_token(&m) && m.contains_key("expires_on") && m.contains_key("token_type") {
        return Ok(m);
    }
    let code = m
        .get("error")
        .and_then(Value::as_object)
        .and_then(|e| text(e, "code"));
    let error = match code.as_deref() {
        Some("SecretHeaderNotFound") => "unauthorized_client",
        Some("ManagedIdentityNotFound") => "invalid_client",
        Some("ArgumentNullOrEmpty") => "invalid_scope",
        _ => "invalid_request",
    };
    Err(wire::service_error(
        status,
        error,
        Some(wire::body_text(resp)),
        wire::retry_after_secs(resp),
    ))
}

/// An HTTP client that trusts exactly the certificate whose SHA-1 is `thumbprint`, never
/// through a proxy.
pub(crate) fn pinned_client(thumbprint: [u8; 20]) -> Result<ReqwestHttpClient> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = PinnedCertificate {
        thumbprint,
        provider: Arc::clone(&provider),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::with_source(ErrorKind::Configuration, "TLS could not be set up", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(wire::ATTEMPT_TIMEOUT)
        .connect_timeout(crate::http::DEFAULT_CONNECT_TIMEOUT)
        .build()
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Configuration,
                "the Service Fabric HTTP client could not be built",
                e,
            )
        })?;
    Ok(ReqwestHttpClient::from_reqwest(client))
}

/// Accepts the server certificate by its SHA-1 thumbprint alone (in place of CA
/// verification), and still checks the handshake signatures with it.
#[derive(Debug)]
struct PinnedCertificate {
    thumbprint: [u8; 20],
    provider: Arc<CryptoProvider>,
}

/// The SHA-1 of a certificate's DER (the thumbprint Windows and Service Fabric show).
pub(crate) fn sha1_thumbprint(der: &[u8]) -> [u8; 20] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut out = [0u8; 20];
    out.copy_from_slice(d.as_ref().get(..20).unwrap_or(&[0u8; 20]));
    out
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if sha1_thumbprint(end_entity.as_ref()) == self.thumbprint {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(
                "the Service Fabric endpoint's certificate does not match IDENTITY_SERVER_THUMBPRINT"
            );
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
