//! The commission's registration endpoints over HTTP (admin bearer
//! token), what `urna registry` does on the command line: import a
//! region's registry CSV, record a precinct's paper votes, export the
//! signed precinct lists, and the reconciliation report
//! (spec/registration.md §G9).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use urna_board::{Entry, EntryKind};
use urna_crypto::encoding::Element;
use urna_election::record::AnnulReason;
use urna_election::record::commission::{PrecinctListEntry, PrecinctListKind};
use urna_registry::lists::{ListKind, ListSet};
use urna_registry::store::PublishedList;

use super::{ElectionBoard, RegistrationService, RegistrationState, api, blocking};
use crate::error::ApiError;
use crate::json::{limit, read_upload};

pub(super) fn routes() -> Router<RegistrationState> {
    Router::new()
        .route("/registration/admin/registry", post(import))
        .route("/registration/admin/paper", post(paper))
        .route("/registration/admin/lists", post(lists))
        .route("/registration/admin/reconciliation", get(reconciliation))
        .route(
            "/registration/admin/reconciliation/apply",
            post(apply_reconciliation),
        )
}

/// The query string, or 400 `invalid_query` naming what is wrong.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("The query string is malformed: {}.", e.body_text()),
        )
    })
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
    q: Result<Query<ImportQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let q = query(q)?;
    let region = q.region.ok_or_else(|| missing("region"))?;
    let body = read_upload(body, limit::REGISTRY).await?;
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
    q: Result<Query<PaperQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let q = query(q)?;
    let precinct = q.precinct.ok_or_else(|| missing("precinct"))?;
    let body = read_upload(body, limit::PAPER).await?;
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

/// `POST /registration/admin/lists?kind=approved-online|voted-online`:
/// exports the signed per-precinct lists (the folder `urna registry
/// lists` writes, files in base64) and first puts one `admin_action`
/// per precinct on the board (spec/record.md §R15). Exporting the same
/// lists again appends nothing; different lists of a kind already
/// published are refused unless an amendment came since (§G7).
async fn lists(
    State(s): State<RegistrationService>,
    State(board): State<Arc<dyn ElectionBoard>>,
    headers: HeaderMap,
    q: Result<Query<ListsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let q = query(q)?;
    let kind = list_kind(q.kind.as_deref())?;
    let key = commission_key(&s)?;
    // One publication at a time: the decision below reads what earlier
    // ones recorded.
    let _one = s.0.publishing.lock().await;
    let s2 = s.clone();
    let key2 = key.clone();
    let (set, version, published) = blocking(move || {
        let i = &s2.0;
        let rows = i.registry.list_rows(kind).map_err(api)?;
        let set = ListSet::build(&i.election, kind, &i.precincts, rows, &key2).map_err(api)?;
        let (version, _) = i.registry.head().map_err(api)?;
        let published = i.registry.published_lists(kind).map_err(api)?;
        Ok((set, version, published))
    })
    .await?;
    let rows = list_rows(&set, version);
    let same = same_lists(&published, &rows);
    let indexes = if same {
        // In manifest order, as they were appended.
        rows.iter()
            .filter_map(|r| published.iter().find(|p| p.precinct == r.precinct))
            .map(|p| p.board_index)
            .collect()
    } else {
        may_supersede(&published, version, kind)?;
        let entries = list_entries(&rows, &set, kind, &key)?;
        publish_lists(&s, board.as_ref(), kind, rows, entries).await?
    };
    Ok(Json(lists_answer(&s, kind, &set, &key, indexes, !same)).into_response())
}

/// The `kind` of `POST /registration/admin/lists` (spec/registration.md §G9).
fn list_kind(kind: Option<&str>) -> Result<ListKind, ApiError> {
    match kind {
        Some("approved-online") => Ok(ListKind::ApprovedOnline),
        Some("voted-online") => Ok(ListKind::VotedOnline),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "`kind` must be `approved-online` or `voted-online`.",
        )),
        None => Err(missing("kind")),
    }
}

/// The commission key that signs the lists (§G7), or 503 `no_commission_key` (§G9).
fn commission_key(s: &RegistrationService) -> Result<ed25519_dalek::SigningKey, ApiError> {
    s.0.list_key.get().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_commission_key",
            "The server has no commission key to sign precinct lists (urna serve --commission-key).",
        )
    })
}

/// What is recorded of each precinct's list once published: its CSV's
/// hash with the list hash, SHA-256(SHA256SUMS) (spec/registration.md §G7).
fn list_rows(set: &ListSet, version: u64) -> Vec<PublishedList> {
    let sums = set.hash();
    set.files
        .iter()
        .zip(&set.counts)
        .map(|((_, bytes), (p, _))| PublishedList {
            precinct: p.clone(),
            csv_sha256: Sha256::digest(bytes).into(),
            sums_sha256: sums,
            version,
            board_index: 0,
        })
        .collect()
}

/// §G7 publication rule: the same lists again append nothing.
fn same_lists(published: &[PublishedList], rows: &[PublishedList]) -> bool {
    published.len() == rows.len()
        && published.iter().all(|p| {
            rows.iter().any(|r| {
                r.precinct == p.precinct
                    && r.csv_sha256 == p.csv_sha256
                    && r.sums_sha256 == p.sums_sha256
            })
        })
}

