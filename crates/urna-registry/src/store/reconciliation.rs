//! Paper votes and the reconciliation report (spec/registration.md §G7):
//! each precinct commission's list of voters who voted on paper, and the
//! voters on such a list whose credential has a ballot on the board,
//! annulled or listed under the manifest's paper policy (spec/record.md §R9).

use std::collections::HashMap;
use std::io::Read;

use urna_crypto::encoding::Element;
use urna_election::PaperPolicy;
use urna_election::record::AnnulReason;

use super::Registry;
use super::credentials::open;
use super::row::{Val, get_text, text};
use crate::error::{ImportError, RegistryError};
use crate::import::{Geography, is_voter_id};

/// A voter who voted online and on paper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleVote {
    /// Registry id.
    pub voter_id: String,
    /// Precinct id.
    pub precinct: String,
    /// The public credential whose ballot is on the board.
    pub credential: [u8; 32],
}

fn paper_error(file: &str, line: u64, code: &'static str, message: String) -> RegistryError {
    RegistryError::Import(ImportError {
        file: file.to_string(),
        line,
        code,
        message,
    })
}

impl Registry {
    /// Records a precinct commission's list of voters who voted on paper:
    /// a CSV with the single column `voter_id`. All or nothing; each voter
    /// must be in the registry, of this precinct, listed once, and not
    /// recorded by an earlier list.
    pub fn import_paper_votes(
        &self,
        file: &str,
        precinct: &str,
        geography: &Geography,
        input: impl Read,
    ) -> Result<u64, RegistryError> {
        if geography.locate(precinct).is_none() {
            return Err(paper_error(
                file,
                0,
                "unknown_precinct",
                format!("precinct `{precinct}` is not in the manifest"),
            ));
        }
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut rec = csv::StringRecord::new();
        let mut ids: Vec<(u64, String)> = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut first = true;
        loop {
            let more = rdr.read_record(&mut rec).map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                paper_error(file, line, "invalid_csv", format!("unreadable CSV: {e}"))
            })?;
            if !more {
                break;
            }
            let line = rec.position().map_or(0, |p| p.line());
            let field = rec
                .get(0)
                .unwrap_or("")
                .trim_start_matches('\u{feff}')
                .trim();
            if first {
                first = false;
                if rec.len() != 1 || field != "voter_id" {
                    return Err(paper_error(
                        file,
                        line,
                        "invalid_header",
                        "the header must be `voter_id`".into(),
                    ));
                }
                continue;
            }
            if rec.len() != 1 {
                return Err(paper_error(
                    file,
                    line,
                    "wrong_field_count",
                    format!("{} fields, expected 1", rec.len()),
                ));
            }
            if !is_voter_id(field) {
                return Err(paper_error(
                    file,
                    line,
                    "invalid_voter_id",
                    format!("`{field}` is not a voter id"),
                ));
            }
            if let Some(l) = seen.insert(field.to_string(), line) {
                return Err(paper_error(
                    file,
                    line,
                    "duplicate_voter",
                    format!("`{field}` is already on line {l}"),
                ));
            }
            ids.push((line, field.to_string()));
        }
        if first {
            return Err(paper_error(
                file,
                0,
                "empty_file",
                "the file is empty (no header)".into(),
            ));
        }
        self.tx(|tx| {
            for (line, id) in &ids {
                let rows = tx.query("SELECT precinct FROM voters WHERE voter_id = ?1", &[text(id)])?;
                let Some(r) = rows.first() else {
                    return Err(paper_error(file, *line, "unknown_voter", format!("`{id}` is not in the registry")));
                };
                let p = get_text(r, 0)?;
                if p != precinct {
                    return Err(paper_error(
                        file,
                        *line,
                        "wrong_precinct",
                        format!("`{id}` is a voter of precinct `{p}`, not `{precinct}`"),
                    ));
                }
                let before = tx.query("SELECT file FROM paper_votes WHERE voter_id = ?1", &[text(id)])?;
                if let Some(b) = before.first() {
                    return Err(paper_error(
                        file,
                        *line,
                        "already_recorded",
                        format!("`{id}` was already recorded from `{}`", get_text(b, 0)?),
                    ));
                }
                tx.exec(
                    "INSERT INTO paper_votes (voter_id, precinct, file, line) VALUES (?1, ?2, ?3, ?4)",
                    &[text(id), text(precinct), text(file), Val::Int(i64::try_from(*line).unwrap_or(i64::MAX))],
                )?;
            }
            Ok(ids.len() as u64)
        })
    }

    /// Voters who voted online and on paper, by credential (increasing):
    /// the reconciliation report.
    /// The credentials are opened with the credential key (§G4
    /// "Credentials at rest"), needed only when there is a double vote.
    pub fn double_votes(&self) -> Result<Vec<DoubleVote>, RegistryError> {
        let rows = self.tx(|tx| {
            tx.query(
                "SELECT p.voter_id, p.precinct, a.cred_sealed FROM paper_votes p \
                 JOIN applications a ON a.voter_id = p.voter_id \
                 WHERE a.voted = 1 AND a.cred_sealed IS NOT NULL",
                &[],
            )
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(DoubleVote {
                voter_id: get_text(r, 0)?,
                precinct: get_text(r, 1)?,
                credential: open(self.credential_key()?, r, 0, 2)?,
            });
        }
        out.sort_by_key(|d| d.credential);
        Ok(out)
    }

    /// What the engine's reconcile step annuls under the manifest's policy:
    /// every double vote under `evote-annulled`, nothing under
    /// `evote-stands` (the paper ballot is the one set aside).
    pub fn annulments(
        &self,
        policy: PaperPolicy,
    ) -> Result<Vec<(Element, AnnulReason)>, RegistryError> {
        if policy == PaperPolicy::EvoteStands {
            return Ok(Vec::new());
        }
        self.double_votes()?
            .iter()
            .map(|d| {
                Element::decode(&d.credential)
                    .map(|e| (e, AnnulReason::PaperVote))
                    .map_err(|e| RegistryError::storage("a stored credential does not decode", e))
            })
            .collect()
    }
}
