//! The checkpoints an export keeps (spec/export.md §X1.1): for every k the
//! first checkpoint handed out at a size of at least 2^k, and every
//! cosigned one, below the latest; on SQLite and on PostgreSQL.

use crate::store_db;

use store_db::Db;

use urna_board::{BoardSigningKey, Entry, EntryKind, ObserverSigningKey, cosign_checkpoint};
use urna_store::StoreOptions;

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("urna.example/history", &[7; 32]).unwrap()
}

fn history_is_logarithmic_plus_cosigned(db: &Db) {
    let store = db.open(key(), StoreOptions::default());
    assert_eq!(
        store.history_sizes().unwrap(),
        Vec::<u64>::new(),
        "empty board"
    );
    // One append at a time: one checkpoint handed out per size.
    for i in 0..20u8 {
        let e = Entry::new(EntryKind::Ballot, &[i]).unwrap();
        store.append(e).unwrap();
    }
    assert_eq!(store.history_sizes().unwrap(), vec![1, 2, 4, 8, 16]);
    let o = ObserverSigningKey::from_secret_bytes("o.observer.example", &[3; 32]).unwrap();
    for size in [5, 16, 20] {
        let cp = store.checkpoint(size).unwrap();
        let sig = cosign_checkpoint(&o, cp.checkpoint(), 1).unwrap();
        store.add_cosignature(size, &o.verifier_key(), sig).unwrap();
    }
    // 20 is the latest: it is the record's final checkpoint, not history.
    assert_eq!(store.history_sizes().unwrap(), vec![1, 2, 4, 5, 8, 16]);
    // Batches: sizes 24 and 40 only; 32 falls inside the second batch.
    let batch = |n: u8| (0..n).map(move |i| Entry::new(EntryKind::Ballot, &[i, n]).unwrap());
    store.append_ordered(batch(4).collect()).unwrap();
    store.append_ordered(batch(16).collect()).unwrap();
    assert_eq!(store.size(), 40);
    // 20 is cosigned and no longer the latest; nothing at ≥ 32 but 40.
    assert_eq!(store.history_sizes().unwrap(), vec![1, 2, 4, 5, 8, 16, 20]);
}

both!(history_is_logarithmic_plus_cosigned);
