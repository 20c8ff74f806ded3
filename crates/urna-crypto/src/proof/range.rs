//! Disjunctive Chaum-Pedersen proof that a ciphertext encrypts a value in
//! `lo..=hi` (spec §6.4). With `lo = 0, hi = 1` this is the classic 0/1
//! proof; with `lo = min, hi = max` on the sum of a contest's options it is
//! the selection-limit proof; with `0..=R` it covers weighted and cumulative
//! votes.
//!
//! ```text
//! statement: K, summands (α_1, β_1) … (α_n, β_n), lo, hi, with (α, β) = Σ_i (α_i, β_i);
//!            claim: ∃ r, v ∈ lo..=hi: α = r·G, β = v·H + r·K
//! branches:  j = 0..k−1 with k = hi − lo + 1, branch j claims v = lo + j
//! prover (real value v*, branch j* = v* − lo, nonce r):
//!   for j ≠ j*:  c_j, z_j ← Z_ℓ;  A_j = z_j·G − c_j·α;  B_j = z_j·K − c_j·(β − (lo+j)·H)
//!   for j = j*:  u ← Z_ℓ;         A_j = u·G;            B_j = u·K
//!   c   = T("urna/v1/proof/range"; fingerprint, context, K, n, α_1, β_1, …, α_n, β_n,
//!           lo, hi, A_0, B_0, …, A_{k−1}, B_{k−1})
//!   c_{j*} = c − Σ_{j≠j*} c_j;  z_{j*} = u + c_{j*}·r
//! proof:     (A_j, B_j, c_j, z_j) for j = 0..k−1      128·k bytes
//! verifier:  Σ_j c_j = c, and for every j:
//!            A_j + c_j·α − z_j·G = 0
//!            B_j + c_j·β − c_j·(lo+j)·H − z_j·K = 0
//! ```
//!
//! An option's proof has one summand, its ciphertext. A contest's
//! selection-limit proof has the contest's option ciphertexts as summands:
//! hashing them instead of their sum spares the verifier two point
//! compressions (inverse square roots) per contest.
//!
//! The prover treats every branch alike and picks the real one with
//! constant-time selection, so its timing does not depend on the vote.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::CryptoRng;
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::batch::{Accumulator, Verify};
use crate::elgamal::{Ciphertext, PublicKey, SecretScalar};
use crate::encoding::{Element, Reader, Writer, bounded};
use crate::error::{PeerError, ProofKind, UsageError};
use crate::group::{mul_g, mul_h};
use crate::transcript::{Fingerprint, Transcript, domain};

/// The most branches a range proof may have (spec §6.4): `hi − lo + 1 ≤ 256`.
pub const MAX_BRANCHES: u64 = 256;

/// One branch `(A_j, B_j, c_j, z_j)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Branch {
    /// `A_j`.
    pub a: Element,
    /// `B_j`.
    pub b: Element,
    /// `c_j`.
    #[serde(with = "crate::encoding::hex_scalar")]
    pub c: Scalar,
    /// `z_j`.
    #[serde(with = "crate::encoding::hex_scalar")]
    pub z: Scalar,
}

/// A range proof: one branch per value in `lo..=hi`.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct RangeProof {
    /// Branches in order of value.
    pub branches: Vec<Branch>,
}

/// What a range proof claims.
#[derive(Debug, Clone, Copy)]
pub struct RangeStatement<'a> {
    /// The encryption key `K`.
    pub key: &'a Element,
    /// The ciphertexts whose sum the proof is about (one for an option).
    pub summands: &'a [Ciphertext],
    /// Lowest value.
    pub lo: u64,
    /// Highest value.
    pub hi: u64,
}

fn check_range(lo: u64, hi: u64) -> Result<u64, UsageError> {
    if hi < lo || hi - lo >= MAX_BRANCHES {
        return Err(UsageError::Parameters(format!(
            "range {lo}..={hi} is empty or wider than {MAX_BRANCHES}"
        )));
    }
    Ok(hi - lo + 1)
}

fn challenge(
    fp: &Fingerprint,
    context: &[u8],
    st: &RangeStatement<'_>,
    branches: &[(Element, Element)],
) -> Scalar {
    let mut t = Transcript::new(domain::PROOF_RANGE);
    t.append_fingerprint(fp)
        .append("context", context)
        .append_element("key", st.key)
        .append_u64("summands", st.summands.len() as u64);
    for ct in st.summands {
        t.append_element("alpha", &ct.alpha)
            .append_element("beta", &ct.beta);
    }
    t.append_u64("lo", st.lo).append_u64("hi", st.hi);
    for (a, b) in branches {
        t.append_element("a", a).append_element("b", b);
    }
    t.challenge()
}

