//! The batching verifier: collects the ballots that arrive within a few
//! milliseconds (or up to `max_batch`), admits them and verifies their
//! proofs on a blocking thread, both spread over the cores (one
//! `verify_admitted` batch per core), then records each and appends the
//! entries in the engine's order. A ballot is answered, with its receipt,
//! only once its entry is durable.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rayon::prelude::*;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};
use urna_election::{Admitted, Election, ElectionError, Verified, Voting, verify_admitted};

use super::body::receipt_json;
use super::errors::election_error;
use super::phase::Phase;
use super::service::Shared;
use crate::error::ApiError;

/// What the verifier answers for one ballot: its receipt (spec/api.md §A4.1).
pub(crate) type Verdict = Result<serde_json::Value, ApiError>;

/// A ballot waiting for the verifier.
#[derive(Debug)]
pub(crate) struct Submission {
    pub(crate) bytes: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Verdict>,
    /// Its proofs were verified by a peer server that forwarded it
    /// (crate::cluster): only the cheap checks run here.
    pub(crate) vouched: bool,
}

/// Why the engine does not take ballots in this phase.
pub(crate) fn not_voting(phase: &Phase) -> ApiError {
    not_voting_in(phase.name())
}

/// Why the engine does not take ballots in the phase of this name.
pub(crate) fn not_voting_in(phase: &str) -> ApiError {
    use axum::http::StatusCode;
    match phase {
        "closed" | "tallied" | "decrypted" => ApiError::new(
            StatusCode::FORBIDDEN,
            "voting_closed",
            "Voting is closed; no ballot is accepted any more.",
        ),
        other => ApiError::new(
            StatusCode::FORBIDDEN,
            "voting_not_open",
            format!("Voting has not been opened yet (the election is in phase `{other}`)."),
        ),
    }
}

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Submission>) {
    let max = shared.config.max_batch.max(1);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = Instant::now() + shared.config.batch_window;
        while batch.len() < max {
            match timeout_at(deadline, rx.recv()).await {
                Ok(Some(s)) => batch.push(s),
                Ok(None) | Err(_) => break,
            }
        }
        process(&shared, batch).await;
    }
}

/// An admitted ballot with what the turnout needs.
struct Waiting {
    reply: oneshot::Sender<Verdict>,
    credential: [u8; 32],
}

fn answer(reply: oneshot::Sender<Verdict>, v: Verdict) {
    // The client may have gone away; the ballot stands either way.
    let _ = reply.send(v);
}

/// What the blocking stage hands back to the async one.
enum Checked {
    /// The election does not take ballots now; nothing was admitted.
    NotVoting(ApiError, Vec<Submission>),
    /// The admitted ballots (in arrival order) with their proof verdicts.
    Verified(Vec<(Waiting, Result<Verified, ElectionError>)>),
}

