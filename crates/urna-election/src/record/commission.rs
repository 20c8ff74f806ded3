//! Board payloads of the commission's public acts that are not election
//! state: complaints and their answers (spec/record.md §R13, §R14) and
//! the hashes of the precinct lists (`admin_action` sub-tag 2, §R15).
//! The engine never produces them; the server appends them, and the
//! verifier and the replay at restart only read them.

use urna_crypto::encoding::{Reader, Writer};

use super::{PAYLOAD_VERSION, get_id, put_id, version};
use crate::error::{Misuse, RecordError};

/// Largest complaint or answer text in bytes (spec/record.md §R13): the
/// registry's limit, so whatever it accepts fits one entry.
pub const MAX_TEXT_BYTES: usize = 4000;

/// `admin_action` sub-tag of a published precinct list (§R15).
pub const ADMIN_PRECINCT_LIST: u8 = 2;

/// Who filed a complaint (§R13). No identity: only the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 1: a voter.
    Voter,
    /// 2: an observer.
    Observer,
}

impl Role {
    /// The byte.
    pub fn tag(self) -> u8 {
        match self {
            Role::Voter => 1,
            Role::Observer => 2,
        }
    }
}

/// The commission's decision on a complaint (§R14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerStatus {
    /// 1: the complaint is upheld.
    Accepted,
    /// 2: the complaint is rejected.
    Rejected,
    /// 3: answered without a ruling (an explanation).
    Answered,
}

impl AnswerStatus {
    /// The byte.
    pub fn tag(self) -> u8 {
        match self {
            AnswerStatus::Accepted => 1,
            AnswerStatus::Rejected => 2,
            AnswerStatus::Answered => 3,
        }
    }

    /// The stable name (`accepted`, `rejected`, `answered`).
    pub fn name(self) -> &'static str {
        match self {
            AnswerStatus::Accepted => "accepted",
            AnswerStatus::Rejected => "rejected",
            AnswerStatus::Answered => "answered",
        }
    }

    /// The status with this name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "accepted" => Some(AnswerStatus::Accepted),
            "rejected" => Some(AnswerStatus::Rejected),
            "answered" => Some(AnswerStatus::Answered),
            _ => None,
        }
    }
}

/// Whether `text` may stand in a §R13/§R14 text field.
pub fn is_board_text(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_TEXT_BYTES && !text.chars().any(char::is_control)
}

fn put_text(w: &mut Writer, field: &str, text: &str) -> Result<(), Misuse> {
    if !is_board_text(text) {
        return Err(Misuse::Unencodable(format!(
            "{field}: 1 to {MAX_TEXT_BYTES} bytes of UTF-8 without control characters"
        )));
    }
    // Bounded by MAX_TEXT_BYTES above.
    w.u16(text.len() as u16).raw(text.as_bytes());
    Ok(())
}

fn get_text(r: &mut Reader<'_>, field: &'static str) -> Result<String, RecordError> {
    let n = r.u16()?;
    let b = r.take(n.into())?;
    match std::str::from_utf8(b) {
        Ok(s) if is_board_text(s) => Ok(s.to_string()),
        _ => Err(RecordError::BadText {
            field,
            max: MAX_TEXT_BYTES,
        }),
    }
}

fn number(r: &mut Reader<'_>) -> Result<u64, RecordError> {
    let n = r.u64()?;
    if n == 0 {
        return Err(urna_crypto::PeerError::OutOfBounds {
            field: "complaint number",
            value: 0,
            min: 1,
            max: u64::MAX,
        }
        .into());
    }
    Ok(n)
}

/// A `complaint` entry (spec/record.md §R13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintEntry {
    /// The complaint's number (from 1, strictly increasing on the board).
    pub number: u64,
    /// Voter or observer.
    pub role: Role,
    /// The ballot tracking code it is about.
    pub tracking: Option<[u8; 32]>,
    /// The complaint.
    pub text: String,
}

