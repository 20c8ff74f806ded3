//! The registry's storage: one [`Registry`] on either backend.
//!
//! Every operation is one database transaction, serialised with the other
//! writers (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-level
//! advisory lock), so the facts a decision is based on (the phone's other
//! applicants, an earlier application) cannot change under it. The rules
//! run inside the transaction as plain functions ([`crate::screening`],
//! [`crate::otp`], [`crate::amendment`]); the SQL here is written once,
//! in the dialect both databases accept, over the small [`Tx`] interface.
//! Only the schema and the bulk import differ per backend.
//!
//! A refused operation returns `Err` from inside the transaction, which is
//! rolled back: nothing changes. The one deliberate exception is a wrong
//! one-time code, whose attempt is counted (otherwise the attempt limit
//! would mean nothing).

mod after;
mod postgres;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use urna_election::Timestamp;
use zeroize::Zeroizing;

use crate::amendment::{Change, SignedAmendment, base_hash};
use crate::date::Date;
use crate::error::{ImportError, RegistryError};
use crate::import::{Geography, RowReader, VoterRecord};
use crate::notify::Channel;
use crate::otp::{self, CodeCheck, Limit, OtpPolicy, SessionToken, StoredCode};
use crate::screening::{self, Application, Decision, Facts, Rules};
use crate::secret::{CommissionSecret, DocHash, ct_eq32};

pub use self::after::{Author, Complaint, DoubleVote, PublishedList, SealedLists};
pub use self::postgres::{PostgresOptions, drop_postgres_schema};

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

fn int(v: u64) -> Result<Val, RegistryError> {
    i64::try_from(v)
        .map(Val::Int)
        .map_err(|e| RegistryError::storage("integer out of range", e))
}

fn text(s: &str) -> Val {
    Val::Text(s.to_string())
}

fn get_i64(row: &[Val], i: usize) -> Result<i64, RegistryError> {
    match row.get(i) {
        Some(Val::Int(v)) => Ok(*v),
        other => Err(RegistryError::storage(
            "reading a row",
            format!("column {i}: expected an integer, got {other:?}"),
        )),
    }
}

fn get_text(row: &[Val], i: usize) -> Result<String, RegistryError> {
    match row.get(i) {
        Some(Val::Text(v)) => Ok(v.clone()),
        other => Err(RegistryError::storage(
            "reading a row",
            format!("column {i}: expected text, got {other:?}"),
        )),
    }
}

fn get_opt_text(row: &[Val], i: usize) -> Result<Option<String>, RegistryError> {
    match row.get(i) {
        Some(Val::Null) => Ok(None),
        _ => get_text(row, i).map(Some),
    }
}

fn get_32(row: &[Val], i: usize) -> Result<Option<[u8; 32]>, RegistryError> {
    match row.get(i) {
        Some(Val::Null) => Ok(None),
        Some(Val::Blob(b)) => <[u8; 32]>::try_from(b.as_slice())
            .map(Some)
            .map_err(|e| RegistryError::storage("reading a row", e)),
        other => Err(RegistryError::storage(
            "reading a row",
            format!("column {i}: expected 32 bytes, got {other:?}"),
        )),
    }
}

fn get_date(row: &[Val], i: usize) -> Result<Date, RegistryError> {
    Date::parse(&get_text(row, i)?).map_err(|e| RegistryError::storage("reading a date", e))
}

const VOTER_COLUMNS: &str =
    "voter_id, region, full_name, birth_date, doc_hash, phone, email, precinct, account_created";

fn voter_from_row(row: &[Val]) -> Result<VoterRecord, RegistryError> {
    Ok(VoterRecord {
        voter_id: get_text(row, 0)?,
        region: get_text(row, 1)?,
        full_name: get_text(row, 2)?,
        birth_date: get_date(row, 3)?,
        doc_hash: DocHash(
            get_32(row, 4)?
                .ok_or_else(|| RegistryError::storage("reading a row", "null doc_hash"))?,
        ),
        phone: get_text(row, 5)?,
        email: get_opt_text(row, 6)?,
        precinct: get_text(row, 7)?,
        account_created: get_date(row, 8)?,
    })
}

fn voter_params(r: &VoterRecord, version: i64) -> Vec<Val> {
    vec![
        text(&r.voter_id),
        text(&r.region),
        text(&r.full_name),
        Val::Text(r.birth_date.to_string()),
        Val::Blob(r.doc_hash.0.to_vec()),
        text(&r.phone),
        r.email.as_deref().map_or(Val::Null, text),
        text(&r.precinct),
        Val::Text(r.account_created.to_string()),
        Val::Int(version),
    ]
}

/// The SQL of [`Tx::insert_voters`]'s row insert, shared by the backends' slow paths.
pub(crate) const INSERT_VOTER: &str = "INSERT INTO voters (voter_id, region, full_name, birth_date, doc_hash, phone, email, precinct, account_created, active, since_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10)";

/// Reads a file while hashing it.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

