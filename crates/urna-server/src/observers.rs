//! The observer allow-list of `urna serve --observers FILE`
//! (spec/board.md §B10.3): only the listed observers' cosignatures are
//! accepted and served, and the list is published on the board
//! (`admin_action` sub-tag 4, spec/record.md §R16) so that every verifier
//! knows whose cosignatures count.

use urna_board::{Entry, EntryKind, NoteSignature, VerifierKey};
use urna_election::record::observers::ObserverList;

use crate::AppState;
use crate::error::ApiError;

/// Reads an observer file (spec/board.md §B10.3): one observer verifier
/// key (type `0x04`, §B7.2) per line; blank lines and lines starting
/// with `#` are ignored; a key listed twice, a key of another type and
/// more than 99 keys are refused.
pub fn parse_file(text: &str) -> Result<ObserverList, String> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = VerifierKey::parse(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        keys.push(key);
    }
    ObserverList::new(keys).map_err(|e| e.to_string())
}

/// Whether a cosignature line is by one of `keys`.
pub(crate) fn signed_by_one_of(sig: &NoteSignature, keys: &[VerifierKey]) -> bool {
    keys.iter()
        .any(|k| k.name() == sig.name() && k.key_id() == sig.key_id())
}

impl AppState {
    /// Accepts and serves cosignatures only from `list`'s observers, and
    /// appends `list` to the board unless `on_board` (the last observer
    /// list on the board, e.g. from the resume report) is the same list.
    /// Returns the index of the appended entry.
    pub async fn publish_observers(
        &self,
        list: &ObserverList,
        on_board: Option<&ObserverList>,
    ) -> Result<Option<u64>, ApiError> {
        self.cosignatures.restrict_to(list.keys.clone());
        if on_board == Some(list) {
            return Ok(None);
        }
        let entry = list
            .encode()
            .ok()
            .and_then(|p| Entry::new(EntryKind::AdminAction, &p).ok())
            .ok_or_else(ApiError::internal)?;
        // Under the engine lock, so the entry never falls inside a
        // chunked object (spec/record.md §R1.3).
        let (appended, ()) = self
            .election
            .shared
            .transition(|_, _| Ok((vec![entry], ())))
            .await?;
        let index = appended.first().map(|a| a.index);
        if index.is_some() {
            self.election.shared.set_observers_at(index);
        }
        Ok(index)
    }
}
