//! Behaviour of the board store, on SQLite and on PostgreSQL (`store_db`,
//! the `both!` list at the end): round trips, proofs checked with
//! `urna_board::verify_*` against an in-memory oracle, restarts, concurrent
//! appenders, tiles, and refusals that change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::store_db;

use std::collections::HashSet;
use std::sync::Arc;

use store_db::Db;

use urna_board::{
    BoardSigningKey, BundleId, Entry, EntryKind, Hash, MemoryTree, SignedNote, TileId, TilePath,
    parse_tile_path, verify_checkpoint, verify_consistency, verify_inclusion,
};
use urna_store::{BoardStore, ErrorKind, StoreError, StoreOptions};

const ORIGIN: &str = "urna.example/test";

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &[7; 32]).unwrap()
}

fn open_with(db: &Db, cache_min_level: u8) -> BoardStore {
    let mut opts = StoreOptions::default();
    opts.cache_min_level = cache_min_level;
    opts.max_page = 100;
    db.open(key(), opts)
}

fn open(db: &Db) -> BoardStore {
    open_with(db, 4)
}

fn entry(i: u64) -> Entry {
    let kind = EntryKind::ALL[(i as usize) % EntryKind::ALL.len()];
    let payload = format!("entry number {i} ").repeat(1 + (i % 5) as usize);
    Entry::new(kind, payload.as_bytes()).unwrap()
}

fn fill(store: &BoardStore, range: std::ops::Range<u64>) -> Vec<Entry> {
    range
        .map(|i| {
            let e = entry(i);
            store.append(e.clone()).unwrap();
            e
        })
        .collect()
}

fn oracle(store: &BoardStore) -> MemoryTree {
    let size = store.size();
    let mut tree = MemoryTree::new();
    let mut start = 0;
    while start < size {
        for e in store.entries(start, size).unwrap() {
            assert_eq!(e.index, start);
            tree.push(e.entry.leaf_hash()).unwrap();
            start += 1;
        }
    }
    tree
}

fn new_board_has_a_signed_empty_checkpoint(db: &Db) {
    let store = open(db);
    let cp = store.latest_checkpoint();
    assert_eq!(cp.size(), 0);
    assert_eq!(*cp.root(), urna_board::empty_root());
    let note = SignedNote::parse(cp.text().as_bytes()).unwrap();
    let verified = verify_checkpoint(&note, &key().verifier_key(), &[]).unwrap();
    assert_eq!(verified.checkpoint.origin(), ORIGIN);
    assert_eq!(store.origin(), ORIGIN);
}

fn append_and_read_round_trip(db: &Db) {
    let store = open(db);
    let vkey = key().verifier_key();
    let mut entries = Vec::new();
    for i in 0..40 {
        let e = entry(i);
        let ack = store.append(e.clone()).unwrap();
        assert_eq!(ack.index, i);
        assert_eq!(ack.leaf_hash, e.leaf_hash());
        // The acknowledgement carries a signed checkpoint that includes it.
        assert!(ack.checkpoint.size() > i);
        let note = SignedNote::parse(ack.checkpoint.text().as_bytes()).unwrap();
        verify_checkpoint(&note, &vkey, &[]).unwrap();
        let proof = store.inclusion_proof(i, ack.checkpoint.size()).unwrap();
        verify_inclusion(
            &ack.leaf_hash,
            i,
            ack.checkpoint.size(),
            &proof,
            ack.checkpoint.root(),
        )
        .unwrap();
        entries.push(e);
    }
    for (i, e) in entries.iter().enumerate() {
        let got = store.entry(i as u64).unwrap();
        assert_eq!(got.entry, *e);
        assert_eq!(got.entry.bytes(), e.bytes());
        assert_eq!(got.leaf_hash, e.leaf_hash());
        assert_eq!(store.entry_by_hash(&e.leaf_hash()).unwrap(), got);
    }
    let page = store.entries(5, 15).unwrap();
    assert_eq!(page.len(), 10);
    for (k, got) in page.iter().enumerate() {
        assert_eq!(got.index, 5 + k as u64);
        assert_eq!(got.entry, entries[5 + k]);
    }
    // `end` beyond the tree is lowered to the size.
    assert_eq!(store.entries(30, 1000).unwrap().len(), 10);
    assert!(store.entries(3, 3).unwrap().is_empty());
    // Every published checkpoint is kept.
    let cp = store.checkpoint(7).unwrap();
    assert_eq!(cp.size(), 7);
    assert_eq!(*cp.root(), oracle(&store).root_at(7).unwrap());
}

