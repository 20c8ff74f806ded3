//! urna's durable storage. For now it holds the public board
//! (`urna-board`'s log) with group commit; the rest of the election state
//! will join it behind the same [`Backend`] traits.
//!
//! * [`BoardStore`] is the board: a cheap, cloneable handle. Appends
//!   ([`BoardStore::append`], [`BoardStore::append_async`]) are batched by a
//!   single writer thread into one transaction per batch; an append returns
//!   only once its entry, the new perfect-subtree hashes and a newly signed
//!   checkpoint that includes the entry are durable. Reads (entries,
//!   proofs, checkpoints, C2SP tiles) use separate connections and never
//!   wait for the writer.
//! * [`Backend`] is what a database has to offer; [`SqliteBackend`] is the
//!   embedded default, [`PostgresBackend`] the shared one (same rows, same
//!   board bytes, same checkpoints).
//!
//! The design, the durability argument and the SQLite settings are in
//! `docs/decisions/0003-board-storage.md`; PostgreSQL's in
//! `docs/decisions/0011-store-postgres.md`.
//!
//! ```
//! use urna_board::{BoardSigningKey, Entry, EntryKind, verify_inclusion};
//! use urna_store::BoardStore;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let key = BoardSigningKey::from_secret_bytes("urna.example/e1", &[7; 32]).unwrap();
//! let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
//! let entry = Entry::new(EntryKind::Ballot, b"a ballot").unwrap();
//! let ack = store.append(entry).unwrap();
//! let size = ack.checkpoint.size();
//! let proof = store.inclusion_proof(ack.index, size).unwrap();
//! verify_inclusion(&ack.leaf_hash, ack.index, size, &proof, ack.checkpoint.root()).unwrap();
//! ```

mod backend;
mod cache;
mod cosign;
mod error;
mod lease;
mod leaves;
mod postgres;
mod sqlite;
mod store;

pub use backend::{Backend, BackendReader, BackendWriter, CosignatureRow, EntryRow, Snapshot};
pub use cosign::{COSIGNED_SIZES_KEPT, MAX_COSIGNATURES_PER_SIZE};
pub use error::{BackendError, ErrorKind, StoreError};
pub use lease::{Lease, LeaseHolder};
pub use postgres::{PostgresBackend, PostgresOptions, drop_postgres_schema};
pub use sqlite::{SqliteBackend, SqliteOptions};
pub use store::{Appended, BoardStore, SignedCheckpoint, StoreOptions, StoredEntry, WriterStats};
