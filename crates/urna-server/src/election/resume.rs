//! Resuming after a restart (spec/api.md §A6): the engine's state is
//! rebuilt by replaying the durable board through `urna_election`, in
//! board order, exactly as the entries were first produced. Every entry
//! the engine produces during the replay must equal the stored one byte
//! for byte (the manifest chunks, each ceremony message, the joint key,
//! the sealed lists and `voting_opened`, `voting_closed` with its counts,
//! the reconciliation, the encrypted tally, each trustee's partial
//! decryptions, the results), so a board that the engine would not have
//! written is refused, never patched. Ballots are re-verified in batches
//! (proofs and signatures) and re-checked in order (replays, audited
//! ballots, the re-vote policy as far as the board shows it, §R6.3).
//!
//! What is not on the board comes from the server journal
//! ([`super::journal`]): registrations not yet sealed, each credential's
//! precinct, and acceptance times.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use urna_board::{Entry, EntryKind};
use urna_crypto::encoding::Element;
use urna_election::record::commission::{
    ADMIN_PRECINCT_LIST, AnswerEntry, ComplaintEntry, PrecinctListEntry,
};
use urna_election::record::{
    CeremonyMessage, CredentialChunk, ManifestChunk, PartialChunk, ReconciliationChunk,
    ResultsChunk, TallyChunk, VotingClosed, VotingOpened,
};
use urna_election::{ElectionError, Timestamp, verify_admitted};
use urna_store::StoredEntry;

use super::journal::Record;
use super::phase::Phase;
use super::service::{Inner, Shared};
use super::snapshot::Checked;
use std::sync::atomic::Ordering;

/// Why the server refuses to start on this data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeError {
    /// The board index of the entry that does not replay, if one does not.
    pub index: Option<u64>,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl std::fmt::Display for ResumeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "board entry {i} does not replay: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ResumeError {}

fn at(index: u64, message: impl Into<String>) -> ResumeError {
    ResumeError {
        index: Some(index),
        message: message.into(),
    }
}

fn general(message: impl Into<String>) -> ResumeError {
    ResumeError {
        index: None,
        message: message.into(),
    }
}

/// What the replay found, for the start-up log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeReport {
    /// The phase the election is in.
    pub phase: &'static str,
    /// Board entries read.
    pub entries: u64,
    /// Ballots and audited ballots replayed.
    pub ballots: u64,
    /// Audited ballots among them.
    pub audited: u64,
    /// Registrations restored from the journal (not yet sealed).
    pub pending_registrations: u64,
    /// Ballots whose acceptance time was not in the journal (taken as now).
    pub untimed: u64,
    /// Entries of kinds the election engine does not read (kept as they are).
    pub other: u64,
    /// The last observer list on the board (spec/record.md §R16).
    pub observers: Option<urna_election::record::observers::ObserverList>,
    /// The board size of the snapshot resumed from, if one was used
    /// (spec/api.md §A6.3); only the entries after it were replayed.
    pub snapshot: Option<u64>,
}

/// Entries of one multi-entry object being collected.
struct Chunks {
    kind: EntryKind,
    first: u64,
    entries: Vec<StoredEntry>,
}

/// Ballots waiting to be verified as one batch.
const REPLAY_BATCH: usize = 1024;

struct Replayer<'a> {
    shared: &'a Shared,
    phase: Phase,
    chunks: Option<Chunks>,
    ballots: Vec<StoredEntry>,
    /// Credential → (district, precinct) from the journal.
    registered: HashMap<[u8; 32], (u32, u32)>,
    registration_order: Vec<[u8; 32]>,
    /// Credentials left out of the sealed lists at the open (journal).
    withdrawn: HashSet<[u8; 32]>,
    /// Credentials the registrar holds reserved for ballots of unknown
    /// outcome, and those of them found with a ballot on the board.
    unsettled: HashSet<[u8; 32]>,
    on_board: Vec<[u8; 32]>,
    precinct_of: HashMap<[u8; 32], usize>,
    /// `(first, count, time)`, sorted by `first`.
    times: Vec<(u64, u64, i64)>,
    now: Timestamp,
    report: ResumeReport,
}

