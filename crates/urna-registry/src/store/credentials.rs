//! Public credentials (spec/registration.md §G4): one registered per
//! approved application; whether a ballot of a credential may be cast,
//! and the reservation that serialises casting with withdrawal; the
//! voted-online mark; the credentials that stand at the open and the
//! sealed lists (spec/record.md §R4).
//!
//! A credential is never stored in the clear (§G4 "Credentials at rest"):
//! `cred_tag` is its keyed tag, on which every lookup runs, and
//! `cred_sealed` the credential sealed to the voter's row, opened only by
//! the steps that need it back (the sealed lists, settling a restart, the
//! reconciliation). Both need the [`crate::CredentialKey`], which is not
//! in the database.

use std::collections::{BTreeMap, HashSet};

use urna_crypto::encoding::Element;
use urna_election::record::CredentialChunk;

use super::row::{Val, blob, count, get_32, get_blob, get_text, get_u64, text};
use super::{DistrictList, Enrolment, Registry, not_approved, refused};
use crate::error::RegistryError;
use crate::import::Geography;
use crate::secret::{CredentialKey, ct_eq32};

/// `credential_list` payloads and the count per district.
pub type SealedLists = (Vec<Vec<u8>>, Vec<(String, u64)>);

/// Opens the sealed credential in column `sealed` of a row whose column
/// `voter` is its voter id.
pub(crate) fn open(
    key: &CredentialKey,
    row: &[Val],
    voter: usize,
    sealed: usize,
) -> Result<[u8; 32], RegistryError> {
    let sealed = get_blob(row, sealed)?
        .ok_or_else(|| RegistryError::storage("opening a credential", "unexpected NULL"))?;
    key.open(&get_text(row, voter)?, &sealed)
}

/// Whether an application in this state (`None`: no application holds
/// the credential) lets its credential cast a ballot (§G4).
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

