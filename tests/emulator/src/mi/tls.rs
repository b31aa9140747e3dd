//! Service Fabric's TLS identity: a fresh self-signed certificate for `localhost` and
//! `127.0.0.1`, issued by no CA (clients pin its SHA-1 thumbprint, as on a real cluster).

use std::sync::Arc;

use aws_lc_rs::digest;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The listener's TLS configuration and its certificate's thumbprint.
pub(crate) struct FabricTls {
    pub(crate) server_config: Arc<ServerConfig>,
    /// SHA-1 of the certificate DER, 40 uppercase hex characters.
    pub(crate) thumbprint: String,
}

/// Uppercase hex SHA-1 of `der`.
pub(crate) fn thumbprint(der: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Generates the certificate (ECDSA P-256) and the server configuration.
pub(crate) fn generate() -> anyhow::Result<FabricTls> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "msal-rs emulator Service Fabric");
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    let cert = params.self_signed(&key)?;
    let der: CertificateDer<'static> = cert.der().clone();
    let thumbprint = thumbprint(der.as_ref());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![der], private)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(FabricTls {
        server_config: Arc::new(config),
        thumbprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints_are_uppercase_hex() {
        // SHA-1("abc"), FIPS 180-2 appendix A.
        assert_eq!(
            thumbprint(b"abc"),
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
        let tls = generate().unwrap();
        assert_eq!(tls.thumbprint.len(), 40);
        assert!(
            tls.thumbprint
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }
}