fn same(index: u64, produced: &[Entry], stored: &[StoredEntry]) -> Result<(), ResumeError> {
    if produced.len() != stored.len() {
        return Err(at(
            index,
            format!(
                "the engine produces {} entries here, the board has {}",
                produced.len(),
                stored.len()
            ),
        ));
    }
    for (p, s) in produced.iter().zip(stored) {
        if p.bytes() != s.entry.bytes() {
            return Err(at(
                s.index,
                format!(
                    "the stored {} entry differs from the one the engine produces on replay",
                    s.entry.kind().name()
                ),
            ));
        }
    }
    Ok(())
}

fn engine(index: u64, e: impl Into<ElectionError>) -> ResumeError {
    let e = e.into();
    at(index, format!("{} ({})", e, e.code()))
}

impl Replayer<'_> {
    fn time_of(&mut self, index: u64) -> Timestamp {
        let k = self.times.partition_point(|t| t.0 <= index);
        if let Some(&(first, count, time)) = k.checked_sub(1).and_then(|k| self.times.get(k))
            && index < first.saturating_add(count)
        {
            return Timestamp::from_unix(time);
        }
        self.report.untimed += 1;
        self.now
    }

    fn wrong_place(&self, e: &StoredEntry) -> ResumeError {
        at(
            e.index,
            format!(
                "a {} entry cannot come while the election is in phase `{}` (spec/record.md §R1.4)",
                e.entry.kind().name(),
                self.phase.name()
            ),
        )
    }

    /// One board entry, in order.
    fn push(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        self.report.entries += 1;
        let kind = e.entry.kind();
        if kind != EntryKind::Ballot {
            self.flush_ballots()?;
        }
        // The sealed lists (every district's chunks) end at `voting_opened`.
        let lists_end = kind == EntryKind::VotingOpened;
        if let Some(c) = &self.chunks
            && c.kind != kind
            && !(c.kind == EntryKind::CredentialList && lists_end)
        {
            return Err(at(
                e.index,
                format!(
                    "the {} object starting at entry {} is incomplete: a {} entry follows (spec/record.md §R1.3)",
                    c.kind.name(),
                    c.first,
                    kind.name()
                ),
            ));
        }
        match kind {
            EntryKind::ElectionManifest => self.manifest(e),
            EntryKind::TrusteeCeremony => self.ceremony(e),
            EntryKind::CredentialList => {
                if !matches!(self.phase, Phase::Registration(_)) {
                    return Err(self.wrong_place(&e));
                }
                self.collect(e);
                Ok(())
            }
            EntryKind::VotingOpened => self.opened(e),
            EntryKind::Ballot => {
                if !matches!(self.phase, Phase::Voting(_)) {
                    return Err(self.wrong_place(&e));
                }
                self.ballots.push(e);
                if self.ballots.len() >= REPLAY_BATCH {
                    self.flush_ballots()?;
                }
                Ok(())
            }
            EntryKind::AuditedBallot => self.audited(e),
            EntryKind::VotingClosed => self.closed(e),
            EntryKind::Reconciliation => self.reconciliation(e),
            // spec/record.md §R16: anywhere on the board, strictly read.
            EntryKind::AdminAction
                if e.entry.payload().get(1)
                    == Some(&urna_election::record::observers::ADMIN_OBSERVERS) =>
            {
                let list =
                    urna_election::record::observers::ObserverList::decode(e.entry.payload())
                        .map_err(|x| engine(e.index, x))?;
                self.report.observers = Some(list);
                self.shared.set_observers_at(Some(e.index));
                self.report.other += 1;
                Ok(())
            }
            EntryKind::AdminAction if e.entry.payload().get(1) == Some(&ADMIN_PRECINCT_LIST) => {
                self.notice(&e)
            }
            EntryKind::AdminAction => self.tally(e),
            EntryKind::Complaint | EntryKind::ComplaintAnswer => self.notice(&e),
            EntryKind::PartialDecryption => self.partials(e),
            EntryKind::Results => self.results(e),
            _ => {
                // Complaints, cosigned checkpoints and the like are not
                // election state: they stay on the board as they are.
                self.report.other += 1;
                Ok(())
            }
        }
    }

    /// A complaint, an answer or a precinct list hash (spec/record.md
    /// §R13–§R15): not election state, but well formed and after the manifest.
    fn notice(&mut self, e: &StoredEntry) -> Result<(), ResumeError> {
        if matches!(self.phase, Phase::Empty) {
            return Err(self.wrong_place(e));
        }
        let p = e.entry.payload();
        let r = match e.entry.kind() {
            EntryKind::Complaint => ComplaintEntry::decode(p).map(|_| ()),
            EntryKind::ComplaintAnswer => AnswerEntry::decode(p).map(|_| ()),
            _ => PrecinctListEntry::decode(p).map(|_| ()),
        };
        r.map_err(|x| engine(e.index, x))?;
        self.report.other += 1;
        Ok(())
    }

    fn collect(&mut self, e: StoredEntry) {
        match &mut self.chunks {
            Some(c) => c.entries.push(e),
            None => {
                self.chunks = Some(Chunks {
                    kind: e.entry.kind(),
                    first: e.index,
                    entries: vec![e],
                })
            }
        }
    }

    /// Collects a chunk; returns the whole object once its last chunk is in.
    fn chunk(&mut self, e: StoredEntry, last: bool) -> Option<Chunks> {
        self.collect(e);
        if last { self.chunks.take() } else { None }
    }

    fn manifest(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        if !matches!(self.phase, Phase::Empty) {
            return Err(self.wrong_place(&e));
        }
        let c = ManifestChunk::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let last = c.index + 1 == c.count;
        let Some(obj) = self.chunk(e, last) else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        for s in &obj.entries {
            let c = ManifestChunk::decode(s.entry.payload()).map_err(|x| engine(s.index, x))?;
            bytes.extend_from_slice(&c.bytes);
        }
        let (phase, out) = std::mem::take(&mut self.phase).publish(&bytes);
        self.phase = phase;
        let out = out.map_err(|x| {
            at(
                obj.first,
                format!("the manifest: {} ({})", x.message(), x.code()),
            )
        })?;
        same(obj.first, &out, &obj.entries)?;
        if let Phase::KeyCeremony(el) = &self.phase {
            let _ = self.shared.manifest.set(Arc::new(el.manifest().clone()));
        }
        Ok(())
    }

    fn ceremony(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        let Phase::KeyCeremony(el) = &mut self.phase else {
            return Err(self.wrong_place(&e));
        };
        let msg = CeremonyMessage::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        if let CeremonyMessage::JointKey(_) = msg {
            let (phase, out) = std::mem::take(&mut self.phase).finish_ceremony(&mut rand::rng());
            self.phase = phase;
            let out = out.map_err(|x| {
                at(
                    e.index,
                    format!("the joint key: {} ({})", x.message(), x.code()),
                )
            })?;
            same(e.index, &out, std::slice::from_ref(&e))?;
            if let Phase::Registration(el) = &self.phase {
                let _ = self.shared.keys.set(el.keys().clone());
            }
            self.shared
                .log_ceremony(e.index, e.entry.payload().to_vec());
            return Ok(());
        }
        let out = el
            .accept(e.entry.payload())
            .map_err(|x| engine(e.index, x))?;
        same(e.index, &[out], std::slice::from_ref(&e))?;
        self.shared
            .log_ceremony(e.index, e.entry.payload().to_vec());
        Ok(())
    }

    fn opened(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        let Phase::Registration(el) = &mut self.phase else {
            return Err(self.wrong_place(&e));
        };
        let lists = self.chunks.take().map(|c| c.entries).unwrap_or_default();
        let Some(m) = self.shared.manifest.get().cloned() else {
            return Err(at(e.index, "voting opened before the manifest"));
        };
        let precincts = m.precincts().len();
        let mut sealed = Vec::new();
        for s in &lists {
            let c = CredentialChunk::decode(s.entry.payload()).map_err(|x| engine(s.index, x))?;
            for cred in c.credentials {
                el.restore(&c.district, cred)
                    .map_err(|x| engine(s.index, x))?;
                sealed.push((s.index, *cred.as_bytes(), c.district.clone()));
            }
        }
        let opened = VotingOpened::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let (phase, out) = std::mem::take(&mut self.phase).open(opened.time, &[]);
        self.phase = phase;
        let out =
            out.map_err(|x| at(e.index, format!("opening: {} ({})", x.message(), x.code())))?;
        let mut stored = lists;
        stored.push(e);
        same(stored[0].index, &out, &stored)?;
        // Every sealed credential was registered through this server: its
        // precinct is in the journal, and every journalled registration
        // must be sealed (an acknowledged registration is never lost).
        let mut book = self.shared.book();
        for (index, cred, district) in sealed {
            let Some(&(d, p)) = self.registered.get(&cred) else {
                if self.shared.config.partial_journal {
                    continue; // registered through another server (cluster)
                }
                return Err(at(
                    index,
                    format!(
                        "credential {} of the sealed list of district `{district}` is not in the server journal, so its precinct is unknown",
                        hex::encode(cred)
                    ),
                ));
            };
            let district_ok = m
                .districts()
                .get(d as usize)
                .is_some_and(|x| x.id == district);
            let p = p as usize;
            if !district_ok || p >= precincts || m.precincts()[p].district != d as usize {
                return Err(at(
                    index,
                    format!(
                        "credential {} is sealed in district `{district}` but journalled in another district or precinct",
                        hex::encode(cred)
                    ),
                ));
            }
            self.registered.remove(&cred);
            self.precinct_of.insert(cred, p);
            book.registered(precincts, p);
        }
        drop(book);
        self.unsealed()
    }

    /// The journalled registrations the sealed lists do not hold: each must
    /// have been left out because its application no longer stood at the
    /// open (spec/record.md §R4): journalled as such, or, failing that, not
    /// standing by the registrar's word now. Anything else was lost.
    fn unsealed(&mut self) -> Result<(), ResumeError> {
        let withdrawn = std::mem::take(&mut self.withdrawn);
        self.registered.retain(|c, _| !withdrawn.contains(c));
        if self.registered.is_empty() {
            return Ok(());
        }
        let rest: Vec<[u8; 32]> = self.registered.keys().copied().collect();
        let stands = self
            .shared
            .config
            .registrar
            .standing(&rest)
            .map_err(|e| {
                general(format!(
                    "{} journalled registration(s) are not on the sealed lists and the registrar cannot say whether they stand: {} ({})",
                    rest.len(),
                    e.message(),
                    e.code()
                ))
            })?;
        for (k, cred) in rest.iter().enumerate() {
            if stands.get(k).copied().unwrap_or(true) {
                return Err(general(format!(
                    "credential {} was registered (acknowledged) but is not on the sealed lists of the board",
                    hex::encode(cred)
                )));
            }
            tracing::warn!(
                credential = %hex::encode(cred),
                "a registration missing from the sealed lists is not journalled as withdrawn, but its application does not stand"
            );
        }
        self.registered.clear();
        Ok(())
    }

    fn flush_ballots(&mut self) -> Result<(), ResumeError> {
        if self.ballots.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.ballots);
        let Phase::Voting(el) = &mut self.phase else {
            return Err(self.wrong_place(&batch[0]));
        };
        // Decoding is half the cost of a ballot: spread it over the cores
        // (the proofs are batched over them by `verify_admitted`).
        let el: &urna_election::Election<urna_election::Voting> = el;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let per = batch.len().div_ceil(threads).max(1);
        let decoded: Vec<Result<urna_election::Admitted, ResumeError>> = std::thread::scope(|sc| {
            let parts: Vec<_> = batch
                .chunks(per)
                .map(|part| {
                    sc.spawn(move || {
                        part.iter()
                            .map(|s| {
                                el.readmit(s.entry.payload().to_vec())
                                    .map_err(|x| engine(s.index, x))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(general(
                            "a replay thread failed while decoding ballots",
                        ))]
                    })
                })
                .collect()
        });
        if decoded.len() != batch.len() {
            return Err(general("a replay thread failed while decoding ballots"));
        }
        let mut admitted = Vec::with_capacity(batch.len());
        let mut creds = Vec::with_capacity(batch.len());
        for a in decoded {
            let a = a?;
            creds.push(*a.credential().as_bytes());
            admitted.push(a);
        }
        let verdicts = verify_admitted(admitted, &mut rand::rng());
        let precincts = el.manifest().precincts().len();
        for ((s, v), cred) in batch.iter().zip(verdicts).zip(creds) {
            let v = v.map_err(|x| engine(s.index, x))?;
            let when = self.time_of(s.index);
            let Phase::Voting(el) = &mut self.phase else {
                return Err(self.wrong_place(s));
            };
            let cast = el
                .record_replayed(v, when)
                .map_err(|x| engine(s.index, x))?;
            self.shared.remember(cast.tracking, s.index);
            if self.unsettled.remove(&cred) {
                self.on_board.push(cred);
            }
            let p = self.precinct_of.get(&cred).copied();
            self.shared
                .book()
                .ballot(precincts, p, cast.superseded.is_none(), when);
            self.report.ballots += 1;
        }
        Ok(())
    }

    fn audited(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        let Phase::Voting(el) = &mut self.phase else {
            return Err(self.wrong_place(&e));
        };
        let cast = el
            .replay_audit(e.entry.payload(), &mut rand::rng())
            .map_err(|x| engine(e.index, x))?;
        same(e.index, &[cast.entry], std::slice::from_ref(&e))?;
        self.shared.remember(cast.tracking, e.index);
        self.shared.book().audit();
        self.report.ballots += 1;
        self.report.audited += 1;
        Ok(())
    }

    fn closed(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        if !matches!(self.phase, Phase::Voting(_)) {
            return Err(self.wrong_place(&e));
        }
        let c = VotingClosed::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let (phase, out) = std::mem::take(&mut self.phase).close(c.time);
        self.phase = phase;
        let out =
            out.map_err(|x| at(e.index, format!("closing: {} ({})", x.message(), x.code())))?;
        same(e.index, &out, std::slice::from_ref(&e))
    }

    fn reconciliation(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        if !matches!(self.phase, Phase::Closed(_)) {
            return Err(self.wrong_place(&e));
        }
        let c = ReconciliationChunk::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let Some(obj) = self.chunk(e, c.pos.index + 1 == c.pos.count) else {
            return Ok(());
        };
        let mut list: Vec<(Element, _)> = Vec::new();
        for s in &obj.entries {
            let c =
                ReconciliationChunk::decode(s.entry.payload()).map_err(|x| engine(s.index, x))?;
            list.extend(c.annulled);
        }
        let Phase::Closed(el) = &mut self.phase else {
            return Err(at(obj.first, "reconciliation outside the closed phase"));
        };
        let out = el.reconcile(list).map_err(|x| engine(obj.first, x))?;
        same(obj.first, &out, &obj.entries)
    }

    fn tally(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        if !matches!(self.phase, Phase::Closed(_)) {
            return Err(self.wrong_place(&e));
        }
        let c = TallyChunk::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let Some(obj) = self.chunk(e, c.pos.index + 1 == c.pos.count) else {
            return Ok(());
        };
        let (phase, out) = std::mem::take(&mut self.phase).tally();
        self.phase = phase;
        let out = out.map_err(|x| {
            at(
                obj.first,
                format!("the tally: {} ({})", x.message(), x.code()),
            )
        })?;
        same(obj.first, &out, &obj.entries)
    }

    fn partials(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        if !matches!(self.phase, Phase::Tallied(_)) {
            return Err(self.wrong_place(&e));
        }
        let c = PartialChunk::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let Some(obj) = self.chunk(e, c.pos.index + 1 == c.pos.count) else {
            return Ok(());
        };
        let Phase::Tallied(el) = &mut self.phase else {
            return Err(at(
                obj.first,
                "partial decryptions outside the tallied phase",
            ));
        };
        let refs: Vec<&[u8]> = obj.entries.iter().map(|s| s.entry.payload()).collect();
        let out = el
            .accept_partial_payloads(&refs, &mut rand::rng())
            .map_err(|x| engine(obj.first, x))?;
        same(obj.first, &out, &obj.entries)
    }

    fn results(&mut self, e: StoredEntry) -> Result<(), ResumeError> {
        if !matches!(self.phase, Phase::Tallied(_)) {
            return Err(self.wrong_place(&e));
        }
        let c = ResultsChunk::decode(e.entry.payload()).map_err(|x| engine(e.index, x))?;
        let Some(obj) = self.chunk(e, c.pos.index + 1 == c.pos.count) else {
            return Ok(());
        };
        let (phase, out) = std::mem::take(&mut self.phase).decrypt();
        self.phase = phase;
        let out = out.map_err(|x| {
            at(
                obj.first,
                format!("the results: {} ({})", x.message(), x.code()),
            )
        })?;
        same(obj.first, &out, &obj.entries)
    }

    /// After the last entry: the registrations not yet sealed.
    fn finish(mut self) -> Result<(Inner, ResumeReport), ResumeError> {
        self.flush_ballots()?;
        if let Some(c) = &self.chunks {
            return Err(at(
                c.first,
                format!(
                    "the board ends inside a {} object of {} entries (a crash while it was appended?)",
                    c.kind.name(),
                    c.entries.len()
                ),
            ));
        }
        let pending = std::mem::take(&mut self.registration_order);
        match &mut self.phase {
            Phase::Registration(el) => {
                let Some(m) = self.shared.manifest.get().cloned() else {
                    return Err(general("registration phase without a manifest"));
                };
                let mut book = self.shared.book();
                for cred in pending {
                    let Some(&(d, p)) = self.registered.get(&cred) else {
                        continue;
                    };
                    let (Some(district), Some(precinct)) =
                        (m.districts().get(d as usize), m.precincts().get(p as usize))
                    else {
                        return Err(general(format!(
                            "the journal registers credential {} in district {d}, precinct {p}, which the manifest does not have",
                            hex::encode(cred)
                        )));
                    };
                    if precinct.district != d as usize {
                        return Err(general(format!(
                            "the journal registers credential {} in a precinct outside its district",
                            hex::encode(cred)
                        )));
                    }
                    let element = Element::decode(&cred).map_err(|x| {
                        general(format!("journalled credential {}: {x}", hex::encode(cred)))
                    })?;
                    el.restore(&district.id, element).map_err(|x| {
                        general(format!(
                            "journalled credential {}: {x} ({})",
                            hex::encode(cred),
                            x.code()
                        ))
                    })?;
                    self.precinct_of.insert(cred, p as usize);
                    book.registered(m.precincts().len(), p as usize);
                    self.report.pending_registrations += 1;
                }
            }
            Phase::Empty | Phase::KeyCeremony(_) if !self.registered.is_empty() => {
                return Err(general(format!(
                    "the journal holds {} registration(s) but the board has no joint key yet: the journal belongs to another board",
                    self.registered.len()
                )));
            }
            _ => {}
        }
        // The board now says how each reserved ballot ended (spec/registration.md §G4).
        let not_on_board: Vec<[u8; 32]> = self.unsettled.drain().collect();
        if !self.on_board.is_empty() || !not_on_board.is_empty() {
            self.shared
                .config
                .registrar
                .settle(&self.on_board, &not_on_board)
                .map_err(|e| {
                    general(format!(
                        "settling the registry's reservations of ballots being cast: {} ({})",
                        e.message(),
                        e.code()
                    ))
                })?;
            tracing::info!(
                on_board = self.on_board.len(),
                not_on_board = not_on_board.len(),
                "settled the reservations of ballots being cast when the server stopped"
            );
        }
        self.report.phase = self.phase.name();
        Ok((
            Inner {
                phase: self.phase,
                precinct_of: self.precinct_of,
            },
            self.report,
        ))
    }
}

