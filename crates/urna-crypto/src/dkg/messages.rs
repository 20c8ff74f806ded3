//! The published messages of the key ceremony and their canonical byte
//! encodings (spec §8.8). Multi-byte integers are big-endian, elements and
//! scalars are in their canonical 32-byte encodings (spec §2); decoding is
//! strict: truncation, trailing bytes, non-canonical fields, out-of-range
//! indices and unsorted or repeated recipients are all rejected.

use crate::encoding::{Element, Reader, Writer, bounded};
use crate::error::PeerError;
use crate::proof::dleq::DleqProof;
use crate::proof::schnorr::SchnorrProof;

use super::{CeremonyParams, MAX_TRUSTEES};

/// Encoding version of [`Round1Message`].
pub const ROUND1_VERSION: u8 = 1;
/// Encoding version of [`Round2Message`].
pub const ROUND2_VERSION: u8 = 1;
/// Encoding version of [`Complaint`].
pub const COMPLAINT_VERSION: u8 = 1;
/// Bytes of an AEAD-sealed share: 32 bytes of ciphertext then the 16-byte Poly1305 tag (spec §8.3).
pub const SEALED_SHARE_LEN: usize = 48;

/// One committed coefficient: `C_{i,k} = a_{i,k}·G` and a Schnorr proof of `a_{i,k}` (spec §8.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Coefficient {
    /// `C_{i,k}`; never the identity.
    pub commitment: Element,
    /// Proof of knowledge of `a_{i,k}`, context [`super::coefficient_context`].
    pub proof: SchnorrProof,
}

/// What trustee `i` publishes in round 1 (spec §8.2).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Round1Message {
    /// The sender `i`, `1..=n`.
    pub trustee: u16,
    /// The ceremony's `n` and `t`, as the sender understood them.
    pub params: CeremonyParams,
    /// `X_i = x_i·G`, the key other dealers seal shares to; never the identity.
    pub share_key: Element,
    /// Proof of knowledge of `x_i`, context [`super::share_key_context`].
    pub share_key_proof: SchnorrProof,
    /// `C_{i,0} … C_{i,t−1}` with their proofs.
    pub coefficients: Vec<Coefficient>,
}

impl Round1Message {
    /// Checks everything but the proofs: parameters in bounds, the sender an
    /// index of the ceremony, exactly `t` coefficients, no identity elements.
    /// Decoding guarantees this; values built otherwise (serde) may not.
    pub fn check_shape(&self) -> Result<(), PeerError> {
        let p = &self.params;
        bounded("t", p.t.into(), 1, MAX_TRUSTEES.into())?;
        bounded("n", p.n.into(), p.t.into(), MAX_TRUSTEES.into())?;
        bounded("trustee", self.trustee.into(), 1, p.n.into())?;
        if self.coefficients.len() != usize::from(p.t) {
            return Err(PeerError::ShapeMismatch {
                what: "coefficient commitments",
                expected: p.t.into(),
                found: self.coefficients.len() as u64,
            });
        }
        if self.share_key.is_identity()
            || self.coefficients.iter().any(|c| c.commitment.is_identity())
        {
            return Err(PeerError::IdentityElement);
        }
        Ok(())
    }

    /// The commitments `C_{i,0} … C_{i,t−1}`.
    pub fn commitments(&self) -> Vec<Element> {
        self.coefficients.iter().map(|c| c.commitment).collect()
    }

    /// Encoded size: `103 + 96·t` bytes.
    pub fn encoded_len(&self) -> usize {
        7 + 96 + 96 * self.coefficients.len()
    }

    /// Canonical encoding (spec §8.8.1):
    /// `u8(1) || u16(i) || u16(n) || u16(t) || X_i || proof(X_i) || (C_{i,k} || proof(C_{i,k}))_{k=0..t−1}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(self.encoded_len());
        w.u8(ROUND1_VERSION)
            .u16(self.trustee)
            .u16(self.params.n)
            .u16(self.params.t)
            .element(&self.share_key);
        self.share_key_proof.encode(&mut w);
        for c in &self.coefficients {
            w.element(&c.commitment);
            c.proof.encode(&mut w);
        }
        w.finish()
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, PeerError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != ROUND1_VERSION {
            return Err(PeerError::UnknownVersion(version));
        }
        let trustee = r.u16()?;
        let n = r.u16()?;
        let t = r.u16()?;
        bounded("t", t.into(), 1, MAX_TRUSTEES.into())?;
        bounded("n", n.into(), t.into(), MAX_TRUSTEES.into())?;
        bounded("trustee", trustee.into(), 1, n.into())?;
        let share_key = r.element_non_identity()?;
        let share_key_proof = SchnorrProof::decode(&mut r)?;
        let mut coefficients = Vec::with_capacity(usize::from(t));
        for _ in 0..t {
            coefficients.push(Coefficient {
                commitment: r.element_non_identity()?,
                proof: SchnorrProof::decode(&mut r)?,
            });
        }
        r.finish()?;
        Ok(Round1Message {
            trustee,
            params: CeremonyParams { n, t },
            share_key,
            share_key_proof,
            coefficients,
        })
    }
}

/// A share `f_i(j)` sealed by dealer `i` to recipient `j` (spec §8.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct SealedShare {
    /// The dealer `i`.
    pub dealer: u16,
    /// The recipient `j`.
    pub recipient: u16,
    /// `E = e·G`; never the identity.
    pub ephemeral: Element,
    /// ChaCha20-Poly1305 ciphertext of the 32-byte scalar, then the tag.
    #[serde(with = "hex48")]
    pub sealed: [u8; SEALED_SHARE_LEN],
}

