//! Builds a real small election record (with `urna-election`, a
//! dev-dependency only, as the honest engine), verifies it, then breaks it
//! in one way per record and checks that the verifier names the right
//! check. The same records are committed in `spec/test-vectors/records/`
//! (regenerate with `URNA_WRITE_RECORDS=1 cargo test -p urna-verify`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use urna_board::{BoardSigningKey, Checkpoint, Entry, EntryKind, MemoryTree, sign_checkpoint};
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::{Ciphertext, KeyPair};
use urna_crypto::encoding::{Reader, Writer};
use urna_crypto::group::{mul_g, mul_h};
use urna_crypto::proof::range::RangeProof;
use urna_crypto::threshold::KeyShare;
use urna_crypto::transcript::{Transcript, domain};
use urna_crypto::{Element, Scalar};
use urna_election::PaperPolicy;
use urna_election::record::ReconciliationChunk;
use urna_election::record::commission::{
    AnswerEntry, AnswerStatus, ComplaintEntry, PrecinctListEntry, PrecinctListKind, Role,
};
use urna_election::record::{
    AnnulReason, AuditedBallot, CeremonyMessage, PartialChunk, ResultsChunk, TallyChunk,
};
use urna_election::rules::{decrypt_tally, results, tally, tally_items};
use urna_election::{Election, ElectionKeys, Manifest, Timestamp, ballot_header};
use urna_verify::{Options, RecordWriter, verify};

const MANIFEST: &str = concat!(
    r#"
id = "small-2021"
kind = "election"
title = { en = "Small election" }
"#,
    urna_testkit::calendar_and_rules!(),
    urna_testkit::small_election_body!(),
    r#"
[[contests]]
id = "approve"
kind = "question"
title = "Approve the budget of region one"
regions = ["r1"]
min = 0
max = 1
options = [{ id = "yes", name = "Yes" }]
"#,
);

const ORIGIN: &str = "urna.example/small-2021";

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

struct Voter {
    key: CredentialKey,
    district: &'static str,
}

/// The honest election, with everything needed to forge variants.
struct Honest {
    m: Manifest,
    keys: ElectionKeys,
    shares: BTreeMap<u16, KeyShare>,
    voters: Vec<Voter>,
    /// Entries up to and including reconciliation.
    prefix: Vec<Entry>,
    /// (entry index in prefix, voter) of every cast ballot.
    cast: Vec<(usize, usize)>,
    /// Counted: voter → (district index, ballot).
    counted: BTreeMap<usize, (usize, Ballot)>,
    /// The superseded first ballot of voter 0.
    superseded: Option<(usize, Ballot)>,
    rng: ChaCha20Rng,
}

fn selections(m: &Manifest, district: &str, k: usize) -> Vec<Vec<u64>> {
    m.style_of(district)
        .unwrap()
        .shapes
        .iter()
        .enumerate()
        .map(|(ci, s)| {
            let mut v = vec![0; usize::from(s.options)];
            if s.min > 0 || (k + ci).is_multiple_of(2) {
                v[(k + ci) % usize::from(s.options)] = 1;
            }
            v
        })
        .collect()
}

fn make_ballot(
    h: &mut Honest,
    voter: usize,
    k: usize,
) -> (Vec<u8>, urna_crypto::ballot::BallotSecrets) {
    let d = h.voters[voter].district;
    make_ballot_as(h, voter, k, d)
}

/// A ballot of `voter` with the header and style of district `as_district`.
fn make_ballot_as(
    h: &mut Honest,
    voter: usize,
    k: usize,
    as_district: &str,
) -> (Vec<u8>, urna_crypto::ballot::BallotSecrets) {
    let v = &h.voters[voter];
    let shapes = &h.m.style_of(as_district).unwrap().shapes;
    let header = ballot_header(&h.m, as_district).unwrap();
    let sel = selections(&h.m, as_district, k);
    let (b, s) = Ballot::encrypt(
        &h.keys.key,
        &h.keys.fingerprint,
        &v.key,
        &header,
        shapes,
        &sel,
        &mut h.rng,
    )
    .unwrap();
    (b.encode().unwrap(), s)
}

/// The small election under re-vote policy `forbidden`.
fn forbidden_manifest() -> String {
    MANIFEST.replace(
        "policy = \"last-counts\"\nmin_interval_seconds = 60",
        "policy = \"forbidden\"",
    )
}