fn pages_are_capped(db: &Db) {
    let store = open(db);
    fill(&store, 0..250);
    let page = store.entries(0, 250).unwrap();
    assert_eq!(page.len(), 100, "max_page is 100 in these tests");
    assert_eq!(page.last().unwrap().index, 99);
    assert_eq!(store.entries(200, u64::MAX).unwrap().len(), 50);
}

fn check_all_proofs(store: &BoardStore) {
    let tree = oracle(store);
    let size = store.size();
    let sizes: Vec<u64> = (1..=size)
        .filter(|s| s % 13 == 0 || *s < 20 || *s == size)
        .collect();
    for &n in &sizes {
        let root = tree.root_at(n).unwrap();
        for m in (0..n).step_by(7).chain([n - 1]) {
            let proof = store.inclusion_proof(m, n).unwrap();
            assert_eq!(proof, tree.inclusion_proof(m, n).unwrap());
            verify_inclusion(&tree_leaf(store, m), m, n, &proof, &root).unwrap();
        }
        for &old in sizes.iter().filter(|&&o| o <= n) {
            let proof = store.consistency_proof(old, n).unwrap();
            verify_consistency(old, n, &proof, &tree.root_at(old).unwrap(), &root).unwrap();
        }
        let proof = store.consistency_proof(0, n).unwrap();
        verify_consistency(0, n, &proof, &urna_board::empty_root(), &root).unwrap();
    }
}

fn tree_leaf(store: &BoardStore, i: u64) -> Hash {
    store.entry(i).unwrap().leaf_hash
}

fn proofs_verify_with_and_without_the_hot_cache(db: &Db) {
    let path = db;
    {
        // All levels from the database.
        let store = open_with(path, 64);
        fill(&store, 0..300);
        check_all_proofs(&store);
    }
    // All levels above the leaves from memory; then the default.
    check_all_proofs(&open_with(path, 1));
    check_all_proofs(&open(path));
}

fn proof_by_leaf_hash(db: &Db) {
    let store = open(db);
    let entries = fill(&store, 0..20);
    let cp = store.latest_checkpoint();
    let (index, proof) = store
        .inclusion_proof_by_hash(&entries[11].leaf_hash(), cp.size())
        .unwrap();
    assert_eq!(index, 11);
    verify_inclusion(&entries[11].leaf_hash(), 11, cp.size(), &proof, cp.root()).unwrap();
    // In a tree that does not contain it yet.
    let err = store
        .inclusion_proof_by_hash(&entries[11].leaf_hash(), 5)
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::IndexOutOfRange { index: 11, size: 5 }
    ));
}

fn tiles_and_bundles_match_the_tree(db: &Db) {
    let store = open(db);
    let entries = fill(&store, 0..700);
    let tree = oracle(&store);
    let size = store.size();
    for path in [
        "tile/0/000",
        "tile/0/001",
        "tile/0/002.p/188",
        "tile/0/002.p/5",
        "tile/1/000.p/2",
        "tile/entries/000",
        "tile/entries/001",
        "tile/entries/002.p/188",
        "tile/entries/002.p/1",
    ] {
        let parsed = parse_tile_path(path).unwrap();
        let bytes = store.tile(parsed).unwrap();
        match parsed {
            TilePath::Hashes(t) => assert_eq!(bytes, t.encode(&tree).unwrap(), "{path}"),
            TilePath::Entries(b) => {
                let got = b.decode(&bytes).unwrap();
                let want: Vec<Entry> = b.entries().map(|i| entries[i as usize].clone()).collect();
                assert_eq!(got, want, "{path}");
            }
        }
    }
    // Beyond the tree: refused, nothing changes.
    for path in [
        "tile/0/002",
        "tile/0/003.p/1",
        "tile/1/000.p/3",
        "tile/2/000.p/1",
        "tile/entries/002.p/189",
    ] {
        let err = store.tile(parse_tile_path(path).unwrap()).unwrap_err();
        assert!(
            matches!(err, StoreError::TileBeyondTree { .. }),
            "{path}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.code(), "tile_beyond_tree");
    }
    assert_eq!(store.size(), size);
    let t = TileId::new(0, 1, 256).unwrap();
    assert_eq!(store.hash_tile(t).unwrap().len(), 256 * 32);
    let b = BundleId::new(0, 256).unwrap();
    assert_eq!(
        b.decode(&store.entry_bundle(b).unwrap()).unwrap().len(),
        256
    );
}

fn restart_equals_continuing(db: &Db) {
    let a = db;
    let b = &db.another();
    {
        let store = open(a);
        fill(&store, 0..123);
    }
    for round in 0..3u64 {
        let store = open(a);
        assert_eq!(store.size(), 123 + round * 50);
        fill(&store, 123 + round * 50..123 + (round + 1) * 50);
    }
    let continuous = open(b);
    fill(&continuous, 0..273);
    let restarted = open(a);
    assert_eq!(restarted.size(), 273);
    // Same entries in the same order: same tree, same signed checkpoint
    // (Ed25519 signatures are deterministic).
    assert_eq!(
        restarted.latest_checkpoint().text(),
        continuous.latest_checkpoint().text()
    );
    assert_eq!(
        restarted.consistency_proof(100, 273).unwrap(),
        continuous.consistency_proof(100, 273).unwrap()
    );
    for i in (0..273).step_by(17) {
        assert_eq!(restarted.entry(i).unwrap(), continuous.entry(i).unwrap());
        assert_eq!(
            restarted.inclusion_proof(i, 273).unwrap(),
            continuous.inclusion_proof(i, 273).unwrap()
        );
    }
    // Duplicates are still recognised after a restart.
    let err = restarted.append(entry(5)).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { index: 5, .. }));
}

