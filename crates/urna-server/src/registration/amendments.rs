//! Registry amendments over HTTP (spec/registration.md §G3, §G9): the
//! commission uploads a signed amendment file; anyone lists the chain of
//! versions. The signature is checked with the commission key the server
//! signs precinct lists with.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use urna_registry::amendment::{Amendment, Change, SignedAmendment};

use super::{RegistrationService, RegistrationState, api, blocking};
use crate::error::ApiError;
use crate::json::{limit, read_upload};

pub(super) fn routes() -> Router<RegistrationState> {
    Router::new()
        .route("/registration/admin/amendments", post(upload))
        .route("/registration/amendments", get(list))
}

/// `POST /registration/admin/amendments`, body: a signed amendment file
/// (the amendment's bytes, then its 64-byte Ed25519 signature). Applied
/// all or nothing; a refusal changes nothing.
async fn upload(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let Some(key) = s.0.list_key.get().map(|k| k.verifying_key()) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_commission_key",
            "The server has no commission key to check amendments with (urna serve --commission-key).",
        ));
    };
    let body = read_upload(body, limit::AMENDMENT).await?;
    blocking(move || {
        let i = &s.0;
        let signed = SignedAmendment::from_file(&body).map_err(api)?;
        let version = i
            .registry
            .apply_amendment(&signed, &key, &i.geography, i.clock.now())
            .map_err(api)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({ "version": version, "hash": hex::encode(signed.hash()) })),
        )
            .into_response())
    })
    .await
}

/// `GET /registration/amendments`: every version in order, with its hash,
/// the hash it chains to and its counts of additions and removals.
async fn list(State(s): State<RegistrationService>) -> Result<Response, ApiError> {
    blocking(move || {
        let all = s.0.registry.amendments().map_err(api)?;
        let mut out = Vec::with_capacity(all.len());
        for signed in &all {
            // Stored only after it verified: a failure here is a fault.
            let a = Amendment::decode(&signed.bytes).map_err(|e| {
                tracing::error!(error = %e, "a stored amendment does not decode");
                ApiError::internal()
            })?;
            let adds = a
                .changes
                .iter()
                .filter(|c| matches!(c, Change::Add(_)))
                .count();
            out.push(json!({
                "version": a.version,
                "hash": hex::encode(signed.hash()),
                "previous": hex::encode(a.previous),
                "time": a.time.unix(),
                "adds": adds,
                "removals": a.changes.len() - adds,
            }));
        }
        let (version, hash) = s.0.registry.head().map_err(api)?;
        Ok(Json(json!({
            "current_version": version,
            "current_hash": hex::encode(hash),
            "amendments": out,
        }))
        .into_response())
    })
    .await
}
