//! Inclusion and consistency proofs, built from stored perfect-subtree
//! hashes and verified as in RFC 9162: spec/board.md §B4.

use crate::hash::{Hash, empty_root, node_hash, split_point};
use crate::tree::{MAX_TREE_SIZE, SubtreeId, SubtreeSource, cover, fold_right};

/// Error *building* a proof: either the request was invalid (a client asked
/// for something that does not exist) or the store lacks a hash it should
/// have (an internal fault). [`ProofError::is_internal`] tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Inclusion requested for a leaf that is not in the tree.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// Requested leaf.
        index: u64,
        /// Requested tree size.
        size: u64,
    },
    /// Consistency requested from a larger tree to a smaller one.
    #[error("old size {old} is larger than new size {new}")]
    OldLargerThanNew {
        /// Requested old size.
        old: u64,
        /// Requested new size.
        new: u64,
    },
    /// A size above [`MAX_TREE_SIZE`] or above the tree that is held.
    #[error("tree size {size} is beyond the tree (size {tree_size})")]
    SizeBeyondTree {
        /// Requested size.
        size: u64,
        /// Size of the tree held (or [`MAX_TREE_SIZE`]).
        tree_size: u64,
    },
    /// The lookup had no hash for a subtree the plan needs.
    #[error("stored hash for perfect subtree {0} is missing")]
    MissingSubtree(SubtreeId),
    /// `assemble_ordered` got a different number of hashes than the plan lists.
    #[error("the plan needs {expected} hashes, got {actual}")]
    WrongHashCount {
        /// `plan.subtrees().len()`.
        expected: usize,
        /// Hashes supplied.
        actual: usize,
    },
}

impl ProofError {
    /// True if the error is the prover's own fault (missing or miscounted
    /// stored hashes), false if the request itself was invalid.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            ProofError::MissingSubtree(_) | ProofError::WrongHashCount { .. }
        )
    }
}

/// Why a proof did not verify. Every variant means the peer (log, server,
/// mirror) sent something wrong or inconsistent; none is a local fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The claimed leaf index is not below the claimed tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// The claimed old size is larger than the claimed new size.
    #[error("old size {old} is larger than new size {new}")]
    OldLargerThanNew {
        /// Claimed old size.
        old: u64,
        /// Claimed new size.
        new: u64,
    },
    /// A claimed size is above [`MAX_TREE_SIZE`].
    #[error("tree size {0} exceeds the maximum {MAX_TREE_SIZE}")]
    SizeTooLarge(u64),
    /// The proof does not have the number of hashes the sizes require.
    #[error("proof has {actual} hashes, the sizes require {expected}")]
    WrongProofLength {
        /// Length RFC 9162 prescribes for these sizes.
        expected: usize,
        /// Length received.
        actual: usize,
    },
    /// The root computed from the leaf and the inclusion proof differs from
    /// the claimed root.
    #[error("inclusion proof does not lead to the claimed root")]
    RootMismatch,
    /// The consistency proof does not reproduce the old root.
    #[error("consistency proof does not reproduce the old root")]
    OldRootMismatch,
    /// The consistency proof does not reproduce the new root.
    #[error("consistency proof does not reproduce the new root")]
    NewRootMismatch,
    /// Two different roots were claimed for the same tree size: the log
    /// presented a split view.
    #[error("two different roots for the same tree size")]
    SameSizeDifferentRoots,
}

/// Which perfect-subtree hashes a proof needs, and how to combine them.
///
/// Every node of an RFC 9162 proof is the hash of leaves `[a, b)` where `a`
/// is a multiple of a power of two `>= b - a`; that hash is a right fold of
/// the at most `log2 n` perfect subtrees covering `[a, b)` (spec/board.md
/// §B3.2, §B4.1). So a store that keeps perfect-subtree hashes can serve any
/// proof: fetch [`ProofPlan::subtrees`] in one query, then
/// [`ProofPlan::assemble_ordered`] (or [`ProofPlan::assemble`] with a lookup).
// spec/board.md §B4.1
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    // Perfect subtrees of all proof nodes, node after node, each node's
    // subtrees left to right.
    subtrees: Vec<SubtreeId>,
    // ends[j] is one past the last entry of `subtrees` belonging to node j.
    ends: Vec<usize>,
}

impl ProofPlan {
    fn from_ranges(ranges: &[(u64, u64)]) -> Self {
        let mut subtrees = Vec::new();
        let mut ends = Vec::with_capacity(ranges.len());
        for &(a, b) in ranges {
            cover(a, b, &mut subtrees);
            ends.push(subtrees.len());
        }
        ProofPlan { subtrees, ends }
    }

