//! `urna bench restart`: how long a restarted server takes to accept
//! ballots again on a big board (issue 11 item 6), from the latest
//! election-state snapshot plus the tail (spec/api.md §A6.3) and by
//! replaying the whole board (§A6.1), on SQLite and, with `--postgres
//! URL`, on PostgreSQL.
//!
//! The board is built once and kept in `--dir` (every ballot really
//! encrypted, proven and signed, in parallel, appended in large batches),
//! with a few spare voters' ballots kept aside. Each measurement is a
//! child process timed from its start until a spare voter's ballot is
//! accepted over HTTP (a receipt): it opens the store, resumes the
//! election and listens on loopback. The full replay runs first; after
//! its ballot it takes a snapshot (spec/api.md §A6.3) and casts one more,
//! so the restart from the snapshot then replays a tail of one ballot.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use urna_board::{BoardSigningKey, Entry, EntryKind};
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_election::record::CeremonyMessage;
use urna_election::{Election, Timestamp, ballot_header};
use urna_server::election::{AdminToken, TestClock};
use urna_server::{AppState, ElectionConfig};
use urna_store::{BoardStore, PostgresBackend, PostgresOptions, StoreOptions};

use super::progress;
use super::report::Report;

/// Options of `urna bench restart`.
#[derive(Debug, Clone, clap::Args)]
pub struct RestartBench {
    /// Ballots on the board (one per voter).
    #[arg(long, default_value_t = 1_000_000)]
    pub ballots: u64,
    /// Folder that keeps the built board (SQLite) and the journals, so
    /// that a rerun goes straight to the measurements.
    #[arg(long, default_value = "bench-restart")]
    pub dir: PathBuf,
    /// Also measure on this PostgreSQL database (the board is built once
    /// in schema `urna_bench_restart_<ballots>` and kept there).
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Internal: the measuring child (`sqlite` or a PostgreSQL URL).
    #[arg(long, hide = true)]
    pub measure_child: Option<String>,
    /// Internal: the child replays the whole board, then takes a
    /// snapshot after its first ballot and casts one more (the tail of the
    /// next restart).
    #[arg(long, hide = true)]
    pub full: bool,
}

const GENERATOR: &str = "urna bench restart 1";
const MARKER: &str = "bench-restart.json";
const SPARE: u64 = 256;
const ORIGIN: &str = "bench.urna.example/bench-restart";
/// Ballots encrypted per parallel step, appended as one ordered batch.
const CHUNK: u64 = 4096;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Marker {
    generator: String,
    ballots: u64,
    entries: u64,
}

/// What a measuring child reports.
#[derive(Debug, Serialize, Deserialize)]
struct Measurement {
    open_s: f64,
    resume_s: f64,
    /// From the child's start to its first accepted ballot.
    ready_s: f64,
    snapshot: Option<u64>,
    replayed: u64,
    board_size: u64,
    /// The full-replay child's snapshot: bytes and engine lock time.
    snapshot_bytes: Option<u64>,
    snapshot_locked_ms: Option<f64>,
}

fn credential(master: u64, i: u64) -> CredentialKey {
    CredentialKey::generate(&mut ChaCha20Rng::seed_from_u64(master ^ (i << 1)))
}

fn sqlite_dir(dir: &Path) -> PathBuf {
    dir.join("sqlite")
}

fn pg_dir(dir: &Path) -> PathBuf {
    dir.join("postgres")
}

fn schema(ballots: u64) -> String {
    format!("urna_bench_restart_{ballots}")
}

fn open_store(
    target: &str,
    dir: &Path,
    key: BoardSigningKey,
    ballots: u64,
) -> anyhow::Result<BoardStore> {
    if target == "sqlite" {
        return Ok(BoardStore::open_sqlite(dir.join("board.db"), key)?);
    }
    let backend = PostgresBackend::open(target, &PostgresOptions::with_schema(&schema(ballots)))
        .context("opening the PostgreSQL board")?;
    Ok(BoardStore::open(backend, key, StoreOptions::default())?)
}

fn key(dir: &Path) -> anyhow::Result<BoardSigningKey> {
    let text = fs::read_to_string(dir.join("board.key"))?;
    let secret: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("bad board.key in {}", dir.display()))?;
    Ok(BoardSigningKey::from_secret_bytes(ORIGIN, &secret)?)
}