fn honest(manifest: &str) -> Honest {
    let mut rng = ChaCha20Rng::seed_from_u64(2021);
    let mut board = Vec::new();
    let (mut e, out) = Election::new(manifest.as_bytes())
        .unwrap()
        .publish()
        .unwrap();
    board.extend(out);
    let m = e.manifest().clone();
    let params = CeremonyParams::new(3, 2).unwrap();
    let (mut r1s, mut msgs1) = (Vec::new(), Vec::new());
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
    let (mut r2s, mut msgs2) = (Vec::new(), Vec::new());
    for r1 in r1s {
        let (r2, msg) = r1.deal(&msgs1, &mut rng).unwrap();
        board.push(
            e.accept(&CeremonyMessage::Round2(msg.clone()).encode())
                .unwrap(),
        );
        r2s.push(r2);
        msgs2.push(msg);
    }
    let mut shares = BTreeMap::new();
    let r3s: Vec<_> = r2s
        .into_iter()
        .map(|r2| r2.receive(&msgs2, &mut rng).0)
        .collect();
    for r3 in r3s {
        let q = r3.finish(&[], &mut rng).unwrap();
        shares.insert(q.key_share().index(), q.key_share().clone());
    }
    let (mut e, out) = e.finish(&mut rng).unwrap();
    board.extend(out);
    let keys = e.keys().clone();
    let app = ts("2021-09-01T12:00:00+03:00");
    let mut voters = Vec::new();
    for d in ["d1", "d1", "d2", "d2", "d2", "d3", "d3"] {
        let key = CredentialKey::generate(&mut rng);
        e.register(d, *key.public(), app).unwrap();
        voters.push(Voter { key, district: d });
    }
    let opens = m.schedule().voting_opens;
    let (mut e, out) = e.open(opens).unwrap();
    board.extend(out);
    let mut h = Honest {
        m,
        keys,
        shares,
        voters,
        prefix: board,
        cast: Vec::new(),
        counted: BTreeMap::new(),
        superseded: None,
        rng,
    };
    let mut now = opens;
    // Voters 0..=5 vote (voter 4 stays away for the forgery; 6 for the late ballot).
    let mut first0 = None;
    for i in [0usize, 1, 2, 3, 5] {
        let (bytes, _) = make_ballot(&mut h, i, i);
        let cast = e.cast(bytes.clone(), now, &mut h.rng).unwrap();
        h.cast.push((h.prefix.len(), i));
        h.prefix.push(cast.entry);
        let b = Ballot::decode(&bytes).unwrap();
        let d = h.m.district_index(h.voters[i].district).unwrap();
        if i == 0 {
            first0 = Some((d, b.clone()));
        }
        h.counted.insert(i, (d, b));
        now = now.plus_seconds(1);
    }
    h.superseded = first0;
    // An audit by voter 3.
    let (abytes, secrets) = make_ballot(&mut h, 3, 7);
    let payload = AuditedBallot::encode(&abytes, &secrets).unwrap();
    h.prefix
        .push(e.audit(&payload, now, &mut h.rng).unwrap().entry);
    // Voter 0 re-votes; the last counts.
    if manifest.contains("last-counts") {
        now = now.plus_seconds(120);
        let (bytes, _) = make_ballot(&mut h, 0, 1);
        let cast = e.cast(bytes.clone(), now, &mut h.rng).unwrap();
        h.cast.push((h.prefix.len(), 0));
        h.prefix.push(cast.entry);
        h.counted.insert(0, (0, Ballot::decode(&bytes).unwrap()));
    }
    let (mut e, out) = e.close(h.m.schedule().voting_closes).unwrap();
    h.prefix.extend(out);
    // Voter 5 (d3) also voted on paper: annulled.
    let out = e
        .reconcile(vec![(*h.voters[5].key.public(), AnnulReason::PaperVote)])
        .unwrap();
    h.prefix.extend(out);
    h.counted.remove(&5);
    h
}

/// Tally, partial decryptions by `trustees` and results for `counted`.
fn finish(h: &mut Honest, counted: &[(usize, Ballot)], trustees: &[u16]) -> Vec<Entry> {
    let records = tally(&h.m, counted.iter().map(|(d, b)| (*d, b)));
    let mut out: Vec<Entry> = TallyChunk::payloads(&records)
        .unwrap()
        .iter()
        .map(|p| Entry::new(EntryKind::AdminAction, p).unwrap())
        .collect();
    let items = tally_items(&records);
    let mut per = Vec::new();
    for &j in trustees {
        let p = h.shares[&j].partial_decrypt_batch(&h.keys.fingerprint, &items, &mut h.rng);
        for payload in PartialChunk::payloads(j, &p).unwrap() {
            out.push(Entry::new(EntryKind::PartialDecryption, &payload).unwrap());
        }
        per.push(p);
    }
    let slices: Vec<&[_]> = per.iter().map(|p| &p[..]).collect();
    let counts = decrypt_tally(&h.m, 2, &records, &slices).unwrap();
    let res = results(&h.m, &records, &counts).unwrap();
    for p in ResultsChunk::payloads(&res).unwrap() {
        out.push(Entry::new(EntryKind::Results, &p).unwrap());
    }
    out
}

pub(crate) struct Rec {
    pub(crate) entries: Vec<Vec<u8>>,
    /// Earlier checkpoints: (size, from these entries).
    pub(crate) older: Vec<(u64, Vec<Vec<u8>>)>,
    /// Sign the final checkpoint over `final_of` instead of `entries`.
    pub(crate) final_of: Option<Vec<Vec<u8>>>,
    /// Changes the written folder (a file renamed, …).
    pub(crate) fix: Option<fn(&Path)>,
}

fn note_over(key: &BoardSigningKey, entries: &[Vec<u8>], size: u64) -> urna_board::SignedNote {
    let tree = MemoryTree::from_leaves(
        entries[..size as usize]
            .iter()
            .map(|e| urna_board::leaf_hash(e)),
    )
    .unwrap();
    sign_checkpoint(key, &Checkpoint::new(ORIGIN, size, tree.root()).unwrap()).unwrap()
}

