//! The embedded default backend: one SQLite database file in WAL mode.
//!
//! Settings and their reasons are in `docs/decisions/0003-board-storage.md`.
//! Data-manipulation statements are plain SQL that PostgreSQL runs as is;
//! only the DDL and the pragmas are SQLite-specific.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use urna_board::{Hash, SubtreeId};

use crate::backend::{Backend, BackendReader, BackendWriter, CosignatureRow, EntryRow, Snapshot};
use crate::error::BackendError;

/// Version of the schema below, kept in `urna_meta`. Tables added later
/// (`board_cosignatures`) are created if missing on every open, so a
/// version-1 database from before them needs no other migration.
const SCHEMA_VERSION: &str = "1";

// `INTEGER PRIMARY KEY` makes `idx` SQLite's rowid: entries are stored in
// index order in the table's own B-tree, so appends go to its right edge and
// range reads are sequential. Subtrees are `WITHOUT ROWID`, so the
// `(level, idx)` key *is* the table (one B-tree instead of table + index).
// PostgreSQL would spell these `BIGINT PRIMARY KEY`, `BYTEA` and a plain
// composite primary key.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS urna_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS board_entries (
    idx       INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL,
    bytes     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS board_subtrees (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS board_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS board_cosignatures (
    size     INTEGER NOT NULL,
    observer TEXT NOT NULL,
    line     TEXT NOT NULL,
    PRIMARY KEY (size, observer)
);
CREATE TABLE IF NOT EXISTS election_snapshots (
    size   INTEGER PRIMARY KEY,
    format INTEGER NOT NULL,
    state  BLOB NOT NULL
);
";

const INSERT_ENTRY: &str = "INSERT INTO board_entries (idx, leaf_hash, bytes) VALUES (?1, ?2, ?3)";
const INSERT_SUBTREE: &str = "INSERT INTO board_subtrees (level, idx, hash) VALUES (?1, ?2, ?3)";
const INSERT_CHECKPOINT: &str = "INSERT INTO board_checkpoints (size, note) VALUES (?1, ?2)";
const ENTRY_COUNT: &str = "SELECT MAX(idx) FROM board_entries";
const LATEST_CHECKPOINT: &str =
    "SELECT size, note FROM board_checkpoints ORDER BY size DESC LIMIT 1";
const SUBTREE: &str = "SELECT hash FROM board_subtrees WHERE level = ?1 AND idx = ?2";
const SUBTREE_RANGE: &str = "SELECT hash FROM board_subtrees \
     WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx";
const ENTRIES: &str = "SELECT idx, leaf_hash, bytes FROM board_entries \
     WHERE idx >= ?1 AND idx < ?2 ORDER BY idx";
const CHECKPOINT: &str = "SELECT note FROM board_checkpoints WHERE size = ?1";
const CHECKPOINT_AT_LEAST: &str =
    "SELECT size FROM board_checkpoints WHERE size >= ?1 ORDER BY size LIMIT 1";
// `ON CONFLICT ... DO UPDATE` is SQLite (3.24+) and PostgreSQL alike.
const UPSERT_COSIGNATURE: &str = "INSERT INTO board_cosignatures (size, observer, line) \
     VALUES (?1, ?2, ?3) ON CONFLICT (size, observer) DO UPDATE SET line = excluded.line";
const PRUNE_COSIGNATURES: &str = "DELETE FROM board_cosignatures WHERE size < \
     (SELECT MIN(size) FROM (SELECT DISTINCT size FROM board_cosignatures \
      ORDER BY size DESC LIMIT ?1) AS kept)";
const META: &str = "SELECT value FROM urna_meta WHERE name = ?1";
const UPSERT_SNAPSHOT: &str = "INSERT INTO election_snapshots (size, format, state) \
     VALUES (?1, ?2, ?3) ON CONFLICT (size) DO UPDATE SET format = excluded.format, \
     state = excluded.state";
const PRUNE_SNAPSHOTS: &str = "DELETE FROM election_snapshots WHERE size < \
     (SELECT MIN(size) FROM (SELECT size FROM election_snapshots \
      ORDER BY size DESC LIMIT ?1) AS kept)";
const LATEST_SNAPSHOT: &str =
    "SELECT size, format, state FROM election_snapshots ORDER BY size DESC LIMIT 1";
const PUT_META: &str = "INSERT INTO urna_meta (name, value) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
const COSIGNATURES: &str =
    "SELECT size, observer, line FROM board_cosignatures ORDER BY size, observer";

/// Tuning of the SQLite backend.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Idle read connections kept open (more are opened under load and
    /// closed when returned to a full pool).
    pub read_pool: usize,
    /// Page cache of the write connection, KiB.
    pub writer_cache_kib: u32,
    /// Page cache of each read connection, KiB.
    pub reader_cache_kib: u32,
    /// Bytes of the database file that read connections map into memory,
    /// MiB (0: none). Mapped pages are shared by all readers through the
    /// OS page cache instead of being copied into each connection's cache.
    pub reader_mmap_mib: u64,
    /// Least time between two WAL checkpoints (each one fsyncs the
    /// database file).
    pub checkpoint_interval: Duration,
    /// Size of the WAL, KiB, above which the checkpointer briefly holds the
    /// writer back so that the WAL can start over.
    pub wal_limit_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_pool: 8,
            writer_cache_kib: 64 * 1024,
            reader_cache_kib: 16 * 1024,
            reader_mmap_mib: 0,
            checkpoint_interval: Duration::from_millis(50),
            wal_limit_kib: 32 * 1024,
        }
    }
}

