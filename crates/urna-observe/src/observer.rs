//! One run of the observer (spec/board.md §B11): set up (board key,
//! cosigning key, peers), open or resume the mirror (§B11.2), start the
//! verifier's per-entry checks behind it, look at the board every
//! interval (`round`), and give the verdict when asked to stop.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use urna_board::{Hash, ObserverSigningKey};

use crate::gossip::{self, Peer};
use crate::key::load_or_make_key;
use crate::mirror::{Mirror, Remote, Served};
use crate::options::ObserveOpts;
use crate::round::round;

/// `urna observe`: runs the observer and maps the verdict to the exit
/// codes of spec/board.md §B11.1 (0 clean, 1 alarm, 2 unusable).
pub fn run(opts: &ObserveOpts) -> ExitCode {
    match observe(opts) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Alarm) => ExitCode::from(1),
        Err(e) => {
            eprintln!("urna observe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// How a run ended (an `Err` of [`observe`] is unusable input or state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stopped as asked with nothing wrong.
    Clean,
    /// An alarm was raised or entries failed their checks.
    Alarm,
}

/// What the observer holds between rounds.
pub(crate) struct State {
    pub(crate) remote: Remote,
    pub(crate) mirror: Mirror,
    /// The newest checkpoint accepted.
    pub(crate) last: Option<Served>,
    /// Root of every size accepted, with the note that stated it.
    pub(crate) seen: BTreeMap<u64, (Hash, String)>,
    pub(crate) ballots: u64,
    pub(crate) audited: u64,
    /// What `--listen` serves.
    pub(crate) status: gossip::Shared,
}

/// Who the observer is and whom it compares with, fixed for a run.
pub(crate) struct Identity {
    /// The cosigning key, if it cosigns (§B7.4).
    pub(crate) key: Option<ObserverSigningKey>,
    /// Its name: the key's, or `--name`.
    pub(crate) name: String,
    /// Other observers (§B12).
    pub(crate) peers: Vec<Peer>,
}

/// Runs the observer until it is asked to stop or raises an alarm.
pub fn observe(opts: &ObserveOpts) -> anyhow::Result<Outcome> {
    if let Some(ca) = &opts.ca_cert {
        crate::http::trust_ca_file(ca)?;
    }
    let resuming = opts.mirror.as_deref().is_some_and(Mirror::exists);
    let remote = connect(opts, resuming)?;
    let me = identity(opts)?;
    let status = publish_identity(opts, &remote, me.key.as_ref())?;
    let tmp;
    let dir = match &opts.mirror {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            tmp.path().join("mirror")
        }
    };
    let (mirror, resumed) = open_mirror(&dir, &remote, resuming)?;
    eprintln!(
        "urna observe: mirroring {} into {}",
        remote.base,
        dir.display()
    );
    let mut checks = EntryChecks::start(&opts.url, &remote, &mirror, &dir)?;
    let mut st = State {
        remote,
        mirror,
        last: None,
        seen: BTreeMap::new(),
        ballots: 0,
        audited: 0,
        status,
    };
    if let Some(r) = resumed {
        take_resumed(&mut st, &me, r)?;
    }
    let outcome = watch(opts, &mut st, &me, &mut checks)?;
    let _ = st.mirror.flush();
    checks.verdict(outcome)
}

/// Connects to the board and fixes its key (spec/board.md §B11.1: the
/// pinned key; §B11.2 step 1: a mirror to resume pins the key its accepted
/// checkpoints were signed with, and a different `--board-key` is an error).
fn connect(opts: &ObserveOpts, resuming: bool) -> anyhow::Result<Remote> {
    let stored_key = match (&opts.mirror, resuming) {
        (Some(d), true) => Some(Mirror::stored_key(d)?.to_string()),
        _ => None,
    };
    let remote = Remote::connect(
        &opts.url,
        opts.board_key.as_deref().or(stored_key.as_deref()),
    )?;
    if let Some(k) = &stored_key
        && remote.key.to_string() != *k
    {
        bail!("the mirror was made for board key {k}, not {}", remote.key);
    }
    if !remote.pinned {
        eprintln!(
            "urna observe: trusting the board key served by {}: {}",
            remote.base, remote.key
        );
    }
    Ok(remote)
}

