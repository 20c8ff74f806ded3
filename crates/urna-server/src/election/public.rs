//! Public read endpoints: manifest, ballot styles, status, turnout, the
//! encrypted tally, results, receipts. None changes anything, and none
//! reveals anything about ballot contents before the results.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use urna_election::record::{ResultScope, TallyChunk};
use urna_election::{Manifest, ballot_header};

use super::body::receipt;
use super::errors::from_hex32;
use super::phase::Phase;
use crate::AppState;
use crate::error::ApiError;

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

fn manifest(state: &AppState) -> Result<&Manifest, ApiError> {
    state
        .election
        .shared
        .manifest
        .get()
        .map(AsRef::as_ref)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_manifest",
                "No election manifest has been published on this server.",
            )
        })
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v).map_err(|e| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("The path is malformed: {}.", e.body_text()),
        )
    })
}

/// `GET /election/manifest`: the exact TOML bytes (their SHA-256 is the manifest hash).
pub(crate) async fn get_manifest(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = manifest(&state)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/toml; charset=utf-8"),
        )],
        m.bytes().to_vec(),
    )
        .into_response())
}

/// `GET /election/style/{district}`: what a device needs to make a ballot.
pub(crate) async fn style(
    State(state): State<AppState>,
    district: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let district = path(district)?;
    let m = manifest(&state)?;
    let Some(style) = m.style_of(&district) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_district",
            format!("District `{district}` is not in the manifest."),
        ));
    };
    let keys = state.election.shared.keys.get().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_joint_key",
            "The key ceremony has not finished; there is no joint key to encrypt to yet.",
        )
    })?;
    let header = ballot_header(m, &district)?;
    let contests: Vec<Value> = style
        .contests
        .iter()
        .zip(&style.shapes)
        .map(|(&ci, shape)| {
            let c = &m.contests()[ci];
            json!({
                "id": c.id,
                "title": c.title,
                "options": c.options.iter().map(|o| json!({ "id": o.id, "name": o.name })).collect::<Vec<_>>(),
                "order": c.order.as_str(),
                "shape": {
                    "options": shape.options,
                    "option_max": shape.option_max,
                    "min": shape.min,
                    "max": shape.max,
                },
            })
        })
        .collect();
    Ok(Json(json!({
        "election": m.id(),
        "district": district,
        "manifest_hash": hex::encode(m.hash()),
        "header": hex::encode(header),
        "contests": contests,
        "joint_key": keys.key.element().to_hex(),
        "fingerprint": keys.fingerprint.to_hex(),
    }))
    .into_response())
}

/// `GET /election/status`: the phase and the board size.
pub(crate) async fn status(State(state): State<AppState>) -> Response {
    let shared = &state.election.shared;
    let phase = shared.inner.lock().await.phase.name();
    let body = json!({
        "phase": phase,
        "manifest_hash": shared.manifest.get().map(|m| hex::encode(m.hash())),
        "joint_key": shared.keys.get().map(|k| k.key.element().to_hex()),
        "fingerprint": shared.keys.get().map(|k| k.fingerprint.to_hex()),
        "tree_size": shared.store.size(),
        "verifier": {
            "batches": shared.batches.load(Ordering::Relaxed),
            "ballots": shared.batched.load(Ordering::Relaxed),
        },
    });
    no_store(Json(body).into_response())
}

/// `GET /election/turnout`: counts only.
pub(crate) async fn turnout(State(state): State<AppState>) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    let m = manifest(&state)?;
    let phase = shared.inner.lock().await.phase.name();
    let zone = shared.zone(m);
    let report = shared.book().report(m, phase, zone);
    Ok(no_store(Json(report).into_response()))
}

/// `GET /election/tally`: the encrypted tally's payloads (spec/record.md §R10).
pub(crate) async fn tally(State(state): State<AppState>) -> Result<Response, ApiError> {
    let inner = state.election.shared.inner.lock().await;
    let records = match &inner.phase {
        Phase::Tallied(e) => e.records(),
        Phase::Decrypted(e) => e.records(),
        other => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tally_not_published",
                format!(
                    "The encrypted tally is published after the close (the election is in phase `{}`).",
                    other.name()
                ),
            ));
        }
    };
    let payloads = TallyChunk::payloads(records).map_err(urna_election::ElectionError::from)?;
    Ok(Json(json!({
        "payloads": payloads.iter().map(hex::encode).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `GET /election/results`: only once published.
pub(crate) async fn results(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = manifest(&state)?;
    let inner = state.election.shared.inner.lock().await;
    let Phase::Decrypted(e) = &inner.phase else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "results_not_published",
            format!(
                "Results are published only after the close and the trustees' decryption (the election is in phase `{}`).",
                inner.phase.name()
            ),
        ));
    };
    let rows: Vec<Value> = e
        .results()
        .iter()
        .map(|r| {
            let (scope, id) = match &r.scope {
                ResultScope::District(d) => ("district", Some(d.clone())),
                ResultScope::Region(g) => ("region", Some(g.clone())),
                ResultScope::Total => ("total", None),
            };
            let options: Vec<&str> = m
                .contests()
                .iter()
                .find(|c| c.id == r.contest)
                .map(|c| c.options.iter().map(|o| o.id.as_str()).collect())
                .unwrap_or_default();
            json!({
                "scope": scope,
                "id": id,
                "contest": r.contest,
                "ballots": r.ballots,
                "options": options,
                "counts": r.counts,
            })
        })
        .collect();
    Ok(Json(json!({ "results": rows })).into_response())
}

/// `GET /receipt/{tracking}`: a fresh inclusion proof against the latest checkpoint.
pub(crate) async fn get_receipt(
    State(state): State<AppState>,
    tracking: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    let tracking = from_hex32("tracking", &path(tracking)?).map_err(|_| {
        ApiError::bad_request(
            "invalid_tracking_code",
            "A tracking code is 64 lower-case hex digits.",
        )
    })?;
    let index = shared.receipt_index(&tracking).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tracking_code",
            "No ballot or audited ballot with this tracking code is on the board.",
        )
    })?;
    let cp = shared.store.latest_checkpoint();
    let r = receipt(shared, tracking, index, cp).await?;
    Ok(no_store(Json(r).into_response()))
}