impl RangeProof {
    /// Proves that `Σ summands = Enc(value; nonce)` under `key` with `lo ≤ value ≤ hi`
    /// (`nonce` is the sum of the summands' nonces).
    #[allow(clippy::too_many_arguments)]
    pub fn prove<R: CryptoRng + ?Sized>(
        fp: &Fingerprint,
        context: &[u8],
        key: &PublicKey,
        summands: &[Ciphertext],
        lo: u64,
        hi: u64,
        value: u64,
        nonce: &SecretScalar,
        rng: &mut R,
    ) -> Result<Self, UsageError> {
        let k = check_range(lo, hi)?;
        if value < lo || value > hi {
            return Err(UsageError::ValueOutOfRange { value, lo, hi });
        }
        let real = value - lo;
        if summands.is_empty() {
            return Err(UsageError::Parameters(
                "a range proof needs at least one ciphertext".into(),
            ));
        }
        let st = RangeStatement {
            key: key.element(),
            summands,
            lo,
            hi,
        };
        // The prover knows r and v*, so every commitment is a fixed-base
        // multiple (spec §6.4): for a simulated branch,
        //   A_j = z_j·G − c_j·α           = (z_j − c_j·r)·G
        //   B_j = z_j·K − c_j·(β − v_j·H) = (z_j − c_j·r)·K − c_j·(v* − v_j)·H
        // and the real branch is the same formula with (z_j − c_j·r) := u and
        // c_j := 0. Selecting scalars, not points, keeps it constant time.
        let v_star = Scalar::from(value);
        let mut sims = Vec::with_capacity(k as usize);
        let mut commitments = Vec::with_capacity(k as usize);
        let mut c_sum = Scalar::ZERO;
        for j in 0..k {
            let is_real = j.ct_eq(&real);
            let c_sim = Scalar::random(rng);
            let z_sim = Scalar::random(rng);
            let u = SecretScalar::random(rng);
            let c_j = Scalar::conditional_select(&c_sim, &Scalar::ZERO, is_real);
            let e = SecretScalar::new(Scalar::conditional_select(
                &(z_sim - c_sim * nonce.expose()),
                u.expose(),
                is_real,
            ));
            let a = mul_g(e.expose());
            let b = key.mul(e.expose()) - mul_h(&(c_j * (v_star - Scalar::from(lo + j))));
            c_sum += c_j;
            commitments.push((Element::from_point(a), Element::from_point(b)));
            sims.push((c_sim, z_sim, u, is_real));
        }
        let c = challenge(fp, context, &st, &commitments);
        let c_real = c - c_sum;
        let branches = sims
            .into_iter()
            .zip(commitments)
            .map(|((c_sim, z_sim, u, is_real), (a, b))| {
                let z_real = u.expose() + c_real * nonce.expose();
                Branch {
                    a,
                    b,
                    c: Scalar::conditional_select(&c_sim, &c_real, is_real),
                    z: Scalar::conditional_select(&z_sim, &z_real, is_real),
                }
            })
            .collect();
        Ok(RangeProof { branches })
    }

    /// Binds the proof to its statement for verification.
    pub fn statement<'a>(
        &'a self,
        fp: &'a Fingerprint,
        context: &'a [u8],
        st: RangeStatement<'a>,
    ) -> RangeCheck<'a> {
        RangeCheck {
            proof: self,
            fp,
            context,
            st,
        }
    }

    /// Canonical encoding: the branches in order, each `A || B || c || z`.
    /// The branch count is not encoded: it follows from `lo..=hi`.
    pub fn encode(&self, w: &mut Writer) {
        for br in &self.branches {
            w.element(&br.a).element(&br.b).scalar(&br.c).scalar(&br.z);
        }
    }

    /// Strict decoding of a proof for the range `lo..=hi`.
    pub fn decode(r: &mut Reader<'_>, lo: u64, hi: u64) -> Result<Self, PeerError> {
        let k = hi
            .checked_sub(lo)
            .and_then(|d| d.checked_add(1))
            .unwrap_or(0);
        bounded("range proof branches", k, 1, MAX_BRANCHES)?;
        let mut branches = Vec::with_capacity(k as usize);
        for _ in 0..k {
            branches.push(Branch {
                a: r.element()?,
                b: r.element()?,
                c: r.scalar()?,
                z: r.scalar()?,
            });
        }
        Ok(RangeProof { branches })
    }

    /// Encoded size in bytes for `k` branches.
    pub const fn encoded_len(k: usize) -> usize {
        128 * k
    }
}

