//! The PostgreSQL backend, on the blocking client of rust-postgres (a thin
//! wrapper over tokio-postgres): the registry's operations are short
//! synchronous transactions, like SQLite's, so one code path serves both
//! (spec/registration.md: the same behaviour on either backend).
//! It must not be called from inside an async runtime's worker thread (use
//! `spawn_blocking`).
//!
//! Write transactions take one transaction-level advisory lock, so they run
//! one at a time as on SQLite: screening reads counts (applicants per
//! phone) that a concurrent transaction could otherwise change under it.
//! The bulk import streams rows with `COPY` into a temporary table, checks
//! them against the registry (to name the line of a duplicate), then
//! inserts them in one statement.

use std::io::Write;
use std::sync::{Mutex, PoisonError};

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};

use super::schema::{Dialect, SCHEMA_VERSION, schema as schema_sql};
use super::voters::duplicate_error;
use super::{Backend, Rows, Tx, Val};
use crate::RegistryError;

const WRITE_LOCK: i64 = 0x0075_726e_6172_6567; // "urnareg"

/// How to use the PostgreSQL database.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// A schema to create and use instead of the default search path
    /// (tests use one fresh schema each).
    pub schema: Option<String>,
}

impl PostgresOptions {
    /// Options using `schema`.
    pub fn with_schema(schema: &str) -> Self {
        PostgresOptions {
            schema: Some(schema.to_string()),
        }
    }
}

/// Drops a schema made with [`PostgresOptions::with_schema`] and everything
/// in it (tests and benches clean up with this).
pub fn drop_postgres_schema(url: &str, schema: &str) -> Result<(), RegistryError> {
    if !is_schema_name(schema) {
        return Err(RegistryError::refused(
            "invalid_schema",
            format!("`{schema}` is not a schema name (a-z, 0-9, _)"),
        ));
    }
    let mut c = Client::connect(url, NoTls).map_err(db("connecting to PostgreSQL"))?;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .map_err(db("dropping the schema"))
}

fn db(context: &'static str) -> impl FnOnce(postgres::Error) -> RegistryError {
    move |e| RegistryError::storage(context, e)
}

pub(crate) struct PostgresBackend {
    client: Mutex<Client>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the connection (its configuration holds the password).
        f.write_str("PostgresBackend")
    }
}

fn is_schema_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl PostgresBackend {
    pub(crate) fn open(url: &str, options: &PostgresOptions) -> Result<Self, RegistryError> {
        let mut client = Client::connect(url, NoTls).map_err(db("connecting to PostgreSQL"))?;
        if let Some(schema) = &options.schema {
            if !is_schema_name(schema) {
                return Err(RegistryError::refused(
                    "invalid_schema",
                    format!("`{schema}` is not a schema name (a-z, 0-9, _)"),
                ));
            }
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
                ))
                .map_err(db("selecting the schema"))?;
        }
        let mut tx = client.transaction().map_err(db("beginning"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(db("locking"))?;
        tx.batch_execute(&schema_sql(Dialect::Postgres))
            .map_err(db("creating the schema"))?;
        let v = tx
            .query_opt(
                "SELECT value FROM registry_meta WHERE name = 'schema_version'",
                &[],
            )
            .map_err(db("reading the schema version"))?
            .map(|r| r.get::<_, String>(0));
        match v.as_deref() {
            None => {
                tx.execute(
                    "INSERT INTO registry_meta (name, value) VALUES ('schema_version', $1)",
                    &[&SCHEMA_VERSION],
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
        tx.commit().map_err(db("committing the schema"))?;
        Ok(PostgresBackend {
            client: Mutex::new(client),
        })
    }
}

impl Backend for PostgresBackend {
    fn write(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let mut client = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        let mut tx = client
            .transaction()
            .map_err(db("beginning a transaction"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(db("locking"))?;
        let mut t = PgTx { tx };
        f(&mut t)?; // on Err the transaction is dropped: rolled back
        t.tx.commit().map_err(db("committing"))
    }

    fn name(&self) -> &'static str {
        "postgres"
    }
}

struct PgTx<'c> {
    tx: postgres::Transaction<'c>,
}

/// `?N` placeholders become PostgreSQL's `$N`.
fn dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn params(vals: &[Val]) -> Vec<Box<dyn ToSql + Sync>> {
    vals.iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Val::Int(i) => Box::new(*i),
                Val::Text(s) => Box::new(s.clone()),
                Val::Blob(b) => Box::new(b.clone()),
                Val::Null => Box::new(None::<String>),
            }
        })
        .collect()
}

fn column(row: &postgres::Row, i: usize) -> Result<Val, RegistryError> {
    let ty = row.columns()[i].type_().clone();
    let get = |e: postgres::Error| RegistryError::storage("reading a column", e);
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)
            .map_err(get)?
            .map_or(Val::Null, Val::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)
            .map_err(get)?
            .map_or(Val::Null, |v| Val::Int(i64::from(v)))
    } else if ty == Type::TEXT || ty == Type::VARCHAR {
        row.try_get::<_, Option<String>>(i)
            .map_err(get)?
            .map_or(Val::Null, Val::Text)
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)
            .map_err(get)?
            .map_or(Val::Null, Val::Blob)
    } else {
        return Err(RegistryError::storage(
            "reading a column",
            format!("unexpected type {ty}"),
        ));
    })
}

