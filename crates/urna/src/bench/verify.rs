//! `urna bench verify`: throughput and peak memory of the independent
//! verifier (`urna-verify`) on an election record of N yes/no ballots.
//!
//! The record is generated first (untimed: every ballot is really
//! encrypted, proven and signed, which costs far more than verifying it)
//! and kept in `--record DIR`, so reruns go straight to the measurement.
//! The verifier then runs in a child process, so that the peak resident
//! set it reports (`VmHWM`) is the verifier's alone and not the
//! generator's.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use urna_board::{BoardSigningKey, Checkpoint, Entry, EntryKind, Frontier, sign_checkpoint};
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_election::record::{CeremonyMessage, PartialChunk, ResultsChunk, TallyChunk};
use urna_election::rules::{TallyAccumulator, ballot_ciphertexts, decrypt_tally, results};
use urna_election::{Election, Timestamp, ballot_header};
use urna_verify::{Options, RecordWriter};

use super::progress;
use super::report::Report;

/// Options of `urna bench verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyBench {
    /// Yes/no ballots in the generated record (one per voter).
    #[arg(long, default_value_t = 100_000)]
    pub ballots: u64,
    /// Folder that keeps the generated record, so that a rerun skips the
    /// generation (default: a temporary folder, removed afterwards).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Ballots per batch verification (default: the verifier's).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Internal: verify `--record` in this process and print the
    /// measurement as JSON (the parent runs this as a child process).
    #[arg(long, hide = true)]
    pub measure_child: bool,
}

/// Written last into the record folder: marks a complete generated record
/// (spec/export.md §X1 lets verifiers ignore other files).
const MARKER: &str = "bench-record.json";

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Marker {
    generator: String,
    ballots: u64,
    entries: u64,
}

const GENERATOR: &str = "urna bench verify 1";

pub(crate) const MANIFEST: &str = r#"
id = "bench-verify"
kind = "referendum"
title = { en = "Verifier benchmark" }
[schedule]
time_zone = "UTC"
applications_open = 2021-08-02T00:00:00Z
applications_close = 2021-09-14T00:00:00Z
voting_opens = 2021-09-17T08:00:00Z
voting_closes = 2021-09-19T20:00:00Z
[revote]
policy = "forbidden"
[reconciliation]
paper_after_evote = "evote-stands"
[trustees]
n = 1
t = 1
[[regions]]
id = "r"
name = "Region"
[[regions.districts]]
id = "d"
name = "District"
precincts = [{ id = "p", name = "Precinct" }]
[[contests]]
id = "q"
kind = "question"
title = "Question"
min = 1
max = 1
options = [{ id = "yes", name = "Yes" }, { id = "no", name = "No" }]
"#;

/// What the child process measures.
#[derive(Debug, Serialize, Deserialize)]
struct Measurement {
    seconds: f64,
    exit_code: i32,
    failed_checks: Vec<String>,
    entries: u64,
    ballots: u64,
    counted: u64,
    /// Peak resident set of the verifying process, KiB (`VmHWM`).
    peak_kib: Option<u64>,
    /// CPU time of the verifying process (all threads), seconds.
    cpu_seconds: Option<f64>,
}

/// Runs the bench and returns the report.
pub fn run(opts: &VerifyBench) -> anyhow::Result<Report> {
    if opts.measure_child {
        let dir = opts
            .record
            .as_deref()
            .ok_or_else(|| anyhow!("--measure-child needs --record"))?;
        let m = measure(dir, opts.batch_size, opts.json)?;
        println!("{}", serde_json::to_string(&m)?);
        std::process::exit(0);
    }
    if opts.ballots == 0 {
        bail!("--ballots must be at least 1");
    }
    let tmp;
    let dir = match &opts.record {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("urna-bench-verify")
                .tempdir()
                .context("creating a temporary folder")?;
            tmp.path().join("record")
        }
    };
    let generated = prepare_record(&dir, opts)?;
    let m = measure_in_child(&dir, opts)?;
    Ok(report(opts, &dir, &m, generated))
}

