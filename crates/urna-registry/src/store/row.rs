//! Values passed to and read from SQL, and the readers of result rows
//! shared by every section's module. Both backends convert to and from
//! these four kinds, so the sections' SQL and row handling are written once
//! (spec/registration.md: the same behaviour on either backend).

use crate::date::Date;
use crate::error::RegistryError;

/// A value passed to or read from SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Blob(Vec<u8>),
    /// NULL (as a parameter: a NULL *text*).
    Null,
}

pub(crate) fn int(v: u64) -> Result<Val, RegistryError> {
    i64::try_from(v)
        .map(Val::Int)
        .map_err(|e| RegistryError::storage("integer out of range", e))
}

pub(crate) fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

pub(crate) fn blob(b: &[u8]) -> Val {
    Val::Blob(b.to_vec())
}

pub(crate) fn get_i64(row: &[Val], i: usize) -> Result<i64, RegistryError> {
    match row.get(i) {
        Some(Val::Int(v)) => Ok(*v),
        other => Err(RegistryError::storage(
            "reading a row",
            format!("column {i}: expected an integer, got {other:?}"),
        )),
    }
}

pub(crate) fn get_u64(row: &[Val], i: usize) -> Result<u64, RegistryError> {
    u64::try_from(get_i64(row, i)?).map_err(|e| RegistryError::storage("reading a row", e))
}

pub(crate) fn opt_u64(row: &[Val], i: usize) -> Option<u64> {
    match row.get(i) {
        Some(Val::Int(v)) => u64::try_from(*v).ok(),
        _ => None,
    }
}

pub(crate) fn get_text(row: &[Val], i: usize) -> Result<String, RegistryError> {
    match row.get(i) {
        Some(Val::Text(v)) => Ok(v.clone()),
        other => Err(RegistryError::storage(
            "reading a row",
            format!("column {i}: expected text, got {other:?}"),
        )),
    }
}

pub(crate) fn get_opt_text(row: &[Val], i: usize) -> Result<Option<String>, RegistryError> {
    match row.get(i) {
        Some(Val::Null) => Ok(None),
        _ => get_text(row, i).map(Some),
    }
}

pub(crate) fn get_blob(row: &[Val], i: usize) -> Result<Option<Vec<u8>>, RegistryError> {
    match row.get(i) {
        Some(Val::Null) => Ok(None),
        Some(Val::Blob(b)) => Ok(Some(b.clone())),
        other => Err(RegistryError::storage(
            "reading a row",
            format!("column {i}: expected bytes, got {other:?}"),
        )),
    }
}

pub(crate) fn get_32(row: &[Val], i: usize) -> Result<Option<[u8; 32]>, RegistryError> {
    get_blob(row, i)?
        .map(|b| {
            <[u8; 32]>::try_from(b.as_slice())
                .map_err(|e| RegistryError::storage("reading a row", e))
        })
        .transpose()
}

/// A 32-byte column that must not be NULL.
pub(crate) fn need_32(
    row: &[Val],
    i: usize,
    what: &'static str,
) -> Result<[u8; 32], RegistryError> {
    get_32(row, i)?.ok_or_else(|| RegistryError::storage(what, "unexpected NULL"))
}

pub(crate) fn get_date(row: &[Val], i: usize) -> Result<Date, RegistryError> {
    Date::parse(&get_text(row, i)?).map_err(|e| RegistryError::storage("reading a date", e))
}

/// The single count of a `SELECT COUNT(*)`.
pub(crate) fn count(rows: &[Vec<Val>]) -> Result<u64, RegistryError> {
    get_u64(rows.first().map_or(&[][..], Vec::as_slice), 0)
}
