//! The PostgreSQL backend: the same rows as SQLite's, in one database that
//! several servers can share.
//!
//! Client: the blocking client of rust-postgres (`postgres`, a thin wrapper
//! over tokio-postgres; the registry uses it too), because the store's
//! writer is a plain thread and its reads are called from blocking code
//! (servers call them through `spawn_blocking`). Reads use an `r2d2` pool.
//! Design, schema and the fencing of writers: `docs/decisions/0011-store-postgres.md`.
//!
//! Durability: every session runs with `synchronous_commit = on` (set on
//! connect and checked on the writer), so `COMMIT` returns only once the
//! transaction's WAL is flushed on the server (and on synchronous standbys,
//! if the operator configured any).

use std::fmt;
use std::time::Duration;

use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls, SimpleQueryMessage, Statement};
use r2d2_postgres::PostgresConnectionManager;
use urna_board::{Hash, SubtreeId};

use crate::backend::{Backend, BackendReader, BackendWriter, CosignatureRow, EntryRow, Snapshot};
use crate::error::BackendError;

/// Version of the schema below, kept in `urna_meta` as in SQLite.
const SCHEMA_VERSION: &str = "1";

/// Transaction-level advisory lock taken while creating the schema, so that
/// servers starting together do not race on `CREATE TABLE`.
const SCHEMA_LOCK: i64 = 0x7572_6e61_626f_6172; // "urnaboar"