/// What the journal says, read once and handed to each replay attempt.
#[derive(Clone, Default)]
struct Journalled {
    registered: HashMap<[u8; 32], (u32, u32)>,
    registration_order: Vec<[u8; 32]>,
    withdrawn: HashSet<[u8; 32]>,
    times: Vec<(u64, u64, i64)>,
}

fn read_journal(records: Vec<Record>) -> Result<Journalled, ResumeError> {
    let mut j = Journalled::default();
    for r in records {
        match r {
            Record::Registration {
                credential,
                district,
                precinct,
            } => {
                if j.registered
                    .insert(credential, (district, precinct))
                    .is_some()
                {
                    return Err(general(format!(
                        "the journal registers credential {} twice",
                        hex::encode(credential)
                    )));
                }
                j.registration_order.push(credential);
            }
            Record::Times { first, count, time } => j.times.push((first, count, time)),
            Record::Withdrawn { credential } => {
                j.withdrawn.insert(credential);
            }
        }
    }
    j.times.sort_unstable();
    Ok(j)
}

impl<'a> Replayer<'a> {
    fn new(shared: &'a Shared, j: Journalled, unsettled: HashSet<[u8; 32]>) -> Self {
        Replayer {
            shared,
            phase: Phase::Empty,
            chunks: None,
            ballots: Vec::new(),
            registered: j.registered,
            registration_order: j.registration_order,
            withdrawn: j.withdrawn,
            unsettled,
            on_board: Vec::new(),
            precinct_of: HashMap::new(),
            times: j.times,
            now: shared.now(),
            report: ResumeReport::default(),
        }
    }

