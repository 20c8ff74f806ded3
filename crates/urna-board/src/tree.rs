//! Perfect subtrees, the append frontier and an in-memory tree:
//! spec/board.md §B3.

use core::fmt;

use crate::hash::{Hash, empty_root, node_hash};
use crate::proof::ProofError;

/// Largest tree size the board supports: 2^63 leaves.
///
/// Bounding the size keeps every subtree level in `0..=63` and every leaf
/// offset representable in a `u64`, so no arithmetic below can overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// Address of a *perfect* subtree: the `2^level` leaves
/// `[index·2^level, (index+1)·2^level)`.
///
/// Level 0 is a single leaf (its hash is the leaf hash). A perfect subtree
/// never changes once its last leaf is appended, which is why a store can key
/// its hashes by `(level, index)` and never update a row.
// spec/board.md §B3.1
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubtreeId {
    /// Height of the subtree: it covers `2^level` leaves.
    pub level: u8,
    /// Position among the subtrees of the same level, from the left.
    pub index: u64,
}

impl SubtreeId {
    /// Creates the address of the perfect subtree `(level, index)`.
    pub const fn new(level: u8, index: u64) -> Self {
        SubtreeId { level, index }
    }

    /// First leaf covered, or `None` if the subtree lies beyond 2^64 leaves.
    pub fn first_leaf(&self) -> Option<u64> {
        let start = u128::from(self.index) << self.level.min(127);
        u64::try_from(start).ok()
    }

    /// One past the last leaf covered, or `None` if beyond `u64`.
    pub fn end_leaf(&self) -> Option<u64> {
        let end = (u128::from(self.index) + 1) << self.level.min(127);
        u64::try_from(end).ok()
    }

    /// True if the subtree is complete in a tree of `size` leaves.
    pub fn is_complete_in(&self, size: u64) -> bool {
        self.level < 64 && self.end_leaf().is_some_and(|end| end <= size)
    }
}

impl fmt::Display for SubtreeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.level, self.index)
    }
}

/// Somewhere perfect-subtree hashes can be read from.
///
/// Implemented by [`MemoryTree`]; a store implements it over its table of
/// `(level, index) -> hash` rows, or instead fetches the ids of a
/// [`crate::ProofPlan`] in one query and calls
/// [`crate::ProofPlan::assemble_ordered`].
pub trait SubtreeSource {
    /// Hash of the perfect subtree `id`, or `None` if it is not (yet) stored.
    fn perfect(&self, id: SubtreeId) -> Option<Hash>;
}

impl<F: Fn(SubtreeId) -> Option<Hash>> SubtreeSource for F {
    fn perfect(&self, id: SubtreeId) -> Option<Hash> {
        self(id)
    }
}

/// The leaves `[start, end)` as perfect subtrees, left to right, each as
/// large as alignment allows.
///
/// For the ranges that occur as nodes of an RFC 9162 tree (`start` a multiple
/// of a power of two `>= end - start`) this is the binary expansion of
/// `end - start`, largest first, and the node's hash is the right fold
/// `p0 · (p1 · (… · pk))` of these subtrees (spec/board.md §B3.2).
// spec/board.md §B3.2
pub(crate) fn cover(mut start: u64, end: u64, out: &mut Vec<SubtreeId>) {
    while start < end {
        let remaining = end - start;
        let by_size = 63 - remaining.leading_zeros();
        let by_alignment = start.trailing_zeros();
        let level = by_size.min(by_alignment);
        out.push(SubtreeId::new(level as u8, start >> level));
        start += 1u64 << level;
    }
}

/// Right fold of perfect-subtree hashes, as in [`cover`]. `None` if empty.
pub(crate) fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// Error building or restoring a [`Frontier`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrontierError {
    /// The tree already holds [`MAX_TREE_SIZE`] leaves.
    #[error("the tree is full ({MAX_TREE_SIZE} leaves)")]
    Full,
    /// The requested size exceeds [`MAX_TREE_SIZE`].
    #[error("tree size {0} exceeds the maximum {MAX_TREE_SIZE}")]
    SizeTooLarge(u64),
    /// `from_hashes` got the wrong number of hashes for the size.
    #[error("a tree of size {size} needs {expected} subtree hashes, got {actual}")]
    WrongHashCount {
        /// Tree size being restored.
        size: u64,
        /// Number of perfect subtrees on its right edge.
        expected: usize,
        /// Number of hashes supplied.
        actual: usize,
    },
    /// A stored hash needed to restore the frontier is missing (store bug).
    #[error("stored hash for perfect subtree {0} is missing")]
    MissingSubtree(SubtreeId),
}

