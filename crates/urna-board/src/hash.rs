//! Merkle tree hashing: spec/board.md §B2 (RFC 9162 §2.1.1).

use sha2::{Digest, Sha256};

/// A SHA-256 output: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Length of a [`Hash`] in bytes.
pub const HASH_LEN: usize = 32;

// The one-byte prefixes are the RFC 6962/9162 domain separation between leaves
// and interior nodes: without them a 64-byte leaf could be passed off as an
// interior node (second-preimage attack on the tree).
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// Hash of one log entry: `SHA-256(0x00 || entry_bytes)`.
///
/// `entry_bytes` are the exact bytes that are stored (see [`crate::Entry::bytes`]).
// spec/board.md §B2.1
pub fn leaf_hash(entry_bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(entry_bytes);
    h.finalize().into()
}

/// Hash of an interior node: `SHA-256(0x01 || left || right)`.
// spec/board.md §B2.1
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: `SHA-256("")`.
// spec/board.md §B2.2
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Reference Merkle Tree Hash (MTH) of a list of leaf hashes, written as the
/// recursive definition of RFC 9162 §2.1.1. It is O(n) and recursion depth is
/// O(log n); stores should use [`crate::Frontier`] instead, this is the oracle
/// the rest of the crate is tested against.
// spec/board.md §B2.2
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split_point(leaves.len() as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Largest power of two strictly smaller than `n` (the RFC's `k`). Requires `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [
            (2u64, 1u64),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (28937, 16384),
        ] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
