//! Live turnout: counts per precinct, district, region and hour (in the
//! manifest's time zone). Counts only — nothing here knows what a ballot
//! contains, so no partial result can leak before the close.

use std::collections::BTreeMap;

use serde::Serialize;
use urna_election::{Manifest, Timestamp};

use super::tz::Zone;

/// Counts are kept per quarter hour (UTC): every UTC offset in use is a
/// multiple of 15 minutes, so quarters add up to local hours in any zone.
const SLOT: i64 = 900;

/// Counters kept next to the engine, updated when an append is durable.
#[derive(Debug, Default)]
pub(crate) struct TurnoutBook {
    /// Registered credentials per precinct.
    eligible: Vec<u64>,
    /// Credentials with at least one ballot, per precinct.
    voted: Vec<u64>,
    /// Per quarter hour (unix seconds of its start): accepted ballots and first ballots.
    slots: BTreeMap<i64, (u64, u64)>,
    ballots: u64,
    audited: u64,
}

impl TurnoutBook {
    fn fit(&mut self, precincts: usize) {
        if self.eligible.len() < precincts {
            self.eligible.resize(precincts, 0);
            self.voted.resize(precincts, 0);
        }
    }

    pub(crate) fn registered(&mut self, precincts: usize, precinct: usize) {
        self.fit(precincts);
        self.eligible[precinct] += 1;
    }

    /// A registered credential left out of the sealed lists at the open.
    pub(crate) fn unregistered(&mut self, precincts: usize, precinct: usize) {
        self.fit(precincts);
        self.eligible[precinct] = self.eligible[precinct].saturating_sub(1);
    }

    /// A ballot is durable; `first` if the credential had none before.
    pub(crate) fn ballot(
        &mut self,
        precincts: usize,
        precinct: Option<usize>,
        first: bool,
        now: Timestamp,
    ) {
        self.fit(precincts);
        self.ballots += 1;
        let start = now.unix().div_euclid(SLOT) * SLOT;
        let slot = self.slots.entry(start).or_default();
        slot.0 += 1;
        if first {
            slot.1 += 1;
            if let Some(p) = precinct {
                self.voted[p] += 1;
            }
        }
    }

    pub(crate) fn audit(&mut self) {
        self.audited += 1;
    }

