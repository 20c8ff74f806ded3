//! Voter endpoints: cast a ballot (batched verification, receipt once
//! durable) and Benaloh audits.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::batch::{Submission, not_voting, not_voting_in};
use super::body::{json_body, receipt};
use super::errors::{election_error, from_hex};
use super::phase::Phase;
use crate::AppState;
use crate::error::ApiError;
use crate::json::{Json, JsonRejection};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BallotBody {
    /// The ballot bytes (spec/crypto.md §7, spec/record.md §R6), hex.
    ballot: String,
}

fn gone() -> ApiError {
    tracing::error!("the ballot verifier stopped");
    ApiError::internal()
}

/// `POST /election/ballots`.
pub(crate) async fn cast(
    State(state): State<AppState>,
    body: Result<Json<BallotBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    state.election.shared.check_running()?;
    let bytes = from_hex("ballot", &json_body(body)?.ballot)?;
    submit(&state, bytes, false).await
}

/// Casts `bytes` (spec/api.md §A4); `vouched`: forwarded by a peer server
/// that verified its proofs (crate::cluster), which are then not verified again.
pub(crate) async fn submit(
    state: &AppState,
    bytes: Vec<u8>,
    vouched: bool,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.check_running()?;
    // The credential follows the version byte (spec/crypto.md §7.3); a
    // ballot too short to hold one is refused by the verifier below.
    let credential = bytes.get(1..33).and_then(|c| <[u8; 32]>::try_from(c).ok());
    // spec/api.md §A4: the phase before the registrar, so that a ballot
    // refused by the phase reserves nothing. A close racing this check
    // is caught by the verifier, and the reservation given back.
    let phase = shared.phase_name();
    if phase != "voting" {
        return Err(not_voting_in(phase));
    }
    if let Some(c) = &credential {
        // May reserve the credential until the ballot is on the board or
        // refused, so a withdrawal cannot pass it (spec/registration.md §G4).
        shared.config.registrar.authorize_ballot(c)?;
    }
    let verifier = state.election.verifier().clone();
    let registrar = Arc::clone(&shared.config.registrar);
    // The rest runs on its own task: a client that goes away must not
    // leave a reservation behind by dropping this handler mid-way.
    let settle = tokio::spawn(async move {
        let (reply, answer) = oneshot::channel();
        let verdict = match verifier
            .send(Submission {
                bytes,
                reply,
                vouched,
            })
            .await
        {
            // Never reached the engine: nothing of it is on the board.
            Err(_) => Err(Refused(gone())),
            Ok(()) => match answer.await {
                Ok(Ok(r)) => Ok(r),
                // A refusal (4xx) changed nothing; a 5xx (a failed append,
                // a lost task) may leave the ballot on the board.
                Ok(Err(e)) if e.status().is_client_error() => Err(Refused(e)),
                Ok(Err(e)) => Err(Unknown(e)),
                Err(_) => Err(Unknown(gone())),
            },
        };
        match verdict {
            Ok(r) => Ok(r),
            Err(Refused(e)) => {
                if let Some(c) = credential {
                    // Released before the answer, so the voter who reads
                    // the refusal may withdraw at once.
                    let _ = tokio::task::spawn_blocking(move || registrar.ballot_refused(&c)).await;
                }
                Err(e)
            }
            Err(Unknown(e)) => Err(e),
        }
    });
    let r = settle.await.map_err(|_| gone())??;
    Ok(Json(r).into_response())
}

/// How a ballot that did not get a receipt ended.
enum NoReceipt {
    /// Certainly not on the board.
    Refused(ApiError),
    /// Perhaps on the board.
    Unknown(ApiError),
}
use NoReceipt::{Refused, Unknown};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditBody {
    /// An `audited_ballot` payload (spec/record.md §R7): the ballot and its revealed secrets, hex.
    audit: String,
}

/// `POST /election/audits`: a Benaloh audit; the ballot is spoiled.
pub(crate) async fn audit(
    State(state): State<AppState>,
    body: Result<Json<AuditBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    let payload = from_hex("audit", &json_body(body)?.audit)?;
    // As for ballots, the entry is queued under the lock (so the board
    // order is the engine's) but made durable outside it: audits do not
    // hold up other submissions for an fsync each.
    shared.check_running()?;
    let mut inner = shared.inner.lock().await;
    shared.check_running()?;
    let cast = match &mut inner.phase {
        Phase::Voting(e) => e
            .audit(&payload, shared.now(), &mut rand::rng())
            .map_err(|e| election_error(&e))?,
        other => return Err(not_voting(other)),
    };
    let tracking = cast.tracking;
    let pending = shared.enqueue(vec![cast.entry]).await;
    drop(inner);
    let appended = shared.durable(pending).await?;
    shared.book().audit();
    let Some(a) = appended.into_iter().next() else {
        return Err(ApiError::internal());
    };
    shared.remember(tracking, a.index);
    let r = receipt(shared, tracking, a.index, a.checkpoint).await?;
    Ok(Json(r).into_response())
}
