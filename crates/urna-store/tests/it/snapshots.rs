//! Election-state snapshots in the store (issue 11 item 2): written with
//! the writer's next batch, durable across a reopen, never beyond the
//! stored board, only the largest sizes kept; on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::store_db;

use store_db::Db;
use urna_board::{BoardSigningKey, Entry, EntryKind};
use urna_store::{BoardStore, ErrorKind, Snapshot, StoreError, StoreOptions};

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("urna.example/snapshots", &[5; 32]).unwrap()
}

fn open_keeping(db: &Db, keep: u64) -> BoardStore {
    let mut opts = StoreOptions::default();
    opts.snapshots_kept = keep;
    db.open(key(), opts)
}

fn entry(i: u64) -> Entry {
    Entry::new(EntryKind::Ballot, format!("ballot {i}").as_bytes()).unwrap()
}

fn snapshot(size: u64) -> Snapshot {
    Snapshot {
        size,
        format: 3,
        state: format!("state after {size} entries").into_bytes(),
    }
}

fn round_trip_and_reopen(db: &Db) {
    {
        let store = open_keeping(db, 2);
        assert_eq!(store.latest_snapshot().unwrap(), None);
        for i in 0..10 {
            store.append(entry(i)).unwrap();
        }
        store.save_snapshot(snapshot(10)).unwrap();
        assert_eq!(store.latest_snapshot().unwrap(), Some(snapshot(10)));
        for i in 10..15 {
            store.append(entry(i)).unwrap();
        }
    }
    // A restarted server: the snapshot, then the tail after it.
    let store = open_keeping(db, 2);
    let snap = store.latest_snapshot().unwrap().unwrap();
    assert_eq!(snap, snapshot(10));
    let tail = store.entries(snap.size, store.size()).unwrap();
    assert_eq!(tail.len(), 5);
    for (k, e) in tail.iter().enumerate() {
        assert_eq!(e.index, 10 + k as u64);
        assert_eq!(e.entry, entry(10 + k as u64));
    }
    // Large states (a real engine's) go through too.
    let big = Snapshot {
        size: 15,
        format: u32::MAX,
        state: (0..3_000_000u32).map(|i| (i * 7) as u8).collect(),
    };
    store.save_snapshot(big.clone()).unwrap();
    drop(store);
    assert_eq!(
        open_keeping(db, 2).latest_snapshot().unwrap(),
        Some(big),
        "format and bytes exactly as given"
    );
}

fn beyond_the_board_is_refused_and_stores_nothing(db: &Db) {
    let store = open_keeping(db, 2);
    for i in 0..4 {
        store.append(entry(i)).unwrap();
    }
    store.save_snapshot(snapshot(2)).unwrap();
    let err = store.save_snapshot(snapshot(5)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::SnapshotBeyondBoard {
                size: 5,
                tree_size: 4
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "snapshot_beyond_board");
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.is_bad_request());
    assert_eq!(store.latest_snapshot().unwrap(), Some(snapshot(2)));
    assert_eq!(db.count("SELECT COUNT(*) FROM election_snapshots"), 1);
    // The writer goes on.
    store.append(entry(4)).unwrap();
    store.save_snapshot(snapshot(5)).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some(snapshot(5)));
}

fn only_the_largest_sizes_are_kept(db: &Db) {
    let store = open_keeping(db, 2);
    for i in 0..8 {
        store.append(entry(i)).unwrap();
    }
    for size in [2, 5, 8, 3] {
        store.save_snapshot(snapshot(size)).unwrap();
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM election_snapshots"), 2);
    assert_eq!(db.count("SELECT MIN(size) FROM election_snapshots"), 5);
    assert_eq!(store.latest_snapshot().unwrap(), Some(snapshot(8)));
    // The same size again replaces it.
    let mut again = snapshot(8);
    again.state = b"recomputed".to_vec();
    store.save_snapshot(again.clone()).unwrap();
    assert_eq!(store.latest_snapshot().unwrap(), Some(again));
    assert_eq!(db.count("SELECT COUNT(*) FROM election_snapshots"), 2);
}

/// Snapshots saved while appenders keep the writer busy: each is durable
/// when acknowledged and never ahead of the stored board.
fn saved_during_appends(db: &Db) {
    let store = open_keeping(db, 2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let last = rt.block_on(async {
        let appenders: Vec<_> = (0..8u64)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for k in 0..50 {
                        store.append_async(entry(1000 + t * 50 + k)).await.unwrap();
                    }
                })
            })
            .collect();
        let snapper = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..20 {
                    // A size the engine has applied: one it was handed.
                    let size = store.size();
                    store.save_snapshot_async(snapshot(size)).await.unwrap();
                    last = size;
                    tokio::task::yield_now().await;
                }
                last
            })
        };
        for a in appenders {
            a.await.unwrap();
        }
        snapper.await.unwrap()
    });
    drop(store);
    let store = open_keeping(db, 2);
    assert_eq!(store.size(), 400);
    let snap = store.latest_snapshot().unwrap().unwrap();
    assert_eq!(snap, snapshot(last));
    assert!(snap.size <= store.size());
}

both!(
    round_trip_and_reopen,
    beyond_the_board_is_refused_and_stores_nothing,
    only_the_largest_sizes_are_kept,
    saved_during_appends,
);