fn write(rec: &Rec, key: &BoardSigningKey, dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    let mut w = RecordWriter::create(dir, &key.verifier_key()).unwrap();
    for e in &rec.entries {
        w.append_bytes(e).unwrap();
    }
    for (size, from) in &rec.older {
        w.add_checkpoint(*size, &note_over(key, from, *size))
            .unwrap();
    }
    let f = rec.final_of.as_ref().unwrap_or(&rec.entries);
    w.finish(&note_over(key, f, f.len() as u64)).unwrap();
    if let Some(fix) = rec.fix {
        fix(dir);
    }
}

fn bytes(entries: &[Entry]) -> Vec<Vec<u8>> {
    entries.iter().map(|e| e.bytes().to_vec()).collect()
}

pub(crate) fn index_of(entries: &[Vec<u8>], kind: EntryKind) -> usize {
    entries
        .iter()
        .position(|e| Entry::from_bytes(e.clone()).unwrap().kind() == kind)
        .unwrap()
}

/// Adds `delta` to the ballot count of `voting_closed` (record.md §R8).
fn patch_closed(entries: &mut [Vec<u8>], delta: i64) {
    patch_closed_at(entries, 41, delta);
}

/// Adds `delta` to the u64 at payload offset `at` of `voting_closed`.
fn patch_closed_at(entries: &mut [Vec<u8>], at: usize, delta: i64) {
    let i = index_of(entries, EntryKind::VotingClosed);
    let e = Entry::from_bytes(entries[i].clone()).unwrap();
    let mut p = e.payload().to_vec();
    let n = u64::from_be_bytes(p[at..at + 8].try_into().unwrap());
    p[at..at + 8].copy_from_slice(&((n as i64 + delta) as u64).to_be_bytes());
    entries[i] = Entry::new(EntryKind::VotingClosed, &p)
        .unwrap()
        .bytes()
        .to_vec();
}

fn ballot_entry(b: &[u8]) -> Vec<u8> {
    Entry::new(EntryKind::Ballot, b).unwrap().bytes().to_vec()
}

/// A ballot of voter 4 (d2) whose `approve` contest (one option, 0..=1)
/// encrypts a huge m, with one proof that passes only weak Fiat-Shamir
/// (hashing only the commitments), used both as option and sum proof.
fn weak_fs_ballot(h: &mut Honest) -> Vec<u8> {
    let (bytes, _) = make_ballot(h, 4, 0);
    let mut b = Ballot::decode(&bytes).unwrap();
    let r = &mut h.rng;
    let rs = |r: &mut ChaCha20Rng| Scalar::random(r);
    let (a0, a1, e0, rho) = (rs(r), rs(r), rs(r), rs(r));
    let key = &h.keys.key;
    let big_a0 = Element::from_point(mul_g(&a0));
    let big_b0 = Element::from_point(key.mul(&a0) + mul_h(&e0));
    let big_a1 = Element::from_point(mul_g(&a1));
    let big_b1 = Element::from_point(key.mul(&a1));
    let mut t = Transcript::new(domain::PROOF_RANGE);
    t.append_element("a", &big_a0)
        .append_element("b", &big_b0)
        .append_element("a", &big_a1)
        .append_element("b", &big_b1);
    let c = t.challenge();
    let m = -e0 * c.invert();
    let ct = Ciphertext {
        alpha: Element::from_point(mul_g(&rho)),
        beta: Element::from_point(mul_h(&m) + key.mul(&rho)),
    };
    let mut w = Writer::new();
    w.element(&big_a0)
        .element(&big_b0)
        .scalar(&c)
        .scalar(&(a0 + c * rho))
        .element(&big_a1)
        .element(&big_b1)
        .scalar(&Scalar::ZERO)
        .scalar(&a1);
    let enc = w.finish();
    let proof = RangeProof::decode(&mut Reader::new(&enc), 0, 1).unwrap();
    let contest = b.contests.last_mut().unwrap();
    assert_eq!(contest.ciphertexts.len(), 1);
    contest.ciphertexts[0] = ct;
    contest.proofs[0] = proof.clone();
    assert!(!contest.shape.is_exact(), "approve has a sum proof");
    contest.sum_proof = Some(proof);
    let signed = b.signed_bytes().unwrap();
    b.signature = h.voters[4]
        .key
        .sign(&h.keys.fingerprint, &signed, &mut h.rng);
    b.encode().unwrap()
}

