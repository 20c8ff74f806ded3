//! Property tests: honest proofs verify; changing any single field of a
//! proof or of its statement makes verification fail (spec §6, §7).

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::batch::{BadItem, verify_batch, verify_one};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::{KeyPair, SecretScalar};
use urna_crypto::proof::dleq::{DleqProof, DleqStatement};
use urna_crypto::proof::range::{RangeProof, RangeStatement};
use urna_crypto::proof::schnorr::SchnorrProof;
use urna_crypto::{Element, Fingerprint, PeerError, ProofKind, Scalar};

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn other_element(e: &Element) -> Element {
    Element::from_point(e.point() + urna_crypto::group::g().point())
}

fn setup(seed: u64) -> (ChaCha20Rng, KeyPair, Fingerprint) {
    let mut r = rng(seed);
    let kp = KeyPair::generate(&mut r);
    let fp = Fingerprint::election(&[seed as u8; 32], kp.public().element());
    (r, kp, fp)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn range_proof_sound_in_every_field(seed in any::<u64>(), lo in 0u64..3, width in 0u64..4, pick in any::<u64>()) {
        let (mut r, kp, fp) = setup(seed);
        let hi = lo + width;
        let v = lo + pick % (width + 1);
        let (ct, nonce) = kp.public().encrypt(v, &mut r);
        let ctx = b"ctx";
        let proof = RangeProof::prove(&fp, ctx, kp.public(), &[ct], lo, hi, v, &nonce, &mut r).unwrap();
        let key = *kp.public().element();
        let summands = [ct];
        let st = RangeStatement { key: &key, summands: &summands, lo, hi };
        prop_assert_eq!(verify_one(&proof.statement(&fp, ctx, st), Some(&key), &mut r), Ok(()));

        // Every field of every branch.
        for j in 0..proof.branches.len() {
            for field in 0..4 {
                let mut bad = proof.clone();
                let b = &mut bad.branches[j];
                match field {
                    0 => b.a = other_element(&b.a),
                    1 => b.b = other_element(&b.b),
                    2 => b.c += Scalar::ONE,
                    _ => b.z += Scalar::ONE,
                }
                prop_assert!(verify_one(&bad.statement(&fp, ctx, st), Some(&key), &mut r).is_err(), "branch {} field {}", j, field);
            }
        }
        // Every field of the statement.
        let other_ct = [kp.public().encrypt(v, &mut r).0];
        let other_key = *KeyPair::generate(&mut r).public().element();
        // Differs from `setup`'s manifest hash for every seed (a fixed byte
        // collided with `seed as u8` once in 256 seeds).
        let fp2 = Fingerprint::election(&[!(seed as u8); 32], &key);
        let cases = [
            (fp, &ctx[..], RangeStatement { summands: &other_ct, ..st }),
            (fp, &ctx[..], RangeStatement { key: &other_key, ..st }),
            (fp, &ctx[..], RangeStatement { lo: lo + 1, hi: hi + 1, ..st }),
            (fp2, &ctx[..], st),
            (fp, &b"xtx"[..], st),
        ];
        for (i, (f, c, s)) in cases.iter().enumerate() {
            prop_assert!(verify_one(&proof.statement(f, c, *s), Some(&key), &mut r).is_err(), "statement change {}", i);
        }
    }

    #[test]
    fn range_prover_refuses_out_of_range(seed in any::<u64>()) {
        let (mut r, kp, fp) = setup(seed);
        let (ct, nonce) = kp.public().encrypt(2, &mut r);
        prop_assert!(RangeProof::prove(&fp, b"", kp.public(), &[ct], 0, 1, 2, &nonce, &mut r).is_err());
    }

    #[test]
    fn schnorr_and_dleq_sound(seed in any::<u64>()) {
        let (mut r, _kp, fp) = setup(seed);
        let x = SecretScalar::random(&mut r);
        let xp = x.public();
        let p = SchnorrProof::prove(&fp, b"c", &x, &xp, &mut r);
        prop_assert_eq!(verify_one(&p.statement(&fp, b"c", &xp), None, &mut r), Ok(()));
        let mut bad = p; bad.response += Scalar::ONE;
        prop_assert!(verify_one(&bad.statement(&fp, b"c", &xp), None, &mut r).is_err());
        let mut bad = p; bad.commitment = other_element(&bad.commitment);
        prop_assert!(verify_one(&bad.statement(&fp, b"c", &xp), None, &mut r).is_err());
        prop_assert!(verify_one(&p.statement(&fp, b"d", &xp), None, &mut r).is_err());
        prop_assert!(verify_one(&p.statement(&fp, b"c", &other_element(&xp)), None, &mut r).is_err());

        let y = Element::from_point(urna_crypto::group::h().point() * Scalar::from(seed | 1));
        let st = DleqStatement { base: y, public: xp, image: Element::from_point(y.point() * x.expose()) };
        let d = DleqProof::prove(&fp, b"c", &x, &st, &mut r);
        prop_assert_eq!(verify_one(&d.statement(&fp, b"c", &st), None, &mut r), Ok(()));
        for field in 0..3 {
            let mut bad = d;
            match field {
                0 => bad.commitment_g = other_element(&bad.commitment_g),
                1 => bad.commitment_y = other_element(&bad.commitment_y),
                _ => bad.response += Scalar::ONE,
            }
            prop_assert!(verify_one(&bad.statement(&fp, b"c", &st), None, &mut r).is_err());
        }
        let wrong = DleqStatement { image: other_element(&st.image), ..st };
        prop_assert_eq!(verify_one(&d.statement(&fp, b"c", &wrong), None, &mut r), Err(PeerError::InvalidProof(ProofKind::Dleq)));
    }

    #[test]
    fn ballot_bit_flips_never_verify(seed in any::<u64>(), bit in any::<prop::sample::Index>()) {
        let (mut r, kp, fp) = setup(seed);
        let cred = CredentialKey::generate(&mut r);
        let shapes = [ContestShape::choose(2, 1, 1), ContestShape::choose(4, 0, 2)];
        let (ballot, secrets) = Ballot::encrypt(kp.public(), &fp, &cred, b"header", &shapes, &[vec![0, 1], vec![1, 0, 0, 1]], &mut r).unwrap();
        let bytes = ballot.encode().unwrap();
        let key = *kp.public().element();
        prop_assert_eq!(Ballot::decode(&bytes), Ok(ballot.clone()));
        prop_assert_eq!(verify_one(&ballot.statement(&key, &fp, &shapes), Some(&key), &mut r), Ok(()));
        prop_assert_eq!(ballot.check_audit(kp.public(), &secrets), Ok(()));

        let mut flipped = bytes.clone();
        let i = bit.index(bytes.len() * 8);
        flipped[i / 8] ^= 1 << (i % 8);
        if let Ok(b) = Ballot::decode(&flipped) {
            prop_assert!(verify_one(&b.statement(&key, &fp, &shapes), Some(&key), &mut r).is_err(), "bit {} accepted", i);
        }
        // Truncation and trailing bytes are refused.
        prop_assert!(Ballot::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert_eq!(Ballot::decode(&longer), Err(PeerError::TrailingBytes(1)));
    }
}

/// A random exact shape (min = max = k) and a selection summing to k.
fn exact_case(options: u16, option_max: u32, pick: u64) -> (ContestShape, Vec<u64>) {
    let mut r = rng(pick);
    let sel: Vec<u64> = (0..options)
        .map(|_| r.random_range(0..=u64::from(option_max)))
        .collect();
    let k = sel.iter().sum::<u64>() as u32;
    let shape = ContestShape {
        options,
        option_max,
        min: k,
        max: k,
    };
    (shape, sel)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    /// spec §7.1, §7.3: an exact contest sends n − 1 ciphertexts, no sum
    /// proof, and the derived option's proof unless it is implied; decoding
    /// restores all n ciphertexts; every part is still bound.
    #[test]
    fn exact_contest_ballots_verify_and_every_change_fails(
        seed in any::<u64>(),
        options in 1u16..6,
        option_max in 1u32..4,
        pick in any::<u64>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let (mut r, kp, fp) = setup(seed);
        let cred = CredentialKey::generate(&mut r);
        let (exact, sel) = exact_case(options, option_max, pick);
        prop_assert!(exact.is_exact());
        let shapes = [exact, ContestShape::choose(2, 0, 1)];
        let selections = [sel.clone(), vec![0, 1]];
        let (ballot, secrets) = Ballot::encrypt(kp.public(), &fp, &cred, b"h", &shapes, &selections, &mut r).unwrap();
        let key = *kp.public().element();
        let c = &ballot.contests[0];
        let implied = options == 1 || (options == 2 && exact.max == option_max);
        prop_assert_eq!(exact.last_range_implied(), implied);
        prop_assert_eq!(c.ciphertexts.len(), usize::from(options));
        prop_assert_eq!(c.proofs.len(), usize::from(options) - usize::from(implied));
        prop_assert!(c.sum_proof.is_none() && ballot.contests[1].sum_proof.is_some());
        let bytes = ballot.encode().unwrap();
        let k_o = 128 * (option_max as usize + 1);
        let contest0 = 14 + (usize::from(options) - 1) * 64 + c.proofs.len() * k_o;
        let contest1 = 14 + 2 * (64 + 256) + 256;
        prop_assert_eq!(bytes.len(), 1 + 32 + 4 + 1 + 2 + contest0 + contest1 + 64);
        prop_assert_eq!(Ballot::decode(&bytes), Ok(ballot.clone()));
        prop_assert_eq!(verify_one(&ballot.statement(&key, &fp, &shapes), Some(&key), &mut r), Ok(()));
        // The audit reveals every option, the derived one with nonce −Σ r.
        prop_assert_eq!(ballot.check_audit(kp.public(), &secrets), Ok(()));
        let last = usize::from(options) - 1;
        let mut lie = secrets.clone();
        lie.nonces[0][last] = SecretScalar::new(lie.nonces[0][last].expose() + Scalar::ONE);
        prop_assert_eq!(
            ballot.check_audit(kp.public(), &lie),
            Err(PeerError::AuditMismatch { contest: 0, option: last as u16 })
        );

        let mut flipped = bytes.clone();
        let i = bit.index(bytes.len() * 8);
        flipped[i / 8] ^= 1 << (i % 8);
        if let Ok(b) = Ballot::decode(&flipped) {
            prop_assert!(verify_one(&b.statement(&key, &fp, &shapes), Some(&key), &mut r).is_err(), "bit {} accepted", i);
        }
        // The derived option's proof, when sent, is checked and named.
        if !implied {
            let mut bad = ballot.clone();
            bad.contests[0].proofs[last].branches[0].z += Scalar::ONE;
            bad.signature = cred.sign(&fp, &bad.signed_bytes().unwrap(), &mut r);
            let check = [bad.statement(&key, &fp, &shapes)];
            let err = verify_batch(&check, Some(&key), &mut r).unwrap_err();
            prop_assert_eq!(
                &err[0].error,
                &PeerError::BadBallotProof { contest: 0, option: Some(last as u16) }
            );
        }
        // A sum other than k is refused at encryption.
        let mut wrong = sel.clone();
        if wrong[0] < u64::from(option_max) { wrong[0] += 1 } else { wrong[0] -= 1 }
        prop_assert!(Ballot::encrypt(kp.public(), &fp, &cred, b"h", &shapes, &[wrong, vec![0, 1]], &mut r).is_err());
    }
}

#[test]
fn exact_contest_layouts_of_version_1_are_refused() {
    // The sum proof and the last option are not part of version 2's
    // layout for an exact contest: decoding leaves bytes over or misreads.
    let (mut r, kp, fp) = setup(5);
    let cred = CredentialKey::generate(&mut r);
    let shapes = [ContestShape::choose(3, 2, 2)];
    let (ballot, _) = Ballot::encrypt(
        kp.public(),
        &fp,
        &cred,
        b"",
        &shapes,
        &[vec![0, 1, 1]],
        &mut r,
    )
    .unwrap();
    let key = *kp.public().element();
    let mut with_sum = ballot.clone();
    with_sum.contests[0].sum_proof = Some(ballot.contests[0].proofs[0].clone());
    assert!(matches!(
        verify_one(&with_sum.statement(&key, &fp, &shapes), Some(&key), &mut r),
        Err(PeerError::ShapeMismatch { .. })
    ));
    let bytes = with_sum.encode().unwrap();
    assert!(Ballot::decode(&bytes).is_err());
    let mut v1 = ballot.encode().unwrap();
    v1[0] = 1;
    assert_eq!(Ballot::decode(&v1), Err(PeerError::UnknownVersion(1)));
}

#[test]
fn lifted_proofs_fail_under_another_credential() {
    // Replay attack (Cortier-Smyth): copy a victim's ciphertexts and proofs, re-sign.
    let (mut r, kp, fp) = setup(1);
    let shapes = [ContestShape::choose(2, 1, 1)];
    let victim = CredentialKey::generate(&mut r);
    let (ballot, _) = Ballot::encrypt(
        kp.public(),
        &fp,
        &victim,
        b"h",
        &shapes,
        &[vec![1, 0]],
        &mut r,
    )
    .unwrap();
    let attacker = CredentialKey::generate(&mut r);
    let mut copy = ballot.clone();
    copy.credential = *attacker.public();
    copy.signature = attacker.sign(&fp, &copy.signed_bytes().unwrap(), &mut r);
    let key = *kp.public().element();
    assert_eq!(
        verify_one(&copy.statement(&key, &fp, &shapes), Some(&key), &mut r),
        Err(PeerError::InvalidProof(ProofKind::Range))
    );
}

#[test]
fn wrong_style_is_refused() {
    let (mut r, kp, fp) = setup(2);
    let cred = CredentialKey::generate(&mut r);
    let shapes = [ContestShape::choose(2, 1, 1)];
    let (ballot, _) = Ballot::encrypt(
        kp.public(),
        &fp,
        &cred,
        b"h",
        &shapes,
        &[vec![1, 0]],
        &mut r,
    )
    .unwrap();
    let key = *kp.public().element();
    let other = [ContestShape::choose(2, 0, 1)];
    assert!(matches!(
        verify_one(&ballot.statement(&key, &fp, &other), Some(&key), &mut r),
        Err(PeerError::ShapeMismatch { .. })
    ));
}

#[test]
fn selection_limits_enforced_at_encryption() {
    let (mut r, kp, fp) = setup(3);
    let cred = CredentialKey::generate(&mut r);
    let shapes = [ContestShape::choose(3, 1, 1)];
    // Two selections where exactly one is allowed: the prover refuses.
    assert!(
        Ballot::encrypt(
            kp.public(),
            &fp,
            &cred,
            b"",
            &shapes,
            &[vec![1, 1, 0]],
            &mut r
        )
        .is_err()
    );
    // A value of 2 where options are 0/1: refused.
    assert!(
        Ballot::encrypt(
            kp.public(),
            &fp,
            &cred,
            b"",
            &shapes,
            &[vec![2, 0, 0]],
            &mut r
        )
        .is_err()
    );
}

#[test]
fn batch_names_exactly_the_bad_ballots() {
    let (mut r, kp, fp) = setup(4);
    let shapes = [ContestShape::choose(2, 1, 1)];
    let key = *kp.public().element();
    let mut ballots: Vec<Ballot> = (0..600)
        .map(|i| {
            let cred = CredentialKey::generate(&mut r);
            Ballot::encrypt(
                kp.public(),
                &fp,
                &cred,
                b"h",
                &shapes,
                &[vec![i % 2, 1 - i % 2]],
                &mut r,
            )
            .unwrap()
            .0
        })
        .collect();
    assert_eq!(
        verify_batch(&checks(&ballots, &key, &fp, &shapes), Some(&key), &mut r),
        Ok(())
    );
    // Break three ballots in different chunks and in different ways.
    ballots[3].contests[0].proofs[0].branches[0].z += Scalar::ONE;
    ballots[300].signature.response += Scalar::ONE;
    ballots[599].header.push(1);
    let bad = verify_batch(&checks(&ballots, &key, &fp, &shapes), Some(&key), &mut r).unwrap_err();
    let idx: Vec<usize> = bad.iter().map(|b: &BadItem| b.index).collect();
    assert_eq!(idx, vec![3, 300, 599]);
    // Each is named down to the part that is wrong.
    assert_eq!(
        bad[0].error,
        PeerError::BadBallotProof {
            contest: 0,
            option: Some(0)
        }
    );
    assert_eq!(bad[1].error, PeerError::InvalidProof(ProofKind::Signature));
    assert_eq!(bad[2].error, PeerError::InvalidProof(ProofKind::Signature));
}

fn checks<'a>(
    ballots: &'a [Ballot],
    key: &'a Element,
    fp: &'a Fingerprint,
    shapes: &'a [ContestShape],
) -> Vec<urna_crypto::ballot::BallotCheck<'a>> {
    ballots
        .iter()
        .map(|b| b.statement(key, fp, shapes))
        .collect()
}