/// Reuses the record this bench generated in `dir` for the same number of
/// ballots, or generates it (refusing to overwrite a record it did not
/// make). Returns the generation time, if it generated.
fn prepare_record(dir: &Path, opts: &VerifyBench) -> anyhow::Result<Option<f64>> {
    let mut generated = None;
    match read_marker(dir)? {
        Some(m) if m.ballots == opts.ballots && m.generator == GENERATOR => {
            if !opts.json {
                eprintln!(
                    "using the record in {} ({} ballots)",
                    dir.display(),
                    m.ballots
                );
            }
        }
        Some(m) => bail!(
            "{} holds a generated record of {} ballots ({}); give another --record folder or remove it",
            dir.display(),
            m.ballots,
            m.generator
        ),
        None => {
            if dir.join(urna_verify::record::ENTRIES_FILE).exists() {
                bail!(
                    "{} holds a record that this bench did not generate (no {MARKER}); refusing to overwrite it",
                    dir.display()
                );
            }
            // A generation cut short leaves files without the marker.
            if dir.exists() {
                fs::remove_dir_all(dir)
                    .with_context(|| format!("removing the incomplete {}", dir.display()))?;
            }
            let t = Instant::now();
            generate(dir, opts.ballots, opts.json)?;
            generated = Some(t.elapsed().as_secs_f64());
        }
    }

    Ok(generated)
}

/// Runs the verifier on `dir` in a child process (so its peak memory is
/// its own) and checks that the generated record verified.
fn measure_in_child(dir: &Path, opts: &VerifyBench) -> anyhow::Result<Measurement> {
    let exe = std::env::current_exe().context("locating the urna executable")?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "verify", "--measure-child", "--record"])
        .arg(dir)
        .args(["--ballots", &opts.ballots.to_string()]);
    if let Some(b) = opts.batch_size {
        cmd.args(["--batch-size", &b.to_string()]);
    }
    if opts.json {
        cmd.arg("--json");
    }
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the verifier in a child process")?;
    if !out.status.success() {
        bail!("the measuring child process failed: {}", out.status);
    }
    let m: Measurement =
        serde_json::from_slice(&out.stdout).context("reading the child process's measurement")?;
    if m.exit_code != 0 {
        bail!(
            "the generated record did not verify (exit {}; failed: {}) — a bug in the generator or the verifier",
            m.exit_code,
            m.failed_checks.join(", ")
        );
    }
    if m.ballots != opts.ballots {
        bail!(
            "the record holds {} ballots, expected {}",
            m.ballots,
            opts.ballots
        );
    }
    Ok(m)
}

/// The figures of the run.
fn report(opts: &VerifyBench, dir: &Path, m: &Measurement, generated: Option<f64>) -> Report {
    let entries_bytes = fs::metadata(dir.join(urna_verify::record::ENTRIES_FILE))
        .map(|x| x.len())
        .unwrap_or(0);
    let mut report = Report::new(
        "verify",
        serde_json::json!({
            "ballots": opts.ballots,
            "ballot": "yes/no, ballot v2 (option 0 sent and proven 0/1, option 1 derived as 1 − option 0, credential signature)",
            "entries": m.entries,
            "record": dir.display().to_string(),
            "batch_size": opts.batch_size,
        }),
    );
    report.add(
        "verify_ballots_per_s",
        "ballots verified per second (whole record, all checks)",
        m.ballots as f64 / m.seconds,
        "ballots/s",
    );
    report.add("verify_total_s", "total verification time", m.seconds, "s");
    report.add(
        "verify_us_per_ballot",
        "wall time per ballot",
        m.seconds * 1e6 / m.ballots as f64,
        "µs",
    );
    if let Some(cpu) = m.cpu_seconds {
        let threads = rayon::current_num_threads() as f64;
        report.add(
            "verify_cpu_s",
            "CPU time of the verifier, all threads",
            cpu,
            "s",
        );
        report.add(
            "verify_cpu_us_per_ballot",
            "CPU time per ballot",
            cpu * 1e6 / m.ballots as f64,
            "µs",
        );
        report.add(
            "projected_1m_idle_s",
            "projected time for 1,000,000 ballots on these cores if idle (CPU time / threads)",
            cpu * 1e6 / m.ballots as f64 / threads,
            "s",
        );
        report.add(
            "verify_parallel_efficiency",
            "CPU time / (wall time × threads); low means the machine was shared",
            cpu / (m.seconds * threads),
            "",
        );
    }
    if let Some(kib) = m.peak_kib {
        report.add(
            "verify_peak_rss_mib",
            "peak resident set of the verifier (VmHWM)",
            kib as f64 / 1024.0,
            "MiB",
        );
    }
    report.add(
        "record_mib",
        "size of entries.bin",
        entries_bytes as f64 / (1024.0 * 1024.0),
        "MiB",
    );
    report.add(
        "projected_1m_s",
        "projected time for 1,000,000 ballots at this wall-clock rate",
        m.seconds * 1e6 / m.ballots as f64,
        "s",
    );
    if let Some(g) = generated {
        report.add(
            "generate_s",
            "generating the record (untimed part, for information)",
            g,
            "s",
        );
    }
    report
}