/// The SQLite backend: a database file, a pool of read connections, and
/// write connections handed to the store's single writer.
#[derive(Debug)]
pub struct SqliteBackend {
    path: PathBuf,
    opts: SqliteOptions,
    pool: Mutex<Vec<Connection>>,
    /// The connection that writes cosignatures, opened on first use.
    cosigner: Mutex<Option<Connection>>,
}

fn err(context: &'static str) -> impl FnOnce(rusqlite::Error) -> BackendError {
    move |e| BackendError::new(context, e)
}

fn to_i64(v: u64) -> Result<i64, BackendError> {
    i64::try_from(v).map_err(|e| BackendError::new("index beyond the SQLite integer range", e))
}

fn to_u64(v: i64) -> Result<u64, BackendError> {
    u64::try_from(v).map_err(|e| BackendError::new("negative index in the database", e))
}

fn to_hash(v: Vec<u8>) -> Result<Hash, BackendError> {
    Hash::try_from(v.as_slice()).map_err(|e| BackendError::new("stored hash is not 32 bytes", e))
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>, opts: SqliteOptions) -> Result<Self, BackendError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(err("opening the database"))?;
        // WAL: readers never block the writer nor the writer readers, and a
        // commit is one sequential append (and fsync) of the WAL.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err("enabling WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(BackendError::new(
                "enabling WAL",
                format!("journal mode is {mode}"),
            ));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; BEGIN IMMEDIATE;")
            .map_err(err("starting schema creation"))?;
        conn.execute_batch(SCHEMA)
            .map_err(err("creating the schema"))?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM urna_meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err("reading the schema version"))?;
        match version.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO urna_meta (name, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(err("writing the schema version"))?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(BackendError::new(
                    "checking the schema version",
                    format!("database schema version {other}, this build reads {SCHEMA_VERSION}"),
                ));
            }
        }
        conn.execute_batch("COMMIT")
            .map_err(err("committing the schema"))?;
        drop(conn);
        Ok(SqliteBackend {
            path,
            opts,
            pool: Mutex::new(Vec::new()),
            cosigner: Mutex::new(None),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_reader(&self) -> Result<Connection, BackendError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err("opening a read connection"))?;
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{}; PRAGMA mmap_size = {}; PRAGMA busy_timeout = 5000;",
            self.opts.reader_cache_kib,
            self.opts.reader_mmap_mib * 1024 * 1024
        ))
        .map_err(err("configuring a read connection"))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn take_reader(&self) -> Result<Connection, BackendError> {
        let pooled = match self.pool.lock() {
            Ok(mut pool) => pool.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        match pooled {
            Some(conn) => Ok(conn),
            None => self.open_reader(),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut pool = match self.pool.lock() {
            Ok(pool) => pool,
            Err(poisoned) => poisoned.into_inner(),
        };
        if pool.len() < self.opts.read_pool {
            pool.push(conn);
        }
    }
}

impl Backend for SqliteBackend {
    fn open_writer(&self) -> Result<Box<dyn BackendWriter>, BackendError> {
        let conn = Connection::open(&self.path).map_err(err("opening the write connection"))?;
        // synchronous = FULL: in WAL mode every commit fsyncs the WAL, so a
        // committed batch survives a power cut, not just a process crash.
        // wal_autocheckpoint = 0: the writer never copies the WAL back into
        // the database itself (that would stall appends); the checkpointer
        // thread does, on the other core.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             PRAGMA cache_size = -{}; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA journal_size_limit = {}; PRAGMA busy_timeout = 5000;",
            self.opts.writer_cache_kib,
            u64::from(self.opts.wal_limit_kib) * 2048
        ))
        .map_err(err("configuring the write connection"))?;
        let ckpt_conn =
            Connection::open(&self.path).map_err(err("opening the checkpoint connection"))?;
        ckpt_conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
            .map_err(err("configuring the checkpoint connection"))?;
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(err("reading the page size"))?;
        let limit_frames = (i64::from(self.opts.wal_limit_kib) * 1024 / page_size.max(512)).max(1);
        let gate = Arc::new(WalGate::default());
        let interval = self.opts.checkpoint_interval;
        let thread_gate = Arc::clone(&gate);
        let thread = std::thread::Builder::new()
            .name("urna-wal-checkpoint".into())
            .spawn(move || checkpointer(ckpt_conn, &thread_gate, interval, limit_frames))
            .map_err(|e| BackendError::new("starting the checkpoint thread", e))?;
        Ok(Box::new(SqliteWriter {
            conn,
            gate,
            thread: Some(thread),
        }))
    }

    fn reader(&self) -> Result<Box<dyn BackendReader + '_>, BackendError> {
        Ok(Box::new(SqliteReader {
            conn: Some(self.take_reader()?),
            backend: self,
        }))
    }

    fn put_cosignature(&self, row: &CosignatureRow, keep_sizes: u64) -> Result<(), BackendError> {
        let mut slot = self.cosigner.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            // A second write connection beside the board writer's: SQLite
            // serialises the two transactions (busy_timeout waits out a
            // batch); synchronous = FULL makes the commit durable.
            let conn =
                Connection::open(&self.path).map_err(err("opening the cosignature connection"))?;
            conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;")
                .map_err(err("configuring the cosignature connection"))?;
            *slot = Some(conn);
        }
        let conn = slot.as_mut().ok_or_else(|| {
            BackendError::new("opening the cosignature connection", "no connection")
        })?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err("beginning a cosignature transaction"))?;
        tx.execute(
            UPSERT_COSIGNATURE,
            params![to_i64(row.size)?, row.observer, row.line],
        )
        .map_err(err("storing a cosignature"))?;
        tx.execute(PRUNE_COSIGNATURES, [to_i64(keep_sizes)?])
            .map_err(err("pruning old cosignatures"))?;
        // Dropping `tx` without commit rolls back: nothing half-stored.
        tx.commit().map_err(err("committing a cosignature"))
    }
}

