//! Property tests of the tree, proofs and frontier.
//!
//! Bit flips of the *sizes* (and the index) need care: an RFC 9162 proof does
//! not always pin the tree size. The verifier's computation depends only on
//! the "shape" of the path — which side each proof hash joins on — so a
//! proof for (index, size) also verifies for any (index', size') with the
//! same shape. The tests therefore assert the exact law: a changed claim
//! verifies if and only if its shape, computed by a separate recursive
//! transcription of RFC 9162 §2.1.3.1/§2.1.4.1, equals the original's.

// clippy.toml allows unwrap in #[test] fns; this extends it to the helpers here.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use urna_board::*;

fn leaves(n: u64, seed: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 PATH(m, D[n]) as the side each proof hash joins on, bottom-up
/// (true = the proof hash is the left child).
fn inclusion_shape(m: u64, n: u64) -> Vec<bool> {
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    let mut v = if m < k {
        inclusion_shape(m, k)
    } else {
        inclusion_shape(m - k, n - k)
    };
    v.push(m >= k);
    v
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Step {
    /// The hash of the old tree's rightmost node, seeding both roots.
    Seed,
    /// Joins on the left of both the old and new paths.
    Left,
    /// Joins on the right of the new path only.
    Right,
}

/// RFC 9162 SUBPROOF(m, D[lo:hi], b) as steps, bottom-up.
fn consistency_shape(m: u64, lo: u64, hi: u64, whole: bool) -> Vec<Step> {
    if m == hi {
        return if whole { Vec::new() } else { vec![Step::Seed] };
    }
    let k = split(hi - lo);
    let mut v;
    if m <= lo + k {
        v = consistency_shape(m, lo, lo + k, whole);
        v.push(Step::Right);
    } else {
        v = consistency_shape(m, lo + k, hi, false);
        v.push(Step::Left);
    }
    v
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8] ^= 1 << (bit % 8);
    h
}

prop_compose! {
    fn tree_and_index()(size in 1u64..700, seed in any::<u64>())
        (index in 0..size, size in Just(size), seed in Just(seed)) -> (u64, u64, u64) {
        (index, size, seed)
    }
}

prop_compose! {
    fn tree_and_sizes()(new in 2u64..700, seed in any::<u64>())
        (old in 1..new, new in Just(new), seed in Just(seed)) -> (u64, u64, u64) {
        (old, new, seed)
    }
}

proptest! {
    #[test]
    fn inclusion_proofs_verify_and_every_bit_matters(
        (index, size, seed) in tree_and_index(),
        bits in proptest::collection::vec(0usize..256, 12),
    ) {
        let l = leaves(size, seed);
        let tree = MemoryTree::from_leaves(l.iter().copied()).unwrap();
        let root = tree.root();
        prop_assert_eq!(root, root_of(&l));
        let proof = tree.inclusion_proof(index, size).unwrap();
        let leaf = l[index as usize];
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));

        // Plan assembled in one ordered batch == assembled by lookup.
        let plan = inclusion_proof_plan(index, size).unwrap();
        let fetched: Vec<Hash> =
            plan.subtrees().iter().map(|&id| tree.perfect(id).unwrap()).collect();
        prop_assert_eq!(plan.assemble_ordered(&fetched).unwrap(), proof.clone());
        prop_assert_eq!(plan.assemble(|id| tree.perfect(id)).unwrap(), proof.clone());

        for (k, &bit) in bits.iter().enumerate().take(proof.len()) {
            let mut bad = proof.clone();
            bad[k] = flip(&bad[k], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        prop_assert!(verify_inclusion(&flip(&leaf, bits[0]), index, size, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bits[1])).is_err());
        let mut shorter = proof.clone();
        if shorter.pop().is_some() {
            prop_assert!(verify_inclusion(&leaf, index, size, &shorter, &root).is_err());
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());

        let shape = inclusion_shape(index, size);
        for b in 0..64 {
            for (i2, s2) in [(index ^ (1 << b), size), (index, size ^ (1 << b))] {
                let ok = verify_inclusion(&leaf, i2, s2, &proof, &root).is_ok();
                let same = i2 < s2 && s2 <= MAX_TREE_SIZE && inclusion_shape(i2, s2) == shape;
                prop_assert_eq!(ok, same, "index {} size {} -> {} {}", index, size, i2, s2);
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_every_bit_matters(
        (old, new, seed) in tree_and_sizes(),
        bits in proptest::collection::vec(0usize..256, 12),
    ) {
        let l = leaves(new, seed);
        let tree = MemoryTree::from_leaves(l.iter().copied()).unwrap();
        let (old_root, new_root) = (root_of(&l[..old as usize]), tree.root());
        prop_assert_eq!(tree.root_at(old).unwrap(), old_root);
        let proof = tree.consistency_proof(old, new).unwrap();
        prop_assert_eq!(verify_consistency(old, new, &proof, &old_root, &new_root), Ok(()));

        for (k, &bit) in bits.iter().enumerate().take(proof.len()) {
            let mut bad = proof.clone();
            bad[k] = flip(&bad[k], bit);
            prop_assert!(verify_consistency(old, new, &bad, &old_root, &new_root).is_err());
        }
        prop_assert!(
            verify_consistency(old, new, &proof, &flip(&old_root, bits[0]), &new_root).is_err()
        );
        prop_assert!(
            verify_consistency(old, new, &proof, &old_root, &flip(&new_root, bits[1])).is_err()
        );
        let mut shorter = proof.clone();
        shorter.pop();
        prop_assert!(verify_consistency(old, new, &shorter, &old_root, &new_root).is_err());

        let shape = consistency_shape(old, 0, new, true);
        for b in 0..64 {
            for (o2, n2) in [(old ^ (1 << b), new), (old, new ^ (1 << b))] {
                let ok = verify_consistency(o2, n2, &proof, &old_root, &new_root).is_ok();
                let same = 0 < o2
                    && o2 < n2
                    && n2 <= MAX_TREE_SIZE
                    && consistency_shape(o2, 0, n2, true) == shape;
                prop_assert_eq!(ok, same, "{} -> {} became {} -> {}", old, new, o2, n2);
            }
        }
    }

    #[test]
    fn restart_from_stored_hashes_equals_continuing(
        s1 in 0u64..600, extra in 0u64..600, seed: u64,
    ) {
        let s2 = s1 + extra;
        let l = leaves(s2, seed);
        let full = MemoryTree::from_leaves(l.iter().copied()).unwrap();

        let mut continuing = Frontier::new();
        let mut continuing_rows = Vec::new();
        for (i, leaf) in l.iter().enumerate() {
            let rows = continuing.push(*leaf).unwrap();
            if i as u64 >= s1 {
                continuing_rows.extend(rows);
            }
        }

        let mut restored = Frontier::restore(s1, &full).unwrap();
        let plan = Frontier::restore_plan(s1);
        let hashes = plan.iter().map(|&id| full.perfect(id).unwrap()).collect();
        prop_assert_eq!(&Frontier::from_hashes(s1, hashes).unwrap(), &restored);
        prop_assert_eq!(restored.root(), root_of(&l[..s1 as usize]));
        let mut restored_rows = Vec::new();
        for leaf in &l[s1 as usize..] {
            restored_rows.extend(restored.push(*leaf).unwrap());
        }
        prop_assert_eq!(restored_rows, continuing_rows);
        prop_assert_eq!(&restored, &continuing);
        prop_assert_eq!(restored.root(), full.root());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn frontier_matches_reference_for_every_prefix(n in 0u64..300, seed: u64) {
        let l = leaves(n, seed);
        let mut f = Frontier::new();
        prop_assert_eq!(f.root(), empty_root());
        for i in 0..l.len() {
            for (id, hash) in f.push(l[i]).unwrap() {
                // Every reported subtree is complete and hashes its leaves.
                let start = id.first_leaf().unwrap() as usize;
                let end = id.end_leaf().unwrap() as usize;
                prop_assert_eq!(end, ((i + 1) >> id.level) << id.level);
                prop_assert_eq!(hash, root_of(&l[start..end]));
            }
            prop_assert_eq!(f.size(), i as u64 + 1);
            prop_assert_eq!(f.root(), root_of(&l[..=i]));
        }
    }
}
