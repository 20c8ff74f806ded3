//! Cross-check against the independent `ct-merkle` crate.
//!
//! ct-merkle implements RFC 6962 with the same hashing as urna's board
//! (SHA-256, leaf prefix 0x00 over the raw leaf bytes, node prefix 0x01), so
//! the comparison is meaningful at the byte level: both are fed the same
//! leaf bytes, and roots and proofs must be identical. Each side also has to
//! accept the other's proofs. The only thing ct-merkle cannot do is prove
//! against a past tree size, so proofs are compared at checkpoint sizes
//! while the tree grows to 100 000 leaves.

// clippy.toml allows unwrap in #[test] fns; this extends it to the helpers here.
#![allow(clippy::unwrap_used)]

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sha2::Sha256;
use urna_board::*;

fn checkpoint_sizes(rng: &mut StdRng, n: u64) -> Vec<u64> {
    let mut sizes: Vec<u64> = (1..=10).collect();
    for p in 2..17 {
        let p = 1u64 << p;
        sizes.extend([p - 1, p, p + 1]);
    }
    sizes.extend((0..40).map(|_| rng.random_range(1..=n)));
    sizes.push(n);
    sizes.retain(|&s| s <= n);
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn ct_root(h: &Hash, size: u64) -> RootHash<Sha256> {
    RootHash::new((*h).into(), size)
}

#[test]
fn roots_and_proofs_match_ct_merkle() {
    // One tree of exactly 10^5 leaves, then random trees of random size.
    let mut rng = StdRng::seed_from_u64(0x75726e61);
    compare_random_tree(&mut rng, 100_000);
    for _ in 0..3 {
        let n = rng.random_range(1..=100_000);
        compare_random_tree(&mut rng, n);
    }
}

fn compare_random_tree(rng: &mut StdRng, n: u64) {
    let sizes = checkpoint_sizes(rng, n);
    let mut theirs = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut ours = MemoryTree::new();
    let mut compared = (0usize, 0usize, 0usize);
    let mut next = sizes.iter().copied().peekable();

    for i in 0..n {
        let len = rng.random_range(0..48);
        let mut leaf = vec![0u8; len];
        rng.fill(&mut leaf[..]);
        ours.push(leaf_hash(&leaf)).unwrap();
        theirs.push(leaf);

        let size = i + 1;
        if next.peek() != Some(&size) {
            continue;
        }
        next.next();

        let root = ours.root();
        assert_eq!(
            theirs.root().as_bytes().as_slice(),
            root.as_slice(),
            "root at {size}"
        );
        compared.0 += 1;

        for _ in 0..8 {
            let index = rng.random_range(0..size);
            let proof = ours.inclusion_proof(index, size).unwrap();
            let theirs_proof = theirs.prove_inclusion(index as usize);
            assert_eq!(
                theirs_proof.as_bytes(),
                proof.concat().as_slice(),
                "inclusion {index} in {size}"
            );
            let leaf = theirs.get(index as usize).unwrap();
            verify_inclusion(&leaf_hash(leaf), index, size, &proof, &root).unwrap();
            let as_theirs = InclusionProof::<Sha256>::from_bytes(proof.concat());
            ct_root(&root, size)
                .verify_inclusion(leaf, index, &as_theirs)
                .unwrap();
            compared.1 += 1;
        }

        for _ in 0..8 {
            let old = rng.random_range(1..=size);
            let proof = ours.consistency_proof(old, size).unwrap();
            let theirs_proof = theirs.prove_consistency((size - old) as usize);
            assert_eq!(
                theirs_proof.as_bytes(),
                proof.concat().as_slice(),
                "consistency {old} -> {size}"
            );
            let old_root = ours.root_at(old).unwrap();
            verify_consistency(old, size, &proof, &old_root, &root).unwrap();
            let as_theirs = ConsistencyProof::<Sha256>::try_from_bytes(proof.concat()).unwrap();
            ct_root(&root, size)
                .verify_consistency(&ct_root(&old_root, old), &as_theirs)
                .unwrap();
            compared.2 += 1;
        }
    }
    assert!(next.peek().is_none());
    // Guard against the loop silently comparing nothing.
    assert_eq!(compared.0, sizes.len(), "{compared:?}");
    assert_eq!(compared.1, compared.0 * 8);
    assert_eq!(compared.2, compared.0 * 8);
}
