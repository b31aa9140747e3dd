//! PKCS#12 (PFX) files (RFC 7292): the private keys and certificates of a certificate
//! credential, as MSAL Python reads them with `cryptography`'s `load_key_and_certificates`
//! (msal/application.py `_parse_pfx`).
//!
//! Supported: password integrity (an HMAC with SHA-1 or SHA-2, RFC 7292 section 4, or none),
//! safes in plain `data` or password-encrypted `encryptedData` (RFC 5652 section 8), and
//! `keyBag`, `pkcs8ShroudedKeyBag` and X.509 `certBag` bags. Encryption is PBES2
//! (PBKDF2 + AES-CBC, RFC 8018 section 6.2; OpenSSL 3's default) or the legacy PKCS#12 PBE
//! schemes of older Windows and OpenSSL exports (RFC 7292 appendix C: 3-key triple DES,
//! 40- and 128-bit RC2). Public-key privacy and integrity modes are not.
//!
//! Every iteration count read from the file is bounded by [`MAX_ITERATIONS`], so a hostile
//! file cannot make loading run for hours.

use aws_lc_rs::hmac;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockCipher, BlockDecryptMut, KeyInit, KeyIvInit};
use der::asn1::{ContextSpecific, OctetString};
use der::{Any, Decode as _, Encode as _};
use pkcs8::ObjectIdentifier;
use pkcs8::spki::AlgorithmIdentifierOwned;
use pkcs12::kdf::{self, Pkcs12KeyType};
use pkcs12::mac_data::MacData;
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::pfx::Pfx;
use pkcs12::safe_bag::SafeContents;

use crate::error::{Error, ErrorKind, Result};

/// The largest iteration count accepted for the MAC and each encryption: 1000 times OpenSSL's
/// default (2048), above the 600 000 of current PBKDF2 advice.
pub(super) const MAX_ITERATIONS: u32 = 2_000_000;

/// How the file is named in error messages.
pub(super) const PFX_INPUT: &str = "PKCS#12 (PFX) file";

// RFC 5652 section 4 and 8.
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
// RFC 7292 section 4.2 and appendix D.
const KEY_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
const SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const X509_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
// RFC 7292 appendix C.
const PBE_SHA1_RC2_128: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5");
const PBE_SHA1_RC2_40: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
const PBE_SHA1_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
// RFC 8018 appendix A.4.
const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
// RFC 8017 appendix B.1 / RFC 5754 section 2.
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// What a PKCS#12 file holds: PKCS#8 private keys and DER certificates, in file order.
pub(super) struct PfxContents {
    pub(super) keys: Vec<Vec<u8>>,
    pub(super) certs: Vec<Vec<u8>>,
}

fn config(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Configuration, message)
}

fn corrupt(e: der::Error) -> Error {
    Error::with_source(
        ErrorKind::Configuration,
        format!("the {PFX_INPUT} is not valid PKCS#12 (or the password is wrong)"),
        e,
    )
}

fn wrong_password(password_given: bool) -> Error {
    if password_given {
        config(format!(
            "the password of the {PFX_INPUT} is wrong (its integrity check failed)"
        ))
    } else {
        config(format!(
            "the {PFX_INPUT} is password-protected: give its password"
        ))
    }
}

fn cannot_decrypt() -> Error {
    config(format!(
        "cannot decrypt the {PFX_INPUT}: wrong password or corrupt file"
    ))
}

