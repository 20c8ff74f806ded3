//! The streaming verifier: one pass over `entries.bin`, ballots verified
//! in batches, only per-credential positions and running sums kept.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};

use curve25519_dalek::RistrettoPoint;
use curve25519_dalek::traits::Identity;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use urna_board::{
    Checkpoint, Entry, EntryKind, Frontier, Hash, SignedNote, VerifierKey, empty_root,
    verify_checkpoint,
};
use urna_crypto::ballot::{Ballot, BallotSecrets, ContestShape};
use urna_crypto::batch::{verify_batch, verify_one};
use urna_crypto::dkg::{CeremonyParams, CeremonyRecord, Complaint, Round1Message, Round2Message};
use urna_crypto::elgamal::{Ciphertext, PublicKey, SecretScalar};
use urna_crypto::encoding::{Element, Reader};
use urna_crypto::threshold::{PartialDecryption, combine_batch_elements, verify_partials};
use urna_crypto::{Fingerprint, PeerError, Scalar, group};

use crate::manifest::{Manifest, Revote};
use crate::notices::Notices;
use crate::record::{BOARD_KEY_FILE, CHECKPOINT_FILE, CHECKPOINTS_DIR, ENTRIES_FILE, RandomAccess};
use crate::report::{Checks, Report, Summary};
use crate::stream::{Block, read_blocks};

// One module per section of spec/record.md (and spec/export.md for the
// folder and checkpoints); each holds the checks of its section.
mod audited;
mod ballots;
mod ceremony;
mod checkpoints;
mod cosigners;
mod cred_table;
mod credentials;
mod manifest_entries;
mod markers;
mod partials;
mod read;
mod reconciliation;
mod results;
mod tally;

use ballots::{Batch, Ctx, Done, Pre};
use cred_table::{Cred, CredTable};
use read::*;
use results::ResultRec;
use tally::TallyRec;

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of `entries.bin` read.
    pub bytes: u64,
    /// Size of `entries.bin`.
    pub total_bytes: u64,
    /// Entries read.
    pub entries: u64,
}

/// Options of [`verify`].
pub struct Options<'a> {
    /// Ballots per batch verification (bounded memory: a few thousand).
    pub batch_size: usize,
    /// Called every few thousand entries and at the end.
    pub progress: Option<&'a mut dyn FnMut(Progress)>,
    /// Called with each failure as soon as it is found.
    pub on_failure: Option<crate::report::FailureHook>,
    /// Observers the user trusts (`urna verify --observer KEY`,
    /// spec/export.md §X3.1): the final checkpoint must carry a valid
    /// cosignature by each.
    pub observers: Vec<VerifierKey>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            batch_size: 4096,
            progress: None,
            on_failure: None,
            observers: Vec::new(),
        }
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("batch_size", &self.batch_size)
            .field("progress", &self.progress.is_some())
            .field("observers", &self.observers.len())
            .finish()
    }
}

/// Verifies the exported election record in folder `path` (spec/export.md).
pub fn verify(path: &Path, options: Options<'_>) -> Report {
    let mut v = Verifier::new();
    let unusable = match v.open_folder(path) {
        Ok(source) => v.run(source, options).err(),
        Err(e) => Some(e),
    };
    v.report(path.display().to_string(), unusable)
}

/// Verifies a record read from anywhere: a folder, a server's API, a live
/// mirror (spec/export.md §X1–§X4 apply to what the source yields).
pub fn verify_source(source: Source, options: Options<'_>) -> Report {
    let mut v = Verifier::new();
    let name = source.name.clone();
    let unusable = v.run(source, options).err();
    v.report(name, unusable)
}

/// An earlier checkpoint handed out by the board (spec/export.md §X3).
#[derive(Debug)]
pub struct EarlierCheckpoint {
    /// How to name it in messages (a file name, a URL).
    pub label: String,
    /// The tree size it was handed out for (`None`: not known, a failure).
    pub size: Option<u64>,
    /// Its signed note, or why it could not be read.
    pub bytes: Result<Vec<u8>, String>,
}