    /// The book as bytes for a snapshot (spec/api.md §A6.3): `u32 P ‖
    /// P × (u64 eligible ‖ u64 voted) ‖ u64 S ‖ S × (i64 slot start ‖ u64
    /// ballots ‖ u64 first ballots) ‖ u64 ballots ‖ u64 audited`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.eligible.len() as u32).to_be_bytes());
        for (e, v) in self.eligible.iter().zip(&self.voted) {
            out.extend_from_slice(&e.to_be_bytes());
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&(self.slots.len() as u64).to_be_bytes());
        for (start, (b, f)) in &self.slots {
            out.extend_from_slice(&start.to_be_bytes());
            out.extend_from_slice(&b.to_be_bytes());
            out.extend_from_slice(&f.to_be_bytes());
        }
        out.extend_from_slice(&self.ballots.to_be_bytes());
        out.extend_from_slice(&self.audited.to_be_bytes());
    }

    /// Reads [`encode`](Self::encode)'s bytes; `None` if they do not decode.
    pub(crate) fn decode(r: &mut super::snapshot::Reader<'_>) -> Option<Self> {
        let p = r.u32()? as usize;
        let mut book = TurnoutBook::default();
        for _ in 0..r.bounded(p as u64, 16)? {
            book.eligible.push(r.u64()?);
            book.voted.push(r.u64()?);
        }
        let n = r.u64()?;
        for _ in 0..r.bounded(n, 24)? {
            let start = r.u64()? as i64;
            let counts = (r.u64()?, r.u64()?);
            if book.slots.insert(start, counts).is_some() {
                return None;
            }
        }
        book.ballots = r.u64()?;
        book.audited = r.u64()?;
        Some(book)
    }

    /// Hours of the zone's local time: `(UTC start, offset) → counts`.
    fn hours(&self, zone: &Zone) -> Vec<Hour> {
        let mut hours: BTreeMap<i64, (i32, u64, u64)> = BTreeMap::new();
        for (&start, &(ballots, voters)) in &self.slots {
            let off = zone.offset(start);
            let local = (start + i64::from(off)).div_euclid(3600) * 3600;
            let h = hours.entry(local - i64::from(off)).or_insert((off, 0, 0));
            h.1 += ballots;
            h.2 += voters;
        }
        hours
            .into_iter()
            .map(|(utc, (off, ballots, voters))| Hour {
                hour: local_label(utc, off),
                ballots,
                voters,
            })
            .collect()
    }

    pub(crate) fn report(&self, manifest: &Manifest, phase: &'static str, zone: &Zone) -> Turnout {
        let n = manifest.precincts().len();
        let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
        let precincts: Vec<Count> = manifest
            .precincts()
            .iter()
            .enumerate()
            .map(|(i, p)| Count {
                id: p.id.clone(),
                parent: Some(manifest.districts()[p.district].id.clone()),
                eligible: get(&self.eligible, i),
                voted: get(&self.voted, i),
            })
            .collect();
        let districts: Vec<Count> = manifest
            .districts()
            .iter()
            .map(|d| Count {
                id: d.id.clone(),
                parent: Some(manifest.regions()[d.region].id.clone()),
                eligible: d.precincts.iter().map(|&p| get(&self.eligible, p)).sum(),
                voted: d.precincts.iter().map(|&p| get(&self.voted, p)).sum(),
            })
            .collect();
        let regions: Vec<Count> = manifest
            .regions()
            .iter()
            .map(|r| Count {
                id: r.id.clone(),
                parent: None,
                eligible: r.districts.iter().map(|&d| districts[d].eligible).sum(),
                voted: r.districts.iter().map(|&d| districts[d].voted).sum(),
            })
            .collect();
        Turnout {
            phase,
            eligible: (0..n).map(|i| get(&self.eligible, i)).sum(),
            voted: (0..n).map(|i| get(&self.voted, i)).sum(),
            ballots: self.ballots,
            audited: self.audited,
            regions,
            districts,
            precincts,
            time_zone: zone.name.clone(),
            hours: self.hours(zone),
        }
    }
}

/// `GET /election/turnout`.
#[derive(Debug, Serialize)]
pub(crate) struct Turnout {
    phase: &'static str,
    eligible: u64,
    voted: u64,
    ballots: u64,
    audited: u64,
    regions: Vec<Count>,
    districts: Vec<Count>,
    precincts: Vec<Count>,
    time_zone: String,
    hours: Vec<Hour>,
}

/// `2020-06-25T10:00:00+03:00`: the local wall time of `utc` and its offset.
fn local_label(utc: i64, off: i32) -> String {
    let wall = Timestamp::from_unix(utc + i64::from(off)).to_rfc3339_utc();
    let wall = wall.strip_suffix('Z').unwrap_or(&wall);
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    format!("{wall}{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hours() {
        assert_eq!(
            local_label(1_593_068_400, 3 * 3600),
            "2020-06-25T10:00:00+03:00"
        );
        assert_eq!(
            local_label(1_593_068_400, -(9 * 3600 + 1800)),
            "2020-06-24T21:30:00-09:30"
        );
        // Quarters in UTC fold into the local hours of a +05:30 zone
        // (1_593_000_000 is a whole UTC hour).
        let mut book = TurnoutBook::default();
        let zone = Zone::utc();
        for t in [0i64, 1799, 1800, 5399] {
            book.ballot(1, Some(0), true, Timestamp::from_unix(1_593_000_000 + t));
        }
        assert_eq!(book.hours(&zone).len(), 2);
        let plus_530 = Zone::fixed_for_tests(5 * 3600 + 1800);
        let h = book.hours(&plus_530);
        assert_eq!(h.iter().map(|h| h.ballots).collect::<Vec<_>>(), vec![2, 2]);
        assert!(h[0].hour.ends_with(":00:00+05:30"), "{}", h[0].hour);
    }
}

#[derive(Debug, Serialize)]
struct Count {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    eligible: u64,
    voted: u64,
}

#[derive(Debug, Serialize)]
struct Hour {
    hour: String,
    ballots: u64,
    voters: u64,
}
