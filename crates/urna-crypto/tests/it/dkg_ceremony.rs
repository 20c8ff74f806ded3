//! The key ceremony (spec §8): honest runs, cheating dealers, false and
//! forged complaints, round 1 faults, the public verifier, encodings.

// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::traits::Identity;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use urna_crypto::Scalar;
use urna_crypto::dkg::{
    CeremonyParams, CeremonyRecord, Complaint, ComplaintVerdict, Fault, Misbehaviour, Qualified,
    Round1Message, Round2Message, SealedShare, Trustee, check_round1, judge_complaint,
    verify_ceremony,
};
use urna_crypto::elgamal::{KeyPair, SecretScalar};
use urna_crypto::error::{Error, PeerError, ProofKind, UsageError};
use urna_crypto::{Element, Fingerprint};

const MH: [u8; 32] = [7; 32];

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Messages of rounds 1 and 2 with the trustees' states, ready for round 3.
struct Run {
    params: CeremonyParams,
    keys: Vec<KeyPair>,
    round1: Vec<Round1Message>,
    round2: Vec<Round2Message>,
    states: Vec<urna_crypto::dkg::Round2>,
}

fn rounds_1_2(n: u16, t: u16, rng: &mut ChaCha20Rng) -> Run {
    let params = CeremonyParams::new(n, t).unwrap();
    let keys: Vec<KeyPair> = (0..n).map(|_| KeyPair::generate(rng)).collect();
    let (r1, round1): (Vec<_>, Vec<_>) = keys
        .iter()
        .zip(1..)
        .map(|(k, i)| Trustee::new(params, i, &MH, k.clone()).unwrap().start(rng))
        .unzip();
    let (states, round2): (Vec<_>, Vec<_>) = r1
        .into_iter()
        .map(|s| s.deal(&round1, rng).unwrap())
        .unzip();
    Run {
        params,
        keys,
        round1,
        round2,
        states,
    }
}

/// Rounds 3 and 4: receive, complain, finish. `extra` complaints are
/// published too. Returns each trustee's result and the record.
fn finish(
    run: Run,
    extra: &[Complaint],
    rng: &mut ChaCha20Rng,
) -> (Vec<Result<Qualified, Error>>, CeremonyRecord) {
    let (r3, complaints): (Vec<_>, Vec<_>) = run
        .states
        .into_iter()
        .map(|s| s.receive(&run.round2, rng))
        .unzip();
    let mut complaints: Vec<Complaint> = complaints.into_iter().flatten().collect();
    complaints.extend_from_slice(extra);
    let results = r3.into_iter().map(|s| s.finish(&complaints, rng)).collect();
    let record = CeremonyRecord {
        params: run.params,
        manifest_hash: MH,
        round1: run.round1,
        round2: run.round2,
        complaints,
    };
    (results, record)
}

fn sum_constant_terms(round1: &[Round1Message], of: &[u16]) -> Element {
    let p = round1
        .iter()
        .filter(|m| of.contains(&m.trustee))
        .fold(RistrettoPoint::identity(), |acc, m| {
            acc + m.coefficients[0].commitment.point()
        });
    Element::from_point(p)
}

fn fp() -> Fingerprint {
    Fingerprint::ceremony(&MH)
}

