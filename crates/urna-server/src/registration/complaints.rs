//! Complaints and the commission's answers (spec/registration.md §G9):
//! kept in the registry for the public list, and each appended to the
//! board (`complaint` and `complaint_answer`, spec/record.md §R13–§R14)
//! before the request is answered. Only the role, the optional tracking
//! code and the text reach the board: no voter identity, session or
//! address.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use urna_board::{Entry, EntryKind};
use urna_election::record::commission::{AnswerEntry, AnswerStatus, ComplaintEntry, Role};
use urna_registry::RegistryError;
use urna_registry::store::Author;

use super::{ElectionBoard, RegistrationService, RegistrationState, api, blocking, body, in_place};
use crate::error::ApiError;
use crate::json::{Json, JsonRejection};

pub(super) fn routes() -> Router<RegistrationState> {
    Router::new()
        .route(
            "/registration/complaints",
            get(complaints).post(file_complaint),
        )
        .route(
            "/registration/complaints/{id}/answer",
            post(answer_complaint),
        )
}

/// An entry the server built itself failing to encode is a server bug.
fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "encoding a complaint entry");
    ApiError::internal()
}

/// `GET /registration/complaints`: the public list, complaints on the
/// board only (one whose append did not finish was never acknowledged).
async fn complaints(State(s): State<RegistrationService>) -> Result<Response, ApiError> {
    blocking(move || {
        let list: Vec<_> =
            s.0.registry
                .complaints()
                .map_err(api)?
                .into_iter()
                .filter(|c| c.board_index.is_some())
                .collect();
        Ok(Json(json!({ "complaints": list })).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComplaintBody {
    /// `voter` or `observer`.
    author: String,
    text: String,
    /// A ballot tracking code (64 lower-case hex digits).
    tracking: Option<String>,
}

/// `POST /registration/complaints`: files a complaint (no identity kept)
/// and appends it to the board; 201 once the entry is durable.
async fn file_complaint(
    State(s): State<RegistrationService>,
    State(board): State<Arc<dyn ElectionBoard>>,
    b: Result<Json<ComplaintBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let (author, role) = match b.author.as_str() {
        "voter" => (Author::Voter, Role::Voter),
        "observer" => (Author::Observer, Role::Observer),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_complaint",
                "`author` must be `voter` or `observer`.",
            ));
        }
    };
    let tracking = match &b.tracking {
        None => None,
        Some(t) => {
            let mut out = [0u8; 32];
            if t.len() != 64
                || t.bytes().any(|c| c.is_ascii_uppercase())
                || hex::decode_to_slice(t, &mut out).is_err()
            {
                return Err(ApiError::bad_request(
                    "invalid_tracking_code",
                    "A tracking code is 64 lower-case hex digits.",
                ));
            }
            Some(out)
        }
    };
    let reg = s.clone();
    let mut id = 0;
    // The number is taken and the entry queued under the engine lock, so
    // numbers increase along the board (§R13).
    let appended = board
        .append_notice(Box::new(|_| {
            id = in_place(|| {
                reg.0
                    .registry
                    .file_complaint(author, &b.text, tracking, reg.0.clock.now())
            })
            .map_err(api)?;
            let payload = ComplaintEntry {
                number: id,
                role,
                tracking,
                text: b.text.trim().to_string(),
            }
            .encode()
            .map_err(internal)?;
            let entry = Entry::new(EntryKind::Complaint, &payload).map_err(internal)?;
            Ok(vec![entry])
        }))
        .await?;
    let index = board_index(&appended)?;
    blocking(move || {
        s.0.registry.complaint_on_board(id, index).map_err(api)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({ "id": id, "board_index": index })),
        )
            .into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    /// `accepted`, `rejected` or `answered` (the default).
    status: Option<String>,
    answer: String,
}

/// `POST /registration/complaints/{id}/answer` (admin): records the
/// answer and appends it to the board.
async fn answer_complaint(
    State(s): State<RegistrationService>,
    State(board): State<Arc<dyn ElectionBoard>>,
    headers: HeaderMap,
    id: Result<Path<u64>, PathRejection>,
    b: Result<Json<AnswerBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let Path(id) = id.map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            "The complaint number in the path must be a decimal number.",
        )
    })?;
    let b = body(b)?;
    let status = match b.status.as_deref() {
        None => AnswerStatus::Answered,
        Some(x) => AnswerStatus::from_name(x).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_answer",
                "`status` must be `accepted`, `rejected` or `answered`.",
            )
        })?,
    };
    let reg = s.clone();
    let appended = board
        .append_notice(Box::new(|_| {
            in_place(|| {
                let r = &reg.0.registry;
                // Only a complaint on the board can be answered on it.
                let filed = r
                    .complaints()?
                    .iter()
                    .any(|c| c.id == id && c.board_index.is_some());
                if !filed {
                    return Err(RegistryError::refused(
                        "unknown_complaint",
                        format!("there is no complaint {id}"),
                    ));
                }
                r.answer_complaint(id, status, &b.answer, reg.0.clock.now())
            })
            .map_err(api)?;
            let payload = AnswerEntry {
                number: id,
                status,
                text: b.answer.trim().to_string(),
            }
            .encode()
            .map_err(internal)?;
            let entry = Entry::new(EntryKind::ComplaintAnswer, &payload).map_err(internal)?;
            Ok(vec![entry])
        }))
        .await?;
    let index = board_index(&appended)?;
    blocking(move || {
        s.0.registry.answer_on_board(id, index).map_err(api)?;
        Ok(
            Json(json!({ "id": id, "status": status.name(), "board_index": index }))
                .into_response(),
        )
    })
    .await
}

/// The board index of the one entry a complaint or an answer appended.
fn board_index(appended: &[urna_store::Appended]) -> Result<u64, ApiError> {
    appended
        .first()
        .map(|a| a.index)
        .ok_or_else(ApiError::internal)
}
