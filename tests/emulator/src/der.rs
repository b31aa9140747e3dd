//! Just enough PEM and DER to find a certificate's public key and an RSA key's modulus.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The DER bodies of every PEM block labelled `label` in `pem`.
pub(crate) fn pem_blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start + begin.len()..];
        let Some(stop) = after.find(&end) else { break };
        let b64: String = after[..stop]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = STANDARD.decode(b64.as_bytes()) {
            out.push(der);
        }
        rest = &after[stop + end.len()..];
    }
    out
}

/// One DER element: its tag, its content, and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// Reads one DER element from the front of `input`; returns it and the rest.
fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    if end > input.len() {
        return None;
    }
    Some((
        Tlv {
            tag,
            content: &input[header..end],
            whole: &input[..end],
        },
        &input[end..],
    ))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;

/// The `SubjectPublicKeyInfo` (whole DER) of an X.509 certificate.
pub(crate) fn cert_spki(cert_der: &[u8]) -> Option<Vec<u8>> {
    let (cert, _) = read_tlv(cert_der)?;
    if cert.tag != SEQUENCE {
        return None;
    }
    let (tbs, _) = read_tlv(cert.content)?;
    if tbs.tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs.content;
    let (first, after) = read_tlv(rest)?;
    if first.tag == 0xa0 {
        rest = after; // explicit version
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = read_tlv(rest)?.1;
    }
    let (spki, _) = read_tlv(rest)?;
    (spki.tag == SEQUENCE).then(|| spki.whole.to_vec())
}

/// `(n, e)` of a DER `RSAPublicKey`, without leading zero bytes.
pub(crate) fn rsa_public_components(rsa_public_key_der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (seq, _) = read_tlv(rsa_public_key_der)?;
    if seq.tag != SEQUENCE {
        return None;
    }
    let (n, rest) = read_tlv(seq.content)?;
    let (e, _) = read_tlv(rest)?;
    if n.tag != INTEGER || e.tag != INTEGER {
        return None;
    }
    let strip = |b: &[u8]| {
        let i = b
            .iter()
            .position(|&x| x != 0)
            .unwrap_or(b.len().saturating_sub(1));
        b[i..].to_vec()
    };
    Some((strip(n.content), strip(e.content)))
}

/// A certificate registered on an app, with what assertion verification needs.
#[derive(Debug, Clone)]
pub(crate) struct CertInfo {
    pub(crate) der: Vec<u8>,
    pub(crate) sha1: Vec<u8>,
    pub(crate) sha256: Vec<u8>,
    pub(crate) spki: Vec<u8>,
}

impl CertInfo {
    pub(crate) fn from_der(der: Vec<u8>) -> Option<Self> {
        let spki = cert_spki(&der)?;
        Some(Self {
            sha1: digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
                .as_ref()
                .to_vec(),
            sha256: digest::digest(&digest::SHA256, &der).as_ref().to_vec(),
            spki,
            der,
        })
    }

    /// Every certificate in a PEM string; `None` if there is none or one does not parse.
    pub(crate) fn from_pem(pem: &str) -> Option<Vec<Self>> {
        let blocks = pem_blocks(pem, "CERTIFICATE");
        if blocks.is_empty() {
            return None;
        }
        blocks.into_iter().map(Self::from_der).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds;

    #[test]
    fn parses_fixture_certificates() {
        let certs = CertInfo::from_pem(seeds::APP_CERT_PEM).expect("cert");
        assert_eq!(certs.len(), 1);
        let c = &certs[0];
        assert_eq!(c.sha1.len(), 20);
        assert_eq!(c.sha256.len(), 32);
        // An RSA SPKI parses as a public key with aws-lc-rs.
        assert!(aws_lc_rs::rsa::PublicKey::from_der(&c.spki).is_ok());
        assert!(CertInfo::from_pem("garbage").is_none());
        assert!(read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(cert_spki(&[0x30, 0x03, 0x30, 0x01]).is_none());
    }
}
