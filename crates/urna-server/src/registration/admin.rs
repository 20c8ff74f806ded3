//! The commission's registration endpoints over HTTP (admin bearer
//! token), what `urna registry` does on the command line: import a
//! region's registry CSV, record a precinct's paper votes, export the
//! signed precinct lists, and the reconciliation report
//! (spec/registration.md §G9).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use urna_registry::lists::{ListKind, ListSet};

use super::{RegistrationService, api, blocking};
use crate::error::ApiError;

/// Upload limit of the CSV endpoints: a region of several million voters.
pub(super) const UPLOAD_LIMIT: usize = 1 << 30;

pub(super) fn routes() -> Router<RegistrationService> {
    Router::new()
        .route(
            "/registration/admin/registry",
            post(import).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route(
            "/registration/admin/paper",
            post(paper).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)),
        )
        .route("/registration/admin/lists", get(lists))
        .route("/registration/admin/reconciliation", get(reconciliation))
}

fn missing(what: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_query",
        format!("The query parameter `{what}` is required."),
    )
}

#[derive(Debug, Deserialize)]
struct ImportQuery {
    region: Option<String>,
    /// The file name quoted in errors and kept with the import.
    file: Option<String>,
}

/// `POST /registration/admin/registry?region=R[&file=NAME]`, body: the
/// registry CSV. All or nothing; a refusal names the file and line.
async fn import(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let region = q.region.ok_or_else(|| missing("region"))?;
    let file = q.file.unwrap_or_else(|| format!("{region}.csv"));
    blocking(move || {
        let i = &s.0;
        let sum = i
            .registry
            .import_csv(
                &file,
                &region,
                &i.geography,
                &i.secret,
                &body[..],
                i.clock.now(),
            )
            .map_err(api)?;
        let (version, hash) = i.registry.head().map_err(api)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({
                "region": sum.region,
                "file": file,
                "rows": sum.rows,
                "sha256": hex::encode(sum.sha256),
                "registry_version": version,
                "registry_hash": hex::encode(hash),
            })),
        )
            .into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
struct PaperQuery {
    precinct: Option<String>,
    file: Option<String>,
}

/// `POST /registration/admin/paper?precinct=P[&file=NAME]`, body: a CSV
/// with the single column `voter_id`. All or nothing.
async fn paper(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
    Query(q): Query<PaperQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let precinct = q.precinct.ok_or_else(|| missing("precinct"))?;
    let file = q.file.unwrap_or_else(|| format!("paper-{precinct}.csv"));
    blocking(move || {
        let i = &s.0;
        let n = i
            .registry
            .import_paper_votes(&file, &precinct, &i.geography, &body[..])
            .map_err(api)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({ "precinct": precinct, "file": file, "recorded": n })),
        )
            .into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ListsQuery {
    kind: Option<String>,
}

/// `GET /registration/admin/lists?kind=approved-online|voted-online`: the
/// signed per-precinct lists (the folder `urna registry lists` writes),
/// files in base64.
async fn lists(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
    Query(q): Query<ListsQuery>,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let kind = match q.kind.as_deref() {
        Some("approved-online") => ListKind::ApprovedOnline,
        Some("voted-online") => ListKind::VotedOnline,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "`kind` must be `approved-online` or `voted-online`.",
            ));
        }
        None => return Err(missing("kind")),
    };
    let Some(key) = s.0.list_key.get().cloned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_commission_key",
            "The server has no commission key to sign precinct lists (urna serve --commission-key).",
        ));
    };
    blocking(move || {
        let i = &s.0;
        let rows = i.registry.list_rows(kind).map_err(api)?;
        let set = ListSet::build(&i.election, kind, &i.precincts, rows, &key).map_err(api)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let files: Vec<_> = set
            .files
            .iter()
            .map(|(path, bytes)| json!({ "path": path, "content_base64": b64.encode(bytes) }))
            .collect();
        let counts: Vec<_> = set
            .counts
            .iter()
            .map(|(p, n)| json!({ "precinct": p, "voters": n }))
            .collect();
        Ok(Json(json!({
            "election": i.election,
            "kind": kind.name(),
            "hash": hex::encode(set.hash()),
            "commission_key": hex::encode(key.verifying_key().as_bytes()),
            "sha256sums": String::from_utf8_lossy(&set.sums),
            "signature": hex::encode(set.signature),
            "counts": counts,
            "files": files,
        }))
        .into_response())
    })
    .await
}

/// `GET /registration/admin/reconciliation`: voters who voted online and
/// on paper.
async fn reconciliation(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    blocking(move || {
        let both = s.0.registry.double_votes().map_err(api)?;
        let rows: Vec<_> = both
            .iter()
            .map(|d| {
                json!({
                    "voter_id": d.voter_id,
                    "precinct": d.precinct,
                    "credential": hex::encode(d.credential),
                })
            })
            .collect();
        Ok(Json(json!({ "policy": s.0.paper_policy, "double_votes": rows })).into_response())
    })
    .await
}