/// Every record: name, entries, expected failed checks (empty: valid).
fn build_all() -> Vec<(&'static str, Rec, Vec<&'static str>)> {
    let mut h = honest(MANIFEST);
    let counted: Vec<(usize, Ballot)> = h.counted.values().cloned().collect();
    let tail = finish(&mut h, &counted, &[1, 2, 3]);
    let mut good_entries = h.prefix.clone();
    good_entries.extend(tail.iter().cloned());
    let good = bytes(&good_entries);
    let opened = index_of(&good, EntryKind::VotingOpened);
    let closed = index_of(&good, EntryKind::VotingClosed);
    let (b1, _) = h.cast[1];
    let mid = (b1 + 1) as u64;
    let older = |e: &Vec<Vec<u8>>| vec![((opened + 1) as u64, e.clone()), (mid, e.clone())];
    let rec = |entries: Vec<Vec<u8>>| Rec {
        older: older(&entries),
        entries,
        final_of: None,
        fix: None,
    };
    let mut out = Vec::new();
    out.push(("valid", rec(good.clone()), vec![]));

    // A flipped bit in the signature response of voter 1's ballot.
    let mut e = good.clone();
    let last = e[b1].len() - 32;
    e[b1][last] ^= 1;
    out.push((
        "flipped-bit-ballot",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["ballot.proofs", "tally"],
    ));

    // A dropped ballot, the checkpoint left as it was signed.
    let mut e = good.clone();
    let (b2, _) = h.cast[2];
    e.remove(b2);
    out.push((
        "dropped-ballot",
        Rec {
            older: vec![],
            final_of: Some(good.clone()),
            entries: e,
            fix: None,
        },
        vec!["checkpoint.root", "voting_closed", "tally"],
    ));

    // A replayed ballot (same bytes again), closing count adjusted, re-signed.
    let mut e = good.clone();
    let (b3, _) = h.cast[3];
    let dup = e[b3].clone();
    e.insert(b3 + 1, dup);
    patch_closed(&mut e, 1);
    out.push((
        "replayed-ballot",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["ballot.replay"],
    ));

    // A valid ballot of voter 6 after voting_closed.
    let (late, _) = make_ballot(&mut h, 6, 2);
    let mut e = good.clone();
    e.insert(closed + 1, ballot_entry(&late));
    out.push((
        "ballot-after-close",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["ballot.window"],
    ));

    // A ballot with a credential that is not sealed.
    let stranger = Voter {
        key: CredentialKey::generate(&mut h.rng),
        district: "d1",
    };
    h.voters.push(stranger);
    let n = h.voters.len() - 1;
    let (foreign, _) = make_ballot(&mut h, n, 0);
    let mut e = good.clone();
    e.insert(closed, ballot_entry(&foreign));
    patch_closed(&mut e, 1);
    out.push((
        "foreign-credential",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["ballot.credential"],
    ));

    // A proof that passes only weak Fiat-Shamir.
    let forged = weak_fs_ballot(&mut h);
    let mut e = good.clone();
    e.insert(closed, ballot_entry(&forged));
    patch_closed(&mut e, 1);
    out.push((
        "weak-fiat-shamir-proof",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["ballot.proofs"],
    ));

    // A ballot of a d3 credential with the header and style of d2.
    let (styled, _) = make_ballot_as(&mut h, 6, 1, "d2");
    let mut e = good.clone();
    e.insert(closed, ballot_entry(&styled));
    patch_closed(&mut e, 1);
    out.push((
        "wrong-ballot-style",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["ballot.header"],
    ));

    // An audited ballot whose revealed selections lie.
    let (ab, mut secrets) = make_ballot(&mut h, 6, 0);
    secrets.selections[0].swap(0, 1);
    let payload = AuditedBallot::encode(&ab, &secrets).unwrap();
    let mut e = good.clone();
    e.insert(
        closed,
        Entry::new(EntryKind::AuditedBallot, &payload)
            .unwrap()
            .bytes()
            .to_vec(),
    );
    patch_closed_at(&mut e, 49, 1);
    out.push((
        "audit-mismatch",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["audited_ballot"],
    ));

    // Trustee 2's first partial decryption share replaced.
    let mut e = good.clone();
    let pi = index_of(&e, EntryKind::PartialDecryption);
    let pi = (pi..e.len())
        .find(|&i| {
            let en = Entry::from_bytes(e[i].clone()).unwrap();
            en.kind() == EntryKind::PartialDecryption && en.payload()[1..3] == [0, 2]
        })
        .unwrap();
    let en = Entry::from_bytes(e[pi].clone()).unwrap();
    let mut p = en.payload().to_vec();
    // payload: 15 bytes header, then u8 version, u16 j, D_j (32) ...
    p[15 + 3..15 + 35].copy_from_slice(urna_crypto::group::g().as_bytes());
    e[pi] = Entry::new(EntryKind::PartialDecryption, &p)
        .unwrap()
        .bytes()
        .to_vec();
    out.push((
        "wrong-partial-decryption",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["partial_decryptions"],
    ));

    // The total of the list contest changed.
    let mut e = good.clone();
    let ri = e.len() - 1;
    let en = Entry::from_bytes(e[ri].clone()).unwrap();
    let mut p = en.payload().to_vec();
    let l = p.len();
    // The last record is the total of the last contest; bump its last count.
    p[l - 1] ^= 1;
    e[ri] = Entry::new(EntryKind::Results, &p).unwrap().bytes().to_vec();
    out.push((
        "changed-result",
        Rec {
            older: vec![],
            ..rec(e)
        },
        vec!["results"],
    ));

    // History rewritten: the voting_opened time changed and everything
    // re-signed; the checkpoint handed out earlier no longer matches.
    let mut e = good.clone();
    let en = Entry::from_bytes(e[opened].clone()).unwrap();
    let mut p = en.payload().to_vec();
    p[40] ^= 1;
    e[opened] = Entry::new(EntryKind::VotingOpened, &p)
        .unwrap()
        .bytes()
        .to_vec();
    out.push((
        "rewritten-history",
        Rec {
            older: vec![((opened + 1) as u64, good.clone()), (mid, good.clone())],
            entries: e,
            final_of: None,
            fix: None,
        },
        vec!["checkpoint.consistency"],
    ));

    // Voter 0's superseded ballot counted as well, decrypted and published
    // consistently by all trustees.
    let mut twice = counted.clone();
    twice.push(h.superseded.clone().unwrap());
    let tail2 = finish(&mut h, &twice, &[1, 2, 3]);
    let mut e2 = h.prefix.clone();
    e2.extend(tail2);
    out.push(("revote-counted-twice", rec(bytes(&e2)), vec!["tally"]));

    // Under `forbidden`, a second ballot of one credential on the board.
    let mut hf = honest(&forbidden_manifest());
    let counted_f: Vec<(usize, Ballot)> = hf.counted.values().cloned().collect();
    let tail_f = finish(&mut hf, &counted_f, &[1, 2, 3]);
    let mut ef = hf.prefix.clone();
    ef.extend(tail_f);
    let mut ef = bytes(&ef);
    out.push(("forbidden-valid", rec(ef.clone()), vec![]));
    let forbidden_good = ef.clone();
    let (second, _) = make_ballot(&mut hf, 0, 1);
    let closed_f = index_of(&ef, EntryKind::VotingClosed);
    ef.insert(closed_f, ballot_entry(&second));
    patch_closed(&mut ef, 1);
    out.push((
        "revote-forbidden",
        Rec {
            older: vec![],
            ..rec(ef)
        },
        vec!["revote"],
    ));
    notice_records(&good, &h, &mut out);
    crate::verifier_history::records(&good, &older(&good), &mut out);
    rule_records(&good, &forbidden_good, &mut h, &mut hf, &mut out);
    out
}

