//! The imported voter registry (spec/registration.md §G2): one region's
//! file at a time, all or nothing, and the lookup by keyed document hash.

use std::io::Read;

use sha2::{Digest, Sha256};
use urna_election::Timestamp;

use super::row::{Val, blob, count, get_32, get_date, get_opt_text, get_text, int, text};
use super::{ImportSummary, Registry, Tx, refused};
use crate::error::{ImportError, RegistryError};
use crate::import::{Geography, RowReader, VoterRecord};
use crate::secret::{CommissionSecret, DocHash};

pub(crate) const VOTER_COLUMNS: &str =
    "voter_id, region, full_name, birth_date, doc_hash, phone, email, precinct, account_created";

/// The SQL of [`Tx::insert_voters`]'s row insert, shared by the backends'
/// slow paths and by amendments' adds (§G3).
pub(crate) const INSERT_VOTER: &str = "INSERT INTO voters (voter_id, region, full_name, birth_date, doc_hash, phone, email, precinct, account_created, active, since_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10)";

pub(crate) fn voter_from_row(row: &[Val]) -> Result<VoterRecord, RegistryError> {
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

/// The parameters of [`INSERT_VOTER`].
pub(crate) fn voter_params(r: &VoterRecord, version: i64) -> Vec<Val> {
    vec![
        text(&r.voter_id),
        text(&r.region),
        text(&r.full_name),
        Val::Text(r.birth_date.to_string()),
        blob(&r.doc_hash.0),
        text(&r.phone),
        r.email.as_deref().map_or(Val::Null, text),
        text(&r.precinct),
        Val::Text(r.account_created.to_string()),
        Val::Int(version),
    ]
}

/// The active registry entry with this document (§G4 rule 2 matches on it).
pub(crate) fn active_by_doc(
    tx: &mut dyn Tx,
    doc: &DocHash,
) -> Result<Option<VoterRecord>, RegistryError> {
    let rows = tx.query(
        &format!("SELECT {VOTER_COLUMNS} FROM voters WHERE doc_hash = ?1 AND active = 1"),
        &[blob(&doc.0)],
    )?;
    rows.first().map(|r| voter_from_row(r)).transpose()
}

/// Maps a unique-constraint failure on a voter insert to the line's error
/// (§G2 `duplicate_voter`, `duplicate_document`).
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

/// Reads a file while hashing it (the import's SHA-256 enters H_0, §G3).
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

impl Registry {
    /// Imports one region's registry file, all or nothing. Refused once an
    /// amendment exists (the base registry is then fixed by its hash) or
    /// if the region was imported already (spec/registration.md §G2).
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
            if count(&tx.query("SELECT COUNT(*) FROM amendments", &[])?)? > 0 {
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
                &[text(region), text(file), int(n)?, blob(&sha), Val::Int(now.unix())],
            )?;
            Ok(ImportSummary {
                region: region.to_string(),
                rows: n,
                sha256: sha,
            })
        })
    }

    /// The active registry entry with this document hash.
    pub fn voter_by_document(&self, doc: &DocHash) -> Result<Option<VoterRecord>, RegistryError> {
        self.tx(|tx| active_by_doc(tx, doc))
    }

    /// Active voters.
    pub fn voter_count(&self) -> Result<u64, RegistryError> {
        self.tx(|tx| count(&tx.query("SELECT COUNT(*) FROM voters WHERE active = 1", &[])?))
    }
}
