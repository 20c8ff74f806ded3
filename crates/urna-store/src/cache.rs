//! Hashes of the upper tree levels, kept in memory.
//!
//! Every proof needs about one hash per level (spec/board.md §B4.1). The
//! levels at and above `min_level` hold only `2n / 2^min_level` hashes in
//! all, so keeping them in memory costs little and leaves at most
//! `min_level` database reads per proof. Rows are never updated, so the
//! cache only grows: the writer appends after each commit, before it
//! publishes the checkpoint that makes the rows visible to readers.

use urna_board::{Hash, SubtreeId};

use crate::backend::Backend;
use crate::error::{StoreError, corrupt};

#[derive(Debug)]
pub(crate) struct HotLevels {
    min_level: u8,
    // levels[i] holds the hashes of level `min_level + i`, indices 0, 1, ...
    levels: Vec<Vec<Hash>>,
}

impl HotLevels {
    /// Reads the hot levels of a tree of `size` leaves from the backend.
    pub(crate) fn load(
        min_level: u8,
        size: u64,
        backend: &dyn Backend,
    ) -> Result<Self, StoreError> {
        let mut levels = Vec::new();
        let mut reader = backend.reader()?;
        for level in min_level..64 {
            let count = size >> level;
            if count == 0 {
                break;
            }
            let hashes = reader.subtree_range(level, 0, count)?;
            if hashes.len() as u64 != count {
                return Err(corrupt(format!(
                    "level {level} has {} stored subtrees, a tree of size {size} needs {count}",
                    hashes.len()
                )));
            }
            levels.push(hashes);
        }
        Ok(HotLevels { min_level, levels })
    }

    pub(crate) fn min_level(&self) -> u8 {
        self.min_level
    }

    pub(crate) fn get(&self, id: SubtreeId) -> Option<Hash> {
        let level = usize::from(id.level.checked_sub(self.min_level)?);
        let index = usize::try_from(id.index).ok()?;
        self.levels.get(level)?.get(index).copied()
    }

    /// Adds a newly completed subtree; they arrive in index order per level.
    pub(crate) fn push(&mut self, id: SubtreeId, hash: Hash) -> Result<(), StoreError> {
        let Some(level) = id.level.checked_sub(self.min_level) else {
            return Ok(());
        };
        let level = usize::from(level);
        while self.levels.len() <= level {
            self.levels.push(Vec::new());
        }
        let row = &mut self.levels[level];
        if row.len() as u64 != id.index {
            return Err(corrupt(format!(
                "subtree {id} completed out of order (level holds {})",
                row.len()
            )));
        }
        row.push(hash);
        Ok(())
    }
}
