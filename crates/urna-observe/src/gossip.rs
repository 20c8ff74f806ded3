//! Observers comparing what the board showed each of them (spec/board.md
//! §B12): each serves its latest accepted checkpoint over HTTP
//! (`--listen`), fetches its peers' (`--peer URL`, or a shared folder with
//! `--peers DIR`) every round and holds them to its own view.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, anyhow};
use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use urna_board::{SignedNote, verify_checkpoint, verify_consistency};

use crate::alarm::Alarm;
use crate::http::{self, BaseUrl};
use crate::mirror::Served;
use crate::observer::State;

/// How long a peer may take to answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(5);

/// What `GET /observer/status` answers (the checkpoint itself is served
/// at `GET /observer/checkpoint`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// The board watched.
    pub board: String,
    /// The board's verifier key.
    pub board_key: String,
    /// The observer's cosigning key, if it cosigns.
    pub observer_key: Option<String>,
    /// Size of the latest checkpoint accepted.
    pub size: Option<u64>,
    /// Its root, hex.
    pub root: Option<String>,
    /// Ballots and audited ballots among the mirrored entries.
    pub ballots: u64,
    /// See `ballots`.
    pub audited: u64,
    /// Alarms raised (the observer stops at the first).
    pub alarms: Vec<String>,
    /// The latest accepted checkpoint as the board signed it, with this
    /// observer's cosignature line when it cosigns.
    #[serde(skip)]
    pub note: Option<String>,
}

/// The status, shared with the HTTP endpoint.
pub type Shared = Arc<Mutex<Status>>;

/// Runs `f` on the shared status.
pub fn update(shared: &Shared, f: impl FnOnce(&mut Status)) {
    f(&mut shared.lock().unwrap_or_else(PoisonError::into_inner));
}