/// The parts of an election record, wherever they come from.
pub struct Source {
    /// What to call the record in the report (a path or a URL).
    pub name: String,
    /// The board's verifier key, `name+keyid+base64` (board.md §B7.2).
    pub board_key: String,
    /// Earlier checkpoints.
    pub checkpoints: Vec<EarlierCheckpoint>,
    /// The bytes of `entries.bin` (spec/export.md §X2), streamed once.
    pub entries: Box<dyn std::io::Read + Send>,
    /// Length of `entries`, when known (for progress).
    pub total_bytes: Option<u64>,
    /// A file holding the same bytes, to re-read a superseded ballot by
    /// its offset (the record's `entries.bin`, or a mirror being written).
    pub reread: std::path::PathBuf,
    /// The final checkpoint, asked for after the last entry was read (a
    /// live mirror knows it only then).
    pub final_checkpoint: Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("checkpoints", &self.checkpoints.len())
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

// ---- state -----------------------------------------------------------------

struct Verifier {
    checks: Checks,
    /// Complaints, answers, precinct list hashes (§R13–§R15).
    notices: Notices,
    summary: Summary,
    frontier: Frontier,
    /// Earlier checkpoints: size → (root, file name).
    older: BTreeMap<u64, (Hash, String)>,
    phase: u8,

    manifest_bytes: Vec<u8>,
    manifest_seq: (u16, u16),
    manifest_hash: [u8; 32],
    manifest: Option<Manifest>,
    manifest_done: bool,
    election_hash: [u8; 32],

    ceremony: CeremonyRecord,
    joint_key: Option<Element>,
    observers: crate::observers::Observers,
    fp: Option<Fingerprint>,
    vks: BTreeMap<u16, Element>,

    cred_seq: Seq,
    cred_district: Option<usize>,
    cred_last: Option<[u8; 32]>,
    lists_done: Vec<bool>,
    /// Sealed credentials and their state, on disk (bounded memory).
    creds: CredTable,

    opened: bool,
    closed: bool,
    /// Tracking codes of the ballots of credentials with more than one
    /// ballot in the window (the first one's is re-read by its offset).
    more_codes: HashMap<[u8; 32], Vec<[u8; 32]>>,
    /// Tracking codes of ballots whose credential is not sealed.
    other_codes: HashSet<[u8; 32]>,
    audited_codes: HashSet<[u8; 32]>,
    ballot_entries: u64,
    audited_entries: u64,
    /// Ballots that passed the sequential checks, collected for the next
    /// batch of decoding and proof verification.
    batch: Batch,
    batch_size: usize,
    /// Batches being decoded and verified on the thread pool, oldest
    /// first; their outcomes are applied in board order.
    inflight: VecDeque<Receiver<Done>>,
    /// What ballot jobs need, made once the manifest and key are known.
    ctx: Option<Arc<Ctx>>,
    /// Per district, the only header bytes a ballot of it may carry.
    expected_headers: Vec<Vec<u8>>,
    /// sums[district][flat option]: the options of the district's style,
    /// contest after contest.
    sums: Vec<Vec<(RistrettoPoint, RistrettoPoint)>>,
    counted: Vec<u64>,
    random: Option<RandomAccess>,

    recon_seq: Seq,
    recon_last: Option<[u8; 32]>,

    tally_seq: Seq,
    expected_tally: Option<Vec<TallyRec>>,
    published_tally: Vec<TallyRec>,

    partials: BTreeMap<u16, (Seq, Vec<PartialDecryption>)>,
    partials_done: bool,
    combined: Option<Vec<Element>>,

    results_seq: Seq,
    results: Vec<(u64, ResultRec)>,

