//! Threshold decryption (spec §9) on keys from a real ceremony (spec §8).

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use urna_crypto::batch::{BadItem, verify_batch, verify_one};
use urna_crypto::dkg::{CeremonyOutcome, CeremonyParams, Trustee};
use urna_crypto::dlog::DlogTable;
use urna_crypto::elgamal::{Ciphertext, KeyPair};
use urna_crypto::error::{PeerError, UsageError};
use urna_crypto::threshold::{
    KeyShare, PartialDecryption, combine, combine_batch, combine_element, verify_partials,
};
use urna_crypto::{Element, Fingerprint};

const MH: [u8; 32] = [3; 32];

/// An honest ceremony; returns the outcome and every trustee's share.
fn ceremony(n: u16, t: u16, rng: &mut ChaCha20Rng) -> (CeremonyOutcome, Vec<KeyShare>) {
    let params = CeremonyParams::new(n, t).unwrap();
    let (r1, m1): (Vec<_>, Vec<_>) = (1..=n)
        .map(|i| {
            Trustee::new(params, i, &MH, KeyPair::generate(rng))
                .unwrap()
                .start(rng)
        })
        .unzip();
    let (r2, m2): (Vec<_>, Vec<_>) = r1.into_iter().map(|s| s.deal(&m1, rng).unwrap()).unzip();
    let (r3, complaints): (Vec<_>, Vec<_>) = r2.into_iter().map(|s| s.receive(&m2, rng)).unzip();
    assert!(complaints.iter().all(Vec::is_empty));
    let mut outcome = None;
    let shares = r3
        .into_iter()
        .map(|s| {
            let (o, k) = s.finish(&[], rng).unwrap().into_parts();
            outcome = Some(o);
            k
        })
        .collect();
    (outcome.unwrap(), shares)
}

/// Encrypts `votes` and returns their homomorphic sum.
fn encrypted_sum(outcome: &CeremonyOutcome, votes: &[u64], rng: &mut ChaCha20Rng) -> Ciphertext {
    let pk = outcome.public_key().unwrap();
    let cts: Vec<Ciphertext> = votes.iter().map(|&v| pk.encrypt(v, rng).0).collect();
    Ciphertext::sum(&cts)
}

fn subsets(n: u16, k: usize) -> Vec<Vec<u16>> {
    (0u32..1 << n)
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (1..=n).filter(|i| m & (1 << (i - 1)) != 0).collect())
        .collect()
}

#[test]
fn any_three_of_five_decrypt_the_same_sum() {
    let mut rng = ChaCha20Rng::seed_from_u64(20);
    let (outcome, shares) = ceremony(5, 3, &mut rng);
    let fp = outcome.election_fingerprint();
    let votes = [1, 0, 1, 1, 0, 1, 1];
    let ct = encrypted_sum(&outcome, &votes, &mut rng);
    let label = b"district 1/contest 1/option 2";
    let partials: Vec<PartialDecryption> = shares
        .iter()
        .map(|s| s.partial_decrypt(&fp, label, &ct, &mut rng))
        .collect();
    for p in &partials {
        let vk = outcome.verification_key(p.trustee).unwrap();
        verify_one(&p.check(&fp, label, &ct, vk), None, &mut rng).unwrap();
    }
    let table = DlogTable::new(100);
    let pick = |set: &[u16]| -> Vec<PartialDecryption> {
        set.iter().map(|&j| partials[usize::from(j) - 1]).collect()
    };
    let mut sets = subsets(5, 3);
    assert_eq!(sets.len(), 10);
    sets.push(vec![1, 3, 4, 5]);
    sets.push(vec![5, 4, 3, 2, 1]);
    for set in sets {
        assert_eq!(
            combine(3, &ct, &pick(&set), &table),
            Ok(5),
            "subset {set:?}"
        );
    }
    for set in subsets(5, 2) {
        assert_eq!(
            combine(3, &ct, &pick(&set), &table),
            Err(UsageError::NotEnoughShares { needed: 3, have: 2 })
        );
    }
    assert_eq!(
        combine(3, &ct, &pick(&[1, 2, 2]), &table),
        Err(UsageError::DuplicateTrustee(2))
    );
    assert_eq!(
        combine(3, &ct, &[], &table),
        Err(UsageError::NotEnoughShares { needed: 3, have: 0 })
    );
}

