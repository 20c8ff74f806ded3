//! Batch verification (spec §6.1).
//!
//! Every proof in this crate is in *commitment form*: it carries its
//! commitments, so each verification equation is a linear relation among
//! group elements that must equal the identity:
//!
//! ```text
//! Σ_i s_i·P_i = 0
//! ```
//!
//! To check many equations at once, each equation `e` is multiplied by an
//! independent random 128-bit weight `w_e` known only to the verifier, and all
//! are summed into one vartime multiscalar multiplication (Pippenger):
//!
//! ```text
//! Σ_e w_e · (Σ_i s_{e,i}·P_{e,i}) = 0
//! ```
//!
//! If any single equation is false the weighted sum is the identity with
//! probability at most 2^-128 (the weights are drawn after the proofs are
//! fixed). The fixed bases `G`, `H` and the election key `K` recur in every
//! equation; their coefficients are merged so that each adds one point to
//! the multiplication, not one per equation. When a batch fails, its items
//! are checked one by one so that exactly the bad ones are named.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, Rng, SeedableRng};
use rayon::prelude::*;

use crate::encoding::Element;
use crate::error::PeerError;
use crate::group::{g, h};

/// Collects weighted verification equations for one multiscalar multiplication.
#[derive(Debug)]
pub struct Accumulator {
    rng: ChaCha20Rng,
    weight: Scalar,
    g: Scalar,
    h: Scalar,
    key: Option<Element>,
    k: Scalar,
    scalars: Vec<Scalar>,
    points: Vec<RistrettoPoint>,
}

impl Accumulator {
    /// An empty accumulator. `key`, when given, is the election key whose
    /// terms are merged into one (most ballot equations use it).
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R, key: Option<&Element>) -> Self {
        Accumulator {
            rng: ChaCha20Rng::from_rng(rng),
            weight: Scalar::ONE,
            g: Scalar::ZERO,
            h: Scalar::ZERO,
            key: key.copied(),
            k: Scalar::ZERO,
            scalars: Vec::new(),
            points: Vec::new(),
        }
    }

    /// Reserves room for `n` more variable terms.
    pub fn reserve(&mut self, n: usize) {
        self.scalars.reserve(n);
        self.points.reserve(n);
    }

    /// Starts a new equation with a fresh random 128-bit weight.
    pub fn equation(&mut self) {
        let mut b = [0u8; 32];
        self.rng.fill_bytes(&mut b[..16]);
        self.weight = Scalar::from_bytes_mod_order(b);
    }

    /// Adds `s·G` to the current equation.
    pub fn g(&mut self, s: Scalar) {
        self.g += self.weight * s;
    }

    /// Adds `s·H` to the current equation.
    pub fn h(&mut self, s: Scalar) {
        self.h += self.weight * s;
    }

    /// Adds `s·P` to the current equation; merges `P` into the common slot when it is the batch key.
    pub fn term(&mut self, s: Scalar, p: &Element) {
        if self.key.as_ref().is_some_and(|k| k == p) {
            self.k += self.weight * s;
        } else {
            self.scalars.push(self.weight * s);
            self.points.push(*p.point());
        }
    }

    /// Adds `s·P` for a point with no encoding at hand (a sum computed by the verifier).
    pub fn term_point(&mut self, s: Scalar, p: RistrettoPoint) {
        self.scalars.push(self.weight * s);
        self.points.push(p);
    }

    /// The current equation's weight, for callers that merge the
    /// coefficients of a point shared by several equations.
    pub fn weight(&self) -> Scalar {
        self.weight
    }

    /// Adds `s·H` with `s` already weighted.
    pub fn raw_h(&mut self, s: Scalar) {
        self.h += s;
    }

    /// Adds `s·P` with `s` already weighted (see [`Accumulator::weight`]).
    pub fn raw_term(&mut self, s: Scalar, p: &Element) {
        self.scalars.push(s);
        self.points.push(*p.point());
    }

    /// Adds `s·P` for a computed point, `s` already weighted.
    pub fn raw_term_point(&mut self, s: Scalar, p: RistrettoPoint) {
        self.scalars.push(s);
        self.points.push(p);
    }

    /// Whether the weighted sum of all equations is the identity.
    pub fn check(mut self) -> bool {
        self.scalars.push(self.g);
        self.points.push(*g().point());
        self.scalars.push(self.h);
        self.points.push(*h().point());
        if let Some(k) = self.key {
            self.scalars.push(self.k);
            self.points.push(*k.point());
        }
        RistrettoPoint::vartime_multiscalar_mul(&self.scalars, &self.points).is_identity()
    }
}

