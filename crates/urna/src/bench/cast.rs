//! `urna bench cast`: casting throughput end to end. N valid ballots for N
//! registered credentials are built first (not timed); then a load
//! generator on the same machine POSTs them over HTTP, `concurrency` at a
//! time, to the real server (urna-server on a loopback socket, durable
//! board): decoding, batched proof verification, the engine's rules, the
//! durable append and the receipt are all inside the figure.
//!
//! One run measures the SQLite single server and, with `--postgres URL`,
//! the same on PostgreSQL with each process count of `--processes`, side
//! by side. The load generator streams: it keeps counters and a latency
//! histogram, never the answers (a receipt is about 10 KB); one receipt in
//! `--check-every` is checked in full as a device would, as it arrives.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context, ensure};
use hdrhistogram::Histogram;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;
use urna_board::EntryKind;
use urna_crypto::dkg::CeremonyParams;
use urna_election::Manifest;

use super::progress;
use super::report::Report;
use crate::demo::devices::{Style, fetch_styles};
use crate::demo::http_client::Api;
use crate::demo::par::concurrent;
use crate::demo::receipts::{Receipt, ReceiptChecker};
use crate::demo::server::LocalServer;
use crate::demo::{client_runtime, commission, manifest_text, random_token};

/// Options of `urna bench cast`.
#[derive(Debug, Clone, clap::Args)]
pub struct CastBench {
    /// Ballots cast (one per registered credential), in each setup.
    #[arg(long, default_value_t = 20_000)]
    pub ballots: usize,
    /// Requests in flight at once (HTTP connections).
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Directory for the board (default: a temporary directory, removed
    /// afterwards). It should be on the disk the board will use.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also cast on a PostgreSQL board (a schema of its own in this
    /// database, dropped afterwards), after the SQLite run.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// With `--postgres`: numbers of server processes on the one database,
    /// each measured in turn (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub processes: Vec<usize>,
    /// Check one receipt in this many in full (signature and inclusion
    /// proof) while casting; every answer is counted.
    #[arg(long, default_value_t = 16)]
    pub check_every: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Deserialize)]
struct Status {
    verifier: VerifierStats,
}

#[derive(Deserialize)]
struct VerifierStats {
    batches: u64,
    ballots: u64,
}

/// One setup measured: a board and a number of server processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Sqlite,
    Postgres(usize),
}

impl Setup {
    fn label(self) -> String {
        match self {
            Setup::Sqlite => "SQLite, 1 process".into(),
            Setup::Postgres(1) => "PostgreSQL, 1 process".into(),
            Setup::Postgres(n) => format!("PostgreSQL, {n} processes"),
        }
    }

    fn key(self) -> String {
        match self {
            Setup::Sqlite => "sqlite".into(),
            Setup::Postgres(n) => format!("pg{n}"),
        }
    }
}

/// Runs the bench and returns the report.
pub fn run(opts: &CastBench) -> anyhow::Result<Report> {
    ensure!(opts.ballots >= 1, "--ballots must be at least 1");
    ensure!(opts.concurrency >= 1, "--concurrency must be at least 1");
    ensure!(opts.check_every >= 1, "--check-every must be at least 1");
    let mut setups = vec![Setup::Sqlite];
    if opts.postgres.is_some() {
        for &n in &opts.processes {
            ensure!(n >= 1, "--processes: each count must be at least 1");
            setups.push(Setup::Postgres(n));
        }
    }
    let mut report = Report::new(
        "cast",
        json!({
            "ballots": opts.ballots,
            "concurrency": opts.concurrency,
            "ballot": "yes/no (2 options, 1 of 2)",
            "sqlite": "WAL, synchronous=FULL",
            "transport": "HTTP/1.1 over loopback TCP, keep-alive",
            "receipts_checked": format!("1 in {}", opts.check_every),
        }),
    );
    for setup in setups {
        let Some(timed) = run_setup(opts, setup, &mut report)? else {
            continue;
        };
        // The SQLite figures keep their plain names (`accepted_per_s`,
        // `errors` …); the others are prefixed (`pg1_accepted_per_s`).
        let name = match setup {
            Setup::Sqlite => "errors".to_owned(),
            other => format!("{}_errors", other.key()),
        };
        if let Some(params) = report.params.as_object_mut() {
            params.insert(name, timed.errors_json());
        }
        timed.add_to(&mut report, setup);
    }
    Ok(report)
}

