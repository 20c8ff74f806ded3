//! Canonical byte encodings (spec §2).
//!
//! Every value has exactly one accepted encoding. Decoding rejects anything
//! else: scalars that are not fully reduced, byte strings that are not the
//! canonical ristretto255 encoding, and the identity where a protocol rule
//! forbids it. Multi-byte integers are big-endian.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use subtle::ConstantTimeEq;

use crate::error::PeerError;

/// A ristretto255 group element, kept together with its canonical 32-byte
/// encoding so that hashing never recompresses (compression costs an
/// inverse square root).
#[derive(Clone, Copy)]
pub struct Element {
    point: RistrettoPoint,
    bytes: [u8; 32],
}

impl Element {
    /// Wraps a point, computing its encoding.
    pub fn from_point(point: RistrettoPoint) -> Self {
        Element {
            bytes: point.compress().to_bytes(),
            point,
        }
    }

    /// The identity element.
    pub fn identity() -> Self {
        Element::from_point(RistrettoPoint::identity())
    }

    /// Decodes a canonical encoding; the identity is accepted (spec §2.2).
    pub fn decode(bytes: &[u8; 32]) -> Result<Self, PeerError> {
        let point = CompressedRistretto(*bytes)
            .decompress()
            .ok_or(PeerError::NonCanonicalElement)?;
        Ok(Element {
            point,
            bytes: *bytes,
        })
    }

    /// Decodes a canonical encoding and rejects the identity (spec §2.2).
    pub fn decode_non_identity(bytes: &[u8; 32]) -> Result<Self, PeerError> {
        let e = Element::decode(bytes)?;
        if e.is_identity() {
            return Err(PeerError::IdentityElement);
        }
        Ok(e)
    }

    /// The point.
    pub fn point(&self) -> &RistrettoPoint {
        &self.point
    }

    /// The canonical encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Whether this is the identity (its encoding is all zeros, spec §2.2).
    pub fn is_identity(&self) -> bool {
        self.bytes == [0u8; 32]
    }

    /// Lower-case hex of the encoding.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// Decodes from hex (JSON forms), accepting the identity.
    pub fn from_hex(s: &str) -> Result<Self, PeerError> {
        Element::decode(&hex32(s)?)
    }
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        // Canonical encodings are unique, so equal points have equal bytes.
        self.bytes.ct_eq(&other.bytes).into()
    }
}
impl Eq for Element {}

impl std::hash::Hash for Element {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({})", self.to_hex())
    }
}

impl From<RistrettoPoint> for Element {
    fn from(p: RistrettoPoint) -> Self {
        Element::from_point(p)
    }
}

impl serde::Serialize for Element {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Element {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Element::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Decodes a canonical scalar: 32 bytes little-endian, value < ℓ (spec §2.1).
pub fn decode_scalar(bytes: &[u8; 32]) -> Result<Scalar, PeerError> {
    Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes))
        .ok_or(PeerError::NonCanonicalScalar)
}

/// Lower-case hex of a scalar's canonical encoding.
pub fn scalar_to_hex(s: &Scalar) -> String {
    hex::encode(s.as_bytes())
}

/// Decodes a canonical scalar from hex.
pub fn scalar_from_hex(s: &str) -> Result<Scalar, PeerError> {
    decode_scalar(&hex32(s)?)
}

fn hex32(s: &str) -> Result<[u8; 32], PeerError> {
    // Only lower-case hex is canonical in JSON forms (spec §2.4).
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(PeerError::Hex("upper-case hex is not canonical".into()));
    }
    let v = hex::decode(s).map_err(|e| PeerError::Hex(e.to_string()))?;
    v.try_into()
        .map_err(|v: Vec<u8>| PeerError::Hex(format!("expected 32 bytes, got {}", v.len())))
}

/// Serde helper for scalars as canonical lower-case hex: `#[serde(with = "urna_crypto::encoding::hex_scalar")]`.
pub mod hex_scalar {
    use curve25519_dalek::scalar::Scalar;

