//! Snapshots of the election state (spec/api.md §A6.3): what a restarted
//! or taking-over server needs so that it replays only the board's tail
//! instead of every ballot.
//!
//! The sequencing server takes one every [`ElectionConfig::snapshot_every`]
//! board entries during voting, off the hot path: it holds the engine lock
//! only while it waits for the batches in flight to settle and encodes the
//! state; hashing and storing happen after. The store keeps the bytes with
//! format number [`FORMAT`] next to the board (`election_snapshots`).
//!
//! Bytes (big-endian): `check [32] ‖ body`, `check = SHA-256(body)`,
//!
//! ```text
//! body = u64 size ‖ root [32] ‖ u64 E ‖ engine state [E] ‖ server part
//! server part = u64 P ‖ P × (credential [32] ‖ u32 precinct)
//!             ‖ u64 R ‖ R × (tracking code [32] ‖ u64 board index)
//!             ‖ turnout book ‖ u8 has_observers [‖ u64 index of the last observer list]
//! ```
//!
//! The engine state is `urna_election`'s voting state (its
//! `lifecycle::state` module documents it); the turnout book's encoding is
//! in [`super::turnout`].
//!
//! [`ElectionConfig::snapshot_every`]: super::ElectionConfig::snapshot_every

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use urna_board::Hash;
use urna_store::{BoardStore, Snapshot};

use super::phase::Phase;
use super::service::Shared;
use super::turnout::TurnoutBook;

/// The format number of the bytes this module writes (spec/api.md §A6.3).
pub const FORMAT: u32 = 1;

/// A strict reader of big-endian fields.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Some(a)
    }
    pub(crate) fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Some(a)
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.arr()?))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.arr()?))
    }
    /// `n` items of `size` bytes, if that many bytes are left.
    pub(crate) fn bounded(&self, n: u64, size: usize) -> Option<usize> {
        (n <= (self.bytes.len() / size.max(1)) as u64).then_some(n as usize)
    }
}

/// What the server keeps beside the engine.
#[derive(Debug, Default)]
pub(crate) struct ServerPart {
    pub(crate) precinct_of: HashMap<[u8; 32], usize>,
    pub(crate) receipts: HashMap<[u8; 32], u64>,
    pub(crate) book: TurnoutBook,
    pub(crate) observers: Option<u64>,
}

fn sorted<V: Copy>(m: &HashMap<[u8; 32], V>) -> Vec<([u8; 32], V)> {
    let mut v: Vec<([u8; 32], V)> = m.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_unstable_by_key(|(k, _)| *k);
    v
}

fn encode_server(
    precinct_of: &HashMap<[u8; 32], usize>,
    receipts: &HashMap<[u8; 32], u64>,
    book: &TurnoutBook,
    observers: Option<u64>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&(precinct_of.len() as u64).to_be_bytes());
    for (c, p) in sorted(precinct_of) {
        out.extend_from_slice(&c);
        out.extend_from_slice(&(p as u32).to_be_bytes());
    }
    out.extend_from_slice(&(receipts.len() as u64).to_be_bytes());
    for (t, i) in sorted(receipts) {
        out.extend_from_slice(&t);
        out.extend_from_slice(&i.to_be_bytes());
    }
    book.encode(out);
    match observers {
        Some(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_be_bytes());
        }
        None => out.push(0),
    }
}

fn decode_server(bytes: &[u8]) -> Option<ServerPart> {
    let mut r = Reader { bytes };
    let mut part = ServerPart::default();
    let n = r.u64()?;
    let n = r.bounded(n, 36)?;
    part.precinct_of.reserve(n);
    for _ in 0..n {
        let c = r.arr::<32>()?;
        let p = r.u32()? as usize;
        if part.precinct_of.insert(c, p).is_some() {
            return None;
        }
    }
    let n = r.u64()?;
    let n = r.bounded(n, 40)?;
    part.receipts.reserve(n);
    for _ in 0..n {
        let t = r.arr::<32>()?;
        if part.receipts.insert(t, r.u64()?).is_some() {
            return None;
        }
    }
    part.book = TurnoutBook::decode(&mut r)?;
    part.observers = match r.arr::<1>()?[0] {
        0 => None,
        1 => Some(r.u64()?),
        _ => return None,
    };
    r.bytes.is_empty().then_some(part)
}

/// A snapshot whose frame checked out against the stored board.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) size: u64,
    pub(crate) engine: Vec<u8>,
    pub(crate) server: ServerPart,
}

/// Frames the parts: `check ‖ size ‖ root ‖ E ‖ engine ‖ server`.
fn frame(size: u64, root: &Hash, engine: &[u8], server: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(48 + engine.len() + server.len());
    body.extend_from_slice(&size.to_be_bytes());
    body.extend_from_slice(root);
    body.extend_from_slice(&(engine.len() as u64).to_be_bytes());
    body.extend_from_slice(engine);
    body.extend_from_slice(server);
    let check = Sha256::digest(&body);
    let mut out = Vec::with_capacity(32 + body.len());
    out.extend_from_slice(&check);
    out.extend_from_slice(&body);
    out
}