/// Reads the keys and certificates of `data`. No password is the empty password, as
/// `openssl pkcs12 -export -passout pass:` writes it.
pub(super) fn parse(data: &[u8], password: Option<&str>) -> Result<PfxContents> {
    let given = password.is_some();
    let password = password.unwrap_or("");
    let pfx = Pfx::from_der(data).map_err(corrupt)?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(config(format!(
            "the {PFX_INPUT} uses public-key integrity (content type {}), which is not supported; \
             export it with a password",
            pfx.auth_safe.content_type
        )));
    }
    let auth_safe = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(corrupt)?
        .into_bytes();
    if let Some(mac) = &pfx.mac_data {
        verify_mac(mac, password, &auth_safe, given)?;
    }
    let safes = Vec::<cms::content_info::ContentInfo>::from_der(&auth_safe).map_err(corrupt)?;
    let mut contents = PfxContents {
        keys: Vec::new(),
        certs: Vec::new(),
    };
    for safe in &safes {
        let bags = if safe.content_type == ID_DATA {
            safe.content
                .decode_as::<OctetString>()
                .map_err(corrupt)?
                .into_bytes()
        } else if safe.content_type == ID_ENCRYPTED_DATA {
            let encrypted = safe
                .content
                .decode_as::<cms::encrypted_data::EncryptedData>()
                .map_err(corrupt)?;
            let info = &encrypted.enc_content_info;
            let Some(ciphertext) = &info.encrypted_content else {
                continue;
            };
            decrypt(&info.content_enc_alg, ciphertext.as_bytes(), password)?
        } else {
            // Public-key privacy (envelopedData): nothing a password opens.
            continue;
        };
        let bags = SafeContents::from_der(&bags).map_err(corrupt)?;
        for bag in bags {
            if bag.bag_id == KEY_BAG {
                let key = ContextSpecific::<Any>::from_der(&bag.bag_value).map_err(corrupt)?;
                contents.keys.push(key.value.to_der().map_err(corrupt)?);
            } else if bag.bag_id == SHROUDED_KEY_BAG {
                let shrouded = ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&bag.bag_value)
                    .map_err(corrupt)?
                    .value;
                contents.keys.push(decrypt(
                    &shrouded.encryption_algorithm,
                    shrouded.encrypted_data.as_bytes(),
                    password,
                )?);
            } else if bag.bag_id == CERT_BAG {
                let cert = ContextSpecific::<pkcs12::cert_type::CertBag>::from_der(&bag.bag_value)
                    .map_err(corrupt)?
                    .value;
                if cert.cert_id == X509_CERTIFICATE {
                    contents.certs.push(cert.cert_value.into_bytes());
                }
            }
            // CRL, secret and nested safe-contents bags are not needed.
        }
    }
    Ok(contents)
}

fn iterations(count: i64, what: &str) -> Result<i32> {
    match i32::try_from(count) {
        Ok(n) if n >= 1 && n.unsigned_abs() <= MAX_ITERATIONS => Ok(n),
        _ => Err(config(format!(
            "the {PFX_INPUT} asks for {count} iterations of its {what}; \
             1 to {MAX_ITERATIONS} are accepted"
        ))),
    }
}

fn password_bmp_error(e: der::Error) -> Error {
    Error::with_source(
        ErrorKind::Configuration,
        format!(
            "the password of the {PFX_INPUT} cannot be encoded as a PKCS#12 password (BMPString)"
        ),
        e,
    )
}

/// RFC 7292 section 4: the HMAC over the authenticated safe, keyed by the PKCS#12 KDF
/// (appendix B) with the digest of the MAC.
fn verify_mac(mac: &MacData, password: &str, data: &[u8], given: bool) -> Result<()> {
    let rounds = iterations(i64::from(mac.iterations), "integrity check")?;
    let salt = mac.mac_salt.as_bytes();
    let oid = mac.mac.algorithm.oid;
    let (algorithm, key) = if oid == SHA1 {
        (
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            kdf::derive_key_utf8::<sha1::Sha1>(password, salt, Pkcs12KeyType::Mac, rounds, 20),
        )
    } else if oid == SHA256 {
        (
            hmac::HMAC_SHA256,
            kdf::derive_key_utf8::<sha2::Sha256>(password, salt, Pkcs12KeyType::Mac, rounds, 32),
        )
    } else if oid == SHA384 {
        (
            hmac::HMAC_SHA384,
            kdf::derive_key_utf8::<sha2::Sha384>(password, salt, Pkcs12KeyType::Mac, rounds, 48),
        )
    } else if oid == SHA512 {
        (
            hmac::HMAC_SHA512,
            kdf::derive_key_utf8::<sha2::Sha512>(password, salt, Pkcs12KeyType::Mac, rounds, 64),
        )
    } else {
        return Err(config(format!(
            "the {PFX_INPUT} uses an unsupported integrity algorithm ({oid}); \
             SHA-1 and SHA-2 are supported"
        )));
    };
    let key = key.map_err(password_bmp_error)?;
    hmac::verify(
        &hmac::Key::new(algorithm, &key),
        data,
        mac.mac.digest.as_bytes(),
    )
    .map_err(|_| wrong_password(given))
}