fn complaint(number: u64, text: &str) -> Vec<u8> {
    let p = ComplaintEntry {
        number,
        role: Role::Voter,
        tracking: Some([number as u8; 32]),
        text: text.into(),
    }
    .encode()
    .unwrap();
    Entry::new(EntryKind::Complaint, &p)
        .unwrap()
        .bytes()
        .to_vec()
}

fn answer(number: u64) -> Vec<u8> {
    let p = AnswerEntry {
        number,
        status: AnswerStatus::Rejected,
        text: "Checked against checkpoint 12.".into(),
    }
    .encode()
    .unwrap();
    Entry::new(EntryKind::ComplaintAnswer, &p)
        .unwrap()
        .bytes()
        .to_vec()
}

/// One export of precinct lists: an `admin_action` (§R15) per precinct.
fn lists(kind: PrecinctListKind, rows: &[(&str, u64)], sums: u8) -> Vec<Vec<u8>> {
    rows.iter()
        .map(|(p, n)| {
            let payload = PrecinctListEntry {
                kind,
                precinct: (*p).into(),
                rows: *n,
                csv_sha256: [p.len() as u8 + *n as u8; 32],
                sums_sha256: [sums; 32],
                commission_key: [3; 32],
                signature: [4; 64],
            }
            .encode()
            .unwrap();
            Entry::new(EntryKind::AdminAction, &payload)
                .unwrap()
                .bytes()
                .to_vec()
        })
        .collect()
}

/// Complaints, answers and precinct list hashes (§R13–§R15) in an honest
/// record, and records each breaking one of their rules.
fn notice_records(
    good: &[Vec<u8>],
    h: &Honest,
    out: &mut Vec<(&'static str, Rec, Vec<&'static str>)>,
) {
    let rec = |entries: Vec<Vec<u8>>| Rec {
        older: vec![],
        entries,
        final_of: None,
        fix: None,
    };
    // Voters 0, 1 (p1), 2, 3 (p2) and 5 (p3) have ballots; 5's is annulled
    // but it was cast online all the same.
    let voted = [("p1", 2), ("p2", 2), ("p3", 1)];
    let with = |voted: &[(&str, u64)], approved_after_close: bool| {
        let mut e = good.to_vec();
        let opened = index_of(&e, EntryKind::VotingOpened);
        let approved = lists(
            PrecinctListKind::ApprovedOnline,
            &[("p1", 2), ("p2", 3), ("p3", 2)],
            1,
        );
        let at = if approved_after_close {
            opened + 1
        } else {
            opened
        };
        for (k, a) in approved.into_iter().enumerate() {
            e.insert(at + k, a);
        }
        e.insert(1, complaint(1, "The application page was down."));
        let (b1, _) = h.cast[1];
        let b1 = e.iter().position(|x| *x == good[b1]).unwrap();
        e.insert(b1, complaint(2, "Очередь на портале."));
        e.insert(b1 + 2, answer(1));
        let closed = index_of(&e, EntryKind::VotingClosed);
        for (k, l) in lists(PrecinctListKind::VotedOnline, voted, 2)
            .into_iter()
            .enumerate()
        {
            e.insert(closed + 1 + k, l);
        }
        e.push(complaint(3, "After the results."));
        e.push(answer(2));
        e
    };
    out.push(("valid-with-notices", rec(with(&voted, false)), vec![]));
    // The voted-online lists hold one voter more than there are ballots.
    out.push((
        "voted-online-count",
        rec(with(&[("p1", 2), ("p2", 3), ("p3", 1)], false)),
        vec!["precinct_lists"],
    ));
    // A voted-online list before voting_closed.
    let mut e = with(&voted, false);
    let opened = index_of(&e, EntryKind::VotingOpened);
    let l = lists(PrecinctListKind::VotedOnline, &[("p1", 2)], 9);
    e.insert(opened + 1, l[0].clone());
    out.push(("voted-online-before-close", rec(e), vec!["precinct_lists"]));
    // An answer to a complaint filed only later, and a malformed complaint.
    let mut e = with(&voted, false);
    e.insert(2, answer(3));
    out.push(("answer-before-complaint", rec(e), vec!["complaints"]));
    let mut e = with(&voted, false);
    let mut bad = Entry::from_bytes(complaint(4, "x"))
        .unwrap()
        .payload()
        .to_vec();
    let n = bad.len();
    bad[n - 1] = b'\n';
    e.push(
        Entry::new(EntryKind::Complaint, &bad)
            .unwrap()
            .bytes()
            .to_vec(),
    );
    out.push(("malformed-complaint", rec(e), vec!["complaints"]));
    // A paper-vote annulment of a credential that never cast a ballot (voter 4).
    let mut e = good.to_vec();
    let r = index_of(&e, EntryKind::Reconciliation);
    let mut annul = vec![
        (*h.voters[5].key.public(), AnnulReason::PaperVote),
        (*h.voters[4].key.public(), AnnulReason::PaperVote),
    ];
    annul.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let p = ReconciliationChunk::payloads(PaperPolicy::EvoteAnnulled, &annul).unwrap();
    e[r] = Entry::new(EntryKind::Reconciliation, &p[0])
        .unwrap()
        .bytes()
        .to_vec();
    out.push(("annulled-without-ballot", rec(e), vec!["reconciliation"]));
    // Reason 3 (the e-vote stands) under `evote-annulled`, the tally
    // leaving the ballot out as if it were annulled.
    let mut e = good.to_vec();
    let p = ReconciliationChunk::payloads(
        PaperPolicy::EvoteAnnulled,
        &[(*h.voters[5].key.public(), AnnulReason::PaperVoteStands)],
    )
    .unwrap();
    e[r] = Entry::new(EntryKind::Reconciliation, &p[0])
        .unwrap()
        .bytes()
        .to_vec();
    out.push((
        "stands-under-annulled",
        rec(e),
        vec!["reconciliation", "tally"],
    ));
}

