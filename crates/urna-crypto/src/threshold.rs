//! Threshold decryption (spec §9).
//!
//! After the key ceremony (spec §8) trustee `j` holds `s_j = F(j)`, a point
//! on the joint polynomial `F = Σ_{i∈Q} f_i` whose constant term is the
//! joint secret `s = F(0)`; everyone knows `K = s·G` and `K_j = s_j·G`.
//!
//! ```text
//! partial decryption of (α, β) by trustee j (spec §9.1):
//!   D_j = s_j·α
//!   proof: DLEQ(base α, public K_j, image D_j; secret s_j),
//!          fingerprint = Fingerprint::election(manifest_hash, K),
//!          context = "urna/v1/decrypt/partial" || u16(j) || β || label
//! combination from a set S of |S| ≥ t distinct trustees (spec §9.2):
//!   λ_j = Π_{m∈S, m≠j} m / (m − j)   (mod ℓ)        so that Σ_{j∈S} λ_j·F(j) = F(0) = s
//!   Σ_{j∈S} λ_j·D_j = s·α = s·r·G = r·K
//!   M = β − Σ_{j∈S} λ_j·D_j = m·H,  then m by the bounded discrete log (spec §5)
//! ```
//!
//! The context binds `β` and a caller-chosen label (for a tally: the
//! district, contest and option), so a partial decryption cannot be moved to
//! another ciphertext that happens to share `α`, nor to another position of
//! the tally.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::VartimeMultiscalarMul;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use rayon::prelude::*;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::batch::{Accumulator, BadItem, Verify, verify_batch};
use crate::dkg::MAX_TRUSTEES;
use crate::dlog::DlogTable;
use crate::elgamal::{Ciphertext, SecretScalar};
use crate::encoding::{Element, Reader, Writer, bounded};
use crate::error::{PeerError, UsageError};
use crate::proof::dleq::{DleqProof, DleqStatement};
use crate::transcript::Fingerprint;

/// Encoding version of [`PartialDecryption`].
pub const PARTIAL_VERSION: u8 = 1;
/// Context prefix of a partial decryption's DLEQ proof (spec §9.1).
pub const CTX_PARTIAL: &[u8] = b"urna/v1/decrypt/partial";

/// The context of trustee `j`'s proof for ciphertext `ct` under `label`:
/// `CTX_PARTIAL || u16(j) || β || label` (spec §9.1).
pub fn partial_context(trustee: u16, ct: &Ciphertext, label: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(CTX_PARTIAL.len() + 34 + label.len());
    c.extend_from_slice(CTX_PARTIAL);
    c.extend_from_slice(&trustee.to_be_bytes());
    c.extend_from_slice(ct.beta.as_bytes());
    c.extend_from_slice(label);
    c
}

/// Trustee `j`'s secret share `s_j` with its verification key `K_j = s_j·G`.
/// The secret is zeroized on drop and never printed.
#[derive(Clone, Debug)]
pub struct KeyShare {
    index: u16,
    secret: SecretScalar,
    verification_key: Element,
}

impl KeyShare {
    /// Wraps a share (for example one loaded from the trustee's storage);
    /// fails unless `secret·G = verification_key` and `index ≥ 1`.
    pub fn new(
        index: u16,
        secret: SecretScalar,
        verification_key: Element,
    ) -> Result<Self, UsageError> {
        if index == 0 || index > MAX_TRUSTEES {
            return Err(UsageError::NotAParticipant(index));
        }
        let public = secret.public();
        if !bool::from(public.as_bytes().ct_eq(verification_key.as_bytes())) {
            return Err(UsageError::Parameters(
                "the secret share does not match its verification key".into(),
            ));
        }
        Ok(KeyShare {
            index,
            secret,
            verification_key,
        })
    }

    /// The trustee index `j`.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// `K_j`.
    pub fn verification_key(&self) -> &Element {
        &self.verification_key
    }