fn snapshot(shared: &Shared) -> Status {
    shared
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Serves `GET /observer/checkpoint` and `GET /observer/status` on `addr`
/// from a thread of its own; the address actually bound.
pub fn listen(addr: SocketAddr, shared: Shared) -> anyhow::Result<SocketAddr> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the gossip endpoint")?;
    let app = Router::new()
        .route("/observer/checkpoint", get(checkpoint))
        .route("/observer/status", get(status))
        .with_state(shared);
    std::thread::Builder::new()
        .name("urna-observe-gossip".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => {
                        if let Err(e) = axum::serve(l, app).await {
                            eprintln!("urna observe: warning: the gossip endpoint stopped: {e}");
                        }
                    }
                    Err(e) => eprintln!("urna observe: warning: the gossip endpoint: {e}"),
                }
            });
        })
        .context("starting the gossip endpoint")?;
    Ok(bound)
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /observer/checkpoint`: the latest checkpoint this observer
/// accepted, as a C2SP signed note (board.md §B12.1).
async fn checkpoint(AxumState(shared): AxumState<Shared>) -> Response {
    match snapshot(&shared).note {
        Some(note) => no_store(
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                note,
            )
                .into_response(),
        ),
        None => no_store(
            (
                StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({ "error": {
                    "code": "no_checkpoint_yet",
                    "message": "This observer has not accepted a checkpoint yet.",
                }})),
            )
                .into_response(),
        ),
    }
}

/// `GET /observer/status`: size, root, turnout and alarms, as JSON.
async fn status(AxumState(shared): AxumState<Shared>) -> Response {
    no_store(axum::Json(snapshot(&shared)).into_response())
}

/// Where a peer's checkpoint comes from.
#[derive(Debug, Clone)]
pub enum Peer {
    /// Another observer's `GET /observer/checkpoint`.
    Http(BaseUrl),
    /// A folder shared by observers on one machine: every `<name>.txt`
    /// but this observer's own.
    Dir(PathBuf),
}

impl Peer {
    /// The peers' current checkpoints, raw, each with a label naming the
    /// peer; an error is that peer's, not the board's.
    fn fetch(&self, own: &str) -> Vec<(String, anyhow::Result<Option<Vec<u8>>>)> {
        match self {
            Peer::Http(base) => {
                // A peer that hangs must not stall this observer's rounds.
                let got =
                    http::get_within(base, "/observer/checkpoint", PEER_TIMEOUT).and_then(|r| {
                        match r.status {
                            404 => Ok(None),
                            _ => r.ok("the peer's checkpoint").map(Some),
                        }
                    });
                vec![(format!("seen by peer {base}"), got)]
            }
            Peer::Dir(dir) => {
                let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
                    Ok(rd) => rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
                        .filter(|p| p.file_stem().is_none_or(|s| s != own))
                        .collect(),
                    Err(e) => return vec![(format!("{}", dir.display()), Err(e.into()))],
                };
                files.sort();
                files
                    .into_iter()
                    .map(|p| {
                        let label = format!(
                            "seen by peer {}",
                            p.file_stem()
                                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
                        );
                        (label, std::fs::read(&p).map(Some).map_err(Into::into))
                    })
                    .collect()
            }
        }
    }

    /// Publishes this observer's checkpoint where the peers look (only a
    /// folder needs it; over HTTP the peers ask `--listen`).
    pub fn publish(&self, own: &str, note: &str) -> anyhow::Result<()> {
        if let Peer::Dir(dir) = self {
            crate::mirror::write_atomic(&dir.join(format!("{own}.txt")), note.as_bytes())?;
        }
        Ok(())
    }

    /// Prepares the transport (makes the shared folder).
    pub fn prepare(&self) -> anyhow::Result<()> {
        if let Peer::Dir(dir) = self {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }
}

/// Compares every peer's checkpoint with this observer's view.
pub fn peer_round(st: &State, own: &str, peers: &[Peer]) -> Result<(), Alarm> {
    for peer in peers {
        for (label, got) in peer.fetch(own) {
            let bytes = match got {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("urna observe: peer error: {label}: {e:#}");
                    continue;
                }
            };
            // Only what the board itself signed is evidence against it: a
            // peer serving anything else is the peer's fault.
            let Some(other) = board_signed(st, &bytes, &label) else {
                continue;
            };
            match compare(st, &other, &label) {
                Ok(Some(alarm)) => return Err(alarm),
                Ok(None) => {}
                Err(e) => eprintln!("urna observe: warning: checking {label}: {e:#}"),
            }
        }
    }
    Ok(())
}

fn board_signed(st: &State, bytes: &[u8], label: &str) -> Option<Served> {
    let note = match SignedNote::parse(bytes) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("urna observe: peer error: {label}: not a signed note: {e}");
            return None;
        }
    };
    match verify_checkpoint(&note, &st.remote.key, &[]) {
        Ok(v) => Some(Served {
            text: String::from_utf8_lossy(bytes).into_owned(),
            note,
            checkpoint: v.checkpoint,
        }),
        Err(e) => {
            eprintln!(
                "urna observe: peer error: {label}: not a checkpoint signed by the board key: {e}"
            );
            None
        }
    }
}

/// The comparison rule of board.md §B12.2: a board-signed checkpoint
/// (ours from the past, or a peer's) against what this observer accepted.
/// The same size must have the same root; otherwise the board this
/// observer watches must prove the two consistent, and a proof it
/// refuses or that fails is a split view. `Err` only when the board could
/// not be asked (retried next round).
pub fn compare(st: &State, other: &Served, label: &str) -> anyhow::Result<Option<Alarm>> {
    let oc = &other.checkpoint;
    let Some(last) = &st.last else {
        return Ok(None);
    };
    if let Some((root, note)) = st.seen.get(&oc.size()) {
        if root != oc.root() {
            return Ok(Some(
                Alarm::new(format!(
                    "split view: two different roots signed by the board for size {}",
                    oc.size()
                ))
                .with("seen by this observer", note.clone())
                .with(label.to_owned(), other.text.clone()),
            ));
        }
        return Ok(None);
    }
    let lc = &last.checkpoint;
    let (small, big) = if oc.size() < lc.size() {
        (oc, lc)
    } else {
        (lc, oc)
    };
    let split = |why: String| {
        Alarm::new(format!(
            "split view: checkpoints of sizes {} and {} {why}",
            small.size(),
            big.size()
        ))
        .with("seen by this observer", last.text.clone())
        .with(label.to_owned(), other.text.clone())
    };
    let mut answer = st.remote.consistency_answer(small.size(), big.size())?;
    if answer.is_err() && big.size() > lc.size() {
        // The peer may simply be ahead: the board's latest checkpoint, if
        // it has grown that far since this round began, must be able to
        // give the proof.
        let latest = st.remote.check(st.remote.checkpoint_text()?)?;
        if latest.checkpoint.size() < big.size() {
            let alarm = split(format!(
                "cannot both be the board's: it signed size {} for a peer but serves this observer size {}",
                big.size(),
                latest.checkpoint.size()
            ));
            return Ok(Some(if latest.checkpoint == *lc {
                alarm
            } else {
                alarm.with("served to this observer now", latest.text)
            }));
        }
        answer = st.remote.consistency_answer(small.size(), big.size())?;
    }
    let proof = match answer {
        Ok(p) => p,
        Err(refusal) => {
            return Ok(Some(split(format!(
                "cannot be linked: the board refuses the consistency proof ({refusal})"
            ))));
        }
    };
    if let Err(e) = verify_consistency(small.size(), big.size(), &proof, small.root(), big.root()) {
        return Ok(Some(split(format!("are not consistent ({e})"))));
    }
    Ok(None)
}

/// Parses a `--peer` URL.
pub fn peer_url(url: &str) -> anyhow::Result<Peer> {
    BaseUrl::parse(url)
        .map(Peer::Http)
        .map_err(|e| anyhow!("--peer {url}: {e:#}"))
}

/// A `--peers` folder.
pub fn peer_dir(dir: &Path) -> Peer {
    Peer::Dir(dir.to_path_buf())
}
