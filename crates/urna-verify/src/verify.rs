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
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            batch_size: 4096,
            progress: None,
            on_failure: None,
        }
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("batch_size", &self.batch_size)
            .field("progress", &self.progress.is_some())
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

// ---- strict payload reading (spec/record.md §R1) ---------------------------

fn pe(e: PeerError) -> String {
    e.to_string()
}

fn read_version(r: &mut Reader<'_>) -> Result<(), String> {
    match r.u8().map_err(pe)? {
        1 => Ok(()),
        v => Err(format!("unknown_version {v}")),
    }
}

fn read_id(r: &mut Reader<'_>) -> Result<String, String> {
    let n = r.u8().map_err(pe)?;
    let b = r.take(n.into()).map_err(pe)?;
    let ok = (1..=64).contains(&n)
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
    if !ok {
        return Err("bad_identifier".into());
    }
    Ok(String::from_utf8_lossy(b).into_owned())
}

fn id_bytes(s: &str) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkPos {
    index: u32,
    count: u32,
}

fn read_pos(r: &mut Reader<'_>) -> Result<ChunkPos, String> {
    let index = r.u32().map_err(pe)?;
    let count = r.u32().map_err(pe)?;
    if count == 0 || index >= count {
        return Err(format!("out_of_bounds: chunk {index} of {count}"));
    }
    Ok(ChunkPos { index, count })
}

/// Tracks one chunk sequence (§R1.3).
#[derive(Debug, Default)]
struct Seq {
    next: u32,
    count: u32,
    started: bool,
}

impl Seq {
    /// Accepts the next chunk; `Err` if out of order.
    fn push(&mut self, p: ChunkPos) -> Result<(), String> {
        if !self.started {
            self.started = true;
            self.count = p.count;
        }
        if p.count != self.count || p.index != self.next {
            return Err(format!(
                "inconsistent_chunks: got chunk {} of {}, expected {} of {}",
                p.index, p.count, self.next, self.count
            ));
        }
        self.next += 1;
        Ok(())
    }
    fn complete(&self) -> bool {
        self.started && self.next == self.count
    }
}

fn label(d: &str, c: &str, o: u16) -> Vec<u8> {
    let mut l = id_bytes(d);
    l.extend(id_bytes(c));
    l.extend_from_slice(&o.to_be_bytes());
    l
}

// ---- state -----------------------------------------------------------------

#[derive(Debug)]
struct Cred {
    district: u32,
    /// Verified `ballot` entries.
    ballots: u32,
    /// Offset in entries.bin of the counted ballot.
    counted: Option<u64>,
}

/// Batches decoded and verified at once beyond the one being collected:
/// enough to keep every core busy while the sequential checks run,
/// few enough to bound memory (a batch is a few MiB).
const MAX_INFLIGHT: usize = 2;

/// The credential and header checks of a ballot, done from its bytes.
#[derive(Debug)]
enum Pre {
    /// Passed: the credential's district.
    Ok(usize),
    UnknownCredential(String),
    Header(String),
    /// No valid manifest: nothing to check against (reported elsewhere).
    NoManifest,
    /// Too short to hold a credential and header (decoding will fail).
    Undecodable,
}

/// A ballot waiting in a batch.
#[derive(Debug)]
struct Item {
    index: u64,
    offset: u64,
    /// Its payload in the batch buffer.
    start: usize,
    len: usize,
    pre: Pre,
}

/// Ballots collected for one job: payloads back to back in one buffer.
#[derive(Debug, Default)]
struct Batch {
    buf: Vec<u8>,
    items: Vec<Item>,
}

/// What a job found for one ballot.
#[derive(Debug)]
enum Outcome {
    Decode(String),
    /// Decoded, but the credential or header check failed: not verified.
    Skipped,
    NoContext,
    Proof(String),
    /// Valid: its option ciphertexts, flattened, at this range of
    /// [`Done::points`].
    Ok(std::ops::Range<usize>),
}

/// A finished job.
#[derive(Debug)]
struct Done {
    batch: Batch,
    outcomes: Vec<Outcome>,
    points: Vec<(RistrettoPoint, RistrettoPoint)>,
}

/// What ballot jobs share.
#[derive(Debug)]
struct Ctx {
    key: Element,
    fp: Fingerprint,
    /// Ballot style shapes per district.
    shapes: Vec<Vec<ContestShape>>,
}

/// Decodes (crypto.md §7.3) and batch-verifies (§7.4) a batch of ballots;
/// runs on the thread pool.
fn run_job(ctx: Option<&Ctx>, batch: Batch) -> Done {
    let decoded: Vec<Result<Ballot, PeerError>> = batch
        .items
        .par_iter()
        .map(|it| Ballot::decode_deferred(&batch.buf[it.start..it.start + it.len]))
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(decoded.len());
    let mut to_verify: Vec<(usize, &Ballot, usize)> = Vec::with_capacity(decoded.len());
    for (i, (item, d)) in batch.items.iter().zip(&decoded).enumerate() {
        match (d, &item.pre, ctx) {
            (Err(e), _, _) => outcomes.push(Outcome::Decode(e.to_string())),
            (Ok(_), Pre::Ok(_), None) => outcomes.push(Outcome::NoContext),
            (Ok(b), Pre::Ok(district), Some(_)) => {
                outcomes.push(Outcome::Skipped);
                to_verify.push((i, b, *district));
            }
            (Ok(_), _, _) => outcomes.push(Outcome::Skipped),
        }
    }
    let mut points = Vec::new();
    if let Some(ctx) = ctx {
        let empty: &[ContestShape] = &[];
        let checks: Vec<_> = to_verify
            .iter()
            .map(|&(i, b, district)| {
                let item = &batch.items[i];
                // The signature covers the payload but its last 64 bytes:
                // checked against the stored bytes, never a re-encoding.
                let signed = &batch.buf[item.start..item.start + item.len.saturating_sub(64)];
                let shapes = ctx.shapes.get(district).map_or(empty, Vec::as_slice);
                b.statement(&ctx.key, &ctx.fp, shapes)
                    .with_signed_bytes(signed)
            })
            .collect();
        let mut rng = rand::rng();
        let mut bad = match verify_batch(&checks, Some(&ctx.key), &mut rng) {
            Ok(()) => Vec::new(),
            Err(list) => list,
        }
        .into_iter()
        .peekable();
        drop(checks);
        for (n, &(i, b, _)) in to_verify.iter().enumerate() {
            if bad.peek().is_some_and(|x| x.index == n) {
                if let Some(x) = bad.next() {
                    outcomes[i] = Outcome::Proof(x.error.to_string());
                }
                continue;
            }
            let from = points.len();
            for c in &b.contests {
                for ct in &c.ciphertexts {
                    points.push((*ct.alpha.point(), *ct.beta.point()));
                }
                // An implied derived option is not decoded (§7.1): its
                // points follow from the sent ones.
                if c.ciphertexts.len() < usize::from(c.shape.options)
                    && let Some(d) = c.derived_points()
                {
                    points.push(d);
                }
            }
            outcomes[i] = Outcome::Ok(from..points.len());
        }
    }
    drop(to_verify);
    drop(decoded);
    Done {
        batch,
        outcomes,
        points,
    }
}