    /// The secret `s_j`, for the trustee's own storage.
    pub fn secret(&self) -> &SecretScalar {
        &self.secret
    }

    /// `D_j = s_j·α` with its proof (spec §9.1). `fp` is the election
    /// fingerprint; `label` names the ciphertext (e.g. its tally position).
    pub fn partial_decrypt<R: CryptoRng + ?Sized>(
        &self,
        fp: &Fingerprint,
        label: &[u8],
        ct: &Ciphertext,
        rng: &mut R,
    ) -> PartialDecryption {
        // Constant-time variable-base multiplication by the secret.
        let share = Element::from_point(ct.alpha.point() * self.secret.expose());
        let st = DleqStatement {
            base: ct.alpha,
            public: self.verification_key,
            image: share,
        };
        let ctx = partial_context(self.index, ct, label);
        PartialDecryption {
            trustee: self.index,
            share,
            proof: DleqProof::prove(fp, &ctx, &self.secret, &st, rng),
        }
    }

    /// Partial decryptions of many labelled ciphertexts, in parallel, in
    /// the same order (spec §9.1).
    pub fn partial_decrypt_batch<L: AsRef<[u8]> + Sync, R: CryptoRng + ?Sized>(
        &self,
        fp: &Fingerprint,
        items: &[(L, Ciphertext)],
        rng: &mut R,
    ) -> Vec<PartialDecryption> {
        // One seed per item so the work parallelises; seeds are secret (they
        // determine the proof nonces) and are zeroized.
        let seeds: Zeroizing<Vec<[u8; 32]>> = Zeroizing::new(
            items
                .iter()
                .map(|_| {
                    let mut s = [0u8; 32];
                    rng.fill_bytes(&mut s);
                    s
                })
                .collect(),
        );
        items
            .par_iter()
            .zip(seeds.par_iter())
            .map(|((label, ct), seed)| {
                let mut r = ChaCha20Rng::from_seed(*seed);
                self.partial_decrypt(fp, label.as_ref(), ct, &mut r)
            })
            .collect()
    }
}

/// Trustee `j`'s partial decryption `D_j = s_j·α` of one ciphertext, with
/// its Chaum-Pedersen proof (spec §9.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct PartialDecryption {
    /// The trustee `j`.
    pub trustee: u16,
    /// `D_j = s_j·α`.
    pub share: Element,
    /// DLEQ proof: base `α`, public `K_j`, image `D_j`.
    pub proof: DleqProof,
}

impl PartialDecryption {
    /// Encoded size in bytes.
    pub const ENCODED_LEN: usize = 3 + 32 + 96;

    /// Binds this partial decryption to what it claims, for verification
    /// with [`crate::batch::verify_one`] or [`crate::batch::verify_batch`].
    /// `vk` must be `K_j` of `self.trustee`.
    pub fn check<'a>(
        &'a self,
        fp: &'a Fingerprint,
        label: &'a [u8],
        ct: &'a Ciphertext,
        vk: &'a Element,
    ) -> PartialCheck<'a> {
        PartialCheck {
            partial: self,
            fp,
            label,
            ct,
            vk,
        }
    }

    /// Canonical encoding (spec §9.4): `u8(1) || u16(j) || D_j || A || B || z`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::ENCODED_LEN);
        w.u8(PARTIAL_VERSION).u16(self.trustee).element(&self.share);
        self.proof.encode(&mut w);
        w.finish()
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, PeerError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != PARTIAL_VERSION {
            return Err(PeerError::UnknownVersion(version));
        }
        let trustee = r.u16()?;
        bounded("trustee", trustee.into(), 1, MAX_TRUSTEES.into())?;
        let p = PartialDecryption {
            trustee,
            share: r.element()?,
            proof: DleqProof::decode(&mut r)?,
        };
        r.finish()?;
        Ok(p)
    }
}

/// A partial decryption together with what it claims (spec §9.3).
#[derive(Debug, Clone, Copy)]
pub struct PartialCheck<'a> {
    partial: &'a PartialDecryption,
    fp: &'a Fingerprint,
    label: &'a [u8],
    ct: &'a Ciphertext,
    vk: &'a Element,
}