fn refused(code: &'static str, m: impl Into<String>) -> RegistryError {
    RegistryError::refused(code, m)
}

impl Registry {
    /// Opens (creating if needed) a SQLite registry database.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Self, RegistryError> {
        Ok(Registry {
            backend: Box::new(sqlite::SqliteBackend::open(path)?),
        })
    }

    /// Connects to PostgreSQL (a `postgres://` URL) and creates the schema
    /// if needed. Blocking: from async code, call it on a blocking thread.
    pub fn open_postgres(url: &str, options: &PostgresOptions) -> Result<Self, RegistryError> {
        Ok(Registry {
            backend: Box::new(postgres::PostgresBackend::open(url, options)?),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

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

    // ---- registry and amendments -------------------------------------------

    /// Imports one region's registry file, all or nothing. Refused once an
    /// amendment exists (the base registry is then fixed by its hash) or
    /// if the region was imported already.
    pub fn import_csv(
        &self,
        file: &str,
        region: &str,
        geography: &Geography,
        secret: &CommissionSecret,
        input: impl Read,
        now: Timestamp,
    ) -> Result<ImportSummary, RegistryError> {
        let hashing = Hashing {
            inner: input,
            sha: Sha256::new(),
        };
        let mut rows = RowReader::new(file, region, geography, secret, hashing);
        self.tx(|tx| {
            let amended = tx.query("SELECT COUNT(*) FROM amendments", &[])?;
            if get_i64(amended.first().map_or(&[][..], Vec::as_slice), 0)? > 0 {
                return Err(refused(
                    "registry_amended",
                    "the registry has amendments; further changes must be amendments",
                ));
            }
            let done = tx.query("SELECT file FROM imports WHERE region = ?1", &[text(region)])?;
            if let Some(r) = done.first() {
                return Err(refused(
                    "region_already_imported",
                    format!("region `{region}` was imported already from `{}`", get_text(r, 0)?),
                ));
            }
            let n = tx.insert_voters(file, &mut rows, 0)?;
            let sha: [u8; 32] = rows.input().sha.clone().finalize().into();
            tx.exec(
                "INSERT INTO imports (region, file, rows, sha256, time) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[text(region), text(file), int(n)?, Val::Blob(sha.to_vec()), Val::Int(now.unix())],
            )?;
            Ok(ImportSummary {
                region: region.to_string(),
                rows: n,
                sha256: sha,
            })
        })
    }

    /// The version in force and its hash (version 0: the imported registry).
    pub fn head(&self) -> Result<(u64, [u8; 32]), RegistryError> {
        self.tx(head)
    }

    /// Verifies and applies a signed amendment, all or nothing: it must be
    /// the next version, chain to the current hash, and every change must
    /// apply (adds in a known precinct of their region, with a voter id and
    /// document not in use; removals of active voters). A removed voter's
    /// approved application is revoked.
    pub fn apply_amendment(
        &self,
        signed: &SignedAmendment,
        commission: &VerifyingKey,
        geography: &Geography,
        now: Timestamp,
    ) -> Result<u64, RegistryError> {
        let a = signed.verify(commission)?;
        self.tx(|tx| {
            let (version, hash) = head(tx)?;
            if a.version != version + 1 {
                return Err(refused(
                    "amendment_out_of_order",
                    format!("version {} given, the next version is {}", a.version, version + 1),
                ));
            }
            if !ct_eq32(&a.previous, &hash) {
                return Err(refused(
                    "amendment_chain_broken",
                    format!("the amendment does not chain to the hash of version {version}"),
                ));
            }
            let v = int(a.version)?;
            for (i, c) in a.changes.iter().enumerate() {
                match c {
                    Change::Add(r) => add_voter(tx, r, geography, &v)
                        .map_err(|e| with_change(e, i))?,
                    Change::Remove { voter_id, reason } => {
                        remove_voter(tx, voter_id, reason, &v, now, 0).map_err(|e| with_change(e, i))?;
                    }
                }
            }
            tx.exec(
                "INSERT INTO amendments (version, hash, bytes, signature, time) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    v.clone(),
                    Val::Blob(signed.hash().to_vec()),
                    Val::Blob(signed.bytes.clone()),
                    Val::Blob(signed.signature.to_vec()),
                    Val::Int(now.unix()),
                ],
            )?;
            Ok(a.version)
        })
    }

    /// The signed amendments, in version order.
    pub fn amendments(&self) -> Result<Vec<SignedAmendment>, RegistryError> {
        self.tx(|tx| {
            tx.query(
                "SELECT bytes, signature FROM amendments ORDER BY version",
                &[],
            )?
            .iter()
            .map(|r| {
                let bytes = match r.first() {
                    Some(Val::Blob(b)) => b.clone(),
                    _ => return Err(RegistryError::storage("reading amendments", "bytes")),
                };
                let signature = match r.get(1) {
                    Some(Val::Blob(b)) => <[u8; 64]>::try_from(b.as_slice())
                        .map_err(|e| RegistryError::storage("reading amendments", e))?,
                    _ => return Err(RegistryError::storage("reading amendments", "signature")),
                };
                Ok(SignedAmendment { bytes, signature })
            })
            .collect()
        })
    }

    /// The active registry entry with this document hash.
    pub fn voter_by_document(&self, doc: &DocHash) -> Result<Option<VoterRecord>, RegistryError> {
        self.tx(|tx| active_by_doc(tx, doc))
    }

    /// Active voters.
    pub fn voter_count(&self) -> Result<u64, RegistryError> {
        self.tx(|tx| {
            let r = tx.query("SELECT COUNT(*) FROM voters WHERE active = 1", &[])?;
            count(&r)
        })
    }

    // ---- applications ------------------------------------------------------

    /// Screens an application and records the decision with the amendment
    /// version in force; an approval creates (or renews, after a
    /// withdrawal) the voter's application.
    pub fn apply(
        &self,
        rules: &Rules,
        app: &Application,
        now: Timestamp,
    ) -> Result<(Decision, u64), RegistryError> {
        self.tx(|tx| {
            let (version, _) = head(tx)?;
            let record = active_by_doc(tx, &app.doc_hash)?;
            let (already_approved, phone_applicants) = match &record {
                Some(r) => {
                    let a = tx.query(
                        "SELECT COUNT(*) FROM applications WHERE voter_id = ?1 AND state = 'approved'",
                        &[text(&r.voter_id)],
                    )?;
                    let p = tx.query(
                        "SELECT COUNT(*) FROM applications WHERE phone = ?1 AND state = 'approved' AND voter_id <> ?2",
                        &[text(&app.phone), text(&r.voter_id)],
                    )?;
                    (count(&a)? > 0, count(&p)?)
                }
                None => (false, 0),
            };
            let facts = Facts {
                record: record.as_ref(),
                already_approved,
                phone_applicants,
            };
            let decision = screening::screen(rules, app, &facts, now);
            let v = int(version)?;
            if decision == Decision::Approved
                && let Some(r) = &record
            {
                // A renewed application keeps its credential and its voted
                // mark: a credential once given to the engine stays there,
                // so a second one would be a second vote.
                tx.exec(
                    "INSERT INTO applications (voter_id, state, phone, email, applied, version, credential, voted) \
                     VALUES (?1, 'approved', ?2, ?3, ?4, ?5, NULL, 0) \
                     ON CONFLICT (voter_id) DO UPDATE SET state = 'approved', phone = excluded.phone, \
                     email = excluded.email, applied = excluded.applied, version = excluded.version",
                    &[
                        text(&r.voter_id),
                        text(&app.phone),
                        app.email.as_deref().map_or(Val::Null, text),
                        Val::Int(now.unix()),
                        v.clone(),
                    ],
                )?;
            }
            record_decision(
                tx,
                now,
                rules.config.report_utc_offset_minutes,
                record.as_ref().map_or("", |r| r.region.as_str()),
                record.as_ref().map(|r| r.voter_id.as_str()),
                decision.code(),
                &v,
            )?;
            Ok((decision, version))
        })
    }

    /// Withdraws a voter's approved application, until a ballot is cast.
    pub fn withdraw(
        &self,
        rules: &Rules,
        voter_id: &str,
        now: Timestamp,
    ) -> Result<(), RegistryError> {
        self.tx(|tx| {
            let (state, voted, region) = application(tx, voter_id)?.ok_or_else(|| {
                refused(
                    "no_application",
                    "there is no approved application to withdraw",
                )
            })?;
            if state != "approved" {
                return Err(refused(
                    "no_application",
                    "there is no approved application to withdraw",
                ));
            }
            if voted {
                return Err(refused(
                    "ballot_already_cast",
                    "a ballot has been cast; the application can no longer be withdrawn",
                ));
            }
            // A ballot being cast holds a reservation taken in the same
            // serialised transactions (see `reserve_cast`): until it is on
            // the board or refused, the withdrawal must wait.
            let casting = tx.query(
                "SELECT COUNT(*) FROM casting c JOIN applications a ON a.credential = c.credential \
                 WHERE a.voter_id = ?1",
                &[text(voter_id)],
            )?;
            if count(&casting)? > 0 {
                return Err(refused(
                    "ballot_being_cast",
                    "a ballot of this application is being cast; try again in a moment",
                ));
            }
            tx.exec(
                "UPDATE applications SET state = 'withdrawn' WHERE voter_id = ?1",
                &[text(voter_id)],
            )?;
            let (version, _) = head(tx)?;
            record_decision(
                tx,
                now,
                rules.config.report_utc_offset_minutes,
                &region,
                Some(voter_id),
                "withdrawn",
                &int(version)?,
            )
        })
    }

    /// Keeps the public credential made on an approved voter's device;
    /// one per application (the same one again is accepted as a retry).
    /// Returns where the voter votes.
    pub fn register_credential(
        &self,
        voter_id: &str,
        credential: &[u8; 32],
    ) -> Result<Enrolment, RegistryError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT a.state, a.credential, v.region, v.precinct FROM applications a \
                 JOIN voters v ON v.voter_id = a.voter_id WHERE a.voter_id = ?1",
                &[text(voter_id)],
            )?;
            let row = rows.first().ok_or_else(not_approved)?;
            if get_text(row, 0)? != "approved" {
                return Err(not_approved());
            }
            let enrolment = Enrolment {
                voter_id: voter_id.to_string(),
                region: get_text(row, 2)?,
                precinct: get_text(row, 3)?,
            };
            if let Some(existing) = get_32(row, 1)? {
                // The same credential again is a retry (say, the engine
                // refused it for a moment): answer as the first time.
                if ct_eq32(&existing, credential) {
                    return Ok(enrolment);
                }
                return Err(refused(
                    "credential_already_registered",
                    "a credential is already registered for this application",
                ));
            }
            let taken = tx.query(
                "SELECT COUNT(*) FROM applications WHERE credential = ?1",
                &[Val::Blob(credential.to_vec())],
            )?;
            if count(&taken)? > 0 {
                return Err(refused(
                    "duplicate_credential",
                    "this credential is already registered",
                ));
            }
            tx.exec(
                "UPDATE applications SET credential = ?1 WHERE voter_id = ?2",
                &[Val::Blob(credential.to_vec()), text(voter_id)],
            )?;
            Ok(enrolment)
        })
    }

    /// Where an approved voter votes (`not_approved` otherwise).
    pub fn enrolment(&self, voter_id: &str) -> Result<Enrolment, RegistryError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT v.region, v.precinct FROM applications a JOIN voters v ON v.voter_id = a.voter_id \
                 WHERE a.voter_id = ?1 AND a.state = 'approved'",
                &[text(voter_id)],
            )?;
            let row = rows.first().ok_or_else(not_approved)?;
            Ok(Enrolment {
                voter_id: voter_id.to_string(),
                region: get_text(row, 0)?,
                precinct: get_text(row, 1)?,
            })
        })
    }

    /// Whether a ballot of this credential may be cast (spec/registration.md
    /// §G4): refused while the application that registered it is withdrawn
    /// (`application_withdrawn`) or revoked (`application_revoked`); a
    /// renewed application that kept the credential may vote again. A
    /// credential no application holds is not the registry's to judge.
    pub fn may_cast(&self, credential: &[u8; 32]) -> Result<(), RegistryError> {
        let rows = self.tx(|tx| {
            tx.query(
                "SELECT state FROM applications WHERE credential = ?1",
                &[Val::Blob(credential.to_vec())],
            )
        })?;
        cast_allowed(rows.first().map(|r| get_text(r, 0)).transpose()?.as_deref())
    }

    /// [`may_cast`](Self::may_cast) and, if it may, a reservation of the
    /// credential for one ballot, in one transaction (spec/registration.md
    /// §G4). Withdrawal and casting are serialised by the registry's write
    /// transactions: a withdrawal that comes first makes this refuse; one
    /// that comes after finds the reservation (`ballot_being_cast`) until
    /// the ballot is on the board ([`mark_voted`](Self::mark_voted), then
    /// `ballot_already_cast`) or refused ([`release_cast`](Self::release_cast)).
    /// So no ballot reaches the board after its application was withdrawn.
    /// A credential no application holds is not reserved (nothing can
    /// withdraw it).
    pub fn reserve_cast(&self, credential: &[u8; 32]) -> Result<(), RegistryError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT state FROM applications WHERE credential = ?1",
                &[Val::Blob(credential.to_vec())],
            )?;
            let state = rows.first().map(|r| get_text(r, 0)).transpose()?;
            cast_allowed(state.as_deref())?;
            if state.is_some() {
                tx.exec(
                    "INSERT INTO casting (credential, pending) VALUES (?1, 1) \
                     ON CONFLICT (credential) DO UPDATE SET pending = casting.pending + 1",
                    &[Val::Blob(credential.to_vec())],
                )?;
            }
            Ok(())
        })
    }

    /// Gives back one reservation of [`reserve_cast`](Self::reserve_cast)
    /// whose ballot was refused (it is not on the board).
    pub fn release_cast(&self, credential: &[u8; 32]) -> Result<(), RegistryError> {
        self.tx(|tx| {
            let c = Val::Blob(credential.to_vec());
            tx.exec(
                "UPDATE casting SET pending = pending - 1 WHERE credential = ?1",
                std::slice::from_ref(&c),
            )?;
            tx.exec(
                "DELETE FROM casting WHERE credential = ?1 AND pending <= 0",
                &[c],
            )?;
            Ok(())
        })
    }

    /// Credentials reserved by ballots being cast, with how many ballots
    /// each: what a crash left behind is seen here.
    pub fn casting(&self) -> Result<Vec<([u8; 32], u64)>, RegistryError> {
        self.tx(|tx| {
            tx.query(
                "SELECT credential, pending FROM casting ORDER BY credential",
                &[],
            )?
            .iter()
            .map(|r| {
                let c = get_32(r, 0)?
                    .ok_or_else(|| RegistryError::storage("casting", "null credential"))?;
                let n = u64::try_from(get_i64(r, 1)?)
                    .map_err(|_| RegistryError::storage("casting", "negative count"))?;
                Ok((c, n))
            })
            .collect()
        })
    }

    /// Settles reservations that a stopped server left behind (its crash,
    /// or a failed board append whose outcome it could not know), once the
    /// board has been replayed at the restart: the credentials in
    /// `on_board` have a ballot there and are marked as voted; the
    /// reservations of those in `not_on_board` are dropped. One transaction.
    pub fn settle_casting(
        &self,
        on_board: &[[u8; 32]],
        not_on_board: &[[u8; 32]],
    ) -> Result<(), RegistryError> {
        self.tx(|tx| {
            for c in on_board {
                tx.exec(
                    "UPDATE applications SET voted = 1 WHERE credential = ?1",
                    &[Val::Blob(c.to_vec())],
                )?;
            }
            for c in on_board.iter().chain(not_on_board) {
                tx.exec(
                    "DELETE FROM casting WHERE credential = ?1",
                    &[Val::Blob(c.to_vec())],
                )?;
            }
            Ok(())
        })
    }

    /// Notes that a credential's ballot is on the board (withdrawal is then
    /// refused) and drops its reservations, which the mark supersedes.
    /// `false` if no application has this credential.
    pub fn mark_voted(&self, credential: &[u8; 32]) -> Result<bool, RegistryError> {
        self.tx(|tx| {
            let c = Val::Blob(credential.to_vec());
            let n = tx.exec(
                "UPDATE applications SET voted = 1 WHERE credential = ?1",
                std::slice::from_ref(&c),
            )?;
            tx.exec("DELETE FROM casting WHERE credential = ?1", &[c])?;
            Ok(n > 0)
        })
    }

    /// For each credential, whether an application holds it and still
    /// stands (approved: neither withdrawn nor revoked). At the open only
    /// these are sealed (spec/record.md §R4, spec/registration.md §G4).
    pub fn standing(&self, credentials: &[[u8; 32]]) -> Result<Vec<bool>, RegistryError> {
        // One scan rather than a query per credential: the open asks for
        // every registered credential at once.
        let approved = self.tx(|tx| {
            tx.query(
                "SELECT credential FROM applications WHERE state = 'approved' AND credential IS NOT NULL",
                &[],
            )
        })?;
        let mut set = std::collections::HashSet::with_capacity(approved.len());
        for r in &approved {
            if let Some(c) = get_32(r, 0)? {
                set.insert(c);
            }
        }
        Ok(credentials.iter().map(|c| set.contains(c)).collect())
    }

    /// The credentials of approved applications, per district in manifest
    /// order (every district, possibly empty), each list strictly
    /// increasing: the content of the sealed lists (spec/record.md §R4).
    pub fn sealed_credentials(
        &self,
        geography: &Geography,
    ) -> Result<Vec<DistrictList>, RegistryError> {
        let rows = self.tx(|tx| {
            tx.query(
                "SELECT v.precinct, a.credential FROM applications a JOIN voters v ON v.voter_id = a.voter_id \
                 WHERE a.state = 'approved' AND a.credential IS NOT NULL",
                &[],
            )
        })?;
        let mut by: BTreeMap<&str, Vec<[u8; 32]>> = BTreeMap::new();
        for r in &rows {
            let precinct = get_text(r, 0)?;
            let cred = get_32(r, 1)?
                .ok_or_else(|| RegistryError::storage("sealing", "null credential"))?;
            let (district, _) = geography.locate(&precinct).ok_or_else(|| {
                RegistryError::storage(
                    "sealing",
                    format!("precinct `{precinct}` is not in the manifest"),
                )
            })?;
            let d = geography
                .districts()
                .iter()
                .find(|x| x.as_str() == district)
                .map(String::as_str)
                .unwrap_or_default();
            by.entry(d).or_default().push(cred);
        }
        Ok(geography
            .districts()
            .iter()
            .map(|d| {
                let mut list = by.remove(d.as_str()).unwrap_or_default();
                list.sort_unstable();
                (d.clone(), list)
            })
            .collect())
    }

    /// Decisions counted per day, region and outcome.
    pub fn report(&self) -> Result<Vec<ReportRow>, RegistryError> {
        self.tx(|tx| {
            tx.query(
                "SELECT day, region, outcome, COUNT(*) FROM decisions GROUP BY day, region, outcome \
                 ORDER BY day, region, outcome",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(ReportRow {
                    day: get_text(r, 0)?,
                    region: get_text(r, 1)?,
                    outcome: get_text(r, 2)?,
                    count: u64::try_from(get_i64(r, 3)?).map_err(|e| RegistryError::storage("report", e))?,
                })
            })
            .collect()
        })
    }

    /// The amendment version recorded with each of a voter's decisions, in order.
    pub fn decisions_of(&self, voter_id: &str) -> Result<Vec<(String, u64)>, RegistryError> {
        self.tx(|tx| {
            tx.query(
                "SELECT outcome, version FROM decisions WHERE voter_id = ?1 ORDER BY id",
                &[text(voter_id)],
            )?
            .iter()
            .map(|r| {
                Ok((
                    get_text(r, 0)?,
                    u64::try_from(get_i64(r, 1)?)
                        .map_err(|e| RegistryError::storage("decisions", e))?,
                ))
            })
            .collect()
        })
    }

    // ---- one-time-code login -------------------------------------------------

    /// Issues a one-time code for an approved voter, within the rate limits
    /// per voter, per delivery address and per client address. The caller
    /// sends [`Delivery::code`] through its notifier after this returns.
    pub fn request_code(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        voter_id: &str,
        client: &str,
        now: Timestamp,
    ) -> Result<Delivery, RegistryError> {
        self.request_code_via(secret, policy, voter_id, Channel::Sms, client, now)
    }

    /// [`Registry::request_code`] for a code sent through `channel`: by
    /// e-mail only when the application has an address, and the limit
    /// per delivery address counts that address (spec/registration.md §G6).
    pub fn request_code_via(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        voter_id: &str,
        channel: Channel,
        client: &str,
        now: Timestamp,
    ) -> Result<Delivery, RegistryError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT phone, email FROM applications WHERE voter_id = ?1 AND state = 'approved'",
                &[text(voter_id)],
            )?;
            let row = rows.first().ok_or_else(not_approved)?;
            let phone = get_text(row, 0)?;
            let email = get_opt_text(row, 1)?;
            let address = match (channel, &email) {
                (Channel::Sms, _) => phone.as_str(),
                (Channel::Email, Some(e)) => e.as_str(),
                (Channel::Email, None) => {
                    return Err(refused(
                        "no_email",
                        "the application gives no e-mail address: ask for the code by SMS",
                    ));
                }
            };
            let hour_ago = now.unix() - 3600;
            let keys = [(Limit::Voter, voter_id), (Limit::Delivery, address), (Limit::Client, client)];
            for (limit, key) in keys {
                let n = tx.query(
                    "SELECT COUNT(*) FROM rate_events WHERE kind = ?1 AND key = ?2 AND time > ?3",
                    &[text(limit.kind()), text(key), Val::Int(hour_ago)],
                )?;
                otp::check_rate(limit, count(&n)?, policy)?;
            }
            for (limit, key) in keys {
                tx.exec(
                    "DELETE FROM rate_events WHERE kind = ?1 AND key = ?2 AND time <= ?3",
                    &[text(limit.kind()), text(key), Val::Int(hour_ago)],
                )?;
                tx.exec(
                    "INSERT INTO rate_events (kind, key, time) VALUES (?1, ?2, ?3)",
                    &[text(limit.kind()), text(key), Val::Int(now.unix())],
                )?;
            }
            let code = otp::generate_code(policy.digits);
            let expires = now.plus_seconds(policy.ttl_seconds).unix();
            tx.exec(
                "INSERT INTO otp_codes (voter_id, code_hash, expires, attempts) VALUES (?1, ?2, ?3, 0) \
                 ON CONFLICT (voter_id) DO UPDATE SET code_hash = excluded.code_hash, \
                 expires = excluded.expires, attempts = 0",
                &[text(voter_id), Val::Blob(secret.otp_hash(voter_id, &code).to_vec()), Val::Int(expires)],
            )?;
            Ok(Delivery {
                voter_id: voter_id.to_string(),
                phone,
                email,
                code,
            })
        })
    }

    /// Checks a code; a correct one is spent and opens a session bound to
    /// the voter. A wrong one counts as an attempt (committed).
    pub fn verify_code(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        voter_id: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<SessionToken, RegistryError> {
        let given = secret.otp_hash(voter_id, code.trim());
        let outcome = self.tx(|tx| {
            let rows = tx.query(
                "SELECT code_hash, expires, attempts FROM otp_codes WHERE voter_id = ?1",
                &[text(voter_id)],
            )?;
            let row = rows.first().ok_or_else(|| {
                refused("otp_not_requested", "no code was requested for this voter, or it was used")
            })?;
            let stored = StoredCode {
                hash: get_32(row, 0)?.ok_or_else(|| RegistryError::storage("otp", "null hash"))?,
                expires: get_i64(row, 1)?,
                attempts: u32::try_from(get_i64(row, 2)?).unwrap_or(u32::MAX),
            };
            let check = otp::check_code(&stored, &given, now.unix(), policy);
            match check {
                CodeCheck::Wrong { .. } => {
                    tx.exec(
                        "UPDATE otp_codes SET attempts = attempts + 1 WHERE voter_id = ?1",
                        &[text(voter_id)],
                    )?;
                    Ok(Err(check))
                }
                CodeCheck::Dead(_) => {
                    tx.exec("DELETE FROM otp_codes WHERE voter_id = ?1", &[text(voter_id)])?;
                    Ok(Err(check))
                }
                CodeCheck::Accept => {
                    tx.exec("DELETE FROM otp_codes WHERE voter_id = ?1", &[text(voter_id)])?;
                    let approved = tx.query(
                        "SELECT COUNT(*) FROM applications WHERE voter_id = ?1 AND state = 'approved'",
                        &[text(voter_id)],
                    )?;
                    if count(&approved)? == 0 {
                        return Err(not_approved());
                    }
                    let token = SessionToken::random();
                    tx.exec("DELETE FROM sessions WHERE expires <= ?1", &[Val::Int(now.unix())])?;
                    tx.exec(
                        "INSERT INTO sessions (token_hash, voter_id, expires) VALUES (?1, ?2, ?3)",
                        &[
                            Val::Blob(token.stored_hash().to_vec()),
                            text(voter_id),
                            Val::Int(now.plus_seconds(policy.session_ttl_seconds).unix()),
                        ],
                    )?;
                    Ok(Ok(token))
                }
            }
        })?;
        outcome.map_err(|c| {
            otp::refusal(c)
                .unwrap_or_else(|| RegistryError::storage("otp", "accepted code refused"))
        })
    }

    /// The voter of a live session.
    pub fn session_voter(
        &self,
        token: &SessionToken,
        now: Timestamp,
    ) -> Result<String, RegistryError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT voter_id, expires FROM sessions WHERE token_hash = ?1",
                &[Val::Blob(token.stored_hash().to_vec())],
            )?;
            match rows.first() {
                Some(r) if get_i64(r, 1)? > now.unix() => get_text(r, 0),
                _ => Err(otp::session_invalid()),
            }
        })
    }

    /// Ends a session (idempotent).
    pub fn logout(&self, token: &SessionToken) -> Result<(), RegistryError> {
        self.tx(|tx| {
            tx.exec(
                "DELETE FROM sessions WHERE token_hash = ?1",
                &[Val::Blob(token.stored_hash().to_vec())],
            )
            .map(|_| ())
        })
    }
}