/// The right edge of the tree: the roots of the perfect subtrees that make up
/// `[0, size)`, enough to append leaves and compute the current root in
/// O(log n) memory (a "compact range" starting at 0).
///
/// A store keeps every hash [`Frontier::push`] returns, keyed by
/// [`SubtreeId`]; those rows are all it needs to serve any proof or tile, and
/// to rebuild the frontier after a restart with [`Frontier::restore`].
// spec/board.md §B3.3
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    // One hash per set bit of `size`, highest bit (leftmost subtree) first.
    hashes: Vec<Hash>,
}

impl Default for Frontier {
    fn default() -> Self {
        Self::new()
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtrees of the right edge of a tree of `size` leaves, left
    /// to right: exactly the hashes [`Frontier::from_hashes`] expects.
    // spec/board.md §B3.3
    pub fn restore_plan(size: u64) -> Vec<SubtreeId> {
        let mut out = Vec::with_capacity(size.count_ones() as usize);
        cover(0, size, &mut out);
        out
    }

    /// Rebuilds the frontier of a tree of `size` leaves from the hashes of the
    /// subtrees listed by [`Frontier::restore_plan`], in that order.
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, FrontierError> {
        if size > MAX_TREE_SIZE {
            return Err(FrontierError::SizeTooLarge(size));
        }
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(FrontierError::WrongHashCount {
                size,
                expected,
                actual: hashes.len(),
            });
        }
        Ok(Frontier { size, hashes })
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored hashes.
    pub fn restore(size: u64, source: &impl SubtreeSource) -> Result<Self, FrontierError> {
        if size > MAX_TREE_SIZE {
            return Err(FrontierError::SizeTooLarge(size));
        }
        let hashes = Self::restore_plan(size)
            .into_iter()
            .map(|id| source.perfect(id).ok_or(FrontierError::MissingSubtree(id)))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_hashes(size, hashes)
    }

    /// Appends one leaf hash and returns every perfect subtree completed by
    /// it, bottom-up: first `(0, old_size)` (the leaf itself), then one per
    /// level at which the append carried, like a binary increment.
    // spec/board.md §B3.3
    pub fn push(&mut self, leaf: Hash) -> Result<Vec<(SubtreeId, Hash)>, FrontierError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(FrontierError::Full);
        }
        let mut completed = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        let mut hash = leaf;
        let mut id = SubtreeId::new(0, self.size);
        completed.push((id, hash));
        // Each trailing one bit of the old size is a subtree of that level
        // waiting for a right sibling of the same size: the new subtree.
        while id.index & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                // Unreachable: one hash per set bit of `size` is an invariant.
                return Err(FrontierError::WrongHashCount {
                    size: self.size,
                    expected: self.size.count_ones() as usize,
                    actual: self.hashes.len(),
                });
            };
            hash = node_hash(&left, &hash);
            id = SubtreeId::new(id.level + 1, id.index >> 1);
            completed.push((id, hash));
        }
        self.hashes.push(hash);
        self.size += 1;
        Ok(completed)
    }

    /// Root hash of the current tree (RFC 9162 MTH).
    // spec/board.md §B3.3
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes).unwrap_or_else(empty_root)
    }

    /// The right-edge subtrees and their hashes, left to right.
    pub fn subtrees(&self) -> impl Iterator<Item = (SubtreeId, Hash)> + '_ {
        Self::restore_plan(self.size)
            .into_iter()
            .zip(self.hashes.iter().copied())
    }
}

