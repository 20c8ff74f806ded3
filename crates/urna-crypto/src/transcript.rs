//! The one Fiat-Shamir transcript (spec §3).
//!
//! A transcript is SHA-512 over a framed sequence of labelled fields:
//!
//! ```text
//! T = u32(len(domain)) || domain
//!     || for each field: u32(len(label)) || label || u32(len(data)) || data
//! challenge = SHA-512(T) read little-endian and reduced mod ℓ   (spec §3.2)
//! digest32  = first 32 bytes of SHA-512(T)                      (spec §3.3)
//! ```
//!
//! Framing every field with its length makes the encoding injective, so two
//! different statements can never hash the same bytes. Every challenge is
//! *strong* Fiat-Shamir: the caller appends the election fingerprint, the whole
//! statement and all commitments before asking for it. The domain strings
//! are versioned; changing any byte layout means a new `v2` label.

use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

use crate::encoding::Element;

/// Versioned domain separation labels (spec §3.4). Each names one use.
pub mod domain {
    /// Generator derivation (spec §2.5).
    pub const GENERATOR: &str = "urna/v1/generator";
    /// Election fingerprint once the joint key is known (spec §3.5).
    pub const FINGERPRINT_ELECTION: &str = "urna/v1/fingerprint/election";
    /// Fingerprint used during the key ceremony, before the joint key exists (spec §3.5).
    pub const FINGERPRINT_CEREMONY: &str = "urna/v1/fingerprint/ceremony";
    /// Schnorr proof of knowledge (spec §6.2).
    pub const PROOF_SCHNORR: &str = "urna/v1/proof/schnorr";
    /// Chaum-Pedersen DLEQ proof (spec §6.3).
    pub const PROOF_DLEQ: &str = "urna/v1/proof/dleq";
    /// Disjunctive range proof (spec §6.4).
    pub const PROOF_RANGE: &str = "urna/v1/proof/range";
    /// Credential signature challenge (spec §6.5).
    pub const SIGNATURE: &str = "urna/v1/signature";
    /// Hedged nonce derivation for credential signatures (spec §6.5).
    pub const SIGNATURE_NONCE: &str = "urna/v1/signature/nonce";
    /// Key for sealing a DKG share to its recipient (spec §8.3).
    pub const SHARE_SEAL_KEY: &str = "urna/v1/dkg/share-seal";
}

/// A Fiat-Shamir transcript (spec §3.1).
#[derive(Clone)]
pub struct Transcript {
    h: Sha512,
}

impl std::fmt::Debug for Transcript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transcript")
    }
}

fn frame(h: &mut Sha512, data: &[u8]) {
    // Fields are far below 4 GiB (ballots are bounded by the board's entry
    // limit); saturating keeps this total without a panic path.
    let n = u32::try_from(data.len()).unwrap_or(u32::MAX);
    h.update(n.to_be_bytes());
    h.update(data);
}

impl Transcript {
    /// Starts a transcript under a domain label from [`domain`].
    pub fn new(domain: &'static str) -> Self {
        let mut h = Sha512::new();
        frame(&mut h, domain.as_bytes());
        Transcript { h }
    }

    /// Appends a labelled byte string.
    pub fn append(&mut self, label: &'static str, data: &[u8]) -> &mut Self {
        frame(&mut self.h, label.as_bytes());
        frame(&mut self.h, data);
        self
    }

    /// Appends a group element's canonical encoding.
    pub fn append_element(&mut self, label: &'static str, e: &Element) -> &mut Self {
        self.append(label, e.as_bytes())
    }

    /// Appends a scalar's canonical encoding.
    pub fn append_scalar(&mut self, label: &'static str, s: &Scalar) -> &mut Self {
        self.append(label, s.as_bytes())
    }

    /// Appends a big-endian u64.
    pub fn append_u64(&mut self, label: &'static str, v: u64) -> &mut Self {
        self.append(label, &v.to_be_bytes())
    }

    /// Appends the fingerprint the proof is bound to.
    pub fn append_fingerprint(&mut self, f: &Fingerprint) -> &mut Self {
        self.append("fingerprint", &f.0)
    }

    /// The challenge scalar: SHA-512 reduced wide mod ℓ (spec §3.2).
    pub fn challenge(self) -> Scalar {
        Scalar::from_bytes_mod_order_wide(&self.h.finalize().into())
    }

    /// A 32-byte digest: SHA-512 truncated (spec §3.3).
    pub fn digest32(self) -> [u8; 32] {
        let full: [u8; 64] = self.h.finalize().into();
        let mut out = [0u8; 32];
        out.copy_from_slice(&full[..32]);
        out
    }

    /// The full 64-byte SHA-512 digest (spec §3.3).
    pub fn digest64(self) -> [u8; 64] {
        self.h.finalize().into()
    }
}

/// What every proof is bound to: the election (manifest hash) and, once the
/// key ceremony is over, the joint public key (spec §3.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint during the key ceremony (no joint key yet).
    pub fn ceremony(manifest_hash: &[u8; 32]) -> Self {
        let mut t = Transcript::new(domain::FINGERPRINT_CEREMONY);
        t.append("manifest_hash", manifest_hash);
        Fingerprint(t.digest32())
    }

    /// The election fingerprint: manifest hash and joint key.
    pub fn election(manifest_hash: &[u8; 32], joint_key: &Element) -> Self {
        let mut t = Transcript::new(domain::FINGERPRINT_ELECTION);
        t.append("manifest_hash", manifest_hash)
            .append_element("joint_key", joint_key);
        Fingerprint(t.digest32())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        // Only lower-case hex is canonical in JSON forms (spec §2.4).
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("upper-case hex is not canonical"));
        }
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        let a: [u8; 32] = v
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))?;
        Ok(Fingerprint(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_is_injective() {
        // Moving a byte between label and data must change the digest.
        let mut a = Transcript::new(domain::PROOF_DLEQ);
        a.append("ab", b"c");
        let mut b = Transcript::new(domain::PROOF_DLEQ);
        b.append("a", b"bc");
        assert_ne!(a.digest32(), b.digest32());
    }

    #[test]
    fn domain_separates() {
        let mut a = Transcript::new(domain::PROOF_DLEQ);
        a.append("x", b"1");
        let mut b = Transcript::new(domain::PROOF_SCHNORR);
        b.append("x", b"1");
        assert_ne!(a.challenge(), b.challenge());
    }

    #[test]
    fn fingerprint_binds_key_and_manifest() {
        let k1 = Element::from_point(curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT);
        let k2 = Element::identity();
        assert_ne!(
            Fingerprint::election(&[0; 32], &k1),
            Fingerprint::election(&[0; 32], &k2)
        );
        assert_ne!(
            Fingerprint::election(&[0; 32], &k1),
            Fingerprint::election(&[1; 32], &k1)
        );
        assert_ne!(
            Fingerprint::ceremony(&[0; 32]),
            Fingerprint::ceremony(&[1; 32])
        );
    }
}