/// Whether an application in this state (`None`: no application holds
/// the credential) lets its credential cast a ballot.
fn cast_allowed(state: Option<&str>) -> Result<(), RegistryError> {
    match state {
        Some("withdrawn") => Err(refused(
            "application_withdrawn",
            "the application for online voting was withdrawn; vote at your polling station",
        )),
        Some("revoked") => Err(refused(
            "application_revoked",
            "the application for online voting was revoked; vote at your polling station",
        )),
        _ => Ok(()),
    }
}

fn not_approved() -> RegistryError {
    refused(
        "not_approved",
        "there is no approved application for online voting",
    )
}

fn with_change(e: RegistryError, i: usize) -> RegistryError {
    match e {
        RegistryError::Refused { code, message } => RegistryError::Refused {
            code,
            message: format!("change {i}: {message}"),
        },
        other => other,
    }
}

fn count(rows: &[Vec<Val>]) -> Result<u64, RegistryError> {
    let n = get_i64(rows.first().map_or(&[][..], Vec::as_slice), 0)?;
    u64::try_from(n).map_err(|e| RegistryError::storage("count", e))
}

fn head(tx: &mut dyn Tx) -> Result<(u64, [u8; 32]), RegistryError> {
    let rows = tx.query(
        "SELECT version, hash FROM amendments ORDER BY version DESC LIMIT 1",
        &[],
    )?;
    if let Some(r) = rows.first() {
        let v = u64::try_from(get_i64(r, 0)?).map_err(|e| RegistryError::storage("head", e))?;
        let h = get_32(r, 1)?.ok_or_else(|| RegistryError::storage("head", "null hash"))?;
        return Ok((v, h));
    }
    let imports = tx
        .query("SELECT region, sha256, rows FROM imports", &[])?
        .iter()
        .map(|r| {
            Ok((
                get_text(r, 0)?,
                get_32(r, 1)?.ok_or_else(|| RegistryError::storage("head", "null sha"))?,
                u64::try_from(get_i64(r, 2)?).map_err(|e| RegistryError::storage("head", e))?,
            ))
        })
        .collect::<Result<Vec<_>, RegistryError>>()?;
    Ok((0, base_hash(&imports)))
}

