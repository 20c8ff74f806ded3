//! [`BoardStore`]: group-committed appends and O(log n) reads over a
//! [`Backend`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use tokio::sync::oneshot;
use urna_board::{
    BoardSigningKey, BundleId, Checkpoint, Entry, Frontier, Hash, MAX_TREE_SIZE, NoteSignature,
    ProofError, SignedNote, SubtreeId, TileId, TilePath, VerifierKey, consistency_proof_plan,
    inclusion_proof_plan, sign_checkpoint, verify_checkpoint,
};

use crate::backend::CosignatureRow;
use crate::backend::{Backend, BackendWriter, EntryRow, Snapshot};
use crate::cache::HotLevels;
use crate::cosign::{COSIGNED_SIZES_KEPT, CosignatureCache};
use crate::error::{StoreError, corrupt};
use crate::leaves::{LeafIndex, Lookup};

/// Tuning of a [`BoardStore`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Most entries committed in one transaction (one group commit).
    pub max_batch: usize,
    /// Most entries returned by one [`BoardStore::entries`] call.
    pub max_page: u64,
    /// Perfect subtrees at this level and above are also kept in memory
    /// (about `2n / 2^level` hashes), so a proof reads at most this many
    /// hashes from the database.
    pub cache_min_level: u8,
    /// Observers' cosignatures are kept for this many checkpoint sizes
    /// (the largest cosigned ones; spec/board.md §B10).
    pub cosigned_sizes_kept: u64,
    /// Election-state snapshots kept (the largest sizes).
    pub snapshots_kept: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_batch: 4096,
            max_page: 1000,
            cache_min_level: 4,
            cosigned_sizes_kept: COSIGNED_SIZES_KEPT,
            snapshots_kept: 2,
        }
    }
}

/// A checkpoint the board signed, with its note.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
    text: String,
}

impl fmt::Debug for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCheckpoint")
            .field("size", &self.checkpoint.size())
            .field("root", &hex::encode(self.checkpoint.root()))
            .finish()
    }
}

impl SignedCheckpoint {
    /// The checkpoint (origin, size, root).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size()
    }

    /// Root hash.
    pub fn root(&self) -> &Hash {
        self.checkpoint.root()
    }

    /// The signed note.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    /// The signed note as served (C2SP signed-note text).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Acknowledgement of an append: the entry is durable and included in
/// `checkpoint`, which is durable and signed too.
#[derive(Clone, Debug)]
pub struct Appended {
    /// Leaf index of the entry.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The first checkpoint that includes it (`index < checkpoint.size()`).
    pub checkpoint: Arc<SignedCheckpoint>,
}

/// An entry read from the board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// Leaf index.
    pub index: u64,
    /// Leaf hash (spec/board.md §B2.1) of `entry.bytes()`.
    pub leaf_hash: Hash,
    /// The entry, exactly the stored bytes.
    pub entry: Entry,
}

/// Counters of the writer since the store was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Entries appended.
    pub entries: u64,
    /// Largest batch, in entries.
    pub largest_batch: u64,
}

enum Reply<T = Appended> {
    Blocking(mpsc::SyncSender<Result<T, StoreError>>),
    Async(oneshot::Sender<Result<T, StoreError>>),
}

impl<T> Reply<T> {
    fn send(self, result: Result<T, StoreError>) {
        // An appender that gave up waiting is not an error of the batch.
        match self {
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

struct Request {
    entry: Entry,
    leaf_hash: Hash,
    reply: Reply,
}

/// An election-state snapshot to store with the next batch.
struct SnapshotRequest {
    snapshot: Snapshot,
    reply: Reply<()>,
}

/// What the writer thread is asked to do.
enum Job {
    Append(Request),
    Snapshot(SnapshotRequest),
}

/// State shared by the handles and the writer thread.
struct Shared {
    origin: String,
    verifier_key: VerifierKey,
    published: RwLock<Arc<SignedCheckpoint>>,
    hot: RwLock<HotLevels>,
    leaves: RwLock<LeafIndex>,
    stopped: Mutex<Option<String>>,
    batches: AtomicU64,
    entries: AtomicU64,
    largest_batch: AtomicU64,
}

impl Shared {
    fn published(&self) -> Arc<SignedCheckpoint> {
        self.published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn stopped_error(&self) -> StoreError {
        let msg = self
            .stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "the store is closed".to_owned());
        StoreError::WriterStopped(msg)
    }
}

struct Inner {
    shared: Arc<Shared>,
    backend: Arc<dyn Backend>,
    opts: StoreOptions,
    /// Observers' cosignatures; the lock also orders their durable writes.
    cosignatures: Mutex<CosignatureCache>,
    // `None` only while dropping: dropping the sender ends the writer loop.
    tx: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(handle) = self.writer.take() {
            // The writer finishes (and acknowledges) the batch in hand, then
            // sees the channel closed. A panic in it has already been
            // reported to the appenders as a stopped writer.
            let _ = handle.join();
        }
    }
}

/// The board's durable store: a cheap, cloneable handle (`Clone + Send +
/// Sync`) to one writer thread and a pool of readers.
///
/// Appends are group-committed: all appends queued while a transaction is
/// being written go into the next one. An append is acknowledged only once
/// its transaction, which also holds the new perfect-subtree hashes and the
/// newly signed checkpoint, is durable.
#[derive(Clone)]
pub struct BoardStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for BoardStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoardStore")
            .field("origin", &self.inner.shared.origin)
            .field("size", &self.inner.shared.published().size())
            .field("backend", &self.inner.backend)
            .finish()
    }
}

