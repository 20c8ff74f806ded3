//! Exponential ElGamal over ristretto255 (spec §4).
//!
//! ```text
//! key pair:    s ← Z_ℓ,  K = s·G
//! encrypt m:   r ← Z_ℓ,  (α, β) = (r·G, m·H + r·K)
//! add:         (α1, β1) + (α2, β2) = (α1+α2, β1+β2)      encrypts m1+m2
//! re-encrypt:  (α, β) + (r'·G, r'·K)
//! decrypt:     β − s·α = m·H, then m by a bounded discrete log (spec §5)
//! ```

use std::sync::Arc;

use curve25519_dalek::ristretto::{RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::encoding::{Element, Reader, Writer};
use crate::error::PeerError;
use crate::group::{mul_g, mul_h};

/// A secret scalar, zeroized on drop. Used for decryption keys, shares and nonces.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretScalar(Scalar);

impl SecretScalar {
    /// A uniformly random secret.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        SecretScalar(Scalar::random(rng))
    }
    /// Wraps a scalar (the caller gives up its copy).
    pub fn new(s: Scalar) -> Self {
        SecretScalar(s)
    }
    /// The scalar. Callers must not let copies outlive their use.
    pub fn expose(&self) -> &Scalar {
        &self.0
    }
    /// `self·G`, constant time.
    pub fn public(&self) -> Element {
        Element::from_point(mul_g(&self.0))
    }
}

impl std::fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretScalar(..)")
    }
}

/// The randomness of one encryption. Revealing it (Benaloh audit) reveals the vote.
pub type Nonce = SecretScalar;

/// An ElGamal public key `K` with a precomputed table for fast fixed-base
/// multiplication (encryption does two fixed-base multiplications).
#[derive(Clone)]
pub struct PublicKey {
    element: Element,
    table: Arc<RistrettoBasepointTable>,
}

impl PublicKey {
    /// Uses `element` as a key; the identity is rejected (spec §4.1).
    pub fn new(element: Element) -> Result<Self, PeerError> {
        if element.is_identity() {
            return Err(PeerError::IdentityElement);
        }
        let table = Arc::new(RistrettoBasepointTable::create(element.point()));
        Ok(PublicKey { element, table })
    }
    /// The key.
    pub fn element(&self) -> &Element {
        &self.element
    }
    /// `s·K`, constant time.
    pub fn mul(&self, s: &Scalar) -> RistrettoPoint {
        &*self.table * s
    }

    /// Encrypts `m` with fresh randomness; returns the nonce for proofs or audit.
    pub fn encrypt<R: CryptoRng + ?Sized>(&self, m: u64, rng: &mut R) -> (Ciphertext, Nonce) {
        let r = Nonce::random(rng);
        (self.encrypt_with_nonce(m, r.expose()), r)
    }

    /// Encrypts `m` with the given nonce (spec §4.2).
    pub fn encrypt_with_nonce(&self, m: u64, r: &Scalar) -> Ciphertext {
        let alpha = mul_g(r);
        let beta = mul_h(&Scalar::from(m)) + self.mul(r);
        Ciphertext::from_points(alpha, beta)
    }

    /// Re-randomises a ciphertext: same plaintext, unlinkable encoding (spec §4.3).
    pub fn reencrypt<R: CryptoRng + ?Sized>(&self, c: &Ciphertext, rng: &mut R) -> Ciphertext {
        let r = Nonce::random(rng);
        Ciphertext::from_points(
            c.alpha.point() + mul_g(r.expose()),
            c.beta.point() + self.mul(r.expose()),
        )
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.element.to_hex())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, o: &Self) -> bool {
        self.element == o.element
    }
}

/// A decryption key (for tests and single-authority use; elections use
/// threshold shares, spec §8).
#[derive(Clone, Debug)]
pub struct KeyPair {
    secret: SecretScalar,
    public: PublicKey,
}

impl KeyPair {
    /// A fresh key pair.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let secret = SecretScalar::random(rng);
        // A random scalar is zero with probability 2^-252; the identity check
        // in PublicKey::new then fails and we draw again.
        match PublicKey::new(secret.public()) {
            Ok(public) => KeyPair { secret, public },
            Err(_) => KeyPair::generate(rng),
        }
    }
    /// The key pair of a stored secret (for example a trustee's share key
    /// read back from its encrypted storage); fails for the zero secret,
    /// whose public key would be the identity (spec §4.1).
    pub fn from_secret(secret: SecretScalar) -> Result<Self, PeerError> {
        let public = PublicKey::new(secret.public())?;
        Ok(KeyPair { secret, public })
    }
    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }
    /// The secret.
    pub fn secret(&self) -> &SecretScalar {
        &self.secret
    }
    /// `β − s·α = m·H` (spec §4.4).
    pub fn decrypt_to_element(&self, c: &Ciphertext) -> Element {
        Element::from_point(c.beta.point() - c.alpha.point() * self.secret.expose())
    }
}