fn concurrent_appenders_get_distinct_indices(db: &Db) {
    let store = open(db);
    let acks: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16u64)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    (0..100u64)
                        .map(|k| {
                            let e = entry(1000 + t * 100 + k);
                            let ack = store.append(e.clone()).unwrap();
                            (ack, e)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let indices: HashSet<u64> = acks.iter().map(|(a, _)| a.index).collect();
    assert_eq!(indices.len(), 1600);
    assert_eq!(indices.iter().max(), Some(&1599));
    for (ack, e) in &acks {
        assert!(ack.checkpoint.size() > ack.index);
        assert_eq!(store.entry(ack.index).unwrap().entry, *e);
    }
    let stats = store.stats();
    assert_eq!(stats.entries, 1600);
    assert!(stats.batches <= 1600);
    check_all_proofs(&store);
}

fn async_appends(db: &Db) {
    let store = open(db);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let acks = rt.block_on(async {
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.append_async(entry(i)).await })
            })
            .collect();
        let mut acks = Vec::new();
        for t in tasks {
            acks.push(t.await.unwrap().unwrap());
        }
        acks
    });
    let indices: HashSet<u64> = acks.iter().map(|a| a.index).collect();
    assert_eq!(indices.len(), 200);
    assert_eq!(store.size(), 200);
    // With 200 appends in flight, group commit batched some of them.
    assert!(store.stats().batches < 200, "{:?}", store.stats());
}

fn duplicates_are_refused_even_within_one_batch(db: &Db) {
    let store = open(db);
    fill(&store, 0..3);
    let same = entry(77);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let e = same.clone();
                s.spawn(move || store.append(e))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    let index = winners[0].index;
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, StoreError::Duplicate { index: i, .. } if *i == index),
                "{e}"
            );
            assert_eq!(e.kind(), ErrorKind::Conflict);
            assert_eq!(e.code(), "duplicate_entry");
            assert!(e.is_bad_request());
        }
    }
    assert_eq!(store.size(), 4);
}

