//! A whole small election through the type-state lifecycle: key ceremony
//! with real trustees, registration, casting with re-votes, replays,
//! audits and refusals, close, reconciliation, tally, threshold decryption
//! and results per district, region and total.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use urna_board::{Entry, EntryKind};
use urna_crypto::ballot::{Ballot, BallotSecrets};
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_crypto::threshold::{KeyShare, PartialDecryption};
use urna_election::record::{
    AnnulReason, AuditedBallot, CeremonyMessage, CredentialChunk, ManifestChunk, PartialChunk,
    ReconciliationChunk, ResultRecord, ResultScope, ResultsChunk, TallyChunk, VotingClosed,
    VotingOpened, check_chunk_sequence,
};
use urna_election::rules::{decrypt_tally, results, tally, tally_items};
use urna_election::{
    Election, ElectionKeys, Manifest, Misuse, Timestamp, Voting, ballot_header, tracking_code,
    verify_admitted,
};

const MANIFEST: &str = concat!(
    r#"
id = "small-2021"
kind = "election"
title = { ru = "Малые выборы", en = "Small election" }
"#,
    urna_testkit::calendar_and_rules!(),
    urna_testkit::small_election_body!(),
);

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

struct Voter {
    key: CredentialKey,
    district: &'static str,
}

fn make_ballot(
    m: &Manifest,
    keys: &ElectionKeys,
    v: &Voter,
    header_district: &str,
    selections: &[Vec<u64>],
    rng: &mut ChaCha20Rng,
) -> (Vec<u8>, BallotSecrets) {
    let shapes = &m.style_of(header_district).unwrap().shapes;
    let header = ballot_header(m, header_district).unwrap();
    let (b, secrets) = Ballot::encrypt(
        &keys.key,
        &keys.fingerprint,
        &v.key,
        &header,
        shapes,
        selections,
        rng,
    )
    .unwrap();
    (b.encode().unwrap(), secrets)
}

/// Selections for a voter of `district`: party `p`, and seat `s` in d1.
fn choice(district: &str, p: usize, s: usize) -> Vec<Vec<u64>> {
    let mut list = vec![0; 3];
    list[p] = 1;
    if district == "d1" {
        let mut seat = vec![0; 2];
        seat[s] = 1;
        vec![list, seat]
    } else {
        vec![list]
    }
}