#[test]
fn honest_ceremony_5_of_3() {
    let mut rng = rng(1);
    let run = rounds_1_2(5, 3, &mut rng);
    let round1 = run.round1.clone();
    let (results, record) = finish(run, &[], &mut rng);
    assert!(record.complaints.is_empty());
    let q: Vec<Qualified> = results.into_iter().map(Result::unwrap).collect();
    let outcome = q[0].outcome().clone();
    assert_eq!(outcome.qualified, vec![1, 2, 3, 4, 5]);
    assert!(outcome.faults.is_empty());
    assert_eq!(
        outcome.joint_key,
        sum_constant_terms(&round1, &[1, 2, 3, 4, 5])
    );
    for (i, t) in (1u16..).zip(&q) {
        // Everyone reaches the same public outcome ...
        assert_eq!(t.outcome(), &outcome);
        // ... and holds s_j with s_j·G = K_j.
        assert_eq!(t.key_share().index(), i);
        assert_eq!(
            t.key_share().secret().public(),
            outcome.verification_keys[&i]
        );
    }
    // The public verifier agrees, and checks a claimed key.
    let verified = verify_ceremony(&record, Some(&outcome.joint_key), &mut rng).unwrap();
    assert_eq!(verified, outcome);
    assert_eq!(
        verify_ceremony(&record, Some(&round1[0].share_key), &mut rng),
        Err(PeerError::JointKeyMismatch.into())
    );
    // The shares interpolate to the joint secret: Σ λ_j s_j·G = K for any 3.
    let ls = urna_crypto::threshold::lagrange_at_zero(&[2, 4, 5]).unwrap();
    let s: Scalar = [2usize, 4, 5]
        .iter()
        .zip(&ls)
        .map(|(&j, l)| l * q[j - 1].key_share().secret().expose())
        .sum();
    assert_eq!(SecretScalar::new(s).public(), outcome.joint_key);
}

#[test]
fn single_trustee_ceremony() {
    let mut rng = rng(2);
    let run = rounds_1_2(1, 1, &mut rng);
    assert!(run.round2[0].shares.is_empty());
    let (results, record) = finish(run, &[], &mut rng);
    let q = results.into_iter().next().unwrap().unwrap();
    assert_eq!(q.outcome().joint_key, q.key_share().secret().public());
    verify_ceremony(&record, Some(&q.outcome().joint_key), &mut rng).unwrap();
}

/// Dealer 2 seals a wrong share to trustee 4.
fn cheat(run: &mut Run, dealer: u16, recipient: u16, rng: &mut ChaCha20Rng) {
    let key = run.round1[usize::from(recipient) - 1].share_key;
    let bad = SealedShare::seal(
        &fp(),
        dealer,
        recipient,
        &key,
        &SecretScalar::new(Scalar::from(42u64)),
        rng,
    )
    .unwrap();
    let msg = &mut run.round2[usize::from(dealer) - 1];
    let slot = msg
        .shares
        .iter_mut()
        .find(|s| s.recipient == recipient)
        .unwrap();
    *slot = bad;
}

#[test]
fn cheating_dealer_is_disqualified_and_ceremony_completes() {
    let mut rng = rng(3);
    let mut run = rounds_1_2(5, 3, &mut rng);
    cheat(&mut run, 2, 4, &mut rng);
    let round1 = run.round1.clone();
    let (results, record) = finish(run, &[], &mut rng);
    // Exactly one complaint: trustee 4 against dealer 2.
    assert_eq!(record.complaints.len(), 1);
    let c = record.complaints[0];
    assert_eq!((c.dealer, c.complainer), (2, 4));
    // Anyone can judge it from public data.
    let sealed = record.round2[1].share_for(4).unwrap();
    assert_eq!(
        judge_complaint(&fp(), &round1[1], &round1[3], sealed, &c, &mut rng),
        ComplaintVerdict::Upheld(PeerError::BadShare { dealer: 2 })
    );
    let outcome = verify_ceremony(&record, None, &mut rng).unwrap();
    assert_eq!(outcome.qualified, vec![1, 3, 4, 5]);
    assert_eq!(
        outcome.faults,
        vec![Fault {
            trustee: 2,
            misbehaviour: Misbehaviour::BadShare {
                complainer: 4,
                evidence: PeerError::BadShare { dealer: 2 }
            }
        }]
    );
    // The joint key excludes dealer 2.
    assert_eq!(
        outcome.joint_key,
        sum_constant_terms(&round1, &[1, 3, 4, 5])
    );
    assert_ne!(
        outcome.joint_key,
        sum_constant_terms(&round1, &[1, 2, 3, 4, 5])
    );
    for (i, r) in (1u16..).zip(results) {
        match r {
            Ok(q) => {
                assert_ne!(i, 2);
                assert_eq!(q.outcome(), &outcome);
                assert_eq!(
                    q.key_share().secret().public(),
                    outcome.verification_keys[&i]
                );
            }
            Err(e) => {
                assert_eq!(i, 2);
                assert_eq!(e, UsageError::NotAParticipant(2).into());
            }
        }
    }
}