fn read_marker(dir: &Path) -> anyhow::Result<Option<Marker>> {
    let path = dir.join(MARKER);
    match fs::read(&path) {
        Ok(b) => Ok(Some(
            serde_json::from_slice(&b).with_context(|| format!("reading {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// CPU time (user + system, all threads) of this process in seconds, from
/// `/proc/self/stat` (fields 14 and 15, in the kernel's fixed 100 Hz
/// USER_HZ). On a shared machine this says what the work costs when wall
/// time says mostly how busy the neighbours were.
pub fn cpu_seconds() -> Option<f64> {
    let s = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Peak resident set of this process in KiB, from `/proc/self/status`.
pub fn peak_rss_kib() -> Option<u64> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn measure(dir: &Path, batch_size: Option<usize>, quiet: bool) -> anyhow::Result<Measurement> {
    let total = fs::metadata(dir.join(urna_verify::record::ENTRIES_FILE))
        .map(|m| m.len())
        .context("the record has no entries.bin")?;
    let pb = progress(total, "verifying (bytes)", quiet);
    let mut on_progress = |p: urna_verify::Progress| pb.set_position(p.bytes);
    let mut options = Options {
        progress: Some(&mut on_progress),
        ..Options::default()
    };
    if let Some(b) = batch_size {
        options.batch_size = b;
    }
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let report = urna_verify::verify(dir, options);
    let seconds = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    pb.finish_and_clear();
    Ok(Measurement {
        seconds,
        exit_code: report.exit_code(),
        failed_checks: report
            .failed_checks()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        entries: report.summary.entries,
        ballots: report.summary.ballots,
        counted: report.summary.counted,
        peak_kib: peak_rss_kib(),
        cpu_seconds: cpu,
    })
}

/// Appends entries to the record and the tree, handing out a signed
/// checkpoint now and then as a board would.
struct Sink {
    writer: RecordWriter,
    frontier: Frontier,
    key: BoardSigningKey,
}

impl Sink {
    fn push(&mut self, e: &Entry) -> anyhow::Result<()> {
        self.writer.append(e)?;
        self.frontier.push(e.leaf_hash())?;
        Ok(())
    }

    fn checkpoint(&mut self) -> anyhow::Result<urna_board::SignedNote> {
        let cp = Checkpoint::new(self.key.name(), self.frontier.size(), self.frontier.root())?;
        Ok(sign_checkpoint(&self.key, &cp)?)
    }

    fn hand_out(&mut self) -> anyhow::Result<()> {
        let note = self.checkpoint()?;
        self.writer.add_checkpoint(self.frontier.size(), &note)?;
        Ok(())
    }
}

#[allow(clippy::boxed_local)] // the engine's step error is boxed
fn stuck<S: std::fmt::Debug>(s: Box<urna_election::Stuck<S>>) -> anyhow::Error {
    anyhow!("election step failed: {}", s.error)
}

/// Ballots encrypted per parallel step; bounds the generator's memory.
const GEN_CHUNK: u64 = 4096;

fn credential(master: u64, i: u64) -> CredentialKey {
    CredentialKey::generate(&mut ChaCha20Rng::seed_from_u64(master ^ (i << 1)))
}

/// Generates a whole election with `n` voters who each cast one yes/no
/// ballot, through the election engine up to the open, then ballots
/// written straight to the record (the engine would hold them all in
/// memory), then the close, the tally, one trustee's partial decryption
/// and the results.
fn generate(dir: &Path, n: u64, quiet: bool) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let master: u64 = rng.random();
    let (mut e, out) = Election::new(MANIFEST.as_bytes())?
        .publish()
        .map_err(stuck)?;
    let m = e.manifest().clone();
    let key = BoardSigningKey::generate("bench.urna.example/bench-verify", &mut rng)?;
    let mut sink = Sink {
        writer: RecordWriter::create(dir, &key.verifier_key())
            .with_context(|| format!("creating the record in {}", dir.display()))?,
        frontier: Frontier::new(),
        key,
    };
    for en in &out {
        sink.push(en)?;
    }
    // One trustee (t = n = 1) through the real ceremony.
    let tr = Trustee::new(
        CeremonyParams::new(1, 1)?,
        1,
        m.hash(),
        KeyPair::generate(&mut rng),
    )?;
    let (r1, msg1) = tr.start(&mut rng);
    sink.push(&e.accept(&CeremonyMessage::Round1(msg1.clone()).encode())?)?;
    let (r2, msg2) = r1.deal(&[msg1], &mut rng)?;
    sink.push(&e.accept(&CeremonyMessage::Round2(msg2.clone()).encode())?)?;
    let q = r2.receive(&[msg2], &mut rng).0.finish(&[], &mut rng)?;
    let share = q.key_share().clone();
    let (mut e, out) = e.finish(&mut rng).map_err(stuck)?;
    for en in &out {
        sink.push(en)?;
    }
    sink.hand_out()?;
    let keys = e.keys().clone();

    // Registration: credentials made from per-voter seeds, so the ballot
    // pass can remake each key instead of holding a million of them.
    let pb = progress(n, "registering voters", quiet);
    let app = Timestamp::parse_rfc3339("2021-09-01T00:00:00Z").map_err(|e| anyhow!(e))?;
    let mut start = 0;
    while start < n {
        let end = (start + GEN_CHUNK * 4).min(n);
        let pubs: Vec<_> = (start..end)
            .into_par_iter()
            .map(|i| *credential(master, i).public())
            .collect();
        for c in pubs {
            e.register("d", c, app)?;
        }
        pb.set_position(end);
        start = end;
    }
    pb.finish_and_clear();
    let (_voting, out) = e.open(m.schedule().voting_opens).map_err(stuck)?;
    for en in &out {
        sink.push(en)?;
    }
    sink.hand_out()?;

    let header = ballot_header(&m, "d")?;
    let shapes = m
        .style_of("d")
        .ok_or_else(|| anyhow!("no ballot style for district d"))?
        .shapes
        .clone();
    let mut acc = TallyAccumulator::new(&m);
    let pb = progress(n, "encrypting ballots", quiet);
    let mut start = 0;
    let mut next_checkpoint = n / 4;
    while start < n {
        let end = (start + GEN_CHUNK).min(n);
        let made: Vec<anyhow::Result<Ballot>> = (start..end)
            .into_par_iter()
            .map(|i| {
                let c = credential(master, i);
                let mut r = ChaCha20Rng::seed_from_u64(master ^ ((i << 1) | 1));
                let sel = vec![if i % 3 == 0 { vec![1, 0] } else { vec![0, 1] }];
                let (b, _) = Ballot::encrypt(
                    &keys.key,
                    &keys.fingerprint,
                    &c,
                    &header,
                    &shapes,
                    &sel,
                    &mut r,
                )?;
                Ok(b)
            })
            .collect();
        for b in made {
            let b = b?;
            sink.push(&Entry::new(EntryKind::Ballot, &b.encode()?)?)?;
            acc.add(0, &ballot_ciphertexts(&b));
        }
        pb.set_position(end);
        if end >= next_checkpoint && end < n {
            sink.hand_out()?;
            next_checkpoint += n / 4;
        }
        start = end;
    }
    pb.finish_and_clear();

    // voting_closed (record.md §R8), written by hand like the ballots.
    let mut closed = vec![1u8];
    closed.extend_from_slice(m.hash());
    closed.extend_from_slice(&(m.schedule().voting_closes.unix() as u64).to_be_bytes());
    closed.extend_from_slice(&n.to_be_bytes());
    closed.extend_from_slice(&0u64.to_be_bytes());
    sink.push(&Entry::new(EntryKind::VotingClosed, &closed)?)?;
    let records = acc.records(&m);
    for p in TallyChunk::payloads(&records)? {
        sink.push(&Entry::new(EntryKind::AdminAction, &p)?)?;
    }
    let items = urna_election::rules::tally_items(&records);
    let partials = share.partial_decrypt_batch(&keys.fingerprint, &items, &mut rng);
    for p in PartialChunk::payloads(1, &partials)? {
        sink.push(&Entry::new(EntryKind::PartialDecryption, &p)?)?;
    }
    let counts = decrypt_tally(&m, 1, &records, &[&partials[..]])?;
    for p in ResultsChunk::payloads(&results(&m, &records, &counts)?)? {
        sink.push(&Entry::new(EntryKind::Results, &p)?)?;
    }
    let entries = sink.frontier.size();
    let last = sink.checkpoint()?;
    sink.writer.finish(&last)?;
    let marker = Marker {
        generator: GENERATOR.into(),
        ballots: n,
        entries,
    };
    fs::write(dir.join(MARKER), serde_json::to_vec_pretty(&marker)?)?;
    Ok(())
}