fn parse_note(text: &str, key: &VerifierKey) -> Result<SignedCheckpoint, StoreError> {
    let note = SignedNote::parse(text.as_bytes())
        .map_err(|e| corrupt(format!("stored checkpoint does not parse: {e}")))?;
    let verified = verify_checkpoint(&note, key, &[])
        .map_err(|e| corrupt(format!("stored checkpoint does not verify with {key}: {e}")))?;
    Ok(SignedCheckpoint {
        checkpoint: verified.checkpoint,
        note,
        text: text.to_owned(),
    })
}

fn sign(key: &BoardSigningKey, size: u64, root: Hash) -> Result<SignedCheckpoint, StoreError> {
    // The origin is the key's name (spec/board.md §B7.3), so these cannot
    // fail for a valid key; errors are still reported rather than unwrapped.
    let checkpoint = Checkpoint::new(key.name(), size, root)
        .map_err(|e| corrupt(format!("building checkpoint: {e}")))?;
    let note = sign_checkpoint(key, &checkpoint)
        .map_err(|e| corrupt(format!("signing checkpoint: {e}")))?;
    let text = note.to_text();
    Ok(SignedCheckpoint {
        checkpoint,
        note,
        text,
    })
}

fn proof_error(e: ProofError, tree_size: u64) -> StoreError {
    match e {
        ProofError::IndexOutOfRange { index, size } => StoreError::IndexOutOfRange { index, size },
        ProofError::OldLargerThanNew { old, new } => StoreError::OldLargerThanNew { old, new },
        ProofError::SizeBeyondTree { size, .. } => StoreError::SizeBeyondTree { size, tree_size },
        other => corrupt(other),
    }
}

/// `urna_meta` name of the board key (spec/board.md §B7.2 text form) the
/// board was created with: a store opened with another key refuses with
/// [`StoreError::WrongBoardKey`] before it reads or writes anything else.
const META_BOARD_KEY: &str = "board_key";

/// Checks the configured key against the one the database recorded. `Ok(true)`
/// when none is recorded yet (a new board, or one from before keys were
/// recorded, whose latest checkpoint must then carry a signature by `key`).
fn check_board_key(
    writer: &mut dyn BackendWriter,
    key: &VerifierKey,
    latest_note: Option<&str>,
) -> Result<bool, StoreError> {
    let configured = key.to_string();
    match writer.meta(META_BOARD_KEY)? {
        Some(stored) if stored == configured => Ok(false),
        Some(stored) => Err(StoreError::WrongBoardKey { stored, configured }),
        None => {
            let Some(note) = latest_note.and_then(|t| SignedNote::parse(t.as_bytes()).ok()) else {
                // No checkpoint yet, or one that does not parse (reported
                // as corruption by the caller).
                return Ok(true);
            };
            let ours = note
                .signatures()
                .iter()
                .any(|s| s.name() == key.name() && s.key_id() == key.key_id());
            match note.signatures().first() {
                Some(sig) if !ours => Err(StoreError::WrongBoardKey {
                    stored: format!("{}+{}", sig.name(), hex::encode(sig.key_id())),
                    configured,
                }),
                _ => Ok(true),
            }
        }
    }
}

