//! Complaints and the commission's answers (spec/registration.md §G8).
//! No identity is stored with a complaint; the board indexes of its
//! entries (spec/record.md §R13–§R14) are noted once they are durable.

use urna_election::Timestamp;
use urna_election::record::commission::AnswerStatus;

use super::row::{Val, count, get_i64, get_opt_text, get_text, int, opt_u64, text};
use super::{Registry, refused};
use crate::error::RegistryError;
use crate::import::check_text;

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

impl Registry {
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
}