/// One setup from a fresh board to its figures; `None` (with a note) when
/// this build cannot run it.
fn run_setup(opts: &CastBench, setup: Setup, report: &mut Report) -> anyhow::Result<Option<Timed>> {
    let quiet = opts.json;
    let tmp = tempfile::tempdir()?;
    let base = opts.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let dir = base.join(setup.key());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let id = "bench-cast";
    let text = manifest_text(3, 2, 1, id);
    let m = Manifest::from_bytes(text.as_bytes()).map_err(|e| anyhow::anyhow!("manifest: {e}"))?;
    let token = random_token();
    let origin = format!("bench.urna.example/{id}");
    let now = m.schedule().applications_open.plus_seconds(3600);
    let schema = format!("urna_bench_cast_{}_{}", std::process::id(), setup.key());
    let server = match (setup, &opts.postgres) {
        (Setup::Sqlite, _) => LocalServer::start(&dir, &origin, &token, now)?,
        (Setup::Postgres(1), Some(url)) => {
            LocalServer::start_postgres(&dir, url, &schema, &origin, &token, now)?
        }
        (Setup::Postgres(n), _) => {
            report.note(&format!(
                "{}: not measured: {n} `urna serve` processes on one PostgreSQL need the \
                 several-server mode (issue 11 item 3, lease and forwarding), not in this build",
                setup.label()
            ));
            return Ok(None);
        }
    };
    let result = measure(opts, &server, &text, &m, &token, quiet);
    let stopped = server.stop();
    if let (Setup::Postgres(_), Some(url)) = (setup, &opts.postgres) {
        urna_store::drop_postgres_schema(url, &schema).context("dropping the bench schema")?;
    }
    let timed = result?;
    stopped?;
    Ok(Some(timed))
}

/// Sets up the election on `server`, casts every ballot, checks the counts.
fn measure(
    opts: &CastBench,
    server: &LocalServer,
    text: &str,
    m: &Manifest,
    token: &str,
    quiet: bool,
) -> anyhow::Result<Timed> {
    let rt = client_runtime()?;
    let api = rt.block_on(async { Api::new(server.addr, Some(token.to_owned())) });
    let ballots = set_up(&rt, &api, server, text, m, opts.ballots, quiet)?;
    let before: Status = rt.block_on(api.get_ok("/election/status"))?;
    let checker = Arc::new(ReceiptChecker::new(server.board_key.clone()));
    let mut timed = cast_all(
        &rt,
        std::slice::from_ref(&api),
        &Arc::new(ballots),
        opts,
        &checker,
        quiet,
    )?;
    let after: Status = rt.block_on(api.get_ok("/election/status"))?;
    let batches = after.verifier.batches - before.verifier.batches;
    let batched = after.verifier.ballots - before.verifier.ballots;
    timed.batch_mean = batched as f64 / batches.max(1) as f64;
    let turnout = rt.block_on(crate::demo::turnout_ballots(&api))?;
    let accepted = timed.accepted;
    ensure!(
        turnout == accepted,
        "the server's turnout counts {turnout} ballots, the load generator {accepted} receipts"
    );
    Ok(timed)
}