    /// Replays entries `start..end` in order; with `stop_at_lists`, stops
    /// before the first sealed list or `voting_opened`. Returns where it
    /// stopped.
    fn feed(&mut self, mut start: u64, end: u64, stop_at_lists: bool) -> Result<u64, ResumeError> {
        while start < end {
            // Pages of at most the store's page size.
            let page = self
                .shared
                .store
                .entries(start, end.min(start.saturating_add(1000)))
                .map_err(|e| general(format!("reading the board at entry {start}: {e}")))?;
            if page.is_empty() {
                return Err(general(format!(
                    "the board reports {end} entries but returns none from {start}"
                )));
            }
            for e in page {
                let kind = e.entry.kind();
                if stop_at_lists
                    && matches!(kind, EntryKind::CredentialList | EntryKind::VotingOpened)
                {
                    return Ok(e.index);
                }
                start = e.index + 1;
                self.push(e)?;
            }
        }
        Ok(start)
    }

    /// Resumes from a checked snapshot (spec/api.md §A6.3): the entries up
    /// to the sealed lists are replayed (manifest, ceremony: the engine's
    /// keys), the voting state is taken from the snapshot, then the tail
    /// from the snapshot's size on is replayed.
    fn resume_snapshot(&mut self, snap: Checked) -> Result<(), ResumeError> {
        let lists = self.feed(0, snap.size, true)?;
        if lists >= snap.size {
            return Err(general(
                "the snapshot describes a board without sealed lists",
            ));
        }
        let Phase::Registration(el) = std::mem::take(&mut self.phase) else {
            return Err(general(
                "the entries before the sealed lists do not end in the registration phase",
            ));
        };
        let voting = el
            .resume_voting(&snap.engine)
            .map_err(|e| general(e.to_string()))?;
        // Reservations of ballots being cast: those already on the board
        // before the snapshot are settled here, the tail's as it replays.
        let unsettled: Vec<[u8; 32]> = self.unsettled.iter().copied().collect();
        for c in unsettled {
            if voting.has_voted(&c) {
                self.unsettled.remove(&c);
                self.on_board.push(c);
            }
        }
        self.phase = Phase::Voting(Box::new(voting));
        let part = snap.server;
        self.precinct_of = part.precinct_of;
        self.shared.set_receipts(part.receipts);
        *self.shared.book() = part.book;
        if let Some(i) = part.observers {
            let e = self
                .shared
                .store
                .entry(i)
                .map_err(|e| general(format!("reading the observer list at {i}: {e}")))?;
            let list = urna_election::record::observers::ObserverList::decode(e.entry.payload())
                .map_err(|x| engine(i, x))?;
            self.report.observers = Some(list);
            self.shared.set_observers_at(Some(i));
        }
        // The open checked the journal's registrations against the sealed
        // lists when it happened; the snapshot holds the precincts.
        self.registered.clear();
        self.registration_order.clear();
        self.withdrawn.clear();
        self.report.snapshot = Some(snap.size);
        let size = self.shared.store.size();
        self.feed(snap.size, size, false)?;
        Ok(())
    }
}

