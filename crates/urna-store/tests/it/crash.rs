//! Crash safety: a writer process is killed with SIGKILL in the middle of
//! heavy concurrent appends, several times over. After each kill the board
//! is reopened and must hold every entry that was acknowledged, be
//! consistent with every checkpoint that was handed out, and keep growing.
//! On SQLite and on PostgreSQL (`store_db`): there the server survives the
//! client's death, so this checks that nothing is acknowledged before
//! `COMMIT` returned and that a half-sent batch leaves nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::store_db;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use store_db::Db;
use urna_board::{
    BoardSigningKey, Entry, EntryKind, Hash, SignedNote, verify_checkpoint, verify_consistency,
    verify_inclusion,
};
use urna_store::{BoardStore, StoreOptions};

const WRITER: &str = env!("CARGO_BIN_EXE_urna-store-crash-writer");
const ORIGIN: &str = "crash.urna.example/test";
const SECRET: [u8; 32] = [42; 32];
const THREADS: u64 = 48;

/// Same function as in `src/bin/urna-store-crash-writer.rs`; if the two
/// disagree the byte comparison below fails.
fn payload(cycle: u64, thread: u64, seq: u64) -> Vec<u8> {
    let mut p = format!("crash cycle {cycle} thread {thread} seq {seq};").into_bytes();
    let fill = 100 + (seq * 37 % 1024) as usize;
    p.extend((0..fill).map(|i| (i as u64 ^ seq ^ (thread << 3)) as u8));
    p
}

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &SECRET).unwrap()
}

#[derive(Default)]
struct Seen {
    /// index -> (leaf hash, cycle, thread, seq)
    acks: BTreeMap<u64, (Hash, u64, u64, u64)>,
    /// size -> note text
    checkpoints: BTreeMap<u64, String>,
}

impl Seen {
    fn line(&mut self, line: &str) {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "R" => {}
            "A" => {
                let index: u64 = f[1].parse().unwrap();
                let hash: Hash = hex::decode(f[2]).unwrap().try_into().unwrap();
                let v = (
                    hash,
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                );
                if let Some(old) = self.acks.insert(index, v) {
                    panic!("index {index} acknowledged twice: {old:?} and {v:?}");
                }
            }
            "C" => {
                let size: u64 = f[1].parse().unwrap();
                let text = String::from_utf8(hex::decode(f[2]).unwrap()).unwrap();
                if let Some(old) = self.checkpoints.insert(size, text.clone()) {
                    assert_eq!(old, text, "two different checkpoints of size {size}");
                }
            }
            other => panic!("unexpected line kind {other:?}"),
        }
    }
}

/// Runs the writer until it has acknowledged `acks` more entries, then
/// kills it with SIGKILL and collects every complete line it printed.
fn run_and_kill(db: &Db, cycle: u64, acks: usize, seen: &mut Seen) {
    let mut child = Command::new(WRITER)
        .arg(cycle.to_string())
        .arg(THREADS.to_string())
        .args(db.writer_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match r.read_line(&mut line) {
                // A line cut short by the kill was never fully printed, so
                // it was not "handed out"; only complete lines count.
                Ok(0) => return,
                Ok(_) if line.ends_with('\n') => {
                    if tx.send(line.trim_end().to_owned()).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = 0;
    while got < acks {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("writer too slow or died");
        if line.starts_with('A') {
            got += 1;
        }
        seen.line(&line);
    }
    // Mid-stream: all THREADS threads are appending right now.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer should have been killed");
    reader.join().unwrap();
    for line in rx.try_iter() {
        seen.line(&line);
    }
}

/// Checks the reopened board against everything the writer handed out.
fn check(store: &BoardStore, seen: &Seen) {
    let vkey = store.verifier_key().clone();
    let latest = store.latest_checkpoint();
    let size = latest.size();
    verify_checkpoint(
        &SignedNote::parse(latest.text().as_bytes()).unwrap(),
        &vkey,
        &[],
    )
    .unwrap();

    // Every acknowledged entry is there, with the same bytes and hash.
    for (&index, &(hash, cycle, thread, seq)) in &seen.acks {
        assert!(
            index < size,
            "acknowledged index {index} lost (size {size})"
        );
        let stored = store.entry(index).unwrap();
        let expected = Entry::new(EntryKind::Ballot, &payload(cycle, thread, seq)).unwrap();
        assert_eq!(stored.entry.bytes(), expected.bytes(), "entry {index}");
        assert_eq!(stored.leaf_hash, hash, "leaf hash of {index}");
        assert_eq!(expected.leaf_hash(), hash);
        assert_eq!(store.entry_by_hash(&hash).unwrap().index, index);
    }
    // A sample of inclusion proofs against the latest root.
    for (&index, &(hash, ..)) in seen.acks.iter().step_by(97) {
        let proof = store.inclusion_proof(index, size).unwrap();
        verify_inclusion(&hash, index, size, &proof, latest.root()).unwrap();
    }

    // The tree extends every checkpoint ever handed out, and the store
    // kept each of them, byte for byte.
    for (&cp_size, text) in &seen.checkpoints {
        assert!(
            cp_size <= size,
            "checkpoint {cp_size} is beyond the reopened tree {size}"
        );
        let note = SignedNote::parse(text.as_bytes()).unwrap();
        let cp = verify_checkpoint(&note, &vkey, &[]).unwrap().checkpoint;
        assert_eq!(cp.size(), cp_size);
        let proof = store.consistency_proof(cp_size, size).unwrap();
        verify_consistency(cp_size, size, &proof, cp.root(), latest.root())
            .unwrap_or_else(|e| panic!("checkpoint {cp_size} vs {size}: {e}"));
        assert_eq!(store.checkpoint(cp_size).unwrap().text(), text);
    }
}

fn sigkill_during_heavy_appends_loses_nothing_acknowledged(db: &Db) {
    // Fewer on PostgreSQL, where `check` pays a round trip per entry read.
    let acks = if db.is_postgres() { 3_000 } else { 10_000 };
    let mut seen = Seen::default();
    for cycle in 0..3 {
        run_and_kill(db, cycle, acks, &mut seen);
        let store = db.open(key(), StoreOptions::default());
        check(&store, &seen);
    }
    assert!(seen.acks.len() >= 3 * acks);
    assert!(seen.checkpoints.len() > 3);

    // Appends continue and the grown tree is consistent with all of it.
    let store = db.open(key(), StoreOptions::default());
    let before = store.size();
    for seq in 0..50 {
        let e = Entry::new(EntryKind::Ballot, &payload(99, 0, seq)).unwrap();
        let ack = store.append(e).unwrap();
        assert_eq!(ack.index, before + seq);
        seen.checkpoints
            .insert(ack.checkpoint.size(), ack.checkpoint.text().to_owned());
    }
    check(&store, &seen);
}

both!(sigkill_during_heavy_appends_loses_nothing_acknowledged);
