//! Applications and screening (spec/registration.md §G4): the decision
//! on an application, recorded with the amendment version in force;
//! withdrawal; the voter's place. And the report of decisions (§G5).

use urna_election::Timestamp;

use super::amendments::head;
use super::row::{Val, count, get_i64, get_text, get_u64, int, text};
use super::voters::active_by_doc;
use super::{Enrolment, Registry, ReportRow, Tx, not_approved, refused};
use crate::date::Date;
use crate::error::RegistryError;
use crate::screening::{self, Application, Decision, Facts, Rules};

/// Records a decision with its time, day (at the report's offset),
/// region, voter and the amendment version in force (§G4, §G5).
pub(crate) fn record_decision(
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

fn no_application() -> RegistryError {
    refused(
        "no_application",
        "there is no approved application to withdraw",
    )
}

impl Registry {
    /// Screens an application and records the decision with the amendment
    /// version in force; an approval creates (or renews, after a
    /// withdrawal) the voter's application (spec/registration.md §G4).
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
                // so a second one would be a second vote (§G4).
                tx.exec(
                    "INSERT INTO applications (voter_id, state, phone, email, applied, version, cred_tag, cred_sealed, voted) \
                     VALUES (?1, 'approved', ?2, ?3, ?4, ?5, NULL, NULL, 0) \
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

    /// Withdraws a voter's approved application, until a ballot is cast
    /// (spec/registration.md §G4 "Withdrawal and casting are serialised").
    pub fn withdraw(
        &self,
        rules: &Rules,
        voter_id: &str,
        now: Timestamp,
    ) -> Result<(), RegistryError> {
        self.tx(|tx| {
            let (state, voted, region) = application(tx, voter_id)?.ok_or_else(no_application)?;
            if state != "approved" {
                return Err(no_application());
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
                "SELECT COUNT(*) FROM casting c JOIN applications a ON a.cred_tag = c.cred_tag \
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

    /// Decisions counted per day, region and outcome (spec/registration.md §G5).
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
                    count: get_u64(r, 3)?,
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
            .map(|r| Ok((get_text(r, 0)?, get_u64(r, 1)?)))
            .collect()
        })
    }
}