/// Something that can put its verification equations into an [`Accumulator`].
/// Checks that are not group equations (for example that challenges add up)
/// happen here too and fail at once.
pub trait Verify {
    /// Adds this item's equations, or fails if a non-group check fails.
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError>;

    /// The error to report when the item's group equations fail.
    fn failure(&self) -> PeerError;

    /// Called after this item failed alone: narrows the failure down to the
    /// part that is wrong (a ballot says which proof). `seed` seeds the
    /// weights of any re-checks.
    fn locate(&self, key: Option<&Element>, seed: [u8; 32]) -> PeerError {
        let _ = (key, seed);
        self.failure()
    }

    /// A hint of how many variable terms this item adds.
    fn terms_hint(&self) -> usize {
        8
    }
}

/// Verifies one item alone.
pub fn verify_one<T: Verify + ?Sized, R: CryptoRng + ?Sized>(
    item: &T,
    key: Option<&Element>,
    rng: &mut R,
) -> Result<(), PeerError> {
    let mut acc = Accumulator::new(rng, key);
    item.accumulate(&mut acc)?;
    if acc.check() {
        return Ok(());
    }
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    Err(item.locate(key, seed))
}

/// A bad item found by [`verify_batch`]: its position and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadItem {
    /// Index into the slice that was verified.
    pub index: usize,
    /// What failed.
    pub error: PeerError,
}

/// Items per multiscalar multiplication. Pippenger's cost per point falls
/// slowly past a few thousand points, while smaller chunks keep all cores
/// busy and make a failed chunk cheap to re-check item by item.
pub const CHUNK: usize = 256;

/// Verifies many items, in parallel chunks with one multiscalar
/// multiplication each. Returns every bad item, sorted by index.
pub fn verify_batch<T: Verify + Sync, R: CryptoRng + ?Sized>(
    items: &[T],
    key: Option<&Element>,
    rng: &mut R,
) -> Result<(), Vec<BadItem>> {
    let seeds: Vec<[u8; 32]> = items
        .chunks(CHUNK)
        .map(|_| {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        })
        .collect();
    let mut bad: Vec<BadItem> = items
        .par_chunks(CHUNK)
        .zip(seeds.par_iter())
        .enumerate()
        .flat_map_iter(|(n, (chunk, seed))| {
            verify_chunk(chunk, key, seed)
                .into_iter()
                .map(move |mut b| {
                    b.index += n * CHUNK;
                    b
                })
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        bad.sort_by_key(|b| b.index);
        Err(bad)
    }
}

fn verify_chunk<T: Verify>(chunk: &[T], key: Option<&Element>, seed: &[u8; 32]) -> Vec<BadItem> {
    let mut rng = ChaCha20Rng::from_seed(*seed);
    let mut acc = Accumulator::new(&mut rng, key);
    acc.reserve(chunk.iter().map(Verify::terms_hint).sum());
    let mut bad = Vec::new();
    for (i, item) in chunk.iter().enumerate() {
        if let Err(error) = item.accumulate(&mut acc) {
            bad.push(BadItem { index: i, error });
        }
    }
    if bad.is_empty() && acc.check() {
        return bad;
    }
    // Name the culprits: re-check every item alone.
    chunk
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            verify_one(item, key, &mut rng)
                .err()
                .map(|error| BadItem { index: i, error })
        })
        .collect()
}
