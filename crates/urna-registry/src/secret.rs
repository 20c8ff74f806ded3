//! The commission secret and the keyed hashes of identity document numbers.
//!
//! Document numbers are never stored: only HMAC-SHA256 under a secret the
//! commission holds. A plain hash would not do: Russian passport numbers
//! are ten digits, so all 10^10 hashes can be computed in hours, and a
//! leaked database would give every number back. Without the key the
//! stored hashes reveal nothing; with it, matching an application is one
//! HMAC.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::RegistryError;

type HmacSha256 = Hmac<Sha256>;

/// Domain labels keep the keyed hashes of different uses apart, so one
/// never stands in for another.
const DOC_LABEL: &[u8] = b"urna-registry/document/v1\0";
const OTP_LABEL: &[u8] = b"urna-registry/otp/v1\0";

/// The commission's 32-byte secret. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CommissionSecret([u8; 32]);

impl fmt::Debug for CommissionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CommissionSecret(..)")
    }
}

impl CommissionSecret {
    /// From 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CommissionSecret(bytes)
    }

    /// From 64 hex digits (a key file's content, surrounding whitespace
    /// ignored). The intermediate buffer is zeroized.
    pub fn from_hex(text: &str) -> Result<Self, RegistryError> {
        let mut buf = [0u8; 32];
        let r = hex::decode_to_slice(text.trim(), &mut buf);
        let out = r.map(|()| CommissionSecret(buf)).map_err(|_| {
            RegistryError::refused(
                "invalid_secret",
                "the commission secret must be 64 hexadecimal digits",
            )
        });
        buf.zeroize();
        out
    }

    /// A fresh random secret.
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        CommissionSecret(b)
    }

    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail; fall back to
        // an all-zero tag that matches nothing rather than panic.
        let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(&self.0) else {
            return [0u8; 32];
        };
        m.update(label);
        for p in parts {
            // Length-prefixed so that ("ab","c") and ("a","bc") differ.
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// The keyed hash of a document number, after [`normalize_document`].
    pub fn doc_hash(&self, document_number: &str) -> DocHash {
        let mut n = normalize_document(document_number);
        let h = DocHash(self.mac(DOC_LABEL, &[n.as_bytes()]));
        n.zeroize();
        h
    }

    /// The keyed hash of a one-time code for a voter. Codes have about 20
    /// bits, so an unkeyed hash would be reversed instantly from a dump.
    pub fn otp_hash(&self, voter_id: &str, code: &str) -> [u8; 32] {
        self.mac(OTP_LABEL, &[voter_id.as_bytes(), code.as_bytes()])
    }
}

/// The commission's Ed25519 signing key (amendments, precinct lists) from
/// its 32-byte seed in 64 hex digits; the buffer is zeroized.
pub fn signing_key_from_hex(text: &str) -> Result<ed25519_dalek::SigningKey, RegistryError> {
    let mut buf = [0u8; 32];
    let r = hex::decode_to_slice(text.trim(), &mut buf);
    let out = r
        .map(|()| ed25519_dalek::SigningKey::from_bytes(&buf))
        .map_err(|_| {
            RegistryError::refused(
                "invalid_secret",
                "the commission signing key must be 64 hexadecimal digits",
            )
        });
    buf.zeroize();
    out
}

/// HMAC-SHA256 of a normalised document number under the commission secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocHash(pub [u8; 32]);

impl fmt::Debug for DocHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocHash({})", hex::encode(&self.0[..4]))
    }
}

impl DocHash {
    /// Constant-time equality (hashes are compared against user input).
    pub fn ct_eq(&self, other: &DocHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A document number as compared: letters upper-cased, spaces, dashes and
/// the `№` sign dropped, so `45 08 123456` and `4508-123456` are one number.
pub fn normalize_document(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '№'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Constant-time comparison of two 32-byte values.
pub fn ct_eq32(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_hash_is_keyed_and_normalised() {
        let k1 = CommissionSecret::from_bytes([1; 32]);
        let k2 = CommissionSecret::from_bytes([2; 32]);
        assert_eq!(k1.doc_hash("45 08 123456"), k1.doc_hash("4508-123456"));
        assert_ne!(k1.doc_hash("4508123456"), k1.doc_hash("4508123457"));
        assert_ne!(k1.doc_hash("4508123456"), k2.doc_hash("4508123456"));
        assert!(k1.doc_hash("ab1").ct_eq(&k1.doc_hash("AB1")));
        // Labels separate uses.
        assert_ne!(k1.doc_hash("1").0, k1.otp_hash("", "1"));
    }

    #[test]
    fn secret_from_hex() {
        let hexed = "11".repeat(32);
        assert!(CommissionSecret::from_hex(&format!(" {hexed}\n")).is_ok());
        let e = CommissionSecret::from_hex("zz").unwrap_err();
        assert_eq!(e.code(), "invalid_secret");
        assert_eq!(
            format!("{:?}", CommissionSecret::random()),
            "CommissionSecret(..)"
        );
    }
}
