//! Cross-check of ElGamal against an independent implementation,
//! `elastic-elgamal` (on curve25519-dalek 4). Both use ristretto255 and
//! `(α, β) = (r·G, M + r·K)` for an element M; urna encodes votes as
//! `M = m·H` (spec §4), so elements are compared, not integers.

use elastic_elgamal::group::Ristretto;
use rand_chacha_03::rand_core::SeedableRng as _;
use urna_crypto::elgamal::{Ciphertext, KeyPair};
use urna_crypto::encoding::Reader;
use urna_crypto::{Element, Scalar};

type ElasticSecret = elastic_elgamal::SecretKey<Ristretto>;
type ElasticKeys = elastic_elgamal::Keypair<Ristretto>;

#[test]
fn same_public_key_from_same_secret() {
    for seed in 0..20u64 {
        let mut r = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(seed);
        let ours = KeyPair::generate(&mut r);
        let theirs = ElasticSecret::from_bytes(ours.secret().expose().as_bytes()).unwrap();
        let their_pk = elastic_elgamal::PublicKey::from(&theirs);
        assert_eq!(their_pk.as_bytes(), ours.public().element().as_bytes());
    }
}

#[test]
fn their_ciphertexts_decrypt_with_our_code_and_sums_agree() {
    let mut erng = rand_chacha_03::ChaCha20Rng::seed_from_u64(5);
    let keys = ElasticKeys::generate(&mut erng);
    // Their secret, read as our scalar.
    let secret_bytes: [u8; 32] = keys.secret().expose_scalar().to_bytes();
    let s = urna_crypto::encoding::decode_scalar(&secret_bytes).unwrap();
    let our_pk = Element::from_point(urna_crypto::group::mul_g(&s));
    assert_eq!(our_pk.as_bytes().as_slice(), keys.public().as_bytes());

    let m1 = urna_crypto::group::mul_h(&Scalar::from(3u64));
    let m2 = urna_crypto::group::mul_h(&Scalar::from(4u64));
    let to_v4 = |p: curve25519_dalek::ristretto::RistrettoPoint| {
        <Ristretto as elastic_elgamal::group::ElementOps>::deserialize_element(
            &p.compress().to_bytes(),
        )
        .unwrap()
    };
    let c1 = keys.public().encrypt_element(to_v4(m1), &mut erng);
    let c2 = keys.public().encrypt_element(to_v4(m2), &mut erng);
    let sum = c1 + c2;

    let decode = |c: elastic_elgamal::Ciphertext<Ristretto>| {
        let bytes = c.to_bytes();
        let mut r = Reader::new(&bytes);
        let ct = Ciphertext::decode(&mut r).unwrap();
        r.finish().unwrap();
        ct
    };
    let (o1, o2, osum) = (decode(c1), decode(c2), decode(sum));
    assert_eq!(
        o1.add(&o2),
        osum,
        "homomorphic addition agrees byte for byte"
    );
    let decrypted = Element::from_point(osum.beta.point() - osum.alpha.point() * s);
    assert_eq!(decrypted, Element::from_point(m1 + m2));
    // And their decryption of the same ciphertext gives the same element.
    let theirs = keys.secret().decrypt_to_element(sum);
    let mut buf = [0u8; 32];
    <Ristretto as elastic_elgamal::group::ElementOps>::serialize_element(&theirs, &mut buf);
    assert_eq!(&buf, decrypted.as_bytes());
}
