//! Observers' cosignatures of the board's checkpoints (spec/board.md
//! §B7.4, §B10): durable in the backend, and in memory for publishing.

use std::collections::BTreeMap;

use urna_board::{MAX_SIGNATURES, NoteSignature};

use crate::backend::CosignatureRow;
use crate::error::{StoreError, corrupt};

/// Checkpoint sizes whose cosignatures are kept by default
/// ([`crate::StoreOptions::cosigned_sizes_kept`]): the largest this many
/// sizes that hold any. Observers cosign the latest checkpoint they saw,
/// so older sizes matter less and less, and this bounds what an observer
/// key that is not restricted can make the board store.
pub const COSIGNED_SIZES_KEPT: u64 = 4096;

/// Cosignatures kept per checkpoint: as many as one note can carry next
/// to the board's own signature line (board.md §B7.1).
pub const MAX_COSIGNATURES_PER_SIZE: usize = MAX_SIGNATURES - 1;

/// The cosignatures held, per size; each observer once per size.
#[derive(Debug)]
pub(crate) struct CosignatureCache {
    keep: u64,
    by_size: BTreeMap<u64, Vec<(String, NoteSignature)>>,
}

impl CosignatureCache {
    /// Rebuilds the cache from the stored rows.
    pub(crate) fn load(rows: Vec<CosignatureRow>, keep: u64) -> Result<Self, StoreError> {
        let mut cache = CosignatureCache {
            keep: keep.max(1),
            by_size: BTreeMap::new(),
        };
        for row in rows {
            let sig = NoteSignature::from_line(&row.line).map_err(|e| {
                corrupt(format!(
                    "stored cosignature of size {} by {} does not parse: {e}",
                    row.size, row.observer
                ))
            })?;
            cache.insert(row.size, row.observer, sig);
        }
        Ok(cache)
    }

    /// Whether `observer` may add a cosignature for `size` (a replacement
    /// is always room enough).
    pub(crate) fn room_for(&self, size: u64, observer: &str) -> bool {
        self.by_size.get(&size).is_none_or(|list| {
            list.len() < MAX_COSIGNATURES_PER_SIZE || list.iter().any(|(o, _)| o == observer)
        })
    }

    /// Records a cosignature (already durable), replacing the observer's
    /// earlier one for that size, and applies the retention rule exactly
    /// as the backend did. The number now held for `size`.
    pub(crate) fn insert(&mut self, size: u64, observer: String, sig: NoteSignature) -> usize {
        let list = self.by_size.entry(size).or_default();
        match list.iter_mut().find(|(o, _)| *o == observer) {
            Some(old) => old.1 = sig,
            None => list.push((observer, sig)),
        }
        let n = list.len();
        while self.by_size.len() as u64 > self.keep {
            self.by_size.pop_first();
        }
        if self.by_size.contains_key(&size) {
            n
        } else {
            0
        }
    }

    /// How many cosigned sizes are kept.
    pub(crate) fn keep(&self) -> u64 {
        self.keep
    }

    /// The sizes that hold cosignatures, smallest first.
    pub(crate) fn sizes(&self) -> Vec<u64> {
        self.by_size.keys().copied().collect()
    }

    /// The cosignatures held for `size`, in arrival order.
    pub(crate) fn get(&self, size: u64) -> Vec<NoteSignature> {
        self.by_size
            .get(&size)
            .map(|list| list.iter().map(|(_, s)| s.clone()).collect())
            .unwrap_or_default()
    }
}