// Same tables as SQLite (sqlite.rs), spelled for PostgreSQL, plus
// `board_head`: the stored board size, which every batch advances with
// `UPDATE ... WHERE size = <expected>`, so a writer whose idea of the board
// is stale (another writer appended since) fails instead of appending.
// Entries are random bytes (ballots): STORAGE EXTERNAL skips compressing
// values past the TOAST threshold, which would only burn CPU.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS urna_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS board_entries (
    idx       BIGINT PRIMARY KEY,
    leaf_hash BYTEA NOT NULL,
    bytes     BYTEA NOT NULL
);
ALTER TABLE board_entries ALTER COLUMN bytes SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS board_subtrees (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS board_checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS board_cosignatures (
    size     BIGINT NOT NULL,
    observer TEXT NOT NULL,
    line     TEXT NOT NULL,
    PRIMARY KEY (size, observer)
);
CREATE TABLE IF NOT EXISTS board_head (
    one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    size BIGINT NOT NULL
);
INSERT INTO board_head (one, size) VALUES (TRUE, 0) ON CONFLICT (one) DO NOTHING;
CREATE TABLE IF NOT EXISTS cluster_lease (
    one        BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    epoch      BIGINT NOT NULL,
    holder     TEXT NOT NULL,
    address    TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO cluster_lease (one, epoch, holder, address, expires_at)
    VALUES (TRUE, 0, '', '', '-infinity') ON CONFLICT (one) DO NOTHING;
CREATE TABLE IF NOT EXISTS election_snapshots (
    size   BIGINT PRIMARY KEY,
    format BIGINT NOT NULL,
    state  BYTEA NOT NULL
);
";

const INSERT_ENTRIES: &str = "INSERT INTO board_entries (idx, leaf_hash, bytes) \
     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])";
const INSERT_SUBTREES: &str = "INSERT INTO board_subtrees (level, idx, hash) \
     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])";
const INSERT_CHECKPOINT: &str = "INSERT INTO board_checkpoints (size, note) VALUES ($1, $2)";
const LOCK_HEAD: &str = "BEGIN; SELECT size FROM board_head FOR UPDATE";
// The sequencer lease (lease.rs): read under a share lock in every batch,
// so that a takeover (an UPDATE of the row) waits for the batch in flight
// and every later batch of the old holder sees the new epoch.
const LEASE_FENCE: &str = "SELECT epoch FROM cluster_lease WHERE one FOR SHARE";
const ADVANCE_HEAD: &str = "UPDATE board_head SET size = $1 WHERE size = $2";
const HEAD: &str = "SELECT (SELECT size FROM board_head), \
     (SELECT COALESCE(MAX(idx) + 1, 0) FROM board_entries)";
const LATEST_CHECKPOINT: &str =
    "SELECT size, note FROM board_checkpoints ORDER BY size DESC LIMIT 1";
// One round trip for a whole proof plan, in plan order.
const SUBTREES: &str = "SELECT s.hash FROM unnest($1::smallint[], $2::bigint[]) \
     WITH ORDINALITY AS q(level, idx, ord) \
     LEFT JOIN board_subtrees s ON s.level = q.level AND s.idx = q.idx ORDER BY q.ord";
const SUBTREE_RANGE: &str = "SELECT hash FROM board_subtrees \
     WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx";
const ENTRIES: &str = "SELECT idx, leaf_hash, bytes FROM board_entries \
     WHERE idx >= $1 AND idx < $2 ORDER BY idx";
const CHECKPOINT: &str = "SELECT note FROM board_checkpoints WHERE size = $1";
const CHECKPOINT_AT_LEAST: &str =
    "SELECT size FROM board_checkpoints WHERE size >= $1 ORDER BY size LIMIT 1";
const UPSERT_COSIGNATURE: &str = "INSERT INTO board_cosignatures (size, observer, line) \
     VALUES ($1, $2, $3) ON CONFLICT (size, observer) DO UPDATE SET line = excluded.line";
const PRUNE_COSIGNATURES: &str = "DELETE FROM board_cosignatures WHERE size < \
     (SELECT MIN(size) FROM (SELECT DISTINCT size FROM board_cosignatures \
      ORDER BY size DESC LIMIT $1) AS kept)";
// Byte order, as SQLite compares text, whatever the database's collation.
const COSIGNATURES: &str = "SELECT size, observer, line FROM board_cosignatures \
     ORDER BY size, observer COLLATE \"C\"";
const META: &str = "SELECT value FROM urna_meta WHERE name = $1";
const UPSERT_SNAPSHOT: &str = "INSERT INTO election_snapshots (size, format, state) \
     VALUES ($1, $2, $3) ON CONFLICT (size) DO UPDATE SET format = excluded.format, \
     state = excluded.state";
const PRUNE_SNAPSHOTS: &str = "DELETE FROM election_snapshots WHERE size < \
     (SELECT MIN(size) FROM (SELECT size FROM election_snapshots \
      ORDER BY size DESC LIMIT $1) AS kept)";
const LATEST_SNAPSHOT: &str =
    "SELECT size, format, state FROM election_snapshots ORDER BY size DESC LIMIT 1";
const PUT_META: &str = "INSERT INTO urna_meta (name, value) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";

/// `application_name` of the board's write session and of its pooled
/// read sessions (seen in `pg_stat_activity`).
const WRITER_NAME: &str = "urna-board-writer";
const READER_NAME: &str = "urna-board-reader";

/// Rows buffered by the writer are sent once they hold this many bytes
/// (and at commit), so a batch of large entries stays a few statements.
const FLUSH_BYTES: usize = 8 << 20;

/// How to use the PostgreSQL database.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// A schema to create and use instead of the connection's search path
    /// (tests use a fresh one each; a deployment may keep each election in
    /// its own). Lower-case ASCII letters, digits and `_`.
    pub schema: Option<String>,
    /// Most pooled read connections.
    pub read_pool: u32,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// The sequencer lease epoch this store appends under (several servers
    /// on one database, docs/decisions/0017-cluster-sequencer.md): every
    /// batch reads the lease row and is refused, appending nothing, unless
    /// its epoch is this one. `None`: no lease check (one server).
    pub lease_epoch: Option<i64>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            read_pool: 8,
            connect_timeout: Duration::from_secs(5),
            lease_epoch: None,
        }
    }
}

impl PostgresOptions {
    /// Default options using `schema`.
    pub fn with_schema(schema: &str) -> Self {
        PostgresOptions {
            schema: Some(schema.to_owned()),
            ..PostgresOptions::default()
        }
    }
}

fn err(context: &'static str) -> impl FnOnce(postgres::Error) -> BackendError {
    move |e| BackendError::new(context, e)
}

fn to_i64(v: u64) -> Result<i64, BackendError> {
    i64::try_from(v).map_err(|e| BackendError::new("index beyond the BIGINT range", e))
}

fn to_u64(v: i64) -> Result<u64, BackendError> {
    u64::try_from(v).map_err(|e| BackendError::new("negative index in the database", e))
}