    /// The board key, for `cosigned_checkpoint` entries (board.md §B5.3).
    board_key: Option<VerifierKey>,
    /// `cosigned_checkpoint` entries: (entry index, size, root), checked
    /// against the tree of their size at the end (spec/export.md §X3).
    cosigned: Vec<(u64, u64, Hash)>,
    /// The entries file, to re-read for those checks.
    reread: Option<std::path::PathBuf>,
    /// Observers trusted by the user (spec/export.md §X3.1).
    trusted: Vec<VerifierKey>,
}

fn kind_phase(k: EntryKind) -> Option<u8> {
    Some(match k {
        EntryKind::ElectionManifest => 1,
        EntryKind::TrusteeCeremony => 2,
        EntryKind::CredentialList => 3,
        EntryKind::VotingOpened => 4,
        EntryKind::Ballot | EntryKind::AuditedBallot => 5,
        EntryKind::VotingClosed => 6,
        EntryKind::Reconciliation => 7,
        EntryKind::AdminAction => 8,
        EntryKind::PartialDecryption => 9,
        EntryKind::Results => 10,
        _ => return None,
    })
}

impl Verifier {
    fn new() -> Self {
        Verifier {
            checks: Checks::new(),
            notices: Notices::default(),
            summary: Summary::default(),
            frontier: Frontier::new(),
            older: BTreeMap::new(),
            phase: 0,
            manifest_bytes: Vec::new(),
            manifest_seq: (0, 0),
            manifest_hash: [0; 32],
            manifest: None,
            manifest_done: false,
            election_hash: [0; 32],
            ceremony: CeremonyRecord {
                params: CeremonyParams { n: 1, t: 1 },
                manifest_hash: [0; 32],
                round1: Vec::new(),
                round2: Vec::new(),
                complaints: Vec::new(),
            },
            joint_key: None,
            observers: crate::observers::Observers::default(),
            fp: None,
            vks: BTreeMap::new(),
            cred_seq: Seq::default(),
            cred_district: None,
            cred_last: None,
            lists_done: Vec::new(),
            creds: CredTable::default(),
            opened: false,
            closed: false,
            more_codes: HashMap::new(),
            other_codes: HashSet::new(),
            audited_codes: HashSet::new(),
            ballot_entries: 0,
            audited_entries: 0,
            batch: Batch::default(),
            batch_size: 4096,
            inflight: VecDeque::new(),
            ctx: None,
            expected_headers: Vec::new(),
            sums: Vec::new(),
            counted: Vec::new(),
            random: None,
            recon_seq: Seq::default(),
            recon_last: None,
            tally_seq: Seq::default(),
            expected_tally: None,
            published_tally: Vec::new(),
            partials: BTreeMap::new(),
            partials_done: false,
            combined: None,
            results_seq: Seq::default(),
            results: Vec::new(),
            board_key: None,
            cosigned: Vec::new(),
            reread: None,
            trusted: Vec::new(),
        }
    }

    fn run(&mut self, source: Source, mut options: Options<'_>) -> Result<(), String> {
        self.batch_size = options.batch_size.max(1);
        self.checks.hook = options.on_failure.take();
        self.trusted = std::mem::take(&mut options.observers);
        // spec/export.md §X1: one line, at most one final `\n` (no `\r`).
        let line = source
            .board_key
            .strip_suffix('\n')
            .unwrap_or(&source.board_key);
        let key = VerifierKey::parse(line)
            .map_err(|e| self.unusable(format!("{BOARD_KEY_FILE}: {e}")))?;
        self.board_key = Some(key.clone());
        self.reread = Some(source.reread.clone());
        self.checks.checked("record.files", 1);
        self.earlier_checkpoints(source.checkpoints, &key);

        // The entries, framed and hashed on a thread of their own.
        self.random = Some(
            RandomAccess::open(&source.reread)
                .map_err(|e| self.unusable(format!("{ENTRIES_FILE}: {e}")))?,
        );
        let total_bytes = source.total_bytes.unwrap_or(0);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Block>(4);
        let entries = source.entries;
        let reader = std::thread::Builder::new()
            .name("urna-verify-reader".into())
            .spawn(move || read_blocks(entries, tx))
            .map_err(|e| self.unusable(format!("starting the reader thread: {e}")))?;
        let mut position = 0;
        let mut fault = None;
        for block in rx {
            self.checks
                .checked("entries.envelope", block.spans.len() as u64);
            for (i, &(start, len, offset)) in block.spans.iter().enumerate() {
                let index = block.first_index + i as u64;
                if let Err(e) = self.frontier.push(block.leaves[i]) {
                    fault = Some(self.unusable(e.to_string()));
                    break;
                }
                let size = self.frontier.size();
                if let Some((root, file)) = self.older.get(&size) {
                    if *root != self.frontier.root() {
                        let msg = format!(
                            "{file}: root differs from the tree of the first {size} entries (history rewritten)"
                        );
                        self.checks.fail("checkpoint.consistency", None, msg);
                    }
                    self.older.remove(&size);
                }
                match Entry::parse_ref(&block.buf[start..start + len]) {
                    Ok((kind, payload)) => {
                        self.entry(index, offset, kind, payload, &block.codes[i])
                    }
                    Err(e) => self
                        .checks
                        .fail("entries.envelope", Some(index), e.to_string()),
                }
            }
            position = block.end;
            if block.short {
                // A live source paused: verify what arrived rather than
                // waiting for a full batch.
                self.submit();
            }
            if let Some(p) = options.progress.as_mut() {
                p(Progress {
                    bytes: position,
                    total_bytes,
                    entries: self.frontier.size(),
                });
            }
            if let Some(e) = block.error {
                self.checks.fail("record.files", None, e.to_string());
                fault = Some(e.to_string());
            }
            if fault.is_some() {
                break;
            }
        }
        // The reader ends by itself once the channel is dropped.
        let _ = reader.join();
        self.flush_ballots();
        if let Some(e) = fault {
            return Err(e);
        }
        self.summary.entries = self.frontier.size();
        if let Some(p) = options.progress.as_mut() {
            p(Progress {
                bytes: position,
                total_bytes,
                entries: self.frontier.size(),
            });
        }
        self.checks.checked("checkpoint.signature", 1);
        let final_cp = match (source.final_checkpoint)() {
            Ok(bytes) => {
                let cp =
                    self.check_note("checkpoint.signature", None, CHECKPOINT_FILE, &bytes, &key);
                // spec/board.md §B10.3: whose cosignatures count is on the board.
                (self.observers).final_note(&bytes, &key, &mut self.checks, &mut self.summary);
                // spec/export.md §X3.1: and whose the user requires.
                self.final_cosigners(&bytes, &key);
                cp
            }
            Err(e) => {
                self.checks.fail(
                    "checkpoint.signature",
                    None,
                    format!("{CHECKPOINT_FILE}: {e}"),
                );
                None
            }
        };
        self.finish(final_cp.as_ref());
        match self.creds.fault() {
            Some(e) => Err(self.unusable(e)),
            None => Ok(()),
        }
    }

