//! Throughput of the verifier on a synthetic yes/no election with N
//! voters (single trustee-free shortcut: t = n = 1 via the real ceremony).
//!
//! `cargo run --release -p urna-verify --example verify_many -- 20000 [DIR]`
//! keeps the record in DIR when given; if DIR already holds a record it is
//! only verified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use urna_board::{BoardSigningKey, Checkpoint, Entry, EntryKind, Frontier, sign_checkpoint};
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_election::record::{CeremonyMessage, PartialChunk, ResultsChunk, TallyChunk};
use urna_election::rules::{decrypt_tally, results, tally, tally_items};
use urna_election::{Election, ballot_header};
use urna_verify::{Options, RecordWriter, verify};

const MANIFEST: &str = r#"
id = "many"
kind = "referendum"
title = { en = "Many" }
[schedule]
time_zone = "UTC"
applications_open = 2021-08-02T00:00:00Z
applications_close = 2021-09-14T00:00:00Z
voting_opens = 2021-09-17T08:00:00Z
voting_closes = 2021-09-19T20:00:00Z
[revote]
policy = "forbidden"
[reconciliation]
paper_after_evote = "evote-stands"
[trustees]
n = 1
t = 1
[[regions]]
id = "r"
name = "R"
[[regions.districts]]
id = "d"
name = "D"
precincts = [{ id = "p", name = "P" }]
[[contests]]
id = "q"
kind = "question"
title = "Q"
min = 1
max = 1
options = [{ id = "yes", name = "Yes" }, { id = "no", name = "No" }]
"#;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(10_000);
    if let Some(dir) = std::env::args().nth(2)
        && std::path::Path::new(&dir).join("entries.bin").exists()
    {
        let t1 = Instant::now();
        let report = verify(std::path::Path::new(&dir), Options::default());
        println!("{report}");
        println!("verified in {:.2?}", t1.elapsed());
        return;
    }
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut board: Vec<Entry> = Vec::new();
    let (mut e, out) = Election::new(MANIFEST.as_bytes())
        .unwrap()
        .publish()
        .unwrap();
    board.extend(out);
    let m = e.manifest().clone();
    let tr = Trustee::new(
        CeremonyParams::new(1, 1).unwrap(),
        1,
        m.hash(),
        KeyPair::generate(&mut rng),
    )
    .unwrap();
    let (r1, msg1) = tr.start(&mut rng);
    board.push(
        e.accept(&CeremonyMessage::Round1(msg1.clone()).encode())
            .unwrap(),
    );
    let (r2, msg2) = r1.deal(&[msg1], &mut rng).unwrap();
    board.push(
        e.accept(&CeremonyMessage::Round2(msg2.clone()).encode())
            .unwrap(),
    );
    let q = r2
        .receive(&[msg2], &mut rng)
        .0
        .finish(&[], &mut rng)
        .unwrap();
    let share = q.key_share().clone();
    let (mut e, out) = e.finish(&mut rng).unwrap();
    board.extend(out);
    let keys = e.keys().clone();
    let t0 = Instant::now();
    let creds: Vec<CredentialKey> = (0..n)
        .into_par_iter()
        .map(|i| CredentialKey::generate(&mut ChaCha20Rng::seed_from_u64(i as u64 + 10)))
        .collect();
    let app = urna_election::Timestamp::parse_rfc3339("2021-09-01T00:00:00Z").unwrap();
    for c in &creds {
        e.register("d", *c.public(), app).unwrap();
    }
    let (_e, out) = e.open(m.schedule().voting_opens).unwrap();
    board.extend(out);
    let header = ballot_header(&m, "d").unwrap();
    let shapes = m.style_of("d").unwrap().shapes.clone();
    let ballots: Vec<(Vec<u8>, Ballot)> = creds
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let mut r = ChaCha20Rng::seed_from_u64(1_000_000 + i as u64);
            let sel = vec![if i % 3 == 0 { vec![1, 0] } else { vec![0, 1] }];
            let (b, _) = Ballot::encrypt(
                &keys.key,
                &keys.fingerprint,
                c,
                &header,
                &shapes,
                &sel,
                &mut r,
            )
            .unwrap();
            (b.encode().unwrap(), b)
        })
        .collect();
    eprintln!("generated {n} ballots in {:?}", t0.elapsed());
    for (bytes, _) in &ballots {
        board.push(Entry::new(EntryKind::Ballot, bytes).unwrap());
    }
    let mut closed = vec![1u8];
    closed.extend_from_slice(m.hash());
    closed.extend_from_slice(&0u64.to_be_bytes());
    closed.extend_from_slice(&(n as u64).to_be_bytes());
    closed.extend_from_slice(&0u64.to_be_bytes());
    board.push(Entry::new(EntryKind::VotingClosed, &closed).unwrap());
    let records = tally(&m, ballots.iter().map(|(_, b)| (0usize, b)));
    for p in TallyChunk::payloads(&records).unwrap() {
        board.push(Entry::new(EntryKind::AdminAction, &p).unwrap());
    }
    let items = tally_items(&records);
    let partials = share.partial_decrypt_batch(&keys.fingerprint, &items, &mut rng);
    for p in PartialChunk::payloads(1, &partials).unwrap() {
        board.push(Entry::new(EntryKind::PartialDecryption, &p).unwrap());
    }
    let counts = decrypt_tally(&m, 1, &records, &[&partials[..]]).unwrap();
    for p in ResultsChunk::payloads(&results(&m, &records, &counts).unwrap()).unwrap() {
        board.push(Entry::new(EntryKind::Results, &p).unwrap());
    }
    let key = BoardSigningKey::from_secret_bytes("bench/many", &[1; 32]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = match std::env::args().nth(2) {
        Some(d) => std::path::PathBuf::from(d),
        None => dir.path().join("record"),
    };
    let mut w = RecordWriter::create(&path, &key.verifier_key()).unwrap();
    let mut f = Frontier::new();
    for en in &board {
        w.append(en).unwrap();
        f.push(en.leaf_hash()).unwrap();
    }
    let cp = Checkpoint::new("bench/many", f.size(), f.root()).unwrap();
    w.finish(&sign_checkpoint(&key, &cp).unwrap()).unwrap();
    drop(ballots);
    let t1 = Instant::now();
    let report = verify(&path, Options::default());
    let dt = t1.elapsed();
    println!("{report}");
    println!(
        "verified {n} ballots in {:.2?} ({:.0} ballots/s)",
        dt,
        n as f64 / dt.as_secs_f64()
    );
    assert_eq!(report.exit_code(), 0);
}
