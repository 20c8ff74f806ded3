//! The SQLite backend: one database file, WAL, `synchronous = FULL` (a
//! decision acknowledged is a decision kept), one connection behind a
//! mutex, write transactions `BEGIN IMMEDIATE` (decisions are serialised,
//! spec/registration.md §G4; the bulk import of §G2 is its fast path).

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql, TransactionBehavior, params_from_iter};

use super::schema::{Dialect, SCHEMA_VERSION, schema};
use super::voters::{INSERT_VOTER, duplicate_error, voter_params};
use super::{Backend, Rows, Tx, Val};
use crate::RegistryError;

fn db(context: &'static str) -> impl FnOnce(rusqlite::Error) -> RegistryError {
    move |e| RegistryError::storage(context, e)
}

/// The SQLite backend.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    conn: Mutex<Connection>,
}

impl SqliteBackend {
    pub(crate) fn open(path: &Path) -> Result<Self, RegistryError> {
        let conn = Connection::open(path).map_err(db("opening the registry database"))?;
        // WAL: readers do not block the writer. FULL: a committed decision
        // survives a power cut (the WAL is fsynced at each commit).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db("setting WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db("setting synchronous"))?;
        conn.pragma_update(None, "busy_timeout", 5000)
            .map_err(db("setting busy_timeout"))?;
        // 256 MiB of page cache keeps the voter indexes of a large registry
        // in memory (random document hashes touch every index page), and
        // index builds sort in memory.
        conn.pragma_update(None, "cache_size", -262_144)
            .map_err(db("setting cache_size"))?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(db("setting temp_store"))?;
        conn.execute_batch(&schema(Dialect::Sqlite))
            .map_err(db("creating the schema"))?;
        let v: Option<String> = conn
            .query_row(
                "SELECT value FROM registry_meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .map_or_else(
                |e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                },
                |v| Ok(Some(v)),
            )
            .map_err(db("reading the schema version"))?;
        match v.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO registry_meta (name, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(db("writing the schema version"))?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(RegistryError::storage(
                    "opening the registry database",
                    format!("schema version {other}, this program knows {SCHEMA_VERSION}"),
                ));
            }
        }
        Ok(SqliteBackend {
            conn: Mutex::new(conn),
        })
    }
}

impl Backend for SqliteBackend {
    fn write(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("beginning a transaction"))?;
        let mut t = SqliteTx { tx };
        f(&mut t)?; // on Err the transaction is dropped: rolled back
        t.tx.commit().map_err(db("committing"))
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }
}

struct SqliteTx<'c> {
    tx: rusqlite::Transaction<'c>,
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

fn from_ref(v: ValueRef<'_>) -> Result<Val, RegistryError> {
    Ok(match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Text(t) => Val::Text(
            std::str::from_utf8(t)
                .map_err(|e| RegistryError::storage("reading text", e))?
                .to_string(),
        ),
        ValueRef::Blob(b) => Val::Blob(b.to_vec()),
        ValueRef::Real(_) => {
            return Err(RegistryError::storage("reading a row", "unexpected REAL"));
        }
    })
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, RegistryError> {
        let mut st = self.tx.prepare_cached(sql).map_err(db("preparing"))?;
        let n = st
            .execute(params_from_iter(params))
            .map_err(db("executing"))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, RegistryError> {
        let mut st = self.tx.prepare_cached(sql).map_err(db("preparing"))?;
        let cols = st.column_count();
        let mut rows = st.query(params_from_iter(params)).map_err(db("querying"))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db("reading rows"))? {
            let mut row = Vec::with_capacity(cols);
            for i in 0..cols {
                row.push(from_ref(r.get_ref(i).map_err(db("reading a column"))?)?);
            }
            out.push(row);
        }
        Ok(out)
    }

    fn insert_voters(
        &mut self,
        file: &str,
        rows: Rows<'_>,
        version: i64,
    ) -> Result<u64, RegistryError> {
        // Into an empty table, the indexes are dropped and built once the
        // rows are in: one sort instead of a million random B-tree inserts.
        // Duplicates cannot hit them then: within a file the reader finds
        // them, naming the line. The DDL is part of the transaction, so a
        // failed import restores them.
        let empty = self
            .tx
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM voters)", [], |r| {
                r.get::<_, bool>(0)
            })
            .map_err(db("checking for voters"))?;
        if empty {
            self.tx
                .execute_batch("DROP INDEX voters_id; DROP INDEX voters_doc;")
                .map_err(db("dropping the voter indexes"))?;
        }
        let n = self.insert_rows(file, rows, version)?;
        if empty {
            self.tx
                .execute_batch(
                    "CREATE UNIQUE INDEX voters_id ON voters (voter_id); \
                     CREATE UNIQUE INDEX voters_doc ON voters (doc_hash);",
                )
                .map_err(db("building the voter indexes"))?;
        }
        Ok(n)
    }
}

impl SqliteTx<'_> {
    fn insert_rows(
        &mut self,
        file: &str,
        rows: Rows<'_>,
        version: i64,
    ) -> Result<u64, RegistryError> {
        let mut st = self
            .tx
            .prepare_cached(INSERT_VOTER)
            .map_err(db("preparing"))?;
        let mut n = 0u64;
        for row in rows {
            let (line, r) = row?;
            match st.execute(params_from_iter(voter_params(&r, version))) {
                Ok(_) => n += 1,
                Err(rusqlite::Error::SqliteFailure(e, msg))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    let on_id = msg
                        .as_deref()
                        .is_some_and(|m| m.contains("voters.voter_id"));
                    return Err(duplicate_error(file, line, &r.voter_id, on_id));
                }
                Err(e) => return Err(RegistryError::storage("inserting a voter", e)),
            }
        }
        Ok(n)
    }
}
