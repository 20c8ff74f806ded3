//! The sequencer lease of several servers on one PostgreSQL database
//! (docs/decisions/0017-cluster-sequencer.md): a store appending under a
//! lease epoch is refused, appending nothing, once another server has
//! taken the lease over, even if it never noticed; a replica's store can
//! never append.

use std::time::Duration;

use urna_board::{BoardSigningKey, Entry, EntryKind};
use urna_store::{BoardStore, Lease, PostgresBackend, PostgresOptions, StoreOptions};

use crate::store_db::Db;

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("urna.test/lease", &[7u8; 32]).unwrap()
}

fn entry(i: u32) -> Entry {
    Entry::new(EntryKind::Ballot, format!("ballot {i}").as_bytes()).unwrap()
}

fn open(url: &str, schema: &str, epoch: i64) -> BoardStore {
    let mut o = PostgresOptions::with_schema(schema);
    o.lease_epoch = Some(epoch);
    BoardStore::open(
        PostgresBackend::open(url, &o).unwrap(),
        key(),
        StoreOptions::default(),
    )
    .unwrap()
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
fn a_taken_over_sequencer_cannot_append() {
    let Some(db) = Db::postgres("lease_takeover") else {
        return;
    };
    let Db::Postgres { url, schema, .. } = &db else {
        unreachable!()
    };
    let opts = PostgresOptions::with_schema(schema);
    let ttl = Duration::from_millis(700);
    let mut a = Lease::connect(url, &opts, "server-a", ttl).unwrap();
    let mut b = Lease::connect(url, &opts, "server-b", ttl).unwrap();
    let first = a.try_acquire("http://a").unwrap().unwrap();
    // Live: nobody else takes it.
    assert_eq!(b.try_acquire("http://b").unwrap(), None);
    let held = b.current().unwrap();
    assert_eq!(
        (held.epoch, held.holder.as_str(), held.address.as_str()),
        (first, "server-a", "http://a")
    );
    assert!(held.live);
    assert!(a.renew(first).unwrap());

    let old = open(url, schema, first);
    old.append(entry(0)).unwrap();
    old.append(entry(1)).unwrap();
    assert_eq!(b.board_size().unwrap(), 2);

    // A's lease lapses (it is paused, say) and B takes over.
    std::thread::sleep(ttl + Duration::from_millis(300));
    assert!(!b.current().unwrap().live);
    let second = b.try_acquire("http://b").unwrap().unwrap();
    assert_eq!(second, first + 1);
    assert!(!a.renew(first).unwrap(), "a renewed a lease taken over");

    // A resumes and appends as if nothing happened: refused, nothing stored.
    let err = old.append(entry(2)).unwrap_err().to_string();
    assert!(err.contains("fenced"), "{err}");
    assert!(err.contains("lease epoch"), "{err}");
    assert_eq!(b.board_size().unwrap(), 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM board_entries"), 2);

    // B continues from the stored frontier.
    let new = open(url, schema, second);
    assert_eq!(new.size(), 2);
    let a2 = new.append(entry(2)).unwrap();
    assert_eq!((a2.index, a2.checkpoint.size()), (2, 3));
    assert_eq!(b.board_size().unwrap(), 3);

    // A replica's store (an epoch no lease has) never appends.
    let replica = open(url, schema, i64::MIN);
    assert_eq!(replica.size(), 3);
    let err = replica.append(entry(3)).unwrap_err().to_string();
    assert!(err.contains("fenced"), "{err}");
    assert_eq!(db.count("SELECT COUNT(*) FROM board_entries"), 3);

    // A clean release lets the next server in at once.
    b.release(second).unwrap();
    assert!(!a.current().unwrap().live);
    assert_eq!(a.try_acquire("http://a").unwrap(), Some(second + 1));
}