/// Reads and checks the latest checkpoint, creating the signed empty one
/// (and recording the board key) for a new board.
fn open_latest(
    writer: &mut dyn BackendWriter,
    key: &BoardSigningKey,
) -> Result<SignedCheckpoint, StoreError> {
    let verifier_key = key.verifier_key();
    let size = writer.entry_count()?;
    let stored = writer.latest_checkpoint()?;
    let record_key = check_board_key(writer, &verifier_key, stored.as_ref().map(|(_, t)| &**t))?;
    let latest = match stored {
        Some((cp_size, text)) => {
            // Entries, subtrees and their checkpoint are committed in one
            // transaction, so the latest checkpoint covers exactly the
            // stored entries.
            if cp_size != size {
                return Err(corrupt(format!(
                    "latest checkpoint has size {cp_size} but {size} entries are stored"
                )));
            }
            let cp = parse_note(&text, &verifier_key)?;
            if cp.size() != cp_size {
                return Err(corrupt(format!(
                    "checkpoint row {cp_size} holds a note of size {}",
                    cp.size()
                )));
            }
            if record_key {
                in_transaction(writer, |w| {
                    w.put_meta(META_BOARD_KEY, &verifier_key.to_string())
                })?;
            }
            cp
        }
        None if size == 0 => {
            let cp = sign(key, 0, urna_board::empty_root())?;
            in_transaction(writer, |w| {
                w.put_meta(META_BOARD_KEY, &verifier_key.to_string())?;
                w.insert_checkpoint(0, cp.text())
            })?;
            cp
        }
        None => {
            return Err(corrupt(format!(
                "{size} entries are stored but no checkpoint"
            )));
        }
    };
    Ok(latest)
}

/// Runs `f` in one durable write transaction, rolled back if anything fails.
fn in_transaction(
    writer: &mut dyn BackendWriter,
    f: impl FnOnce(&mut dyn BackendWriter) -> Result<(), crate::BackendError>,
) -> Result<(), StoreError> {
    writer.begin()?;
    match f(writer).and_then(|()| writer.commit()) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = writer.rollback();
            Err(e.into())
        }
    }
}

impl BoardStore {
    /// Opens the board held by `backend`, signing with `key` (whose name is
    /// the board's origin).
    ///
    /// A new board gets a signed checkpoint of size 0. An existing board is
    /// checked first: its latest checkpoint must verify with `key`, cover
    /// exactly the stored entries, and have the root that the stored
    /// frontier hashes give (spec/board.md §B3.3); then appends continue.
    /// A database whose board was created with another key (or origin) is
    /// refused with [`StoreError::WrongBoardKey`].
    pub fn open(
        backend: impl Backend,
        key: BoardSigningKey,
        opts: StoreOptions,
    ) -> Result<BoardStore, StoreError> {
        let backend: Arc<dyn Backend> = Arc::new(backend);
        let verifier_key = key.verifier_key();
        let mut writer = backend.open_writer()?;
        let latest = open_latest(&mut *writer, &key)?;
        let size = latest.size();

        // spec/board.md §B3.3: the frontier of size n is cover(0, n).
        let plan = Frontier::restore_plan(size);
        let hashes = writer
            .subtrees(&plan)?
            .into_iter()
            .zip(&plan)
            .map(|(h, id)| h.ok_or_else(|| corrupt(format!("subtree {id} is missing"))))
            .collect::<Result<Vec<_>, _>>()?;
        let frontier = Frontier::from_hashes(size, hashes).map_err(corrupt)?;
        if frontier.root() != *latest.root() {
            return Err(corrupt(format!(
                "stored subtrees give root {} for size {size}, the checkpoint says {}",
                hex::encode(frontier.root()),
                hex::encode(latest.root())
            )));
        }

        let hot = HotLevels::load(opts.cache_min_level, size, &*backend)?;
        let cosignatures =
            CosignatureCache::load(backend.reader()?.cosignatures()?, opts.cosigned_sizes_kept)?;
        let leaves = load_leaf_index(size, &*backend)?;
        let shared = Arc::new(Shared {
            origin: key.name().to_owned(),
            verifier_key,
            published: RwLock::new(Arc::new(latest)),
            hot: RwLock::new(hot),
            leaves: RwLock::new(leaves),
            stopped: Mutex::new(None),
            batches: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::channel();
        let state = WriterState {
            writer,
            key,
            frontier,
            shared: Arc::clone(&shared),
            max_batch: opts.max_batch.max(1),
            snapshots_kept: opts.snapshots_kept.max(1),
        };
        let handle = std::thread::Builder::new()
            .name("urna-board-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(BoardStore {
            inner: Arc::new(Inner {
                shared,
                backend,
                opts,
                cosignatures: Mutex::new(cosignatures),
                tx: Some(tx),
                writer: Some(handle),
            }),
        })
    }

    /// Opens (creating if needed) a SQLite board at `path` with default options.
    pub fn open_sqlite(
        path: impl AsRef<std::path::Path>,
        key: BoardSigningKey,
    ) -> Result<BoardStore, StoreError> {
        let backend = crate::SqliteBackend::open(path, crate::SqliteOptions::default())?;
        Self::open(backend, key, StoreOptions::default())
    }

    /// Opens (creating if needed) a board in the PostgreSQL database at
    /// `url` with default options. Blocking: call it from a plain thread or
    /// `spawn_blocking`, not from an async task.
    pub fn open_postgres(url: &str, key: BoardSigningKey) -> Result<BoardStore, StoreError> {
        let backend = crate::PostgresBackend::open(url, &crate::PostgresOptions::default())?;
        Self::open(backend, key, StoreOptions::default())
    }

    /// The board's origin (the board key's name).
    pub fn origin(&self) -> &str {
        &self.inner.shared.origin
    }

    /// The board key's verifier key.
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.inner.shared.verifier_key
    }