/// Applies the entries `from..` the store's size to the engine in `inner`
/// (a follower's [`ElectionService::catch_up`](super::ElectionService::catch_up)).
/// An object whose chunks are not all on the board yet is left for the
/// next call. Returns the board size now applied.
pub(crate) fn catch_up(shared: &Shared, inner: &mut Inner, from: u64) -> Result<u64, ResumeError> {
    let size = shared.store.size();
    if size <= from {
        return Ok(from);
    }
    let mut r = Replayer::new(shared, Journalled::default(), HashSet::new());
    r.phase = std::mem::take(&mut inner.phase);
    r.precinct_of = std::mem::take(&mut inner.precinct_of);
    let fed = r.feed(from, size, false).and_then(|end| {
        r.flush_ballots()?;
        Ok(end)
    });
    inner.phase = std::mem::take(&mut r.phase);
    inner.precinct_of = std::mem::take(&mut r.precinct_of);
    let end = fed?;
    // An object still being appended is read again next time.
    Ok(r.chunks.as_ref().map_or(end, |c| c.first))
}

/// The latest stored snapshot, if it checks out against the board; a
/// snapshot that does not is logged and ignored (spec/api.md §A6.3).
fn usable_snapshot(shared: &Shared) -> Option<Checked> {
    let snap = match shared.store.latest_snapshot() {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the latest election snapshot; replaying the whole board");
            return None;
        }
    };
    match super::snapshot::check(&snap, &shared.store) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(size = snap.size, reason = %e, "ignoring the election snapshot; replaying the whole board");
            None
        }
    }
}