impl Verify for PartialCheck<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        let p = self.partial;
        let ctx = partial_context(p.trustee, self.ct, self.label);
        let st = DleqStatement {
            base: self.ct.alpha,
            public: *self.vk,
            image: p.share,
        };
        p.proof.statement(self.fp, &ctx, &st).accumulate(acc)
    }
    fn failure(&self) -> PeerError {
        PeerError::BadPartialDecryption {
            trustee: self.partial.trustee,
        }
    }
    fn terms_hint(&self) -> usize {
        5
    }
}

/// Verifies one trustee's partial decryptions of labelled ciphertexts (spec §9.3)
/// (`partials[k]` for `items[k]`) in one batch; `K_j` appears in every
/// equation and is merged into one term (spec §6.1). Names every bad one.
pub fn verify_partials<L: AsRef<[u8]> + Sync, R: CryptoRng + ?Sized>(
    fp: &Fingerprint,
    vk: &Element,
    items: &[(L, Ciphertext)],
    partials: &[PartialDecryption],
    rng: &mut R,
) -> Result<(), Vec<BadItem>> {
    if items.len() != partials.len() {
        return Err(vec![BadItem {
            index: items.len().min(partials.len()),
            error: PeerError::ShapeMismatch {
                what: "partial decryptions",
                expected: items.len() as u64,
                found: partials.len() as u64,
            },
        }]);
    }
    let checks: Vec<PartialCheck<'_>> = items
        .iter()
        .zip(partials)
        .map(|((label, ct), p)| p.check(fp, label.as_ref(), ct, vk))
        .collect();
    verify_batch(&checks, Some(vk), rng)
}

/// The Lagrange coefficients at 0 for the distinct, non-zero indices `S`
/// (spec §9.2): `λ_j = Π_{m∈S, m≠j} m / (m − j) mod ℓ`, in the order given.
pub fn lagrange_at_zero(indices: &[u16]) -> Result<Vec<Scalar>, UsageError> {
    for (k, &j) in indices.iter().enumerate() {
        if j == 0 {
            return Err(UsageError::NotAParticipant(0));
        }
        if indices[..k].contains(&j) {
            return Err(UsageError::DuplicateTrustee(j));
        }
    }
    let mut num = Vec::with_capacity(indices.len());
    let mut den = Vec::with_capacity(indices.len());
    for &j in indices {
        let (mut n, mut d) = (Scalar::ONE, Scalar::ONE);
        for &m in indices {
            if m != j {
                n *= Scalar::from(m);
                d *= Scalar::from(m) - Scalar::from(j);
            }
        }
        num.push(n);
        den.push(d);
    }
    // Distinct indices below ℓ make every denominator non-zero.
    Scalar::invert_batch_alloc(&mut den);
    Ok(num.into_iter().zip(den).map(|(n, d)| n * d).collect())
}

fn check_count(threshold: u16, indices: &[u16]) -> Result<Vec<Scalar>, UsageError> {
    if threshold == 0 {
        return Err(UsageError::Parameters(
            "the threshold must be at least 1".into(),
        ));
    }
    let lambdas = lagrange_at_zero(indices)?;
    if indices.len() < usize::from(threshold) {
        return Err(UsageError::NotEnoughShares {
            needed: threshold.into(),
            have: indices.len(),
        });
    }
    Ok(lambdas)
}

/// `M = β − Σ_j λ_j·D_j` (vartime: everything here is public).
fn combine_with(
    lambdas: &[Scalar],
    ct: &Ciphertext,
    shares: impl Iterator<Item = Element>,
) -> Element {
    let scalars = std::iter::once(Scalar::ONE).chain(lambdas.iter().map(|l| -l));
    let points = std::iter::once(*ct.beta.point()).chain(shares.map(|d| *d.point()));
    Element::from_point(RistrettoPoint::vartime_multiscalar_mul(scalars, points))
}

