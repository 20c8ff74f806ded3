//! Observers' cosignatures in the store (spec/board.md §B10): durable
//! across a reopen, created in databases from before the table existed,
//! kept for the largest cosigned sizes only, and capped per checkpoint; on
//! SQLite and on PostgreSQL (`store_db`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::store_db;

use store_db::Db;

use urna_board::{BoardSigningKey, Entry, EntryKind, ObserverSigningKey, cosign_checkpoint};
use urna_store::{BoardStore, ErrorKind, MAX_COSIGNATURES_PER_SIZE, StoreError, StoreOptions};

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("urna.example/cosign", &[7; 32]).unwrap()
}

fn open_keeping(db: &Db, keep: u64) -> BoardStore {
    let mut opts = StoreOptions::default();
    opts.cosigned_sizes_kept = keep;
    db.open(key(), opts)
}

fn observer(i: u32) -> ObserverSigningKey {
    let mut seed = [1u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    ObserverSigningKey::from_secret_bytes(&format!("o{i}.observer.example"), &seed).unwrap()
}

fn cosign(
    store: &BoardStore,
    size: u64,
    o: &ObserverSigningKey,
    ts: u64,
) -> Result<usize, StoreError> {
    let cp = store.checkpoint(size).unwrap();
    let sig = cosign_checkpoint(o, cp.checkpoint(), ts).unwrap();
    store.add_cosignature(size, &o.verifier_key(), sig)
}

fn grow(store: &BoardStore, n: u8) {
    for i in 0..n {
        let e = Entry::new(EntryKind::Ballot, &[i, store.size() as u8]).unwrap();
        store.append(e).unwrap();
    }
}

fn rows(db: &Db) -> i64 {
    db.count("SELECT COUNT(*) FROM board_cosignatures")
}

fn cosignatures_survive_a_reopen_and_replace_by_observer(db: &Db) {
    let path = db;
    let (a, b) = (observer(1), observer(2));
    {
        let store = open_keeping(path, 16);
        grow(&store, 3);
        assert_eq!(cosign(&store, 3, &a, 100).unwrap(), 1);
        assert_eq!(cosign(&store, 3, &a, 200).unwrap(), 1, "a replaces its own");
        assert_eq!(cosign(&store, 3, &b, 300).unwrap(), 2);
        assert_eq!(cosign(&store, 1, &b, 400).unwrap(), 1);
        // Beyond the tree: refused, nothing stored.
        let sig = cosign_checkpoint(&a, store.checkpoint(3).unwrap().checkpoint(), 1).unwrap();
        let e = store
            .add_cosignature(9, &a.verifier_key(), sig)
            .unwrap_err();
        assert_eq!(e.code(), "size_beyond_tree");
    }
    assert_eq!(rows(path), 3);
    let store = open_keeping(path, 16);
    let at3 = store.cosignatures(3);
    assert_eq!(at3.len(), 2);
    let cp = store.checkpoint(3).unwrap();
    let expect_a = cosign_checkpoint(&a, cp.checkpoint(), 200).unwrap();
    assert_eq!(at3[0], expect_a, "the replacement, not the first");
    assert_eq!(store.cosignatures(1).len(), 1);
    assert!(store.cosignatures(2).is_empty());
}

fn a_database_from_before_the_table_gets_it_on_open(db: &Db) {
    let path = db;
    {
        let store = open_keeping(path, 16);
        grow(&store, 2);
    }
    // What a version-1 database written before cosignatures were stored
    // looks like.
    path.execute("DROP TABLE board_cosignatures");
    let store = open_keeping(path, 16);
    assert_eq!(store.size(), 2);
    cosign(&store, 2, &observer(1), 5).unwrap();
    drop(store);
    assert_eq!(rows(path), 1);
}

fn only_the_largest_cosigned_sizes_are_kept(db: &Db) {
    let path = db;
    let o = observer(1);
    {
        let store = open_keeping(path, 3);
        grow(&store, 6);
        for size in 1..=5 {
            cosign(&store, size, &o, size).unwrap();
        }
        assert!(store.cosignatures(2).is_empty());
        assert_eq!(store.cosignatures(3).len(), 1);
        // An older size than all kept is stored and pruned at once.
        assert_eq!(cosign(&store, 1, &o, 9).unwrap(), 0);
        assert!(store.cosignatures(1).is_empty());
    }
    assert_eq!(rows(path), 3);
    let store = open_keeping(path, 3);
    let kept: Vec<u64> = (0..=6)
        .filter(|s| !store.cosignatures(*s).is_empty())
        .collect();
    assert_eq!(kept, vec![3, 4, 5]);
}

fn a_full_checkpoint_refuses_new_observers_and_stores_nothing(db: &Db) {
    let path = db;
    let store = open_keeping(path, 16);
    grow(&store, 1);
    for i in 0..MAX_COSIGNATURES_PER_SIZE as u32 {
        cosign(&store, 1, &observer(i), 1).unwrap();
    }
    let e = cosign(&store, 1, &observer(1000), 1).unwrap_err();
    assert_eq!(e.code(), "cosignatures_full");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    // A replacement by an observer already there still fits.
    assert_eq!(
        cosign(&store, 1, &observer(0), 2).unwrap(),
        MAX_COSIGNATURES_PER_SIZE
    );
    drop(store);
    assert_eq!(rows(path), MAX_COSIGNATURES_PER_SIZE as i64);
}

fn a_stored_line_that_does_not_parse_is_refused_on_open(db: &Db) {
    let path = db;
    {
        let store = open_keeping(path, 16);
        grow(&store, 1);
        cosign(&store, 1, &observer(1), 1).unwrap();
    }
    path.execute("UPDATE board_cosignatures SET line = 'garbage'");
    let e = path.try_open(key(), StoreOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
    assert!(e.to_string().contains("cosignature"), "{e}");
}

both!(
    cosignatures_survive_a_reopen_and_replace_by_observer,
    a_database_from_before_the_table_gets_it_on_open,
    only_the_largest_cosigned_sizes_are_kept,
    a_full_checkpoint_refuses_new_observers_and_stores_nothing,
    a_stored_line_that_does_not_parse_is_refused_on_open,
);