impl ComplaintEntry {
    /// The payload.
    pub fn encode(&self) -> Result<Vec<u8>, Misuse> {
        if self.number == 0 {
            return Err(Misuse::Unencodable("complaint numbers start at 1".into()));
        }
        let mut w = Writer::new();
        w.u8(PAYLOAD_VERSION).u64(self.number).u8(self.role.tag());
        match &self.tracking {
            None => w.u8(0),
            Some(t) => w.u8(1).raw(t),
        };
        put_text(&mut w, "complaint text", &self.text)?;
        Ok(w.finish())
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let number = number(&mut r)?;
        let role = match r.u8()? {
            1 => Role::Voter,
            2 => Role::Observer,
            value => {
                return Err(RecordError::UnknownTag {
                    field: "complaint role",
                    value,
                });
            }
        };
        let tracking = match r.u8()? {
            0 => None,
            1 => {
                let mut t = [0u8; 32];
                t.copy_from_slice(r.take(32)?);
                Some(t)
            }
            value => {
                return Err(RecordError::UnknownTag {
                    field: "tracking code flag",
                    value,
                });
            }
        };
        let text = get_text(&mut r, "complaint text")?;
        r.finish()?;
        Ok(ComplaintEntry {
            number,
            role,
            tracking,
            text,
        })
    }
}

/// A `complaint_answer` entry (spec/record.md §R14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerEntry {
    /// The number of the complaint answered (on the board before it).
    pub number: u64,
    /// The decision.
    pub status: AnswerStatus,
    /// The answer.
    pub text: String,
}

impl AnswerEntry {
    /// The payload.
    pub fn encode(&self) -> Result<Vec<u8>, Misuse> {
        if self.number == 0 {
            return Err(Misuse::Unencodable("complaint numbers start at 1".into()));
        }
        let mut w = Writer::new();
        w.u8(PAYLOAD_VERSION).u64(self.number).u8(self.status.tag());
        put_text(&mut w, "answer text", &self.text)?;
        Ok(w.finish())
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let number = number(&mut r)?;
        let status = match r.u8()? {
            1 => AnswerStatus::Accepted,
            2 => AnswerStatus::Rejected,
            3 => AnswerStatus::Answered,
            value => {
                return Err(RecordError::UnknownTag {
                    field: "answer status",
                    value,
                });
            }
        };
        let text = get_text(&mut r, "answer text")?;
        r.finish()?;
        Ok(AnswerEntry {
            number,
            status,
            text,
        })
    }
}

/// Which precinct list (§R15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrecinctListKind {
    /// 1: voters approved for online voting (before voting).
    ApprovedOnline,
    /// 2: voters whose ballot is on the board (after `voting_closed`).
    VotedOnline,
}

impl PrecinctListKind {
    /// The byte.
    pub fn tag(self) -> u8 {
        match self {
            PrecinctListKind::ApprovedOnline => 1,
            PrecinctListKind::VotedOnline => 2,
        }
    }
}

/// An `admin_action` with sub-tag 2: one precinct's list as exported
/// for its commission (spec/record.md §R15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrecinctListEntry {
    /// Which list.
    pub kind: PrecinctListKind,
    /// The precinct id (of the manifest).
    pub precinct: String,
    /// Voters on the list (CSV rows after the header).
    pub rows: u64,
    /// SHA-256 of the precinct's CSV file.
    pub csv_sha256: [u8; 32],
    /// SHA-256 of the `SHA256SUMS` file of the export.
    pub sums_sha256: [u8; 32],
    /// The commission's Ed25519 public key.
    pub commission_key: [u8; 32],
    /// Its signature of `SHA256SUMS` (`SHA256SUMS.sig`).
    pub signature: [u8; 64],
}

