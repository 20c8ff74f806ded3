//! Live turnout: counts per precinct, district, region and hour. Counts
//! only — nothing here knows what a ballot contains, so no partial result
//! can leak before the close.

use std::collections::BTreeMap;

use serde::Serialize;
use urna_election::{Manifest, Timestamp};

/// Counters kept next to the engine, updated when an append is durable.
#[derive(Debug, Default)]
pub(crate) struct TurnoutBook {
    /// Registered credentials per precinct.
    eligible: Vec<u64>,
    /// Credentials with at least one ballot, per precinct.
    voted: Vec<u64>,
    /// Per hour (unix seconds of its start): accepted ballots and first ballots.
    hours: BTreeMap<i64, (u64, u64)>,
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
        let hour = now.unix().div_euclid(3600) * 3600;
        let slot = self.hours.entry(hour).or_default();
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

    pub(crate) fn report(&self, manifest: &Manifest, phase: &'static str) -> Turnout {
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
            hours: self
                .hours
                .iter()
                .map(|(&h, &(ballots, voters))| Hour {
                    hour: Timestamp::from_unix(h).to_rfc3339_utc(),
                    ballots,
                    voters,
                })
                .collect(),
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
    hours: Vec<Hour>,
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