/// Setup, not timed: manifest, ceremony, `n` credentials, open, `n`
/// ballots. Returns each ballot's bytes and the body that casts it.
fn set_up(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    server: &LocalServer,
    text: &str,
    m: &Manifest,
    n: usize,
    quiet: bool,
) -> anyhow::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let schedule = m.schedule();
    rt.block_on(commission::publish_manifest(api, text))?;
    let params = CeremonyParams::new(3, 2)?;
    commission::ceremony(rt, api, params, m.hash())?;
    let creds = commission::register_new_voters(rt, api, m, n, 64, quiet)?;
    server.clock.set(schedule.voting_opens.plus_seconds(600));
    rt.block_on(commission::admin(api, "/election/open", None))?;
    let ids: Vec<String> = m.districts().iter().map(|d| d.id.clone()).collect();
    let styles: Vec<Arc<Style>> = rt.block_on(fetch_styles(api, &ids, ids.len(), 4))?;
    let pb = progress(n as u64, "building ballots", quiet);
    let ballots: Vec<(Vec<u8>, Vec<u8>)> = creds
        .par_iter()
        .enumerate()
        .map(|(v, c)| {
            let (b, _) = styles[v % styles.len()].encrypt(c, (v % 2) as u64, &mut rand::rng())?;
            let body = serde_json::to_vec(&json!({ "ballot": hex::encode(&b) }))?;
            pb.inc(1);
            Ok((b, body))
        })
        .collect::<anyhow::Result<_>>()?;
    pb.finish_and_clear();
    Ok(ballots)
}

/// What the timed run measured: counters and a histogram, no answer kept.
struct Timed {
    accepted: u64,
    /// Receipts checked in full, all valid (a bad one is an error).
    checked: u64,
    errors: BTreeMap<String, u64>,
    /// Microseconds from POST to the full answer.
    latency: Histogram<u64>,
    wall: f64,
    cpu: BTreeMap<&'static str, f64>,
    batch_mean: f64,
}

impl Timed {
    fn errors_json(&self) -> serde_json::Value {
        self.errors
            .iter()
            .map(|(c, k)| json!({ "code": c, "count": k }))
            .collect::<Vec<_>>()
            .into()
    }
}

/// The load generator's running totals, shared by its tasks.
struct Tally {
    accepted: u64,
    checked: u64,
    errors: BTreeMap<String, u64>,
    latency: Histogram<u64>,
}

impl Tally {
    fn error(&mut self, code: String) {
        *self.errors.entry(code).or_default() += 1;
    }
}

/// Timed: every ballot POSTed, `concurrency` in flight, spread over the
/// servers in turn; each answer is counted as it arrives and dropped.
fn cast_all(
    rt: &tokio::runtime::Runtime,
    apis: &[Api],
    ballots: &Arc<Vec<(Vec<u8>, Vec<u8>)>>,
    opts: &CastBench,
    checker: &Arc<ReceiptChecker>,
    quiet: bool,
) -> anyhow::Result<Timed> {
    let n = ballots.len();
    // 1 µs to 10 minutes at 3 significant digits: about 50 KB.
    let latency = Histogram::new_with_bounds(1, 600_000_000, 3)
        .map_err(|e| anyhow::anyhow!("latency histogram: {e}"))?;
    let tally = Arc::new(Mutex::new(Tally {
        accepted: 0,
        checked: 0,
        errors: BTreeMap::new(),
        latency,
    }));
    let pb = progress(n as u64, "casting over HTTP", quiet);
    let cpu_before = super::cpu::by_group();
    let start = Instant::now();
    {
        let apis: Arc<Vec<Api>> = Arc::new(apis.to_vec());
        let (ballots, pb, tally) = (Arc::clone(ballots), pb.clone(), Arc::clone(&tally));
        let (checker, every) = (Arc::clone(checker), opts.check_every);
        rt.block_on(concurrent(n, opts.concurrency, move |i| {
            let (apis, ballots, pb) = (Arc::clone(&apis), Arc::clone(&ballots), pb.clone());
            let (tally, checker) = (Arc::clone(&tally), Arc::clone(&checker));
            async move {
                let api = &apis[i % apis.len()];
                let (bytes, body) = &ballots[i];
                let t = Instant::now();
                let answer = api
                    .send(
                        ureq::http::Method::POST,
                        "/election/ballots",
                        false,
                        Some(("application/json", body.clone())),
                    )
                    .await;
                let micros = (t.elapsed().as_micros() as u64).max(1);
                let verdict = match answer {
                    Ok(r) if r.status.is_success() && i % every == 0 => {
                        serde_json::from_slice::<Receipt>(&r.body)
                            .map_err(anyhow::Error::from)
                            .and_then(|rc| checker.check(&rc, EntryKind::Ballot, bytes, bytes))
                            .map(|()| true)
                            .map_err(|e| format!("bad receipt: {e:#}"))
                    }
                    Ok(r) if r.status.is_success() => Ok(false),
                    Ok(r) => Err(r
                        .error_code()
                        .unwrap_or_else(|| format!("http {}", r.status.as_u16()))),
                    Err(e) => Err(format!("transport: {e:#}")),
                };
                let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
                // Beyond the bounds only if a request took over 10 minutes.
                let _ = t.latency.record(micros);
                match verdict {
                    Ok(full) => {
                        t.accepted += 1;
                        t.checked += u64::from(full);
                    }
                    Err(code) => t.error(code),
                }
                drop(t);
                pb.inc(1);
                Ok(())
            }
        }))?;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = super::cpu::delta(&cpu_before, &super::cpu::by_group());
    pb.finish_and_clear();
    let tally = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("a client task outlived the run"))?
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    Ok(Timed {
        accepted: tally.accepted,
        checked: tally.checked,
        errors: tally.errors,
        latency: tally.latency,
        wall,
        cpu,
        batch_mean: 0.0,
    })
}