/// Combines *verified* partial decryptions of `ct` from at least `threshold`
/// distinct trustees into `M = m·H` (spec §9.2). All given partial
/// decryptions are used; any `t` or more give the same `M`.
pub fn combine_element(
    threshold: u16,
    ct: &Ciphertext,
    partials: &[PartialDecryption],
) -> Result<Element, UsageError> {
    let indices: Vec<u16> = partials.iter().map(|p| p.trustee).collect();
    let lambdas = check_count(threshold, &indices)?;
    Ok(combine_with(&lambdas, ct, partials.iter().map(|p| p.share)))
}

/// [`combine_element`], then the bounded discrete logarithm (spec §5).
pub fn combine(
    threshold: u16,
    ct: &Ciphertext,
    partials: &[PartialDecryption],
    table: &DlogTable,
) -> Result<u64, UsageError> {
    table.solve(&combine_element(threshold, ct, partials)?)
}

/// Combines many ciphertexts at once (spec §9.2): `per_trustee[k][i]` is
/// trustee `k`'s verified partial decryption of `cts[i]`. The Lagrange
/// coefficients are computed once; ciphertexts are combined in parallel.
pub fn combine_batch_elements(
    threshold: u16,
    cts: &[Ciphertext],
    per_trustee: &[&[PartialDecryption]],
) -> Result<Vec<Element>, UsageError> {
    let mut indices = Vec::with_capacity(per_trustee.len());
    for slice in per_trustee {
        if slice.len() != cts.len() {
            return Err(UsageError::Parameters(format!(
                "a trustee supplied {} partial decryptions for {} ciphertexts",
                slice.len(),
                cts.len()
            )));
        }
        let Some(first) = slice.first() else {
            // No ciphertexts: nothing to combine, but the count rule still holds.
            if per_trustee.len() < usize::from(threshold) {
                return Err(UsageError::NotEnoughShares {
                    needed: threshold.into(),
                    have: per_trustee.len(),
                });
            }
            return Ok(Vec::new());
        };
        if let Some(p) = slice.iter().find(|p| p.trustee != first.trustee) {
            return Err(UsageError::Parameters(format!(
                "partial decryptions of trustees {} and {} are in one slice",
                first.trustee, p.trustee
            )));
        }
        indices.push(first.trustee);
    }
    let lambdas = check_count(threshold, &indices)?;
    Ok(cts
        .par_iter()
        .enumerate()
        .map(|(i, ct)| combine_with(&lambdas, ct, per_trustee.iter().map(|s| s[i].share)))
        .collect())
}

/// [`combine_batch_elements`], then the bounded discrete logarithms.
pub fn combine_batch(
    threshold: u16,
    cts: &[Ciphertext],
    per_trustee: &[&[PartialDecryption]],
    table: &DlogTable,
) -> Result<Vec<u64>, UsageError> {
    combine_batch_elements(threshold, cts, per_trustee)?
        .par_iter()
        .map(|m| table.solve(m))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lagrange_interpolates_at_zero() {
        // F(z) = 5 + 3z + 2z^2; any three points give F(0) = 5.
        let f = |x: u64| Scalar::from(5 + 3 * x + 2 * x * x);
        for set in [[1u16, 2, 3], [2, 4, 5], [5, 1, 3]] {
            let l = lagrange_at_zero(&set).unwrap();
            let s: Scalar = set.iter().zip(&l).map(|(&j, l)| l * f(j.into())).sum();
            assert_eq!(s, Scalar::from(5u64));
        }
        assert_eq!(
            lagrange_at_zero(&[1, 2, 1]),
            Err(UsageError::DuplicateTrustee(1))
        );
        assert_eq!(
            lagrange_at_zero(&[0, 2]),
            Err(UsageError::NotAParticipant(0))
        );
        assert_eq!(lagrange_at_zero(&[7]).unwrap(), vec![Scalar::ONE]);
    }
}