fn records_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/test-vectors/records")
}

fn check(name: &str, dir: &Path, expected: &[String], observers: &[urna_board::VerifierKey]) {
    let options = Options {
        observers: observers.to_vec(),
        ..Options::default()
    };
    let report = verify(dir, options);
    eprintln!("{report}");
    let failed: Vec<String> = report
        .failed_checks()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(failed, expected, "{name}:\n{report}");
    let code = if expected.is_empty() { 0 } else { 1 };
    assert_eq!(report.exit_code(), code, "{name}:\n{report}");
}

#[test]
fn generated_records_give_their_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let write_spec = std::env::var_os("URNA_WRITE_RECORDS").is_some();
    let all = build_all();
    let mut index = serde_json::Map::new();
    for (name, rec, expected) in &all {
        let key = BoardSigningKey::from_secret_bytes(ORIGIN, &[7; 32]).unwrap();
        let dir = tmp.path().join(name);
        write(rec, &key, &dir);
        let exp: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        let observers = crate::verifier_history::trusted_observers(name);
        check(name, &dir, &exp, &observers);
        if write_spec {
            write(rec, &key, &records_dir().join(name));
        }
        let mut v = serde_json::json!({ "failed_checks": exp });
        if !observers.is_empty() {
            let keys: Vec<String> = observers.iter().map(|k| k.to_string()).collect();
            v["observers"] = serde_json::json!(keys);
        }
        index.insert((*name).to_owned(), v);
    }
    if write_spec {
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(index)).unwrap();
        std::fs::write(records_dir().join("expected.json"), text + "\n").unwrap();
    }
}