    /// Writer counters.
    pub fn stats(&self) -> WriterStats {
        let s = &self.inner.shared;
        WriterStats {
            batches: s.batches.load(Ordering::Relaxed),
            entries: s.entries.load(Ordering::Relaxed),
            largest_batch: s.largest_batch.load(Ordering::Relaxed),
        }
    }

    fn request(&self, entry: Entry, reply: Reply) -> Result<(), StoreError> {
        let leaf_hash = entry.leaf_hash();
        let tx = self
            .inner
            .tx
            .as_ref()
            .ok_or_else(|| self.inner.shared.stopped_error())?;
        tx.send(Job::Append(Request {
            entry,
            leaf_hash,
            reply,
        }))
        .map_err(|_| self.inner.shared.stopped_error())
    }

    /// Appends an entry, blocking until it is durable and in a signed
    /// checkpoint. Do not call from async code: use [`BoardStore::append_async`].
    pub fn append(&self, entry: Entry) -> Result<Appended, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.request(entry, Reply::Blocking(tx))?;
        rx.recv()
            .unwrap_or_else(|_| Err(self.inner.shared.stopped_error()))
    }

    /// Appends an entry; resolves once it is durable and in a signed
    /// checkpoint.
    pub async fn append_async(&self, entry: Entry) -> Result<Appended, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.request(entry, Reply::Async(tx))?;
        rx.await
            .unwrap_or_else(|_| Err(self.inner.shared.stopped_error()))
    }

    /// Appends entries that must land in this relative order (an election
    /// engine's output, whose re-vote rule depends on board order), blocking
    /// until all are durable. They are queued together, so they usually
    /// share one group commit; other appenders may interleave, never reorder.
    pub fn append_ordered(&self, entries: Vec<Entry>) -> Result<Vec<Appended>, StoreError> {
        let mut waits = Vec::with_capacity(entries.len());
        for entry in entries {
            let (tx, rx) = mpsc::sync_channel(1);
            self.request(entry, Reply::Blocking(tx))?;
            waits.push(rx);
        }
        waits
            .into_iter()
            .map(|rx| {
                rx.recv()
                    .unwrap_or_else(|_| Err(self.inner.shared.stopped_error()))
            })
            .collect()
    }

    /// [`BoardStore::append_ordered`] for async callers.
    pub async fn append_ordered_async(
        &self,
        entries: Vec<Entry>,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut waits = Vec::with_capacity(entries.len());
        for entry in entries {
            let (tx, rx) = oneshot::channel();
            self.request(entry, Reply::Async(tx))?;
            waits.push(rx);
        }
        let mut out = Vec::with_capacity(waits.len());
        for rx in waits {
            out.push(
                rx.await
                    .unwrap_or_else(|_| Err(self.inner.shared.stopped_error()))?,
            );
        }
        Ok(out)
    }

    fn request_snapshot(&self, snapshot: Snapshot, reply: Reply<()>) -> Result<(), StoreError> {
        let tx = self
            .inner
            .tx
            .as_ref()
            .ok_or_else(|| self.inner.shared.stopped_error())?;
        tx.send(Job::Snapshot(SnapshotRequest { snapshot, reply }))
            .map_err(|_| self.inner.shared.stopped_error())
    }

    /// Stores a snapshot of the election state as of board size
    /// `snapshot.size` (entries `0..size` applied), blocking until it is
    /// durable. It is written in the writer's next transaction, with the
    /// batch of appends queued at that moment (no commit of its own under
    /// load), so it never refers to entries that are not durable: a size
    /// beyond the board after that batch is refused
    /// ([`StoreError::SnapshotBeyondBoard`]) and stores nothing. Only the
    /// [`StoreOptions::snapshots_kept`] largest sizes are kept. Do not call
    /// from async code: use [`BoardStore::save_snapshot_async`].
    pub fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.request_snapshot(snapshot, Reply::Blocking(tx))?;
        rx.recv()
            .unwrap_or_else(|_| Err(self.inner.shared.stopped_error()))
    }

    /// [`BoardStore::save_snapshot`] for async callers.
    pub async fn save_snapshot_async(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        self.request_snapshot(snapshot, Reply::Async(tx))?;
        rx.await
            .unwrap_or_else(|_| Err(self.inner.shared.stopped_error()))
    }

    /// The stored election-state snapshot of the largest size, if any. A
    /// server resuming the election decodes it, then applies the tail:
    /// [`BoardStore::entries`] from `snapshot.size` to [`BoardStore::size`].
    pub fn latest_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.inner.backend.reader()?.latest_snapshot()?)
    }

    /// The latest published checkpoint.
    pub fn latest_checkpoint(&self) -> Arc<SignedCheckpoint> {
        self.inner.shared.published()
    }

    /// Size of the latest published checkpoint.
    pub fn size(&self) -> u64 {
        self.latest_checkpoint().size()
    }

    /// Records an observer's cosignature of the checkpoint of `size`
    /// (spec/board.md §B10) durably, then publishes it with that
    /// checkpoint; it replaces the same observer's earlier one for that
    /// size. The caller has verified `sig` with `observer` over the
    /// checkpoint this board signed for `size`. Returns the number of
    /// cosignatures now held for `size`. Blocks on the database.
    ///
    /// Only the largest [`StoreOptions::cosigned_sizes_kept`] cosigned
    /// sizes are kept; a size refused for holding as many cosignatures as
    /// a note can carry stores nothing.
    pub fn add_cosignature(
        &self,
        size: u64,
        observer: &VerifierKey,
        sig: NoteSignature,
    ) -> Result<usize, StoreError> {
        let tree_size = self.size();
        if size > tree_size {
            return Err(StoreError::SizeBeyondTree { size, tree_size });
        }
        let observer = observer.to_string();
        let mut cache = self
            .inner
            .cosignatures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !cache.room_for(size, &observer) {
            return Err(StoreError::CosignaturesFull(size));
        }
        let row = CosignatureRow {
            size,
            observer,
            line: sig.to_line(),
        };
        self.inner.backend.put_cosignature(&row, cache.keep())?;
        Ok(cache.insert(size, row.observer, sig))
    }

    /// The observers' cosignatures held for the checkpoint of `size`.
    pub fn cosignatures(&self, size: u64) -> Vec<NoteSignature> {
        self.inner
            .cosignatures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(size)
    }

    /// The sizes of the checkpoints an export keeps (spec/export.md
    /// §X1.1), smallest first: for every k, the first checkpoint handed
    /// out at a size of at least 2^k, and every size holding observers'
    /// cosignatures; all below the latest size (the latest is the record's
    /// final checkpoint). Read each with [`Self::checkpoint`] and its
    /// cosignatures with [`Self::cosignatures`].
    pub fn history_sizes(&self) -> Result<Vec<u64>, StoreError> {
        let latest = self.latest_checkpoint().size();
        let mut sizes = std::collections::BTreeSet::new();
        {
            let mut reader = self.inner.backend.reader()?;
            let mut at_least = 1u64;
            while at_least < latest {
                match reader.checkpoint_size_at_least(at_least)? {
                    Some(s) if s < latest => {
                        sizes.insert(s);
                        // The next power of two above the size found.
                        at_least = s.saturating_add(1).next_power_of_two();
                    }
                    _ => break,
                }
            }
        }
        let cosigned = self
            .inner
            .cosignatures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sizes();
        sizes.extend(cosigned.into_iter().filter(|&s| s > 0 && s < latest));
        Ok(sizes.into_iter().collect())
    }

    /// The signed checkpoint the board handed out for `size`.
    pub fn checkpoint(&self, size: u64) -> Result<SignedCheckpoint, StoreError> {
        let latest = self.latest_checkpoint();
        if size == latest.size() {
            return Ok((*latest).clone());
        }
        if size > latest.size() {
            return Err(StoreError::SizeBeyondTree {
                size,
                tree_size: latest.size(),
            });
        }
        let text = self
            .inner
            .backend
            .reader()?
            .checkpoint(size)?
            .ok_or(StoreError::UnknownCheckpoint(size))?;
        parse_note(&text, &self.inner.shared.verifier_key)
    }

    fn stored_entry(row: EntryRow) -> Result<StoredEntry, StoreError> {
        let entry = Entry::from_bytes(row.bytes)
            .map_err(|e| corrupt(format!("stored entry {} does not parse: {e}", row.index)))?;
        Ok(StoredEntry {
            index: row.index,
            leaf_hash: row.leaf_hash,
            entry,
        })
    }

    /// Entries `start..end` of the published tree, at most
    /// [`StoreOptions::max_page`] of them: `end` is lowered to the tree size
    /// and to `start + max_page`, so fewer entries than asked for means
    /// "ask again from `start + len`". `start` must be in the tree unless the
    /// range is empty.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<StoredEntry>, StoreError> {
        if start > end {
            return Err(StoreError::InvalidRange { start, end });
        }
        if start == end {
            return Ok(Vec::new());
        }
        let size = self.size();
        if start >= size {
            return Err(StoreError::IndexOutOfRange { index: start, size });
        }
        let end = end
            .min(size)
            .min(start.saturating_add(self.inner.opts.max_page));
        let rows = self.inner.backend.reader()?.entries(start, end)?;
        if rows.len() as u64 != end - start {
            return Err(corrupt(format!(
                "{} entries stored in {start}..{end}",
                rows.len()
            )));
        }
        rows.into_iter().map(Self::stored_entry).collect()
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<StoredEntry, StoreError> {
        let size = self.size();
        if index >= size {
            return Err(StoreError::IndexOutOfRange { index, size });
        }
        let row = self
            .inner
            .backend
            .reader()?
            .entries(index, index + 1)?
            .pop()
            .ok_or_else(|| corrupt(format!("entry {index} is missing")))?;
        Self::stored_entry(row)
    }

    /// The entry whose leaf hash is `leaf_hash`.
    pub fn entry_by_hash(&self, leaf_hash: &Hash) -> Result<StoredEntry, StoreError> {
        let size = self.size();
        let found = self
            .inner
            .shared
            .leaves
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .lookup(leaf_hash);
        let index = match found {
            Lookup::Exact(i) | Lookup::Candidate(i) => i,
            Lookup::Absent => return Err(StoreError::UnknownLeafHash(*leaf_hash)),
        };
        // An entry committed but not yet published is not shown.
        if index >= size {
            return Err(StoreError::UnknownLeafHash(*leaf_hash));
        }
        let entry = self.entry(index)?;
        // A candidate only shares the hash's first 8 bytes.
        if entry.leaf_hash != *leaf_hash {
            return Err(StoreError::UnknownLeafHash(*leaf_hash));
        }
        Ok(entry)
    }

    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        let tree_size = self.size();
        if size > tree_size {
            return Err(StoreError::SizeBeyondTree { size, tree_size });
        }
        Ok(())
    }

    /// Hashes of the given perfect subtrees, from the hot levels where
    /// possible and from the backend in one call for the rest.
    fn subtree_hashes(&self, ids: &[SubtreeId]) -> Result<Vec<Hash>, StoreError> {
        let mut out = vec![[0u8; 32]; ids.len()];
        let mut cold = Vec::new();
        let mut cold_pos = Vec::new();
        {
            let hot = self
                .inner
                .shared
                .hot
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for (pos, id) in ids.iter().enumerate() {
                match hot.get(*id) {
                    Some(h) => out[pos] = h,
                    None => {
                        cold.push(*id);
                        cold_pos.push(pos);
                    }
                }
            }
        }
        if !cold.is_empty() {
            let got = self.inner.backend.reader()?.subtrees(&cold)?;
            for ((id, pos), h) in cold.iter().zip(cold_pos).zip(got) {
                out[pos] = h.ok_or_else(|| corrupt(format!("subtree {id} is missing")))?;
            }
        }
        Ok(out)
    }

    /// RFC 9162 inclusion proof of leaf `index` in the tree of `size`
    /// leaves (spec/board.md §B4.2); `size` must not exceed the published size.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        let plan = inclusion_proof_plan(index, size).map_err(|e| proof_error(e, size))?;
        let hashes = self.subtree_hashes(plan.subtrees())?;
        plan.assemble_ordered(&hashes).map_err(corrupt)
    }

    /// Index and inclusion proof of the entry with `leaf_hash` in the tree
    /// of `size` leaves.
    pub fn inclusion_proof_by_hash(
        &self,
        leaf_hash: &Hash,
        size: u64,
    ) -> Result<(u64, Vec<Hash>), StoreError> {
        self.check_size(size)?;
        let entry = self.entry_by_hash(leaf_hash)?;
        let proof = self.inclusion_proof(entry.index, size)?;
        Ok((entry.index, proof))
    }

    /// RFC 9162 consistency proof from the tree of `old` leaves to the tree
    /// of `new` leaves (spec/board.md §B4.3).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(new)?;
        let plan = consistency_proof_plan(old, new).map_err(|e| proof_error(e, new))?;
        let hashes = self.subtree_hashes(plan.subtrees())?;
        plan.assemble_ordered(&hashes).map_err(corrupt)
    }

    /// The bytes of a hash tile of the published tree (spec/board.md §B8.2).
    pub fn hash_tile(&self, tile: TileId) -> Result<Vec<u8>, StoreError> {
        let tree_size = self.size();
        if !tile.is_within(tree_size) {
            return Err(StoreError::TileBeyondTree {
                path: TilePath::Hashes(tile).to_string(),
                tree_size,
            });
        }
        let ids = tile.subtrees();
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Err(corrupt("empty tile"));
        };
        let hot = {
            let hot = self
                .inner
                .shared
                .hot
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            ids.iter()
                .map(|id| hot.get(*id))
                .collect::<Option<Vec<_>>>()
        };
        let hashes = match hot {
            Some(hashes) => hashes,
            None => self.inner.backend.reader()?.subtree_range(
                first.level,
                first.index,
                last.index + 1,
            )?,
        };
        tile.encode_ordered(&hashes).map_err(corrupt)
    }

    /// The bytes of an entry bundle of the published tree (spec/board.md §B8.3).
    pub fn entry_bundle(&self, bundle: BundleId) -> Result<Vec<u8>, StoreError> {
        let tree_size = self.size();
        if !bundle.is_within(tree_size) {
            return Err(StoreError::TileBeyondTree {
                path: TilePath::Entries(bundle).to_string(),
                tree_size,
            });
        }
        let range = bundle.entries();
        let rows = self
            .inner
            .backend
            .reader()?
            .entries(range.start, range.end)?;
        let entries = rows
            .into_iter()
            .map(|r| Self::stored_entry(r).map(|e| e.entry))
            .collect::<Result<Vec<_>, _>>()?;
        bundle.encode(&entries).map_err(corrupt)
    }

    /// A tile or bundle by its parsed path.
    pub fn tile(&self, path: TilePath) -> Result<Vec<u8>, StoreError> {
        match path {
            TilePath::Hashes(t) => self.hash_tile(t),
            TilePath::Entries(b) => self.entry_bundle(b),
        }
    }
}