fn active_by_doc(tx: &mut dyn Tx, doc: &DocHash) -> Result<Option<VoterRecord>, RegistryError> {
    let rows = tx.query(
        &format!("SELECT {VOTER_COLUMNS} FROM voters WHERE doc_hash = ?1 AND active = 1"),
        &[Val::Blob(doc.0.to_vec())],
    )?;
    rows.first().map(|r| voter_from_row(r)).transpose()
}

/// (state, voted, region) of a voter's application.
fn application(
    tx: &mut dyn Tx,
    voter_id: &str,
) -> Result<Option<(String, bool, String)>, RegistryError> {
    let rows = tx.query(
        "SELECT a.state, a.voted, v.region FROM applications a JOIN voters v ON v.voter_id = a.voter_id \
         WHERE a.voter_id = ?1",
        &[text(voter_id)],
    )?;
    rows.first()
        .map(|r| Ok((get_text(r, 0)?, get_i64(r, 1)? != 0, get_text(r, 2)?)))
        .transpose()
}

fn record_decision(
    tx: &mut dyn Tx,
    now: Timestamp,
    utc_offset_minutes: i32,
    region: &str,
    voter_id: Option<&str>,
    outcome: &str,
    version: &Val,
) -> Result<(), RegistryError> {
    let day = Date::of_timestamp(now, utc_offset_minutes).to_string();
    tx.exec(
        "INSERT INTO decisions (time, day, region, voter_id, outcome, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            Val::Int(now.unix()),
            Val::Text(day),
            text(region),
            voter_id.map_or(Val::Null, text),
            text(outcome),
            version.clone(),
        ],
    )?;
    Ok(())
}

