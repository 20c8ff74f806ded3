//! Errors of the store: requests that cannot be served (the caller's fault,
//! nothing changed) are kept apart from faults of the store itself.

use std::error::Error as StdError;
use std::fmt;

use urna_board::Hash;

/// A fault of a storage backend (database error, I/O error). Always an
/// internal error: its text is for operators' logs, never for clients.
#[derive(Debug)]
pub struct BackendError {
    context: &'static str,
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl BackendError {
    /// Wraps a backend's error with what was being done.
    pub fn new(context: &'static str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        BackendError {
            context,
            source: source.into(),
        }
    }

    /// What the backend was doing.
    pub fn context(&self) -> &'static str {
        self.context
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}

/// How a [`StoreError`] should be reported to whoever asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request itself is malformed or contradictory (HTTP 400).
    InvalidRequest,
    /// The request is well formed but names something the board does not
    /// have, such as an index or size beyond the published tree (HTTP 404).
    NotFound,
    /// The request conflicts with what is on the board (HTTP 409).
    Conflict,
    /// The store cannot accept writes any more (HTTP 503).
    Unavailable,
    /// A fault of the store; details go to the operator's log (HTTP 500).
    Internal,
}

/// Error of a [`crate::BoardStore`] operation.
///
/// Every error whose [`kind`](StoreError::kind) is not
/// [`ErrorKind::Internal`] or [`ErrorKind::Unavailable`] was detected before
/// anything was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A leaf index that is not in the tree (of the published size, or of
    /// the size the request named).
    #[error("leaf index {index} is not in the tree of size {size}")]
    IndexOutOfRange {
        /// Requested index.
        index: u64,
        /// Tree size it was checked against.
        size: u64,
    },
    /// A tree size larger than the latest published checkpoint.
    #[error("tree size {size} is beyond the published tree of size {tree_size}")]
    SizeBeyondTree {
        /// Requested size.
        size: u64,
        /// Size of the latest published checkpoint.
        tree_size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old size {old} is larger than new size {new}")]
    OldLargerThanNew {
        /// Requested old size.
        old: u64,
        /// Requested new size.
        new: u64,
    },
    /// A range whose start is after its end.
    #[error("range start {start} is after its end {end}")]
    InvalidRange {
        /// Requested start.
        start: u64,
        /// Requested end.
        end: u64,
    },
    /// No entry has this leaf hash (in the published tree).
    #[error("no entry on the board has leaf hash {}", hex::encode(.0))]
    UnknownLeafHash(Hash),
    /// No checkpoint of this size was ever published.
    #[error("no checkpoint of size {0} was published")]
    UnknownCheckpoint(u64),
    /// A tile or entry bundle that does not exist in the published tree.
    #[error("{path} is beyond the published tree of size {tree_size}")]
    TileBeyondTree {
        /// The tile path (spec/board.md §B8.1).
        path: String,
        /// Size of the latest published checkpoint.
        tree_size: u64,
    },
    /// The entry (same bytes, hence same leaf hash) is already on the board.
    #[error("the entry is already on the board at index {index}")]
    Duplicate {
        /// Where the earlier copy is.
        index: u64,
        /// Its leaf hash.
        leaf_hash: Hash,
    },
    /// An election-state snapshot for a board size beyond the stored board.
    #[error("a snapshot of size {size} is beyond the stored board of size {tree_size}")]
    SnapshotBeyondBoard {
        /// The snapshot's size.
        size: u64,
        /// The stored board's size.
        tree_size: u64,
    },
    /// The tree holds `MAX_TREE_SIZE` leaves.
    #[error("the board is full")]
    TreeFull,
    /// The checkpoint of this size already carries as many cosignatures as
    /// a note can hold.
    #[error("the checkpoint of size {0} holds as many cosignatures as a note can carry")]
    CosignaturesFull(u64),
    /// The writer stopped after a fault; no append is accepted until the
    /// store is reopened (which recovers from what is durable).
    #[error("the board writer has stopped: {0}")]
    WriterStopped(String),
    /// The database holds a board created with another board key (or
    /// origin): the server was started with the wrong key, or pointed at
    /// another election's database. Nothing was changed.
    #[error(
        "this database holds the board of key {stored}, not of the configured key {configured}: \
         start with the board key this election was created with, or use another database"
    )]
    WrongBoardKey {
        /// The board key the database was created with (spec/board.md
        /// §B7.2 text form; for a database from before keys were recorded,
        /// `name+key id` of its latest checkpoint's signature).
        stored: String,
        /// The key the store was opened with.
        configured: String,
    },
    /// Stored data contradicts itself or the board key.
    #[error("stored board data is inconsistent: {0}")]
    Corrupt(String),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl StoreError {
    /// How to report the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::OldLargerThanNew { .. }
            | StoreError::InvalidRange { .. }
            | StoreError::SnapshotBeyondBoard { .. } => ErrorKind::InvalidRequest,
            StoreError::IndexOutOfRange { .. }
            | StoreError::SizeBeyondTree { .. }
            | StoreError::UnknownLeafHash(_)
            | StoreError::UnknownCheckpoint(_)
            | StoreError::TileBeyondTree { .. } => ErrorKind::NotFound,
            StoreError::Duplicate { .. } => ErrorKind::Conflict,
            StoreError::TreeFull
            | StoreError::WriterStopped(_)
            | StoreError::CosignaturesFull(_) => ErrorKind::Unavailable,
            StoreError::WrongBoardKey { .. } | StoreError::Corrupt(_) | StoreError::Backend(_) => {
                ErrorKind::Internal
            }
        }
    }

    /// True for errors that are the caller's (nothing was changed).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::InvalidRequest | ErrorKind::NotFound | ErrorKind::Conflict
        )
    }

    /// A stable snake_case code, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::IndexOutOfRange { .. } => "index_out_of_range",
            StoreError::SizeBeyondTree { .. } => "size_beyond_tree",
            StoreError::OldLargerThanNew { .. } => "old_size_larger_than_new",
            StoreError::InvalidRange { .. } => "invalid_range",
            StoreError::UnknownLeafHash(_) => "unknown_leaf_hash",
            StoreError::UnknownCheckpoint(_) => "unknown_checkpoint",
            StoreError::TileBeyondTree { .. } => "tile_beyond_tree",
            StoreError::Duplicate { .. } => "duplicate_entry",
            StoreError::SnapshotBeyondBoard { .. } => "snapshot_beyond_board",
            StoreError::TreeFull => "board_full",
            StoreError::CosignaturesFull(_) => "cosignatures_full",
            StoreError::WriterStopped(_) => "writer_stopped",
            StoreError::WrongBoardKey { .. } => "board_key_mismatch",
            StoreError::Corrupt(_) | StoreError::Backend(_) => "internal_error",
        }
    }
}

pub(crate) fn corrupt(msg: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(msg.to_string())
}
