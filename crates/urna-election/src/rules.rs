//! The election rules as pure functions and small state machines: the
//! voting window, the re-vote policy applied by board order, replays, which
//! ballots count, homomorphic sums, decryption of the sums and the results
//! per district, region and total (spec/record.md §R6.3, §R10–§R12).

use std::collections::{HashMap, HashSet};

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::traits::Identity;
use rand_core::CryptoRng;
use urna_crypto::ballot::Ballot;
use urna_crypto::dlog::DlogTable;
use urna_crypto::elgamal::Ciphertext;
use urna_crypto::encoding::Element;
use urna_crypto::threshold::{PartialDecryption, combine_batch_elements, verify_partials};
use urna_crypto::{Fingerprint, PeerError};

use crate::error::{ElectionError, Misuse, Refusal};
use crate::manifest::{Manifest, RevotePolicy, Schedule, Scope};
use crate::record::{ResultRecord, ResultScope, TallyRecord, tally_label};
use crate::time::Timestamp;

/// A 32-byte credential encoding, as used for keys of maps.
pub type CredentialBytes = [u8; 32];

/// Checks that ballots are accepted at `now` (half-open window
/// `[voting_opens, voting_closes)`, spec/record.md §R6.3).
pub fn check_voting_window(schedule: &Schedule, now: Timestamp) -> Result<(), Refusal> {
    if schedule.voting_open_at(now) {
        Ok(())
    } else {
        Err(Refusal::OutsideVotingWindow {
            now,
            opens: schedule.voting_opens,
            closes: schedule.voting_closes,
        })
    }
}

/// Checks that applications (credential registrations) are accepted at `now`.
pub fn check_application_window(schedule: &Schedule, now: Timestamp) -> Result<(), Refusal> {
    if schedule.applications_open_at(now) {
        Ok(())
    } else {
        Err(Refusal::OutsideApplicationWindow {
            now,
            opens: schedule.applications_open,
            closes: schedule.applications_close,
        })
    }
}

/// The server's view of what is on the board during voting: which tracking
/// codes exist and when each credential last voted. It applies the
/// re-vote policy in the order [`BallotBox::record`] is called, which the
/// server makes the board order (spec/record.md §R6.3).
#[derive(Debug, Clone)]
pub struct BallotBox {
    pub(crate) policy: RevotePolicy,
    /// Tracking codes of every ballot and audited ballot on the board.
    pub(crate) seen: HashSet<[u8; 32]>,
    /// Tracking codes of audited ballots (subset of `seen`).
    pub(crate) audited: HashSet<[u8; 32]>,
    /// Last accepted ballot per credential: server time and tracking code.
    pub(crate) last: HashMap<CredentialBytes, (Timestamp, [u8; 32])>,
}

/// What [`BallotBox::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The tracking code of the credential's previous ballot, which no
    /// longer counts (`last-counts` only).
    pub superseded: Option<[u8; 32]>,
}

impl BallotBox {
    /// An empty box for a policy.
    pub fn new(policy: RevotePolicy) -> Self {
        BallotBox {
            policy,
            seen: HashSet::new(),
            audited: HashSet::new(),
            last: HashMap::new(),
        }
    }