/// `decode_deferred` (the verifier's decoding): a contest whose derived
/// option is implied keeps only its sent ciphertexts, its derived points
/// equal the derived ciphertext `decode` computes, it verifies exactly as
/// the full decoding does, and a contest whose derived option carries a
/// proof is decoded in full either way.
#[test]
fn deferred_decoding_verifies_the_same_and_derives_the_same_points() {
    let (mut r, kp, fp) = setup(11);
    let cred = CredentialKey::generate(&mut r);
    let shapes = [
        ContestShape {
            options: 2,
            option_max: 1,
            min: 1,
            max: 1,
        },
        ContestShape::choose(3, 2, 2),
    ];
    let (ballot, _) = Ballot::encrypt(
        kp.public(),
        &fp,
        &cred,
        b"h",
        &shapes,
        &[vec![0, 1], vec![1, 0, 1]],
        &mut r,
    )
    .unwrap();
    let bytes = ballot.encode().unwrap();
    let full = Ballot::decode(&bytes).unwrap();
    let deferred = Ballot::decode_deferred(&bytes).unwrap();
    assert_eq!(full.contests[0].ciphertexts.len(), 2);
    assert_eq!(deferred.contests[0].ciphertexts.len(), 1);
    assert_eq!(deferred.contests[1].ciphertexts.len(), 3);
    let derived = &full.contests[0].ciphertexts[1];
    assert_eq!(
        deferred.contests[0].derived_points(),
        Some((*derived.alpha.point(), *derived.beta.point()))
    );
    let key = *kp.public().element();
    let checks = [
        full.statement(&key, &fp, &shapes),
        deferred.statement(&key, &fp, &shapes),
    ];
    verify_batch(&checks, Some(&key), &mut r).unwrap();
    // A flipped bit fails in both forms and is named in the same place.
    let mut bad = bytes.clone();
    let at = bad.len() - 100;
    bad[at] ^= 1;
    let (a, b) = (Ballot::decode(&bad), Ballot::decode_deferred(&bad));
    match (a, b) {
        (Ok(a), Ok(b)) => {
            let ea = verify_one(&a.statement(&key, &fp, &shapes), Some(&key), &mut r).unwrap_err();
            let eb = verify_one(&b.statement(&key, &fp, &shapes), Some(&key), &mut r).unwrap_err();
            assert_eq!(ea, eb);
        }
        (a, b) => assert_eq!(a.err(), b.err()),
    }
    // Dropping a sent ciphertext is not mistaken for the deferred form.
    let mut short = deferred.clone();
    short.contests[1].ciphertexts.pop();
    assert!(matches!(
        verify_one(&short.statement(&key, &fp, &shapes), Some(&key), &mut r),
        Err(PeerError::ShapeMismatch { .. })
    ));
}