#[test]
fn batch_decrypt_a_tally() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let (outcome, shares) = ceremony(4, 2, &mut rng);
    let fp = outcome.election_fingerprint();
    // Six options; option k receives k votes.
    let tally: Vec<(String, Ciphertext)> = (0..6u64)
        .map(|k| {
            let mut votes = vec![1; k as usize];
            votes.extend([0, 0]);
            (
                format!("option {k}"),
                encrypted_sum(&outcome, &votes, &mut rng),
            )
        })
        .collect();
    let per: Vec<Vec<PartialDecryption>> = shares
        .iter()
        .map(|s| s.partial_decrypt_batch(&fp, &tally, &mut rng))
        .collect();
    for (s, p) in shares.iter().zip(&per) {
        assert!(p.iter().all(|d| d.trustee == s.index()));
        verify_partials(&fp, s.verification_key(), &tally, p, &mut rng).unwrap();
    }
    let cts: Vec<Ciphertext> = tally.iter().map(|(_, c)| *c).collect();
    let table = DlogTable::new(1000);
    let expected: Vec<u64> = (0..6).collect();
    assert_eq!(
        combine_batch(2, &cts, &[&per[3], &per[1]], &table),
        Ok(expected.clone())
    );
    assert_eq!(
        combine_batch(2, &cts, &[&per[0], &per[1], &per[2], &per[3]], &table),
        Ok(expected)
    );
    assert_eq!(
        combine_batch(2, &cts, &[&per[2]], &table),
        Err(UsageError::NotEnoughShares { needed: 2, have: 1 })
    );
    assert_eq!(
        combine_batch(2, &cts, &[&per[2], &per[2]], &table),
        Err(UsageError::DuplicateTrustee(3))
    );
    assert!(combine_batch(2, &cts, &[&per[0], &per[1][..5]], &table).is_err());
    assert_eq!(combine_batch(2, &[], &[&[], &[]], &table), Ok(vec![]));
}