    /// Whether a ballot from `credential` with `tracking` may be appended at
    /// `now` (the server's clock). Refusals, in this order: an audited
    /// ballot, a replay (same tracking code), then the re-vote policy.
    pub fn check(
        &self,
        credential: &CredentialBytes,
        tracking: &[u8; 32],
        now: Timestamp,
    ) -> Result<(), Refusal> {
        if self.audited.contains(tracking) {
            return Err(Refusal::AuditedBallot);
        }
        if self.seen.contains(tracking) {
            return Err(Refusal::ReplayedBallot);
        }
        if let Some((at, _)) = self.last.get(credential) {
            match self.policy {
                RevotePolicy::Forbidden => return Err(Refusal::RevoteForbidden),
                RevotePolicy::LastCounts {
                    min_interval_seconds,
                } => {
                    let earliest = at.plus_seconds(min_interval_seconds);
                    if now < earliest {
                        let wait = (earliest.unix() - now.unix()).max(0) as u64;
                        return Err(Refusal::RevoteTooSoon {
                            min_interval: min_interval_seconds,
                            wait,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks, then records the ballot as the credential's latest.
    pub fn record(
        &mut self,
        credential: &CredentialBytes,
        tracking: &[u8; 32],
        now: Timestamp,
    ) -> Result<Recorded, Refusal> {
        self.check(credential, tracking, now)?;
        self.seen.insert(*tracking);
        let superseded = self
            .last
            .insert(*credential, (now, *tracking))
            .map(|(_, t)| t);
        Ok(Recorded { superseded })
    }

    /// Records a ballot read back from the board, in board order: the
    /// checks the board can show (audited ballot, replay, a second ballot
    /// under `forbidden`) but not the re-vote interval, which depends on
    /// the clock of the moment it was accepted.
    pub fn record_replayed(
        &mut self,
        credential: &CredentialBytes,
        tracking: &[u8; 32],
        at: Timestamp,
    ) -> Result<Recorded, Refusal> {
        if self.audited.contains(tracking) {
            return Err(Refusal::AuditedBallot);
        }
        if self.seen.contains(tracking) {
            return Err(Refusal::ReplayedBallot);
        }
        if self.policy == RevotePolicy::Forbidden && self.last.contains_key(credential) {
            return Err(Refusal::RevoteForbidden);
        }
        self.seen.insert(*tracking);
        let superseded = self
            .last
            .insert(*credential, (at, *tracking))
            .map(|(_, t)| t);
        Ok(Recorded { superseded })
    }

    /// Records an audited ballot: its tracking code can never be cast, and
    /// a second audit of the same bytes is a replay.
    pub fn record_audit(&mut self, tracking: &[u8; 32]) -> Result<(), Refusal> {
        if self.seen.contains(tracking) {
            return Err(Refusal::ReplayedBallot);
        }
        self.seen.insert(*tracking);
        self.audited.insert(*tracking);
        Ok(())
    }

    /// The tracking code of the credential's latest ballot.
    pub fn latest(&self, credential: &CredentialBytes) -> Option<&[u8; 32]> {
        self.last.get(credential).map(|(_, t)| t)
    }

    /// Number of credentials with at least one ballot.
    pub fn voters(&self) -> usize {
        self.last.len()
    }
}

/// Which ballot entries count, from the board alone (spec/record.md §R6.3):
/// `credentials[i]` is the credential of the i-th `ballot` entry in board
/// order. Under `forbidden` a second ballot of a credential makes the record
/// invalid (the server must have refused it); under `last-counts` the last
/// one counts. Credentials in `annulled` (reconciliation, §R9) count none.
/// Returns the indices of counted ballots, increasing.
pub fn counted(
    policy: RevotePolicy,
    credentials: &[CredentialBytes],
    annulled: &HashSet<CredentialBytes>,
) -> Result<Vec<usize>, Refusal> {
    let mut last: HashMap<&CredentialBytes, usize> = HashMap::with_capacity(credentials.len());
    for (i, c) in credentials.iter().enumerate() {
        if last.insert(c, i).is_some() && policy == RevotePolicy::Forbidden {
            return Err(Refusal::RevoteForbidden);
        }
    }
    let mut keep: Vec<usize> = last
        .into_iter()
        .filter(|(c, _)| !annulled.contains(*c))
        .map(|(_, i)| i)
        .collect();
    keep.sort_unstable();
    Ok(keep)
}

/// Running homomorphic sums per district, contest (style order) and
/// option, kept as uncompressed points so adding a ballot costs point
/// additions only (spec/crypto.md §4.3).
#[derive(Clone)]
pub struct TallyAccumulator {
    /// `sums[d][c][o] = (Σα, Σβ)`; `ballots[d]` counted ballots of district d.
    pub(crate) sums: Vec<Vec<Vec<(RistrettoPoint, RistrettoPoint)>>>,
    pub(crate) ballots: Vec<u64>,
}

impl std::fmt::Debug for TallyAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TallyAccumulator")
            .field("ballots", &self.ballots)
            .finish()
    }
}

impl TallyAccumulator {
    /// Zero sums shaped by the manifest's styles.
    pub fn new(manifest: &Manifest) -> Self {
        let zero = (RistrettoPoint::identity(), RistrettoPoint::identity());
        TallyAccumulator {
            sums: manifest
                .styles()
                .iter()
                .map(|s| {
                    s.shapes
                        .iter()
                        .map(|sh| vec![zero; usize::from(sh.options)])
                        .collect()
                })
                .collect(),
            ballots: vec![0; manifest.districts().len()],
        }
    }

    fn apply(&mut self, district: usize, contests: &[Vec<Ciphertext>], sign: bool) {
        let Some(d) = self.sums.get_mut(district) else {
            return;
        };
        for (c, cts) in d.iter_mut().zip(contests) {
            for ((a, b), ct) in c.iter_mut().zip(cts) {
                if sign {
                    *a += ct.alpha.point();
                    *b += ct.beta.point();
                } else {
                    *a -= ct.alpha.point();
                    *b -= ct.beta.point();
                }
            }
        }
        if let Some(n) = self.ballots.get_mut(district) {
            *n = if sign { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    /// Adds a counted ballot of `district` (its shape was verified against the style).
    pub fn add(&mut self, district: usize, contests: &[Vec<Ciphertext>]) {
        self.apply(district, contests, true);
    }

    /// Removes a ballot added before (superseded by a re-vote, or annulled).
    pub fn remove(&mut self, district: usize, contests: &[Vec<Ciphertext>]) {
        self.apply(district, contests, false);
    }

    /// Counted ballots per district, in district order.
    pub fn ballots(&self) -> &[u64] {
        &self.ballots
    }

    /// The tally records in tally order: districts in manifest order, each
    /// district's contests in style order (spec/record.md §R10).
    pub fn records(&self, manifest: &Manifest) -> Vec<TallyRecord> {
        let mut out = Vec::new();
        for (style, sums) in manifest.styles().iter().zip(&self.sums) {
            let district = &manifest.districts()[style.district];
            for (&ci, opts) in style.contests.iter().zip(sums) {
                out.push(TallyRecord {
                    district: district.id.clone(),
                    contest: manifest.contests()[ci].id.clone(),
                    ballots: self.ballots[style.district],
                    sums: opts
                        .iter()
                        .map(|(a, b)| Ciphertext {
                            alpha: Element::from_point(*a),
                            beta: Element::from_point(*b),
                        })
                        .collect(),
                })
            }
        }
        out
    }
}

/// The option ciphertexts of a ballot, per contest.
pub fn ballot_ciphertexts(ballot: &Ballot) -> Vec<Vec<Ciphertext>> {
    ballot
        .contests
        .iter()
        .map(|c| c.ciphertexts.clone())
        .collect()
}

/// The tally from counted ballots given as `(district index, ballot)`,
/// whose shapes match their district's style (spec/record.md §R10).
pub fn tally<'a>(
    manifest: &Manifest,
    counted: impl IntoIterator<Item = (usize, &'a Ballot)>,
) -> Vec<TallyRecord> {
    let mut acc = TallyAccumulator::new(manifest);
    for (d, b) in counted {
        acc.add(d, &ballot_ciphertexts(b));
    }
    acc.records(manifest)
}

/// The ciphertexts to decrypt, labelled with their tally position, in
/// tally order (spec/record.md §R11.2): what a trustee passes to
/// `KeyShare::partial_decrypt_batch`.
pub fn tally_items(records: &[TallyRecord]) -> Vec<(Vec<u8>, Ciphertext)> {
    records
        .iter()
        .flat_map(|r| {
            r.sums
                .iter()
                .enumerate()
                .map(|(o, ct)| (tally_label(&r.district, &r.contest, o as u16), *ct))
        })
        .collect()
}

/// Verifies one trustee's partial decryptions of the tally against its
/// verification key `K_j` (spec/crypto.md §9.3).
pub fn verify_trustee_partials<R: CryptoRng + ?Sized>(
    fp: &Fingerprint,
    vk: &Element,
    records: &[TallyRecord],
    partials: &[PartialDecryption],
    rng: &mut R,
) -> Result<(), Refusal> {
    let items = tally_items(records);
    verify_partials(fp, vk, &items, partials, rng).map_err(|bad| {
        Refusal::Crypto(
            bad.into_iter()
                .next()
                .map_or(PeerError::InvalidProof(urna_crypto::ProofKind::Dleq), |b| {
                    b.error
                }),
        )
    })
}

/// Combines verified partial decryptions of at least `threshold` trustees
/// (`per_trustee[k]` in tally order) and solves the discrete logarithms:
/// counts per record and option (spec/crypto.md §9.2, §5). A count above
/// `ballots × option_max` of its contest is an error.
pub fn decrypt_tally(
    manifest: &Manifest,
    threshold: u16,
    records: &[TallyRecord],
    per_trustee: &[&[PartialDecryption]],
) -> Result<Vec<Vec<u64>>, ElectionError> {
    let cts: Vec<Ciphertext> = tally_items(records).into_iter().map(|(_, c)| c).collect();
    let elements = combine_batch_elements(threshold, &cts, per_trustee)?;
    let contest_max: HashMap<&str, u64> = manifest
        .contests()
        .iter()
        .map(|c| (c.id.as_str(), u64::from(c.shape.option_max)))
        .collect();
    let bounds: Vec<u64> = records
        .iter()
        .map(|r| {
            r.ballots
                .saturating_mul(contest_max.get(r.contest.as_str()).copied().unwrap_or(1))
        })
        .collect();
    // One table for the largest bound; each solution is then checked
    // against its own record's bound (spec/crypto.md §5).
    let table = DlogTable::new(bounds.iter().copied().max().unwrap_or(0));
    let mut out = Vec::with_capacity(records.len());
    let mut k = 0usize;
    for (r, &bound) in records.iter().zip(&bounds) {
        let mut counts = Vec::with_capacity(r.sums.len());
        for _ in &r.sums {
            let m = elements.get(k).ok_or_else(|| {
                Misuse::Unencodable("fewer combined values than ciphertexts".into())
            })?;
            let v = table.solve(m)?;
            if v > bound {
                return Err(urna_crypto::UsageError::DlogNotFound(bound).into());
            }
            counts.push(v);
            k += 1;
        }
        out.push(counts);
    }
    Ok(out)
}

/// Ballots and per-option counts summed over a scope.
type Aggregate = (u64, Vec<u64>);

/// Results per district (tally order), then per region (manifest order;
/// each region's contests in manifest order, those on at least one of its
/// districts' ballots), then the total (every contest in manifest order)
/// (spec/record.md §R12). `counts[i]` are the decrypted counts of `records[i]`.
pub fn results(
    manifest: &Manifest,
    records: &[TallyRecord],
    counts: &[Vec<u64>],
) -> Result<Vec<ResultRecord>, Misuse> {
    if records.len() != counts.len() {
        return Err(Misuse::Unencodable(format!(
            "{} count lists for {} tally records",
            counts.len(),
            records.len()
        )));
    }
    let mut out = Vec::new();
    // (region index or None for total, contest index) -> (ballots, counts)
    let contest_index: HashMap<&str, usize> = manifest
        .contests()
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();
    let nr = manifest.regions().len();
    let nc = manifest.contests().len();
    let mut region: Vec<Vec<Option<Aggregate>>> = vec![vec![None; nc]; nr];
    let mut total: Vec<Option<Aggregate>> = vec![None; nc];
    for (r, c) in records.iter().zip(counts) {
        let (Some(d), Some(&ci)) = (
            manifest.district_index(&r.district),
            contest_index.get(r.contest.as_str()),
        ) else {
            return Err(Misuse::Unencodable(format!(
                "tally record for unknown district `{}` or contest `{}`",
                r.district, r.contest
            )));
        };
        if c.len() != r.sums.len() {
            return Err(Misuse::Unencodable("counts of the wrong length".into()));
        }
        out.push(ResultRecord {
            scope: ResultScope::District(r.district.clone()),
            contest: r.contest.clone(),
            ballots: r.ballots,
            counts: c.clone(),
        });
        let ri = manifest.districts()[d].region;
        for slot in [&mut region[ri][ci], &mut total[ci]] {
            let (b, cs) = slot.get_or_insert_with(|| (0, vec![0; c.len()]));
            *b += r.ballots;
            for (a, x) in cs.iter_mut().zip(c) {
                *a += x;
            }
        }
    }
    for (ri, per_contest) in region.into_iter().enumerate() {
        for (ci, slot) in per_contest.into_iter().enumerate() {
            if let Some((ballots, counts)) = slot {
                out.push(ResultRecord {
                    scope: ResultScope::Region(manifest.regions()[ri].id.clone()),
                    contest: manifest.contests()[ci].id.clone(),
                    ballots,
                    counts,
                });
            }
        }
    }
    for (ci, slot) in total.into_iter().enumerate() {
        if let Some((ballots, counts)) = slot {
            out.push(ResultRecord {
                scope: ResultScope::Total,
                contest: manifest.contests()[ci].id.clone(),
                ballots,
                counts,
            });
        }
    }
    Ok(out)
}

/// Whether contest `ci` is on the ballot of district `d` (for callers
/// that need scope without styles).
pub fn contest_in_district(manifest: &Manifest, ci: usize, d: usize) -> bool {
    match &manifest.contests()[ci].scope {
        Scope::All => true,
        Scope::Regions(rs) => rs.contains(&manifest.districts()[d].region),
        Scope::Districts(ds) => ds.contains(&d),
    }
}