/// The cosigning key (made on first use) and the peers to compare with.
fn identity(opts: &ObserveOpts) -> anyhow::Result<Identity> {
    let key = match &opts.key {
        Some(p) => Some(load_or_make_key(p, &opts.name)?),
        None => None,
    };
    let name = key
        .as_ref()
        .map_or_else(|| opts.name.clone(), |k| k.name().to_owned());
    if let Some(k) = &key {
        eprintln!("urna observe: cosigning as {}", k.verifier_key());
    }
    let mut peers: Vec<Peer> = opts
        .peers
        .as_deref()
        .map(gossip::peer_dir)
        .into_iter()
        .collect();
    for url in &opts.peer {
        peers.push(gossip::peer_url(url)?);
    }
    for p in &peers {
        p.prepare()?;
    }
    Ok(Identity { key, name, peers })
}

/// The status other observers read (spec/board.md §B12.1), served at
/// `--listen` if given.
fn publish_identity(
    opts: &ObserveOpts,
    remote: &Remote,
    key: Option<&ObserverSigningKey>,
) -> anyhow::Result<gossip::Shared> {
    let status: gossip::Shared = Arc::default();
    gossip::update(&status, |s| {
        s.board = remote.base.to_string();
        s.board_key = remote.key.to_string();
        s.observer_key = key.map(|k| k.verifier_key().to_string());
    });
    if let Some(addr) = opts.listen {
        let bound = gossip::listen(addr, Arc::clone(&status))?;
        eprintln!(
            "urna observe: serving this observer's checkpoint at http://{bound}/observer/checkpoint"
        );
    }
    Ok(status)
}

/// What a resumed mirror brings: the checkpoint accepted before the stop
/// and the ballots counted up to it.
struct Resumed {
    served: Option<Served>,
    ballots: u64,
    audited: u64,
}

/// Creates the mirror, or re-checks and reopens it (spec/board.md §B11.2
/// step 2: its entries must hash to the root of the checkpoint accepted
/// last; unaccepted bytes after it are cut off).
fn open_mirror(
    dir: &std::path::Path,
    remote: &Remote,
    resuming: bool,
) -> anyhow::Result<(Mirror, Option<Resumed>)> {
    if !resuming {
        return Ok((Mirror::create(dir, &remote.key)?, None));
    }
    let started = Instant::now();
    let r = Mirror::resume(dir, &remote.key)?;
    let size = r.served.as_ref().map_or(0, |s| s.checkpoint.size());
    eprintln!(
        "urna observe: resuming the mirror in {} at size {size}: its entries hash to the root of the checkpoint accepted last (re-checked in {:.3} s{}); fetching from entry {size}",
        dir.display(),
        started.elapsed().as_secs_f64(),
        if r.dropped_bytes > 0 {
            format!(
                ", {} bytes of entries never accepted cut off",
                r.dropped_bytes
            )
        } else {
            String::new()
        }
    );
    let resumed = Resumed {
        served: r.served,
        ballots: r.ballots,
        audited: r.audited,
    };
    Ok((r.mirror, Some(resumed)))
}

/// Takes the checkpoint accepted before the stop as the last accepted one
/// (spec/board.md §B11.2 step 4): the next round's consistency proof
/// starts there, and peers see it at once.
fn take_resumed(st: &mut State, me: &Identity, r: Resumed) -> anyhow::Result<()> {
    let Some(served) = r.served else {
        return Ok(());
    };
    let cp = &served.checkpoint;
    st.seen.insert(cp.size(), (*cp.root(), served.text.clone()));
    st.ballots = r.ballots;
    st.audited = r.audited;
    for p in &me.peers {
        p.publish(&me.name, &served.text)?;
    }
    gossip::update(&st.status, |s| {
        s.size = Some(cp.size());
        s.root = Some(hex::encode(cp.root()));
        s.ballots = r.ballots;
        s.audited = r.audited;
        s.note = Some(served.text.clone());
    });
    st.last = Some(served);
    Ok(())
}

