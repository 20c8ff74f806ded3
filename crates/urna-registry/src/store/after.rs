//! After the application window: lists for precinct commissions, the
//! paper votes they send back, the reconciliation, and complaints.

use std::collections::HashMap;
use std::io::Read;

use urna_crypto::encoding::Element;
use urna_election::record::commission::AnswerStatus;
use urna_election::record::{AnnulReason, CredentialChunk};
use urna_election::{PaperPolicy, Timestamp};

use super::{
    Registry, Val, count, get_32, get_date, get_i64, get_opt_text, get_text, int, refused, text,
};
use crate::error::{ImportError, RegistryError};
use crate::import::{Geography, check_text, is_voter_id};
use crate::lists::{ListKind, ListRow};

/// `credential_list` payloads and the count per district.
pub type SealedLists = (Vec<Vec<u8>>, Vec<(String, u64)>);

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

/// Who filed a complaint (no identity is kept: complaints are public).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// A voter.
    Voter,
    /// An observer.
    Observer,
}

/// A complaint and its answer, as listed publicly.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Complaint {
    /// Number, from 1.
    pub id: u64,
    /// Filed at (Unix seconds, server clock).
    pub time: i64,
    /// Voter or observer.
    pub author: Author,
    /// The complaint.
    pub text: String,
    /// A ballot tracking code it is about, hex.
    pub tracking: Option<String>,
    /// `open`, or the answer's status: `accepted`, `rejected`, `answered`.
    pub status: &'static str,
    /// The commission's answer.
    pub answer: Option<String>,
    /// Answered at.
    pub answered: Option<i64>,
    /// The board index of its `complaint` entry, once appended.
    pub board_index: Option<u64>,
    /// The board index of the `complaint_answer` entry, once appended.
    pub answer_index: Option<u64>,
}

/// A precinct list whose hash is on the board (spec/record.md §R15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedList {
    /// Precinct id.
    pub precinct: String,
    /// SHA-256 of the precinct's CSV.
    pub csv_sha256: [u8; 32],
    /// SHA-256 of the export's `SHA256SUMS`.
    pub sums_sha256: [u8; 32],
    /// The registry version when it was published.
    pub version: u64,
    /// Its `admin_action` entry.
    pub board_index: u64,
}