/// The server's clock during the measurements: inside the voting window.
fn voting_clock() -> anyhow::Result<Timestamp> {
    Timestamp::parse_rfc3339("2021-09-18T12:00:00Z").map_err(|e| anyhow!(e))
}

fn config(full: bool) -> anyhow::Result<ElectionConfig> {
    let mut c = ElectionConfig::new(AdminToken::disabled())
        .with_clock(Arc::new(TestClock::new(voting_clock()?)));
    c.snapshot_every = 0;
    c.resume_from_snapshot = !full;
    Ok(c)
}

/// One registration record of the server journal (spec/api.md §A6.2).
fn journal_registration(out: &mut Vec<u8>, credential: &[u8; 32]) {
    let start = out.len();
    out.push(1);
    out.extend_from_slice(credential);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let check = Sha256::digest(&out[start..]);
    out.extend_from_slice(&check[..4]);
}

#[allow(clippy::boxed_local)] // the engine's step error is boxed
fn stuck<S: std::fmt::Debug>(s: Box<urna_election::Stuck<S>>) -> anyhow::Error {
    anyhow!("election step failed: {}", s.error)
}

/// Builds the board in `store` and the journal and spare ballots in `dir`.
fn build(store: &BoardStore, dir: &Path, n: u64, quiet: bool) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let master: u64 = rng.random();
    let (mut e, out) = Election::new(super::verify::MANIFEST.as_bytes())?
        .publish()
        .map_err(stuck)?;
    let m = e.manifest().clone();
    store.append_ordered(out)?;
    let tr = Trustee::new(
        CeremonyParams::new(1, 1)?,
        1,
        m.hash(),
        KeyPair::generate(&mut rng),
    )?;
    let (r1, msg1) = tr.start(&mut rng);
    store.append(e.accept(&CeremonyMessage::Round1(msg1.clone()).encode())?)?;
    let (_r2, msg2) = r1.deal(&[msg1], &mut rng)?;
    store.append(e.accept(&CeremonyMessage::Round2(msg2).encode())?)?;
    let (mut e, out) = e.finish(&mut rng).map_err(stuck)?;
    store.append_ordered(out)?;
    let keys = e.keys().clone();

    let voters = n + SPARE;
    let pb = progress(voters, "registering voters", quiet);
    let app = Timestamp::parse_rfc3339("2021-09-01T00:00:00Z").map_err(|e| anyhow!(e))?;
    let mut journal = b"URNA-SJ1".to_vec();
    let mut start = 0;
    while start < voters {
        let end = (start + CHUNK * 4).min(voters);
        let pubs: Vec<_> = (start..end)
            .into_par_iter()
            .map(|i| *credential(master, i).public())
            .collect();
        for c in pubs {
            e.register("d", c, app)?;
            journal_registration(&mut journal, c.as_bytes());
        }
        pb.set_position(end);
        start = end;
    }
    pb.finish_and_clear();
    // Durable before the sealed lists, as the server does.
    let mut f = fs::File::create(dir.join("server.journal"))?;
    f.write_all(&journal)?;
    f.sync_all()?;
    let (_voting, out) = e.open(m.schedule().voting_opens).map_err(stuck)?;
    store.append_ordered(out)?;

    let header = ballot_header(&m, "d")?;
    let shapes = m
        .style_of("d")
        .ok_or_else(|| anyhow!("no ballot style for district d"))?
        .shapes
        .clone();
    let make = |i: u64| -> anyhow::Result<Vec<u8>> {
        let c = credential(master, i);
        let mut r = ChaCha20Rng::seed_from_u64(master ^ ((i << 1) | 1));
        let sel = vec![if i.is_multiple_of(3) {
            vec![1, 0]
        } else {
            vec![0, 1]
        }];
        let (b, _) = Ballot::encrypt(
            &keys.key,
            &keys.fingerprint,
            &c,
            &header,
            &shapes,
            &sel,
            &mut r,
        )?;
        Ok(b.encode()?)
    };
    let pb = progress(n, "encrypting and appending", quiet);
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let made: Vec<anyhow::Result<Vec<u8>>> = (start..end).into_par_iter().map(make).collect();
        let mut entries = Vec::with_capacity(made.len());
        for b in made {
            entries.push(Entry::new(EntryKind::Ballot, &b?)?);
        }
        store.append_ordered(entries)?;
        pb.set_position(end);
        start = end;
    }
    pb.finish_and_clear();
    let spare: Vec<anyhow::Result<Vec<u8>>> = (n..voters).into_par_iter().map(make).collect();
    let mut bytes = Vec::new();
    for b in spare {
        let b = b?;
        bytes.extend_from_slice(&(b.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&b);
    }
    fs::write(dir.join("spare.bin"), bytes)?;
    Ok(())
}