/// Builds the leaf-hash index from the stored level-0 subtrees (the leaf
/// hashes), read in index order in chunks.
fn load_leaf_index(size: u64, backend: &dyn Backend) -> Result<LeafIndex, StoreError> {
    const CHUNK: u64 = 1 << 16;
    let mut index = LeafIndex::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut reader = backend.reader()?;
    let mut start = 0;
    while start < size {
        let end = size.min(start + CHUNK);
        let hashes = reader.subtree_range(0, start, end)?;
        if hashes.len() as u64 != end - start {
            return Err(corrupt(format!("leaf hashes {start}..{end} are missing")));
        }
        for (i, hash) in (start..end).zip(&hashes) {
            match index.lookup(hash) {
                Lookup::Absent => index.insert(hash, i, false),
                Lookup::Exact(j) => {
                    return Err(corrupt(format!(
                        "entries {j} and {i} have the same leaf hash"
                    )));
                }
                Lookup::Candidate(j) => {
                    let other = reader
                        .subtrees(&[SubtreeId::new(0, j)])?
                        .pop()
                        .flatten()
                        .ok_or_else(|| corrupt(format!("leaf hash {j} is missing")))?;
                    if other == *hash {
                        return Err(corrupt(format!(
                            "entries {j} and {i} have the same leaf hash"
                        )));
                    }
                    index.insert(hash, i, true);
                }
            }
        }
        start = end;
    }
    Ok(index)
}