impl Registry {
    /// Keeps the public credential made on an approved voter's device;
    /// one per application (the same one again is accepted as a retry).
    /// Returns where the voter votes (spec/registration.md §G4, §G9).
    pub fn register_credential(
        &self,
        voter_id: &str,
        credential: &[u8; 32],
    ) -> Result<Enrolment, RegistryError> {
        let key = self.credential_key()?;
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT a.state, a.cred_tag, v.region, v.precinct FROM applications a \
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
            let tag = key.tag(credential);
            if let Some(existing) = get_32(row, 1)? {
                // The same credential again is a retry (say, the engine
                // refused it for a moment): answer as the first time.
                if ct_eq32(&existing, &tag) {
                    return Ok(enrolment);
                }
                return Err(refused(
                    "credential_already_registered",
                    "a credential is already registered for this application",
                ));
            }
            let taken = tx.query(
                "SELECT COUNT(*) FROM applications WHERE cred_tag = ?1",
                &[blob(&tag)],
            )?;
            if count(&taken)? > 0 {
                return Err(refused(
                    "duplicate_credential",
                    "this credential is already registered",
                ));
            }
            tx.exec(
                "UPDATE applications SET cred_tag = ?1, cred_sealed = ?2 WHERE voter_id = ?3",
                &[
                    blob(&tag),
                    blob(&key.seal(voter_id, credential)?),
                    text(voter_id),
                ],
            )?;
            Ok(enrolment)
        })
    }

    /// Whether a ballot of this credential may be cast (spec/registration.md
    /// §G4): refused while the application that registered it is withdrawn
    /// (`application_withdrawn`) or revoked (`application_revoked`); a
    /// renewed application that kept the credential may vote again. A
    /// credential no application holds is not the registry's to judge.
    pub fn may_cast(&self, credential: &[u8; 32]) -> Result<(), RegistryError> {
        let tag = self.credential_key()?.tag(credential);
        let rows = self.tx(|tx| {
            tx.query(
                "SELECT state FROM applications WHERE cred_tag = ?1",
                &[blob(&tag)],
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
        let tag = self.credential_key()?.tag(credential);
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT state FROM applications WHERE cred_tag = ?1",
                &[blob(&tag)],
            )?;
            let state = rows.first().map(|r| get_text(r, 0)).transpose()?;
            cast_allowed(state.as_deref())?;
            if state.is_some() {
                tx.exec(
                    "INSERT INTO casting (cred_tag, pending) VALUES (?1, 1) \
                     ON CONFLICT (cred_tag) DO UPDATE SET pending = casting.pending + 1",
                    &[blob(&tag)],
                )?;
            }
            Ok(())
        })
    }

    /// Gives back one reservation of [`reserve_cast`](Self::reserve_cast)
    /// whose ballot was refused (it is not on the board).
    pub fn release_cast(&self, credential: &[u8; 32]) -> Result<(), RegistryError> {
        let tag = self.credential_key()?.tag(credential);
        self.tx(|tx| {
            let c = blob(&tag);
            tx.exec(
                "UPDATE casting SET pending = pending - 1 WHERE cred_tag = ?1",
                std::slice::from_ref(&c),
            )?;
            tx.exec(
                "DELETE FROM casting WHERE cred_tag = ?1 AND pending <= 0",
                &[c],
            )?;
            Ok(())
        })
    }

    /// Credentials reserved by ballots being cast, with how many ballots
    /// each: what a crash left behind is seen here.
    pub fn casting(&self) -> Result<Vec<([u8; 32], u64)>, RegistryError> {
        let key = self.credential_key()?;
        // Only credentials an application holds are reserved, so each
        // reservation opens through its application's sealed credential.
        let rows = self.tx(|tx| {
            tx.query(
                "SELECT a.voter_id, a.cred_sealed, c.pending FROM casting c \
                 JOIN applications a ON a.cred_tag = c.cred_tag",
                &[],
            )
        })?;
        let mut out = rows
            .iter()
            .map(|r| {
                let n = get_u64(r, 2)
                    .map_err(|_| RegistryError::storage("casting", "negative count"))?;
                Ok((open(key, r, 0, 1)?, n))
            })
            .collect::<Result<Vec<_>, RegistryError>>()?;
        out.sort_unstable();
        Ok(out)
    }

    /// Settles reservations that a stopped server left behind (its crash,
    /// or a failed board append whose outcome it could not know), once the
    /// board has been replayed at the restart (§G4): the credentials in
    /// `on_board` have a ballot there and are marked as voted; the
    /// reservations of those in `not_on_board` are dropped. One transaction.
    pub fn settle_casting(
        &self,
        on_board: &[[u8; 32]],
        not_on_board: &[[u8; 32]],
    ) -> Result<(), RegistryError> {
        let key = self.credential_key()?;
        self.tx(|tx| {
            for c in on_board {
                tx.exec(
                    "UPDATE applications SET voted = 1 WHERE cred_tag = ?1",
                    &[blob(&key.tag(c))],
                )?;
            }
            for c in on_board.iter().chain(not_on_board) {
                tx.exec(
                    "DELETE FROM casting WHERE cred_tag = ?1",
                    &[blob(&key.tag(c))],
                )?;
            }
            Ok(())
        })
    }

    /// Notes that a credential's ballot is on the board (withdrawal is then
    /// refused) and drops its reservations, which the mark supersedes.
    /// `false` if no application has this credential (§G4, §G9.2).
    pub fn mark_voted(&self, credential: &[u8; 32]) -> Result<bool, RegistryError> {
        let tag = self.credential_key()?.tag(credential);
        self.tx(|tx| {
            let c = blob(&tag);
            let n = tx.exec(
                "UPDATE applications SET voted = 1 WHERE cred_tag = ?1",
                std::slice::from_ref(&c),
            )?;
            tx.exec("DELETE FROM casting WHERE cred_tag = ?1", &[c])?;
            Ok(n > 0)
        })
    }

    /// For each credential, whether an application holds it and still
    /// stands (approved: neither withdrawn nor revoked). At the open only
    /// these are sealed (spec/record.md §R4, spec/registration.md §G4
    /// "Withdrawn before the open").
    pub fn standing(&self, credentials: &[[u8; 32]]) -> Result<Vec<bool>, RegistryError> {
        // One scan rather than a query per credential: the open asks for
        // every registered credential at once.
        let key = self.credential_key()?;
        let approved = self.tx(|tx| {
            tx.query(
                "SELECT cred_tag FROM applications WHERE state = 'approved' AND cred_tag IS NOT NULL",
                &[],
            )
        })?;
        let mut set = HashSet::with_capacity(approved.len());
        for r in &approved {
            if let Some(c) = get_32(r, 0)? {
                set.insert(c);
            }
        }
        Ok(credentials
            .iter()
            .map(|c| set.contains(&key.tag(c)))
            .collect())
    }

    /// The credentials of approved applications, per district in manifest
    /// order (every district, possibly empty), each list strictly
    /// increasing: the content of the sealed lists (spec/record.md §R4).
    pub fn sealed_credentials(
        &self,
        geography: &Geography,
    ) -> Result<Vec<DistrictList>, RegistryError> {
        let key = self.credential_key()?;
        let rows = self.tx(|tx| {
            tx.query(
                "SELECT v.precinct, a.voter_id, a.cred_sealed FROM applications a \
                 JOIN voters v ON v.voter_id = a.voter_id \
                 WHERE a.state = 'approved' AND a.cred_sealed IS NOT NULL",
                &[],
            )
        })?;
        let mut by: BTreeMap<&str, Vec<[u8; 32]>> = BTreeMap::new();
        for r in &rows {
            let precinct = get_text(r, 0)?;
            let cred = open(key, r, 1, 2)?;
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

    /// The sealed credential lists as `credential_list` board payloads
    /// (spec/record.md §R4), every district in manifest order, with the
    /// count per district: what the board gets at the end of the
    /// application window. A stored credential that is not a valid,
    /// non-identity element is a storage fault (the engine refuses those
    /// at registration, so one here means the database was altered).
    pub fn sealed_payloads(&self, geography: &Geography) -> Result<SealedLists, RegistryError> {
        let mut payloads = Vec::new();
        let mut counts = Vec::new();
        for (district, creds) in self.sealed_credentials(geography)? {
            let elements = creds
                .iter()
                .map(|c| {
                    Element::decode_non_identity(c).map_err(|e| {
                        RegistryError::storage("a stored credential is not a valid element", e)
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            payloads.extend(
                CredentialChunk::payloads(&district, &elements)
                    .map_err(|e| RegistryError::storage("encoding a credential list", e))?,
            );
            counts.push((district, elements.len() as u64));
        }
        Ok((payloads, counts))
    }
}