    fn report(self, record: String, unusable: Option<String>) -> Report {
        Report {
            record,
            unusable,
            summary: self.summary,
            checks: self.checks.into_reports(),
        }
    }

    fn unusable(&mut self, why: String) -> String {
        self.checks.fail("record.files", None, why.clone());
        why
    }

    // ---- per entry ---------------------------------------------------------

    /// One entry: its place in the order of record.md §R1.4, then the check
    /// of its section (spec/export.md §X4, §X4.1 for which check owns what).
    fn entry(&mut self, index: u64, offset: u64, kind: EntryKind, payload: &[u8], code: &[u8; 32]) {
        match kind {
            EntryKind::Complaint | EntryKind::ComplaintAnswer => {
                return self.notice(index, kind, payload);
            }
            EntryKind::CosignedCheckpoint => return self.cosigned_checkpoint(index, payload),
            // record.md §R1.1: the sub-tag is read before anything else;
            // only the tally (§R10) has a place in the order of §R1.4.
            EntryKind::AdminAction => match admin_sub_tag(payload) {
                Ok(SUB_TAG_TALLY) => {}
                Ok(SUB_TAG_PRECINCT_LIST) => return self.notice(index, kind, payload),
                // record.md §R16: the observer list.
                Ok(crate::observers::SUB_TAG) => {
                    return self.observers.entry(index, payload, &mut self.checks);
                }
                Ok(other) => {
                    let msg = format!("unknown_tag: admin_action sub-tag {other}");
                    return self.checks.fail("entries.envelope", Some(index), msg);
                }
                Err(e) => return self.checks.fail("entries.envelope", Some(index), e),
            },
            _ => {}
        }
        let Some(ph) = kind_phase(kind) else {
            return;
        };
        if ph != 5 {
            self.flush_ballots();
        }
        if ph > 1 && !self.manifest_done {
            self.finish_manifest(Some(index));
        }
        if ph > 2 && self.fp.is_none() && self.phase <= 2 {
            self.checks.fail(
                "key_ceremony",
                Some(index),
                "no joint key before this entry",
            );
            self.phase = 2;
        }
        if ph > 9 && !self.partials_done {
            self.finish_partials();
        }
        if ph != 5 {
            self.checks.checked("board.order", 1);
            if ph < self.phase {
                self.checks.fail(
                    "board.order",
                    Some(index),
                    format!("{} after a later phase (record.md §R1.4)", kind.name()),
                );
                return;
            }
            self.phase = ph;
        }
        let r = match kind {
            EntryKind::ElectionManifest => {
                self.manifest_chunk(payload).map_err(|e| ("manifest", e))
            }
            EntryKind::TrusteeCeremony => self
                .ceremony_entry(payload)
                .map_err(|e| ("key_ceremony", e)),
            EntryKind::CredentialList => self
                .credential_chunk(payload)
                .map_err(|e| ("credential_lists", e)),
            EntryKind::VotingOpened => self
                .voting_opened(payload)
                .map_err(|e| ("voting_opened", e)),
            EntryKind::Ballot => {
                self.ballot(index, offset, payload, code);
                Ok(())
            }
            EntryKind::AuditedBallot => {
                self.audited(index, payload);
                Ok(())
            }
            EntryKind::VotingClosed => self
                .voting_closed(payload)
                .map_err(|e| ("voting_closed", e)),
            EntryKind::Reconciliation => self
                .reconciliation(index, payload)
                .map_err(|e| ("reconciliation", e)),
            EntryKind::AdminAction => self.admin_action(payload).map_err(|e| ("tally", e)),
            EntryKind::PartialDecryption => self
                .partial_chunk(payload)
                .map_err(|e| ("partial_decryptions", e)),
            EntryKind::Results => self
                .results_chunk(index, payload)
                .map_err(|e| ("results", e)),
            _ => Ok(()),
        };
        if let Err((check, msg)) = r {
            self.checks.fail(check, Some(index), msg);
        }
    }