/// What the writer thread owns.
struct WriterState {
    writer: Box<dyn BackendWriter>,
    key: BoardSigningKey,
    frontier: Frontier,
    shared: Arc<Shared>,
    max_batch: usize,
    snapshots_kept: u64,
}

/// Result of one request in a batch, before the checkpoint is known.
enum Outcome {
    Appended(u64),
    Failed(StoreError),
}

impl WriterState {
    fn run(mut self, rx: Receiver<Job>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut snaps = Vec::new();
        // Group commit: block for the first request, then take whatever else
        // is already queued. While a batch is being fsynced, new requests
        // pile up in the channel and form the next batch, so the batch size
        // adapts to the load with no timer.
        while let Ok(first) = rx.recv() {
            let mut job = Some(first);
            while let Some(j) = job.take() {
                match j {
                    Job::Append(r) => batch.push(r),
                    Job::Snapshot(s) => snaps.push(s),
                }
                if batch.len() < self.max_batch {
                    job = rx.try_recv().ok();
                }
            }
            if let Err(e) = self.commit_batch(&mut batch, &mut snaps) {
                // A failed commit (fsync error above all) leaves the
                // database state unknown to us; retrying could acknowledge
                // data that is not durable. Stop: reopening the store
                // recovers from exactly what is durable.
                let _ = self.writer.rollback();
                let msg = format!("{e}");
                *self
                    .shared
                    .stopped
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(msg.clone());
                for req in batch.drain(..) {
                    req.reply.send(Err(StoreError::WriterStopped(msg.clone())));
                }
                for snap in snaps.drain(..) {
                    snap.reply.send(Err(StoreError::WriterStopped(msg.clone())));
                }
                return;
            }
        }
    }