/// What dealer `i` publishes in round 2: one sealed share for every other
/// participant, by increasing recipient index (spec §8.3).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Round2Message {
    /// The dealer `i`.
    pub dealer: u16,
    /// The sealed shares, recipients strictly increasing, none equal to `dealer`.
    pub shares: Vec<SealedShare>,
}

impl Round2Message {
    /// Checks the rules decoding enforces: every share names this dealer,
    /// recipients strictly increasing and not the dealer, ephemeral keys not
    /// the identity.
    pub fn check_shape(&self) -> Result<(), PeerError> {
        bounded("dealer", self.dealer.into(), 1, MAX_TRUSTEES.into())?;
        bounded(
            "sealed shares",
            self.shares.len() as u64,
            0,
            u64::from(MAX_TRUSTEES) - 1,
        )?;
        let mut last = 0u16;
        for s in &self.shares {
            if s.dealer != self.dealer {
                return Err(PeerError::BadTrusteeIndex(s.dealer));
            }
            if s.recipient <= last || s.recipient == self.dealer || s.recipient > MAX_TRUSTEES {
                return Err(PeerError::BadTrusteeIndex(s.recipient));
            }
            if s.ephemeral.is_identity() {
                return Err(PeerError::IdentityElement);
            }
            last = s.recipient;
        }
        Ok(())
    }

    /// The share sealed to `recipient`, if any.
    pub fn share_for(&self, recipient: u16) -> Option<&SealedShare> {
        self.shares.iter().find(|s| s.recipient == recipient)
    }

    /// Canonical encoding (spec §8.8.2):
    /// `u8(1) || u16(i) || u16(count) || (u16(j) || E || sealed[48])_{by increasing j}`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(5 + 82 * self.shares.len());
        // Count is at most MAX_TRUSTEES − 1 for any message that passes
        // check_shape; saturate rather than panic on one that does not.
        let count = u16::try_from(self.shares.len()).unwrap_or(u16::MAX);
        w.u8(ROUND2_VERSION).u16(self.dealer).u16(count);
        for s in &self.shares {
            w.u16(s.recipient).element(&s.ephemeral).raw(&s.sealed);
        }
        w.finish()
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, PeerError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != ROUND2_VERSION {
            return Err(PeerError::UnknownVersion(version));
        }
        let dealer = r.u16()?;
        bounded("dealer", dealer.into(), 1, MAX_TRUSTEES.into())?;
        let count = r.u16()?;
        bounded(
            "sealed shares",
            count.into(),
            0,
            u64::from(MAX_TRUSTEES) - 1,
        )?;
        let mut shares = Vec::with_capacity(usize::from(count));
        let mut last = 0u16;
        for _ in 0..count {
            let recipient = r.u16()?;
            if recipient <= last || recipient == dealer || recipient > MAX_TRUSTEES {
                return Err(PeerError::BadTrusteeIndex(recipient));
            }
            last = recipient;
            let ephemeral = r.element_non_identity()?;
            let mut sealed = [0u8; SEALED_SHARE_LEN];
            sealed.copy_from_slice(r.take(SEALED_SHARE_LEN)?);
            shares.push(SealedShare {
                dealer,
                recipient,
                ephemeral,
                sealed,
            });
        }
        r.finish()?;
        Ok(Round2Message { dealer, shares })
    }
}

/// A complaint by `complainer` (recipient `j`) that the share dealer `i`
/// sealed to it is bad (spec §8.5). It reveals `S = x_j·E` so that anyone
/// can open that one sealed share, and proves `log_G(X_j) = log_E(S)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Complaint {
    /// The accused dealer `i`.
    pub dealer: u16,
    /// The complainer `j`.
    pub complainer: u16,
    /// `S = x_j·E`; never the identity.
    pub shared_secret: Element,
    /// DLEQ proof, base `E`, public `X_j`, image `S`, context [`super::complaint_context`].
    pub proof: DleqProof,
}

impl Complaint {
    /// Encoded size in bytes.
    pub const ENCODED_LEN: usize = 5 + 32 + 96;

    /// Checks what decoding enforces: indices in range and distinct, `S` not the identity.
    pub fn check_shape(&self) -> Result<(), PeerError> {
        bounded("dealer", self.dealer.into(), 1, MAX_TRUSTEES.into())?;
        bounded("complainer", self.complainer.into(), 1, MAX_TRUSTEES.into())?;
        if self.dealer == self.complainer {
            return Err(PeerError::BadTrusteeIndex(self.complainer));
        }
        if self.shared_secret.is_identity() {
            return Err(PeerError::IdentityElement);
        }
        Ok(())
    }

    /// Canonical encoding (spec §8.8.3): `u8(1) || u16(i) || u16(j) || S || A || B || z`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::ENCODED_LEN);
        w.u8(COMPLAINT_VERSION)
            .u16(self.dealer)
            .u16(self.complainer)
            .element(&self.shared_secret);
        self.proof.encode(&mut w);
        w.finish()
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, PeerError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != COMPLAINT_VERSION {
            return Err(PeerError::UnknownVersion(version));
        }
        let c = Complaint {
            dealer: r.u16()?,
            complainer: r.u16()?,
            shared_secret: r.element()?,
            proof: DleqProof::decode(&mut r)?,
        };
        r.finish()?;
        c.check_shape()?;
        Ok(c)
    }
}

/// Serde helper: a sealed share as 96 lower-case hex digits.
mod hex48 {
    use super::SEALED_SHARE_LEN;

    pub fn serialize<S: serde::Serializer>(
        v: &[u8; SEALED_SHARE_LEN],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<[u8; SEALED_SHARE_LEN], D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("upper-case hex is not canonical"));
        }
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 48 bytes"))
    }
}