/// Every perfect-subtree hash of a tree, in memory (about `2n` hashes).
///
/// Used by tests, by the verifier when it replays a whole board, and as the
/// model of what a store keeps.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    frontier: Frontier,
    // levels[l][i] is the hash of perfect subtree (l, i).
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from leaf hashes.
    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Result<Self, FrontierError> {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf)?;
        }
        Ok(tree)
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) -> Result<(), FrontierError> {
        for (id, hash) in self.frontier.push(leaf)? {
            let level = usize::from(id.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            self.levels[level].push(hash);
        }
        Ok(())
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The frontier of the current tree.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Root of the prefix of `size` leaves, or an error if `size` exceeds the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeBeyondTree {
                size,
                tree_size: self.size(),
            });
        }
        let plan = Frontier::restore_plan(size);
        let hashes = plan
            .iter()
            .map(|&id| self.perfect(id).ok_or(ProofError::MissingSubtree(id)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(fold_right(&hashes).unwrap_or_else(empty_root))
    }

    /// Inclusion proof for leaf `index` in the prefix of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(size)?;
        crate::proof::inclusion_proof_plan(index, size)?.assemble_from(self)
    }

    /// Consistency proof between the prefixes of `old` and `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_size(new)?;
        crate::proof::consistency_proof_plan(old, new)?.assemble_from(self)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeBeyondTree {
                size,
                tree_size: self.size(),
            });
        }
        Ok(())
    }
}

impl SubtreeSource for MemoryTree {
    fn perfect(&self, id: SubtreeId) -> Option<Hash> {
        let index = usize::try_from(id.index).ok()?;
        self.levels.get(usize::from(id.level))?.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{leaf_hash, root_of};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn push_reports_completed_subtrees() {
        let mut f = Frontier::new();
        let l = leaves(4);
        let ids = |v: Vec<(SubtreeId, Hash)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(f.push(l[0]).unwrap()), [SubtreeId::new(0, 0)]);
        assert_eq!(
            ids(f.push(l[1]).unwrap()),
            [SubtreeId::new(0, 1), SubtreeId::new(1, 0)]
        );
        assert_eq!(ids(f.push(l[2]).unwrap()), [SubtreeId::new(0, 2)]);
        let done = f.push(l[3]).unwrap();
        assert_eq!(
            ids(done.clone()),
            [
                SubtreeId::new(0, 3),
                SubtreeId::new(1, 1),
                SubtreeId::new(2, 0)
            ]
        );
        assert_eq!(done[2].1, root_of(&l));
    }

    #[test]
    fn cover_is_binary_expansion() {
        let mut out = Vec::new();
        cover(0, 13, &mut out);
        assert_eq!(
            out,
            [
                SubtreeId::new(3, 0),
                SubtreeId::new(2, 2),
                SubtreeId::new(0, 12)
            ]
        );
        out.clear();
        cover(8, 13, &mut out);
        assert_eq!(out, [SubtreeId::new(2, 2), SubtreeId::new(0, 12)]);
    }

    #[test]
    fn frontier_rejects_wrong_hash_count_and_size() {
        assert_eq!(
            Frontier::from_hashes(5, vec![[0; 32]]),
            Err(FrontierError::WrongHashCount {
                size: 5,
                expected: 2,
                actual: 1
            })
        );
        assert_eq!(
            Frontier::from_hashes(MAX_TREE_SIZE + 1, vec![]),
            Err(FrontierError::SizeTooLarge(MAX_TREE_SIZE + 1))
        );
        let mut full = Frontier::from_hashes(MAX_TREE_SIZE, vec![[0; 32]]).unwrap();
        assert_eq!(full.push([1; 32]), Err(FrontierError::Full));
    }

    #[test]
    fn restore_reports_missing_hash() {
        let tree = MemoryTree::from_leaves(leaves(5)).unwrap();
        assert_eq!(
            Frontier::restore(6, &tree),
            Err(FrontierError::MissingSubtree(SubtreeId::new(1, 2)))
        );
        assert_eq!(Frontier::restore(5, &tree).unwrap().root(), tree.root());
    }

    #[test]
    fn subtree_id_ranges() {
        let id = SubtreeId::new(3, 2);
        assert_eq!((id.first_leaf(), id.end_leaf()), (Some(16), Some(24)));
        assert!(id.is_complete_in(24));
        assert!(!id.is_complete_in(23));
        assert_eq!(SubtreeId::new(63, 2).first_leaf(), None);
        assert!(!SubtreeId::new(64, 0).is_complete_in(u64::MAX));
    }
}