fn add_voter(
    tx: &mut dyn Tx,
    r: &VoterRecord,
    geography: &Geography,
    version: &Val,
) -> Result<(), RegistryError> {
    match geography.locate(&r.precinct) {
        Some((_, region)) if region == r.region => {}
        _ => {
            return Err(refused(
                "unknown_precinct",
                format!(
                    "precinct `{}` is not a precinct of region `{}`",
                    r.precinct, r.region
                ),
            ));
        }
    }
    let existing = tx.query(
        "SELECT active FROM voters WHERE voter_id = ?1",
        &[text(&r.voter_id)],
    )?;
    let doc_owner = tx.query(
        "SELECT voter_id FROM voters WHERE doc_hash = ?1",
        &[Val::Blob(r.doc_hash.0.to_vec())],
    )?;
    if let Some(owner) = doc_owner.first()
        && get_text(owner, 0)? != r.voter_id
    {
        return Err(refused(
            "duplicate_document",
            format!("the document of `{}` belongs to another voter", r.voter_id),
        ));
    }
    let version = match version {
        Val::Int(v) => *v,
        _ => 0,
    };
    match existing.first() {
        Some(row) if get_i64(row, 0)? == 1 => Err(refused(
            "voter_exists",
            format!("voter `{}` is already in the registry", r.voter_id),
        )),
        Some(_) => {
            // A removed voter re-added: the entry is replaced.
            let mut p = voter_params(r, version);
            p.rotate_left(1); // voter_id becomes ?10, the key of the UPDATE
            tx.exec(
                "UPDATE voters SET region = ?1, full_name = ?2, birth_date = ?3, doc_hash = ?4, phone = ?5, \
                 email = ?6, precinct = ?7, account_created = ?8, since_version = ?9, active = 1, \
                 removed_reason = NULL WHERE voter_id = ?10",
                &p,
            )?;
            Ok(())
        }
        None => {
            tx.exec(INSERT_VOTER, &voter_params(r, version))?;
            Ok(())
        }
    }
}