    fn commit_batch(
        &mut self,
        batch: &mut Vec<Request>,
        snaps: &mut Vec<SnapshotRequest>,
    ) -> Result<(), StoreError> {
        let mut frontier = self.frontier.clone();
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut hot_rows = Vec::new();
        let min_hot = self
            .shared
            .hot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .min_level();
        // Leaves of this batch, by hash and by 8-byte prefix, for duplicate
        // checks before they reach the shared index.
        let mut staged: HashMap<Hash, u64> = HashMap::with_capacity(batch.len());
        let mut staged_prefixes: HashMap<[u8; 8], Hash> = HashMap::with_capacity(batch.len());
        let mut new_leaves = Vec::with_capacity(batch.len());
        self.writer.begin()?;
        let leaves = self
            .shared
            .leaves
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for req in batch.iter() {
            let hash = req.leaf_hash;
            let index = frontier.size();
            if index >= MAX_TREE_SIZE {
                outcomes.push(Outcome::Failed(StoreError::TreeFull));
                continue;
            }
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&hash[..8]);
            let duplicate = match staged.get(&hash) {
                Some(&i) => Some(i),
                None => match leaves.lookup(&hash) {
                    Lookup::Exact(i) => Some(i),
                    Lookup::Candidate(i) => {
                        let stored = self.writer.subtrees(&[SubtreeId::new(0, i)])?;
                        (stored.first() == Some(&Some(hash))).then_some(i)
                    }
                    Lookup::Absent => None,
                },
            };
            if let Some(existing) = duplicate {
                outcomes.push(Outcome::Failed(StoreError::Duplicate {
                    index: existing,
                    leaf_hash: hash,
                }));
                continue;
            }
            let collides = !matches!(leaves.lookup(&hash), Lookup::Absent)
                || staged_prefixes.contains_key(&prefix);
            self.writer.insert_entry(index, &hash, req.entry.bytes())?;
            // spec/board.md §B3.3: store every subtree the append completes.
            for (id, h) in frontier.push(hash).map_err(corrupt)? {
                self.writer.insert_subtree(id, &h)?;
                if id.level >= min_hot {
                    hot_rows.push((id, h));
                }
            }
            staged.insert(hash, index);
            staged_prefixes.insert(prefix, hash);
            new_leaves.push((hash, index, collides));
            outcomes.push(Outcome::Appended(index));
        }
        drop(leaves);
        // Snapshots ride along: they may describe any size the board has
        // once this transaction commits, never a larger one.
        let mut snap_outcomes = Vec::with_capacity(snaps.len());
        for req in snaps.iter() {
            let size = req.snapshot.size;
            if size > frontier.size() {
                snap_outcomes.push(Err(StoreError::SnapshotBeyondBoard {
                    size,
                    tree_size: frontier.size(),
                }));
            } else {
                self.writer
                    .put_snapshot(&req.snapshot, self.snapshots_kept)?;
                snap_outcomes.push(Ok(()));
            }
        }
        let grew = frontier.size() != self.frontier.size();
        let checkpoint = if grew {
            // Signed before the commit so that the checkpoint is in the same
            // transaction as the entries it covers: one fsync per batch, and
            // a restart always finds the latest checkpoint matching the
            // stored tree. The note is not shown to anyone before commit.
            let cp = sign(&self.key, frontier.size(), frontier.root())?;
            self.writer.insert_checkpoint(cp.size(), cp.text())?;
            Some(Arc::new(cp))
        } else {
            None
        };
        self.writer.commit()?;