    /// Serializes as hex.
    pub fn serialize<S: serde::Serializer>(v: &Scalar, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::scalar_to_hex(v))
    }

    /// Deserializes from canonical hex.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        super::scalar_from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Appends fields in their canonical encodings (spec §2.3).
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }
    /// With a capacity hint.
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    /// Big-endian u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// A group element (32 bytes).
    pub fn element(&mut self, e: &Element) -> &mut Self {
        self.buf.extend_from_slice(e.as_bytes());
        self
    }
    /// A scalar (32 bytes).
    pub fn scalar(&mut self, s: &Scalar) -> &mut Self {
        self.buf.extend_from_slice(s.as_bytes());
        self
    }
    /// Raw bytes, no length.
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
    /// u32 length then the bytes.
    pub fn bytes32(&mut self, b: &[u8]) -> Result<&mut Self, crate::error::UsageError> {
        let n = u32::try_from(b.len())
            .map_err(|_| crate::error::UsageError::Parameters("field longer than 4 GiB".into()))?;
        self.u32(n);
        self.buf.extend_from_slice(b);
        Ok(self)
    }
    /// The encoding.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields, rejecting truncation and (at [`Reader::finish`]) trailing bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], PeerError> {
        if self.buf.len() < n {
            return Err(PeerError::Truncated {
                needed: n - self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PeerError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self) -> Result<u8, PeerError> {
        Ok(self.array::<1>()?[0])
    }
    /// Big-endian u16.
    pub fn u16(&mut self) -> Result<u16, PeerError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// Big-endian u32.
    pub fn u32(&mut self) -> Result<u32, PeerError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    /// Big-endian u64.
    pub fn u64(&mut self) -> Result<u64, PeerError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// A group element, identity allowed.
    pub fn element(&mut self) -> Result<Element, PeerError> {
        Element::decode(&self.array()?)
    }
    /// A group element, identity rejected.
    pub fn element_non_identity(&mut self) -> Result<Element, PeerError> {
        Element::decode_non_identity(&self.array()?)
    }
    /// A canonical scalar.
    pub fn scalar(&mut self) -> Result<Scalar, PeerError> {
        decode_scalar(&self.array()?)
    }
    /// A u32 length (at most `max`) then that many bytes.
    pub fn bytes32(&mut self, field: &'static str, max: u32) -> Result<&'a [u8], PeerError> {
        let n = self.u32()?;
        if n > max {
            return Err(PeerError::OutOfBounds {
                field,
                value: n.into(),
                min: 0,
                max: max.into(),
            });
        }
        self.take(n as usize)
    }
    /// Succeeds only if everything was read.
    pub fn finish(self) -> Result<(), PeerError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(PeerError::TrailingBytes(self.buf.len()))
        }
    }
}

/// Checks `lo <= value <= hi` for a decoded count.
pub(crate) fn bounded(field: &'static str, value: u64, lo: u64, hi: u64) -> Result<u64, PeerError> {
    if value < lo || value > hi {
        return Err(PeerError::OutOfBounds {
            field,
            value,
            min: lo,
            max: hi,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;

    #[test]
    fn scalar_rejects_unreduced() {
        // ℓ itself is the smallest non-canonical value.
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let l: [u8; 32] =
            hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(decode_scalar(&l), Err(PeerError::NonCanonicalScalar));
        assert_eq!(
            decode_scalar(&[0xff; 32]),
            Err(PeerError::NonCanonicalScalar)
        );
        let mut l_minus_1 = l;
        l_minus_1[0] -= 1;
        assert_eq!(decode_scalar(&l_minus_1), Ok(-Scalar::ONE));
    }

    #[test]
    fn element_round_trip_and_identity_rule() {
        let g = Element::from_point(RISTRETTO_BASEPOINT_POINT);
        assert_eq!(Element::decode(g.as_bytes()), Ok(g));
        assert_eq!(
            Element::decode_non_identity(&[0; 32]),
            Err(PeerError::IdentityElement)
        );
        assert!(Element::decode(&[0; 32]).is_ok());
        // A negative field element (low bit set) is never canonical.
        let mut b = [0u8; 32];
        b[0] = 1;
        assert_eq!(Element::decode(&b), Err(PeerError::NonCanonicalElement));
    }

    #[test]
    fn hex_must_be_lower_case_and_32_bytes() {
        let g = Element::from_point(RISTRETTO_BASEPOINT_POINT);
        assert!(Element::from_hex(&g.to_hex().to_uppercase()).is_err());
        assert!(Element::from_hex(&g.to_hex()[..62]).is_err());
        assert_eq!(Element::from_hex(&g.to_hex()), Ok(g));
    }

    #[test]
    fn reader_rejects_truncation_and_trailing_bytes() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.clone().u16(), Err(PeerError::Truncated { needed: 1 }));
        assert_eq!(r.finish(), Err(PeerError::TrailingBytes(1)));
    }
}
