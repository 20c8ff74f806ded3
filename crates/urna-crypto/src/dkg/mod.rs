//! The threshold key ceremony: Pedersen's distributed key generation with
//! Feldman commitments (spec §8).
//!
//! `n` trustees, 1-based indices `1..=n`, threshold `t`: any `t` of them can
//! decrypt, fewer learn nothing. No one ever holds the joint secret.
//!
//! ```text
//! round 1  (spec §8.2)  trustee i: share key x_i, X_i = x_i·G, Schnorr proof of x_i
//!                       f_i(z) = a_{i,0} + a_{i,1}·z + … + a_{i,t−1}·z^{t−1}
//!                       C_{i,k} = a_{i,k}·G, Schnorr proof of a_{i,k}, k = 0..t−1
//! round 2  (spec §8.3)  dealer i seals f_i(j) to X_j for every other participant j
//! check    (spec §8.4)  recipient j opens σ = f_i(j) and checks σ·G = Σ_k j^k·C_{i,k}
//! complain (spec §8.5)  on failure j publishes S = x_j·E with a DLEQ proof; anyone
//!                       can then open the sealed share and judge it
//! resolve  (spec §8.6)  Q = participants not disqualified; |Q| ≥ t or the ceremony fails
//!                       K   = Σ_{i∈Q} C_{i,0}                         joint key
//!                       s_j = Σ_{i∈Q} f_i(j)                          j's secret share
//!                       K_j = Σ_k j^k · Σ_{i∈Q} C_{i,k} = s_j·G       j's verification key
//! ```
//!
//! The trustee side is a chain of types, one per protocol state, each
//! consumed by the step that leaves it (as rustls does), so that steps cannot
//! be skipped, repeated or reordered:
//! [`Trustee`] → [`Round1`] → [`Round2`] → [`Round3`] → [`Qualified`].
//! The public side ([`check_round1`], [`resolve_complaints`],
//! [`verify_ceremony`]) is what every trustee *and* every verifier runs on
//! the published messages; trustees reach the same outcome because they run
//! the same deterministic function on the same bytes.

mod messages;
mod resolve;
mod seal;
mod trustee;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::elgamal::SecretScalar;
use crate::encoding::Element;
use crate::error::UsageError;

pub use messages::{
    COMPLAINT_VERSION, Coefficient, Complaint, ROUND1_VERSION, ROUND2_VERSION, Round1Message,
    Round2Message, SEALED_SHARE_LEN, SealedShare,
};
pub use resolve::{
    CeremonyOutcome, CeremonyRecord, ComplaintVerdict, Fault, Misbehaviour, Round1Outcome,
    check_round1, judge_complaint, resolve_complaints, verify_ceremony,
};
pub use trustee::{Qualified, Round1, Round2, Round3, Trustee};

/// The most trustees a ceremony may have (spec §8.1).
pub const MAX_TRUSTEES: u16 = 64;

/// Context prefix of the Schnorr proof of a polynomial coefficient (spec §8.2).
pub const CTX_COEFFICIENT: &[u8] = b"urna/v1/dkg/coefficient";
/// Context prefix of the Schnorr proof of a share-encryption key (spec §8.2).
pub const CTX_SHARE_KEY: &[u8] = b"urna/v1/dkg/share-key";
/// Context prefix of the DLEQ proof in a complaint (spec §8.5).
pub const CTX_COMPLAINT: &[u8] = b"urna/v1/dkg/complaint";

/// The size of a ceremony: `n` trustees, threshold `t` (spec §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CeremonyParams {
    /// Number of trustees, `1..=MAX_TRUSTEES`.
    pub n: u16,
    /// How many trustees must cooperate to decrypt, `1..=n`.
    pub t: u16,
}

impl CeremonyParams {
    /// Checked constructor: `1 ≤ t ≤ n ≤ MAX_TRUSTEES`.
    pub fn new(n: u16, t: u16) -> Result<Self, UsageError> {
        let p = CeremonyParams { n, t };
        p.validate()?;
        Ok(p)
    }

    /// Checks `1 ≤ t ≤ n ≤ MAX_TRUSTEES`.
    pub fn validate(&self) -> Result<(), UsageError> {
        if self.t == 0 || self.t > self.n || self.n > MAX_TRUSTEES {
            return Err(UsageError::Parameters(format!(
                "need 1 ≤ t ≤ n ≤ {MAX_TRUSTEES}, got n = {}, t = {}",
                self.n, self.t
            )));
        }
        Ok(())
    }

    /// Whether `i` is a trustee index of this ceremony (`1..=n`).
    pub fn contains(&self, i: u16) -> bool {
        (1..=self.n).contains(&i)
    }
}

