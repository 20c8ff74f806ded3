//! The registry's schema, written once for both backends.
//!
//! The two databases differ in three words only: the integer type
//! (SQLite `INTEGER`, PostgreSQL `BIGINT`), the byte-string type (`BLOB`,
//! `BYTEA`) and the auto-numbered key (`INTEGER PRIMARY KEY`,
//! `BIGSERIAL PRIMARY KEY`). The text below writes them `{int}`, `{blob}`
//! and `{serial}`, and [`schema`] substitutes them, so a table or column
//! cannot be added to one backend and forgotten in the other.
//!
//! Which section of spec/registration.md each table serves is noted
//! beside it.

/// Bumped whenever a table changes; a database of another version is
/// refused at open rather than misread.
pub(crate) const SCHEMA_VERSION: &str = "2";

/// A backend's SQL dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

// applications and casting hold no credential in the clear (§G4
// "Credentials at rest"): `cred_tag` is its keyed tag, `cred_sealed` the
// credential sealed to the row; version 2 of the schema.
//
// voters: on SQLite a rowid table, so a bulk import appends to its B-tree
// whatever the order of the ids; voter_id and doc_hash have unique
// indexes, which SQLite's first import builds after the rows are in.
const TEMPLATE: &str = "
CREATE TABLE IF NOT EXISTS registry_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- §G2 registry, §G3 amendments
CREATE TABLE IF NOT EXISTS voters (
    voter_id TEXT NOT NULL, region TEXT NOT NULL, full_name TEXT NOT NULL,
    birth_date TEXT NOT NULL, doc_hash {blob} NOT NULL, phone TEXT NOT NULL, email TEXT,
    precinct TEXT NOT NULL, account_created TEXT NOT NULL, active {int} NOT NULL,
    since_version {int} NOT NULL, removed_reason TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS voters_id ON voters (voter_id);
CREATE UNIQUE INDEX IF NOT EXISTS voters_doc ON voters (doc_hash);
CREATE TABLE IF NOT EXISTS imports (
    region TEXT PRIMARY KEY, file TEXT NOT NULL, rows {int} NOT NULL,
    sha256 {blob} NOT NULL, time {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS amendments (
    version {int} PRIMARY KEY, hash {blob} NOT NULL, bytes {blob} NOT NULL,
    signature {blob} NOT NULL, time {int} NOT NULL
);
-- §G4 applications, credentials and casting; §G5 report
CREATE TABLE IF NOT EXISTS applications (
    voter_id TEXT PRIMARY KEY, state TEXT NOT NULL, phone TEXT NOT NULL, email TEXT,
    applied {int} NOT NULL, version {int} NOT NULL, cred_tag {blob} UNIQUE, cred_sealed {blob},
    voted {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_phone ON applications (phone, state);
CREATE TABLE IF NOT EXISTS casting (cred_tag {blob} PRIMARY KEY, pending {int} NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    id {serial}, time {int} NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL,
    voter_id TEXT, outcome TEXT NOT NULL, version {int} NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_voter ON decisions (voter_id);
-- §G6 one-time codes and sessions
CREATE TABLE IF NOT EXISTS otp_codes (
    voter_id TEXT PRIMARY KEY, code_hash {blob} NOT NULL, expires {int} NOT NULL,
    attempts {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_events (kind TEXT NOT NULL, key TEXT NOT NULL, time {int} NOT NULL);
CREATE INDEX IF NOT EXISTS rate_events_key ON rate_events (kind, key, time);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash {blob} PRIMARY KEY, voter_id TEXT NOT NULL, expires {int} NOT NULL
);
-- §G7 paper votes (reconciliation) and published precinct lists
CREATE TABLE IF NOT EXISTS paper_votes (
    voter_id TEXT PRIMARY KEY, precinct TEXT NOT NULL, file TEXT NOT NULL, line {int} NOT NULL
);
CREATE TABLE IF NOT EXISTS published_lists (
    kind TEXT NOT NULL, precinct TEXT NOT NULL, csv_sha256 {blob} NOT NULL,
    sums_sha256 {blob} NOT NULL, version {int} NOT NULL, board_index {int} NOT NULL,
    PRIMARY KEY (kind, precinct)
);
-- §G8 complaints
CREATE TABLE IF NOT EXISTS complaints (
    id {serial}, time {int} NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL,
    tracking TEXT, answer TEXT, answered {int}
);
CREATE TABLE IF NOT EXISTS complaint_board (
    id {int} PRIMARY KEY, filed_index {int}, status TEXT, answer_index {int}
);
";

/// The schema in `dialect`.
pub(crate) fn schema(dialect: Dialect) -> String {
    let (int, blob, serial) = match dialect {
        Dialect::Sqlite => ("INTEGER", "BLOB", "INTEGER PRIMARY KEY"),
        Dialect::Postgres => ("BIGINT", "BYTEA", "BIGSERIAL PRIMARY KEY"),
    };
    TEMPLATE
        .replace("{serial}", serial)
        .replace("{int}", int)
        .replace("{blob}", blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_substituted() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let s = schema(d);
            assert!(!s.contains('{') && !s.contains('}'), "{d:?}");
        }
        let pg = schema(Dialect::Postgres);
        assert!(pg.contains("doc_hash BYTEA NOT NULL") && !pg.contains("BLOB"));
        assert!(pg.contains("id BIGSERIAL PRIMARY KEY") && !pg.contains("INTEGER"));
        let lite = schema(Dialect::Sqlite);
        assert!(lite.contains("id INTEGER PRIMARY KEY") && !lite.contains("BYTEA"));
    }
}
