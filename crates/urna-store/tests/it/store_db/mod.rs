//! The databases the store's tests run on: SQLite in a temporary folder,
//! and PostgreSQL when `URNA_TEST_POSTGRES_URL` is set (each database a
//! fresh schema, dropped at the end, so tests run in parallel). With
//! `URNA_REQUIRE_POSTGRES=1` (set by `.ci/postgres.sh`) a missing or
//! unreachable server fails the PostgreSQL tests instead of skipping them.
#![allow(dead_code, unused_macros)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use urna_board::BoardSigningKey;
use urna_store::{
    BoardStore, PostgresBackend, PostgresOptions, SqliteBackend, SqliteOptions, StoreError,
    StoreOptions,
};

/// Runs each named test function (`fn(&Db)`) once on SQLite (module
/// `sqlite`) and once on PostgreSQL (module `postgres`).
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&$crate::store_db::Db::sqlite()) })*
        }
        mod postgres {
            $(#[test]
            #[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
            fn $name() {
                if let Some(db) = $crate::store_db::Db::postgres(stringify!($name)) {
                    super::$name(&db)
                }
            })*
        }
    };
}

/// One board database.
pub enum Db {
    Sqlite {
        dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        url: String,
        schema: String,
        name: String,
    },
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres { url, schema, .. } = self {
            let _ = urna_store::drop_postgres_schema(url, schema);
        }
    }
}

/// Written straight to stderr, past the test harness's capture, so a
/// skipped backend is seen in a plain `cargo test` run.
fn loud(why: &str, name: &str) {
    use std::io::Write;
    let line = format!(
        "!!! SKIPPED postgres::{name}: {why}; set URNA_REQUIRE_POSTGRES=1 to make this a failure\n"
    );
    match std::fs::OpenOptions::new().append(true).open("/dev/stderr") {
        Ok(mut f) => {
            let _ = f.write_all(line.as_bytes());
        }
        Err(_) => eprint!("{line}"),
    }
}

fn fresh_schema(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let short: String = name.chars().take(24).collect();
    format!(
        "urna_st_{short}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board.db");
        Db::Sqlite { dir, path }
    }

    /// A fresh PostgreSQL schema, or `None` (after saying so loudly) when
    /// no server is configured and none is required.
    pub fn postgres(name: &str) -> Option<Db> {
        let require = std::env::var("URNA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Some(url) = std::env::var("URNA_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                !require,
                "URNA_REQUIRE_POSTGRES=1 but URNA_TEST_POSTGRES_URL is not set"
            );
            loud(
                "URNA_TEST_POSTGRES_URL is not set (see .ci/postgres.sh)",
                name,
            );
            return None;
        };
        let schema = fresh_schema(name);
        let db = Db::Postgres {
            url: url.clone(),
            schema: schema.clone(),
            name: name.to_owned(),
        };
        if let Err(e) = PostgresBackend::open(&url, &PostgresOptions::with_schema(&schema)) {
            assert!(
                !require,
                "URNA_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {e}"
            );
            loud(&format!("cannot reach PostgreSQL: {e}"), name);
            return None;
        }
        Some(db)
    }

    /// Another fresh, empty database of the same kind.
    pub fn another(&self) -> Db {
        match self {
            Db::Sqlite { .. } => Db::sqlite(),
            Db::Postgres { url, name, .. } => Db::Postgres {
                url: url.clone(),
                schema: fresh_schema(name),
                name: name.clone(),
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    /// Opens the board in this database.
    pub fn try_open(
        &self,
        key: BoardSigningKey,
        opts: StoreOptions,
    ) -> Result<BoardStore, StoreError> {
        match self {
            Db::Sqlite { path, .. } => BoardStore::open(
                SqliteBackend::open(path, SqliteOptions::default())?,
                key,
                opts,
            ),
            Db::Postgres { url, schema, .. } => BoardStore::open(
                PostgresBackend::open(url, &PostgresOptions::with_schema(schema))?,
                key,
                opts,
            ),
        }
    }

    pub fn open(&self, key: BoardSigningKey, opts: StoreOptions) -> BoardStore {
        self.try_open(key, opts).unwrap()
    }

    /// Runs SQL statements (without parameters) straight on the database,
    /// as someone tampering with it or an older version would.
    pub fn execute(&self, sql: &str) {
        match self {
            Db::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Db::Postgres { url, schema, .. } => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .unwrap();
            }
        }
    }

    /// The single integer a query returns.
    pub fn count(&self, sql: &str) -> i64 {
        match self {
            Db::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Db::Postgres { url, schema, .. } => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("SET search_path TO {schema}"))
                    .unwrap();
                c.query_one(sql, &[]).unwrap().get(0)
            }
        }
    }

    /// A hex blob literal in this database's SQL.
    pub fn blob(&self, bytes: &[u8]) -> String {
        match self {
            Db::Sqlite { .. } => format!("X'{}'", hex::encode(bytes)),
            Db::Postgres { .. } => format!("'\\x{}'::bytea", hex::encode(bytes)),
        }
    }

    /// Arguments naming this database for the crash-writer helper binary.
    pub fn writer_args(&self) -> Vec<String> {
        match self {
            Db::Sqlite { path, .. } => vec![path.display().to_string()],
            Db::Postgres { url, schema, .. } => vec![url.clone(), schema.clone()],
        }
    }
}