fn bad_requests_are_refused_and_change_nothing(db: &Db) {
    let store = open(db);
    let entries = fill(&store, 0..10);
    let before = store.latest_checkpoint();
    let size = before.size();
    assert_eq!(size, 10);

    let cases: Vec<(StoreError, ErrorKind, &str)> = vec![
        (
            store.entry(10).unwrap_err(),
            ErrorKind::NotFound,
            "index_out_of_range",
        ),
        (
            store.entry(u64::MAX).unwrap_err(),
            ErrorKind::NotFound,
            "index_out_of_range",
        ),
        (
            store.entries(10, 12).unwrap_err(),
            ErrorKind::NotFound,
            "index_out_of_range",
        ),
        (
            store.entries(5, 3).unwrap_err(),
            ErrorKind::InvalidRequest,
            "invalid_range",
        ),
        (
            store.entry_by_hash(&[9; 32]).unwrap_err(),
            ErrorKind::NotFound,
            "unknown_leaf_hash",
        ),
        (
            store.inclusion_proof(0, 0).unwrap_err(),
            ErrorKind::NotFound,
            "index_out_of_range",
        ),
        (
            store.inclusion_proof(5, 5).unwrap_err(),
            ErrorKind::NotFound,
            "index_out_of_range",
        ),
        (
            store.inclusion_proof(0, 11).unwrap_err(),
            ErrorKind::NotFound,
            "size_beyond_tree",
        ),
        (
            store.inclusion_proof(0, u64::MAX).unwrap_err(),
            ErrorKind::NotFound,
            "size_beyond_tree",
        ),
        (
            store.inclusion_proof_by_hash(&[9; 32], 10).unwrap_err(),
            ErrorKind::NotFound,
            "unknown_leaf_hash",
        ),
        (
            store.consistency_proof(6, 5).unwrap_err(),
            ErrorKind::InvalidRequest,
            "old_size_larger_than_new",
        ),
        (
            store.consistency_proof(1, 11).unwrap_err(),
            ErrorKind::NotFound,
            "size_beyond_tree",
        ),
        (
            store.checkpoint(11).unwrap_err(),
            ErrorKind::NotFound,
            "size_beyond_tree",
        ),
        (
            store.append(entries[3].clone()).unwrap_err(),
            ErrorKind::Conflict,
            "duplicate_entry",
        ),
    ];
    for (err, kind, code) in cases {
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(err.code(), code, "{err}");
        assert!(err.is_bad_request());
        assert!(!err.to_string().is_empty());
    }
    assert!(matches!(
        store.inclusion_proof(3, 11).unwrap_err(),
        StoreError::SizeBeyondTree {
            size: 11,
            tree_size: 10
        }
    ));
    assert_eq!(*store.latest_checkpoint(), *before);
    assert_eq!(store.stats().entries, 10);
}

fn unpublished_sizes_have_no_checkpoint(db: &Db) {
    let store = open(db);
    // One batch of many entries: only its final size gets a checkpoint.
    std::thread::scope(|s| {
        for t in 0..32 {
            let store = store.clone();
            s.spawn(move || {
                for k in 0..10 {
                    store.append(entry(t * 10 + k)).unwrap();
                }
            });
        }
    });
    let size = store.size();
    let published: Vec<u64> = (0..=size)
        .filter(|&n| store.checkpoint(n).is_ok())
        .collect();
    assert!(published.contains(&0) && published.contains(&size));
    if published.len() as u64 <= size {
        let missing = (0..=size).find(|n| !published.contains(n)).unwrap();
        let err = store.checkpoint(missing).unwrap_err();
        assert!(matches!(err, StoreError::UnknownCheckpoint(n) if n == missing));
        assert_eq!(err.code(), "unknown_checkpoint");
    }
}

fn opening_with_another_key_is_refused(db: &Db) {
    let path = db;
    fill(&open(path), 0..5);
    let other = BoardSigningKey::from_secret_bytes(ORIGIN, &[8; 32]).unwrap();
    let err = path
        .try_open(other.clone(), StoreOptions::default())
        .unwrap_err();
    match &err {
        StoreError::WrongBoardKey { stored, configured } => {
            assert_eq!(*stored, key().verifier_key().to_string());
            assert_eq!(*configured, other.verifier_key().to_string());
        }
        _ => panic!("{err}"),
    }
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(err.code(), "board_key_mismatch");
    assert!(!err.is_bad_request());
    assert!(err.to_string().contains("board key"), "{err}");
    // Another origin with the same secret is another key too.
    let renamed = BoardSigningKey::from_secret_bytes("urna.example/other", &[7; 32]).unwrap();
    let err = path.try_open(renamed, StoreOptions::default()).unwrap_err();
    assert_eq!(err.code(), "board_key_mismatch", "{err}");
    // The board is untouched.
    assert_eq!(open(path).size(), 5);
}

fn a_board_from_before_keys_were_recorded_checks_its_checkpoint(db: &Db) {
    fill(&open(db), 0..3);
    db.execute("DELETE FROM urna_meta WHERE name = 'board_key'");
    let other = BoardSigningKey::from_secret_bytes(ORIGIN, &[8; 32]).unwrap();
    let err = db.try_open(other, StoreOptions::default()).unwrap_err();
    assert_eq!(err.code(), "board_key_mismatch", "{err}");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM urna_meta WHERE name = 'board_key'"),
        0,
        "a refused open records nothing"
    );
    // The right key opens it and records itself.
    assert_eq!(open(db).size(), 3);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM urna_meta WHERE name = 'board_key'"),
        1
    );
}