fn opt_u64(row: &[Val], i: usize) -> Option<u64> {
    match row.get(i) {
        Some(Val::Int(v)) => u64::try_from(*v).ok(),
        _ => None,
    }
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

    /// The voters of one list, every precinct.
    ///
    /// `approved-online` holds approved voters whose device registered a
    /// credential: only they can vote online, so only they are struck
    /// from the paper lists. `voted-online` holds voters whose ballot is
    /// on the board ([`Registry::mark_voted`]).
    pub fn list_rows(&self, kind: ListKind) -> Result<Vec<ListRow>, RegistryError> {
        let filter = match kind {
            ListKind::ApprovedOnline => "a.state = 'approved' AND a.credential IS NOT NULL",
            ListKind::VotedOnline => "a.voted = 1",
        };
        self.tx(|tx| {
            tx.query(
                &format!(
                    "SELECT v.precinct, v.voter_id, v.full_name, v.birth_date FROM applications a \
                     JOIN voters v ON v.voter_id = a.voter_id WHERE {filter}"
                ),
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(ListRow {
                    precinct: get_text(r, 0)?,
                    voter_id: get_text(r, 1)?,
                    full_name: get_text(r, 2)?,
                    birth_date: get_date(r, 3)?,
                })
            })
            .collect()
        })
    }

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
    pub fn double_votes(&self) -> Result<Vec<DoubleVote>, RegistryError> {
        let mut out = self.tx(|tx| {
            tx.query(
                "SELECT p.voter_id, p.precinct, a.credential FROM paper_votes p \
                 JOIN applications a ON a.voter_id = p.voter_id \
                 WHERE a.voted = 1 AND a.credential IS NOT NULL",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(DoubleVote {
                    voter_id: get_text(r, 0)?,
                    precinct: get_text(r, 1)?,
                    credential: get_32(r, 2)?.ok_or_else(|| {
                        RegistryError::storage("reconciliation", "null credential")
                    })?,
                })
            })
            .collect::<Result<Vec<_>, RegistryError>>()
        })?;
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

    /// Files a complaint; its number.
    pub fn file_complaint(
        &self,
        author: Author,
        complaint: &str,
        tracking: Option<[u8; 32]>,
        now: Timestamp,
    ) -> Result<u64, RegistryError> {
        check_text("the complaint", complaint, 4000)
            .map_err(|m| refused("invalid_complaint", m))?;
        self.tx(|tx| {
            tx.exec(
                "INSERT INTO complaints (time, author, text, tracking) VALUES (?1, ?2, ?3, ?4)",
                &[
                    Val::Int(now.unix()),
                    text(match author {
                        Author::Voter => "voter",
                        Author::Observer => "observer",
                    }),
                    text(complaint.trim()),
                    tracking.map_or(Val::Null, |t| Val::Text(hex::encode(t))),
                ],
            )?;
            let r = tx.query("SELECT MAX(id) FROM complaints", &[])?;
            count(&r)
        })
    }

    /// The commission answers a complaint, once, with its decision.
    pub fn answer_complaint(
        &self,
        id: u64,
        status: AnswerStatus,
        answer: &str,
        now: Timestamp,
    ) -> Result<(), RegistryError> {
        check_text("the answer", answer, 4000).map_err(|m| refused("invalid_answer", m))?;
        let id =
            i64::try_from(id).map_err(|_| refused("unknown_complaint", "no such complaint"))?;
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT answer FROM complaints WHERE id = ?1",
                &[Val::Int(id)],
            )?;
            let r = rows.first().ok_or_else(|| {
                refused("unknown_complaint", format!("there is no complaint {id}"))
            })?;
            if get_opt_text(r, 0)?.is_some() {
                return Err(refused(
                    "already_answered",
                    format!("complaint {id} is answered already"),
                ));
            }
            tx.exec(
                "UPDATE complaints SET answer = ?1, answered = ?2 WHERE id = ?3",
                &[text(answer.trim()), Val::Int(now.unix()), Val::Int(id)],
            )?;
            tx.exec(
                "INSERT INTO complaint_board (id, status) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status",
                &[Val::Int(id), text(status.name())],
            )?;
            Ok(())
        })
    }

    /// Every complaint with its status, in filing order (the public list).
    pub fn complaints(&self) -> Result<Vec<Complaint>, RegistryError> {
        self.tx(|tx| {
            tx.query(
                "SELECT c.id, c.time, c.author, c.text, c.tracking, c.answer, c.answered, \
                 b.filed_index, b.status, b.answer_index \
                 FROM complaints c LEFT JOIN complaint_board b ON b.id = c.id ORDER BY c.id",
                &[],
            )?
            .iter()
            .map(|r| {
                let answer = get_opt_text(r, 5)?;
                Ok(Complaint {
                    id: u64::try_from(get_i64(r, 0)?).unwrap_or(0),
                    time: get_i64(r, 1)?,
                    author: if get_text(r, 2)? == "observer" {
                        Author::Observer
                    } else {
                        Author::Voter
                    },
                    text: get_text(r, 3)?,
                    tracking: get_opt_text(r, 4)?,
                    status: match (
                        get_opt_text(r, 8)?
                            .as_deref()
                            .and_then(AnswerStatus::from_name),
                        &answer,
                    ) {
                        (Some(st), Some(_)) => st.name(),
                        (None, Some(_)) => "answered",
                        (_, None) => "open",
                    },
                    answer,
                    answered: match r.get(6) {
                        Some(Val::Int(t)) => Some(*t),
                        _ => None,
                    },
                    board_index: opt_u64(r, 7),
                    answer_index: opt_u64(r, 9),
                })
            })
            .collect()
        })
    }

    /// Notes the board index of complaint `id`'s entry.
    pub fn complaint_on_board(&self, id: u64, index: u64) -> Result<(), RegistryError> {
        self.tx(|tx| {
            tx.exec(
                "INSERT INTO complaint_board (id, filed_index) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET filed_index = excluded.filed_index",
                &[int(id)?, int(index)?],
            )
            .map(|_| ())
        })
    }

    /// Notes the board index of the answer to complaint `id`.
    pub fn answer_on_board(&self, id: u64, index: u64) -> Result<(), RegistryError> {
        self.tx(|tx| {
            tx.exec(
                "UPDATE complaint_board SET answer_index = ?2 WHERE id = ?1",
                &[int(id)?, int(index)?],
            )
            .map(|_| ())
        })
    }

    /// The lists of `kind` whose hashes are on the board, by precinct.
    pub fn published_lists(&self, kind: ListKind) -> Result<Vec<PublishedList>, RegistryError> {
        self.tx(|tx| {
            tx.query(
                "SELECT precinct, csv_sha256, sums_sha256, version, board_index FROM published_lists \
                 WHERE kind = ?1 ORDER BY precinct",
                &[text(kind.name())],
            )?
            .iter()
            .map(|r| {
                let h = |i| {
                    get_32(r, i)?.ok_or_else(|| RegistryError::storage("published lists", "null hash"))
                };
                Ok(PublishedList {
                    precinct: get_text(r, 0)?,
                    csv_sha256: h(1)?,
                    sums_sha256: h(2)?,
                    version: u64::try_from(get_i64(r, 3)?).unwrap_or(0),
                    board_index: u64::try_from(get_i64(r, 4)?).unwrap_or(0),
                })
            })
            .collect()
        })
    }

    /// Records lists of `kind` as published (replacing earlier ones of
    /// the same precincts), all or nothing.
    pub fn record_published_lists(
        &self,
        kind: ListKind,
        lists: &[PublishedList],
    ) -> Result<(), RegistryError> {
        self.tx(|tx| {
            for l in lists {
                tx.exec(
                    "INSERT INTO published_lists (kind, precinct, csv_sha256, sums_sha256, version, board_index) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, precinct) DO UPDATE SET \
                     csv_sha256 = excluded.csv_sha256, sums_sha256 = excluded.sums_sha256, \
                     version = excluded.version, board_index = excluded.board_index",
                    &[
                        text(kind.name()),
                        text(&l.precinct),
                        Val::Blob(l.csv_sha256.to_vec()),
                        Val::Blob(l.sums_sha256.to_vec()),
                        int(l.version)?,
                        int(l.board_index)?,
                    ],
                )?;
            }
            Ok(())
        })
    }
}