#[test]
fn whole_election() {
    let mut rng = ChaCha20Rng::seed_from_u64(2021);
    let mut board: Vec<Entry> = Vec::new();

    // Setup → KeyCeremony.
    let e = Election::new(MANIFEST.as_bytes()).unwrap();
    let (mut e, out) = e.publish().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].kind(), EntryKind::ElectionManifest);
    let chunk = ManifestChunk::decode(out[0].payload()).unwrap();
    assert_eq!(ManifestChunk::join(&[chunk]).unwrap(), MANIFEST.as_bytes());
    board.extend(out);

    // Key ceremony with three real trustees; every message goes through the engine.
    let m = e.manifest().clone();
    let params = CeremonyParams::new(3, 2).unwrap();
    let mut r1s = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=3 {
        let tr = Trustee::new(params, i, m.hash(), KeyPair::generate(&mut rng)).unwrap();
        let (r1, msg) = tr.start(&mut rng);
        board.push(
            e.accept(&CeremonyMessage::Round1(msg.clone()).encode())
                .unwrap(),
        );
        r1s.push(r1);
        msgs1.push(msg);
    }
    // The same message twice is refused, as is a message for another n, t.
    let dup = e
        .accept(&CeremonyMessage::Round1(msgs1[0].clone()).encode())
        .unwrap_err();
    assert_eq!(dup.code(), "duplicate_message");
    let mut r2s = Vec::new();
    let mut msgs2 = Vec::new();
    for r1 in r1s {
        let (r2, msg) = r1.deal(&msgs1, &mut rng).unwrap();
        board.push(
            e.accept(&CeremonyMessage::Round2(msg.clone()).encode())
                .unwrap(),
        );
        r2s.push(r2);
        msgs2.push(msg);
    }
    let mut shares: BTreeMap<u16, KeyShare> = BTreeMap::new();
    let mut r3s = Vec::new();
    for r2 in r2s {
        let (r3, complaints) = r2.receive(&msgs2, &mut rng);
        assert!(complaints.is_empty());
        r3s.push(r3);
    }
    for r3 in r3s {
        let q = r3.finish(&[], &mut rng).unwrap();
        shares.insert(q.key_share().index(), q.key_share().clone());
    }
    let (mut e, out) = e.finish(&mut rng).unwrap();
    assert_eq!(
        CeremonyMessage::decode(out[0].payload()).unwrap(),
        CeremonyMessage::JointKey(*e.keys().key.element())
    );
    board.extend(out);
    let keys = e.keys().clone();

    // Registration during the application window.
    let app = t("2021-09-01T12:00:00+03:00");
    let plan: [(&str, usize); 3] = [("d1", 5), ("d2", 3), ("d3", 4)];
    let mut voters = Vec::new();
    for (d, n) in plan {
        for _ in 0..n {
            let key = CredentialKey::generate(&mut rng);
            e.register(d, *key.public(), app).unwrap();
            voters.push(Voter { key, district: d });
        }
    }
    let again = e.register("d2", *voters[0].key.public(), app).unwrap_err();
    assert_eq!(again.code(), "duplicate_credential");
    let late = CredentialKey::generate(&mut rng);
    let err = e
        .register("d1", *late.public(), t("2021-09-14T00:00:00+03:00"))
        .unwrap_err();
    assert_eq!(err.code(), "outside_application_window");
    assert!(err.is_refusal());
    let err = e.register("d9", *late.public(), app).unwrap_err();
    assert_eq!(err.code(), "unknown_district");
    assert!(!err.is_refusal());

    // Opening too early gives the election back.
    let opens = m.schedule().voting_opens;
    let stuck = e.open(Timestamp::from_unix(opens.unix() - 1)).unwrap_err();
    assert_eq!(stuck.error.code(), "too_early");
    let (mut e, out): (Election<Voting>, _) = stuck.election.open(opens).unwrap();
    let kinds: Vec<EntryKind> = out.iter().map(Entry::kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::CredentialList,
            EntryKind::CredentialList,
            EntryKind::CredentialList,
            EntryKind::VotingOpened
        ]
    );
    let d1 = CredentialChunk::decode(out[0].payload()).unwrap();
    assert_eq!((d1.district.as_str(), d1.credentials.len()), ("d1", 5));
    assert_eq!(
        VotingOpened::decode(out[3].payload()).unwrap().credentials,
        12
    );
    board.extend(out);

    // Casting. expected[(district, contest)] = counts.
    let mut now = opens;
    let mut last: Vec<Option<Vec<Vec<u64>>>> = vec![None; voters.len()];
    for (i, v) in voters.iter().enumerate() {
        let sel = choice(v.district, i % 3, i % 2);
        let (bytes, _) = make_ballot(&m, &keys, v, v.district, &sel, &mut rng);
        let cast = e.cast(bytes.clone(), now, &mut rng).unwrap();
        assert_eq!(cast.tracking, tracking_code(&bytes));
        assert_eq!(cast.entry.payload(), &bytes[..]);
        assert_eq!(cast.superseded, None);
        board.push(cast.entry);
        last[i] = Some(sel);
        // Replaying the same bytes is refused.
        if i == 0 {
            let err = e.cast(bytes, now.plus_seconds(3600), &mut rng).unwrap_err();
            assert_eq!(err.code(), "replayed_ballot");
        }
        now = now.plus_seconds(1);
    }
    assert_eq!(
        e.turnout().iter().map(|t| t.voted).collect::<Vec<_>>(),
        [5, 3, 4]
    );

    // Re-vote too soon, then after the minimum interval: the last counts.
    let v0 = &voters[0];
    let sel = choice("d1", 2, 1);
    let (bytes, _) = make_ballot(&m, &keys, v0, "d1", &sel, &mut rng);
    let err = e.cast(bytes.clone(), now, &mut rng).unwrap_err();
    assert_eq!(err.code(), "revote_too_soon");
    now = now.plus_seconds(60);
    let first_code = board
        .iter()
        .filter(|x| x.kind() == EntryKind::Ballot)
        .map(|x| tracking_code(x.payload()))
        .next()
        .unwrap();
    let cast = e.cast(bytes, now, &mut rng).unwrap();
    assert_eq!(cast.superseded, Some(first_code));
    board.push(cast.entry);
    last[0] = Some(sel);
    assert_eq!(e.turnout()[0].voted, 5, "a re-vote is not new turnout");

    // An audit: accepted, spoiled, and its ballot can never be cast.
    let v5 = &voters[5];
    let (abytes, secrets) = make_ballot(&m, &keys, v5, "d2", &choice("d2", 0, 0), &mut rng);
    let payload = AuditedBallot::encode(&abytes, &secrets).unwrap();
    let cast = e.audit(&payload, now, &mut rng).unwrap();
    assert_eq!(cast.entry.kind(), EntryKind::AuditedBallot);
    board.push(cast.entry);
    assert_eq!(
        e.cast(abytes, now.plus_seconds(600), &mut rng)
            .unwrap_err()
            .code(),
        "audited_ballot"
    );
    // An audit whose revealed values lie is refused.
    let (bbytes, mut bsecrets) = make_ballot(&m, &keys, v5, "d2", &choice("d2", 0, 0), &mut rng);
    bsecrets.selections[0].swap(0, 1);
    let bad = AuditedBallot::encode(&bbytes, &bsecrets).unwrap();
    assert_eq!(
        e.audit(&bad, now, &mut rng).unwrap_err().code(),
        "invalid_proof"
    );

    // Refusals: stranger, wrong style, outside the window, broken proofs.
    let stranger = Voter {
        key: CredentialKey::generate(&mut rng),
        district: "d1",
    };
    let (sb, _) = make_ballot(&m, &keys, &stranger, "d1", &choice("d1", 0, 0), &mut rng);
    assert_eq!(
        e.cast(sb, now, &mut rng).unwrap_err().code(),
        "unknown_credential"
    );
    let v1 = &voters[1];
    let (wb, _) = make_ballot(&m, &keys, v1, "d2", &choice("d2", 0, 0), &mut rng);
    let err = e.cast(wb, now.plus_seconds(600), &mut rng).unwrap_err();
    assert_eq!(err.code(), "wrong_ballot_style");
    let (ob, _) = make_ballot(&m, &keys, v1, "d1", &choice("d1", 0, 0), &mut rng);
    let closes = m.schedule().voting_closes;
    assert_eq!(
        e.cast(ob.clone(), closes, &mut rng).unwrap_err().code(),
        "outside_voting_window"
    );
    let mut tampered = ob.clone();
    let k = tampered.len() - 100;
    tampered[k] ^= 1;
    // A batch: one good re-vote and one tampered ballot; the bad one is named.
    now = now.plus_seconds(600);
    let v2 = &voters[2];
    let sel2 = choice("d1", 1, 0);
    let (good, _) = make_ballot(&m, &keys, v2, "d1", &sel2, &mut rng);
    let batch = vec![e.admit(good, now).unwrap(), e.admit(tampered, now).unwrap()];
    let mut verdicts = verify_admitted(batch, &mut rng).into_iter();
    let ok = verdicts.next().unwrap().unwrap();
    let bad = verdicts.next().unwrap().unwrap_err();
    assert!(
        matches!(
            bad.code(),
            "invalid_proof" | "non_canonical_scalar" | "non_canonical_element"
        ),
        "{bad}"
    );
    board.push(e.record(ok, now).unwrap().entry);
    last[2] = Some(sel2);

    // Closing: too early gives it back; afterwards no method casts.
    let stuck = e
        .close(Timestamp::from_unix(closes.unix() - 1))
        .unwrap_err();
    assert_eq!(stuck.error.code(), "too_early");
    let (mut e, out) = stuck.election.close(closes).unwrap();
    let closed = VotingClosed::decode(out[0].payload()).unwrap();
    assert_eq!((closed.ballots, closed.audited), (14, 1));
    board.extend(out);

    // Reconciliation: voter 11 (d3) also voted on paper; the e-vote is annulled.
    let none = Voter {
        key: CredentialKey::generate(&mut rng),
        district: "d3",
    };
    assert_eq!(
        e.reconcile(vec![(*none.key.public(), AnnulReason::PaperVote)])
            .unwrap_err(),
        Misuse::NothingToAnnul(none.key.public().to_hex()).into()
    );
    // Reason 3 (listed, the e-vote stands) is for `evote-stands` only.
    assert_eq!(
        e.reconcile(vec![(
            *voters[11].key.public(),
            AnnulReason::PaperVoteStands
        )])
        .unwrap_err()
        .code(),
        "against_policy"
    );
    let out = e
        .reconcile(vec![(*voters[11].key.public(), AnnulReason::PaperVote)])
        .unwrap();
    let rc = ReconciliationChunk::decode(out[0].payload()).unwrap();
    assert_eq!(
        rc.annulled,
        [(*voters[11].key.public(), AnnulReason::PaperVote)]
    );
    board.extend(out);
    last[11] = None;
    assert_eq!(
        e.reconcile(vec![]).unwrap_err().code(),
        "already_reconciled"
    );
    assert_eq!(e.counted_per_district(), [5, 3, 3]);

    // Tally.
    let (mut e, out) = e.tally().unwrap();
    let tc = TallyChunk::decode(out[0].payload()).unwrap();
    check_chunk_sequence(&[tc.pos]).unwrap();
    assert_eq!(tc.records, e.records());
    let order: Vec<(&str, &str)> = e
        .records()
        .iter()
        .map(|r| (r.district.as_str(), r.contest.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("d1", "list"),
            ("d1", "seat-d1"),
            ("d2", "list"),
            ("d3", "list")
        ]
    );
    board.extend(out);

    // Trustees 1 and 3 decrypt; one trustee is not enough.
    let items = tally_items(e.records());
    let p1 = shares[&1].partial_decrypt_batch(&keys.fingerprint, &items, &mut rng);
    let p3 = shares[&3].partial_decrypt_batch(&keys.fingerprint, &items, &mut rng);
    // Trustee 2 claiming trustee 1's work, and bad proofs, are refused.
    let forged: Vec<PartialDecryption> = p1
        .iter()
        .map(|p| PartialDecryption { trustee: 2, ..*p })
        .collect();
    assert!(
        e.accept_partials(2, forged, &mut rng)
            .unwrap_err()
            .is_refusal()
    );
    assert_eq!(
        e.accept_partials(9, p1.clone(), &mut rng)
            .unwrap_err()
            .code(),
        "unknown_trustee"
    );
    let payloads = PartialChunk::payloads(1, &p1).unwrap();
    let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
    board.extend(e.accept_partial_payloads(&refs, &mut rng).unwrap());
    assert_eq!(
        e.accept_partials(1, p1, &mut rng).unwrap_err().code(),
        "duplicate_trustee"
    );
    let stuck = e.decrypt().unwrap_err();
    assert_eq!(stuck.error.code(), "not_enough_trustees");
    let mut e = stuck.election;
    board.extend(e.accept_partials(3, p3, &mut rng).unwrap());
    assert_eq!(e.trustees(), [1, 3]);
    let (e, out) = e.decrypt().unwrap();
    let from_board: Vec<ResultRecord> = out
        .iter()
        .flat_map(|x| ResultsChunk::decode(x.payload()).unwrap().records)
        .collect();
    assert_eq!(from_board, e.results());
    board.extend(out);

    // Expected results from what each counted voter last chose.
    let mut expect: BTreeMap<(ResultScope, &str), (u64, Vec<u64>)> = BTreeMap::new();
    let region = |d: &str| if d == "d3" { "r2" } else { "r1" };
    for (v, sel) in voters.iter().zip(&last) {
        let Some(sel) = sel else { continue };
        let contests: &[&str] = if v.district == "d1" {
            &["list", "seat-d1"]
        } else {
            &["list"]
        };
        for (c, s) in contests.iter().zip(sel) {
            for scope in [
                ResultScope::District(v.district.into()),
                ResultScope::Region(region(v.district).into()),
                ResultScope::Total,
            ] {
                let slot = expect.entry((scope, c)).or_insert((0, vec![0; s.len()]));
                slot.0 += 1;
                for (a, b) in slot.1.iter_mut().zip(s) {
                    *a += b;
                }
            }
        }
    }
    let got: BTreeMap<(ResultScope, &str), (u64, Vec<u64>)> = e
        .results()
        .iter()
        .map(|r| {
            (
                (r.scope.clone(), r.contest.as_str()),
                (r.ballots, r.counts.clone()),
            )
        })
        .collect();
    assert_eq!(got, expect);
    // The order of spec/record.md §R12: districts, regions, total.
    let scopes: Vec<u8> = e
        .results()
        .iter()
        .map(|r| match r.scope {
            ResultScope::District(_) => 0,
            ResultScope::Region(_) => 1,
            ResultScope::Total => 2,
        })
        .collect();
    assert!(scopes.windows(2).all(|w| w[0] <= w[1]), "{scopes:?}");
    assert_eq!(got[&(ResultScope::Total, "list")].0, 11);

    // The board is in phase order.
    let phase = |k: EntryKind| match k {
        EntryKind::ElectionManifest => 0,
        EntryKind::TrusteeCeremony => 1,
        EntryKind::CredentialList => 2,
        EntryKind::VotingOpened => 3,
        EntryKind::Ballot | EntryKind::AuditedBallot => 4,
        EntryKind::VotingClosed => 5,
        EntryKind::Reconciliation => 6,
        EntryKind::AdminAction => 7,
        EntryKind::PartialDecryption => 8,
        EntryKind::Results => 9,
        _ => 99,
    };
    let ph: Vec<u8> = board.iter().map(|x| phase(x.kind())).collect();
    assert!(ph.windows(2).all(|w| w[0] <= w[1]), "{ph:?}");
}