#[test]
fn wrong_partial_decryptions_are_named() {
    let mut rng = ChaCha20Rng::seed_from_u64(22);
    let (outcome, shares) = ceremony(3, 2, &mut rng);
    let fp = outcome.election_fingerprint();
    let ct = encrypted_sum(&outcome, &[1, 1], &mut rng);
    let other = encrypted_sum(&outcome, &[1, 1], &mut rng);
    // Same α, another β: the context binds β.
    let same_alpha = Ciphertext {
        alpha: ct.alpha,
        beta: other.beta,
    };
    let good = shares[0].partial_decrypt(&fp, b"L", &ct, &mut rng);
    let vk1 = *shares[0].verification_key();
    let vk2 = *shares[1].verification_key();

    // A wrong share with a proof for it made by someone without s_1 cannot
    // exist; replacing D_1 in an honest proof must fail.
    let mut wrong_share = good;
    wrong_share.share = shares[1].partial_decrypt(&fp, b"L", &ct, &mut rng).share;
    let other_fp = Fingerprint::election(&[0; 32], &outcome.joint_key);
    let for_other_fp = shares[0].partial_decrypt(&other_fp, b"L", &ct, &mut rng);
    let for_other_ct = shares[0].partial_decrypt(&fp, b"L", &other, &mut rng);
    let mut other_trustee = good;
    other_trustee.trustee = 2;

    let good2 = shares[1].partial_decrypt(&fp, b"L", &ct, &mut rng);
    // (partial, label, ciphertext, key); indices 1..=6 are bad.
    let cases: Vec<(PartialDecryption, &[u8], Ciphertext, Element)> = vec![
        (good, b"L".as_slice(), ct, vk1),
        (wrong_share, b"L".as_slice(), ct, vk1),
        (for_other_fp, b"L".as_slice(), ct, vk1),
        (for_other_ct, b"L".as_slice(), ct, vk1),
        (good, b"L".as_slice(), same_alpha, vk1),
        (good, b"M".as_slice(), ct, vk1),
        (other_trustee, b"L".as_slice(), ct, vk2),
        (good2, b"L".as_slice(), ct, vk2),
    ];
    let checks: Vec<_> = cases
        .iter()
        .map(|(p, l, c, k)| p.check(&fp, l, c, k))
        .collect();
    let bad = verify_batch(&checks, None, &mut rng).unwrap_err();
    let named: Vec<BadItem> = (1..=6)
        .map(|index| BadItem {
            index,
            error: PeerError::BadPartialDecryption {
                trustee: cases[index].0.trustee,
            },
        })
        .collect();
    assert_eq!(bad, named);
    // Without the bad ones, the batch passes and the vote decrypts.
    verify_batch(&[checks[0], checks[7]], None, &mut rng).unwrap();
    assert_eq!(combine(2, &ct, &[good, good2], &DlogTable::new(10)), Ok(2));
    // The honest proof for `other` does not carry over to `ct` in a
    // per-trustee batch either.
    let items = [(b"L".as_slice(), ct), (b"L".as_slice(), other)];
    let bad = verify_partials(&fp, &vk1, &items, &[good, good], &mut rng).unwrap_err();
    assert_eq!(bad.iter().map(|b| b.index).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn partial_decryption_encoding_is_strict() {
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let (outcome, shares) = ceremony(2, 2, &mut rng);
    let fp = outcome.election_fingerprint();
    let ct = encrypted_sum(&outcome, &[1], &mut rng);
    let p = shares[1].partial_decrypt(&fp, b"x", &ct, &mut rng);
    let b = p.encode();
    assert_eq!(b.len(), PartialDecryption::ENCODED_LEN);
    assert_eq!(PartialDecryption::decode(&b), Ok(p));
    for len in 0..b.len() {
        assert!(PartialDecryption::decode(&b[..len]).is_err());
    }
    let mut longer = b.clone();
    longer.push(0);
    assert_eq!(
        PartialDecryption::decode(&longer),
        Err(PeerError::TrailingBytes(1))
    );
    for at in [3, 35, 67, 99] {
        let mut bad = b.clone();
        bad[at..at + 32].fill(0xff);
        assert!(PartialDecryption::decode(&bad).is_err(), "field at {at}");
    }
    let mut v = b.clone();
    v[0] = 0;
    assert_eq!(
        PartialDecryption::decode(&v),
        Err(PeerError::UnknownVersion(0))
    );
    let mut z = b.clone();
    z[1..3].copy_from_slice(&0u16.to_be_bytes());
    assert!(PartialDecryption::decode(&z).is_err());
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<PartialDecryption>(&json).unwrap(), p);
}

#[test]
fn key_share_must_match_its_verification_key() {
    let mut rng = ChaCha20Rng::seed_from_u64(24);
    // t = 2: with t = 1 every share would equal the joint secret.
    let (_, shares) = ceremony(2, 2, &mut rng);
    let s = &shares[0];
    assert!(KeyShare::new(1, s.secret().clone(), *s.verification_key()).is_ok());
    assert!(KeyShare::new(1, s.secret().clone(), *shares[1].verification_key()).is_err());
    assert!(KeyShare::new(0, s.secret().clone(), *s.verification_key()).is_err());
    assert!(!format!("{s:?}").contains(&hex::encode(s.secret().expose().as_bytes())));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random n ≤ 6, t ≤ n and a random subset of at least t trustees.
    #[test]
    fn random_threshold_subsets_decrypt(
        (n, t, mask) in (1u16..=6).prop_flat_map(|n| (Just(n), 1..=n, 0u32..(1 << n))),
        votes in proptest::collection::vec(0u64..=1, 1..6),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (outcome, shares) = ceremony(n, t, &mut rng);
        prop_assert_eq!(outcome.qualified.len(), usize::from(n));
        let fp = outcome.election_fingerprint();
        let ct = encrypted_sum(&outcome, &votes, &mut rng);
        // Top up the random subset to at least t members.
        let mut set: Vec<u16> = (1..=n).filter(|i| mask & (1 << (i - 1)) != 0).collect();
        for i in 1..=n {
            if set.len() >= usize::from(t) { break; }
            if !set.contains(&i) { set.push(i); }
        }
        let partials: Vec<PartialDecryption> = set
            .iter()
            .map(|&j| shares[usize::from(j) - 1].partial_decrypt(&fp, b"p", &ct, &mut rng))
            .collect();
        for p in &partials {
            let vk = outcome.verification_key(p.trustee).unwrap();
            prop_assert!(verify_one(&p.check(&fp, b"p", &ct, vk), None, &mut rng).is_ok());
        }
        let expected: u64 = votes.iter().sum();
        let m = combine_element(t, &ct, &partials).unwrap();
        prop_assert_eq!(DlogTable::new(10).solve(&m), Ok(expected));
        if t > 1 {
            prop_assert_eq!(
                combine_element(t, &ct, &partials[..usize::from(t) - 1]),
                Err(UsageError::NotEnoughShares { needed: usize::from(t), have: usize::from(t) - 1 })
            );
        }
    }
}