/// Escapes a value for COPY's text format.
fn copy_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

impl Tx for PgTx<'_> {
    fn exec(&mut self, sql: &str, vals: &[Val]) -> Result<u64, RegistryError> {
        let p = params(vals);
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        self.tx
            .execute(&dialect(sql), &refs)
            .map_err(db("executing"))
    }

    fn query(&mut self, sql: &str, vals: &[Val]) -> Result<Vec<Vec<Val>>, RegistryError> {
        let p = params(vals);
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        let rows = self
            .tx
            .query(&dialect(sql), &refs)
            .map_err(db("querying"))?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| column(r, i)).collect())
            .collect()
    }

    fn insert_voters(
        &mut self,
        file: &str,
        rows: Rows<'_>,
        version: i64,
    ) -> Result<u64, RegistryError> {
        self.tx
            .batch_execute(
                "CREATE TEMPORARY TABLE import_rows (line BIGINT NOT NULL, voter_id TEXT NOT NULL, \
                 region TEXT NOT NULL, full_name TEXT NOT NULL, birth_date TEXT NOT NULL, \
                 doc_hash BYTEA NOT NULL, phone TEXT NOT NULL, email TEXT, precinct TEXT NOT NULL, \
                 account_created TEXT NOT NULL) ON COMMIT DROP",
            )
            .map_err(db("creating the import table"))?;
        let mut n = 0u64;
        {
            let mut w = self
                .tx
                .copy_in("COPY import_rows FROM STDIN")
                .map_err(db("starting COPY"))?;
            let mut buf = Vec::with_capacity(1 << 20);
            for row in rows {
                // On a bad row the writer is dropped unfinished: COPY aborts.
                let (line, r) = row?;
                buf.extend_from_slice(line.to_string().as_bytes());
                for s in [&r.voter_id, &r.region, &r.full_name] {
                    buf.push(b'\t');
                    copy_text(&mut buf, s);
                }
                buf.push(b'\t');
                buf.extend_from_slice(r.birth_date.to_string().as_bytes());
                buf.extend_from_slice(b"\t\\\\x");
                buf.extend_from_slice(hex::encode(r.doc_hash.0).as_bytes());
                buf.push(b'\t');
                copy_text(&mut buf, &r.phone);
                buf.push(b'\t');
                match &r.email {
                    Some(e) => copy_text(&mut buf, e),
                    None => buf.extend_from_slice(b"\\N"),
                }
                buf.push(b'\t');
                copy_text(&mut buf, &r.precinct);
                buf.push(b'\t');
                buf.extend_from_slice(r.account_created.to_string().as_bytes());
                buf.push(b'\n');
                n += 1;
                if buf.len() >= 1 << 20 {
                    w.write_all(&buf)
                        .map_err(|e| RegistryError::storage("COPY", e))?;
                    buf.clear();
                }
            }
            w.write_all(&buf)
                .map_err(|e| RegistryError::storage("COPY", e))?;
            w.finish().map_err(db("finishing COPY"))?;
        }
        for (on_id, sql) in [
            (
                true,
                "SELECT t.line, t.voter_id FROM import_rows t JOIN voters v ON v.voter_id = t.voter_id \
                 ORDER BY t.line LIMIT 1",
            ),
            (
                false,
                "SELECT t.line, t.voter_id FROM import_rows t JOIN voters v ON v.doc_hash = t.doc_hash \
                 ORDER BY t.line LIMIT 1",
            ),
        ] {
            if let Some(r) = self
                .tx
                .query_opt(sql, &[])
                .map_err(db("checking duplicates"))?
            {
                let line: i64 = r.get(0);
                let id: String = r.get(1);
                return Err(duplicate_error(
                    file,
                    u64::try_from(line).unwrap_or(0),
                    &id,
                    on_id,
                ));
            }
        }
        self.tx
            .execute(
                "INSERT INTO voters (voter_id, region, full_name, birth_date, doc_hash, phone, email, \
                 precinct, account_created, active, since_version) \
                 SELECT voter_id, region, full_name, birth_date, doc_hash, phone, email, precinct, \
                 account_created, 1, $1 FROM import_rows ORDER BY line",
                &[&version],
            )
            .map_err(db("inserting the voters"))?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_escapes() {
        assert_eq!(
            dialect("a = ?1 AND b = ?12 AND c = '?'"),
            "a = $1 AND b = $12 AND c = '?'"
        );
        let mut out = Vec::new();
        copy_text(&mut out, "a\\b\tc\nd");
        assert_eq!(out, b"a\\\\b\\tc\\nd");
        assert!(is_schema_name("urna_test_1") && !is_schema_name("1x") && !is_schema_name("a;b"));
    }
}