#[test]
fn unreadable_share_is_upheld() {
    let mut rng = rng(4);
    let mut run = rounds_1_2(4, 2, &mut rng);
    run.round2[0].shares[1].sealed[40] ^= 0x80; // dealer 1 → trustee 3, tag corrupted
    let (results, record) = finish(run, &[], &mut rng);
    let outcome = verify_ceremony(&record, None, &mut rng).unwrap();
    assert_eq!(outcome.qualified, vec![2, 3, 4]);
    assert_eq!(
        outcome.faults[0].misbehaviour,
        Misbehaviour::BadShare {
            complainer: 3,
            evidence: PeerError::UnreadableShare {
                dealer: 1,
                recipient: 3
            }
        }
    );
    assert!(results[0].is_err());
    assert!(results[1..].iter().all(Result::is_ok));
}

#[test]
fn false_complaint_is_rejected_and_complainer_named() {
    let mut rng = rng(5);
    let run = rounds_1_2(5, 3, &mut rng);
    // Trustee 3 complains about the perfectly good share from dealer 1.
    let sealed = *run.round2[0].share_for(3).unwrap();
    let lie = Complaint::new(&fp(), &sealed, &run.keys[2], &mut rng);
    assert_eq!(
        judge_complaint(
            &fp(),
            &run.round1[0],
            &run.round1[2],
            &sealed,
            &lie,
            &mut rng
        ),
        ComplaintVerdict::Rejected(PeerError::UnfoundedComplaint {
            dealer: 1,
            complainer: 3
        })
    );
    let round1 = run.round1.clone();
    let (results, record) = finish(run, &[lie], &mut rng);
    let outcome = verify_ceremony(&record, None, &mut rng).unwrap();
    assert_eq!(outcome.qualified, vec![1, 2, 4, 5]);
    assert_eq!(
        outcome.faults,
        vec![Fault {
            trustee: 3,
            misbehaviour: Misbehaviour::FalseComplaint {
                dealer: 1,
                reason: PeerError::UnfoundedComplaint {
                    dealer: 1,
                    complainer: 3
                }
            }
        }]
    );
    assert_eq!(
        outcome.joint_key,
        sum_constant_terms(&round1, &[1, 2, 4, 5])
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert!(results[2].is_err());
}

#[test]
fn forged_complaint_proof_is_rejected() {
    let mut rng = rng(6);
    let mut run = rounds_1_2(5, 3, &mut rng);
    cheat(&mut run, 5, 1, &mut rng);
    let sealed = *run.round2[4].share_for(1).unwrap();
    let honest = Complaint::new(&fp(), &sealed, &run.keys[0], &mut rng);
    // Forgeries: a changed response; a revealed S that is not x_1·E; a
    // complaint made with someone else's key; an honest proof made under
    // another ceremony's fingerprint.
    let mut bad_z = honest;
    bad_z.proof.response += Scalar::ONE;
    let mut bad_s = honest;
    bad_s.shared_secret = run.round1[0].share_key;
    let mut wrong_key = Complaint::new(&fp(), &sealed, &run.keys[1], &mut rng);
    wrong_key.complainer = 1;
    let other_fp = Complaint::new(
        &Fingerprint::ceremony(&[0; 32]),
        &sealed,
        &run.keys[0],
        &mut rng,
    );
    for forged in [bad_z, bad_s, wrong_key, other_fp] {
        assert_eq!(
            judge_complaint(
                &fp(),
                &run.round1[4],
                &run.round1[0],
                &sealed,
                &forged,
                &mut rng
            ),
            ComplaintVerdict::Rejected(PeerError::InvalidProof(ProofKind::Dleq)),
        );
    }
    // Publish only a forged complaint (trustee 1 "forgot" its honest one):
    // dealer 5 survives, trustee 1 is named.
    let r1 = check_round1(run.params, &MH, &run.round1, &mut rng).unwrap();
    let outcome =
        urna_crypto::dkg::resolve_complaints(&r1, &run.round2, &[bad_z], &mut rng).unwrap();
    assert_eq!(outcome.qualified, vec![2, 3, 4, 5]);
    assert!(matches!(
        outcome.faults.as_slice(),
        [Fault {
            trustee: 1,
            misbehaviour: Misbehaviour::FalseComplaint {
                dealer: 5,
                reason: PeerError::InvalidProof(ProofKind::Dleq)
            }
        }]
    ));
    // With the honest complaint as well, dealer 5 is out too.
    let outcome =
        urna_crypto::dkg::resolve_complaints(&r1, &run.round2, &[bad_z, honest], &mut rng).unwrap();
    assert_eq!(outcome.qualified, vec![2, 3, 4]);
}

#[test]
fn too_few_qualified_is_an_error() {
    let mut rng = rng(7);
    let mut run = rounds_1_2(3, 3, &mut rng);
    cheat(&mut run, 1, 2, &mut rng);
    let (results, record) = finish(run, &[], &mut rng);
    let err = Error::from(PeerError::TooFewQualified {
        qualified: 2,
        threshold: 3,
    });
    assert_eq!(verify_ceremony(&record, None, &mut rng), Err(err.clone()));
    for r in results {
        assert_eq!(r.err(), Some(err.clone()));
    }
}

#[test]
fn round1_faults_exclude_the_trustee() {
    let mut rng = rng(8);
    let params = CeremonyParams::new(5, 2).unwrap();
    let keys: Vec<KeyPair> = (0..5).map(|_| KeyPair::generate(&mut rng)).collect();
    let (states, mut round1): (Vec<_>, Vec<_>) = keys
        .iter()
        .zip(1..)
        .map(|(k, i)| {
            Trustee::new(params, i, &MH, k.clone())
                .unwrap()
                .start(&mut rng)
        })
        .unzip();
    // 2: bad coefficient proof; 3: equivocates; 5: silent.
    round1[1].coefficients[1].proof.response += Scalar::ONE;
    let mut twin = round1[2].clone();
    twin.share_key_proof.response += Scalar::ONE;
    round1.push(twin);
    round1.retain(|m| m.trustee != 5);
    let r1 = check_round1(params, &MH, &round1, &mut rng).unwrap();
    assert_eq!(r1.accepted.keys().copied().collect::<Vec<_>>(), vec![1, 4]);
    assert_eq!(
        r1.faults,
        vec![
            Fault {
                trustee: 2,
                misbehaviour: Misbehaviour::InvalidRound1(PeerError::InvalidProof(
                    ProofKind::Schnorr
                ))
            },
            Fault {
                trustee: 3,
                misbehaviour: Misbehaviour::Equivocation { round: 1 }
            },
            Fault {
                trustee: 5,
                misbehaviour: Misbehaviour::MissingRound1
            },
        ]
    );
    // The survivors 1 and 4 finish the ceremony between them; the others
    // cannot deal.
    let mut round2 = Vec::new();
    let mut dealt = Vec::new();
    for (i, s) in (1u16..).zip(states) {
        match s.deal(&round1, &mut rng) {
            Ok((st, m)) => {
                assert!(i == 1 || i == 4);
                round2.push(m);
                dealt.push(st);
            }
            Err(e) => assert_eq!(e, UsageError::NotAParticipant(i).into()),
        }
    }
    assert!(round2.iter().all(|m| m.shares.len() == 1));
    let (r3, complaints): (Vec<_>, Vec<_>) = dealt
        .into_iter()
        .map(|s| s.receive(&round2, &mut rng))
        .unzip();
    assert!(complaints.iter().all(Vec::is_empty));
    let q: Vec<Qualified> = r3
        .into_iter()
        .map(|s| s.finish(&[], &mut rng).unwrap())
        .collect();
    assert_eq!(q[0].outcome().qualified, vec![1, 4]);
    assert_eq!(q[0].outcome().faults.len(), 3);
    assert_eq!(q[0].outcome(), q[1].outcome());
}

#[test]
fn missing_or_malformed_round2_disqualifies_without_complaint() {
    let mut rng = rng(9);
    let mut run = rounds_1_2(5, 2, &mut rng);
    run.round2[2].shares.pop(); // dealer 3 skips trustee 5
    run.round2.remove(3); // dealer 4 is silent
    let (results, record) = finish(run, &[], &mut rng);
    assert!(record.complaints.is_empty());
    let outcome = verify_ceremony(&record, None, &mut rng).unwrap();
    assert_eq!(outcome.qualified, vec![1, 2, 5]);
    assert_eq!(
        outcome.faults,
        vec![
            Fault {
                trustee: 3,
                misbehaviour: Misbehaviour::InvalidRound2(PeerError::ShapeMismatch {
                    what: "sealed shares",
                    expected: 4,
                    found: 3
                })
            },
            Fault {
                trustee: 4,
                misbehaviour: Misbehaviour::MissingRound2
            },
        ]
    );
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
}

#[test]
fn steps_must_match_the_published_messages() {
    let mut rng = rng(10);
    let params = CeremonyParams::new(3, 2).unwrap();
    assert_eq!(
        Trustee::new(params, 0, &MH, KeyPair::generate(&mut rng)).err(),
        Some(UsageError::NotAParticipant(0))
    );
    assert_eq!(
        Trustee::new(params, 4, &MH, KeyPair::generate(&mut rng)).err(),
        Some(UsageError::NotAParticipant(4))
    );
    // A trustee whose own message is not among those passed cannot deal.
    let (s1, _m1) = Trustee::new(params, 1, &MH, KeyPair::generate(&mut rng))
        .unwrap()
        .start(&mut rng);
    let others: Vec<Round1Message> = (2..=3)
        .map(|i| {
            Trustee::new(params, i, &MH, KeyPair::generate(&mut rng))
                .unwrap()
                .start(&mut rng)
                .1
        })
        .collect();
    assert_eq!(
        s1.deal(&others, &mut rng).err(),
        Some(UsageError::NotAParticipant(1).into())
    );
    // A message for another manifest does not verify here.
    let foreign = Trustee::new(params, 1, &[1; 32], KeyPair::generate(&mut rng))
        .unwrap()
        .start(&mut rng)
        .1;
    let mut msgs = others.clone();
    msgs.push(foreign);
    let r1 = check_round1(params, &MH, &msgs, &mut rng).unwrap();
    assert_eq!(
        r1.faults[0],
        Fault {
            trustee: 1,
            misbehaviour: Misbehaviour::InvalidRound1(PeerError::InvalidProof(ProofKind::Schnorr))
        }
    );
    // Wrong parameters are named.
    let p2 = CeremonyParams::new(3, 3).unwrap();
    let r1 = check_round1(p2, &MH, &others, &mut rng);
    assert_eq!(
        r1.err(),
        Some(
            PeerError::TooFewQualified {
                qualified: 0,
                threshold: 3
            }
            .into()
        )
    );
}

// ---------------------------------------------------------------- encodings

/// Every strict prefix and every extension by one byte is rejected.
fn rejects_truncation_and_trailing<T: std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, PeerError>,
) {
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(decode(&longer).err(), Some(PeerError::TrailingBytes(1)));
}

