//! Voter credentials and their Schnorr signatures (spec §6.5).
//!
//! A credential is a key pair made on the voter's device; only the public
//! part `P = x·G` is ever sent. Ballots are signed with it:
//!
//! ```text
//! nonce:     k = T("urna/v1/signature/nonce"; secret x, random ρ (32 bytes), message) reduced mod ℓ
//! sign:      R = k·G
//!            e = T("urna/v1/signature"; fingerprint, P, R, message)
//!            s = k + e·x
//! signature: (R, s)                                   64 bytes
//! verify:    R + e·P − s·G = 0
//! ```
//!
//! The nonce is *hedged*: it mixes the secret, fresh randomness and the
//! message, so neither a broken random generator nor a fault alone can
//! repeat a nonce and leak `x`.

use curve25519_dalek::scalar::Scalar;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::batch::{Accumulator, Verify};
use crate::elgamal::SecretScalar;
use crate::encoding::{Element, Reader, Writer, decode_scalar};
use crate::error::{PeerError, ProofKind};
use crate::group::mul_g;
use crate::transcript::{Fingerprint, Transcript, domain};

/// A credential key pair. The secret is zeroized on drop.
#[derive(Clone, Debug)]
pub struct CredentialKey {
    secret: SecretScalar,
    public: Element,
}

impl CredentialKey {
    /// A fresh credential.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let secret = SecretScalar::random(rng);
            let public = secret.public();
            if !public.is_identity() {
                return CredentialKey { secret, public };
            }
        }
    }

    /// Restores a credential from its 32-byte secret (a recovery code);
    /// non-canonical and zero secrets are rejected.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<Self, PeerError> {
        let secret = SecretScalar::new(decode_scalar(bytes)?);
        let public = secret.public();
        if public.is_identity() {
            return Err(PeerError::IdentityElement);
        }
        Ok(CredentialKey { secret, public })
    }

    /// The secret's canonical bytes, for export as a recovery code.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.expose().to_bytes())
    }

    /// The public credential `P`.
    pub fn public(&self) -> &Element {
        &self.public
    }

    /// Signs `message` (spec §6.5).
    pub fn sign<R: CryptoRng + ?Sized>(
        &self,
        fp: &Fingerprint,
        message: &[u8],
        rng: &mut R,
    ) -> Signature {
        let mut rho = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut rho[..]);
        let secret_bytes = self.secret_bytes();
        let mut nt = Transcript::new(domain::SIGNATURE_NONCE);
        nt.append("secret", &secret_bytes[..])
            .append("random", &rho[..])
            .append("message", message);
        let k = SecretScalar::new(nt.challenge());
        let r = Element::from_point(mul_g(k.expose()));
        let e = challenge(fp, &self.public, &r, message);
        Signature {
            commitment: r,
            response: k.expose() + e * self.secret.expose(),
        }
    }
}

fn challenge(fp: &Fingerprint, public: &Element, r: &Element, message: &[u8]) -> Scalar {
    let mut t = Transcript::new(domain::SIGNATURE);
    t.append_fingerprint(fp)
        .append_element("credential", public)
        .append_element("commitment", r)
        .append("message", message);
    t.challenge()
}

/// A credential signature `(R, s)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Signature {
    /// `R = k·G`.
    pub commitment: Element,
    /// `s = k + e·x`.
    #[serde(with = "crate::encoding::hex_scalar")]
    pub response: Scalar,
}

impl Signature {
    /// Canonical encoding `R || s`.
    pub fn encode(&self, w: &mut Writer) {
        w.element(&self.commitment).scalar(&self.response);
    }

    /// Strict decoding.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, PeerError> {
        Ok(Signature {
            commitment: r.element()?,
            response: r.scalar()?,
        })
    }

    /// Binds the signature to its signer and message for verification.
    pub fn statement<'a>(
        &'a self,
        fp: &'a Fingerprint,
        public: &'a Element,
        message: &'a [u8],
    ) -> SignatureCheck<'a> {
        SignatureCheck {
            sig: self,
            fp,
            public,
            message,
        }
    }
}

/// A signature together with what it claims.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'a> {
    sig: &'a Signature,
    fp: &'a Fingerprint,
    public: &'a Element,
    message: &'a [u8],
}

impl Verify for SignatureCheck<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        if self.public.is_identity() {
            return Err(PeerError::IdentityElement);
        }
        let e = challenge(self.fp, self.public, &self.sig.commitment, self.message);
        acc.equation();
        acc.term(Scalar::ONE, &self.sig.commitment);
        acc.term(e, self.public);
        acc.g(-self.sig.response);
        Ok(())
    }
    fn failure(&self) -> PeerError {
        PeerError::InvalidProof(ProofKind::Signature)
    }
    fn terms_hint(&self) -> usize {
        2
    }
}
