//! Sealing a share to its recipient (spec §8.3): hashed ElGamal key
//! agreement, then ChaCha20-Poly1305.
//!
//! ```text
//! dealer i, recipient j with share key X_j = x_j·G, share σ = f_i(j):
//!   e ← Z_ℓ,  E = e·G,  S = e·X_j                      (recipient: S = x_j·E)
//!   key = digest32( T("urna/v1/dkg/share-seal"; fingerprint, dealer = u16(i),
//!                     recipient = u16(j), ephemeral = E, recipient_key = X_j,
//!                     shared_secret = S) )
//!   sealed = ChaCha20-Poly1305(key, nonce = 0^12, aad = u16(i) || u16(j), plaintext = σ (32 bytes))
//!          = 32 bytes of ciphertext || 16-byte tag
//! ```
//!
//! The all-zero nonce is safe because each key encrypts exactly one
//! message: the key hashes `S`, which depends on the fresh uniformly random
//! `e`, so two seals repeat a key only if they repeat `e` (probability
//! 2^-252 with a working generator). The hash binds the ceremony, both
//! indices and both public keys, so a sealed share cannot be replayed to
//! another recipient, from another dealer or into another ceremony.
//!
//! Revealing `S` (a complaint, spec §8.5) lets anyone derive this one key
//! and open this one share, and nothing else: `x_j` stays secret.
//!
//! The key, `S` and the plaintext are held in `Zeroizing` buffers. The copy
//! of the key inside `ChaCha20Poly1305` is erased on drop only when that
//! crate's `zeroize` feature is enabled (a workspace choice).

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::elgamal::{KeyPair, SecretScalar};
use crate::encoding::{Element, decode_scalar};
use crate::error::{PeerError, UsageError};
use crate::group::mul_g;
use crate::transcript::{Fingerprint, Transcript, domain};

use super::messages::{SEALED_SHARE_LEN, SealedShare};

/// `digest32(T(SHARE_SEAL_KEY; fingerprint, dealer, recipient, E, X_j, S))`.
fn seal_key(
    fp: &Fingerprint,
    dealer: u16,
    recipient: u16,
    ephemeral: &Element,
    recipient_key: &Element,
    shared: &[u8; 32],
) -> Zeroizing<[u8; 32]> {
    let mut t = Transcript::new(domain::SHARE_SEAL_KEY);
    t.append_fingerprint(fp)
        .append("dealer", &dealer.to_be_bytes())
        .append("recipient", &recipient.to_be_bytes())
        .append_element("ephemeral", ephemeral)
        .append_element("recipient_key", recipient_key)
        .append("shared_secret", shared);
    Zeroizing::new(t.digest32())
}

fn aad(dealer: u16, recipient: u16) -> [u8; 4] {
    let [a, b] = dealer.to_be_bytes();
    let [c, d] = recipient.to_be_bytes();
    [a, b, c, d]
}

impl SealedShare {
    /// Seals `share` from `dealer` to `recipient`, whose share key is `recipient_key`.
    pub fn seal<R: CryptoRng + ?Sized>(
        fp: &Fingerprint,
        dealer: u16,
        recipient: u16,
        recipient_key: &Element,
        share: &SecretScalar,
        rng: &mut R,
    ) -> Result<SealedShare, UsageError> {
        let e = SecretScalar::random(rng);
        let ephemeral = Element::from_point(mul_g(e.expose()));
        let shared = Zeroizing::new((recipient_key.point() * e.expose()).compress().to_bytes());
        let key = seal_key(fp, dealer, recipient, &ephemeral, recipient_key, &shared);
        let cipher = ChaCha20Poly1305::new(<&Key>::from(&*key));
        let mut buf = Zeroizing::new(share.expose().to_bytes());
        let tag = cipher
            .encrypt_inout_detached(
                &Nonce::default(),
                &aad(dealer, recipient),
                buf.as_mut_slice().into(),
            )
            .map_err(|_| UsageError::Parameters("share encryption failed".into()))?;
        let mut sealed = [0u8; SEALED_SHARE_LEN];
        sealed[..32].copy_from_slice(buf.as_slice());
        sealed[32..].copy_from_slice(tag.as_slice());
        Ok(SealedShare {
            dealer,
            recipient,
            ephemeral,
            sealed,
        })
    }

    /// The recipient opens its share with its share key pair (`S = x_j·E`).
    /// Fails if the tag is wrong or the plaintext is not a canonical scalar.
    /// Does not check the share against the commitments (spec §8.4).
    pub fn open(&self, fp: &Fingerprint, recipient: &KeyPair) -> Result<SecretScalar, PeerError> {
        let shared = Zeroizing::new(
            (self.ephemeral.point() * recipient.secret().expose())
                .compress()
                .to_bytes(),
        );
        self.open_with(fp, recipient.public().element(), &shared)
    }

    /// Anyone opens the share given the revealed `S` (spec §8.5).
    pub fn open_with_shared_secret(
        &self,
        fp: &Fingerprint,
        recipient_key: &Element,
        shared: &Element,
    ) -> Result<SecretScalar, PeerError> {
        self.open_with(fp, recipient_key, shared.as_bytes())
    }

    fn open_with(
        &self,
        fp: &Fingerprint,
        recipient_key: &Element,
        shared: &[u8; 32],
    ) -> Result<SecretScalar, PeerError> {
        let unreadable = PeerError::UnreadableShare {
            dealer: self.dealer,
            recipient: self.recipient,
        };
        let key = seal_key(
            fp,
            self.dealer,
            self.recipient,
            &self.ephemeral,
            recipient_key,
            shared,
        );
        let cipher = ChaCha20Poly1305::new(<&Key>::from(&*key));
        let mut buf = Zeroizing::new([0u8; 32]);
        buf.copy_from_slice(&self.sealed[..32]);
        let mut tag_bytes = [0u8; 16];
        tag_bytes.copy_from_slice(&self.sealed[32..]);
        cipher
            .decrypt_inout_detached(
                &Nonce::default(),
                &aad(self.dealer, self.recipient),
                buf.as_mut_slice().into(),
                &Tag::from(tag_bytes),
            )
            .map_err(|_| unreadable.clone())?;
        decode_scalar(&buf)
            .map(SecretScalar::new)
            .map_err(|_| unreadable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::scalar::Scalar;
    use rand_core::SeedableRng;

    #[test]
    fn seal_open_and_tamper() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let fp = Fingerprint::ceremony(&[9; 32]);
        let kp = KeyPair::generate(&mut rng);
        let share = SecretScalar::new(Scalar::from(12345u64));
        let s = SealedShare::seal(&fp, 1, 2, kp.public().element(), &share, &mut rng).unwrap();
        assert_eq!(s.open(&fp, &kp).unwrap().expose(), share.expose());
        // Another fingerprint, another recipient index, a flipped bit: all fail.
        assert!(s.open(&Fingerprint::ceremony(&[8; 32]), &kp).is_err());
        let mut other = s;
        other.recipient = 3;
        assert!(other.open(&fp, &kp).is_err());
        let mut flipped = s;
        flipped.sealed[5] ^= 1;
        assert!(flipped.open(&fp, &kp).is_err());
        assert!(s.open(&fp, &KeyPair::generate(&mut rng)).is_err());
    }
}