/// Overwriting the 32-byte field at `at` with 0xff… (neither a canonical
/// scalar nor a canonical element) is rejected.
fn rejects_noncanonical_at<T: std::fmt::Debug>(
    bytes: &[u8],
    at: usize,
    decode: impl Fn(&[u8]) -> Result<T, PeerError>,
) {
    let mut b = bytes.to_vec();
    b[at..at + 32].fill(0xff);
    assert!(decode(&b).is_err(), "non-canonical field at {at} accepted");
}

fn set_u16(bytes: &[u8], at: usize, v: u16) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
    b
}

#[test]
fn encodings_round_trip_and_are_strict() {
    let mut rng = rng(11);
    let mut run = rounds_1_2(4, 3, &mut rng);
    cheat(&mut run, 1, 2, &mut rng);
    let m1 = run.round1[0].clone();
    let m2 = run.round2[0].clone();
    let (_, record) = finish(run, &[], &mut rng);
    let c = record.complaints[0];

    // Round 1: 103 + 96·t bytes.
    let b1 = m1.encode();
    assert_eq!(b1.len(), 103 + 96 * 3);
    assert_eq!(Round1Message::decode(&b1).unwrap(), m1);
    rejects_truncation_and_trailing(&b1, Round1Message::decode);
    for at in (7..b1.len()).step_by(32) {
        rejects_noncanonical_at(&b1, at, Round1Message::decode);
    }
    let mut v = b1.clone();
    v[0] = 2;
    assert_eq!(
        Round1Message::decode(&v).err(),
        Some(PeerError::UnknownVersion(2))
    );
    assert!(Round1Message::decode(&set_u16(&b1, 1, 0)).is_err()); // trustee 0
    assert!(Round1Message::decode(&set_u16(&b1, 1, 5)).is_err()); // trustee > n
    assert!(Round1Message::decode(&set_u16(&b1, 3, 2)).is_err()); // n < t
    assert!(Round1Message::decode(&set_u16(&b1, 3, 65)).is_err()); // n > 64
    assert!(Round1Message::decode(&set_u16(&b1, 5, 2)).is_err()); // t disagrees with length
    let mut id = b1.clone();
    id[7..39].fill(0); // identity share key
    assert_eq!(
        Round1Message::decode(&id).err(),
        Some(PeerError::IdentityElement)
    );
    let mut id = b1.clone();
    id[103..135].fill(0); // identity commitment
    assert_eq!(
        Round1Message::decode(&id).err(),
        Some(PeerError::IdentityElement)
    );

    // Round 2: 5 + 82 per share.
    let b2 = m2.encode();
    assert_eq!(b2.len(), 5 + 82 * 3);
    assert_eq!(Round2Message::decode(&b2).unwrap(), m2);
    rejects_truncation_and_trailing(&b2, Round2Message::decode);
    for k in 0..3 {
        rejects_noncanonical_at(&b2, 5 + 82 * k + 2, Round2Message::decode);
    }
    assert!(Round2Message::decode(&set_u16(&b2, 1, 0)).is_err()); // dealer 0
    assert!(Round2Message::decode(&set_u16(&b2, 5, 1)).is_err()); // share to itself
    assert!(Round2Message::decode(&set_u16(&b2, 5 + 82, 2)).is_err()); // repeated recipient
    assert!(Round2Message::decode(&set_u16(&b2, 5, 3)).is_err()); // not increasing
    assert!(Round2Message::decode(&set_u16(&b2, 3, 64)).is_err()); // count too large
    let mut id = b2.clone();
    id[7..39].fill(0);
    assert_eq!(
        Round2Message::decode(&id).err(),
        Some(PeerError::IdentityElement)
    );

    // Complaint: 133 bytes.
    let bc = c.encode();
    assert_eq!(bc.len(), Complaint::ENCODED_LEN);
    assert_eq!(Complaint::decode(&bc).unwrap(), c);
    rejects_truncation_and_trailing(&bc, Complaint::decode);
    for at in [5, 37, 69, 101] {
        rejects_noncanonical_at(&bc, at, Complaint::decode);
    }
    assert!(Complaint::decode(&set_u16(&bc, 3, c.dealer)).is_err()); // complains about itself
    assert!(Complaint::decode(&set_u16(&bc, 1, 0)).is_err());
    let mut id = bc.clone();
    id[5..37].fill(0);
    assert_eq!(
        Complaint::decode(&id).err(),
        Some(PeerError::IdentityElement)
    );

    // Serde (JSON) round trips, including the whole record.
    let json = serde_json::to_string(&record).unwrap();
    let back: CeremonyRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, record);
    verify_ceremony(&back, None, &mut rng).unwrap();
}