impl Timed {
    /// This setup's figures, labelled with it; named `<setup>_<figure>`
    /// except SQLite's, which keep the plain names.
    fn add_to(&self, report: &mut Report, setup: Setup) {
        let (key, label) = (setup.key(), setup.label());
        let mut add = |name: &str, what: &str, value: f64, unit: &'static str| {
            let name = match setup {
                Setup::Sqlite => name.to_owned(),
                Setup::Postgres(_) => format!("{key}_{name}"),
            };
            report.add(&name, &format!("{label}: {what}"), value, unit);
        };
        let failed: u64 = self.errors.values().sum();
        let accepted = self.accepted;
        add(
            "accepted_per_s",
            "accepted ballots/s (HTTP, verify, durable append, receipt)",
            accepted as f64 / self.wall,
            "/s",
        );
        add("accepted", "ballots accepted", accepted as f64, "ballots");
        add(
            "receipts_checked",
            "receipts checked in full",
            self.checked as f64,
            "ballots",
        );
        add(
            "errors",
            "submissions not accepted",
            failed as f64,
            "ballots",
        );
        add("wall_s", "wall time of the timed run", self.wall, "s");
        for (name, what, q) in [
            ("latency_p50_ms", "latency p50 (POST until receipt)", 0.50),
            ("latency_p90_ms", "latency p90", 0.90),
            ("latency_p99_ms", "latency p99", 0.99),
        ] {
            add(
                name,
                what,
                self.latency.value_at_quantile(q) as f64 / 1000.0,
                "ms",
            );
        }
        add(
            "latency_max_ms",
            "latency max",
            self.latency.max() as f64 / 1000.0,
            "ms",
        );
        add(
            "batch_mean",
            "mean proof batch (ballots per verification)",
            self.batch_mean,
            "ballots",
        );
        // Threads that exited during the run (blocking pool) are not
        // counted, so these are lower bounds.
        let total: f64 = self.cpu.values().sum();
        if total > 0.0 {
            add(
                "cpu_ms_per_ballot",
                "CPU per accepted ballot, all threads (load generator included)",
                1000.0 * total / accepted.max(1) as f64,
                "ms",
            );
            for (group, name, what) in [
                (
                    "urna-server",
                    "cpu_server_ms_per_ballot",
                    "  of which the server's HTTP and verifier threads",
                ),
                (
                    "other",
                    "cpu_other_ms_per_ballot",
                    "  of which rayon (decode + proofs) and the board writer",
                ),
                (
                    "urna-clients",
                    "cpu_clients_ms_per_ballot",
                    "  of which the load generator",
                ),
            ] {
                let secs = self.cpu.get(group).copied().unwrap_or(0.0);
                add(name, what, 1000.0 * secs / accepted.max(1) as f64, "ms");
            }
        }
    }
}