    /// Every perfect subtree the proof needs, without duplicates. The order is
    /// the one [`ProofPlan::assemble_ordered`] expects.
    pub fn subtrees(&self) -> &[SubtreeId] {
        &self.subtrees
    }

    /// Number of hashes in the finished proof.
    pub fn proof_len(&self) -> usize {
        self.ends.len()
    }

    /// Builds the RFC 9162 proof, asking `lookup` for each perfect subtree.
    pub fn assemble(&self, lookup: impl SubtreeSource) -> Result<Vec<Hash>, ProofError> {
        self.assemble_from(&lookup)
    }

    /// Builds the RFC 9162 proof from a [`SubtreeSource`].
    pub fn assemble_from<S: SubtreeSource + ?Sized>(
        &self,
        source: &S,
    ) -> Result<Vec<Hash>, ProofError> {
        let hashes = self
            .subtrees
            .iter()
            .map(|&id| source.perfect(id).ok_or(ProofError::MissingSubtree(id)))
            .collect::<Result<Vec<_>, _>>()?;
        self.assemble_ordered(&hashes)
    }

    /// Builds the RFC 9162 proof from the hashes of [`ProofPlan::subtrees`],
    /// given in the same order.
    // spec/board.md §B4.1
    pub fn assemble_ordered(&self, hashes: &[Hash]) -> Result<Vec<Hash>, ProofError> {
        if hashes.len() != self.subtrees.len() {
            return Err(ProofError::WrongHashCount {
                expected: self.subtrees.len(),
                actual: hashes.len(),
            });
        }
        let mut proof = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            // `cover` never yields an empty node for a non-empty range, and
            // proof ranges are never empty; the error keeps this total.
            let node = fold_right(&hashes[start..end]).ok_or(ProofError::WrongHashCount {
                expected: self.subtrees.len(),
                actual: hashes.len(),
            })?;
            proof.push(node);
            start = end;
        }
        Ok(proof)
    }
}

fn check_size(size: u64) -> Result<(), ProofError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::SizeBeyondTree {
            size,
            tree_size: MAX_TREE_SIZE,
        });
    }
    Ok(())
}

/// Leaf ranges of the nodes of `PATH(index, D[0:size])`, in proof order
/// (bottom-up). Requires `index < size`.
// spec/board.md §B4.2 (RFC 9162 §2.1.3.1)
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, size);
    let mut ranges = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    ranges
}

/// Leaf ranges of the nodes of `PROOF(old, D[0:new])`, in proof order.
/// Requires `0 < old < new`.
// spec/board.md §B4.3 (RFC 9162 §2.1.4.1)
fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, new);
    // `whole` is the RFC's flag b: the current subtree's left edge is the
    // left edge of the old tree, so the verifier already knows the hash of
    // D[lo:old] (it is the old root) and it need not be sent.
    let mut whole = true;
    let mut ranges = Vec::new();
    // Invariant: lo < old <= hi.
    loop {
        if old == hi {
            if !whole {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if old <= lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            whole = false;
        }
    }
    ranges.reverse();
    ranges
}

/// Plan of the inclusion proof for leaf `index` in the tree of `size` leaves.
// spec/board.md §B4.2
pub fn inclusion_proof_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    check_size(size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    Ok(ProofPlan::from_ranges(&inclusion_ranges(index, size)))
}

/// Plan of the consistency proof from the tree of `old` leaves to the tree of
/// `new` leaves. Empty when `old == 0` or `old == new` (spec/board.md §B4.3).
// spec/board.md §B4.3
pub fn consistency_proof_plan(old: u64, new: u64) -> Result<ProofPlan, ProofError> {
    check_size(new)?;
    if old > new {
        return Err(ProofError::OldLargerThanNew { old, new });
    }
    if old == 0 || old == new {
        return Ok(ProofPlan::from_ranges(&[]));
    }
    Ok(ProofPlan::from_ranges(&consistency_ranges(old, new)))
}

/// Verifies that `leaf` is leaf number `index` of the tree of `size` leaves
/// whose root is `root`.
// spec/board.md §B4.4 (RFC 9162 §2.1.3.2)
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if size > MAX_TREE_SIZE {
        return Err(VerifyError::SizeTooLarge(size));
    }
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_ranges(index, size).len();
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    // fn/sn of the RFC: the positions of the path node and of the last node
    // at the current level. When they are equal the path node is the
    // rightmost of its level and has no right sibling, so the levels where it
    // is promoted unchanged are skipped.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(VerifyError::WrongProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root`.