/// Context of the proof of coefficient `k` of dealer `i` (spec §8.2):
/// `CTX_COEFFICIENT || u16(n) || u16(t) || u16(i) || u16(k)`.
pub fn coefficient_context(p: &CeremonyParams, dealer: u16, k: u16) -> Vec<u8> {
    let mut c = Vec::with_capacity(CTX_COEFFICIENT.len() + 8);
    c.extend_from_slice(CTX_COEFFICIENT);
    for v in [p.n, p.t, dealer, k] {
        c.extend_from_slice(&v.to_be_bytes());
    }
    c
}

/// Context of the proof of trustee `i`'s share-encryption key (spec §8.2):
/// `CTX_SHARE_KEY || u16(n) || u16(t) || u16(i)`.
pub fn share_key_context(p: &CeremonyParams, trustee: u16) -> Vec<u8> {
    let mut c = Vec::with_capacity(CTX_SHARE_KEY.len() + 6);
    c.extend_from_slice(CTX_SHARE_KEY);
    for v in [p.n, p.t, trustee] {
        c.extend_from_slice(&v.to_be_bytes());
    }
    c
}

/// Context of a complaint's DLEQ proof (spec §8.5):
/// `CTX_COMPLAINT || u16(dealer) || u16(complainer)`.
pub fn complaint_context(dealer: u16, complainer: u16) -> Vec<u8> {
    let mut c = Vec::with_capacity(CTX_COMPLAINT.len() + 4);
    c.extend_from_slice(CTX_COMPLAINT);
    c.extend_from_slice(&dealer.to_be_bytes());
    c.extend_from_slice(&complainer.to_be_bytes());
    c
}

/// `Σ_k j^k·C_k`: the public image `f(j)·G` of a committed polynomial
/// (spec §8.4). Vartime: every input is public.
pub fn feldman_eval(commitments: &[Element], j: u16) -> RistrettoPoint {
    let x = Scalar::from(j);
    let mut pow = Scalar::ONE;
    let mut scalars = Vec::with_capacity(commitments.len());
    for _ in commitments {
        scalars.push(pow);
        pow *= x;
    }
    RistrettoPoint::vartime_multiscalar_mul(&scalars, commitments.iter().map(|c| *c.point()))
}

/// A dealer's secret polynomial `f(z) = Σ_k a_k·z^k` of degree `t − 1`
/// (spec §8.2). Coefficients are zeroized on drop.
struct Polynomial {
    coefficients: Vec<SecretScalar>,
}

impl Polynomial {
    /// Draws `t` coefficients, none zero (a zero coefficient would commit to
    /// the identity, which round 1 rejects; the chance is 2^-252 per draw).
    fn random<R: CryptoRng + ?Sized>(t: u16, rng: &mut R) -> Self {
        let coefficients = (0..t)
            .map(|_| {
                loop {
                    let a = SecretScalar::random(rng);
                    if a.expose() != &Scalar::ZERO {
                        break a;
                    }
                }
            })
            .collect();
        Polynomial { coefficients }
    }

    /// `f(x)` by Horner's rule: `(…(a_{t−1}·x + a_{t−2})·x + …)·x + a_0`.
    /// Constant time in the coefficients (scalar arithmetic is).
    fn eval(&self, x: u16) -> SecretScalar {
        let x = Scalar::from(x);
        let mut acc = Zeroizing::new(Scalar::ZERO);
        for a in self.coefficients.iter().rev() {
            *acc = *acc * x + a.expose();
        }
        SecretScalar::new(*acc)
    }
}

impl std::fmt::Debug for Polynomial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Polynomial(degree {}, ..)",
            self.coefficients.len().saturating_sub(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::mul_g;
    use rand_core::SeedableRng;

    #[test]
    fn horner_matches_feldman() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let f = Polynomial::random(4, &mut rng);
        let c: Vec<Element> = f.coefficients.iter().map(|a| a.public()).collect();
        for j in [1u16, 2, 7, 64] {
            assert_eq!(
                Element::from_point(mul_g(f.eval(j).expose())),
                Element::from_point(feldman_eval(&c, j))
            );
        }
        assert_eq!(f.eval(0).expose(), f.coefficients[0].expose());
    }

    #[test]
    fn params_bounds() {
        assert!(CeremonyParams::new(1, 1).is_ok());
        assert!(CeremonyParams::new(64, 64).is_ok());
        assert!(CeremonyParams::new(65, 1).is_err());
        assert!(CeremonyParams::new(3, 0).is_err());
        assert!(CeremonyParams::new(3, 4).is_err());
    }

    #[test]
    fn contexts_are_distinct() {
        let p = CeremonyParams { n: 5, t: 3 };
        assert_ne!(coefficient_context(&p, 1, 2), coefficient_context(&p, 2, 1));
        assert_ne!(share_key_context(&p, 1), coefficient_context(&p, 1, 0));
        assert_ne!(complaint_context(1, 2), complaint_context(2, 1));
    }
}