/// Steps 1 and 2 on a blocking thread, each spread over the cores: a
/// single verifier task doing them on one core capped casting at about
/// 2,500 ballots/s on two cores, decoding alone costing as much as the
/// batched proofs (BENCHMARKS.md).
fn check(shared: &Shared, batch: Vec<Submission>) -> Checked {
    // 1. Cheap checks (decoding, credential, header, replay, policy) under
    // the lock, which only needs to be shared here: admit takes `&self`.
    type Admission = (
        oneshot::Sender<Verdict>,
        bool,
        Result<Admitted, ElectionError>,
    );
    let admitted: Vec<Admission> = {
        let inner = shared.inner.blocking_lock();
        let Phase::Voting(e) = &inner.phase else {
            return Checked::NotVoting(not_voting(&inner.phase), batch);
        };
        let e: &Election<Voting> = e;
        let now = shared.now();
        batch
            .into_par_iter()
            .map(|s| (s.reply, s.vouched, e.admit(s.bytes, now)))
            .collect()
    };
    let mut waiting = Vec::with_capacity(admitted.len());
    let mut ok = Vec::with_capacity(admitted.len());
    let mut vouched = Vec::new();
    for (reply, by_peer, a) in admitted {
        match a {
            Ok(a) if by_peer => vouched.push((
                Waiting {
                    reply,
                    credential: *a.credential().as_bytes(),
                },
                Ok(a.vouched()),
            )),
            Ok(a) => {
                waiting.push(Waiting {
                    reply,
                    credential: *a.credential().as_bytes(),
                });
                ok.push(a);
            }
            Err(err) => answer(reply, Err(election_error(&err))),
        }
    }
    if ok.is_empty() {
        return Checked::Verified(vouched);
    }
    // 2. The proofs, outside the lock: one batch per core (a batch smaller
    // than urna-crypto's chunk is verified on one thread).
    shared.batches.fetch_add(1, Ordering::Relaxed);
    shared.batched.fetch_add(ok.len() as u64, Ordering::Relaxed);
    crate::metrics::ballot_batch(ok.len());
    let per = ok.len().div_ceil(rayon::current_num_threads().max(1));
    let mut parts = Vec::new();
    let mut rest = ok.into_iter();
    loop {
        let part: Vec<Admitted> = rest.by_ref().take(per.max(1)).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let verdicts: Vec<Vec<Result<Verified, ElectionError>>> = parts
        .into_par_iter()
        .map(|part| verify_admitted(part, &mut rand::rng()))
        .collect();
    vouched.extend(waiting.into_iter().zip(verdicts.into_iter().flatten()));
    Checked::Verified(vouched)
}

async fn process(shared: &Arc<Shared>, batch: Vec<Submission>) {
    if let Err(e) = shared.check_running() {
        for s in batch {
            answer(s.reply, Err(e.clone()));
        }
        return;
    }
    let sh = Arc::clone(shared);
    let checked = match tokio::task::spawn_blocking(move || check(&sh, batch)).await {
        Ok(Checked::Verified(v)) => v,
        Ok(Checked::NotVoting(err, batch)) => {
            for s in batch {
                answer(s.reply, Err(err.clone()));
            }
            return;
        }
        Err(e) => {
            // The replies were dropped with the task: their handlers answer 500.
            tracing::error!(error = %e, "ballot verification task failed");
            return;
        }
    };
    if checked.is_empty() {
        return;
    }
    // 3. Record in order and queue the entries, under the lock, so that
    // the board order is the engine's order.
    let mut guard = shared.inner.lock().await;
    if let Err(e) = shared.check_running() {
        // An earlier batch failed to append: count nothing more.
        for (w, _) in checked {
            answer(w.reply, Err(e.clone()));
        }
        return;
    }
    let inner = &mut *guard;
    let Phase::Voting(e) = &mut inner.phase else {
        let err = not_voting(&inner.phase);
        for (w, _) in checked {
            answer(w.reply, Err(err.clone()));
        }
        return;
    };
    let now = shared.now();
    let mut entries = Vec::new();
    let mut recorded = Vec::new();
    for (w, v) in checked {
        match v.and_then(|v| e.record(v, now)) {
            Ok(cast) => {
                entries.push(cast.entry);
                recorded.push((w, cast.tracking, cast.superseded.is_none()));
            }
            Err(err) => answer(w.reply, Err(election_error(&err))),
        }
    }
    if recorded.is_empty() {
        return;
    }
    // Queue the entries in the engine's order while still holding the
    // lock, then let the next batch proceed while these become durable.
    let pending = shared.enqueue(entries).await;
    let precincts = shared.manifest.get().map_or(0, |m| m.precincts().len());
    let recorded: Vec<_> = recorded
        .into_iter()
        .map(|(w, tracking, first)| {
            let p = inner.precinct_of.get(&w.credential).copied();
            (w.reply, tracking, first, p, w.credential)
        })
        .collect();
    let in_flight = super::service::InFlight::new(shared);
    drop(guard);
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let appended = match shared.durable(pending).await {
            Ok(a) => a,
            Err(e) => {
                for (reply, ..) in recorded {
                    answer(reply, Err(e.clone()));
                }
                return;
            }
        };
        {
            let mut book = shared.book();
            for (_, _, first, p, _) in &recorded {
                book.ballot(precincts, *p, *first, now);
            }
        }
        for ((_, tracking, ..), a) in recorded.iter().zip(&appended) {
            shared.remember(*tracking, a.index);
        }
        drop(in_flight);
        super::snapshot::maybe_take(&shared);
        // The registrar's bookkeeping (who voted online) waits on its own
        // database, so it runs beside the receipts rather than before them.
        let credentials: Vec<[u8; 32]> = recorded.iter().map(|r| r.4).collect();
        let registrar = Arc::clone(&shared.config.registrar);
        tokio::task::spawn_blocking(move || registrar.ballots_recorded(&credentials));
        // The receipts' proofs in one blocking call for the whole batch
        // rather than one per request; the leaf hashes are known, so the
        // entries need not be read back.
        let store = shared.store.clone();
        let proofs = tokio::task::spawn_blocking(move || {
            appended
                .into_iter()
                .map(|a| {
                    let proof = store.inclusion_proof(a.index, a.checkpoint.size());
                    (a, proof)
                })
                .collect::<Vec<_>>()
        })
        .await;
        let proofs = match proofs {
            Ok(p) => p,
            Err(e) => {
                // The ballots stand; `GET /receipt/{tracking}` answers for them.
                tracing::error!(error = %e, "receipt task failed");
                for (reply, ..) in recorded {
                    answer(reply, Err(ApiError::internal()));
                }
                return;
            }
        };
        for ((reply, tracking, ..), (a, proof)) in recorded.into_iter().zip(proofs) {
            let r = proof.map_err(ApiError::from).map(|proof| {
                receipt_json(
                    &tracking,
                    "ballot",
                    a.index,
                    &a.leaf_hash,
                    &a.checkpoint,
                    &proof,
                )
            });
            answer(reply, r);
        }
    });
}