#[test]
fn committed_records_give_their_verdicts() {
    let dir = records_dir();
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    let index: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(index.len() >= 15);
    for (name, v) in index {
        let exp: Vec<String> = v["failed_checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        // spec/export.md §X3.1: the observers the record is verified with.
        let observers: Vec<urna_board::VerifierKey> = v
            .get("observers")
            .and_then(|o| o.as_array())
            .map(|a| {
                a.iter()
                    .map(|k| urna_board::VerifierKey::parse(k.as_str().unwrap()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        check(&name, &dir.join(&name), &exp, &observers);
    }
}

#[test]
fn unusable_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let r = verify(&tmp.path().join("missing"), Options::default());
    assert_eq!(r.exit_code(), 2);
    let r = verify(tmp.path(), Options::default());
    assert_eq!(r.exit_code(), 2, "{r}");
}

#[test]
fn truncated_or_missing_files_are_unusable() {
    let tmp = tempfile::tempdir().unwrap();
    let src = records_dir().join("valid");
    for (name, mangle) in [
        ("truncated", 0usize),
        ("no-key", 1),
        ("oversized-prefix", 2),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["board-key.txt", "checkpoint.txt", "entries.bin"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        let entries = dir.join("entries.bin");
        let mut b = std::fs::read(&entries).unwrap();
        match mangle {
            0 => b.truncate(b.len() - 3),
            1 => std::fs::remove_file(dir.join("board-key.txt")).unwrap(),
            _ => b.extend_from_slice(&[0, 1, 0, 0]),
        }
        std::fs::write(&entries, b).unwrap();
        let r = verify(&dir, Options::default());
        assert_eq!(r.exit_code(), 2, "{name}: {r}");
        assert!(r.unusable.is_some());
    }
}

#[test]
fn report_json_progress_and_small_batches() {
    let dir = records_dir().join("valid");
    let mut calls = 0u64;
    let mut last = None;
    let mut cb = |p: urna_verify::Progress| {
        calls += 1;
        last = Some(p);
    };
    let r = verify(
        &dir,
        Options {
            batch_size: 2,
            progress: Some(&mut cb),
            on_failure: None,
            observers: Vec::new(),
        },
    );
    assert_eq!(r.exit_code(), 0, "{r}");
    assert!(calls >= 1);
    let p = last.unwrap();
    assert_eq!(p.bytes, p.total_bytes);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["summary"]["counted"], 4);
    assert!(r.to_string().contains("VALID"));
}

pub(crate) fn entry_bytes(kind: EntryKind, payload: &[u8]) -> Vec<u8> {
    Entry::new(kind, payload).unwrap().bytes().to_vec()
}

pub(crate) fn payload_of(entry: &[u8]) -> Vec<u8> {
    Entry::from_bytes(entry.to_vec())
        .unwrap()
        .payload()
        .to_vec()
}

fn kind_of(entry: &[u8]) -> EntryKind {
    Entry::from_bytes(entry.to_vec()).unwrap().kind()
}

/// Prefixes every earlier checkpoint's file name with a zero.
fn zero_pad_checkpoints(dir: &Path) {
    let cps = dir.join("checkpoints");
    for f in std::fs::read_dir(&cps).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        std::fs::rename(cps.join(&name), cps.join(format!("0{name}"))).unwrap();
    }
}

/// Records for the rules that spec/record.md and spec/export.md settle
/// for a second verifier (issue 15 items 3–9 and 13) and for unassigned
/// sub-tags (issue 12 item 2); each breaks one rule.
fn rule_records(
    good: &[Vec<u8>],
    forbidden: &[Vec<u8>],
    h: &mut Honest,
    hf: &mut Honest,
    out: &mut Vec<(&'static str, Rec, Vec<&'static str>)>,
) {
    let rec = |entries: Vec<Vec<u8>>| Rec {
        older: vec![],
        entries,
        final_of: None,
        fix: None,
    };
    let opened = index_of(good, EntryKind::VotingOpened);
    let closed = index_of(good, EntryKind::VotingClosed);
    let recon = index_of(good, EntryKind::Reconciliation);

    // §R6.3: under `forbidden`, an invalid ballot of voter 0 before its
    // valid one takes no part in the re-vote rule: the valid one counts.
    let mut e = forbidden.to_vec();
    let (bad, _) = make_ballot(hf, 0, 3);
    let mut bad = ballot_entry(&bad);
    let l = bad.len() - 32;
    bad[l] ^= 1;
    e.insert(hf.cast[0].0, bad);
    patch_closed(&mut e, 1);
    out.push(("forbidden-invalid-first", rec(e), vec!["ballot.proofs"]));

    // §R9: an annulled credential whose only ballot is after voting_closed
    // has no valid ballot; voter 5's annulment still applies.
    let (late, _) = make_ballot(h, 6, 2);
    let mut e = good.to_vec();
    e.insert(closed + 1, ballot_entry(&late));
    let mut annul = vec![
        (*h.voters[5].key.public(), AnnulReason::PaperVote),
        (*h.voters[6].key.public(), AnnulReason::PaperVote),
    ];
    annul.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let p = ReconciliationChunk::payloads(PaperPolicy::EvoteAnnulled, &annul).unwrap();
    e[recon + 1] = entry_bytes(EntryKind::Reconciliation, &p[0]);
    out.push((
        "annulled-ballot-after-close",
        rec(e),
        vec!["ballot.window", "reconciliation"],
    ));

    // §R1.4: a reconciliation after the tally is out of order and annuls
    // nothing, so the published tally (without voter 5) is wrong.
    let mut e = good.to_vec();
    let r = e.remove(recon);
    let after_tally = index_of(&e, EntryKind::PartialDecryption);
    e.insert(after_tally, r);
    out.push((
        "reconciliation-after-tally",
        rec(e),
        vec!["board.order", "tally"],
    ));

    // §R4: the lists of d1 and d2 swapped: d1's comes after d2's and
    // seals nobody.
    let mut e = good.to_vec();
    let first = index_of(&e, EntryKind::CredentialList);
    e.swap(first, first + 1);
    out.push((
        "lists-out-of-order",
        rec(e),
        vec![
            "credential_lists",
            "voting_opened",
            "ballot.credential",
            "tally",
        ],
    ));

    // §X4: which check owns which failure.
    let mut e = good.to_vec();
    e.insert(opened + 1, good[opened].clone());
    out.push(("second-voting-opened", rec(e), vec!["voting_opened"]));
    let mut e = good.to_vec();
    e.insert(0, complaint(1, "Before the manifest."));
    out.push(("complaint-before-manifest", rec(e), vec!["complaints"]));
    let mut e = good.to_vec();
    e.remove(closed);
    out.push(("missing-voting-closed", rec(e), vec!["voting_closed"]));
    let stranger = CredentialKey::generate(&mut h.rng);
    h.voters.push(Voter {
        key: stranger,
        district: "d1",
    });
    let n = h.voters.len() - 1;
    let (ab, secrets) = make_ballot(h, n, 0);
    let mut e = good.to_vec();
    let payload = AuditedBallot::encode(&ab, &secrets).unwrap();
    e.insert(closed, entry_bytes(EntryKind::AuditedBallot, &payload));
    patch_closed_at(&mut e, 49, 1);
    out.push((
        "audited-unknown-credential",
        rec(e),
        vec!["ballot.credential"],
    ));
    let mut e = good.to_vec();
    e.retain(|x| kind_of(x) != EntryKind::PartialDecryption);
    out.push(("missing-partial-decryptions", rec(e), vec!["combination"]));
    let mut e = good.to_vec();
    e.retain(|x| kind_of(x) != EntryKind::Results);
    out.push(("missing-results", rec(e), vec!["results"]));

    // §X1: checkpoint file names are decimal without leading zeros.
    let (b1, _) = h.cast[1];
    let older = vec![
        ((opened + 1) as u64, good.to_vec()),
        ((b1 + 1) as u64, good.to_vec()),
    ];
    out.push((
        "checkpoint-leading-zero",
        Rec {
            older,
            entries: good.to_vec(),
            final_of: None,
            fix: Some(zero_pad_checkpoints),
        },
        vec!["checkpoint.consistency"],
    ));

    // board.md §B5.3: cosigned checkpoints on the board.
    let key = BoardSigningKey::from_secret_bytes(ORIGIN, &[7; 32]).unwrap();
    let observer =
        urna_board::ObserverSigningKey::from_secret_bytes("observer.example", &[9; 32]).unwrap();
    let size = (b1 + 1) as u64;
    let cosigned = |entries: &[Vec<u8>]| {
        let mut note = note_over(&key, entries, size);
        let cp = Checkpoint::parse(note.text()).unwrap();
        note.add_signature(urna_board::cosign_checkpoint(&observer, &cp, 1_631_900_000).unwrap())
            .unwrap();
        entry_bytes(EntryKind::CosignedCheckpoint, note.to_text().as_bytes())
    };
    let mut e = good.to_vec();
    e.insert(closed, cosigned(good));
    out.push(("cosigned-checkpoint", rec(e), vec![]));
    let mut e = good.to_vec();
    e.push(entry_bytes(
        EntryKind::CosignedCheckpoint,
        b"not a signed note\n",
    ));
    out.push((
        "cosigned-checkpoint-garbage",
        rec(e),
        vec!["checkpoint.consistency"],
    ));
    // record.md §R16: an observer list whose key is not a verifier key.
    let mut e = good.to_vec();
    e.push(entry_bytes(
        EntryKind::AdminAction,
        &[1, 4, 1, 3, b'a', b'+', b'b'],
    ));
    out.push(("observer-list-bad-key", rec(e), vec!["observers"]));
    let mut forked = good.to_vec();
    let mut p = payload_of(&forked[opened]);
    p[40] ^= 1;
    forked[opened] = entry_bytes(EntryKind::VotingOpened, &p);
    let mut e = good.to_vec();
    e.push(cosigned(&forked));
    out.push((
        "cosigned-checkpoint-forked",
        rec(e),
        vec!["checkpoint.consistency"],
    ));

    // §R3 / crypto.md §8.8: ceremony messages that do not decode.
    let joint = index_of(good, EntryKind::CredentialList) - 1;
    for (name, payload) in [
        ("short-ceremony-message", vec![1u8, 1, 0]),
        ("undecodable-ceremony-complaint", vec![1u8, 3, 0xff, 0xff]),
    ] {
        let mut e = good.to_vec();
        e.insert(joint, entry_bytes(EntryKind::TrusteeCeremony, &payload));
        out.push((name, rec(e), vec!["key_ceremony"]));
    }

    // record.md §R1.1: unassigned admin_action sub-tags (issue 12 item 2).
    let mut e = good.to_vec();
    let tally = index_of(&e, EntryKind::AdminAction);
    let mut p = payload_of(&e[tally]);
    p[1] = 9;
    e.push(entry_bytes(EntryKind::AdminAction, &p));
    out.push(("admin-action-subtag-9", rec(e), vec!["entries.envelope"]));
    // p2's voted-online list (3 rows, one too many) hidden from the rows
    // check by an unassigned sub-tag.
    let counted = out
        .iter()
        .find(|(n, _, _)| *n == "voted-online-count")
        .map(|(_, r, _)| r.entries.clone())
        .unwrap();
    let p2 = counted
        .iter()
        .position(|x| {
            kind_of(x) == EntryKind::AdminAction && payload_of(x)[1..6] == [2, 2, 2, b'p', b'2']
        })
        .unwrap();
    for (name, tag) in [
        ("voted-online-subtag-00", 0u8),
        ("voted-online-subtag-03", 3),
        ("voted-online-subtag-ff", 0xff),
    ] {
        let mut e = counted.clone();
        let mut p = payload_of(&e[p2]);
        p[1] = tag;
        e[p2] = entry_bytes(EntryKind::AdminAction, &p);
        out.push((name, rec(e), vec!["entries.envelope"]));
    }
}