/// Continues the election on the stored board with the journal's
/// records: from the latest usable snapshot and the board's tail, or, if
/// there is none or it does not replay, from the whole board.
pub(crate) fn replay(
    shared: &Shared,
    records: Vec<Record>,
) -> Result<(Inner, ResumeReport), ResumeError> {
    let journal = read_journal(records)?;
    let unsettled: HashSet<[u8; 32]> = shared
        .config
        .registrar
        .unsettled()
        .map_err(|e| {
            general(format!(
                "reading the registry's reservations of ballots being cast: {} ({})",
                e.message(),
                e.code()
            ))
        })?
        .into_iter()
        .collect();
    let snap = if shared.config.resume_from_snapshot {
        usable_snapshot(shared)
    } else {
        None
    };
    if let Some(snap) = snap {
        let size = snap.size;
        let mut r = Replayer::new(shared, journal.clone(), unsettled.clone());
        match r.resume_snapshot(snap).and_then(|()| r.finish()) {
            Ok(done) => {
                shared.snapshot_size.store(size, Ordering::SeqCst);
                return Ok(done);
            }
            Err(e) => {
                tracing::warn!(size, error = %e, "the election snapshot does not resume; replaying the whole board");
                shared.reset_replayed();
            }
        }
    }
    let mut r = Replayer::new(shared, journal, unsettled);
    r.feed(0, shared.store.size(), false)?;
    r.finish()
}