fn to_hash(v: &[u8]) -> Result<Hash, BackendError> {
    Hash::try_from(v).map_err(|e| BackendError::new("stored hash is not 32 bytes", e))
}

fn is_schema_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

fn parse_url(url: &str) -> Result<Config, BackendError> {
    url.parse::<Config>()
        .map_err(|e| BackendError::new("parsing the PostgreSQL URL", e))
}

/// Drops a schema made with [`PostgresOptions::with_schema`] and everything
/// in it (tests and benchmarks clean up with this).
pub fn drop_postgres_schema(url: &str, schema: &str) -> Result<(), BackendError> {
    if !is_schema_name(schema) {
        return Err(BackendError::new(
            "dropping a schema",
            format!("`{schema}` is not a schema name (a-z, 0-9, _)"),
        ));
    }
    let mut c = parse_url(url)?
        .connect(NoTls)
        .map_err(err("connecting to PostgreSQL"))?;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .map_err(err("dropping the schema"))
}

/// The PostgreSQL backend: a connection configuration, a pool of read
/// connections, and write connections handed to the store's writer.
pub struct PostgresBackend {
    config: Config,
    read_pool: u32,
    lease_epoch: Option<i64>,
    /// `None` only while dropping (see the `Drop` impl).
    pool: Option<r2d2::Pool<PostgresConnectionManager<NoTls>>>,
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        // Closing a blocking client runs a small runtime of its own, which
        // panics on an async worker thread; the last handle of a store may
        // well be dropped there (a server replacing its state). So the
        // pooled connections are closed on a thread of their own, waited for.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::Builder::new()
                .name("urna-pg-close".into())
                .spawn(move || drop(pool))
                .map(|t| t.join());
        }
    }
}

impl fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the configuration: it may hold a password.
        f.debug_struct("PostgresBackend")
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

impl PostgresBackend {
    /// Connects to the database at `url` (a `postgres://` URL or a
    /// key=value connection string) and creates the board's tables if
    /// missing.
    pub fn open(url: &str, opts: &PostgresOptions) -> Result<Self, BackendError> {
        let mut config = session_config(url, opts)?;
        create_schema(
            &mut config
                .connect(NoTls)
                .map_err(err("connecting to PostgreSQL"))?,
        )?;
        config.application_name(READER_NAME);
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        // No test on checkout: it would cost a round trip per read; a
        // broken connection fails its query and is dropped (`has_broken`).
        let pool = r2d2::Pool::builder()
            .max_size(opts.read_pool.max(1))
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(opts.connect_timeout)
            .build(manager)
            .map_err(|e| BackendError::new("starting the read pool", e))?;
        Ok(PostgresBackend {
            config,
            read_pool: opts.read_pool.max(1),
            pool: Some(pool),
            lease_epoch: opts.lease_epoch,
        })
    }

    /// A server setting (`SHOW name`), e.g. to report `fsync` next to a
    /// benchmark figure.
    pub fn setting(&self, name: &str) -> Result<String, BackendError> {
        let row = self
            .read_connection()?
            .query_one("SELECT current_setting($1)", &[&name])
            .map_err(err("reading a server setting"))?;
        Ok(row.get(0))
    }

    fn read_connection(
        &self,
    ) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, BackendError> {
        self.pool
            .as_ref()
            .ok_or_else(|| BackendError::new("taking a read connection", "the pool is closed"))?
            .get()
            .map_err(|e| BackendError::new("taking a read connection", e))
    }
}

/// The connection configuration of every session on the board's
/// database: durable commits, and the schema (created if missing) first
/// on the search path.
pub(crate) fn session_config(url: &str, opts: &PostgresOptions) -> Result<Config, BackendError> {
    let mut config = parse_url(url)?;
    config.connect_timeout(opts.connect_timeout);
    let mut options = config.get_options().unwrap_or_default().to_owned();
    // Every session, readers included: durable commits (the cosignature
    // writes run on pooled connections too).
    options.push_str(" -c synchronous_commit=on");
    if let Some(schema) = &opts.schema {
        if !is_schema_name(schema) {
            return Err(BackendError::new(
                "selecting the schema",
                format!("`{schema}` is not a schema name (a-z, 0-9, _)"),
            ));
        }
        let mut c = config
            .connect(NoTls)
            .map_err(err("connecting to PostgreSQL"))?;
        c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .map_err(err("creating the schema"))?;
        options.push_str(&format!(" -c search_path={schema}"));
    }
    config.options(options.trim_start());
    Ok(config)
}