///
/// Edge cases (spec/board.md §B4.5): `old_size == 0` needs an empty proof and
/// `old_root` equal to the empty root; `old_size == new_size` needs an empty
/// proof and equal roots.
// spec/board.md §B4.5 (RFC 9162 §2.1.4.2)
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), VerifyError> {
    if new_size > MAX_TREE_SIZE {
        return Err(VerifyError::SizeTooLarge(new_size));
    }
    if old_size > new_size {
        return Err(VerifyError::OldLargerThanNew {
            old: old_size,
            new: new_size,
        });
    }
    let expected = if old_size == 0 || old_size == new_size {
        0
    } else {
        consistency_ranges(old_size, new_size).len()
    };
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if old_size == 0 {
        return if *old_root == empty_root() {
            Ok(())
        } else {
            Err(VerifyError::OldRootMismatch)
        };
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::SameSizeDifferentRoots)
        };
    }

    let length_error = VerifyError::WrongProofLength {
        expected,
        actual: proof.len(),
    };
    // When the old tree is a perfect subtree its root is the first proof
    // node, which the prover leaves out (the RFC's flag b).
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(old_root);
    }
    path.extend(proof.iter());
    let (first, rest) = path.split_first().ok_or(length_error.clone())?;

    let (mut f, mut s) = (old_size - 1, new_size - 1);
    // Skip the levels where the old tree's last leaf is a right child of a
    // node wholly inside the old tree: that node is the first proof hash.
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (**first, **first);
    for c in rest {
        if s == 0 {
            return Err(length_error);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(length_error);
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(VerifyError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_errors() {
        assert_eq!(
            inclusion_proof_plan(5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_proof_plan(6, 5),
            Err(ProofError::OldLargerThanNew { old: 6, new: 5 })
        );
        let too_big = MAX_TREE_SIZE + 1;
        assert!(matches!(
            inclusion_proof_plan(0, too_big),
            Err(ProofError::SizeBeyondTree { .. })
        ));
        assert!(!ProofError::IndexOutOfRange { index: 0, size: 0 }.is_internal());
        assert!(ProofError::MissingSubtree(SubtreeId::new(0, 0)).is_internal());
    }

    #[test]
    fn plan_for_right_edge_node_lists_its_perfect_subtrees() {
        // Leaf 0 of 7 leaves: siblings [1,2), [2,4), [4,7) where the last is
        // the right-edge node (2,1)·(0,6) folded.
        let plan = inclusion_proof_plan(0, 7).unwrap();
        assert_eq!(
            plan.subtrees(),
            [
                SubtreeId::new(0, 1),
                SubtreeId::new(1, 1),
                SubtreeId::new(1, 2),
                SubtreeId::new(0, 6)
            ]
        );
        assert_eq!(plan.proof_len(), 3);
        assert_eq!(
            plan.assemble_ordered(&[[0; 32]; 3]),
            Err(ProofError::WrongHashCount {
                expected: 4,
                actual: 3
            })
        );
    }

    #[test]
    fn largest_tree_plans_stay_in_range() {
        let plan = inclusion_proof_plan(MAX_TREE_SIZE - 1, MAX_TREE_SIZE).unwrap();
        assert_eq!(plan.proof_len(), 63);
        let plan = consistency_proof_plan(MAX_TREE_SIZE - 1, MAX_TREE_SIZE).unwrap();
        assert!(plan.subtrees().iter().all(|id| id.level < 64));
    }

    #[test]
    fn verify_rejects_bad_shapes() {
        let h = [7u8; 32];
        assert_eq!(
            verify_inclusion(&h, 3, 3, &[], &h),
            Err(VerifyError::IndexOutOfRange { index: 3, size: 3 })
        );
        assert_eq!(
            verify_inclusion(&h, 0, 2, &[], &h),
            Err(VerifyError::WrongProofLength {
                expected: 1,
                actual: 0
            })
        );
        assert_eq!(
            verify_consistency(3, 2, &[], &h, &h),
            Err(VerifyError::OldLargerThanNew { old: 3, new: 2 })
        );
        assert_eq!(
            verify_consistency(2, 2, &[], &h, &[8; 32]),
            Err(VerifyError::SameSizeDifferentRoots)
        );
        assert_eq!(verify_consistency(2, 2, &[], &h, &h), Ok(()));
        assert_eq!(
            verify_consistency(0, 2, &[], &h, &h),
            Err(VerifyError::OldRootMismatch)
        );
        assert_eq!(verify_consistency(0, 2, &[], &empty_root(), &h), Ok(()));
        assert_eq!(
            verify_consistency(0, 2, &[h], &empty_root(), &h),
            Err(VerifyError::WrongProofLength {
                expected: 0,
                actual: 1
            })
        );
        assert_eq!(
            verify_inclusion(&h, 0, MAX_TREE_SIZE + 1, &[], &h),
            Err(VerifyError::SizeTooLarge(MAX_TREE_SIZE + 1))
        );
    }
}
