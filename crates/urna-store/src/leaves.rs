//! The leaf-hash index: which entry has a given leaf hash.
//!
//! It lives in memory and is rebuilt from the stored level-0 subtree hashes
//! when the store opens, instead of being a `UNIQUE` index in the database:
//! leaf hashes are uniformly random keys, so a B-tree index on them dirties
//! one more database page per appended entry, which on SQLite doubled the
//! bytes written per entry and the writer's CPU per entry (measured in
//! `docs/decisions/0003-board-storage.md`). The entries table still stores
//! each leaf hash next to its bytes.
//!
//! To keep memory at about 16 bytes per entry, the index is keyed by the
//! first 8 bytes of the hash; a hit is a candidate that the caller confirms
//! against the stored full hash. The rare entries whose 8-byte prefix
//! collides with an earlier entry's (different) hash go to a small map
//! keyed by the full hash.

use std::collections::HashMap;

use urna_board::Hash;

fn prefix(hash: &Hash) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(p)
}

/// What the index knows about a leaf hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The entry at this index has exactly this hash.
    Exact(u64),
    /// The entry at this index has a hash with the same 8-byte prefix:
    /// compare the full stored hash.
    Candidate(u64),
    /// No entry has this hash.
    Absent,
}

#[derive(Debug, Default)]
pub(crate) struct LeafIndex {
    by_prefix: HashMap<u64, u64>,
    exact: HashMap<Hash, u64>,
}

impl LeafIndex {
    pub(crate) fn with_capacity(n: usize) -> Self {
        LeafIndex {
            by_prefix: HashMap::with_capacity(n),
            exact: HashMap::new(),
        }
    }

    pub(crate) fn lookup(&self, hash: &Hash) -> Lookup {
        if let Some(&i) = self.exact.get(hash) {
            return Lookup::Exact(i);
        }
        match self.by_prefix.get(&prefix(hash)) {
            Some(&i) => Lookup::Candidate(i),
            None => Lookup::Absent,
        }
    }

    /// Adds a leaf known not to be in the index yet. `collides` says that
    /// its prefix is already taken by another hash (from a lookup that
    /// returned a candidate whose full hash differed).
    pub(crate) fn insert(&mut self, hash: &Hash, index: u64, collides: bool) {
        if collides {
            self.exact.insert(*hash, index);
        } else {
            self.by_prefix.insert(prefix(hash), index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_collisions_are_kept_apart() {
        let mut idx = LeafIndex::default();
        let a = [1u8; 32];
        let mut b = a;
        b[31] = 2;
        assert_eq!(idx.lookup(&a), Lookup::Absent);
        idx.insert(&a, 0, false);
        assert_eq!(idx.lookup(&a), Lookup::Candidate(0));
        assert_eq!(idx.lookup(&b), Lookup::Candidate(0));
        idx.insert(&b, 1, true);
        assert_eq!(idx.lookup(&b), Lookup::Exact(1));
        assert_eq!(idx.lookup(&a), Lookup::Candidate(0));
    }
}
