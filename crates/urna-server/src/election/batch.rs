//! The batching verifier: collects the ballots that arrive within a few
//! milliseconds (or up to `max_batch`), admits them, verifies their proofs
//! in one `verify_admitted` call off the async workers, then records each
//! and appends the entries in the engine's order. A ballot is answered
//! only once its entry is durable.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};
use urna_election::{Admitted, verify_admitted};
use urna_store::Appended;

use super::errors::election_error;
use super::phase::Phase;
use super::service::Shared;
use crate::error::ApiError;

/// What the verifier answers for one ballot.
pub(crate) type Verdict = Result<(/* tracking */ [u8; 32], Appended), ApiError>;

/// A ballot waiting for the verifier.
#[derive(Debug)]
pub(crate) struct Submission {
    pub(crate) bytes: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Verdict>,
}

/// Why the engine does not take ballots in this phase.
pub(crate) fn not_voting(phase: &Phase) -> ApiError {
    use axum::http::StatusCode;
    match phase {
        Phase::Closed(_) | Phase::Tallied(_) | Phase::Decrypted(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "voting_closed",
            "Voting is closed; no ballot is accepted any more.",
        ),
        other => ApiError::new(
            StatusCode::FORBIDDEN,
            "voting_not_open",
            format!(
                "Voting has not been opened yet (the election is in phase `{}`).",
                other.name()
            ),
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

async fn process(shared: &Arc<Shared>, batch: Vec<Submission>) {
    if let Err(e) = shared.check_running() {
        for s in batch {
            answer(s.reply, Err(e.clone()));
        }
        return;
    }
    // 1. Cheap checks, under the lock.
    let mut waiting = Vec::with_capacity(batch.len());
    let mut admitted: Vec<Admitted> = Vec::with_capacity(batch.len());
    {
        let inner = shared.inner.lock().await;
        let Phase::Voting(e) = &inner.phase else {
            let err = not_voting(&inner.phase);
            for s in batch {
                answer(s.reply, Err(err.clone()));
            }
            return;
        };
        let now = shared.now();
        for s in batch {
            match e.admit(s.bytes, now) {
                Ok(a) => {
                    waiting.push(Waiting {
                        reply: s.reply,
                        credential: *a.credential().as_bytes(),
                    });
                    admitted.push(a);
                }
                Err(err) => answer(s.reply, Err(election_error(&err))),
            }
        }
    }
    if admitted.is_empty() {
        return;
    }
    // 2. One batch of proofs, off the async workers.
    shared.batches.fetch_add(1, Ordering::Relaxed);
    shared
        .batched
        .fetch_add(admitted.len() as u64, Ordering::Relaxed);
    let verdicts = tokio::task::spawn_blocking(move || {
        let mut rng = rand::rng();
        verify_admitted(admitted, &mut rng)
    })
    .await;
    let verdicts = match verdicts {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "ballot verification task failed");
            for w in waiting {
                answer(w.reply, Err(ApiError::internal()));
            }
            return;
        }
    };
    // 3. Record in order and queue the entries, under the lock, so that
    // the board order is the engine's order.
    let mut guard = shared.inner.lock().await;
    if let Err(e) = shared.check_running() {
        // An earlier batch failed to append: count nothing more.
        for w in waiting {
            answer(w.reply, Err(e.clone()));
        }
        return;
    }
    let inner = &mut *guard;
    let Phase::Voting(e) = &mut inner.phase else {
        let err = not_voting(&inner.phase);
        for w in waiting {
            answer(w.reply, Err(err.clone()));
        }
        return;
    };
    let now = shared.now();
    let mut entries = Vec::new();
    let mut recorded = Vec::new();
    for (w, v) in waiting.into_iter().zip(verdicts) {
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
            (w.reply, tracking, first, p)
        })
        .collect();
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
            for (_, _, first, p) in &recorded {
                book.ballot(precincts, *p, *first, now);
            }
        }
        for ((reply, tracking, ..), a) in recorded.into_iter().zip(appended) {
            shared.remember(tracking, a.index);
            answer(reply, Ok((tracking, a)));
        }
    });
}
