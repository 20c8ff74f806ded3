//! The verification report: every named check with its counts and
//! failures, as text for people and JSON for machines.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Failures kept per check; beyond it only the count grows (bounded memory).
pub const MAX_FAILURES_PER_CHECK: usize = 1000;

/// The named checks, in the order they are reported (spec/export.md §X4).
pub const CHECKS: &[(&str, &str)] = &[
    (
        "record.files",
        "the record folder is readable and well framed",
    ),
    (
        "checkpoint.signature",
        "the final checkpoint is signed by the board key",
    ),
    (
        "checkpoint.root",
        "the tree rebuilt from the entries equals the final checkpoint",
    ),
    (
        "checkpoint.consistency",
        "every earlier checkpoint is a prefix of the final tree",
    ),
    (
        "checkpoint.cosigners",
        "the final checkpoint is cosigned by every trusted observer (--observer); their cosignatures verify (export.md §X3.1)",
    ),
    (
        "entries.envelope",
        "every entry has a valid envelope (board.md §B5.1)",
    ),
    (
        "board.order",
        "entries appear in the phase order of record.md §R1.4",
    ),
    (
        "manifest",
        "the manifest chunks, its hash and its contents (record.md §R2)",
    ),
    (
        "key_ceremony",
        "the key ceremony verifies and yields the published joint key (§R3)",
    ),
    (
        "credential_lists",
        "sealed credential lists, one per district (§R4)",
    ),
    ("voting_opened", "the voting_opened marker (§R5)"),
    (
        "ballot.window",
        "every ballot lies between voting_opened and voting_closed",
    ),
    (
        "ballot.decode",
        "every ballot decodes strictly (crypto.md §7.3)",
    ),
    (
        "ballot.header",
        "the ballot header names this election and its credential's district style",
    ),
    ("ballot.credential", "the ballot's credential is sealed"),
    (
        "ballot.replay",
        "no tracking code appears twice or is that of an audited ballot",
    ),
    (
        "ballot.proofs",
        "the ballot's proofs and signature verify (batch, crypto.md §7.4)",
    ),
    ("revote", "the re-vote policy of the manifest (§R6.3)"),
    (
        "audited_ballot",
        "audited ballots verify and re-encrypt to what they reveal (§R7)",
    ),
    (
        "voting_closed",
        "the voting_closed marker and its counts (§R8)",
    ),
    ("reconciliation", "reconciliation annulments (§R9)"),
    (
        "tally",
        "the encrypted tally equals the recomputed homomorphic sums (§R10)",
    ),
    (
        "partial_decryptions",
        "every partial decryption proof (§R11)",
    ),
    (
        "combination",
        "combined decryptions match the published district counts (§R12)",
    ),
    ("results", "results per district, region and total (§R12)"),
    (
        "complaints",
        "complaints and answers: well formed, numbered, each answer after its complaint (§R13–§R14)",
    ),
    (
        "observers",
        "the observer list is well formed; the final checkpoint's cosignatures are listed observers' (§R16)",
    ),
    (
        "precinct_lists",
        "precinct list hashes; voted-online rows equal the voters with a ballot (§R15)",
    ),
];

/// One failure, with the index of the entry at fault when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The check that failed.
    pub check: String,
    /// The leaf index of the entry at fault, if any.
    pub entry: Option<u64>,
    /// What was wrong.
    pub message: String,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Stable name.
    pub name: String,
    /// What the check covers.
    pub description: String,
    /// Items checked.
    pub checked: u64,
    /// Items that failed.
    pub failed: u64,
    /// Failures (at most [`MAX_FAILURES_PER_CHECK`]).
    pub failures: Vec<Failure>,
}

impl CheckReport {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.failed == 0
    }
}

/// Totals found in the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Entries on the board.
    pub entries: u64,
    /// The election id from the manifest.
    pub election: Option<String>,
    /// SHA-256 of the manifest, hex.
    pub manifest_hash: Option<String>,
    /// F_election of the manifest and the published joint key, hex.
    pub fingerprint: Option<String>,
    /// Sealed credentials.
    pub credentials: u64,
    /// `ballot` entries.
    pub ballots: u64,
    /// `audited_ballot` entries.
    pub audited: u64,
    /// Ballots counted after re-votes and annulments.
    pub counted: u64,
    /// Trustees whose partial decryptions verified.
    pub trustees: Vec<u16>,
    /// `complaint` entries.
    pub complaints_filed: u64,
    /// Complaints with a `complaint_answer`.
    pub complaints_answered: u64,
    /// Complaints without one.
    pub complaints_open: u64,
    /// Precincts whose voted-online list is on the board, and of how many.
    pub voted_online_lists: (u64, u64),
    /// Rows of those lists (the last list of each precinct).
    pub voted_online_rows: u64,
    /// Observers on the board's last observer list (§R16).
    pub observers: u64,
    /// Of them, those whose cosignature of the final checkpoint verifies.
    pub cosigned_by: u64,
}