pub(crate) fn create_schema(c: &mut Client) -> Result<(), BackendError> {
    let mut tx = c.transaction().map_err(err("beginning schema creation"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(err("locking schema creation"))?;
    tx.batch_execute(SCHEMA)
        .map_err(err("creating the schema"))?;
    let version: Option<String> = tx
        .query_opt(META, &[&"schema_version"])
        .map_err(err("reading the schema version"))?
        .map(|r| r.get(0));
    match version.as_deref() {
        None => {
            tx.execute(PUT_META, &[&"schema_version", &SCHEMA_VERSION])
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
    tx.commit().map_err(err("committing the schema"))
}

impl Backend for PostgresBackend {
    fn reconnects(&self) -> bool {
        true
    }

    fn open_writer(&self) -> Result<Box<dyn BackendWriter>, BackendError> {
        // Named, so that an operator sees (and can end) the board's writer
        // in pg_stat_activity.
        let mut client = self
            .config
            .clone()
            .application_name(WRITER_NAME)
            .connect(NoTls)
            .map_err(err("opening the write connection"))?;
        // Set explicitly (not only through the connection options) and
        // checked: an acknowledgement must mean the WAL is flushed.
        client
            .batch_execute("SET synchronous_commit = on")
            .map_err(err("setting synchronous_commit"))?;
        let mode: String = client
            .query_one("SHOW synchronous_commit", &[])
            .map_err(err("reading synchronous_commit"))?
            .get(0);
        if mode != "on" {
            return Err(BackendError::new(
                "setting synchronous_commit",
                format!("the server keeps synchronous_commit = {mode}"),
            ));
        }
        if self.lease_epoch.is_some() {
            // A sequencer paused (SIGSTOP) inside a batch holds the lease
            // row's share lock, which a takeover waits for: the database
            // ends such a session, and its transaction, after this long.
            client
                .batch_execute("SET idle_in_transaction_session_timeout = '5s'")
                .map_err(err("setting idle_in_transaction_session_timeout"))?;
        }
        let stmts = Statements {
            entries: prepare(&mut client, INSERT_ENTRIES)?,
            subtrees: prepare(&mut client, INSERT_SUBTREES)?,
            checkpoint: prepare(&mut client, INSERT_CHECKPOINT)?,
            advance: prepare(&mut client, ADVANCE_HEAD)?,
            lease: prepare(&mut client, LEASE_FENCE)?,
        };
        Ok(Box::new(PgWriter {
            client,
            stmts,
            head: None,
            in_tx: false,
            pending: Pending::default(),
            added: 0,
            lease_epoch: self.lease_epoch,
        }))
    }

    fn reader(&self) -> Result<Box<dyn BackendReader + '_>, BackendError> {
        Ok(Box::new(PgReader {
            backend: self,
            conn: self.read_connection()?,
        }))
    }

    fn put_cosignature(&self, row: &CosignatureRow, keep_sizes: u64) -> Result<(), BackendError> {
        let mut conn = self.read_connection()?;
        let mut tx = conn
            .transaction()
            .map_err(err("beginning a cosignature transaction"))?;
        tx.batch_execute("SET LOCAL synchronous_commit = on")
            .map_err(err("setting synchronous_commit"))?;
        tx.execute(
            UPSERT_COSIGNATURE,
            &[&to_i64(row.size)?, &row.observer, &row.line],
        )
        .map_err(err("storing a cosignature"))?;
        tx.execute(PRUNE_COSIGNATURES, &[&to_i64(keep_sizes)?])
            .map_err(err("pruning old cosignatures"))?;
        // Dropping `tx` without commit rolls back: nothing half-stored.
        tx.commit().map_err(err("committing a cosignature"))
    }
}

fn prepare(client: &mut Client, sql: &str) -> Result<Statement, BackendError> {
    client
        .prepare(sql)
        .map_err(err("preparing a write statement"))
}

type Params<'a> = [(&'a (dyn ToSql + Sync), Type)];

/// Hashes of `ids` in one round trip, through `run` (a query function).
fn subtrees(
    ids: &[SubtreeId],
    run: impl FnOnce(&str, &Params<'_>) -> Result<Vec<postgres::Row>, BackendError>,
) -> Result<Vec<Option<Hash>>, BackendError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
    let indices = ids
        .iter()
        .map(|id| to_i64(id.index))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = run(
        SUBTREES,
        &[(&levels, Type::INT2_ARRAY), (&indices, Type::INT8_ARRAY)],
    )?;
    if rows.len() != ids.len() {
        return Err(BackendError::new(
            "reading subtree hashes",
            format!("{} rows for {} ids", rows.len(), ids.len()),
        ));
    }
    rows.iter()
        .map(|r| {
            let h: Option<&[u8]> = r.try_get(0).map_err(err("reading a subtree hash"))?;
            h.map(to_hash).transpose()
        })
        .collect()
}

struct Statements {
    entries: Statement,
    subtrees: Statement,
    checkpoint: Statement,
    advance: Statement,
    lease: Statement,
}

/// Rows of the open transaction not yet sent.
#[derive(Default)]
struct Pending {
    entry_idx: Vec<i64>,
    entry_hash: Vec<Vec<u8>>,
    entry_bytes: Vec<Vec<u8>>,
    sub_level: Vec<i16>,
    sub_idx: Vec<i64>,
    sub_hash: Vec<Vec<u8>>,
    bytes: usize,
}

impl Pending {
    fn clear(&mut self) {
        self.entry_idx.clear();
        self.entry_hash.clear();
        self.entry_bytes.clear();
        self.sub_level.clear();
        self.sub_idx.clear();
        self.sub_hash.clear();
        self.bytes = 0;
    }
}

/// The write session. Rows are buffered and sent as a few array inserts
/// (`unnest`), so a batch costs a handful of round trips whatever its
/// size; then the head is advanced (the fence) and the transaction
/// committed.
struct PgWriter {
    client: Client,
    stmts: Statements,
    /// The stored board size this writer expects, read by `entry_count`.
    head: Option<u64>,
    in_tx: bool,
    pending: Pending,
    /// Entries inserted in the open transaction.
    added: u64,
    /// The lease epoch every batch must find (`PostgresOptions::lease_epoch`).
    lease_epoch: Option<i64>,
}

impl PgWriter {
    fn flush(&mut self) -> Result<(), BackendError> {
        let p = &self.pending;
        if !p.entry_idx.is_empty() {
            self.client
                .execute(
                    &self.stmts.entries,
                    &[&p.entry_idx, &p.entry_hash, &p.entry_bytes],
                )
                .map_err(err("inserting entries"))?;
        }
        if !p.sub_idx.is_empty() {
            self.client
                .execute(
                    &self.stmts.subtrees,
                    &[&p.sub_level, &p.sub_idx, &p.sub_hash],
                )
                .map_err(err("inserting subtrees"))?;
        }
        self.pending.clear();
        Ok(())
    }

    fn exec(&mut self, sql: &str, context: &'static str) -> Result<(), BackendError> {
        self.client.batch_execute(sql).map_err(err(context))
    }

    fn head(&self) -> Result<u64, BackendError> {
        self.head
            .ok_or_else(|| BackendError::new("writing the board", "the stored size was never read"))
    }
}

impl BackendWriter for PgWriter {
    fn begin(&mut self) -> Result<(), BackendError> {
        self.pending.clear();
        self.added = 0;
        let expected = self.head()?;
        // One round trip: the transaction, and the head row locked for it
        // (a second writer waits here, then sees the size moved).
        self.in_tx = true;
        let msgs = self
            .client
            .simple_query(LOCK_HEAD)
            .map_err(err("beginning a write transaction"))?;
        let stored = msgs.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        });
        let stored = stored
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| BackendError::new("locking the board head", "no board_head row"))?;
        // The fence (docs/decisions/0011): a batch extends the board only
        // from the size this writer last read or wrote.
        if stored != expected {
            return Err(BackendError::new(
                "locking the board head",
                format!(
                    "fenced: this writer expected the stored board to hold {expected} entries, \
                     another writer has made it {stored}"
                ),
            ));
        }
        if let Some(mine) = self.lease_epoch {
            let found: i64 = self
                .client
                .query_one(&self.stmts.lease, &[])
                .map_err(err("reading the sequencer lease"))?
                .get(0);
            if found != mine {
                return Err(BackendError::new(
                    "checking the sequencer lease",
                    format!(
                        "fenced: this server appends under lease epoch {mine}, \
                         the database's sequencer lease is at epoch {found}"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn insert_entry(
        &mut self,
        index: u64,
        leaf_hash: &Hash,
        bytes: &[u8],
    ) -> Result<(), BackendError> {
        self.pending.entry_idx.push(to_i64(index)?);
        self.pending.entry_hash.push(leaf_hash.to_vec());
        self.pending.entry_bytes.push(bytes.to_vec());
        self.pending.bytes += bytes.len() + 40;
        self.added += 1;
        if self.pending.bytes >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn insert_subtree(&mut self, id: SubtreeId, hash: &Hash) -> Result<(), BackendError> {
        self.pending.sub_level.push(i16::from(id.level));
        self.pending.sub_idx.push(to_i64(id.index)?);
        self.pending.sub_hash.push(hash.to_vec());
        self.pending.bytes += 48;
        Ok(())
    }

    fn insert_checkpoint(&mut self, size: u64, note: &str) -> Result<(), BackendError> {
        self.client
            .execute(&self.stmts.checkpoint, &[&to_i64(size)?, &note])
            .map_err(err("inserting a checkpoint"))?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), BackendError> {
        self.flush()?;
        let expected = self.head()?;
        let new = expected + self.added;
        // The head row is locked since `begin`, so this matches; checked
        // all the same rather than assumed.
        let moved = self
            .client
            .execute(&self.stmts.advance, &[&to_i64(new)?, &to_i64(expected)?])
            .map_err(err("advancing the board head"))?;
        if moved != 1 {
            return Err(BackendError::new(
                "advancing the board head",
                format!("fenced: the stored board no longer holds {expected} entries"),
            ));
        }
        self.exec("COMMIT", "committing a batch")?;
        self.in_tx = false;
        self.head = Some(new);
        Ok(())
    }

    fn rollback(&mut self) -> Result<(), BackendError> {
        self.pending.clear();
        self.added = 0;
        if !self.in_tx {
            return Ok(());
        }
        self.in_tx = false;
        self.exec("ROLLBACK", "rolling back a batch")
    }

    fn entry_count(&mut self) -> Result<u64, BackendError> {
        let row = self
            .client
            .query_one(HEAD, &[])
            .map_err(err("counting entries"))?;
        let head: Option<i64> = row.get(0);
        let count: i64 = row.get(1);
        let count = to_u64(count)?;
        let head = head.map(to_u64).transpose()?;
        if head != Some(count) {
            return Err(BackendError::new(
                "counting entries",
                format!("board_head says {head:?} entries, board_entries holds {count}"),
            ));
        }
        self.head = Some(count);
        Ok(count)
    }

    fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>, BackendError> {
        let row = self
            .client
            .query_opt(LATEST_CHECKPOINT, &[])
            .map_err(err("reading the latest checkpoint"))?;
        row.map(|r| Ok((to_u64(r.get(0))?, r.get(1)))).transpose()
    }

    fn subtrees(&mut self, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError> {
        let client = &mut self.client;
        subtrees(ids, |sql, params| {
            client
                .query_typed(sql, params)
                .map_err(err("reading subtree hashes"))
        })
    }

    fn meta(&mut self, name: &str) -> Result<Option<String>, BackendError> {
        let row = self
            .client
            .query_opt(META, &[&name])
            .map_err(err("reading urna_meta"))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn put_meta(&mut self, name: &str, value: &str) -> Result<(), BackendError> {
        self.client
            .execute(PUT_META, &[&name, &value])
            .map_err(err("writing urna_meta"))?;
        Ok(())
    }

    fn put_snapshot(&mut self, snapshot: &Snapshot, keep: u64) -> Result<(), BackendError> {
        let format = i64::from(snapshot.format);
        self.client
            .execute(
                UPSERT_SNAPSHOT,
                &[&to_i64(snapshot.size)?, &format, &snapshot.state],
            )
            .map_err(err("storing a snapshot"))?;
        self.client
            .execute(PRUNE_SNAPSHOTS, &[&to_i64(keep)?])
            .map_err(err("pruning old snapshots"))?;
        Ok(())
    }
}

/// The error ended the session: the connection was lost, or the server
/// ended it (SQLSTATE class 57P: shutdown, crash, administrator command).
fn session_ended(e: &postgres::Error) -> bool {
    e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("57P"))
}

struct PgReader<'a> {
    backend: &'a PostgresBackend,
    conn: r2d2::PooledConnection<PostgresConnectionManager<NoTls>>,
}

impl PgReader<'_> {
    /// Runs a read; while the connection in hand turns out to be closed
    /// (the database restarted, or dropped it), retries on another one
    /// (reads are idempotent), so that a database that is back serves
    /// reads at once instead of failing once per stale pooled connection.
    fn query(
        &mut self,
        sql: &str,
        params: &Params<'_>,
        context: &'static str,
    ) -> Result<Vec<postgres::Row>, BackendError> {
        let mut retries = self.backend.read_pool + 1;
        loop {
            match self.conn.query_typed(sql, params) {
                Ok(rows) => return Ok(rows),
                Err(e) if retries > 0 && (self.conn.is_closed() || session_ended(&e)) => {
                    retries -= 1;
                    // The blocking client notices the closed socket only
                    // when next used: use it once more, so that it knows
                    // and the pool drops it (`has_broken`) instead of
                    // handing it out again.
                    let _ = self.conn.batch_execute("");
                    self.conn = self.backend.read_connection()?;
                }
                Err(e) => return Err(BackendError::new(context, e)),
            }
        }
    }
}

impl BackendReader for PgReader<'_> {
    fn subtrees(&mut self, ids: &[SubtreeId]) -> Result<Vec<Option<Hash>>, BackendError> {
        subtrees(ids, |sql, params| {
            self.query(sql, params, "reading subtree hashes")
        })
    }

    fn subtree_range(
        &mut self,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<Vec<Hash>, BackendError> {
        let rows = self.query(
            SUBTREE_RANGE,
            &[
                (&i16::from(level), Type::INT2),
                (&to_i64(start)?, Type::INT8),
                (&to_i64(end)?, Type::INT8),
            ],
            "reading a subtree range",
        )?;
        rows.iter().map(|r| to_hash(r.get(0))).collect()
    }

    fn entries(&mut self, start: u64, end: u64) -> Result<Vec<EntryRow>, BackendError> {
        let rows = self.query(
            ENTRIES,
            &[(&to_i64(start)?, Type::INT8), (&to_i64(end)?, Type::INT8)],
            "reading entries",
        )?;
        rows.into_iter()
            .map(|r| {
                Ok(EntryRow {
                    index: to_u64(r.get(0))?,
                    leaf_hash: to_hash(r.get(1))?,
                    bytes: r.get(2),
                })
            })
            .collect()
    }

    fn checkpoint(&mut self, size: u64) -> Result<Option<String>, BackendError> {
        let rows = self.query(
            CHECKPOINT,
            &[(&to_i64(size)?, Type::INT8)],
            "reading a checkpoint",
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn checkpoint_size_at_least(&mut self, size: u64) -> Result<Option<u64>, BackendError> {
        let rows = self.query(
            CHECKPOINT_AT_LEAST,
            &[(&to_i64(size)?, Type::INT8)],
            "reading a checkpoint size",
        )?;
        rows.first().map(|r| to_u64(r.get(0))).transpose()
    }

    fn latest_snapshot(&mut self) -> Result<Option<Snapshot>, BackendError> {
        let rows = self.query(LATEST_SNAPSHOT, &[], "reading the latest snapshot")?;
        rows.first()
            .map(|r| {
                Ok(Snapshot {
                    size: to_u64(r.get(0))?,
                    format: u32::try_from(r.get::<_, i64>(1))
                        .map_err(|e| BackendError::new("stored snapshot format", e))?,
                    state: r.get(2),
                })
            })
            .transpose()
    }

    fn cosignatures(&mut self) -> Result<Vec<CosignatureRow>, BackendError> {
        let rows = self.query(COSIGNATURES, &[], "reading cosignatures")?;
        rows.into_iter()
            .map(|r| {
                Ok(CosignatureRow {
                    size: to_u64(r.get(0))?,
                    observer: r.get(1),
                    line: r.get(2),
                })
            })
            .collect()
    }
}
