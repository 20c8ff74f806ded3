//! The commission's public acts that are not election state, read from
//! the specification alone: complaints and answers (spec/record.md §R13,
//! §R14) and precinct list hashes (`admin_action` sub-tag 2, §R15).

use std::collections::{BTreeMap, HashMap};

use urna_crypto::encoding::Reader;

use crate::manifest::Manifest;
use crate::report::{Checks, Summary};

/// Text fields: 1 to 4000 bytes of UTF-8 without control characters (§R13).
const MAX_TEXT: usize = 4000;

fn pe(e: urna_crypto::PeerError) -> String {
    e.to_string()
}

fn text(r: &mut Reader<'_>, field: &str) -> Result<(), String> {
    let n = r.u16().map_err(pe)?;
    let b = r.take(n.into()).map_err(pe)?;
    match std::str::from_utf8(b) {
        Ok(s) if !s.is_empty() && s.len() <= MAX_TEXT && !s.chars().any(char::is_control) => Ok(()),
        _ => Err(format!("bad_text: {field}")),
    }
}

fn version(r: &mut Reader<'_>) -> Result<(), String> {
    match r.u8().map_err(pe)? {
        1 => Ok(()),
        v => Err(format!("unknown_version {v}")),
    }
}

fn number(r: &mut Reader<'_>) -> Result<u64, String> {
    match r.u64().map_err(pe)? {
        0 => Err("out_of_bounds: complaint number 0".into()),
        n => Ok(n),
    }
}

fn id(r: &mut Reader<'_>) -> Result<String, String> {
    let n = r.u8().map_err(pe)?;
    let b = r.take(n.into()).map_err(pe)?;
    match std::str::from_utf8(b) {
        Ok(s)
            if (1..=64).contains(&s.len())
                && s.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c)
                }) =>
        {
            Ok(s.to_owned())
        }
        _ => Err("bad_identifier: precinct".into()),
    }
}

/// What the verifier keeps of these entries.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    /// Complaint number → answered.
    complaints: BTreeMap<u64, bool>,
    /// Latest voted-online list per precinct: its rows.
    voted: HashMap<String, u64>,
    /// One export (SHA-256 of `SHA256SUMS`) → key and signature.
    exports: HashMap<[u8; 32], [u8; 96]>,
}

impl Notices {
    /// A `complaint` entry (§R13): numbers strictly increase.
    pub(crate) fn complaint(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let n = number(&mut r)?;
        match r.u8().map_err(pe)? {
            1 | 2 => {}
            x => return Err(format!("unknown_tag role {x}")),
        }
        match r.u8().map_err(pe)? {
            0 => {}
            1 => {
                r.take(32).map_err(pe)?;
            }
            x => return Err(format!("unknown_tag tracking flag {x}")),
        }
        text(&mut r, "complaint text")?;
        r.finish().map_err(pe)?;
        if let Some((&last, _)) = self.complaints.last_key_value()
            && n <= last
        {
            return Err(format!(
                "complaint {n} after complaint {last}: numbers must increase"
            ));
        }
        self.complaints.insert(n, false);
        Ok(())
    }

    /// A `complaint_answer` entry (§R14): one per complaint, after it.
    pub(crate) fn answer(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let n = number(&mut r)?;
        match r.u8().map_err(pe)? {
            1..=3 => {}
            x => return Err(format!("unknown_tag answer status {x}")),
        }
        text(&mut r, "answer text")?;
        r.finish().map_err(pe)?;
        match self.complaints.get_mut(&n) {
            None => Err(format!(
                "an answer to complaint {n}, which is not on the board before it"
            )),
            Some(true) => Err(format!("a second answer to complaint {n}")),
            Some(answered) => {
                *answered = true;
                Ok(())
            }
        }
    }

    /// An `admin_action` with sub-tag 2 (§R15).
    pub(crate) fn precinct_list(
        &mut self,
        payload: &[u8],
        manifest: Option<&Manifest>,
        closed: bool,
    ) -> Result<(), String> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        r.u8().map_err(pe)?; // sub-tag 2: `entry` passes only those here
        let kind = r.u8().map_err(pe)?;
        if !matches!(kind, 1 | 2) {
            return Err(format!("unknown_tag list kind {kind}"));
        }
        let precinct = id(&mut r)?;
        let rows = r.u64().map_err(pe)?;
        r.take(32).map_err(pe)?; // the CSV's hash: compared with the medium
        let mut sums = [0u8; 32];
        sums.copy_from_slice(r.take(32).map_err(pe)?);
        let mut signed = [0u8; 96];
        signed.copy_from_slice(r.take(96).map_err(pe)?);
        r.finish().map_err(pe)?;
        if let Some(m) = manifest
            && !m.districts.iter().any(|d| d.precincts.contains(&precinct))
        {
            return Err(format!("precinct {precinct} is not in the manifest"));
        }
        if kind == 2 && !closed {
            return Err(format!(
                "the voted-online list of {precinct} comes before voting_closed"
            ));
        }
        // One export is one signature over one SHA256SUMS.
        if *self.exports.entry(sums).or_insert(signed) != signed {
            return Err(format!(
                "{precinct}: another key or signature for the same SHA256SUMS"
            ));
        }
        if kind == 2 {
            self.voted.insert(precinct, rows);
        }
        Ok(())
    }

    /// The totals, and the observers' check: when every precinct's
    /// voted-online list is on the board, their rows add up to the
    /// credentials with a ballot.
    pub(crate) fn finish(
        &self,
        checks: &mut Checks,
        summary: &mut Summary,
        manifest: Option<&Manifest>,
        voters: u64,
    ) {
        summary.complaints_filed = self.complaints.len() as u64;
        summary.complaints_answered = self.complaints.values().filter(|a| **a).count() as u64;
        summary.complaints_open = summary.complaints_filed - summary.complaints_answered;
        let Some(m) = manifest else { return };
        let all: u64 = m.districts.iter().map(|d| d.precincts.len() as u64).sum();
        let rows: u64 = self.voted.values().sum();
        summary.voted_online_lists = (self.voted.len() as u64, all);
        summary.voted_online_rows = rows;
        if all > 0 && self.voted.len() as u64 == all {
            checks.checked("precinct_lists", 1);
            if rows != voters {
                checks.fail(
                    "precinct_lists",
                    None,
                    format!(
                        "the voted-online lists hold {rows} voters, the board has ballots of {voters} credentials"
                    ),
                );
            }
        }
    }
}