fn tampering_is_detected_on_open(db: &Db) {
    let path = db;
    fill(&open(path), 0..9);
    // Rewrite a frontier hash (size 9 = 8 + 1: subtree (3, 0) and leaf 8).
    path.execute(&format!(
        "UPDATE board_subtrees SET hash = {} WHERE level = 3 AND idx = 0",
        path.blob(&[0u8; 32])
    ));
    let err = path.try_open(key(), StoreOptions::default()).unwrap_err();
    assert!(err.to_string().contains("root"), "{err}");
}

fn store_handle_is_send_sync_clone(db: &Db) {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<BoardStore>();
    let store = Arc::new(open(db));
    let s2 = (*store).clone();
    s2.append(entry(1)).unwrap();
    assert_eq!(store.size(), 1);
    assert!(format!("{store:?}").contains("BoardStore"));
}

fn ordered_appends_keep_their_order_under_concurrency(db: &Db) {
    let key =
        urna_board::BoardSigningKey::from_secret_bytes("urna.example/order", &[3; 32]).unwrap();
    let store = db.open(key, StoreOptions::default());
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let store = store.clone();
            s.spawn(move || {
                let entries: Vec<_> = (0..200u16)
                    .map(|i| {
                        let mut p = vec![t];
                        p.extend_from_slice(&i.to_be_bytes());
                        urna_board::Entry::new(urna_board::EntryKind::Ballot, &p).unwrap()
                    })
                    .collect();
                let acks = store.append_ordered(entries).unwrap();
                assert!(acks.windows(2).all(|w| w[0].index < w[1].index));
            });
        }
    });
    assert_eq!(store.size(), 800);
}

/// Two stores on one database: the one whose idea of the board is stale
/// cannot append (PostgreSQL: the head fence; SQLite: the primary keys),
/// and nothing of what the other appended is harmed.
fn a_second_writer_is_fenced(db: &Db) {
    let first = open(db);
    let second = open(db);
    fill(&first, 0..4);
    let err = second.append(entry(100)).unwrap_err();
    assert_eq!(err.code(), "writer_stopped", "{err}");
    if db.is_postgres() {
        assert!(err.to_string().contains("fenced"), "{err}");
    }
    // Stopped for good: later appends are refused too.
    assert_eq!(
        second.append(entry(101)).unwrap_err().code(),
        "writer_stopped"
    );
    fill(&first, 4..6);
    drop((first, second));
    let store = open(db);
    assert_eq!(store.size(), 6);
    check_all_proofs(&store);
    assert!(store.entry_by_hash(&entry(100).leaf_hash()).is_err());
}

both!(
    new_board_has_a_signed_empty_checkpoint,
    append_and_read_round_trip,
    pages_are_capped,
    proofs_verify_with_and_without_the_hot_cache,
    proof_by_leaf_hash,
    tiles_and_bundles_match_the_tree,
    restart_equals_continuing,
    concurrent_appenders_get_distinct_indices,
    async_appends,
    duplicates_are_refused_even_within_one_batch,
    bad_requests_are_refused_and_change_nothing,
    unpublished_sizes_have_no_checkpoint,
    opening_with_another_key_is_refused,
    a_board_from_before_keys_were_recorded_checks_its_checkpoint,
    tampering_is_detected_on_open,
    store_handle_is_send_sync_clone,
    ordered_appends_keep_their_order_under_concurrency,
    a_second_writer_is_fenced,
);

/// Same entries in the same order: the same bytes, tiles and signed
/// checkpoints on SQLite and on PostgreSQL.
#[test]
fn both_backends_give_the_same_board() {
    let Some(pg) = Db::postgres("same_board") else {
        return;
    };
    let lite = Db::sqlite();
    let (a, b) = (open(&lite), open(&pg));
    for i in 0..300u64 {
        let (x, y) = (a.append(entry(i)).unwrap(), b.append(entry(i)).unwrap());
        assert_eq!(x.index, y.index);
        assert_eq!(x.checkpoint.text(), y.checkpoint.text());
    }
    for size in [0, 1, 17, 256, 300] {
        assert_eq!(
            a.checkpoint(size).unwrap().text(),
            b.checkpoint(size).unwrap().text()
        );
    }
    for path in [
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/entries/001.p/44",
    ] {
        let p = parse_tile_path(path).unwrap();
        assert_eq!(a.tile(p).unwrap(), b.tile(p).unwrap(), "{path}");
    }
    assert_eq!(a.entries(0, 100).unwrap(), b.entries(0, 100).unwrap());
    assert_eq!(
        a.consistency_proof(17, 300).unwrap(),
        b.consistency_proof(17, 300).unwrap()
    );
}