/// Looks at the board every `--interval` until an alarm, `--until-size`
/// or `--duration`. A fault of the first look is an error (no board at
/// the URL: exit 2); later faults are retried.
fn watch(
    opts: &ObserveOpts,
    st: &mut State,
    me: &Identity,
    checks: &mut EntryChecks,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let interval = Duration::from_secs_f64(opts.interval.max(0.05));
    let mut first = true;
    loop {
        match round(st, me) {
            Ok(Ok(())) => {}
            Ok(Err(alarm)) => {
                alarm.log();
                gossip::update(&st.status, |s| s.alarms.push(alarm.what.clone()));
                return Ok(Outcome::Alarm);
            }
            Err(e) if first => return Err(e),
            Err(e) => eprintln!("urna observe: warning: {e:#} (retrying)"),
        }
        first = false;
        checks.report_failures();
        let size = st.last.as_ref().map_or(0, |s| s.checkpoint.size());
        if opts.until_size.is_some_and(|u| size >= u)
            || opts
                .duration
                .is_some_and(|d| start.elapsed().as_secs_f64() >= d)
        {
            return Ok(if checks.failures > 0 {
                Outcome::Alarm
            } else {
                Outcome::Clean
            });
        }
        std::thread::sleep(interval);
    }
}

/// The independent verifier's per-entry checks (spec/export.md §X4),
/// running behind the mirror on what it wrote (spec/board.md §B11.1; on a
/// resumed mirror they re-run on all of it, §B11.2 step 3).
struct EntryChecks {
    finished: Arc<AtomicBool>,
    failed: mpsc::Receiver<urna_verify::Failure>,
    thread: JoinHandle<urna_verify::Report>,
    /// Entries reported failing so far.
    failures: u64,
}

impl EntryChecks {
    fn start(
        url: &str,
        remote: &Remote,
        mirror: &Mirror,
        dir: &std::path::Path,
    ) -> anyhow::Result<EntryChecks> {
        let finished = Arc::new(AtomicBool::new(false));
        let (fail_tx, failed) = mpsc::channel::<urna_verify::Failure>();
        let checkpoint: PathBuf = dir.join(urna_verify::record::CHECKPOINT_FILE);
        let source = urna_verify::Source {
            name: url.to_owned(),
            board_key: remote.key.to_string(),
            checkpoints: Vec::new(),
            entries: Box::new(urna_verify::FollowReader::open(
                &mirror.entries_path(),
                Arc::clone(&finished),
            )?),
            total_bytes: None,
            reread: mirror.entries_path(),
            final_checkpoint: Box::new(move || fs::read(&checkpoint).map_err(|e| e.to_string())),
        };
        let thread = std::thread::spawn(move || {
            let hook: urna_verify::FailureHook = Box::new(move |f: &urna_verify::Failure| {
                let _ = fail_tx.send(f.clone());
            });
            urna_verify::verify_source(
                source,
                urna_verify::Options {
                    batch_size: 256,
                    progress: None,
                    on_failure: Some(hook),
                    observers: Vec::new(),
                },
            )
        });
        Ok(EntryChecks {
            finished,
            failed,
            thread,
            failures: 0,
        })
    }

    /// Prints the per-entry failures found since the last call; a failure
    /// names the entry.
    fn report_failures(&mut self) {
        report_failures(&self.failed, &mut self.failures);
    }

    /// Lets the verifier finish the mirror and gives the verdict: with
    /// the results on the board the whole record is judged; before that
    /// only the per-entry checks can be (spec/board.md §B11.1).
    fn verdict(self, outcome: Outcome) -> anyhow::Result<Outcome> {
        let EntryChecks {
            finished,
            failed,
            thread,
            mut failures,
        } = self;
        finished.store(true, Ordering::Release);
        let report = thread
            .join()
            .map_err(|_| anyhow!("the verifier thread failed"))?;
        // The channel outlives the thread: collect what it sent last.
        report_failures(&failed, &mut failures);
        let complete = report.check("results").is_some_and(|c| c.passed());
        if complete {
            eprint!("{report}");
        } else {
            eprintln!(
                "urna observe: the election is not over: {} entries checked one by one, {} failed",
                report.summary.entries, failures
            );
        }
        Ok(match outcome {
            Outcome::Alarm => Outcome::Alarm,
            Outcome::Clean if failures > 0 || (complete && !report.is_valid()) => Outcome::Alarm,
            Outcome::Clean => Outcome::Clean,
        })
    }
}

fn report_failures(failed: &mpsc::Receiver<urna_verify::Failure>, failures: &mut u64) {
    while let Ok(f) = failed.try_recv() {
        if let Some(i) = f.entry {
            *failures += 1;
            eprintln!(
                "urna observe: ERROR: entry {i} fails {}: {}",
                f.check, f.message
            );
        }
    }
}
