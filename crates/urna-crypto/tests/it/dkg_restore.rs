//! Rebuilding a trustee's ceremony state from stored secrets
//! (`Round1::from_parts`, `Round2::from_parts`, `KeyPair::from_secret`):
//! a ceremony whose trustees are all restored between every round ends
//! with the same joint key and working shares, and mismatched parts are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use urna_crypto::dkg::{CeremonyParams, Round1, Round2, Trustee};
use urna_crypto::elgamal::{KeyPair, SecretScalar};

const MH: [u8; 32] = [9; 32];

fn restore1(params: CeremonyParams, r1: &Round1) -> Round1 {
    let (key, coefs) = r1.secret_parts();
    let key = KeyPair::from_secret(key.secret().clone()).unwrap();
    let coefs: Vec<SecretScalar> = coefs.to_vec();
    Round1::from_parts(
        params,
        r1.message().trustee,
        &MH,
        key,
        coefs,
        r1.message().clone(),
    )
    .unwrap()
}

#[test]
fn restored_states_finish_the_ceremony() {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let params = CeremonyParams::new(4, 3).unwrap();
    let mut states = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=params.n {
        let (r1, m1) = Trustee::new(params, i, &MH, KeyPair::generate(&mut rng))
            .unwrap()
            .start(&mut rng);
        states.push(restore1(params, &r1));
        msgs1.push(m1);
    }
    let mut r2s = Vec::new();
    let mut msgs2 = Vec::new();
    for (i, r1) in (1u16..).zip(states) {
        let (r2, m2) = r1.deal(&msgs1, &mut rng).unwrap();
        let (key, own) = r2.secret_parts();
        let restored = Round2::from_parts(
            params,
            i,
            &MH,
            KeyPair::from_secret(key.secret().clone()).unwrap(),
            own.clone(),
            &msgs1,
            &mut rng,
        )
        .unwrap();
        r2s.push(restored);
        msgs2.push(m2);
    }
    let mut r3s = Vec::new();
    for r2 in r2s {
        let (r3, complaints) = r2.receive(&msgs2, &mut rng);
        assert!(complaints.is_empty());
        r3s.push(r3);
    }
    let qs: Vec<_> = r3s
        .into_iter()
        .map(|r3| r3.finish(&[], &mut rng).unwrap())
        .collect();
    let k = qs[0].outcome().joint_key;
    assert!(qs.iter().all(|q| q.outcome().joint_key == k));
    for q in &qs {
        let j = q.key_share().index();
        assert_eq!(
            q.key_share().secret().public(),
            q.outcome().verification_keys[&j]
        );
    }
}

#[test]
fn mismatched_parts_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let params = CeremonyParams::new(3, 2).unwrap();
    let mut r1s = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=params.n {
        let (r1, m1) = Trustee::new(params, i, &MH, KeyPair::generate(&mut rng))
            .unwrap()
            .start(&mut rng);
        r1s.push(r1);
        msgs1.push(m1);
    }
    let (key, coefs) = r1s[0].secret_parts();
    let key = || KeyPair::from_secret(key.secret().clone()).unwrap();
    // Another trustee's message, another key, swapped or missing coefficients.
    assert!(Round1::from_parts(params, 1, &MH, key(), coefs.to_vec(), msgs1[1].clone()).is_err());
    assert!(
        Round1::from_parts(
            params,
            1,
            &MH,
            KeyPair::generate(&mut rng),
            coefs.to_vec(),
            msgs1[0].clone()
        )
        .is_err()
    );
    let mut swapped = coefs.to_vec();
    swapped.reverse();
    assert!(Round1::from_parts(params, 1, &MH, key(), swapped, msgs1[0].clone()).is_err());
    assert!(
        Round1::from_parts(params, 1, &MH, key(), coefs[..1].to_vec(), msgs1[0].clone()).is_err()
    );
    assert!(Round1::from_parts(params, 1, &MH, key(), coefs.to_vec(), msgs1[0].clone()).is_ok());
    // Round 2: a wrong own share, or a key that is not the published one.
    assert!(
        Round2::from_parts(
            params,
            1,
            &MH,
            key(),
            SecretScalar::random(&mut rng),
            &msgs1,
            &mut rng
        )
        .is_err()
    );
    let r1 = r1s.remove(0);
    let (r2, _) = r1.deal(&msgs1, &mut rng).unwrap();
    let own = r2.secret_parts().1.clone();
    assert!(
        Round2::from_parts(
            params,
            1,
            &MH,
            KeyPair::generate(&mut rng),
            own.clone(),
            &msgs1,
            &mut rng
        )
        .is_err()
    );
    let key2 = KeyPair::from_secret(r2.secret_parts().0.secret().clone()).unwrap();
    assert!(Round2::from_parts(params, 1, &MH, key2, own, &msgs1, &mut rng).is_ok());
    assert!(KeyPair::from_secret(SecretScalar::new(urna_crypto::Scalar::ZERO)).is_err());
}
