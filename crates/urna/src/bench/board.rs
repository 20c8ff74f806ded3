//! `urna bench board`: durable append throughput and latency of the board
//! store (SQLite, group commit, fsync per batch) and the cost of serving
//! and checking proofs and checkpoints.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use rand::RngExt;
use urna_board::{
    BoardSigningKey, ENTRY_HEADER_LEN, Entry, EntryKind, SignedNote, verify_checkpoint,
    verify_consistency, verify_inclusion,
};
use urna_store::{BoardStore, SqliteBackend, SqliteOptions, StoreOptions};

use super::report::Report;
use super::{progress, time_per_call};

/// Options of `urna bench board`.
#[derive(Debug, Clone, clap::Args)]
pub struct BoardBench {
    /// Entries appended in the throughput run.
    #[arg(long, default_value_t = 300_000)]
    pub entries: u64,
    /// Concurrent appenders (async tasks on a 2-thread runtime).
    #[arg(long, default_value_t = 512)]
    pub appenders: usize,
    /// Size of each entry in bytes, envelope included.
    #[arg(long, default_value_t = 1024)]
    pub entry_size: usize,
    /// Directory for the database (default: a temporary directory, removed
    /// afterwards). It should be on the disk the board will use.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const BUDGET: Duration = Duration::from_millis(1500);

fn entry(appender: usize, seq: u64, payload_len: usize) -> anyhow::Result<Entry> {
    // Unique per (appender, seq, run) so no append is a duplicate.
    let mut payload = vec![0u8; payload_len];
    let head = format!("bench {appender} {seq} ");
    let n = head.len().min(payload_len);
    payload[..n].copy_from_slice(&head.as_bytes()[..n]);
    rand::rng().fill(&mut payload[n..]);
    Ok(Entry::new(EntryKind::Ballot, &payload)?)
}

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

/// Calls `f` from every core for about [`BUDGET`], returns calls per second.
fn parallel_rate(
    f: impl Fn(&mut rand::rngs::ThreadRng) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<f64> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let calls = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    let mut rng = rand::rng();
                    let mut n = 0u64;
                    while start.elapsed() < BUDGET {
                        for _ in 0..64 {
                            f(&mut rng)?;
                        }
                        n += 64;
                    }
                    calls.fetch_add(n, Ordering::Relaxed);
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| anyhow!("a bench thread panicked"))?)
    })?;
    Ok(calls.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// Runs the bench and returns the report.
pub fn run(opts: &BoardBench) -> anyhow::Result<Report> {
    if opts.entry_size <= ENTRY_HEADER_LEN + 24 || opts.entry_size > urna_board::MAX_ENTRY_LEN {
        return Err(anyhow!(
            "--entry-size must be between {} and {}",
            ENTRY_HEADER_LEN + 25,
            urna_board::MAX_ENTRY_LEN
        ));
    }
    let appenders = opts.appenders.max(1);
    let payload_len = opts.entry_size - ENTRY_HEADER_LEN;
    let tmp = tempfile::Builder::new()
        .prefix("urna-bench-board")
        .tempdir_in(opts.dir.clone().unwrap_or_else(std::env::temp_dir))
        .context("creating the bench directory")?;
    let path = tmp.path().join("board.db");
    let key = BoardSigningKey::generate("bench.urna.example/board", &mut rand::rng())?;
    let backend = SqliteBackend::open(&path, SqliteOptions::default())?;
    let store = BoardStore::open(backend, key.clone(), StoreOptions::default())?;

    let mut report = Report::new(
        "board",
        serde_json::json!({
            "entries": opts.entries,
            "appenders": appenders,
            "entry_size": opts.entry_size,
            "backend": "sqlite (WAL, synchronous=FULL)",
        }),
    );

    let runtime = appends(&mut report, &store, opts, appenders, payload_len)?;
    proofs(&mut report, &store)?;
    checkpoint_verify(&mut report, &store, &key)?;
    drop(store);
    drop(runtime);
    Ok(report)
}

/// Durable appends from many concurrent appenders: rate, latency, group
/// commit batches. Returns the runtime the store's appends ran on (dropped
/// after the store).
fn appends(
    report: &mut Report,
    store: &BoardStore,
    opts: &BoardBench,
    appenders: usize,
    payload_len: usize,
) -> anyhow::Result<tokio::runtime::Runtime> {
    let quiet = opts.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let pb = Arc::new(progress(opts.entries, "appending entries", quiet));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let latencies = runtime.block_on(async {
        let tasks: Vec<_> = (0..appenders)
            .map(|a| {
                let store = store.clone();
                let next = Arc::clone(&next);
                let pb = Arc::clone(&pb);
                let total = opts.entries;
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    loop {
                        let seq = next.fetch_add(1, Ordering::Relaxed);
                        if seq >= total {
                            return Ok::<_, anyhow::Error>(lat);
                        }
                        let e = entry(a, seq, payload_len)?;
                        let t = Instant::now();
                        store.append_async(e).await?;
                        lat.push(t.elapsed().as_micros() as u64);
                        pb.inc(1);
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        Ok::<_, anyhow::Error>(all)
    })?;
    let wall = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let mut latencies = latencies;
    latencies.sort_unstable();
    let stats = store.stats();
    report.add(
        "append_per_s",
        "durable appends/s (group commit, fsync per batch)",
        opts.entries as f64 / wall,
        "/s",
    );
    report.add(
        "append_p50_ms",
        "append latency p50 (until durable + signed)",
        percentile(&latencies, 0.50) / 1000.0,
        "ms",
    );
    report.add(
        "append_p99_ms",
        "append latency p99",
        percentile(&latencies, 0.99) / 1000.0,
        "ms",
    );
    report.add(
        "batch_mean",
        "mean batch (entries per commit)",
        stats.entries as f64 / stats.batches.max(1) as f64,
        "entries",
    );
    report.add(
        "batch_max",
        "largest batch",
        stats.largest_batch as f64,
        "entries",
    );
    report.add(
        "commits_per_s",
        "commits (fsyncs) per second",
        stats.batches as f64 / wall,
        "/s",
    );

    Ok(runtime)
}

/// Proofs against the final tree, from random leaves and sizes.
fn proofs(report: &mut Report, store: &BoardStore) -> anyhow::Result<()> {
    let latest = store.latest_checkpoint();
    let size = latest.size();
    if size < 2 {
        return Err(anyhow!("--entries must be at least 2"));
    }
    // Check a sample first, so the rates below are for correct proofs.
    let mut rng = rand::rng();
    for _ in 0..200 {
        let index = rng.random_range(0..size);
        let proof = store.inclusion_proof(index, size)?;
        let e = store.entry(index)?;
        verify_inclusion(&e.leaf_hash, index, size, &proof, latest.root())
            .context("an inclusion proof did not verify")?;
        let old = rng.random_range(1..size);
        let old_cp = store.checkpoint(old).ok();
        if let Some(old_cp) = old_cp {
            let proof = store.consistency_proof(old, size)?;
            verify_consistency(old, size, &proof, old_cp.root(), latest.root())
                .context("a consistency proof did not verify")?;
        }
    }
    let incl = parallel_rate(|rng| {
        let index = rng.random_range(0..size);
        std::hint::black_box(store.inclusion_proof(index, size)?);
        Ok(())
    })?;
    report.add(
        "inclusion_proofs_per_s",
        "inclusion proofs/s (random leaf, all cores)",
        incl,
        "/s",
    );
    let cons = parallel_rate(|rng| {
        let old = rng.random_range(1..size);
        std::hint::black_box(store.consistency_proof(old, size)?);
        Ok(())
    })?;
    report.add(
        "consistency_proofs_per_s",
        "consistency proofs/s (random old size, all cores)",
        cons,
        "/s",
    );
    Ok(())
}

/// Parsing and verifying the board's latest checkpoint, as a verifier does.
fn checkpoint_verify(
    report: &mut Report,
    store: &BoardStore,
    key: &BoardSigningKey,
) -> anyhow::Result<()> {
    let latest = store.latest_checkpoint();
    let text = latest.text().to_owned();
    let vkey = key.verifier_key();
    let mut ok = true;
    let verify_us = time_per_call(BUDGET, 100, || {
        let good = SignedNote::parse(text.as_bytes())
            .ok()
            .and_then(|n| verify_checkpoint(&n, &vkey, &[]).ok())
            .is_some();
        ok &= good;
    });
    if !ok {
        return Err(anyhow!("the board's checkpoint did not verify"));
    }
    report.add(
        "checkpoint_verify_per_s",
        "checkpoint parse + verify/s (1 core)",
        1e6 / verify_us,
        "/s",
    );
    Ok(())
}
