//! The registry's storage: one [`Registry`] on either backend, its
//! operations grouped by the section of spec/registration.md they
//! implement, one module each with its SQL:
//!
//! | module | section |
//! | --- | --- |
//! | `voters` | §G2 registry import and lookup |
//! | `amendments` | §G3 signed amendments |
//! | `applications` | §G4 applications, screening, withdrawal; §G5 report |
//! | `credentials` | §G4 credential registration, casting and withdrawal serialised, sealing (record.md §R4) |
//! | `codes` | §G6 one-time-code login and sessions |
//! | `lists` | §G7 precinct lists and their publication |
//! | `reconciliation` | §G7 paper votes and the reconciliation report |
//! | `complaints` | §G8 complaints and answers |
//!
//! The schema is written once ([`schema`]), with the few dialect words
//! substituted per backend.
//!
//! Every operation is one database transaction, serialised with the other
//! writers (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-level
//! advisory lock), so the facts a decision is based on (the phone's other
//! applicants, an earlier application) cannot change under it
//! (spec/registration.md §G4: "Decisions are serialised"). The rules run
//! inside the transaction as plain functions ([`crate::screening`],
//! [`crate::otp`], [`crate::amendment`]); the SQL is written once, in the
//! dialect both databases accept, over the small [`Tx`] interface. Only
//! the bulk import differs per backend.
//!
//! A refused operation returns `Err` from inside the transaction, which is
//! rolled back: nothing changes. The deliberate exceptions are the
//! attempts that must be counted even when refused (a wrong one-time
//! code, §G6): otherwise a limit would mean nothing.

mod amendments;
mod applications;
mod codes;
mod complaints;
mod credentials;
mod lists;
mod postgres;
mod reconciliation;
mod row;
mod schema;
mod sqlite;
mod voters;

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{ImportError, RegistryError};
use crate::import::VoterRecord;
use crate::secret::CredentialKey;

pub use self::codes::Contact;
pub use self::complaints::{Author, Complaint};
pub use self::credentials::SealedLists;
pub use self::lists::PublishedList;
pub use self::postgres::{PostgresOptions, drop_postgres_schema};
pub use self::reconciliation::DoubleVote;
pub use self::row::Val;

/// A district id and its credentials, strictly increasing.
pub type DistrictList = (String, Vec<[u8; 32]>);

/// Rows of a registry file, with their line numbers.
pub type Rows<'a> = &'a mut dyn Iterator<Item = Result<(u64, VoterRecord), ImportError>>;

/// One open transaction. SQL uses `?1`, `?2`, … placeholders.
pub trait Tx {
    /// Runs a statement; the number of rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, RegistryError>;
    /// Runs a query; every row, every column.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, RegistryError>;
    /// Inserts the voters of one registry file (the fast path of each
    /// backend), active since `version`; the number of rows. A voter id or
    /// document already in the registry is an [`ImportError`] naming the line.
    fn insert_voters(
        &mut self,
        file: &str,
        rows: Rows<'_>,
        version: i64,
    ) -> Result<u64, RegistryError>;
}

/// A database holding the registry.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Runs `f` in one serialised transaction, committed if `f` returns `Ok`.
    fn write(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError>;
    /// `sqlite` or `postgres`.
    fn name(&self) -> &'static str;
}

/// The voter registry and registration state of one election.
#[derive(Debug)]
pub struct Registry {
    backend: Box<dyn Backend>,
    /// Links applications to credentials (§G4 "Credentials at rest");
    /// never in the database.
    credential_key: Option<CredentialKey>,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    /// The region.
    pub region: String,
    /// Voters imported.
    pub rows: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
}

/// One line of the decisions report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReportRow {
    /// Calendar day (at the config's UTC offset).
    pub day: String,
    /// Region id (empty when the applicant was not found in the registry).
    pub region: String,
    /// `approved`, a screening reason code, `withdrawn` or `revoked`.
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// Where a one-time code is to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The voter.
    pub voter_id: String,
    /// The application's phone.
    pub phone: String,
    /// The application's e-mail, if any.
    pub email: Option<String>,
    /// The code, to be handed to the notifier and forgotten.
    pub code: Zeroizing<String>,
}

/// An approved voter's place, for registering the credential with the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    /// The voter.
    pub voter_id: String,
    /// Region id.
    pub region: String,
    /// Precinct id.
    pub precinct: String,
}

fn refused(code: &'static str, m: impl Into<String>) -> RegistryError {
    RegistryError::refused(code, m)
}

fn not_approved() -> RegistryError {
    refused(
        "not_approved",
        "there is no approved application for online voting",
    )
}

impl Registry {
    /// Opens (creating if needed) a SQLite registry database.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Self, RegistryError> {
        Ok(Registry {
            backend: Box::new(sqlite::SqliteBackend::open(path)?),
            credential_key: None,
        })
    }

    /// Connects to PostgreSQL (a `postgres://` URL) and creates the schema
    /// if needed. Blocking: from async code, call it on a blocking thread.
    pub fn open_postgres(url: &str, options: &PostgresOptions) -> Result<Self, RegistryError> {
        Ok(Registry {
            backend: Box::new(postgres::PostgresBackend::open(url, options)?),
            credential_key: None,
        })
    }

    /// With the key that links applications to credentials
    /// ([`CommissionSecret::credential_key`](crate::CommissionSecret::credential_key)),
    /// needed by every operation on credentials (spec/registration.md §G4
    /// "Credentials at rest"). It is held in memory only.
    pub fn with_credential_key(mut self, key: CredentialKey) -> Self {
        self.credential_key = Some(key);
        self
    }

    fn credential_key(&self) -> Result<&CredentialKey, RegistryError> {
        self.credential_key.as_ref().ok_or_else(|| {
            refused(
                "no_credential_key",
                "the registry keeps credentials under a key derived from the commission secret: \
                 open it with that secret (spec/registration.md §G4)",
            )
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Runs `f` in one serialised transaction: committed if it returns
    /// `Ok`, rolled back otherwise.
    fn tx<T>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut f = Some(f);
        let mut out = None;
        self.backend.write(&mut |tx| {
            let f = f
                .take()
                .ok_or_else(|| RegistryError::storage("transaction", "run twice"))?;
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| RegistryError::storage("transaction", "no result"))
    }
}