        // Durable: now make it visible. Indexes first, so that any reader
        // who sees the new size finds every subtree and leaf it needs.
        self.frontier = frontier;
        if !new_leaves.is_empty() {
            let mut leaves = self
                .shared
                .leaves
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for (hash, index, collides) in new_leaves {
                leaves.insert(&hash, index, collides);
            }
        }
        if !hot_rows.is_empty() {
            let mut hot = self
                .shared
                .hot
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for (id, hash) in hot_rows {
                hot.push(id, hash)?;
            }
        }
        let checkpoint = match checkpoint {
            Some(cp) => {
                *self
                    .shared
                    .published
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::clone(&cp);
                cp
            }
            None => self.shared.published(),
        };
        let appended = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Appended(_)))
            .count() as u64;
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        self.shared.entries.fetch_add(appended, Ordering::Relaxed);
        self.shared
            .largest_batch
            .fetch_max(appended, Ordering::Relaxed);
        for (req, outcome) in batch.drain(..).zip(outcomes) {
            let result = match outcome {
                Outcome::Appended(index) => Ok(Appended {
                    index,
                    leaf_hash: req.leaf_hash,
                    checkpoint: Arc::clone(&checkpoint),
                }),
                Outcome::Failed(e) => Err(e),
            };
            req.reply.send(result);
        }
        for (req, outcome) in snaps.drain(..).zip(snap_outcomes) {
            req.reply.send(outcome);
        }
        Ok(())
    }
}