fn subtrees(conn: &Connection, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError> {
    // Point lookups through one prepared statement: for SQLite (in-process,
    // no round trips) this is as fast as any single multi-row query, and it
    // needs no per-length SQL text. The PostgreSQL backend will fetch the
    // same ids in one query.
    let mut stmt = conn
        .prepare_cached(SUBTREE)
        .map_err(err("preparing a subtree lookup"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let hash: Option<Vec<u8>> = stmt
            .query_row(params![id.level, to_i64(id.index)?], |r| r.get(0))
            .optional()
            .map_err(err("reading a subtree hash"))?;
        out.push(hash.map(to_hash).transpose()?);
    }
    Ok(out)
}

/// Runs `f` in one read transaction: a read transaction per statement
/// would take and release the WAL read lock (a process-wide mutex and an
/// fcntl lock) for each hash of a proof.
fn in_read_txn<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, BackendError>,
) -> Result<T, BackendError> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .map_err(err("beginning a read transaction"))?;
    let result = f(conn);
    // Ending a read transaction cannot lose anything; a failure here is
    // reported only if `f` itself succeeded.
    let end = conn
        .prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]))
        .map_err(err("ending a read transaction"));
    let value = result?;
    end?;
    Ok(value)
}

/// Coordination of the writer and the checkpointer thread.
#[derive(Default)]
struct WalGate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Default)]
struct GateState {
    // The writer is inside a transaction.
    writing: bool,
    // The checkpointer is copying the last frames; the writer waits.
    closing_tail: bool,
    // Commits since the checkpointer last looked.
    commits: u64,
    stop: bool,
}

impl WalGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(
        &self,
        guard: std::sync::MutexGuard<'a, GateState>,
    ) -> std::sync::MutexGuard<'a, GateState> {
        self.cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    fn writer_enter(&self) {
        let mut state = self.lock();
        while state.closing_tail {
            state = self.wait(state);
        }
        state.writing = true;
    }

    fn writer_leave(&self, committed: bool) {
        let mut state = self.lock();
        state.writing = false;
        if committed {
            state.commits += 1;
        }
        drop(state);
        self.cv.notify_all();
    }
}