/// The tally with a single KeyPair (t = 1): encrypt, sum, decrypt, aggregate.
#[test]
fn tally_with_a_key_pair() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let m = Manifest::from_bytes(MANIFEST.as_bytes()).unwrap();
    let kp = KeyPair::generate(&mut rng);
    let fp = urna_crypto::Fingerprint::election(m.hash(), kp.public().element());
    let keys = ElectionKeys {
        outcome: fake_outcome(&m, &kp),
        key: kp.public().clone(),
        fingerprint: fp,
    };
    // d1: 4 ballots, d2: 2, d3: 3.
    let plan = [("d1", 4usize), ("d2", 2), ("d3", 3)];
    let mut ballots = Vec::new();
    let mut want_list_total = [0u64; 3];
    for (d, n) in plan {
        for i in 0..n {
            let v = Voter {
                key: CredentialKey::generate(&mut rng),
                district: d,
            };
            let sel = choice(d, (i + d.len()) % 3, i % 2);
            want_list_total[(i + d.len()) % 3] += 1;
            let (bytes, _) = make_ballot(&m, &keys, &v, d, &sel, &mut rng);
            ballots.push((
                m.district_index(d).unwrap(),
                Ballot::decode(&bytes).unwrap(),
            ));
        }
    }
    let records = tally(&m, ballots.iter().map(|(d, b)| (*d, b)));
    assert_eq!(
        records.iter().map(|r| r.ballots).collect::<Vec<_>>(),
        [4, 4, 2, 3]
    );
    let share = KeyShare::new(1, kp.secret().clone(), *kp.public().element()).unwrap();
    let partials = share.partial_decrypt_batch(&fp, &tally_items(&records), &mut rng);
    let counts = decrypt_tally(&m, 1, &records, &[&partials]).unwrap();
    // Seat in d1: i % 2 for i in 0..4 → x twice, y twice.
    assert_eq!(counts[1], [2, 2]);
    let res = results(&m, &records, &counts).unwrap();
    let total = res
        .iter()
        .find(|r| r.scope == ResultScope::Total && r.contest == "list")
        .unwrap();
    assert_eq!(total.ballots, 9);
    assert_eq!(total.counts, want_list_total);
    let r1 = res
        .iter()
        .find(|r| r.scope == ResultScope::Region("r1".into()) && r.contest == "list")
        .unwrap();
    let d1 = &counts[0];
    let d2 = &counts[2];
    let sum: Vec<u64> = d1.iter().zip(d2).map(|(a, b)| a + b).collect();
    assert_eq!(r1.counts, sum);
    assert_eq!(r1.ballots, 6);
    // The seat contest appears in region r1 and the total, never in r2.
    assert!(
        res.iter()
            .all(|r| !(r.scope == ResultScope::Region("r2".into()) && r.contest == "seat-d1"))
    );
    // Payload round trip of the results.
    let payloads = ResultsChunk::payloads(&res).unwrap();
    let back: Vec<ResultRecord> = payloads
        .iter()
        .flat_map(|p| ResultsChunk::decode(p).unwrap().records)
        .collect();
    assert_eq!(back, res);
    // A wrong key share gives counts that are not found within the bound.
    let other = KeyPair::generate(&mut rng);
    let wrong = KeyShare::new(1, other.secret().clone(), *other.public().element()).unwrap();
    let bad = wrong.partial_decrypt_batch(&fp, &tally_items(&records), &mut rng);
    assert!(decrypt_tally(&m, 1, &records, &[&bad]).is_err());
}

/// A ceremony outcome for a single key pair (only the fields the test reads).
fn fake_outcome(m: &Manifest, kp: &KeyPair) -> urna_crypto::dkg::CeremonyOutcome {
    urna_crypto::dkg::CeremonyOutcome {
        params: CeremonyParams::new(1, 1).unwrap(),
        manifest_hash: *m.hash(),
        qualified: vec![1],
        faults: vec![],
        joint_commitments: vec![*kp.public().element()],
        joint_key: *kp.public().element(),
        verification_keys: [(1u16, *kp.public().element())].into_iter().collect(),
    }
}