fn remove_voter(
    tx: &mut dyn Tx,
    voter_id: &str,
    reason: &str,
    version: &Val,
    now: Timestamp,
    utc_offset_minutes: i32,
) -> Result<(), RegistryError> {
    let n = tx.exec(
        "UPDATE voters SET active = 0, removed_reason = ?1 WHERE voter_id = ?2 AND active = 1",
        &[text(reason), text(voter_id)],
    )?;
    if n == 0 {
        return Err(refused(
            "unknown_voter",
            format!("voter `{voter_id}` is not an active voter of the registry"),
        ));
    }
    let revoked = tx.exec(
        "UPDATE applications SET state = 'revoked' WHERE voter_id = ?1 AND state = 'approved'",
        &[text(voter_id)],
    )?;
    if revoked > 0 {
        let region = tx.query(
            "SELECT region FROM voters WHERE voter_id = ?1",
            &[text(voter_id)],
        )?;
        let region = region
            .first()
            .map(|r| get_text(r, 0))
            .transpose()?
            .unwrap_or_default();
        record_decision(
            tx,
            now,
            utc_offset_minutes,
            &region,
            Some(voter_id),
            "revoked",
            version,
        )?;
    }
    Ok(())
}

/// Maps a unique-constraint failure on a voter insert to the line's error.
pub(crate) fn duplicate_error(
    file: &str,
    line: u64,
    voter_id: &str,
    on_voter_id: bool,
) -> RegistryError {
    RegistryError::Import(if on_voter_id {
        ImportError {
            file: file.to_string(),
            line,
            code: "duplicate_voter",
            message: format!(
                "voter_id `{voter_id}` is already in the registry (another region's file)"
            ),
        }
    } else {
        ImportError {
            file: file.to_string(),
            line,
            code: "duplicate_document",
            message: "the document number is already in the registry (another region's file)"
                .into(),
        }
    })
}
