//! The only tally a trustee may decrypt (spec/trustee.md §T1.1): the
//! `admin_action` tally chunks (spec/record.md §R10) of a board record
//! that verified, by the checks of this crate, up to and including the
//! tally, so that the sums are the ones recomputed from the board's own
//! ballots. A partial decryption of anything else (one voter's
//! ciphertext handed out as "the tally") would reveal a vote.

use std::path::Path;

use urna_board::{Entry, EntryKind};

use crate::record::{ENTRIES_FILE, EntryReader};
use crate::{Options, Report, verify};

/// The checks a record must pass before its tally may be decrypted: every
/// check the encrypted sums depend on (spec/trustee.md §T1.1). The later
/// ones (partial decryptions, results, complaints, precinct lists) are
/// not yet on the board, or do not bear on the sums.
pub const BEFORE_DECRYPTION: &[&str] = &[
    "record.files",
    "checkpoint.signature",
    "checkpoint.root",
    "checkpoint.consistency",
    "entries.envelope",
    "board.order",
    "manifest",
    "key_ceremony",
    "credential_lists",
    "voting_opened",
    "ballot.window",
    "ballot.decode",
    "ballot.header",
    "ballot.credential",
    "ballot.replay",
    "ballot.proofs",
    "revote",
    "audited_ballot",
    "voting_closed",
    "reconciliation",
    "tally",
];

/// A tally recomputed and checked from a board record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardTally {
    /// The tally chunks' payloads, in board order.
    pub payloads: Vec<Vec<u8>>,
    /// F_election of the board's manifest and joint key.
    pub fingerprint: [u8; 32],
    /// The manifest hash.
    pub manifest_hash: [u8; 32],
    /// Entries covered by the signed checkpoint the record was checked against.
    pub entries: u64,
}

/// Verifies the record folder `dir` (spec/export.md layout: entries and a
/// checkpoint signed by the board key in `board-key.txt`) and returns its
/// tally, or why it must not be decrypted.
pub fn decryptable_tally(dir: &Path) -> Result<BoardTally, String> {
    let report = verify(dir, Options::default());
    tally_of(dir, &report)
}

/// The tally of a record whose `report` has already been made.
pub fn tally_of(dir: &Path, report: &Report) -> Result<BoardTally, String> {
    if let Some(e) = &report.unusable {
        return Err(format!("the board record is unusable: {e}"));
    }
    for name in BEFORE_DECRYPTION {
        let Some(c) = report.check(name) else {
            return Err(format!("check {name} was not run"));
        };
        if !c.passed() {
            let why = c
                .failures
                .first()
                .map(|f| f.message.as_str())
                .unwrap_or("failed");
            return Err(format!("the board fails check {name}: {why}"));
        }
    }
    let hex32 = |v: &Option<String>, what: &str| -> Result<[u8; 32], String> {
        v.as_deref()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| format!("the board has no {what}"))
    };
    let fingerprint = hex32(&report.summary.fingerprint, "election fingerprint")?;
    let manifest_hash = hex32(&report.summary.manifest_hash, "manifest")?;
    let mut reader =
        EntryReader::open(&dir.join(ENTRIES_FILE)).map_err(|e| format!("{ENTRIES_FILE}: {e}"))?;
    let mut payloads = Vec::new();
    let mut entries = 0u64;
    while let Some(raw) = reader.next_entry().map_err(|e| e.to_string())? {
        entries += 1;
        let e = Entry::from_bytes(raw.bytes).map_err(|e| format!("entry {}: {e}", raw.index))?;
        // spec/record.md §R10: the tally is admin_action sub-tag 1.
        if e.kind() == EntryKind::AdminAction && e.payload().get(1) == Some(&1) {
            payloads.push(e.payload().to_vec());
        }
    }
    if payloads.is_empty() {
        return Err("the board holds no tally".into());
    }
    Ok(BoardTally {
        payloads,
        fingerprint,
        manifest_hash,
        entries,
    })
}