/// Builds (or reuses) the board of `target` in `dir`.
fn prepare(
    target: &str,
    dir: &Path,
    opts: &RestartBench,
    report: &mut Report,
) -> anyhow::Result<()> {
    match read_marker(dir)? {
        Some(m) if m.ballots == opts.ballots && m.generator == GENERATOR => {
            if !opts.json {
                eprintln!(
                    "using the board in {} ({} ballots)",
                    dir.display(),
                    m.ballots
                );
            }
            return Ok(());
        }
        Some(m) => bail!(
            "{} holds a board of {} ballots; give another --dir or remove it",
            dir.display(),
            m.ballots
        ),
        None => {}
    }
    if dir.exists() {
        fs::remove_dir_all(dir)
            .with_context(|| format!("removing the incomplete {}", dir.display()))?;
    }
    fs::create_dir_all(dir)?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    fs::write(dir.join("board.key"), hex::encode(secret))?;
    if target != "sqlite" {
        // A board left by a build cut short.
        urna_store::drop_postgres_schema(target, &schema(opts.ballots))
            .context("dropping an old bench schema")?;
    }
    let label = if target == "sqlite" { "" } else { "pg_" };
    let t = Instant::now();
    let store = open_store(target, dir, key(dir)?, opts.ballots)?;
    build(&store, dir, opts.ballots, opts.json)?;
    let entries = store.size();
    report.add(
        &format!("{label}build_s"),
        "building the board (encrypting every ballot, appending)",
        t.elapsed().as_secs_f64(),
        "s",
    );
    drop(store);
    let marker = Marker {
        generator: GENERATOR.into(),
        ballots: opts.ballots,
        entries,
    };
    fs::write(dir.join(MARKER), serde_json::to_vec_pretty(&marker)?)?;
    Ok(())
}

