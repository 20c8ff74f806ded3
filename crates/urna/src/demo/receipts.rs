//! What a voter's device does with a receipt (spec/api.md §A4.1): check
//! the board's signature on the checkpoint, then that the entry made of
//! its own bytes is included in that tree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, anyhow, ensure};
use serde::Deserialize;
use urna_board::{
    Entry, EntryKind, Hash, SignedNote, VerifierKey, verify_checkpoint, verify_inclusion,
};

/// A receipt as the server sends it.
#[derive(Debug, Deserialize)]
pub struct Receipt {
    /// Tracking code, hex.
    pub tracking: String,
    /// `ballot` or `audited_ballot`.
    pub kind: String,
    /// Board index of the entry.
    pub index: u64,
    leaf_hash: String,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    inclusion_proof: Vec<String>,
    checkpoint: String,
}

/// Checks receipts against the board's published key. Devices share the
/// checkpoints they already verified (many receipts cite the same one).
#[derive(Debug, Clone)]
pub struct ReceiptChecker {
    board_key: VerifierKey,
    verified: Arc<Mutex<HashMap<String, (u64, Hash)>>>,
}

fn hash_hex(what: &str, s: &str) -> anyhow::Result<Hash> {
    hex::decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("the receipt's {what} is not a 32-byte hex hash"))
}

impl ReceiptChecker {
    /// A checker trusting `board_key`.
    pub fn new(board_key: VerifierKey) -> Self {
        ReceiptChecker {
            board_key,
            verified: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Size and root of a checkpoint signed by the board.
    fn checkpoint(&self, text: &str) -> anyhow::Result<(u64, Hash)> {
        let cache = || self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = cache().get(text) {
            return Ok(*v);
        }
        let note = SignedNote::parse(text.as_bytes()).context("the receipt's checkpoint")?;
        let cp = verify_checkpoint(&note, &self.board_key, &[])
            .context("the receipt's checkpoint is not signed by the board")?
            .checkpoint;
        let v = (cp.size(), *cp.root());
        cache().insert(text.to_owned(), v);
        Ok(v)
    }

    /// Checks that `r` proves the entry of `kind` made of `payload` is on
    /// the board, and that its tracking code is that of `ballot_bytes`.
    pub fn check(
        &self,
        r: &Receipt,
        kind: EntryKind,
        payload: &[u8],
        ballot_bytes: &[u8],
    ) -> anyhow::Result<()> {
        ensure!(
            r.tracking == hex::encode(urna_election::tracking_code(ballot_bytes)),
            "the receipt's tracking code is not the hash of the ballot sent"
        );
        ensure!(
            r.kind == kind.name(),
            "the receipt is for a {} entry, not {}",
            r.kind,
            kind.name()
        );
        let leaf = Entry::new(kind, payload)?.leaf_hash();
        ensure!(
            hash_hex("leaf hash", &r.leaf_hash)? == leaf,
            "the receipt's leaf hash is not that of the ballot sent"
        );
        let (size, root) = self.checkpoint(&r.checkpoint)?;
        ensure!(
            size == r.tree_size,
            "the receipt's tree size {} is not its checkpoint's {size}",
            r.tree_size
        );
        let proof = r
            .inclusion_proof
            .iter()
            .map(|h| hash_hex("inclusion proof", h))
            .collect::<anyhow::Result<Vec<_>>>()?;
        verify_inclusion(&leaf, r.index, size, &proof, &root)
            .context("the receipt's inclusion proof does not verify")?;
        Ok(())
    }
}
