//! `urna observe URL`: a live observer of a board (spec/board.md §B11).
//!
//! It mirrors the board into a local record folder, checks every new
//! checkpoint against everything it saw before (the consistency proof of
//! board.md §B4.5, and the root of the entries it mirrored itself, which
//! covers the inclusion of every entry), runs the independent verifier's
//! per-entry checks on the entries as they arrive, shows the turnout,
//! cosigns each checkpoint it accepted (§B7.4) and submits the
//! cosignature to the board (§B10). Observers compare their checkpoints
//! over HTTP (`--listen`, `--peer`) or through a shared folder
//! (`--peers`), which catches a board showing different histories to
//! different observers (a split view, §B12). A mirror folder that already
//! holds a mirror is re-checked and continued (§B11.2).
//!
//! Any inconsistency is an alarm: an `ALARM` line on stderr naming the
//! evidence (the two conflicting signed checkpoints, in full), and exit
//! code 1. Exit 0: stopped as asked with nothing wrong; 2: unusable input
//! or local state.

mod gossip;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use rand::RngExt;
use urna_board::{
    EntryKind, Hash, ObserverSigningKey, SignedNote, cosign_checkpoint, verify_consistency,
};

use self::gossip::Peer;
use crate::mirror::{Mirror, Remote, Served};

/// Options of `urna observe`.
///
/// Exit codes: 0 stopped as asked (`--until-size`, `--duration`) with
/// nothing wrong; 1 an ALARM (the board contradicted itself or another
/// observer's view, or rewrote its history while the observer was down)
/// or entries that fail their checks; 2 unusable input or local state (no
/// board at the URL, a bad key, a mirror folder whose files were altered).
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 stopped as asked with nothing wrong; 1 ALARM (inconsistent or \
split view, history rewritten while the observer was down) or entries failing their checks; \
2 unusable input or local state (no board, a bad key, a mirror whose files were altered)."
)]
pub struct ObserveOpts {
    /// The board: the URL of a running `urna serve` (http[s]://host:port).
    pub url: String,
    /// Also trust the CA certificates in this PEM file (a private CA) for
    /// https:// URLs (the board's and the peers'), besides Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The observer's Ed25519 key file (made on first use, mode 0600): it
    /// cosigns every checkpoint the observer accepted. Without it the
    /// observer only checks.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The observer's name, for a new key (a C2SP key name: no spaces, no `+`).
    #[arg(long, default_value = "observer.urna.example")]
    pub name: String,
    /// Seconds between two looks at the board.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// The board's verifier key (text or file); by default the one the
    /// board serves first is trusted and then held to.
    #[arg(long)]
    pub board_key: Option<String>,
    /// The mirror folder (record layout, spec/export.md); default: a
    /// temporary folder. If it already holds a mirror, the observer
    /// resumes it: re-checks it (its entries must hash to the root of the
    /// last checkpoint accepted, else exit 2), requires the board's
    /// checkpoint to be consistent with that one (else ALARM, exit 1) and
    /// fetches only the entries after it.
    #[arg(long)]
    pub mirror: Option<PathBuf>,
    /// A folder shared with other observers on this machine: each writes
    /// its latest checkpoint there and checks the others' against its own.
    #[arg(long)]
    pub peers: Option<PathBuf>,
    /// Serve this observer's latest accepted checkpoint at
    /// `GET /observer/checkpoint` (and `GET /observer/status`, JSON) on
    /// this address, for other observers' `--peer`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Another observer's `--listen` URL (repeatable): its checkpoint is
    /// fetched every round and held to this observer's view.
    #[arg(long = "peer")]
    pub peer: Vec<String>,
    /// Stop, with exit 0 if all was well, once the board has this many entries.
    #[arg(long)]
    pub until_size: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
}

/// Evidence that the board is not one consistent append-only log.
#[derive(Debug)]
struct Alarm {
    what: String,
    evidence: Vec<(String, String)>,
}

impl Alarm {
    fn new(what: impl Into<String>) -> Self {
        Alarm {
            what: what.into(),
            evidence: Vec::new(),
        }
    }

    fn with(mut self, label: impl Into<String>, note: impl Into<String>) -> Self {
        self.evidence.push((label.into(), note.into()));
        self
    }

