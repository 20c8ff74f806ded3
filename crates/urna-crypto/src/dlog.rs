//! Bounded discrete logarithm base `H` by baby-step giant-step (spec §5).
//!
//! Given `Y = m·H` with `0 ≤ m ≤ bound`, write `m = i·w + j` with
//! `0 ≤ j < w`. The table holds `j·H ↦ j` for every `j < w`; the search
//! walks `Y − i·(w·H)` for `i = 0, 1, …` until it meets the table. Cost:
//! `w` table entries built once, at most `⌈(bound+1)/w⌉` giant steps per
//! logarithm. A tally takes many logarithms with the same bound (the
//! turnout), so the table is built once and reused; `w` defaults to
//! `⌈√(bound+1)⌉`, but at least 2^12 so that small tallies need one step.

use std::collections::HashMap;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;

use crate::encoding::Element;
use crate::error::UsageError;
use crate::group::{h, mul_h};

/// A reusable baby-step table for logarithms up to `bound`.
#[derive(Debug, Clone)]
pub struct DlogTable {
    bound: u64,
    width: u64,
    // Keyed by the first 8 bytes of the encoding; the full check happens on a hit.
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
            .saturating_add(1)
            .max(1 << 12)
            .min(n)
            .clamp(1, u64::from(u32::MAX));
        let mut baby = HashMap::with_capacity(width as usize);
        let hp = *h().point();
        let mut p = RistrettoPoint::default();
        for j in 0..width {
            // Collisions on 8 bytes are possible in principle; keep the first
            // and let `solve` confirm candidates exactly.
            baby.entry(key(&p.compress().to_bytes()))
                .or_insert(j as u32);
            p += hp;
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
        let mut cur = *y.point();
        let steps = self.bound / self.width + 1;
        for i in 0..steps {
            let bytes = if i == 0 {
                *y.as_bytes()
            } else {
                cur.compress().to_bytes()
            };
            if let Some(&j) = self.baby.get(&key(&bytes)) {
                let m = i * self.width + u64::from(j);
                if m <= self.bound && mul_h(&Scalar::from(m)).compress().to_bytes() == *y.as_bytes()
                {
                    return Ok(m);
                }
            }
            cur += self.giant;
        }
        Err(UsageError::DlogNotFound(self.bound))
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
    fn large_bound() {
        let t = DlogTable::new(10_000_000);
        let y = Element::from_point(mul_h(&Scalar::from(9_876_543u64)));
        assert_eq!(t.solve(&y), Ok(9_876_543));
    }
}
