//! Chaum-Pedersen proof of equal discrete logarithms (spec §6.3).
//!
//! ```text
//! statement: X = s·G and Z = s·Y          (G fixed, Y, X, Z given)
//! prover:    u ← Z_ℓ, A = u·G, B = u·Y
//!            c = T("urna/v1/proof/dleq"; fingerprint, context, Y, X, Z, A, B)
//!            z = u + c·s
//! proof:     (A, B, z)                                96 bytes
//! verifier:  z·G − A − c·X = 0   and   z·Y − B − c·Z = 0
//! ```
//!
//! Used for partial decryptions (`Y = α`, `X` the trustee's verification
//! key, `Z` the partial decryption, spec §9.1) and for DKG complaints
//! (`Y` the sealing ephemeral key, `Z` the revealed shared secret, spec §8.5).

use curve25519_dalek::scalar::Scalar;
use rand_core::CryptoRng;

use crate::batch::{Accumulator, Verify};
use crate::elgamal::SecretScalar;
use crate::encoding::{Element, Reader, Writer};
use crate::error::{PeerError, ProofKind};
use crate::group::mul_g;
use crate::transcript::{Fingerprint, Transcript, domain};

/// The statement of a DLEQ proof: `X = s·G`, `Z = s·Y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DleqStatement {
    /// The second base `Y`.
    pub base: Element,
    /// `X = s·G`.
    pub public: Element,
    /// `Z = s·Y`.
    pub image: Element,
}

/// A DLEQ proof `(A, B, z)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct DleqProof {
    /// `A = u·G`.
    pub commitment_g: Element,
    /// `B = u·Y`.
    pub commitment_y: Element,
    /// `z = u + c·s`.
    #[serde(with = "crate::encoding::hex_scalar")]
    pub response: Scalar,
}

fn challenge(
    fp: &Fingerprint,
    context: &[u8],
    st: &DleqStatement,
    a: &Element,
    b: &Element,
) -> Scalar {
    let mut t = Transcript::new(domain::PROOF_DLEQ);
    t.append_fingerprint(fp)
        .append("context", context)
        .append_element("base", &st.base)
        .append_element("public", &st.public)
        .append_element("image", &st.image)
        .append_element("commitment_g", a)
        .append_element("commitment_y", b);
    t.challenge()
}

impl DleqProof {
    /// Proves `public = s·G` and `image = s·base`.
    pub fn prove<R: CryptoRng + ?Sized>(
        fp: &Fingerprint,
        context: &[u8],
        s: &SecretScalar,
        st: &DleqStatement,
        rng: &mut R,
    ) -> Self {
        let u = SecretScalar::random(rng);
        let a = Element::from_point(mul_g(u.expose()));
        let b = Element::from_point(st.base.point() * u.expose());
        let c = challenge(fp, context, st, &a, &b);
        DleqProof {
            commitment_g: a,
            commitment_y: b,
            response: u.expose() + c * s.expose(),
        }
    }

    /// Binds the proof to its statement for verification.
    pub fn statement<'a>(
        &'a self,
        fp: &'a Fingerprint,
        context: &'a [u8],
        st: &'a DleqStatement,
    ) -> DleqCheck<'a> {
        DleqCheck {
            proof: self,
            fp,
            context,
            st,
        }
    }

    /// Canonical encoding `A || B || z`.
    pub fn encode(&self, w: &mut Writer) {
        w.element(&self.commitment_g)
            .element(&self.commitment_y)
            .scalar(&self.response);
    }

    /// Strict decoding.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, PeerError> {
        Ok(DleqProof {
            commitment_g: r.element()?,
            commitment_y: r.element()?,
            response: r.scalar()?,
        })
    }
}

/// A DLEQ proof together with what it claims.
#[derive(Debug, Clone, Copy)]
pub struct DleqCheck<'a> {
    proof: &'a DleqProof,
    fp: &'a Fingerprint,
    context: &'a [u8],
    st: &'a DleqStatement,
}

impl Verify for DleqCheck<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        let p = self.proof;
        let c = challenge(
            self.fp,
            self.context,
            self.st,
            &p.commitment_g,
            &p.commitment_y,
        );
        acc.equation();
        acc.term(Scalar::ONE, &p.commitment_g);
        acc.term(c, &self.st.public);
        acc.g(-p.response);
        acc.equation();
        acc.term(Scalar::ONE, &p.commitment_y);
        acc.term(c, &self.st.image);
        acc.term(-p.response, &self.st.base);
        Ok(())
    }
    fn failure(&self) -> PeerError {
        PeerError::InvalidProof(ProofKind::Dleq)
    }
    fn terms_hint(&self) -> usize {
        5
    }
}
