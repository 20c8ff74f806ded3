//! Lists for precinct commissions (spec/registration.md §G7): who is on
//! `approved-online` and `voted-online`, and which lists' hashes are on
//! the board (spec/record.md §R15) for the publication rule. The files
//! and their signature are [`crate::lists`]'s.

use super::Registry;
use super::row::{blob, get_date, get_text, get_u64, int, need_32, text};
use crate::error::RegistryError;
use crate::lists::{ListKind, ListRow};

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

impl Registry {
    /// The voters of one list, every precinct.
    ///
    /// `approved-online` holds approved voters whose device registered a
    /// credential: only they can vote online, so only they are struck
    /// from the paper lists. `voted-online` holds voters whose ballot is
    /// on the board ([`Registry::mark_voted`]).
    pub fn list_rows(&self, kind: ListKind) -> Result<Vec<ListRow>, RegistryError> {
        let filter = match kind {
            ListKind::ApprovedOnline => "a.state = 'approved' AND a.cred_tag IS NOT NULL",
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
                Ok(PublishedList {
                    precinct: get_text(r, 0)?,
                    csv_sha256: need_32(r, 1, "published lists")?,
                    sums_sha256: need_32(r, 2, "published lists")?,
                    version: get_u64(r, 3)?,
                    board_index: get_u64(r, 4)?,
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
                        blob(&l.csv_sha256),
                        blob(&l.sums_sha256),
                        int(l.version)?,
                        int(l.board_index)?,
                    ],
                )?;
            }
            Ok(())
        })
    }
}
