//! `urna bench cast`: casting throughput end to end. N valid ballots for N
//! registered credentials are built first (not timed); then a load
//! generator on the same machine POSTs them over HTTP, `concurrency` at a
//! time, to the real server (urna-server on a loopback socket, durable
//! SQLite board): decoding, batched proof verification, the engine's
//! rules, the durable append and the receipt are all inside the figure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, ensure};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;
use urna_board::EntryKind;
use urna_crypto::dkg::CeremonyParams;
use urna_election::Manifest;

use super::board::percentile;
use super::progress;
use super::report::Report;
use crate::demo::devices::{Style, fetch_styles};
use crate::demo::http_client::{Api, Reply};
use crate::demo::par::concurrent;
use crate::demo::receipts::{Receipt, ReceiptChecker};
use crate::demo::server::LocalServer;
use crate::demo::{client_runtime, commission, manifest_text, random_token};

/// Options of `urna bench cast`.
#[derive(Debug, Clone, clap::Args)]
pub struct CastBench {
    /// Ballots cast (one per registered credential).
    #[arg(long, default_value_t = 20_000)]
    pub ballots: usize,
    /// Requests in flight at once (HTTP connections).
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Directory for the board (default: a temporary directory, removed
    /// afterwards). It should be on the disk the board will use.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One POST as the load generator saw it.
struct Shot {
    micros: u64,
    answer: Result<Reply, String>,
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

/// Runs the bench and returns the report.
pub fn run(opts: &CastBench) -> anyhow::Result<Report> {
    ensure!(opts.ballots >= 1, "--ballots must be at least 1");
    ensure!(opts.concurrency >= 1, "--concurrency must be at least 1");
    let quiet = opts.json;
    let tmp = tempfile::tempdir()?;
    let dir = opts.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let id = "bench-cast";
    let text = manifest_text(3, 2, 1, id);
    let m = Manifest::from_bytes(text.as_bytes()).map_err(|e| anyhow::anyhow!("manifest: {e}"))?;
    let token = random_token();
    let server = LocalServer::start(
        &dir,
        &format!("bench.urna.example/{id}"),
        &token,
        m.schedule().applications_open.plus_seconds(3600),
    )?;
    let rt = client_runtime()?;
    let api = rt.block_on(async { Api::new(server.addr, Some(token.clone())) });
    let n = opts.ballots;
    let ballots = set_up(&rt, &api, &server, &text, &m, n, quiet)?;
    let before: Status = rt.block_on(api.get_ok("/election/status"))?;
    let ballots = Arc::new(ballots);
    let timed = cast_all(&rt, &api, &ballots, opts.concurrency, quiet)?;
    let checker = ReceiptChecker::new(server.board_key.clone());
    let checked = check_receipts(&checker, &timed.shots, &ballots);
    let after: Status = rt.block_on(api.get_ok("/election/status"))?;
    let batches = after.verifier.batches - before.verifier.batches;
    let batched = after.verifier.ballots - before.verifier.ballots;
    let turnout = rt.block_on(crate::demo::turnout_ballots(&api))?;
    let accepted = checked.accepted;
    ensure!(
        turnout == accepted,
        "the server's turnout counts {turnout} ballots, the load generator {accepted} receipts"
    );
    drop(rt);
    server.stop()?;
    Ok(report(
        opts,
        &timed,
        checked,
        batched as f64 / batches.max(1) as f64,
    ))
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

/// What the timed run measured.
struct Timed {
    shots: Vec<Shot>,
    wall: f64,
    cpu: std::collections::BTreeMap<&'static str, f64>,
}

/// Timed: every ballot POSTed, `concurrency` in flight.
fn cast_all(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    ballots: &Arc<Vec<(Vec<u8>, Vec<u8>)>>,
    concurrency: usize,
    quiet: bool,
) -> anyhow::Result<Timed> {
    let n = ballots.len();
    let pb = progress(n as u64, "casting over HTTP", quiet);
    let cpu_before = super::cpu::by_group();
    let start = Instant::now();
    let shots: Vec<Shot> = {
        let (api, ballots, pb) = (api.clone(), Arc::clone(ballots), pb.clone());
        rt.block_on(concurrent(n, concurrency, move |i| {
            let (api, ballots, pb) = (api.clone(), Arc::clone(&ballots), pb.clone());
            async move {
                let body = ballots[i].1.clone();
                let t = Instant::now();
                let answer = api
                    .send(
                        ureq::http::Method::POST,
                        "/election/ballots",
                        false,
                        Some(("application/json", body)),
                    )
                    .await
                    .map_err(|e| format!("{e:#}"));
                let micros = t.elapsed().as_micros() as u64;
                pb.inc(1);
                Ok(Shot { micros, answer })
            }
        }))?
    };
    let wall = start.elapsed().as_secs_f64();
    let cpu = super::cpu::delta(&cpu_before, &super::cpu::by_group());
    pb.finish_and_clear();

    Ok(Timed { shots, wall, cpu })
}

/// What the receipts showed.
struct Checked {
    accepted: u64,
    errors: Vec<(String, u64)>,
    /// Sorted.
    latencies: Vec<u64>,
}

/// Not timed: every receipt is checked as a device would; only ballots
/// with a valid receipt count as accepted.
fn check_receipts(
    checker: &ReceiptChecker,
    shots: &[Shot],
    ballots: &[(Vec<u8>, Vec<u8>)],
) -> Checked {
    let mut accepted = 0u64;
    let mut errors: Vec<(String, u64)> = Vec::new();
    let mut latencies = Vec::with_capacity(shots.len());
    for (shot, (bytes, _)) in shots.iter().zip(ballots.iter()) {
        latencies.push(shot.micros);
        let verdict = match &shot.answer {
            Ok(r) if r.status.is_success() => serde_json::from_slice::<Receipt>(&r.body)
                .map_err(anyhow::Error::from)
                .and_then(|rc| checker.check(&rc, EntryKind::Ballot, bytes, bytes))
                .map_err(|e| format!("bad receipt: {e:#}")),
            Ok(r) => Err(r
                .error_code()
                .unwrap_or_else(|| format!("http {}", r.status.as_u16()))),
            Err(e) => Err(format!("transport: {e}")),
        };
        match verdict {
            Ok(()) => accepted += 1,
            Err(code) => match errors.iter_mut().find(|(c, _)| *c == code) {
                Some((_, k)) => *k += 1,
                None => errors.push((code, 1)),
            },
        }
    }
    latencies.sort_unstable();
    Checked {
        accepted,
        errors,
        latencies,
    }
}

/// The figures of the run.
fn report(opts: &CastBench, timed: &Timed, checked: Checked, batch_mean: f64) -> Report {
    let (n, wall, cpu) = (opts.ballots, timed.wall, &timed.cpu);
    let Checked {
        accepted,
        errors,
        latencies,
    } = checked;
    let failed: u64 = errors.iter().map(|(_, k)| k).sum();
    let mut report = Report::new(
        "cast",
        json!({
            "ballots": n,
            "concurrency": opts.concurrency,
            "ballot": "yes/no (2 options, 1 of 2)",
            "backend": "sqlite (WAL, synchronous=FULL)",
            "transport": "HTTP/1.1 over loopback TCP, keep-alive",
            "errors": errors.iter().map(|(c, k)| json!({ "code": c, "count": k })).collect::<Vec<_>>(),
        }),
    );
    report.add(
        "accepted_per_s",
        "accepted ballots/s (HTTP, verify, durable append, receipt)",
        accepted as f64 / wall,
        "/s",
    );
    report.add(
        "accepted",
        "ballots accepted (receipt verified)",
        accepted as f64,
        "ballots",
    );
    report.add(
        "errors",
        "submissions not accepted",
        failed as f64,
        "ballots",
    );
    report.add("wall_s", "wall time of the timed run", wall, "s");
    for (name, what, p) in [
        ("latency_p50_ms", "latency p50 (POST until receipt)", 0.50),
        ("latency_p90_ms", "latency p90", 0.90),
        ("latency_p99_ms", "latency p99", 0.99),
        ("latency_max_ms", "latency max", 1.0),
    ] {
        report.add(name, what, percentile(&latencies, p) / 1000.0, "ms");
    }
    report.add(
        "batch_mean",
        "mean proof batch (ballots per verification)",
        batch_mean,
        "ballots",
    );
    // Threads that exited during the run (blocking pool) are not counted,
    // so these are lower bounds; the pools are kept warm by the load.
    let total: f64 = cpu.values().sum();
    if total > 0.0 {
        report.add(
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
            let secs = cpu.get(group).copied().unwrap_or(0.0);
            report.add(name, what, 1000.0 * secs / accepted.max(1) as f64, "ms");
        }
    }
    report
}
