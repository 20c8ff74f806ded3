//! The group and its fixed generators (spec §2.5).
//!
//! `G` is the ristretto255 base point. `H`, the base on which exponential
//! ElGamal encodes votes, is derived from a public label:
//!
//! ```text
//! H = ristretto255_map( SHA-512( T("urna/v1/generator", label = "urna/v1/elgamal/message") ) )
//! ```
//!
//! where `ristretto255_map` is RFC 9496 §4.3.4 "element derivation" from 64
//! uniform bytes and `T(..)` is the framed transcript of spec §3.1. Nobody,
//! the authors included, knows log_G(H): the map is one-way.

use std::sync::OnceLock;

use curve25519_dalek::constants::{RISTRETTO_BASEPOINT_POINT, RISTRETTO_BASEPOINT_TABLE};
use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;

use crate::encoding::Element;
use crate::transcript::{Transcript, domain};

/// The label of the message base `H`.
pub const MESSAGE_BASE_LABEL: &str = "urna/v1/elgamal/message";

/// Derives a generator from a label (spec §2.5). Anyone can re-derive it.
pub fn derive_generator(label: &str) -> Element {
    let mut t = Transcript::new(domain::GENERATOR);
    t.append("label", label.as_bytes());
    Element::from_point(RistrettoPoint::from_uniform_bytes(&t.digest64()))
}

/// The base point `G`.
pub fn g() -> Element {
    static G: OnceLock<Element> = OnceLock::new();
    *G.get_or_init(|| Element::from_point(RISTRETTO_BASEPOINT_POINT))
}

/// The message base `H` (spec §2.5).
pub fn h() -> Element {
    *h_parts().0
}

fn h_parts() -> (&'static Element, &'static RistrettoBasepointTable) {
    static H: OnceLock<(Element, RistrettoBasepointTable)> = OnceLock::new();
    let (e, t) = H.get_or_init(|| {
        let e = derive_generator(MESSAGE_BASE_LABEL);
        let t = RistrettoBasepointTable::create(e.point());
        (e, t)
    });
    (e, t)
}

/// `s·G`, constant time.
pub fn mul_g(s: &Scalar) -> RistrettoPoint {
    RISTRETTO_BASEPOINT_TABLE * s
}

/// `s·H`, constant time.
pub fn mul_h(s: &Scalar) -> RistrettoPoint {
    h_parts().1 * s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h_is_not_g_and_is_stable() {
        assert_ne!(h(), g());
        assert_eq!(h(), derive_generator(MESSAGE_BASE_LABEL));
        assert_ne!(derive_generator("a"), derive_generator("b"));
        assert_eq!(Element::from_point(mul_h(&Scalar::ONE)), h());
    }
}
