//! Signed amendments to the registry (spec/registration.md §G3): the
//! version in force and its hash, and applying the next version all or
//! nothing. The wire format and its signature are [`crate::amendment`]'s.

use ed25519_dalek::VerifyingKey;
use urna_election::Timestamp;

use super::applications::record_decision;
use super::row::{Val, blob, get_blob, get_i64, get_text, get_u64, int, need_32, text};
use super::voters::{INSERT_VOTER, voter_params};
use super::{Registry, Tx, refused};
use crate::amendment::{Change, SignedAmendment, base_hash};
use crate::error::RegistryError;
use crate::import::{Geography, VoterRecord};
use crate::secret::ct_eq32;

/// The version in force and its hash: the last amendment's, or H_0 over
/// the imports (§G3).
pub(crate) fn head(tx: &mut dyn Tx) -> Result<(u64, [u8; 32]), RegistryError> {
    let rows = tx.query(
        "SELECT version, hash FROM amendments ORDER BY version DESC LIMIT 1",
        &[],
    )?;
    if let Some(r) = rows.first() {
        return Ok((get_u64(r, 0)?, need_32(r, 1, "head")?));
    }
    let imports = tx
        .query("SELECT region, sha256, rows FROM imports", &[])?
        .iter()
        .map(|r| Ok((get_text(r, 0)?, need_32(r, 1, "head")?, get_u64(r, 2)?)))
        .collect::<Result<Vec<_>, RegistryError>>()?;
    Ok((0, base_hash(&imports)))
}

impl Registry {
    /// The version in force and its hash (version 0: the imported registry).
    pub fn head(&self) -> Result<(u64, [u8; 32]), RegistryError> {
        self.tx(head)
    }

    /// Verifies and applies a signed amendment, all or nothing: it must be
    /// the next version, chain to the current hash, and every change must
    /// apply (adds in a known precinct of their region, with a voter id and
    /// document not in use; removals of active voters). A removed voter's
    /// approved application is revoked (spec/registration.md §G3).
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
                    Change::Add(r) => add_voter(tx, r, geography, &v),
                    Change::Remove { voter_id, reason } => {
                        remove_voter(tx, voter_id, reason, &v, now, 0)
                    }
                }
                .map_err(|e| with_change(e, i))?;
            }
            tx.exec(
                "INSERT INTO amendments (version, hash, bytes, signature, time) VALUES (?1, ?2, ?3, ?4, ?5)",
                &[
                    v,
                    blob(&signed.hash()),
                    blob(&signed.bytes),
                    blob(&signed.signature),
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
                let missing = || RegistryError::storage("reading amendments", "null column");
                let bytes = get_blob(r, 0)?.ok_or_else(missing)?;
                let signature = <[u8; 64]>::try_from(get_blob(r, 1)?.ok_or_else(missing)?)
                    .map_err(|_| RegistryError::storage("reading amendments", "signature"))?;
                Ok(SignedAmendment { bytes, signature })
            })
            .collect()
        })
    }
}

/// Errors name the change (`change 1: …`, §G3).
fn with_change(e: RegistryError, i: usize) -> RegistryError {
    match e {
        RegistryError::Refused { code, message } => RegistryError::Refused {
            code,
            message: format!("change {i}: {message}"),
        },
        other => other,
    }
}

/// An add: a precinct of its region, a voter id not active (a removed
/// voter may be re-added), a document not another voter's.
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
        &[blob(&r.doc_hash.0)],
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

/// A removal: an active voter; an approved application is revoked and
/// the decision `revoked` recorded (§G3, §G5).
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