/// Checks a stored snapshot against the board (spec/api.md §A6.3): known
/// format, intact bytes, a size the board has and the root the board has
/// at that size. The reason it is not usable otherwise.
pub(crate) fn check(snapshot: &Snapshot, store: &BoardStore) -> Result<Checked, String> {
    if snapshot.format != FORMAT {
        return Err(format!("unknown snapshot format {}", snapshot.format));
    }
    let Some((check, body)) = snapshot.state.split_at_checked(32) else {
        return Err("truncated".into());
    };
    if Sha256::digest(body).as_slice() != check {
        return Err("the bytes do not match their hash (damaged)".into());
    }
    let mut r = Reader { bytes: body };
    let (Some(size), Some(root), Some(e)) = (r.u64(), r.arr::<32>(), r.u64()) else {
        return Err("truncated".into());
    };
    if size != snapshot.size {
        return Err(format!(
            "it describes size {size} but is stored for size {}",
            snapshot.size
        ));
    }
    let engine = usize::try_from(e)
        .ok()
        .and_then(|e| r.take(e))
        .ok_or("truncated")?;
    let server = decode_server(r.bytes).ok_or("the server part does not decode")?;
    let stored = store
        .checkpoint(size)
        .map_err(|e| format!("the board has no checkpoint of size {size}: {e}"))?;
    if stored.root() != &root {
        return Err(format!(
            "its root at size {size} is not the board's: it belongs to another board"
        ));
    }
    Ok(Checked {
        size,
        engine: engine.to_vec(),
        server,
    })
}

/// How long a snapshot waits for the batches in flight to settle.
const SETTLE: Duration = Duration::from_secs(10);

/// What [`take`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotTaken {
    /// Board size the snapshot describes.
    pub size: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// How long the engine lock was held (ballots wait that long).
    pub locked: Duration,
}

/// Takes a snapshot now, if the election is voting: `Ok(None)` otherwise.
/// The engine lock is held while in-flight batches settle and the state is
/// encoded; the bytes are hashed and stored after it is released.
pub(crate) async fn take(shared: &Arc<Shared>) -> Result<Option<SnapshotTaken>, String> {
    let inner = shared.inner.lock().await;
    let t = Instant::now();
    let Phase::Voting(el) = &inner.phase else {
        return Ok(None);
    };
    // Receipts and turnout are updated once a batch is durable, after the
    // lock is released: wait for the batches queued before this lock.
    while shared.in_flight.load(Ordering::SeqCst) > 0 {
        if t.elapsed() > SETTLE || shared.check_running().is_err() {
            return Err("the batches in flight did not settle".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let cp = shared.store.latest_checkpoint();
    if cp.size() != shared.store.size() {
        return Err("the board's latest checkpoint is not its size".into());
    }
    let engine = el.export_state();
    let mut server = Vec::new();
    encode_server(
        &inner.precinct_of,
        &shared.receipts_snapshot(),
        &shared.book(),
        shared.observers_at(),
        &mut server,
    );
    drop(inner);
    let locked = t.elapsed();
    let (size, root) = (cp.size(), *cp.root());
    let store = shared.store.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let state = frame(size, &root, &engine, &server);
        let n = state.len() as u64;
        store
            .save_snapshot(Snapshot {
                size,
                format: FORMAT,
                state,
            })
            .map(|()| n)
    })
    .await
    .map_err(|e| format!("snapshot task: {e}"))?
    .map_err(|e| format!("storing the snapshot: {e}"))?;
    shared.snapshot_size.store(size, Ordering::SeqCst);
    Ok(Some(SnapshotTaken {
        size,
        bytes,
        locked,
    }))
}

/// Takes a snapshot in the background if the board grew by the configured
/// number of entries since the last one and none is being taken.
pub(crate) fn maybe_take(shared: &Arc<Shared>) {
    let every = shared.config.snapshot_every;
    if every == 0
        || shared.store.size() < shared.snapshot_size.load(Ordering::SeqCst) + every
        || shared.snapshotting.swap(true, Ordering::SeqCst)
    {
        return;
    }
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        match take(&shared).await {
            Ok(Some(s)) => tracing::info!(
                size = s.size,
                bytes = s.bytes,
                locked_ms = s.locked.as_millis() as u64,
                "election state snapshot stored"
            ),
            Ok(None) => {}
            Err(e) => {
                // Try again `every` entries later, not after every batch.
                shared
                    .snapshot_size
                    .store(shared.store.size(), Ordering::SeqCst);
                tracing::warn!(error = %e, "no election state snapshot this time");
            }
        }
        shared.snapshotting.store(false, Ordering::SeqCst);
    });
}