    /// A complaint, an answer or a precinct list hash (§R13–§R15):
    /// anywhere after the manifest, outside the phase order.
    fn notice(&mut self, index: u64, kind: EntryKind, payload: &[u8]) {
        let check = if kind == EntryKind::AdminAction {
            "precinct_lists"
        } else {
            "complaints"
        };
        self.checks.checked(check, 1);
        let r = if self.phase == 0 {
            Err(format!("a {} entry before the manifest", kind.name()))
        } else {
            match kind {
                EntryKind::Complaint => self.notices.complaint(payload),
                EntryKind::ComplaintAnswer => self.notices.answer(payload),
                _ => self
                    .notices
                    .precinct_list(payload, self.manifest.as_ref(), self.closed),
            }
        };
        if let Err(msg) = r {
            self.checks.fail(check, Some(index), msg);
        }
    }

    /// After the last entry: the final tree (spec/export.md §X3), the
    /// phases that must be present (§X4.1), the results and the notices.
    fn finish(&mut self, final_cp: Option<&Checkpoint>) {
        if !self.manifest_done {
            self.finish_manifest(None);
        }
        if !self.partials_done {
            self.finish_partials();
        }
        self.check_final_tree(final_cp);
        // Every phase must be present and complete.
        if self.fp.is_none() {
            self.checks.fail("key_ceremony", None, "no joint key");
        }
        if !self.opened {
            self.checks.fail("voting_opened", None, "missing");
        }
        if !self.closed {
            self.checks.fail("voting_closed", None, "missing");
        }
        if self.recon_seq.started && !self.recon_seq.complete() {
            self.checks
                .fail("reconciliation", None, "incomplete chunk sequence");
        }
        if !self.tally_seq.complete() {
            self.checks.fail("tally", None, "missing or incomplete");
        } else if let Some(e) = &self.expected_tally
            && e.len() != self.published_tally.len()
        {
            self.checks.fail(
                "tally",
                None,
                format!(
                    "{} records published, {} expected",
                    self.published_tally.len(),
                    e.len()
                ),
            );
        }
        if !self.results_seq.complete() {
            self.checks.fail("results", None, "missing or incomplete");
        }
        self.check_results();
        self.summary.counted = self.counted.iter().sum();
        self.summary.credentials = self.creds.len();
        let voters = self.creds.voters();
        self.notices.finish(
            &mut self.checks,
            &mut self.summary,
            self.manifest.as_ref(),
            voters,
        );
    }
}