fn read_marker(dir: &Path) -> anyhow::Result<Option<Marker>> {
    let path = dir.join(MARKER);
    match fs::read(&path) {
        Ok(b) => Ok(Some(serde_json::from_slice(&b)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The child: open, resume, listen, cast until a spare ballot is accepted.
fn measure(target: &str, dir: &Path, ballots: u64, full: bool) -> anyhow::Result<Measurement> {
    let t0 = Instant::now();
    let store = open_store(target, dir, key(dir)?, ballots)?;
    let open_s = t0.elapsed().as_secs_f64();
    let t = Instant::now();
    let (state, report) =
        AppState::resume(store.clone(), config(full)?, &dir.join("server.journal"))
            .map_err(|e| anyhow!("resuming: {e}"))?;
    let resume_s = t.elapsed().as_secs_f64();
    let election = state.election().clone();
    let spare = fs::read(dir.join("spare.bin"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/election/ballots", listener.local_addr()?);
    runtime.spawn(async move {
        let _ = urna_server::serve(listener, state, std::future::pending::<()>()).await;
    });
    let mut at = 0;
    let mut cast = || -> anyhow::Result<()> {
        loop {
            let Some(len) = spare.get(at..at + 4) else {
                bail!(
                    "every spare ballot was used: rebuild the board (remove {})",
                    dir.display()
                );
            };
            let len = u32::from_be_bytes(len.try_into()?) as usize;
            let b = spare
                .get(at + 4..at + 4 + len)
                .ok_or_else(|| anyhow!("spare.bin is torn"))?;
            at += 4 + len;
            let body = serde_json::json!({ "ballot": hex::encode(b) }).to_string();
            match ureq::post(&url)
                .header("Content-Type", "application/json")
                .send(&body)
            {
                Ok(_) => return Ok(()),
                // Used by an earlier run (re-vote forbidden): the next one.
                Err(ureq::Error::StatusCode(409)) => continue,
                Err(e) => bail!("casting a ballot: {e}"),
            }
        }
    };
    cast()?;
    let ready_s = t0.elapsed().as_secs_f64();
    let (mut snapshot_bytes, mut snapshot_locked_ms) = (None, None);
    if full {
        let taken = runtime
            .block_on(election.snapshot_now())
            .map_err(|e| anyhow!("taking the snapshot: {e}"))?
            .ok_or_else(|| anyhow!("the election is not voting"))?;
        snapshot_bytes = Some(taken.bytes);
        snapshot_locked_ms = Some(taken.locked.as_secs_f64() * 1e3);
        cast()?;
    }
    Ok(Measurement {
        open_s,
        resume_s,
        ready_s,
        snapshot: report.snapshot,
        replayed: report.ballots,
        board_size: store.size(),
        snapshot_bytes,
        snapshot_locked_ms,
    })
}

fn run_child(target: &str, opts: &RestartBench, full: bool) -> anyhow::Result<(Measurement, f64)> {
    let exe = std::env::current_exe().context("locating the urna executable")?;
    let mut cmd = Command::new(exe);
    // The child finds its folder under `--dir` as the parent does.
    cmd.args(["bench", "restart", "--measure-child", target, "--dir"])
        .arg(&opts.dir)
        .args(["--ballots", &opts.ballots.to_string()]);
    if full {
        cmd.arg("--full");
    }
    let t = Instant::now();
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the measuring child process")?;
    let wall = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("the measuring child process failed: {}", out.status);
    }
    Ok((serde_json::from_slice(&out.stdout)?, wall))
}

fn add(report: &mut Report, prefix: &str, what: &str, m: &Measurement, wall: f64) {
    report.add(
        &format!("{prefix}ready_s"),
        &format!("{what}: process start to first ballot accepted"),
        wall,
        "s",
    );
    report.add(
        &format!("{prefix}open_s"),
        &format!("{what}: opening the store"),
        m.open_s,
        "s",
    );
    report.add(
        &format!("{prefix}resume_s"),
        &format!("{what}: resuming the election"),
        m.resume_s,
        "s",
    );
    report.add(
        &format!("{prefix}replayed"),
        &format!("{what}: ballots replayed (board size {})", m.board_size),
        m.replayed as f64,
        "",
    );
}

/// Runs the bench and returns the report.
pub fn run(opts: &RestartBench) -> anyhow::Result<Report> {
    if let Some(target) = &opts.measure_child {
        let dir = if target == "sqlite" {
            sqlite_dir(&opts.dir)
        } else {
            pg_dir(&opts.dir)
        };
        let m = measure(target, &dir, opts.ballots, opts.full)?;
        println!("{}", serde_json::to_string(&m)?);
        std::process::exit(0);
    }
    if opts.ballots == 0 {
        bail!("--ballots must be at least 1");
    }
    let mut report = Report::new(
        "restart",
        serde_json::json!({
            "ballots": opts.ballots,
            "ballot": "yes/no, one per voter, revote forbidden",
            "dir": opts.dir.display().to_string(),
            "threads": rayon::current_num_threads(),
        }),
    );
    let mut targets = vec![("sqlite".to_string(), sqlite_dir(&opts.dir), "", "SQLite")];
    if let Some(url) = &opts.postgres {
        targets.push((url.clone(), pg_dir(&opts.dir), "pg_", "PostgreSQL"));
    }
    for (target, dir, prefix, name) in targets {
        prepare(&target, &dir, opts, &mut report)?;
        // The full replay first: it also takes the snapshot (after its
        // first ballot) that the next restart starts from.
        let (m, wall) = run_child(&target, opts, true)?;
        add(
            &mut report,
            &format!("{prefix}full_"),
            &format!("{name}, full replay"),
            &m,
            wall,
        );
        if let (Some(b), Some(ms)) = (m.snapshot_bytes, m.snapshot_locked_ms) {
            report.add(
                &format!("{prefix}snapshot_mib"),
                &format!("{name}: snapshot size"),
                b as f64 / (1024.0 * 1024.0),
                "MiB",
            );
            report.add(
                &format!("{prefix}snapshot_locked_ms"),
                &format!("{name}: engine lock held to take it (ballots wait)"),
                ms,
                "ms",
            );
        }
        let (m, wall) = run_child(&target, opts, false)?;
        if m.snapshot.is_none() {
            bail!("the restart on {name} did not use the snapshot");
        }
        add(
            &mut report,
            &format!("{prefix}snapshot_"),
            &format!("{name}, from the snapshot"),
            &m,
            wall,
        );
    }
    Ok(report)
}