/// Decrypts a password-encrypted safe or key with PBES2 or a PKCS#12 PBE scheme.
fn decrypt(alg: &AlgorithmIdentifierOwned, ciphertext: &[u8], password: &str) -> Result<Vec<u8>> {
    let oid = alg.oid;
    if oid == PBES2 {
        let der = alg.to_der().map_err(corrupt)?;
        let scheme = pkcs5::EncryptionScheme::from_der(&der).map_err(corrupt)?;
        let pkcs5::EncryptionScheme::Pbes2(params) = scheme else {
            return Err(unsupported_encryption(oid));
        };
        match &params.kdf {
            pkcs5::pbes2::Kdf::Pbkdf2(p) => {
                iterations(i64::from(p.iteration_count), "key derivation")?;
            }
            _ => {
                return Err(config(format!(
                    "the {PFX_INPUT} uses a key derivation other than PBKDF2, which is not supported"
                )));
            }
        }
        // PBES2 takes the password's UTF-8 bytes (as OpenSSL 3 writes them).
        return params
            .decrypt(password.as_bytes(), ciphertext)
            .map_err(|_| cannot_decrypt());
    }
    let (key_len, legacy): (usize, LegacyDecrypt) = if oid == PBE_SHA1_3DES {
        (24, cbc_decrypt::<des::TdesEde3>)
    } else if oid == PBE_SHA1_RC2_40 {
        (5, cbc_decrypt::<rc2::Rc2>)
    } else if oid == PBE_SHA1_RC2_128 {
        (16, cbc_decrypt::<rc2::Rc2>)
    } else {
        return Err(unsupported_encryption(oid));
    };
    let params = alg
        .parameters
        .as_ref()
        .ok_or_else(|| {
            config(format!(
                "the {PFX_INPUT} has an encryption without parameters"
            ))
        })?
        .decode_as::<Pkcs12PbeParams>()
        .map_err(corrupt)?;
    let rounds = iterations(i64::from(params.iterations), "encryption")?;
    let salt = params.salt.as_bytes();
    let key = kdf::derive_key_utf8::<sha1::Sha1>(
        password,
        salt,
        Pkcs12KeyType::EncryptionKey,
        rounds,
        key_len,
    )
    .map_err(password_bmp_error)?;
    let iv = kdf::derive_key_utf8::<sha1::Sha1>(password, salt, Pkcs12KeyType::Iv, rounds, 8)
        .map_err(password_bmp_error)?;
    legacy(&key, &iv, ciphertext).ok_or_else(cannot_decrypt)
}

/// Decrypts with (key, IV, ciphertext).
type LegacyDecrypt = fn(&[u8], &[u8], &[u8]) -> Option<Vec<u8>>;

fn unsupported_encryption(oid: ObjectIdentifier) -> Error {
    config(format!(
        "the {PFX_INPUT} uses an unsupported encryption ({oid}); PBES2 with AES, and the \
         PKCS#12 triple-DES and RC2 schemes are supported"
    ))
}

/// CBC decryption with PKCS#7 padding, for the 64-bit-block ciphers of the legacy schemes.
/// The key length sets RC2's effective key bits (RFC 7292 appendix C).
fn cbc_decrypt<C>(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>>
where
    C: BlockCipher + cbc::cipher::BlockDecrypt + KeyInit,
{
    cbc::Decryptor::<C>::new_from_slices(key, iv)
        .ok()?
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .ok()
}
