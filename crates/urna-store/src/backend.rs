//! The storage abstraction: what a database must offer the board.
//!
//! The board's logic (group commit, the frontier, signing, the hot-level
//! cache, request checks) lives in [`crate::BoardStore`] and is the same for
//! every database. A backend only stores and fetches rows of three tables:
//!
//! * entries: `(idx, leaf_hash, bytes)`, one per leaf (the store keeps the
//!   leaf-hash index in memory, see `leaves.rs`);
//! * subtrees: `(level, idx, hash)`, one per perfect subtree
//!   (spec/board.md §B3.1), never updated;
//! * checkpoints: `(size, note)`, every signed checkpoint handed out;
//! * cosignatures: `(size, observer, line)`;
//! * election snapshots: `(size, format, state)`, opaque to the store,
//!   written in the transaction of a batch (issue 11 item 2);
//!
//! plus a small `urna_meta` table of named values (schema version, the board
//! key the board was created with).
//!
//! SQLite is the embedded default ([`crate::SqliteBackend`]);
//! [`crate::PostgresBackend`] keeps the same rows in PostgreSQL, so that
//! both give the same board bytes and the same checkpoints.

use std::fmt;

use urna_board::{Hash, SubtreeId};

use crate::error::BackendError;

/// A row of the entries table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRow {
    /// Leaf index.
    pub index: u64,
    /// Stored leaf hash of `bytes`.
    pub leaf_hash: Hash,
    /// The entry's envelope bytes, exactly as hashed.
    pub bytes: Vec<u8>,
}

/// A row of the cosignatures table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureRow {
    /// Size of the checkpoint cosigned.
    pub size: u64,
    /// The observer's verifier key (board.md §B7.2 text form).
    pub observer: String,
    /// The cosignature line (board.md §B7.1), without its newline.
    pub line: String,
}

/// A snapshot of the election state (opaque to the store) as of a board
/// size: whoever resumes the election decodes `state` and applies the
/// board's entries from index `size` on (the tail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Board size the state describes: entries `0..size` are applied.
    pub size: u64,
    /// Version of the encoding of `state`, chosen by its producer; a reader
    /// that does not know it replays the whole board instead.
    pub format: u32,
    /// The encoded state.
    pub state: Vec<u8>,
}

/// A database that can hold a board.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Opens the single write session. Called once per [`crate::BoardStore`];
    /// the store guarantees there is never more than one writer at a time.
    fn open_writer(&self) -> Result<Box<dyn BackendWriter>, BackendError>;

    /// A read session. Reads must not block the writer; a backend typically
    /// hands out pooled connections, returned to the pool on drop.
    fn reader(&self) -> Result<Box<dyn BackendReader + '_>, BackendError>;

    /// Durably stores `row`, replacing the row of the same `(size,
    /// observer)`, then deletes the rows of every size older than the
    /// `keep_sizes` largest sizes held; one transaction, durable on return.
    /// Called with the store's cosignature lock held (one at a time), and
    /// may run while the board's writer commits.
    fn put_cosignature(&self, row: &CosignatureRow, keep_sizes: u64) -> Result<(), BackendError>;
}

/// The write session. Calls between [`begin`](BackendWriter::begin) and
/// [`commit`](BackendWriter::commit) form one transaction; `commit` returns
/// only once the transaction is durable.
pub trait BackendWriter: Send {
    /// Starts a write transaction.
    fn begin(&mut self) -> Result<(), BackendError>;

    /// Inserts an entry row. (The store has checked that no entry has the
    /// same leaf hash.)
    fn insert_entry(
        &mut self,
        index: u64,
        leaf_hash: &Hash,
        bytes: &[u8],
    ) -> Result<(), BackendError>;

    /// Inserts a perfect-subtree row.
    fn insert_subtree(&mut self, id: SubtreeId, hash: &Hash) -> Result<(), BackendError>;

    /// Inserts a signed checkpoint (note text) for a tree size.
    fn insert_checkpoint(&mut self, size: u64, note: &str) -> Result<(), BackendError>;

    /// Commits durably.
    fn commit(&mut self) -> Result<(), BackendError>;

    /// Abandons the transaction.
    fn rollback(&mut self) -> Result<(), BackendError>;

    /// Number of entries (one more than the largest index), outside a
    /// transaction; used when opening.
    fn entry_count(&mut self) -> Result<u64, BackendError>;

    /// The latest checkpoint `(size, note)`, outside a transaction.
    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>, BackendError>;

    /// Hashes of the given subtrees, in order (`None` where missing).
    fn subtrees(&mut self, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError>;

    /// A named value of `urna_meta`, outside a transaction.
    fn meta(&mut self, name: &str) -> Result<Option<String>, BackendError>;

    /// Sets a named value of `urna_meta`, inside the transaction.
    fn put_meta(&mut self, name: &str, value: &str) -> Result<(), BackendError>;

    /// Stores an election-state snapshot, replacing one of the same size,
    /// then deletes all but the `keep` largest sizes; inside the
    /// transaction.
    fn put_snapshot(&mut self, snapshot: &Snapshot, keep: u64) -> Result<(), BackendError>;
}

/// A read session.
pub trait BackendReader {
    /// Hashes of the given subtrees, in order (`None` where missing).
    fn subtrees(&mut self, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError>;

    /// Hashes of subtrees `(level, start..end)`, in index order; stops at
    /// the first missing one.
    fn subtree_range(&mut self, level: u8, start: u64, end: u64)
    -> Result<Vec<Hash>, BackendError>;

    /// Entries with `start <= index < end`, in index order.
    fn entries(&mut self, start: u64, end: u64) -> Result<Vec<EntryRow>, BackendError>;

    /// The checkpoint note signed for this size.
    fn checkpoint(&mut self, size: u64) -> Result<Option<String>, BackendError>;

    /// Every stored cosignature row, by size then observer.
    fn cosignatures(&mut self) -> Result<Vec<CosignatureRow>, BackendError>;

    /// The smallest size of a stored checkpoint that is at least `size`
    /// (for the logarithmic set of an export, spec/export.md §X1.1).
    fn checkpoint_size_at_least(&mut self, size: u64) -> Result<Option<u64>, BackendError>;

    /// The election-state snapshot of the largest size.
    fn latest_snapshot(&mut self) -> Result<Option<Snapshot>, BackendError>;
}