#[derive(Debug, Clone)]
struct TallyRec {
    district: String,
    contest: String,
    ballots: u64,
    sums: Vec<Ciphertext>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ResultRec {
    scope: u8,
    scope_id: Option<String>,
    contest: String,
    ballots: u64,
    counts: Vec<u64>,
}

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
    creds: HashMap<[u8; 32], Cred>,

    opened: bool,
    closed: bool,
    cast_codes: HashSet<[u8; 32]>,
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
            creds: HashMap::new(),
            opened: false,
            closed: false,
            cast_codes: HashSet::new(),
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
        }
    }

    /// Reads the folder's small files; the entries are streamed later.
    fn open_folder(&mut self, dir: &Path) -> Result<Source, String> {
        if !dir.is_dir() {
            self.checks.fail("record.files", None, "not a folder");
            return Err(format!("{} is not a folder", dir.display()));
        }
        let board_key = fs::read_to_string(dir.join(BOARD_KEY_FILE))
            .map_err(|e| self.unusable(format!("{BOARD_KEY_FILE}: {e}")))?;
        let cp_bytes = fs::read(dir.join(CHECKPOINT_FILE))
            .map_err(|e| self.unusable(format!("{CHECKPOINT_FILE}: {e}")))?;
        let mut checkpoints = Vec::new();
        let cps = dir.join(CHECKPOINTS_DIR);
        if cps.is_dir() {
            let mut names: Vec<String> = fs::read_dir(&cps)
                .map_err(|e| self.unusable(format!("{CHECKPOINTS_DIR}: {e}")))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                let size = name
                    .strip_suffix(".txt")
                    .and_then(|s| s.parse::<u64>().ok());
                let bytes = fs::read(cps.join(&name)).map_err(|e| e.to_string());
                checkpoints.push(EarlierCheckpoint {
                    label: format!("{CHECKPOINTS_DIR}/{name}"),
                    size,
                    bytes,
                });
            }
        }
        let entries_path = dir.join(ENTRIES_FILE);
        let file = fs::File::open(&entries_path)
            .map_err(|e| self.unusable(format!("{ENTRIES_FILE}: {e}")))?;
        let total_bytes = file.metadata().map(|m| m.len()).ok();
        Ok(Source {
            name: dir.display().to_string(),
            board_key,
            checkpoints,
            entries: Box::new(file),
            total_bytes,
            reread: entries_path,
            final_checkpoint: Box::new(move || Ok(cp_bytes)),
        })
    }

    fn run(&mut self, source: Source, mut options: Options<'_>) -> Result<(), String> {
        self.batch_size = options.batch_size.max(1);
        self.checks.hook = options.on_failure.take();
        let key = VerifierKey::parse(source.board_key.trim_end_matches('\n'))
            .map_err(|e| self.unusable(format!("{BOARD_KEY_FILE}: {e}")))?;
        self.checks.checked("record.files", 1);
        for cp in source.checkpoints {
            let file = cp.label;
            self.checks.checked("checkpoint.consistency", 1);
            let Some(size) = cp.size else {
                self.checks.fail(
                    "checkpoint.consistency",
                    None,
                    format!("{file}: not <size>.txt"),
                );
                continue;
            };
            let bytes = match cp.bytes {
                Ok(b) => b,
                Err(e) => {
                    self.checks
                        .fail("checkpoint.consistency", None, format!("{file}: {e}"));
                    continue;
                }
            };
            if let Some(cp) = self.check_note("checkpoint.consistency", &file, &bytes, &key) {
                if cp.size() != size {
                    self.checks.fail(
                        "checkpoint.consistency",
                        None,
                        format!("{file} states size {}", cp.size()),
                    );
                } else if size == 0 {
                    if *cp.root() != empty_root() {
                        self.checks.fail(
                            "checkpoint.consistency",
                            None,
                            format!("{file}: size 0 with a non-empty root"),
                        );
                    }
                } else {
                    self.older.insert(size, (*cp.root(), file));
                }
            }
        }

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
                let cp = self.check_note("checkpoint.signature", CHECKPOINT_FILE, &bytes, &key);
                (self.observers).final_note(&bytes, &key, &mut self.checks, &mut self.summary);
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
        Ok(())
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

    fn check_note(
        &mut self,
        check: &'static str,
        file: &str,
        bytes: &[u8],
        key: &VerifierKey,
    ) -> Option<Checkpoint> {
        let note = match SignedNote::parse(bytes) {
            Ok(n) => n,
            Err(e) => {
                self.checks.fail(check, None, format!("{file}: {e}"));
                return None;
            }
        };
        match verify_checkpoint(&note, key, &[]) {
            Ok(v) => Some(v.checkpoint),
            Err(e) => {
                self.checks.fail(check, None, format!("{file}: {e}"));
                None
            }
        }
    }

    // ---- per entry ---------------------------------------------------------

    fn entry(&mut self, index: u64, offset: u64, kind: EntryKind, payload: &[u8], code: &[u8; 32]) {
        if kind == EntryKind::AdminAction && payload.get(1) == Some(&crate::observers::SUB_TAG) {
            return self.observers.entry(index, payload, &mut self.checks);
        }
        let list = kind == EntryKind::AdminAction && payload.get(1) == Some(&2);
        if list || matches!(kind, EntryKind::Complaint | EntryKind::ComplaintAnswer) {
            self.notice(index, kind, payload);
            return;
        }
        let Some(ph) = kind_phase(kind) else {
            return; // cosigned checkpoints: not covered (§R1.4)
        };
        // Only the tally (sub-tag 1) of admin_action has a place in §R1.4.
        if kind == EntryKind::AdminAction && payload.get(1) != Some(&1) {
            return;
        }
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

    // §R2
    fn manifest_chunk(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let index = r.u16().map_err(pe)?;
        let count = r.u16().map_err(pe)?;
        if count == 0 || index >= count {
            return Err(format!("out_of_bounds: chunk {index} of {count}"));
        }
        let (next, expected) = self.manifest_seq;
        if index != next || (index > 0 && count != expected) {
            return Err(format!(
                "inconsistent_chunks: manifest chunk {index} of {count} after {next}"
            ));
        }
        let rest = r.take(r.remaining()).map_err(pe)?;
        if rest.is_empty() {
            return Err("empty manifest chunk".into());
        }
        self.manifest_bytes.extend_from_slice(rest);
        self.manifest_seq = (index + 1, count);
        Ok(())
    }

    fn finish_manifest(&mut self, at: Option<u64>) {
        self.manifest_done = true;
        self.checks.checked("manifest", 1);
        let (next, count) = self.manifest_seq;
        if count == 0 || next != count {
            self.checks
                .fail("manifest", at, "the manifest is missing or incomplete");
            return;
        }
        self.manifest_hash = Sha256::digest(&self.manifest_bytes).into();
        self.summary.manifest_hash = Some(hex::encode(self.manifest_hash));
        match Manifest::parse(&self.manifest_bytes) {
            Ok(m) => {
                self.election_hash = Sha256::digest(m.id.as_bytes()).into();
                self.summary.election = Some(m.id.clone());
                self.ceremony.params = CeremonyParams { n: m.n, t: m.t };
                self.ceremony.manifest_hash = self.manifest_hash;
                self.lists_done = vec![false; m.districts.len()];
                let zero = (RistrettoPoint::identity(), RistrettoPoint::identity());
                self.sums = m
                    .districts
                    .iter()
                    .map(|d| {
                        let n: usize = d.shapes.iter().map(|s| usize::from(s.options)).sum();
                        vec![zero; n]
                    })
                    .collect();
                // record.md §R6.1: version 1, SHA-256 of the election id,
                // the district id; one canonical encoding per district.
                self.expected_headers = m
                    .districts
                    .iter()
                    .map(|d| {
                        let mut h = vec![1u8];
                        h.extend_from_slice(&self.election_hash);
                        h.extend(id_bytes(&d.id));
                        h
                    })
                    .collect();
                self.counted = vec![0; m.districts.len()];
                self.manifest = Some(m);
            }
            Err(e) => self.checks.fail("manifest", None, e),
        }
        self.manifest_bytes = Vec::new();
    }

    // §R3
    fn ceremony_entry(&mut self, payload: &[u8]) -> Result<(), String> {
        if self.joint_key.is_some() {
            return Err("ceremony message after the joint key".into());
        }
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let tag = r.u8().map_err(pe)?;
        let body = r.take(r.remaining()).map_err(pe)?;
        match tag {
            1 => self
                .ceremony
                .round1
                .push(Round1Message::decode(body).map_err(pe)?),
            2 => self
                .ceremony
                .round2
                .push(Round2Message::decode(body).map_err(pe)?),
            3 => self
                .ceremony
                .complaints
                .push(Complaint::decode(body).map_err(pe)?),
            4 => {
                let arr: [u8; 32] = body
                    .try_into()
                    .map_err(|_| "joint key entry is not 32 bytes".to_owned())?;
                let k = Element::decode_non_identity(&arr).map_err(pe)?;
                self.joint_key = Some(k);
                self.fp = Some(Fingerprint::election(&self.manifest_hash, &k));
                self.summary.fingerprint = self.fp.as_ref().map(|f| hex::encode(f.0));
                self.checks.checked("key_ceremony", 1);
                if self.manifest.is_none() {
                    return Err("no valid manifest to bind the ceremony to".into());
                }
                let mut rng = rand::rng();
                let outcome = urna_crypto::dkg::verify_ceremony(&self.ceremony, Some(&k), &mut rng)
                    .map_err(|e| format!("ceremony verification: {e}"))?;
                self.vks = outcome.verification_keys;
            }
            t => return Err(format!("unknown_tag {t}")),
        }
        Ok(())
    }

    // §R4
    fn credential_chunk(&mut self, payload: &[u8]) -> Result<(), String> {
        let Some(m) = self.manifest.as_ref() else {
            return Err("no manifest".into());
        };
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let district = read_id(&mut r)?;
        let pos = read_pos(&mut r)?;
        let n = r.u32().map_err(pe)?;
        let Some(&di) = m.district_index.get(&district) else {
            return Err(format!("unknown district {district}"));
        };
        if self.cred_district != Some(di) {
            // A new list: the previous one must be complete, this district next.
            if let Some(prev) = self.cred_district
                && !self.cred_seq.complete()
            {
                return Err(format!("list of {} is incomplete", m.districts[prev].id));
            }
            let expected = self.lists_done.iter().position(|d| !d);
            if expected != Some(di) {
                return Err(format!(
                    "inconsistent_chunks: list of {district} out of manifest order or repeated"
                ));
            }
            self.cred_district = Some(di);
            self.cred_seq = Seq::default();
            self.cred_last = None;
        }
        self.cred_seq.push(pos)?;
        if self.cred_seq.complete() {
            self.lists_done[di] = true;
        }
        // Decompressing costs an inverse square root per credential (a
        // million in a large election): done in parallel, then checked
        // and inserted in list order exactly as one at a time would.
        let whole = (r.remaining() / 32).min(n as usize);
        let raw = r.take(whole * 32).map_err(pe)?;
        let decoded: Vec<Result<Element, PeerError>> = raw
            .par_chunks(32)
            .map(|c| {
                <&[u8; 32]>::try_from(c)
                    .map_err(|_| PeerError::Truncated { needed: 32 })
                    .and_then(Element::decode_non_identity)
            })
            .collect();
        let mut decoded = decoded.into_iter();
        for _ in 0..n {
            let p = match decoded.next() {
                Some(p) => p.map_err(pe)?,
                // Fewer bytes than the count: the same error as reading on.
                None => r.element_non_identity().map_err(pe)?,
            };
            let b = *p.as_bytes();
            self.checks.checked("credential_lists", 1);
            if let Some(last) = self.cred_last
                && b <= last
            {
                return Err(format!("not_canonical_order at credential {}", p.to_hex()));
            }
            self.cred_last = Some(b);
            let cred = Cred {
                district: di as u32,
                ballots: 0,
                counted: None,
            };
            if self.creds.insert(b, cred).is_some() {
                return Err(format!("credential {} is in two districts", p.to_hex()));
            }
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    // §R5
    fn voting_opened(&mut self, payload: &[u8]) -> Result<(), String> {
        self.checks.checked("voting_opened", 1);
        if self.opened {
            return Err("voting opened twice".into());
        }
        self.opened = true;
        self.summary.credentials = self.creds.len() as u64;
        if let Some(m) = &self.manifest {
            for (d, done) in m.districts.iter().zip(&self.lists_done) {
                if !done {
                    self.checks.fail(
                        "credential_lists",
                        None,
                        format!("district {} has no complete sealed list", d.id),
                    );
                }
            }
        }
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let mh = r.take(32).map_err(pe)?;
        let _time = r.u64().map_err(pe)?;
        let total = r.u64().map_err(pe)?;
        r.finish().map_err(pe)?;
        if mh != self.manifest_hash {
            return Err("manifest hash differs".into());
        }
        if total != self.creds.len() as u64 {
            return Err(format!(
                "states {total} credentials, the lists hold {}",
                self.creds.len()
            ));
        }
        Ok(())
    }

    /// The credential and header checks of record.md §R6.1, from the
    /// ballot's bytes (crypto.md §7.3: version, credential, `u32` header
    /// length, header), so that they run before the ballot is decoded.
    /// Reported only if the ballot then decodes ([`Verifier::apply_pre`]).
    fn precheck(&self, ballot: &[u8]) -> Pre {
        let Some(cred) = ballot.get(1..33) else {
            return Pre::Undecodable;
        };
        let Some(len) = ballot
            .get(33..37)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return Pre::Undecodable;
        };
        let Some(header) = ballot.get(37..37 + len as usize) else {
            return Pre::Undecodable;
        };
        let Some(c) = <&[u8; 32]>::try_from(cred)
            .ok()
            .and_then(|k| self.creds.get(k))
        else {
            return Pre::UnknownCredential(format!("unknown_credential {}", hex::encode(cred)));
        };
        let district = c.district as usize;
        let Some(m) = self.manifest.as_ref() else {
            return Pre::NoManifest;
        };
        if self.expected_headers.get(district).map(Vec::as_slice) == Some(header) {
            return Pre::Ok(district);
        }
        // Not the one canonical header: say what is wrong with it.
        let mut r = Reader::new(header);
        let parsed = (|| -> Result<(Vec<u8>, String), String> {
            read_version(&mut r)?;
            let eh = r.take(32).map_err(pe)?.to_vec();
            let d = read_id(&mut r)?;
            r.finish().map_err(pe)?;
            Ok((eh, d))
        })();
        match parsed {
            Err(e) => Pre::Header(e),
            Ok((eh, _)) if eh != self.election_hash => Pre::Header("wrong_election".into()),
            Ok((_, d)) => Pre::Header(format!(
                "wrong_ballot_style: header district {d}, credential of {}",
                m.districts[district].id
            )),
        }
    }

    /// Counts and reports the outcome of [`Verifier::precheck`] for a
    /// ballot that decoded; its district if it passed.
    fn apply_pre(&mut self, index: u64, pre: &Pre) -> Option<usize> {
        self.checks.checked("ballot.credential", 1);
        if let Pre::UnknownCredential(msg) = pre {
            self.checks
                .fail("ballot.credential", Some(index), msg.clone());
            return None;
        }
        self.checks.checked("ballot.header", 1);
        match pre {
            Pre::Ok(d) => Some(*d),
            Pre::Header(msg) => {
                self.checks.fail("ballot.header", Some(index), msg.clone());
                None
            }
            // A decoded ballot always has a credential and a header.
            Pre::Undecodable => {
                self.checks
                    .fail("ballot.header", Some(index), "unparsable header");
                None
            }
            Pre::NoManifest | Pre::UnknownCredential(_) => None,
        }
    }

    fn in_window(&mut self, index: u64, what: &str) -> bool {
        self.checks.checked("ballot.window", 1);
        if !self.opened || self.closed {
            let when = if self.closed {
                "after voting_closed"
            } else {
                "before voting_opened"
            };
            self.checks
                .fail("ballot.window", Some(index), format!("{what} {when}"));
            return false;
        }
        true
    }

    // §R6
    fn ballot(&mut self, index: u64, offset: u64, payload: &[u8], code: &[u8; 32]) {
        self.summary.ballots += 1;
        if !self.in_window(index, "ballot") {
            return;
        }
        self.ballot_entries += 1;
        self.checks.checked("ballot.replay", 1);
        if self.audited_codes.contains(code) {
            self.checks.fail(
                "ballot.replay",
                Some(index),
                "audited_ballot: the ballot of an audit was cast",
            );
            return;
        }
        if !self.cast_codes.insert(*code) {
            self.checks.fail(
                "ballot.replay",
                Some(index),
                format!("replayed_ballot {}", hex::encode(code)),
            );
            return;
        }
        let pre = self.precheck(payload);
        let start = self.batch.buf.len();
        self.batch.buf.extend_from_slice(payload);
        self.batch.items.push(Item {
            index,
            offset,
            start,
            len: payload.len(),
            pre,
        });
        if self.batch.items.len() >= self.batch_size {
            self.submit();
        }
    }

    /// Hands the collected ballots to the thread pool, and applies the
    /// outcomes of finished batches (in order) while too many are out.
    fn submit(&mut self) {
        if self.batch.items.is_empty() {
            return;
        }
        if self.ctx.is_none()
            && let (Some(m), Some(key), Some(fp)) = (&self.manifest, self.joint_key, self.fp)
        {
            self.ctx = Some(Arc::new(Ctx {
                key,
                fp,
                shapes: m.districts.iter().map(|d| d.shapes.clone()).collect(),
            }));
        }
        let batch = std::mem::take(&mut self.batch);
        let ctx = self.ctx.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rayon::spawn(move || {
            let done = run_job(ctx.as_deref(), batch);
            let _ = tx.send(done);
        });
        self.inflight.push_back(rx);
        while self.inflight.len() > MAX_INFLIGHT {
            self.apply_front();
        }
        // Apply what is already done without waiting.
        while let Some(front) = self.inflight.front() {
            match front.try_recv() {
                Ok(done) => {
                    self.inflight.pop_front();
                    self.apply(done);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.apply_front(),
            }
        }
    }

    /// Waits for the oldest batch and applies it.
    fn apply_front(&mut self) {
        let Some(rx) = self.inflight.pop_front() else {
            return;
        };
        match rx.recv() {
            Ok(done) => self.apply(done),
            // Only a panic in the job drops its sender; nothing to name.
            Err(_) => self.checks.fail(
                "ballot.proofs",
                None,
                "a batch of ballots could not be verified (internal fault)",
            ),
        }
    }

    /// Verifies every collected ballot and applies every outcome: before
    /// any entry whose checks depend on which ballots count.
    fn flush_ballots(&mut self) {
        self.submit();
        while !self.inflight.is_empty() {
            self.apply_front();
        }
    }

    /// Applies one batch's outcomes in board order: reports, re-vote
    /// policy, sums.
    fn apply(&mut self, done: Done) {
        let Done {
            batch,
            outcomes,
            points,
        } = done;
        let revote = self.manifest.as_ref().map(|m| m.revote);
        for (item, outcome) in batch.items.iter().zip(outcomes) {
            self.checks.checked("ballot.decode", 1);
            if let Outcome::Decode(e) = &outcome {
                self.checks
                    .fail("ballot.decode", Some(item.index), e.clone());
                continue;
            }
            let Some(district) = self.apply_pre(item.index, &item.pre) else {
                continue;
            };
            let range = match outcome {
                Outcome::Decode(_) | Outcome::Skipped => continue,
                Outcome::NoContext => {
                    self.checks.fail(
                        "ballot.proofs",
                        Some(item.index),
                        "no manifest or joint key",
                    );
                    continue;
                }
                Outcome::Proof(e) => {
                    self.checks.checked("ballot.proofs", 1);
                    self.checks.fail("ballot.proofs", Some(item.index), e);
                    continue;
                }
                Outcome::Ok(range) => range,
            };
            self.checks.checked("ballot.proofs", 1);
            self.checks.checked("revote", 1);
            let bytes = &batch.buf[item.start..item.start + item.len];
            let Some(key) = bytes.get(1..33).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
                continue;
            };
            let Some(cred) = self.creds.get_mut(&key) else {
                continue;
            };
            cred.ballots += 1;
            let previous = cred.counted;
            if cred.ballots > 1 && revote == Some(Revote::Forbidden) {
                self.checks.fail(
                    "revote",
                    Some(item.index),
                    format!(
                        "revote_forbidden: second ballot of credential {}",
                        hex::encode(key)
                    ),
                );
                continue;
            }
            cred.counted = Some(item.offset);
            if let Some(off) = previous {
                self.subtract_at(off, item.index);
            } else {
                self.counted[district] += 1;
            }
            if let Some(sums) = self.sums.get_mut(district) {
                for (s, p) in sums.iter_mut().zip(&points[range]) {
                    s.0 += p.0;
                    s.1 += p.1;
                }
            }
        }
    }

    /// Removes the counted ballot stored at `offset` from the sums.
    fn subtract_at(&mut self, offset: u64, at: u64) {
        let bytes = self
            .random
            .as_mut()
            .ok_or_else(|| "entries.bin not open".to_owned())
            .and_then(|r| r.read_at(offset).map_err(|e| e.to_string()));
        let ballot = bytes.and_then(|b| {
            let e = Entry::from_bytes(b).map_err(|e| e.to_string())?;
            Ballot::decode(e.payload()).map_err(pe)
        });
        match ballot {
            Ok(b) => {
                if let Some(c) = self.creds.get(b.credential.as_bytes()) {
                    let d = c.district as usize;
                    if let Some(sums) = self.sums.get_mut(d) {
                        let cts = b.contests.iter().flat_map(|c| &c.ciphertexts);
                        for (s, ct) in sums.iter_mut().zip(cts) {
                            s.0 -= ct.alpha.point();
                            s.1 -= ct.beta.point();
                        }
                    }
                }
            }
            Err(e) => self.checks.fail(
                "revote",
                Some(at),
                format!("re-reading the superseded ballot: {e}"),
            ),
        }
    }

    // §R7
    fn audited(&mut self, index: u64, payload: &[u8]) {
        self.summary.audited += 1;
        if !self.in_window(index, "audited ballot") {
            return;
        }
        self.audited_entries += 1;
        self.checks.checked("audited_ballot", 1);
        let r = (|| -> Result<(), (&'static str, String)> {
            let mut r = Reader::new(payload);
            read_version(&mut r).map_err(|e| ("audited_ballot", e))?;
            let len = r.u32().map_err(|e| ("audited_ballot", pe(e)))?;
            let bytes = r
                .take(len as usize)
                .map_err(|e| ("audited_ballot", pe(e)))?;
            let code: [u8; 32] = Sha256::digest(bytes).into();
            if self.cast_codes.contains(&code) || !self.audited_codes.insert(code) {
                return Err((
                    "ballot.replay",
                    "the audited ballot was already on the board".into(),
                ));
            }
            let ballot = Ballot::decode(bytes).map_err(|e| ("audited_ballot", pe(e)))?;
            let mut selections = Vec::new();
            let mut nonces = Vec::new();
            for c in &ballot.contests {
                let mut s = Vec::new();
                let mut n = Vec::new();
                for _ in 0..c.ciphertexts.len() {
                    let v = r.u8().map_err(|e| ("audited_ballot", pe(e)))?;
                    if u32::from(v) > c.shape.option_max {
                        return Err(("audited_ballot", format!("out_of_bounds value {v}")));
                    }
                    s.push(u64::from(v));
                    n.push(SecretScalar::new(
                        r.scalar().map_err(|e| ("audited_ballot", pe(e)))?,
                    ));
                }
                selections.push(s);
                nonces.push(n);
            }
            r.finish().map_err(|e| ("audited_ballot", pe(e)))?;
            let pre = self.precheck(bytes);
            let district = self
                .apply_pre(index, &pre)
                .ok_or(("audited_ballot", "header or credential rejected".to_owned()))?;
            let (Some(m), Some(k), Some(fp)) = (self.manifest.as_ref(), self.joint_key, self.fp)
            else {
                return Err(("audited_ballot", "no manifest or joint key".into()));
            };
            let mut rng = rand::rng();
            verify_one(
                &ballot.statement(&k, &fp, &m.districts[district].shapes),
                Some(&k),
                &mut rng,
            )
            .map_err(|e| ("audited_ballot", format!("proofs: {e}")))?;
            let key = PublicKey::new(k).map_err(|e| ("audited_ballot", pe(e)))?;
            ballot
                .check_audit(&key, &BallotSecrets { selections, nonces })
                .map_err(|e| ("audited_ballot", e.to_string()))?;
            Ok(())
        })();
        if let Err((check, msg)) = r {
            self.checks.fail(check, Some(index), msg);
        }
    }

    // §R8
    fn voting_closed(&mut self, payload: &[u8]) -> Result<(), String> {
        self.checks.checked("voting_closed", 1);
        if !self.opened || self.closed {
            return Err("voting_closed without a single preceding voting_opened".into());
        }
        self.closed = true;
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let mh = r.take(32).map_err(pe)?;
        let _time = r.u64().map_err(pe)?;
        let ballots = r.u64().map_err(pe)?;
        let audited = r.u64().map_err(pe)?;
        r.finish().map_err(pe)?;
        if mh != self.manifest_hash {
            return Err("manifest hash differs".into());
        }
        if (ballots, audited) != (self.ballot_entries, self.audited_entries) {
            return Err(format!(
                "states {ballots} ballots and {audited} audited, the board has {} and {}",
                self.ballot_entries, self.audited_entries
            ));
        }
        Ok(())
    }

    // §R9
    fn reconciliation(&mut self, index: u64, payload: &[u8]) -> Result<(), String> {
        let policy = self.manifest.as_ref().map(|m| m.paper_policy);
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let p = r.u8().map_err(pe)?;
        if Some(p) != policy {
            return Err(format!("policy {p} differs from the manifest's"));
        }
        let pos = read_pos(&mut r)?;
        self.recon_seq.push(pos)?;
        let n = r.u32().map_err(pe)?;
        for _ in 0..n {
            self.checks.checked("reconciliation", 1);
            let c = r.element_non_identity().map_err(pe)?;
            let reason = r.u8().map_err(pe)?;
            let b = *c.as_bytes();
            if let Some(last) = self.recon_last
                && b <= last
            {
                return Err("not_canonical_order".into());
            }
            self.recon_last = Some(b);
            match reason {
                1 if p == 2 => {}
                2 => {}
                3 if p == 1 => {}
                1 => return Err("reason 1 (paper vote) under evote-stands".into()),
                3 => return Err("reason 3 (paper vote, e-vote stands) under evote-annulled".into()),
                x => return Err(format!("unknown_tag reason {x}")),
            }
            let Some(cred) = self.creds.get_mut(&b) else {
                return Err(format!("annulled credential {} is not sealed", c.to_hex()));
            };
            if cred.ballots == 0 {
                return Err(format!("annulled credential {} has no ballot", c.to_hex()));
            }
            if reason == 3 {
                continue; // listed so that double votes are public; it counts
            }
            let d = cred.district as usize;
            if let Some(off) = cred.counted.take() {
                self.counted[d] -= 1;
                self.subtract_at(off, index);
            }
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    // §R10
    fn admin_action(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        r.u8().map_err(pe)?; // sub-tag 1: `entry` passes only the tally here
        let pos = read_pos(&mut r)?;
        self.tally_seq.push(pos)?;
        if self.expected_tally.is_none() {
            self.expected_tally = Some(self.expected_tally_records());
        }
        let n = r.u32().map_err(pe)?;
        for _ in 0..n {
            let district = read_id(&mut r)?;
            let contest = read_id(&mut r)?;
            let ballots = r.u64().map_err(pe)?;
            let k = r.u16().map_err(pe)?;
            if !(1..=512).contains(&k) {
                return Err(format!("out_of_bounds: {k} options"));
            }
            let mut sums = Vec::with_capacity(k.into());
            for _ in 0..k {
                sums.push(Ciphertext {
                    alpha: r.element().map_err(pe)?,
                    beta: r.element().map_err(pe)?,
                });
            }
            let rec = TallyRec {
                district,
                contest,
                ballots,
                sums,
            };
            let i = self.published_tally.len();
            self.checks.checked("tally", 1);
            let expected = self.expected_tally.as_ref().and_then(|e| e.get(i));
            let mismatch = match expected {
                None => Some("a record beyond the tally order".to_owned()),
                Some(e)
                    if (e.district.as_str(), e.contest.as_str())
                        != (&rec.district, &rec.contest) =>
                {
                    Some(format!(
                        "record {i} is {}/{}, expected {}/{}",
                        rec.district, rec.contest, e.district, e.contest
                    ))
                }
                Some(e) if e.ballots != rec.ballots => Some(format!(
                    "{}/{}: {} ballots published, {} counted",
                    rec.district, rec.contest, rec.ballots, e.ballots
                )),
                Some(e) if e.sums != rec.sums => Some(format!(
                    "{}/{}: the sums differ from the recomputed homomorphic sums",
                    rec.district, rec.contest
                )),
                Some(_) => None,
            };
            if let Some(msg) = mismatch {
                self.checks.fail("tally", None, msg);
            }
            self.published_tally.push(rec);
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    fn expected_tally_records(&self) -> Vec<TallyRec> {
        let Some(m) = &self.manifest else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (di, d) in m.districts.iter().enumerate() {
            let mut at = 0usize;
            for (&ci, shape) in d.style.iter().zip(&d.shapes) {
                let n = usize::from(shape.options);
                let sums = self.sums[di].get(at..at + n).unwrap_or(&[]);
                at += n;
                out.push(TallyRec {
                    district: d.id.clone(),
                    contest: m.contests[ci].id.clone(),
                    ballots: self.counted[di],
                    sums: sums
                        .iter()
                        .map(|(a, b)| Ciphertext {
                            alpha: Element::from_point(*a),
                            beta: Element::from_point(*b),
                        })
                        .collect(),
                });
            }
        }
        out
    }

    // §R11
    fn partial_chunk(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let j = r.u16().map_err(pe)?;
        if !(1..=64).contains(&j) {
            return Err(format!("out_of_bounds trustee {j}"));
        }
        let pos = read_pos(&mut r)?;
        let entry = self
            .partials
            .entry(j)
            .or_insert_with(|| (Seq::default(), Vec::new()));
        if entry.0.complete() {
            return Err(format!(
                "trustee {j} has a second set of partial decryptions"
            ));
        }
        entry.0.push(pos)?;
        let k = r.u32().map_err(pe)?;
        for _ in 0..k {
            let b = r.take(PartialDecryption::ENCODED_LEN).map_err(pe)?;
            let p = PartialDecryption::decode(b).map_err(pe)?;
            if p.trustee != j {
                return Err(format!(
                    "bad_trustee_index {} in trustee {j}'s chunk",
                    p.trustee
                ));
            }
            entry.1.push(p);
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    fn finish_partials(&mut self) {
        self.partials_done = true;
        let (Some(fp), Some(m)) = (self.fp, self.manifest.as_ref()) else {
            return;
        };
        let t = m.t;
        let items: Vec<(Vec<u8>, Ciphertext)> = self
            .published_tally
            .iter()
            .flat_map(|rec| {
                rec.sums
                    .iter()
                    .enumerate()
                    .map(|(o, ct)| (label(&rec.district, &rec.contest, o as u16), *ct))
            })
            .collect();
        let mut good: Vec<(u16, Vec<PartialDecryption>)> = Vec::new();
        let mut rng = rand::rng();
        for (j, (seq, list)) in std::mem::take(&mut self.partials) {
            self.checks
                .checked("partial_decryptions", list.len() as u64);
            let Some(vk) = self.vks.get(&j) else {
                self.checks.fail(
                    "partial_decryptions",
                    None,
                    format!("trustee {j} is not a qualified trustee of the ceremony"),
                );
                continue;
            };
            if !seq.complete() {
                self.checks.fail(
                    "partial_decryptions",
                    None,
                    format!("trustee {j}: incomplete chunk sequence"),
                );
                continue;
            }
            match verify_partials(&fp, vk, &items, &list, &mut rng) {
                Ok(()) => good.push((j, list)),
                Err(bad) => {
                    for b in bad {
                        self.checks.fail(
                            "partial_decryptions",
                            None,
                            format!("trustee {j}, tally ciphertext {}: {}", b.index, b.error),
                        );
                    }
                }
            }
        }
        self.summary.trustees = good.iter().map(|(j, _)| *j).collect();
        self.checks.checked("combination", 1);
        if good.len() < usize::from(t) {
            self.checks.fail(
                "combination",
                None,
                format!("{} valid sets of partial decryptions, t = {t}", good.len()),
            );
            return;
        }
        let cts: Vec<Ciphertext> = items.iter().map(|(_, c)| *c).collect();
        let t_us = usize::from(t);
        let first: Vec<&[PartialDecryption]> = good[..t_us].iter().map(|(_, l)| &l[..]).collect();
        let last: Vec<&[PartialDecryption]> = good[good.len() - t_us..]
            .iter()
            .map(|(_, l)| &l[..])
            .collect();
        match (
            combine_batch_elements(t, &cts, &first),
            combine_batch_elements(t, &cts, &last),
        ) {
            (Ok(a), Ok(b)) => {
                if a != b {
                    self.checks
                        .fail("combination", None, "two sets of t trustees disagree");
                }
                self.combined = Some(a);
            }
            (Err(e), _) | (_, Err(e)) => self.checks.fail("combination", None, e.to_string()),
        }
    }

    // §R12
    fn results_chunk(&mut self, index: u64, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let pos = read_pos(&mut r)?;
        self.results_seq.push(pos)?;
        let n = r.u32().map_err(pe)?;
        for _ in 0..n {
            let scope = r.u8().map_err(pe)?;
            let scope_id = match scope {
                0 | 1 => Some(read_id(&mut r)?),
                2 => None,
                s => return Err(format!("unknown_tag scope {s}")),
            };
            let contest = read_id(&mut r)?;
            let ballots = r.u64().map_err(pe)?;
            let k = r.u16().map_err(pe)?;
            if !(1..=512).contains(&k) {
                return Err(format!("out_of_bounds: {k} options"));
            }
            let mut counts = Vec::with_capacity(k.into());
            for _ in 0..k {
                counts.push(r.u64().map_err(pe)?);
            }
            self.results.push((
                index,
                ResultRec {
                    scope,
                    scope_id,
                    contest,
                    ballots,
                    counts,
                },
            ));
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    fn check_results(&mut self) {
        let Some(m) = self.manifest.as_ref() else {
            return;
        };
        let results = std::mem::take(&mut self.results);
        // Expected district records from the published tally and the combination.
        let mut expected: Vec<ResultRec> = Vec::new();
        let mut flat = 0usize;
        for (ti, rec) in self.published_tally.iter().enumerate() {
            let got = results.get(ti);
            let counts: Vec<u64> = match got {
                Some((_, g)) if g.scope == 0 && g.counts.len() == rec.sums.len() => {
                    g.counts.clone()
                }
                _ => vec![0; rec.sums.len()],
            };
            // Each count must decrypt the combination (m·H = M, m bounded).
            let option_max = m
                .contests
                .iter()
                .find(|c| c.id == rec.contest)
                .map_or(1, |c| u64::from(c.shape.option_max));
            if let Some(comb) = &self.combined {
                for (o, &c) in counts.iter().enumerate() {
                    self.checks.checked("combination", 1);
                    let at = got.map(|g| g.0);
                    let mh = Element::from_point(group::mul_h(&Scalar::from(c)));
                    if comb.get(flat + o) != Some(&mh) {
                        self.checks.fail(
                            "combination",
                            at,
                            format!(
                                "{}/{} option {o}: published count {c} is not the decryption",
                                rec.district, rec.contest
                            ),
                        );
                    } else if c > rec.ballots.saturating_mul(option_max) {
                        self.checks.fail(
                            "combination",
                            at,
                            format!(
                                "{}/{} option {o}: count {c} above the bound",
                                rec.district, rec.contest
                            ),
                        );
                    }
                }
            }
            flat += rec.sums.len();
            expected.push(ResultRec {
                scope: 0,
                scope_id: Some(rec.district.clone()),
                contest: rec.contest.clone(),
                ballots: rec.ballots,
                counts,
            });
        }
        // Regions and total, summed from the district records.
        let district_region: HashMap<&str, usize> = m
            .districts
            .iter()
            .map(|d| (d.id.as_str(), d.region))
            .collect();
        let agg = |scope: u8, scope_id: Option<String>, pick: &dyn Fn(&str) -> bool| {
            let mut out = Vec::new();
            for c in &m.contests {
                let recs: Vec<&ResultRec> = expected
                    .iter()
                    .filter(|r| r.scope == 0 && r.contest == c.id)
                    .filter(|r| r.scope_id.as_deref().is_some_and(pick))
                    .collect();
                let in_scope = c.districts.iter().any(|&d| pick(&m.districts[d].id));
                if !in_scope {
                    continue;
                }
                let mut counts = vec![0u64; c.shape.options.into()];
                let mut ballots = 0u64;
                for r in recs {
                    ballots += r.ballots;
                    for (a, b) in counts.iter_mut().zip(&r.counts) {
                        *a += b;
                    }
                }
                out.push(ResultRec {
                    scope,
                    scope_id: scope_id.clone(),
                    contest: c.id.clone(),
                    ballots,
                    counts,
                });
            }
            out
        };
        let mut more = Vec::new();
        for (ri, (rid, _)) in m.regions.iter().enumerate() {
            more.extend(agg(1, Some(rid.clone()), &|d: &str| {
                district_region.get(d) == Some(&ri)
            }));
        }
        more.extend(agg(2, None, &|_: &str| true));
        expected.extend(more);

        self.checks.checked("results", expected.len() as u64);
        for (i, e) in expected.iter().enumerate() {
            match results.get(i) {
                None => {
                    self.checks
                        .fail("results", None, format!("record {i} is missing: {e:?}"));
                    break;
                }
                Some((at, g)) if g != e => {
                    self.checks.fail(
                        "results",
                        Some(*at),
                        format!("record {i} is {g:?}, expected {e:?}"),
                    );
                }
                Some(_) => {}
            }
        }
        if results.len() > expected.len() {
            self.checks.fail(
                "results",
                results.get(expected.len()).map(|r| r.0),
                format!(
                    "{} records beyond those expected",
                    results.len() - expected.len()
                ),
            );
        }
    }

    fn finish(&mut self, final_cp: Option<&Checkpoint>) {
        if !self.manifest_done {
            self.finish_manifest(None);
        }
        if !self.partials_done {
            self.finish_partials();
        }
        // Final checkpoint against the rebuilt tree.
        self.checks.checked("checkpoint.root", 1);
        if let Some(cp) = final_cp {
            if cp.size() != self.frontier.size() {
                self.checks.fail(
                    "checkpoint.root",
                    None,
                    format!(
                        "checkpoint size {} but entries.bin holds {} entries",
                        cp.size(),
                        self.frontier.size()
                    ),
                );
            } else if *cp.root() != self.frontier.root() {
                self.checks.fail(
                    "checkpoint.root",
                    None,
                    "the root rebuilt from the entries differs from the checkpoint",
                );
            }
        } else {
            self.checks
                .fail("checkpoint.root", None, "no verified final checkpoint");
        }
        for (size, (_, file)) in std::mem::take(&mut self.older) {
            self.checks.fail(
                "checkpoint.consistency",
                None,
                format!("{file}: size {size} beyond the final tree"),
            );
        }
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
        self.summary.credentials = self.creds.len() as u64;
        let voters = self.creds.values().filter(|c| c.ballots > 0).count() as u64;
        self.notices.finish(
            &mut self.checks,
            &mut self.summary,
            self.manifest.as_ref(),
            voters,
        );
    }
}