impl PrecinctListEntry {
    /// The payload.
    pub fn encode(&self) -> Result<Vec<u8>, Misuse> {
        let mut w = Writer::new();
        w.u8(PAYLOAD_VERSION)
            .u8(ADMIN_PRECINCT_LIST)
            .u8(self.kind.tag());
        put_id(&mut w, &self.precinct)?;
        w.u64(self.rows)
            .raw(&self.csv_sha256)
            .raw(&self.sums_sha256)
            .raw(&self.commission_key)
            .raw(&self.signature);
        Ok(w.finish())
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let sub = r.u8()?;
        if sub != ADMIN_PRECINCT_LIST {
            return Err(RecordError::UnknownTag {
                field: "admin_action sub-tag",
                value: sub,
            });
        }
        let kind = match r.u8()? {
            1 => PrecinctListKind::ApprovedOnline,
            2 => PrecinctListKind::VotedOnline,
            value => {
                return Err(RecordError::UnknownTag {
                    field: "list kind",
                    value,
                });
            }
        };
        let precinct = get_id(&mut r, "precinct")?;
        let rows = r.u64()?;
        let mut take = |n: usize| r.take(n).map(<[u8]>::to_vec);
        let csv = take(32)?;
        let sums = take(32)?;
        let key = take(32)?;
        let sig = take(64)?;
        r.finish()?;
        let a32 = |v: Vec<u8>| {
            let mut a = [0u8; 32];
            a.copy_from_slice(&v);
            a
        };
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&sig);
        Ok(PrecinctListEntry {
            kind,
            precinct,
            rows,
            csv_sha256: a32(csv),
            sums_sha256: a32(sums),
            commission_key: a32(key),
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaint_round_trip_and_strictness() {
        let c = ComplaintEntry {
            number: 7,
            role: Role::Observer,
            tracking: Some([9; 32]),
            text: "Жалоба: очередь".into(),
        };
        let p = c.encode().unwrap();
        assert_eq!(ComplaintEntry::decode(&p).unwrap(), c);
        assert_eq!(p.len(), 1 + 8 + 1 + 1 + 32 + 2 + c.text.len());
        let mut bad = p.clone();
        bad.push(0);
        assert_eq!(
            ComplaintEntry::decode(&bad).unwrap_err().code(),
            "trailing_bytes"
        );
        let mut bad = p.clone();
        bad[10] = 2; // tracking flag
        assert_eq!(
            ComplaintEntry::decode(&bad).unwrap_err().code(),
            "unknown_tag"
        );
        let mut bad = p.clone();
        bad[9] = 3; // role
        assert_eq!(
            ComplaintEntry::decode(&bad).unwrap_err().code(),
            "unknown_tag"
        );
        let mut bad = p.clone();
        bad[1..9].copy_from_slice(&0u64.to_be_bytes());
        assert_eq!(
            ComplaintEntry::decode(&bad).unwrap_err().code(),
            "out_of_bounds"
        );
        let mut bad = p.clone();
        let n = bad.len();
        bad[n - 1] = b'\n';
        assert_eq!(ComplaintEntry::decode(&bad).unwrap_err().code(), "bad_text");
        let long = ComplaintEntry {
            text: "x".repeat(MAX_TEXT_BYTES + 1),
            ..c.clone()
        };
        assert!(long.encode().is_err());
        let none = ComplaintEntry {
            tracking: None,
            ..c
        };
        assert_eq!(
            ComplaintEntry::decode(&none.encode().unwrap()).unwrap(),
            none
        );
    }

    #[test]
    fn answer_and_list_round_trip() {
        let a = AnswerEntry {
            number: 3,
            status: AnswerStatus::Rejected,
            text: "no".into(),
        };
        let p = a.encode().unwrap();
        assert_eq!(AnswerEntry::decode(&p).unwrap(), a);
        let mut bad = p.clone();
        bad[9] = 4;
        assert_eq!(AnswerEntry::decode(&bad).unwrap_err().code(), "unknown_tag");
        let l = PrecinctListEntry {
            kind: PrecinctListKind::VotedOnline,
            precinct: "uik-1".into(),
            rows: 12,
            csv_sha256: [1; 32],
            sums_sha256: [2; 32],
            commission_key: [3; 32],
            signature: [4; 64],
        };
        let p = l.encode().unwrap();
        assert_eq!(p.len(), 3 + 6 + 8 + 32 * 3 + 64);
        assert_eq!(PrecinctListEntry::decode(&p).unwrap(), l);
        assert_eq!(
            PrecinctListEntry::decode(&p[..p.len() - 1])
                .unwrap_err()
                .code(),
            "truncated"
        );
        let mut bad = p.clone();
        bad[1] = 1;
        assert_eq!(
            PrecinctListEntry::decode(&bad).unwrap_err().code(),
            "unknown_tag"
        );
    }
}