fn passive_checkpoint(conn: &Connection) -> Option<i64> {
    // Returns the number of frames in the WAL. A failed checkpoint loses
    // nothing (the frames stay in the WAL, which is durable); the next one
    // retries.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
        .ok()
}

/// Copies committed WAL frames into the database file, off the writer's
/// thread, so the writer only ever appends to the WAL.
///
/// PASSIVE checkpoints run beside the writer and never block it. But under
/// continuous appends such a checkpoint never catches up with the end of the
/// WAL, and SQLite only starts the WAL over once every frame has been
/// copied. So when the WAL passes `limit_frames`, the checkpointer holds the
/// writer back between two batches (the gate), copies the few frames left,
/// and lets it go: its next transaction rewinds the WAL to the start.
fn checkpointer(conn: Connection, gate: &WalGate, interval: Duration, limit_frames: i64) {
    loop {
        let stop = {
            let mut state = gate.lock();
            while state.commits == 0 && !state.stop {
                state = gate.wait(state);
            }
            state.commits = 0;
            state.stop
        };
        let frames = passive_checkpoint(&conn);
        if stop {
            return;
        }
        if frames.is_some_and(|f| f >= limit_frames) {
            let mut state = gate.lock();
            state.closing_tail = true;
            while state.writing {
                state = gate.wait(state);
            }
            drop(state);
            passive_checkpoint(&conn);
            gate.lock().closing_tail = false;
            gate.cv.notify_all();
        }
        std::thread::sleep(interval);
    }
}

struct SqliteWriter {
    conn: Connection,
    gate: Arc<WalGate>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        self.gate.lock().stop = true;
        self.gate.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl BackendWriter for SqliteWriter {
    fn begin(&mut self) -> Result<(), BackendError> {
        self.gate.writer_enter();
        // IMMEDIATE takes the write lock now rather than at the first insert.
        let r = self
            .conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(err("beginning a write transaction"));
        if r.is_err() {
            self.gate.writer_leave(false);
        }
        r
    }

    fn insert_entry(
        &mut self,
        index: u64,
        leaf_hash: &Hash,
        bytes: &[u8],
    ) -> Result<(), BackendError> {
        let mut stmt = self
            .conn
            .prepare_cached(INSERT_ENTRY)
            .map_err(err("preparing an entry insert"))?;
        stmt.execute(params![to_i64(index)?, &leaf_hash[..], bytes])
            .map_err(err("inserting an entry"))?;
        Ok(())
    }

    fn insert_subtree(&mut self, id: SubtreeId, hash: &Hash) -> Result<(), BackendError> {
        let mut stmt = self
            .conn
            .prepare_cached(INSERT_SUBTREE)
            .map_err(err("preparing a subtree insert"))?;
        stmt.execute(params![id.level, to_i64(id.index)?, &hash[..]])
            .map_err(err("inserting a subtree"))?;
        Ok(())
    }

    fn insert_checkpoint(&mut self, size: u64, note: &str) -> Result<(), BackendError> {
        let mut stmt = self
            .conn
            .prepare_cached(INSERT_CHECKPOINT)
            .map_err(err("preparing a checkpoint insert"))?;
        stmt.execute(params![to_i64(size)?, note])
            .map_err(err("inserting a checkpoint"))?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), BackendError> {
        let r = self
            .conn
            .execute_batch("COMMIT")
            .map_err(err("committing a batch"));
        self.gate.writer_leave(r.is_ok());
        r
    }

    fn rollback(&mut self) -> Result<(), BackendError> {
        let r = if self.conn.is_autocommit() {
            Ok(())
        } else {
            self.conn
                .execute_batch("ROLLBACK")
                .map_err(err("rolling back a batch"))
        };
        self.gate.writer_leave(false);
        r
    }

    fn entry_count(&mut self) -> Result<u64, BackendError> {
        let max: Option<i64> = self
            .conn
            .query_row(ENTRY_COUNT, [], |r| r.get(0))
            .map_err(err("counting entries"))?;
        match max {
            None => Ok(0),
            Some(m) => Ok(to_u64(m)? + 1),
        }
    }

    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>, BackendError> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(LATEST_CHECKPOINT, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(err("reading the latest checkpoint"))?;
        row.map(|(s, n)| Ok((to_u64(s)?, n))).transpose()
    }

    fn subtrees(&mut self, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError> {
        subtrees(&self.conn, ids)
    }

    fn meta(&mut self, name: &str) -> Result<Option<String>, BackendError> {
        self.conn
            .query_row(META, [name], |r| r.get(0))
            .optional()
            .map_err(err("reading urna_meta"))
    }

    fn put_meta(&mut self, name: &str, value: &str) -> Result<(), BackendError> {
        self.conn
            .execute(PUT_META, [name, value])
            .map_err(err("writing urna_meta"))?;
        Ok(())
    }

    fn put_snapshot(&mut self, snapshot: &Snapshot, keep: u64) -> Result<(), BackendError> {
        let (size, keep) = (to_i64(snapshot.size)?, to_i64(keep)?);
        self.conn
            .prepare_cached(UPSERT_SNAPSHOT)
            .and_then(|mut st| {
                st.execute(params![size, i64::from(snapshot.format), snapshot.state])
            })
            .map_err(err("storing a snapshot"))?;
        self.conn
            .prepare_cached(PRUNE_SNAPSHOTS)
            .and_then(|mut st| st.execute([keep]))
            .map_err(err("pruning old snapshots"))?;
        Ok(())
    }
}

struct SqliteReader<'a> {
    // Always `Some` until dropped.
    conn: Option<Connection>,
    backend: &'a SqliteBackend,
}

impl Drop for SqliteReader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.backend.give_back(conn);
        }
    }
}

