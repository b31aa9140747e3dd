//! A small, lenient PEM reader (RFC 7468 text with RFC 1421 headers tolerated).
//!
//! It finds every `-----BEGIN <label>-----` … `-----END <label>-----` block in the input and
//! base64-decodes its body. Text outside blocks (OpenSSL's "Bag Attributes", comments) is
//! ignored, line breaks may be `\n` or `\r\n`, lines may have any width, and a PEM squashed onto
//! one line (as happens in environment variables) is read too.
//!
//! Error messages name the input and the block label only: never body text, which may be a key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";
const MAX_LABEL_LEN: usize = 64;

/// One decoded PEM block.
pub(super) struct PemBlock {
    /// The label, e.g. `CERTIFICATE` or `PRIVATE KEY`.
    pub(super) label: String,
    /// True when the block carried RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`).
    pub(super) has_headers: bool,
    /// The decoded body, wiped on drop (it may be a private key).
    pub(super) der: Zeroizing<Vec<u8>>,
}

fn config(message: String) -> Error {
    Error::new(ErrorKind::Configuration, message)
}

/// Decodes every PEM block of `input`. `what` names the input in error messages.
pub(super) fn parse(input: &[u8], what: &str) -> Result<Vec<PemBlock>> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(config(format!("the {what} is empty")));
    }
    let Ok(text) = std::str::from_utf8(input) else {
        return Err(config(format!(
            "the {what} is not PEM text (expected '-----BEGIN …-----' blocks; convert DER files to PEM)"
        )));
    };
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let Some(label_len) = after_begin.find(DASHES) else {
            return Err(config(format!("the {what} has an unterminated BEGIN line")));
        };
        let label = &after_begin[..label_len];
        if label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || !label.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(config(format!("the {what} has a malformed BEGIN line")));
        }
        let after_label = &after_begin[label_len + DASHES.len()..];
        let end_marker = format!("-----END {label}-----");
        let Some(body_len) = after_label.find(&end_marker) else {
            return Err(config(format!(
                "the {what} has a '{label}' block without a matching END line"
            )));
        };
        let body = &after_label[..body_len];
        if body.contains(DASHES) {
            return Err(config(format!(
                "the {what} has a '{label}' block with a misplaced boundary line"
            )));
        }
        let mut has_headers = false;
        let mut b64 = Zeroizing::new(String::with_capacity(body.len()));
        for line in body.lines() {
            if line.contains(':') {
                has_headers = true;
                continue;
            }
            b64.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
        let der = match STANDARD.decode(b64.as_bytes()) {
            Ok(der) => Zeroizing::new(der),
            // The decode error names a byte of the body; it is dropped, never shown.
            Err(_) => {
                return Err(config(format!(
                    "the {what} has a '{label}' block whose body is not valid base64"
                )));
            }
        };
        if der.is_empty() {
            return Err(config(format!("the {what} has an empty '{label}' block")));
        }
        blocks.push(PemBlock {
            label: label.to_owned(),
            has_headers,
            der,
        });
        rest = &after_label[body_len + end_marker.len()..];
    }
    if blocks.is_empty() {
        return Err(config(format!(
            "the {what} contains no PEM block (expected '-----BEGIN …-----')"
        )));
    }
    Ok(blocks)
}

/// The PEM body of `der` as MSAL Python puts it in `x5c`: standard base64 in 64-character lines
/// joined with `\n`, without BEGIN/END lines and without a trailing newline.
pub(super) fn body_lines(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64);
    // Base64 output is ASCII, so every 64-byte chunk is valid UTF-8 on its own.
    for (i, chunk) in b64.as_bytes().chunks(64).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.extend(chunk.iter().map(|&b| char::from(b)));
    }
    out
}
