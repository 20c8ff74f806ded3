//! Schnorr proof of knowledge of a discrete logarithm (spec §6.2).
//!
//! ```text
//! statement: X = x·G
//! prover:    u ← Z_ℓ, A = u·G
//!            c = T("urna/v1/proof/schnorr"; fingerprint, context, X, A)
//!            z = u + c·x
//! proof:     (A, z)                                   64 bytes
//! verifier:  A + c·X − z·G = 0
//! ```

use curve25519_dalek::scalar::Scalar;
use rand_core::CryptoRng;

use crate::batch::{Accumulator, Verify};
use crate::elgamal::SecretScalar;
use crate::encoding::{Element, Reader, Writer};
use crate::error::{PeerError, ProofKind};
use crate::group::mul_g;
use crate::transcript::{Fingerprint, Transcript, domain};

/// A Schnorr proof `(A, z)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct SchnorrProof {
    /// The commitment `A = u·G`.
    pub commitment: Element,
    /// The response `z = u + c·x`.
    #[serde(with = "crate::encoding::hex_scalar")]
    pub response: Scalar,
}

fn challenge(fp: &Fingerprint, context: &[u8], x: &Element, a: &Element) -> Scalar {
    let mut t = Transcript::new(domain::PROOF_SCHNORR);
    t.append_fingerprint(fp)
        .append("context", context)
        .append_element("statement", x)
        .append_element("commitment", a);
    t.challenge()
}

impl SchnorrProof {
    /// Proves knowledge of `x` with `public = x·G`.
    pub fn prove<R: CryptoRng + ?Sized>(
        fp: &Fingerprint,
        context: &[u8],
        x: &SecretScalar,
        public: &Element,
        rng: &mut R,
    ) -> Self {
        let u = SecretScalar::random(rng);
        let a = Element::from_point(mul_g(u.expose()));
        let c = challenge(fp, context, public, &a);
        SchnorrProof {
            commitment: a,
            response: u.expose() + c * x.expose(),
        }
    }

    /// Binds the proof to its statement for verification.
    pub fn statement<'a>(
        &'a self,
        fp: &'a Fingerprint,
        context: &'a [u8],
        public: &'a Element,
    ) -> SchnorrCheck<'a> {
        SchnorrCheck {
            proof: self,
            fp,
            context,
            public,
        }
    }

    /// Canonical encoding `A || z`.
    pub fn encode(&self, w: &mut Writer) {
        w.element(&self.commitment).scalar(&self.response);
    }

    /// Strict decoding.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, PeerError> {
        Ok(SchnorrProof {
            commitment: r.element()?,
            response: r.scalar()?,
        })
    }
}

/// A Schnorr proof together with what it claims.
#[derive(Debug, Clone, Copy)]
pub struct SchnorrCheck<'a> {
    proof: &'a SchnorrProof,
    fp: &'a Fingerprint,
    context: &'a [u8],
    public: &'a Element,
}

impl Verify for SchnorrCheck<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        let c = challenge(self.fp, self.context, self.public, &self.proof.commitment);
        acc.equation();
        acc.term(Scalar::ONE, &self.proof.commitment);
        acc.term(c, self.public);
        acc.g(-self.proof.response);
        Ok(())
    }
    fn failure(&self) -> PeerError {
        PeerError::InvalidProof(ProofKind::Schnorr)
    }
    fn terms_hint(&self) -> usize {
        2
    }
}