impl SqliteReader<'_> {
    fn conn(&self) -> Result<&Connection, BackendError> {
        self.conn
            .as_ref()
            .ok_or_else(|| BackendError::new("using a read connection", "connection was returned"))
    }
}

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Vec<u8>, Vec<u8>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn to_entry_row((idx, hash, bytes): (i64, Vec<u8>, Vec<u8>)) -> Result<EntryRow, BackendError> {
    Ok(EntryRow {
        index: to_u64(idx)?,
        leaf_hash: to_hash(hash)?,
        bytes,
    })
}

impl BackendReader for SqliteReader<'_> {
    fn subtrees(&mut self, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError> {
        let conn = self.conn()?;
        if ids.len() > 1 {
            in_read_txn(conn, |c| subtrees(c, ids))
        } else {
            subtrees(conn, ids)
        }
    }

    fn subtree_range(
        &mut self,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<Vec<Hash>, BackendError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(SUBTREE_RANGE)
            .map_err(err("preparing a subtree range read"))?;
        let rows = stmt
            .query_map(params![level, to_i64(start)?, to_i64(end)?], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .map_err(err("reading a subtree range"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(to_hash(row.map_err(err("reading a subtree range"))?)?);
        }
        Ok(out)
    }

    fn entries(&mut self, start: u64, end: u64) -> Result<Vec<EntryRow>, BackendError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(ENTRIES)
            .map_err(err("preparing an entry range read"))?;
        let rows = stmt
            .query_map(params![to_i64(start)?, to_i64(end)?], entry_row)
            .map_err(err("reading entries"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(to_entry_row(row.map_err(err("reading entries"))?)?);
        }
        Ok(out)
    }

    fn checkpoint(&mut self, size: u64) -> Result<Option<String>, BackendError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(CHECKPOINT)
            .map_err(err("preparing a checkpoint read"))?;
        stmt.query_row([to_i64(size)?], |r| r.get(0))
            .optional()
            .map_err(err("reading a checkpoint"))
    }

    fn checkpoint_size_at_least(&mut self, size: u64) -> Result<Option<u64>, BackendError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(CHECKPOINT_AT_LEAST)
            .map_err(err("preparing a checkpoint size read"))?;
        let found: Option<i64> = stmt
            .query_row([to_i64(size)?], |r| r.get(0))
            .optional()
            .map_err(err("reading a checkpoint size"))?;
        found.map(to_u64).transpose()
    }

    fn cosignatures(&mut self) -> Result<Vec<CosignatureRow>, BackendError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(COSIGNATURES)
            .map_err(err("preparing a cosignature read"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(err("reading cosignatures"))?;
        let mut out = Vec::new();
        for row in rows {
            let (size, observer, line) = row.map_err(err("reading cosignatures"))?;
            out.push(CosignatureRow {
                size: to_u64(size)?,
                observer,
                line,
            });
        }
        Ok(out)
    }

    fn latest_snapshot(&mut self) -> Result<Option<Snapshot>, BackendError> {
        let conn = self.conn()?;
        let row: Option<(i64, i64, Vec<u8>)> = conn
            .query_row(LATEST_SNAPSHOT, [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(err("reading the latest snapshot"))?;
        row.map(|(size, format, state)| {
            Ok(Snapshot {
                size: to_u64(size)?,
                format: u32::try_from(format)
                    .map_err(|e| BackendError::new("stored snapshot format", e))?,
                state,
            })
        })
        .transpose()
    }
}
