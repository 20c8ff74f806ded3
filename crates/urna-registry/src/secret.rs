//! The commission secret and the keyed hashes of identity document numbers
//! (spec/registration.md §G2 `doc_hash`; the code hashes of §G6).
//!
//! Document numbers are never stored: only HMAC-SHA256 under a secret the
//! commission holds. A plain hash would not do: Russian passport numbers
//! are ten digits, so all 10^10 hashes can be computed in hours, and a
//! leaked database would give every number back. Without the key the
//! stored hashes reveal nothing; with it, matching an application is one
//! HMAC.

use std::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
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
const ATTEMPT_LABEL: &[u8] = b"urna-registry/attempts/v1\0";
const CREDENTIAL_TAG_KEY_LABEL: &[u8] = b"urna-registry/credential-tag-key/v1\0";
const CREDENTIAL_SEAL_KEY_LABEL: &[u8] = b"urna-registry/credential-seal-key/v1\0";
const CREDENTIAL_SEAL_AAD: &[u8] = b"urna-registry/credential/v1\0";

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

    /// The key under which identity checks of a document number are
    /// counted (spec/registration.md §G6): keyed like [`Self::doc_hash`]
    /// but under its own label, so the counters neither hold the number
    /// nor join with the registry's document hashes.
    pub fn attempt_key(&self, document_number: &str) -> [u8; 32] {
        let mut n = normalize_document(document_number);
        let k = self.mac(ATTEMPT_LABEL, &[n.as_bytes()]);
        n.zeroize();
        k
    }

    /// The key that links applications to public credentials in the
    /// database (spec/registration.md §G4 "Credentials at rest"), derived
    /// from this secret so that the commission holds one secret.
    pub fn credential_key(&self) -> CredentialKey {
        CredentialKey {
            tag: self.mac(CREDENTIAL_TAG_KEY_LABEL, &[]),
            seal: self.mac(CREDENTIAL_SEAL_KEY_LABEL, &[]),
        }
    }

    /// The keyed hash of a one-time code for a voter. Codes have about 20
    /// bits, so an unkeyed hash would be reversed instantly from a dump.
    pub fn otp_hash(&self, voter_id: &str, code: &str) -> [u8; 32] {
        self.mac(OTP_LABEL, &[voter_id.as_bytes(), code.as_bytes()])
    }
}

/// The key under which the registry keeps public credentials (spec/
/// registration.md §G4 "Credentials at rest"): a credential is stored only
/// as its keyed tag (HMAC-SHA256, for the lookups of casting: may this
/// credential cast, mark it voted) and sealed (ChaCha20-Poly1305 with a
/// random nonce, bound to the voter id) for the steps that need it back
/// (sealing the lists, the reconciliation, settling a restart). Without
/// this key a copy of the database does not say which ballots on the
/// public board are whose. Never stored; zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CredentialKey {
    tag: [u8; 32],
    seal: [u8; 32],
}

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(..)")
    }
}

/// Bytes of a sealed credential: nonce, ciphertext, tag.
pub const SEALED_CREDENTIAL_LEN: usize = 12 + 32 + 16;

impl CredentialKey {
    /// The lookup tag of a credential.
    pub fn tag(&self, credential: &[u8; 32]) -> [u8; 32] {
        let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(&self.tag) else {
            return [0u8; 32];
        };
        m.update(credential);
        m.finalize().into_bytes().into()
    }

    /// The credential sealed for `voter_id`'s row.
    pub fn seal(&self, voter_id: &str, credential: &[u8; 32]) -> Result<Vec<u8>, RegistryError> {
        let mut nonce = [0u8; 12];
        rand::fill(&mut nonce);
        let mut buf = *credential;
        let tag = self
            .cipher()
            .encrypt_inout_detached(
                &Nonce::from(nonce),
                &aad(voter_id),
                buf.as_mut_slice().into(),
            )
            .map_err(|_| RegistryError::storage("sealing a credential", "encryption failed"))?;
        let mut out = Vec::with_capacity(SEALED_CREDENTIAL_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_slice());
        Ok(out)
    }

    /// Opens what [`seal`](Self::seal) made for `voter_id`. A wrong key,
    /// another voter's row or altered bytes are a storage fault.
    pub fn open(&self, voter_id: &str, sealed: &[u8]) -> Result<[u8; 32], RegistryError> {
        let bad = || {
            RegistryError::storage(
                "opening a sealed credential",
                "it does not open with this key for this voter (another commission secret, or the row was altered)",
            )
        };
        if sealed.len() != SEALED_CREDENTIAL_LEN {
            return Err(bad());
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&sealed[..12]);
        let mut buf = [0u8; 32];
        buf.copy_from_slice(&sealed[12..44]);
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&sealed[44..]);
        self.cipher()
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &aad(voter_id),
                buf.as_mut_slice().into(),
                &Tag::from(tag),
            )
            .map_err(|_| bad())?;
        Ok(buf)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(<&Key>::from(&self.seal))
    }
}

fn aad(voter_id: &str) -> Vec<u8> {
    let mut a = CREDENTIAL_SEAL_AAD.to_vec();
    a.extend_from_slice(&(voter_id.len() as u64).to_be_bytes());
    a.extend_from_slice(voter_id.as_bytes());
    a
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
    fn credentials_are_tagged_and_sealed() {
        let k = CommissionSecret::from_bytes([1; 32]).credential_key();
        let other = CommissionSecret::from_bytes([2; 32]).credential_key();
        let c = [9u8; 32];
        assert_eq!(k.tag(&c), k.tag(&c));
        assert_ne!(k.tag(&c), other.tag(&c));
        assert_ne!(k.tag(&c), c);
        let a = k.seal("m1", &c).unwrap();
        let b = k.seal("m1", &c).unwrap();
        assert_eq!(a.len(), SEALED_CREDENTIAL_LEN);
        assert_ne!(a, b, "a random nonce each time");
        assert!(!a.windows(32).any(|w| w == c));
        assert_eq!(k.open("m1", &a).unwrap(), c);
        assert!(
            k.open("m2", &a).unwrap_err().is_internal(),
            "bound to the voter"
        );
        assert!(other.open("m1", &a).is_err());
        let mut bent = a.clone();
        bent[20] ^= 1;
        assert!(k.open("m1", &bent).is_err());
        assert!(k.open("m1", &a[..59]).is_err());
        assert_eq!(format!("{k:?}"), "CredentialKey(..)");
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