/// The verdict on a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Path of the record.
    pub record: String,
    /// Set when the input could not be used at all (exit 2).
    pub unusable: Option<String>,
    /// Totals.
    pub summary: Summary,
    /// Every check in [`CHECKS`] order.
    pub checks: Vec<CheckReport>,
}

impl Report {
    /// Whether every check passed and the input was usable.
    pub fn is_valid(&self) -> bool {
        self.unusable.is_none() && self.checks.iter().all(CheckReport::passed)
    }

    /// 0 valid, 1 invalid, 2 unusable input.
    pub fn exit_code(&self) -> i32 {
        if self.unusable.is_some() {
            2
        } else if self.is_valid() {
            0
        } else {
            1
        }
    }

    /// Names of the failed checks, in report order.
    pub fn failed_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| c.name.as_str())
            .collect()
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "urna verify: {}", self.record)?;
        let s = &self.summary;
        if let Some(e) = &s.election {
            writeln!(f, "election {e}")?;
        }
        if let Some(m) = &s.manifest_hash {
            writeln!(f, "manifest {m}")?;
        }
        writeln!(
            f,
            "{} entries, {} credentials, {} ballots, {} audited, {} counted, trustees {:?}",
            s.entries, s.credentials, s.ballots, s.audited, s.counted, s.trustees
        )?;
        writeln!(
            f,
            "complaints: {} filed, {} answered, {} open; voted-online lists: {} of {} precincts published, {} voters",
            s.complaints_filed,
            s.complaints_answered,
            s.complaints_open,
            s.voted_online_lists.0,
            s.voted_online_lists.1,
            s.voted_online_rows
        )?;
        for c in &self.checks {
            let mark = if c.passed() { "ok  " } else { "FAIL" };
            writeln!(
                f,
                "{mark} {:<24} {:>9} checked {:>6} failed  {}",
                c.name, c.checked, c.failed, c.description
            )?;
            for x in &c.failures {
                match x.entry {
                    Some(i) => writeln!(f, "       entry {i}: {}", x.message)?,
                    None => writeln!(f, "       {}", x.message)?,
                }
            }
            if c.failed > c.failures.len() as u64 {
                writeln!(f, "       … {} more", c.failed - c.failures.len() as u64)?;
            }
        }
        match (&self.unusable, self.is_valid()) {
            (Some(why), _) => writeln!(f, "UNUSABLE INPUT: {why}"),
            (None, true) => writeln!(f, "VALID"),
            (None, false) => writeln!(f, "INVALID: {}", self.failed_checks().join(", ")),
        }
    }
}

/// Called with every failure as it is found (a live observer logs them).
pub type FailureHook = Box<dyn FnMut(&Failure) + Send>;

/// Collects check outcomes while verifying.
pub(crate) struct Checks {
    map: BTreeMap<&'static str, CheckReport>,
    pub(crate) hook: Option<FailureHook>,
}

impl fmt::Debug for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checks").field("map", &self.map).finish()
    }
}

impl Checks {
    pub(crate) fn new() -> Self {
        let map = CHECKS
            .iter()
            .map(|(n, d)| {
                (
                    *n,
                    CheckReport {
                        name: (*n).to_owned(),
                        description: (*d).to_owned(),
                        checked: 0,
                        failed: 0,
                        failures: Vec::new(),
                    },
                )
            })
            .collect();
        Checks { map, hook: None }
    }

    fn slot(&mut self, check: &'static str) -> &mut CheckReport {
        self.map.entry(check).or_insert_with(|| CheckReport {
            name: check.to_owned(),
            description: String::new(),
            checked: 0,
            failed: 0,
            failures: Vec::new(),
        })
    }

    /// Counts `n` items as checked.
    pub(crate) fn checked(&mut self, check: &'static str, n: u64) {
        self.slot(check).checked += n;
    }

    /// Records a failure.
    pub(crate) fn fail(
        &mut self,
        check: &'static str,
        entry: Option<u64>,
        message: impl Into<String>,
    ) {
        let failure = Failure {
            check: check.to_owned(),
            entry,
            message: message.into(),
        };
        if let Some(h) = self.hook.as_mut() {
            h(&failure);
        }
        let s = self.slot(check);
        s.failed += 1;
        if s.failures.len() < MAX_FAILURES_PER_CHECK {
            s.failures.push(failure);
        }
    }

    pub(crate) fn into_reports(mut self) -> Vec<CheckReport> {
        let mut out = Vec::new();
        for (n, _) in CHECKS {
            if let Some(r) = self.map.remove(n) {
                out.push(r);
            }
        }
        out.extend(self.map.into_values());
        out
    }
}