    fn log(&self) {
        eprintln!("urna observe: ALARM: {}", self.what);
        for (label, note) in &self.evidence {
            eprintln!("urna observe: evidence ({label}):");
            for line in note.lines() {
                eprintln!("    {line}");
            }
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Loads the observer key, or makes one (name on line 1, hex secret on
/// line 2; the verifier key goes next to it as `<file>.pub`).
fn load_or_make_key(path: &Path, name: &str) -> anyhow::Result<ObserverSigningKey> {
    if path.exists() {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines();
        let (Some(n), Some(h)) = (lines.next(), lines.next()) else {
            bail!("{}: expected a key name and a hex secret", path.display());
        };
        let bytes = hex::decode(h.trim()).context("the key secret is not hex")?;
        let secret: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow!("the key secret is not 32 bytes"))?;
        return ObserverSigningKey::from_secret_bytes(n.trim(), &secret)
            .map_err(|e| anyhow!("{}: {e}", path.display()));
    }
    let mut secret = [0u8; 32];
    rand::rng().fill(&mut secret[..]);
    let key = ObserverSigningKey::from_secret_bytes(name, &secret)
        .map_err(|e| anyhow!("observer name {name:?}: {e}"))?;
    let text = format!("{name}\n{}\n", hex::encode(secret));
    {
        use std::io::Write;
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())?;
    }
    fs::write(
        path.with_extension("pub"),
        format!("{}\n", key.verifier_key()),
    )?;
    Ok(key)
}

/// `urna observe`.
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

enum Outcome {
    Clean,
    Alarm,
}

/// What the observer holds between rounds.
pub(crate) struct State {
    remote: Remote,
    mirror: Mirror,
    /// The newest checkpoint accepted.
    last: Option<Served>,
    /// Root of every size accepted, with the note that stated it.
    seen: BTreeMap<u64, (Hash, String)>,
    ballots: u64,
    audited: u64,
    /// What `--listen` serves.
    status: gossip::Shared,
}

fn observe(opts: &ObserveOpts) -> anyhow::Result<Outcome> {
    if let Some(ca) = &opts.ca_cert {
        crate::http::trust_ca_file(ca)?;
    }
    // A mirror to resume fixes the board key: the one its accepted
    // checkpoints were signed with.
    let resuming = opts.mirror.as_deref().is_some_and(Mirror::exists);
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
    let tmp;
    let dir = match &opts.mirror {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            tmp.path().join("mirror")
        }
    };
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
    let status: gossip::Shared = Arc::default();
    gossip::update(&status, |s| {
        s.board = remote.base.to_string();
        s.board_key = remote.key.to_string();
        s.observer_key = key.as_ref().map(|k| k.verifier_key().to_string());
    });
    if let Some(addr) = opts.listen {
        let bound = gossip::listen(addr, Arc::clone(&status))?;
        eprintln!(
            "urna observe: serving this observer's checkpoint at http://{bound}/observer/checkpoint"
        );
    }

    let mut resumed = None;
    let mirror = if resuming {
        let started = Instant::now();
        let r = Mirror::resume(&dir, &remote.key)?;
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
        let m = r.mirror;
        resumed = Some((r.served, r.ballots, r.audited));
        m
    } else {
        Mirror::create(&dir, &remote.key)?
    };
    eprintln!(
        "urna observe: mirroring {} into {}",
        remote.base,
        dir.display()
    );

    // The verifier's per-entry checks run behind the mirror, on what it wrote.
    let finished = Arc::new(AtomicBool::new(false));
    let (fail_tx, fail_rx) = mpsc::channel::<urna_verify::Failure>();
    let source = urna_verify::Source {
        name: opts.url.clone(),
        board_key: remote.key.to_string(),
        checkpoints: Vec::new(),
        entries: Box::new(urna_verify::FollowReader::open(
            &mirror.entries_path(),
            Arc::clone(&finished),
        )?),
        total_bytes: None,
        reread: mirror.entries_path(),
        final_checkpoint: {
            let path = dir.join(urna_verify::record::CHECKPOINT_FILE);
            Box::new(move || fs::read(&path).map_err(|e| e.to_string()))
        },
    };
    let verifier = std::thread::spawn(move || {
        let hook: urna_verify::FailureHook = Box::new(move |f: &urna_verify::Failure| {
            let _ = fail_tx.send(f.clone());
        });
        urna_verify::verify_source(
            source,
            urna_verify::Options {
                batch_size: 256,
                progress: None,
                on_failure: Some(hook),
            },
        )
    });

    let mut st = State {
        remote,
        mirror,
        last: None,
        seen: BTreeMap::new(),
        ballots: 0,
        audited: 0,
        status,
    };
    if let Some((Some(served), ballots, audited)) = resumed {
        // The checkpoint accepted before the stop is where the board must
        // continue from (the next round's consistency proof starts there).
        let cp = &served.checkpoint;
        st.seen.insert(cp.size(), (*cp.root(), served.text.clone()));
        st.ballots = ballots;
        st.audited = audited;
        for p in &peers {
            p.publish(&name, &served.text)?;
        }
        gossip::update(&st.status, |s| {
            s.size = Some(cp.size());
            s.root = Some(hex::encode(cp.root()));
            s.ballots = ballots;
            s.audited = audited;
            s.note = Some(served.text.clone());
        });
        st.last = Some(served);
    }
    let start = Instant::now();
    let interval = Duration::from_secs_f64(opts.interval.max(0.05));
    let mut entry_failures = 0u64;
    let mut first = true;
    let outcome = loop {
        match round(&mut st, key.as_ref(), &name, &peers) {
            Ok(Ok(())) => {}
            Ok(Err(alarm)) => {
                alarm.log();
                gossip::update(&st.status, |s| s.alarms.push(alarm.what.clone()));
                break Outcome::Alarm;
            }
            Err(e) if first => return Err(e),
            Err(e) => eprintln!("urna observe: warning: {e:#} (retrying)"),
        }
        first = false;
        // Per-entry failures found by the verifier so far.
        while let Ok(f) = fail_rx.try_recv() {
            if let Some(i) = f.entry {
                entry_failures += 1;
                eprintln!(
                    "urna observe: ERROR: entry {i} fails {}: {}",
                    f.check, f.message
                );
            }
        }
        let size = st.last.as_ref().map_or(0, |s| s.checkpoint.size());
        if opts.until_size.is_some_and(|u| size >= u)
            || opts
                .duration
                .is_some_and(|d| start.elapsed().as_secs_f64() >= d)
        {
            break if entry_failures > 0 {
                Outcome::Alarm
            } else {
                Outcome::Clean
            };
        }
        std::thread::sleep(interval);
    };
    let _ = st.mirror.flush();
    finished.store(true, Ordering::Release);
    let report = verifier
        .join()
        .map_err(|_| anyhow!("the verifier thread failed"))?;
    while let Ok(f) = fail_rx.try_recv() {
        if let Some(i) = f.entry {
            entry_failures += 1;
            eprintln!(
                "urna observe: ERROR: entry {i} fails {}: {}",
                f.check, f.message
            );
        }
    }
    // Results on the board: the election is over and the whole record
    // can be judged; before that only the per-entry checks can.
    let complete = report.check("results").is_some_and(|c| c.passed());
    if complete {
        eprint!("{report}");
    } else {
        eprintln!(
            "urna observe: the election is not over: {} entries checked one by one, {} failed",
            report.summary.entries, entry_failures
        );
    }
    Ok(match outcome {
        Outcome::Alarm => Outcome::Alarm,
        Outcome::Clean if entry_failures > 0 || (complete && !report.is_valid()) => Outcome::Alarm,
        Outcome::Clean => Outcome::Clean,
    })
}

/// One look at the board: `Err` for a transient fault, `Ok(Err)` for an
/// alarm.
fn round(
    st: &mut State,
    key: Option<&ObserverSigningKey>,
    name: &str,
    peers: &[Peer],
) -> anyhow::Result<Result<(), Alarm>> {
    let text = st.remote.checkpoint_text()?;
    let served = match st.remote.check(text.clone()) {
        Ok(s) => s,
        Err(e) if SignedNote::parse(text.as_bytes()).is_ok() => {
            return Ok(Err(Alarm::new(format!(
                "the board served a checkpoint that does not verify: {e:#}"
            ))
            .with("served", text)));
        }
        Err(e) => return Err(e),
    };
    let cp = served.checkpoint.clone();
    let prev = st.last.clone();
    if let Some(p) = &prev {
        let pc = &p.checkpoint;
        if cp.size() == pc.size() {
            if cp.root() != pc.root() {
                return Ok(Err(Alarm::new(format!(
                    "the board signed two different roots for size {} (equivocation)",
                    cp.size()
                ))
                .with("seen before", p.text.clone())
                .with("served now", served.text.clone())));
            }
            return Ok(gossip::peer_round(st, name, peers));
        }
        if cp.size() < pc.size() {
            // Older than what we hold: stale, or another history.
            if let Some(a) = gossip::compare(st, &served, "served now")? {
                return Ok(Err(a));
            }
            eprintln!(
                "urna observe: warning: the board served size {} after {}; keeping {}",
                cp.size(),
                pc.size(),
                pc.size()
            );
            return Ok(gossip::peer_round(st, name, peers));
        }
        let proof = st.remote.consistency(pc.size(), cp.size())?;
        if let Err(e) = verify_consistency(pc.size(), cp.size(), &proof, pc.root(), cp.root()) {
            return Ok(Err(Alarm::new(format!(
                "checkpoint {} is not consistent with checkpoint {} seen before ({e}): the board rewrote its history",
                cp.size(),
                pc.size()
            ))
            .with("seen before", p.text.clone())
            .with("served now", served.text.clone())));
        }
    }
    // Mirror the new entries and rebuild the root ourselves: this checks
    // every entry's inclusion, and that the entries served are the ones
    // the signature covers.
    let from = st.mirror.frontier.size();
    let (mut ballots, mut audited) = (0u64, 0u64);
    let mirror = &mut st.mirror;
    st.remote.entries(from, cp.size(), |e| {
        match e.get(1..3).map(|t| u16::from_be_bytes([t[0], t[1]])) {
            Some(t) if t == EntryKind::Ballot.tag() => ballots += 1,
            Some(t) if t == EntryKind::AuditedBallot.tag() => audited += 1,
            _ => {}
        }
        mirror.append(e)
    })?;
    st.mirror.flush()?;
    if st.mirror.frontier.root() != *cp.root() {
        let mut a = Alarm::new(format!(
            "the entries served for sizes {from}..{} do not hash to the signed root (root of the mirrored entries {})",
            cp.size(),
            hex::encode(st.mirror.frontier.root())
        ));
        if let Some(p) = &prev {
            a = a.with("seen before", p.text.clone());
        }
        return Ok(Err(a.with("served now", served.text.clone())));
    }
    st.ballots += ballots;
    st.audited += audited;
    eprintln!(
        "urna observe: size {} (+{}): {} ballots (+{}), {} audited",
        cp.size(),
        cp.size() - from,
        st.ballots,
        ballots,
        st.audited
    );
    st.mirror.keep_checkpoint(cp.size(), &served.text, true)?;
    st.seen.insert(cp.size(), (*cp.root(), served.text.clone()));
    st.last = Some(served.clone());

    // Cosign and submit (board.md §B7.4, §B10).
    let mut own = served.note.clone();
    if let Some(k) = key {
        let sig = cosign_checkpoint(k, &cp, now_secs()).map_err(|e| anyhow!("cosigning: {e}"))?;
        own.add_signature(sig)
            .map_err(|e| anyhow!("adding the cosignature: {e}"))?;
        match st.remote.submit_cosignature(&k.verifier_key(), &own) {
            Ok(r) if r.status == 200 => {}
            Ok(r) => {
                let body = String::from_utf8_lossy(&r.body).into_owned();
                if r.status == 409 {
                    // The board denies the checkpoint it just served us.
                    return Ok(Err(Alarm::new(format!(
                        "the board refused a cosignature of its own checkpoint as not the one it holds: {body}"
                    ))
                    .with("served now", served.text.clone())));
                }
                eprintln!(
                    "urna observe: warning: the board refused the cosignature: HTTP {}: {body}",
                    r.status
                );
            }
            Err(e) => eprintln!("urna observe: warning: submitting the cosignature: {e:#}"),
        }
    }
    let own = own.to_text();
    for p in peers {
        p.publish(name, &own)?;
    }
    let (ballots, audited) = (st.ballots, st.audited);
    gossip::update(&st.status, |s| {
        s.size = Some(cp.size());
        s.root = Some(hex::encode(cp.root()));
        s.ballots = ballots;
        s.audited = audited;
        s.note = Some(own);
    });
    Ok(gossip::peer_round(st, name, peers))
}
