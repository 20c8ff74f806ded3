//! Bounded discrete logarithm base `H` by baby-step giant-step (spec §5).
//!
//! Given `Y = m·H` with `0 ≤ m ≤ bound`, write `m = i·w + j` with
//! `0 ≤ j < w`. The table holds `j·H ↦ j` for every `j < w`; the search
//! walks `Y − i·(w·H)` for `i = 0, 1, …` until it meets the table. Cost:
//! `w` table entries built once, at most `⌈(bound+1)/w⌉` giant steps per
//! logarithm. A tally takes many logarithms with the same bound (the
//! turnout), so the table is built once and reused, and is made wider than
//! `√bound` (4·√(bound+1), at least 2^12, at most 2^20 entries) to make
//! each search short.
//!
//! Both table and search compare encodings of *doubled* points, `enc(2·P)`:
//! ristretto255 can encode doubled points in batches with one shared field
//! inversion instead of one inverse square root per point, several times
//! cheaper. Doubling is a bijection on a prime-order group, so nothing is
//! lost.

use std::collections::HashMap;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use rayon::prelude::*;

use crate::encoding::Element;
use crate::error::UsageError;
use crate::group::{h, mul_h};

const BATCH: usize = 256;

/// A reusable baby-step table for logarithms up to `bound`.
#[derive(Debug, Clone)]
pub struct DlogTable {
    bound: u64,
    width: u64,
    // Keyed by the first 8 bytes of enc(2·j·H); a hit is confirmed exactly.
    baby: HashMap<u64, u32>,
    giant: RistrettoPoint,
}

fn key(bytes: &[u8; 32]) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(k)
}

impl DlogTable {
    /// Builds the table for logarithms in `0..=bound`.
    pub fn new(bound: u64) -> Self {
        let n = bound.saturating_add(1);
        let width = n
            .isqrt()
            .saturating_mul(4)
            .clamp(1 << 12, 1 << 20)
            .min(n)
            .max(1);
        let mut baby = HashMap::with_capacity(width as usize);
        let hp = *h().point();
        let mut p = RistrettoPoint::default();
        let mut j = 0u64;
        while j < width {
            let len = (width - j).min(BATCH as u64) as usize;
            let chunk: Vec<RistrettoPoint> = (0..len)
                .map(|_| {
                    let q = p;
                    p += hp;
                    q
                })
                .collect();
            for (i, enc) in RistrettoPoint::double_and_compress_batch(&chunk)
                .iter()
                .enumerate()
            {
                // An 8-byte collision keeps the first entry; `solve` confirms exactly.
                baby.entry(key(enc.as_bytes()))
                    .or_insert((j + i as u64) as u32);
            }
            j += len as u64;
        }
        let giant = -mul_h(&Scalar::from(width));
        DlogTable {
            bound,
            width,
            baby,
            giant,
        }
    }

    /// The largest logarithm this table finds.
    pub fn bound(&self) -> u64 {
        self.bound
    }

    /// Finds `m ≤ bound` with `y = m·H`.
    pub fn solve(&self, y: &Element) -> Result<u64, UsageError> {
        let steps = self.bound / self.width + 1;
        let mut cur = *y.point();
        let mut i = 0u64;
        while i < steps {
            let len = (steps - i).min(BATCH as u64) as usize;
            let chunk: Vec<RistrettoPoint> = (0..len)
                .map(|_| {
                    let q = cur;
                    cur += self.giant;
                    q
                })
                .collect();
            for (k, enc) in RistrettoPoint::double_and_compress_batch(&chunk)
                .iter()
                .enumerate()
            {
                if let Some(&j) = self.baby.get(&key(enc.as_bytes())) {
                    let m = (i + k as u64) * self.width + u64::from(j);
                    if m <= self.bound && Element::from_point(mul_h(&Scalar::from(m))) == *y {
                        return Ok(m);
                    }
                }
            }
            i += len as u64;
        }
        Err(UsageError::DlogNotFound(self.bound))
    }

    /// Solves many logarithms in parallel.
    pub fn solve_many(&self, ys: &[Element]) -> Vec<Result<u64, UsageError>> {
        ys.par_iter().map(|y| self.solve(y)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_small_and_edge_values() {
        let t = DlogTable::new(100_000);
        for m in [0u64, 1, 2, 4095, 4096, 4097, 99_999, 100_000] {
            let y = Element::from_point(mul_h(&Scalar::from(m)));
            assert_eq!(t.solve(&y), Ok(m), "m = {m}");
        }
    }

    #[test]
    fn above_bound_is_an_error() {
        let t = DlogTable::new(10);
        let y = Element::from_point(mul_h(&Scalar::from(11u64)));
        assert_eq!(t.solve(&y), Err(UsageError::DlogNotFound(10)));
        let t = DlogTable::new(50_000);
        let y = Element::from_point(mul_h(&Scalar::from(50_001u64)));
        assert_eq!(t.solve(&y), Err(UsageError::DlogNotFound(50_000)));
    }

    #[test]
    fn many_at_once() {
        let t = DlogTable::new(1_000_000);
        let ys: Vec<Element> = [5u64, 999_999, 123_456]
            .iter()
            .map(|&m| Element::from_point(mul_h(&Scalar::from(m))))
            .collect();
        assert_eq!(t.solve_many(&ys), vec![Ok(5), Ok(999_999), Ok(123_456)]);
    }

    #[test]
    fn large_bound() {
        let t = DlogTable::new(10_000_000);
        let y = Element::from_point(mul_h(&Scalar::from(9_876_543u64)));
        assert_eq!(t.solve(&y), Ok(9_876_543));
    }
}
