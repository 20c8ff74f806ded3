//! Records of spec/export.md §X3.1 (issue 15, history in the record):
//! checkpoints cosigned by an observer the verifier is told to trust
//! (`urna verify --observer KEY`). They join the records of `records.rs`
//! (one `expected.json`, whose `observers` field gives the trusted keys).

use std::path::Path;

use urna_board::{Checkpoint, EntryKind, ObserverSigningKey, SignedNote, VerifierKey};

use crate::records::{Rec, entry_bytes, index_of, payload_of};

/// The observer the verifier trusts in these records.
fn observer_a() -> ObserverSigningKey {
    ObserverSigningKey::from_secret_bytes("observer-a.example", &[11; 32]).unwrap()
}

/// An observer the verifier was not told about.
fn observer_b() -> ObserverSigningKey {
    ObserverSigningKey::from_secret_bytes("observer-b.example", &[12; 32]).unwrap()
}

/// The observers a record is verified with (its `observers` field).
pub(crate) fn trusted_observers(name: &str) -> Vec<VerifierKey> {
    if RECORDS.contains(&name) {
        vec![observer_a().verifier_key()]
    } else {
        Vec::new()
    }
}

const RECORDS: &[&str] = &[
    "cosigned-history",
    "cosigned-by-unlisted-observer",
    "rewritten-history-resigned",
    "forged-earlier-cosignature",
];

/// Appends `key`'s cosignature to the note in `file`; with `wrong`, one
/// made over another root (a line that names the key but does not verify).
fn cosign_file(file: &Path, key: &ObserverSigningKey, wrong: bool) {
    let mut note = SignedNote::parse(&std::fs::read(file).unwrap()).unwrap();
    let cp = Checkpoint::parse(note.text()).unwrap();
    let signed = if wrong {
        Checkpoint::new(cp.origin(), cp.size(), [0x55; 32]).unwrap()
    } else {
        cp
    };
    let sig = urna_board::cosign_checkpoint(key, &signed, 1_632_000_000).unwrap();
    note.add_signature(sig).unwrap();
    std::fs::write(file, note.to_text()).unwrap();
}

fn earlier_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Every checkpoint cosigned by A.
fn cosign_all_by_a(dir: &Path) {
    for f in earlier_files(dir) {
        cosign_file(&f, &observer_a(), false);
    }
    cosign_file(&dir.join("checkpoint.txt"), &observer_a(), false);
}

/// The earlier checkpoints cosigned by A, the final one by B only.
fn final_by_b(dir: &Path) {
    for f in earlier_files(dir) {
        cosign_file(&f, &observer_a(), false);
    }
    cosign_file(&dir.join("checkpoint.txt"), &observer_b(), false);
}

/// The final checkpoint cosigned by A; an earlier one carries a line
/// named for A that does not verify.
fn forged_earlier(dir: &Path) {
    let files = earlier_files(dir);
    for (i, f) in files.iter().enumerate() {
        cosign_file(f, &observer_a(), i + 1 == files.len());
    }
    cosign_file(&dir.join("checkpoint.txt"), &observer_a(), false);
}

/// The records, each verified with A as the trusted observer.
pub(crate) fn records(
    good: &[Vec<u8>],
    older: &[(u64, Vec<Vec<u8>>)],
    out: &mut Vec<(&'static str, Rec, Vec<&'static str>)>,
) {
    let with = |entries: &[Vec<u8>], fix: Option<fn(&Path)>| Rec {
        older: older
            .iter()
            .map(|(size, _)| (*size, entries.to_vec()))
            .collect(),
        entries: entries.to_vec(),
        final_of: None,
        fix,
    };
    out.push((
        "cosigned-history",
        with(good, Some(cosign_all_by_a)),
        vec![],
    ));
    out.push((
        "cosigned-by-unlisted-observer",
        with(good, Some(final_by_b)),
        vec!["checkpoint.cosigners"],
    ));
    // The history rewritten as in `rewritten-history`, and every
    // checkpoint re-signed by the board key: consistent in itself, but
    // A never cosigned the rewritten tree.
    let opened = index_of(good, EntryKind::VotingOpened);
    let mut e = good.to_vec();
    let mut p = payload_of(&e[opened]);
    p[40] ^= 1;
    e[opened] = entry_bytes(EntryKind::VotingOpened, &p);
    out.push((
        "rewritten-history-resigned",
        with(&e, None),
        vec!["checkpoint.cosigners"],
    ));
    out.push((
        "forged-earlier-cosignature",
        with(good, Some(forged_earlier)),
        vec!["checkpoint.cosigners"],
    ));
}