fn sum_points(summands: &[Ciphertext]) -> (RistrettoPoint, RistrettoPoint) {
    summands.iter().fold(
        (RistrettoPoint::identity(), RistrettoPoint::identity()),
        |(a, b), c| (a + c.alpha.point(), b + c.beta.point()),
    )
}

/// Accumulates the equations of a range proof (spec §6.4).
pub(crate) fn accumulate_range(
    acc: &mut Accumulator,
    proof: &RangeProof,
    fp: &Fingerprint,
    context: &[u8],
    st: &RangeStatement<'_>,
) -> Result<(), PeerError> {
    let (ca, cb) = accumulate_range_open(acc, proof, fp, context, st)?;
    match st.summands {
        [one] => {
            acc.raw_term(ca, &one.alpha);
            acc.raw_term(cb, &one.beta);
        }
        many => {
            let (a, b) = sum_points(many);
            acc.raw_term_point(ca, a);
            acc.raw_term_point(cb, b);
        }
    }
    Ok(())
}

/// Accumulates a range proof's equations except the terms of the summed
/// ciphertext `(Σα, Σβ)`, whose weighted coefficients `(ca, cb)` it
/// returns. The caller adds `ca·Σα + cb·Σβ` itself: a ballot adds `ca`
/// and `cb` to each option ciphertext's own coefficients, which is the
/// same equation (scalar multiplication distributes over the sum) with
/// two fewer full-width points in the multiscalar multiplication.
pub(crate) fn accumulate_range_open(
    acc: &mut Accumulator,
    proof: &RangeProof,
    fp: &Fingerprint,
    context: &[u8],
    st: &RangeStatement<'_>,
) -> Result<(Scalar, Scalar), PeerError> {
    let k = st
        .hi
        .checked_sub(st.lo)
        .and_then(|d| d.checked_add(1))
        .unwrap_or(0);
    if k == 0 || k > MAX_BRANCHES {
        return Err(PeerError::OutOfBounds {
            field: "range proof branches",
            value: k,
            min: 1,
            max: MAX_BRANCHES,
        });
    }
    if proof.branches.len() as u64 != k {
        return Err(PeerError::ShapeMismatch {
            what: "range proof branches",
            expected: k,
            found: proof.branches.len() as u64,
        });
    }
    if st.summands.is_empty() {
        return Err(PeerError::ShapeMismatch {
            what: "range proof summands",
            expected: 1,
            found: 0,
        });
    }
    let commitments: Vec<(Element, Element)> = proof.branches.iter().map(|b| (b.a, b.b)).collect();
    let c = challenge(fp, context, st, &commitments);
    let sum: Scalar = proof.branches.iter().map(|b| b.c).sum();
    if sum != c {
        return Err(PeerError::InvalidProof(ProofKind::Range));
    }
    // Commitments get the bare 128-bit weight as their scalar (the equations
    // are written commitment-first so no negation widens it), which halves
    // their cost in Pippenger's method. Merge the α, β and H coefficients of all branches before adding
    // them, so a k-branch proof adds 2k + 2 variable points, not 4k.
    let (mut ca, mut cb, mut ch) = (Scalar::ZERO, Scalar::ZERO, Scalar::ZERO);
    for (j, br) in proof.branches.iter().enumerate() {
        acc.equation();
        acc.term(Scalar::ONE, &br.a);
        acc.g(-br.z);
        ca += acc.weight() * br.c;
        acc.equation();
        acc.term(Scalar::ONE, &br.b);
        acc.term(-br.z, st.key);
        let wc = acc.weight() * br.c;
        cb += wc;
        ch += wc * Scalar::from(st.lo + j as u64);
    }
    acc.raw_h(-ch);
    Ok((ca, cb))
}

/// A range proof together with what it claims.
#[derive(Debug, Clone, Copy)]
pub struct RangeCheck<'a> {
    proof: &'a RangeProof,
    fp: &'a Fingerprint,
    context: &'a [u8],
    st: RangeStatement<'a>,
}

impl Verify for RangeCheck<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        accumulate_range(acc, self.proof, self.fp, self.context, &self.st)
    }
    fn failure(&self) -> PeerError {
        PeerError::InvalidProof(ProofKind::Range)
    }
    fn terms_hint(&self) -> usize {
        2 * self.proof.branches.len() + 2
    }
}