/// §G7 publication rule: different lists of a kind already published are
/// refused (409 `list_already_published`) unless the registry version
/// (§G3) is higher than when the published ones were made.
fn may_supersede(
    published: &[PublishedList],
    version: u64,
    kind: ListKind,
) -> Result<(), ApiError> {
    if let Some(before) = published.iter().map(|p| p.version).max()
        && version <= before
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "list_already_published",
            format!(
                "Other {} lists are on the board for registry version {before}; different lists need an amendment first.",
                kind.name()
            ),
        ));
    }
    Ok(())
}

/// One `admin_action` precinct-list entry per precinct (spec/record.md §R15).
fn list_entries(
    rows: &[PublishedList],
    set: &ListSet,
    kind: ListKind,
    key: &ed25519_dalek::SigningKey,
) -> Result<Vec<Entry>, ApiError> {
    let sums = set.hash();
    rows.iter()
        .zip(&set.counts)
        .map(|(r, (_, n))| {
            let payload = PrecinctListEntry {
                kind: match kind {
                    ListKind::ApprovedOnline => PrecinctListKind::ApprovedOnline,
                    ListKind::VotedOnline => PrecinctListKind::VotedOnline,
                },
                precinct: r.precinct.clone(),
                rows: *n,
                csv_sha256: r.csv_sha256,
                sums_sha256: sums,
                commission_key: key.verifying_key().to_bytes(),
                signature: set.signature,
            }
            .encode()
            .map_err(|e| {
                tracing::error!(error = %e, "encoding a precinct list entry");
                ApiError::internal()
            })?;
            Entry::new(EntryKind::AdminAction, &payload).map_err(|e| {
                tracing::error!(error = %e, "a precinct list entry");
                ApiError::internal()
            })
        })
        .collect()
}

/// §G7: `voted-online` lists are refused before `voting_closed` (409
/// `voting_not_closed`).
fn after_the_close(kind: ListKind, phase: &str) -> Result<(), ApiError> {
    if kind == ListKind::VotedOnline && !matches!(phase, "closed" | "tallied" | "decrypted") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "voting_not_closed",
            format!(
                "The voted-online lists are published after voting closes; the election is in phase `{phase}`."
            ),
        ));
    }
    Ok(())
}

/// Appends the lists' entries (§R15) and records them as published, with
/// their board indexes, before the lists are handed out (§G7).
async fn publish_lists(
    s: &RegistrationService,
    board: &dyn ElectionBoard,
    kind: ListKind,
    mut rows: Vec<PublishedList>,
    entries: Vec<Entry>,
) -> Result<Vec<u64>, ApiError> {
    let appended = board
        .append_notice(Box::new(|phase| {
            after_the_close(kind, phase)?;
            Ok(entries)
        }))
        .await?;
    for (r, a) in rows.iter_mut().zip(&appended) {
        r.board_index = a.index;
    }
    let s3 = s.clone();
    blocking(move || {
        s3.0.registry
            .record_published_lists(kind, &rows)
            .map_err(api)
    })
    .await?;
    Ok(appended.iter().map(|a| a.index).collect())
}

/// The answer of `POST /registration/admin/lists` (spec/registration.md §G9).
fn lists_answer(
    s: &RegistrationService,
    kind: ListKind,
    set: &ListSet,
    key: &ed25519_dalek::SigningKey,
    indexes: Vec<u64>,
    newly_published: bool,
) -> serde_json::Value {
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
    json!({
        "election": s.0.election,
        "kind": kind.name(),
        "hash": hex::encode(set.hash()),
        "commission_key": hex::encode(key.verifying_key().as_bytes()),
        "sha256sums": String::from_utf8_lossy(&set.sums),
        "signature": hex::encode(set.signature),
        "counts": counts,
        "files": files,
        "board_entries": indexes,
        "newly_published": newly_published,
    })
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

/// `POST /registration/admin/reconciliation/apply`: the registry's double
/// votes (voted online and on paper) through the engine's reconciliation
/// (spec/record.md §R9), under the manifest's policy: reason 1 (annulled)
/// under `evote-annulled`, reason 3 (listed, the e-vote stands) under
/// `evote-stands`. After the close, before the tally, once.
async fn apply_reconciliation(
    State(s): State<RegistrationService>,
    State(board): State<Arc<dyn ElectionBoard>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    let s2 = s.clone();
    let both = blocking(move || s2.0.registry.double_votes().map_err(api)).await?;
    let reason = if s.0.paper_policy == "evote-annulled" {
        AnnulReason::PaperVote
    } else {
        AnnulReason::PaperVoteStands
    };
    let list = both
        .iter()
        .map(|d| {
            Element::decode_non_identity(&d.credential)
                .map(|e| (e, reason))
                .map_err(|e| {
                    tracing::error!(error = %e, "a stored credential does not decode");
                    ApiError::internal()
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let appended = board.reconcile(list).await?;
    let annulled = if reason == AnnulReason::PaperVote {
        both.len()
    } else {
        0
    };
    Ok(Json(json!({
        "policy": s.0.paper_policy,
        "double_votes": both.len(),
        "annulled": annulled,
        "entries": appended.iter().map(|a| a.index).collect::<Vec<_>>(),
    }))
    .into_response())
}
