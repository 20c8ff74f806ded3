//! The PostgreSQL backend when the database drops the writer's connection:
//! nothing unacknowledged is claimed, the store refuses appends with a
//! 503-kind error, and reopening it (what a server does once the database
//! is back) continues from exactly what was committed.
//!
//! Its own test binary, not a module of `tests/it`: these tests end
//! sessions by `application_name` across the whole database, which would
//! end the sessions of the PostgreSQL tests running beside them there
//! (cargo runs test binaries one after another).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../it/store_db/mod.rs"]
mod store_db;

use store_db::Db;
use urna_board::{BoardSigningKey, Entry, EntryKind};
use urna_store::{ErrorKind, StoreOptions};

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("urna.example/faults", &[9; 32]).unwrap()
}

/// The tests end sessions by `application_name` across the whole database
/// (all schemas): one at a time, or they would end each other's.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn entry(i: u64) -> Entry {
    Entry::new(EntryKind::Ballot, format!("ballot {i}").as_bytes()).unwrap()
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
fn a_dropped_writer_connection_stops_appends_and_a_reopen_recovers() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(db) = Db::postgres("dropped_writer") else {
        return;
    };
    let store = db.open(key(), StoreOptions::default());
    for i in 0..5 {
        store.append(entry(i)).unwrap();
    }
    let cp = store.latest_checkpoint();
    // What a database restart or a network cut does to the session.
    assert_eq!(
        db.count(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'urna-board-writer' \
             AND datname = current_database()) AS t"
        ),
        1
    );
    let err = store.append(entry(5)).unwrap_err();
    assert_eq!(err.code(), "writer_stopped", "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(store.append(entry(6)).unwrap_err().code(), "writer_stopped");
    // Reads still work, and still show the last acknowledged checkpoint.
    assert_eq!(store.entry(4).unwrap().entry, entry(4));
    assert_eq!(store.latest_checkpoint(), cp);
    drop(store);

    let store = db.open(key(), StoreOptions::default());
    assert_eq!(store.size(), 5);
    assert_eq!(store.latest_checkpoint().text(), cp.text());
    assert_eq!(store.append(entry(5)).unwrap().index, 5);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
fn reads_go_on_after_the_database_drops_pooled_connections() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(db) = Db::postgres("dropped_readers") else {
        return;
    };
    let store = db.open(key(), StoreOptions::default());
    for i in 0..40 {
        store.append(entry(i)).unwrap();
    }
    // Fill the pool with several idle read connections.
    std::thread::scope(|s| {
        for _ in 0..6 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..40 {
                    store.entry(i).unwrap();
                }
            });
        }
    });
    let killed = db.count(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'urna-board-reader' \
         AND datname = current_database()) AS t",
    );
    assert!(killed >= 1, "{killed}");
    // Every read succeeds at once, on fresh connections.
    for i in 0..40 {
        assert_eq!(store.entry(i).unwrap().entry, entry(i));
        let size = store.size();
        store.inclusion_proof(i, size).unwrap();
    }
    // The writer was not touched.
    assert_eq!(store.append(entry(40)).unwrap().index, 40);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
fn a_stopped_writer_restarts_in_place_from_what_was_committed() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(db) = Db::postgres("restarted_writer") else {
        return;
    };
    let store = db.open(key(), StoreOptions::default());
    assert!(store.reconnects());
    // Nothing to restart while the writer runs.
    assert!(!store.restart_writer().unwrap());
    for i in 0..5 {
        store.append(entry(i)).unwrap();
    }
    let cp = store.latest_checkpoint();
    db.count(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'urna-board-writer' \
         AND datname = current_database()) AS t",
    );
    assert_eq!(store.append(entry(5)).unwrap_err().code(), "writer_stopped");
    assert!(store.writer_stopped());
    // The same handle (and its clones) append again, from the committed board.
    let clone = store.clone();
    assert!(store.restart_writer().unwrap());
    assert!(!store.writer_stopped());
    assert_eq!(store.latest_checkpoint(), cp);
    assert_eq!(clone.append(entry(5)).unwrap().index, 5);
    assert_eq!(store.append(entry(6)).unwrap().index, 6);
    // A duplicate is still found after the restart.
    assert_eq!(
        store.append(entry(2)).unwrap_err().code(),
        "duplicate_entry"
    );
    let size = store.size();
    store.inclusion_proof(6, size).unwrap();
    drop((store, clone));
    let store = db.open(key(), StoreOptions::default());
    assert_eq!(store.size(), 7);
}
