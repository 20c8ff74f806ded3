//! `GET /healthz` and `GET /readyz` (spec/api.md §A9.3).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Node, Seat};
use crate::AppState;
use crate::error::ApiError;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Response {
    Json(json!({ "status": "alive" })).into_response()
}

fn not_ready(code: &'static str, message: &str) -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).into_response()
}

/// `GET /readyz` of a single server: ready unless its election halted.
pub async fn readyz_single(State(state): State<AppState>) -> Response {
    match state.election.shared.check_running() {
        Ok(()) => Json(json!({
            "status": "ready",
            "role": "single",
            "board_size": state.store.size(),
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /readyz` in a cluster: ready when this server sequences (and its
/// election runs), or follows a live sequencer with its replica open.
pub(crate) async fn readyz(State(node): State<Node>) -> Response {
    let view = node.view();
    match view.seat {
        Some(Seat::Sequencer { epoch, state, .. }) => {
            if let Err(e) = state.election.shared.check_running() {
                return e.into_response();
            }
            Json(json!({
                "status": "ready",
                "role": "sequencer",
                "epoch": epoch,
                "sequencer": node.inner.config.advertise,
                "board_size": state.store.size(),
            }))
            .into_response()
        }
        Some(Seat::Follower) => match (view.sequencer, view.replica) {
            (Some((address, epoch)), Some((replica, _))) => Json(json!({
                "status": "ready",
                "role": "follower",
                "epoch": epoch,
                "sequencer": address,
                "board_size": replica.store.size(),
            }))
            .into_response(),
            (None, _) => not_ready(
                "no_sequencer",
                "No server holds the sequencer lease right now; one takes it over within seconds.",
            ),
            (Some(_), None) => not_ready(
                "starting",
                "This server is still reading the board from the database.",
            ),
        },
        Some(Seat::Starting) | None => not_ready(
            "starting",
            "This server is still reading the board from the database.",
        ),
    }
}