/// An ElGamal ciphertext `(α, β)`; encoding `α || β`, 64 bytes (spec §4.5).
/// The JSON form obeys the same rule as the binary one: `α ≠ identity`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "CiphertextJson")]
pub struct Ciphertext {
    /// `r·G`.
    pub alpha: Element,
    /// `m·H + r·K`.
    pub beta: Element,
}

#[derive(serde::Deserialize)]
struct CiphertextJson {
    alpha: Element,
    beta: Element,
}

impl TryFrom<CiphertextJson> for Ciphertext {
    type Error = PeerError;
    fn try_from(j: CiphertextJson) -> Result<Self, PeerError> {
        if j.alpha.is_identity() {
            return Err(PeerError::IdentityElement);
        }
        Ok(Ciphertext {
            alpha: j.alpha,
            beta: j.beta,
        })
    }
}

impl Ciphertext {
    /// Encrypts-nothing: the identity pair, the neutral element of addition.
    pub fn zero() -> Self {
        Ciphertext {
            alpha: Element::identity(),
            beta: Element::identity(),
        }
    }
    fn from_points(alpha: RistrettoPoint, beta: RistrettoPoint) -> Self {
        Ciphertext {
            alpha: Element::from_point(alpha),
            beta: Element::from_point(beta),
        }
    }
    /// Homomorphic addition (spec §4.3).
    pub fn add(&self, o: &Ciphertext) -> Ciphertext {
        Ciphertext::from_points(
            self.alpha.point() + o.alpha.point(),
            self.beta.point() + o.beta.point(),
        )
    }
    /// The homomorphic sum of many ciphertexts, compressing once at the end.
    pub fn sum<'a, I: IntoIterator<Item = &'a Ciphertext>>(items: I) -> Ciphertext {
        let (a, b) = items.into_iter().fold(
            (RistrettoPoint::identity(), RistrettoPoint::identity()),
            |(a, b), c| (a + c.alpha.point(), b + c.beta.point()),
        );
        Ciphertext::from_points(a, b)
    }
    /// Canonical encoding.
    pub fn encode(&self, w: &mut Writer) {
        w.element(&self.alpha).element(&self.beta);
    }
    /// Strict decoding; α must not be the identity (a zero nonce exposes the vote, spec §4.5).
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, PeerError> {
        Ok(Ciphertext {
            alpha: r.element_non_identity()?,
            beta: r.element()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::h;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn encrypt_add_decrypt() {
        let mut rng = rng();
        let kp = KeyPair::generate(&mut rng);
        let (c1, _) = kp.public().encrypt(3, &mut rng);
        let (c2, _) = kp.public().encrypt(4, &mut rng);
        let sum = c1.add(&c2);
        assert_eq!(
            kp.decrypt_to_element(&sum),
            Element::from_point(h().point() * Scalar::from(7u64))
        );
        assert_eq!(Ciphertext::sum([&c1, &c2]), sum);
        let re = kp.public().reencrypt(&sum, &mut rng);
        assert_ne!(re, sum);
        assert_eq!(kp.decrypt_to_element(&re), kp.decrypt_to_element(&sum));
    }

    #[test]
    fn decode_rejects_identity_alpha() {
        let mut w = Writer::new();
        Ciphertext::zero().encode(&mut w);
        let bytes = w.finish();
        assert_eq!(
            Ciphertext::decode(&mut Reader::new(&bytes)),
            Err(PeerError::IdentityElement)
        );
    }

    #[test]
    fn json_rejects_identity_alpha() {
        let z = Element::identity().to_hex();
        let g = crate::group::g().to_hex();
        let bad = format!("{{\"alpha\":\"{z}\",\"beta\":\"{g}\"}}");
        assert!(serde_json::from_str::<Ciphertext>(&bad).is_err());
        let good = format!("{{\"alpha\":\"{g}\",\"beta\":\"{z}\"}}");
        assert!(serde_json::from_str::<Ciphertext>(&good).is_ok());
    }

    #[test]
    fn identity_public_key_rejected() {
        assert!(PublicKey::new(Element::identity()).is_err());
    }
}
