//! The public board read API: anyone may call these; none changes anything.

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use urna_board::{Hash, TilePath, parse_tile_path};
use urna_store::{BoardStore, StoredEntry};

use crate::AppState;
use crate::error::ApiError;

/// Content that can never change: a full tile, an entry, a proof for fixed sizes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The latest checkpoint: always revalidate.
const LATEST: &str = "no-cache";
/// Partial tiles and short pages: valid now, superseded as the tree grows.
const SHORT: &str = "public, max-age=5";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/board/checkpoint", get(latest_checkpoint))
        .route("/board/checkpoint/{size}", get(checkpoint_at))
        .route("/board/entries", get(entries))
        .route("/board/entries/{index}", get(entry))
        .route("/board/entries/by-hash/{hash}", get(entry_by_hash))
        .route("/board/proof/inclusion", get(inclusion_proof))
        .route("/board/proof/consistency", get(consistency_proof))
        .route("/board/tile/{*path}", get(tile))
}

fn with_cache(mut resp: Response, policy: &'static str) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    resp
}

/// Runs a (blocking, database-reading) store call off the async workers.
async fn blocking<T: Send + 'static>(
    store: &BoardStore,
    f: impl FnOnce(&BoardStore) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "board read task failed");
            ApiError::internal()
        })?
}

/// A strict decimal (spec/board.md §B1): digits only, no sign, no leading zero.
fn decimal(name: &str, s: &str) -> Result<u64, ApiError> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let value = if canonical { s.parse().ok() } else { None };
    value.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("Parameter {name} must be a decimal number without sign or leading zeros, got {s:?}."),
        )
    })
}

fn leaf_hash(s: &str) -> Result<Hash, ApiError> {
    let bytes = (s.len() == 64).then(|| hex::decode(s).ok()).flatten();
    bytes
        .and_then(|b| Hash::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_leaf_hash",
                format!("A leaf hash is 64 hex digits (32 bytes), got {s:?}."),
            )
        })
}

/// Query parameters, checked against the names an endpoint accepts.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Params, ApiError> {
        let Query(pairs) = query.map_err(|e| {
            ApiError::bad_request(
                "invalid_parameter",
                format!("The query string is malformed: {}.", e.body_text()),
            )
        })?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(
                    "unknown_parameter",
                    format!(
                        "Unknown parameter {name:?}; this endpoint takes {}.",
                        allowed.join(", ")
                    ),
                ));
            }
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(ApiError::bad_request(
                    "duplicate_parameter",
                    format!("Parameter {name} is given more than once."),
                ));
            }
        }
        Ok(Params(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn optional(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name).map(|v| decimal(name, v)).transpose()
    }

    fn required(&self, name: &str) -> Result<u64, ApiError> {
        self.optional(name)?.ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                format!("Parameter {name} is required."),
            )
        })
    }
}

fn path_param<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v).map_err(|e| {
        ApiError::bad_request(
            "invalid_parameter",
            format!("The path is malformed: {}.", e.body_text()),
        )
    })
}

/// An entry as served: its exact envelope bytes (base64) and what they are.
#[derive(Debug, Serialize)]
struct EntryJson {
    index: u64,
    leaf_hash: String,
    kind: &'static str,
    /// The envelope bytes of spec/board.md §B5.1, base64.
    entry: String,
}

impl From<StoredEntry> for EntryJson {
    fn from(e: StoredEntry) -> Self {
        EntryJson {
            index: e.index,
            leaf_hash: hex::encode(e.leaf_hash),
            kind: e.entry.kind().name(),
            entry: B64.encode(e.entry.bytes()),
        }
    }
}

fn hexes(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(hex::encode).collect()
}

fn note_response(text: String, policy: &'static str) -> Response {
    let resp = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response();
    with_cache(resp, policy)
}

/// `GET /board/checkpoint`: the latest signed checkpoint (C2SP signed note).
async fn latest_checkpoint(State(state): State<AppState>) -> Response {
    note_response(state.store.latest_checkpoint().text().to_owned(), LATEST)
}

/// `GET /board/checkpoint/{size}`: the checkpoint the board signed for `size`.
async fn checkpoint_at(
    State(state): State<AppState>,
    size: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let size = decimal("size", &path_param(size)?)?;
    let cp = blocking(&state.store, move |s| Ok(s.checkpoint(size)?)).await?;
    // Observers may add cosignatures to the stored note later.
    Ok(note_response(cp.text().to_owned(), SHORT))
}

/// `GET /board/entries?start=S[&end=E]`: entries `S..E`, at most one page
/// (the answer's `end` says where it stopped).
async fn entries(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["start", "end"])?;
    let start = params.required("start")?;
    let end = params.optional("end")?;
    let (page, size) = blocking(&state.store, move |s| {
        let size = s.size();
        let end = end.unwrap_or(u64::MAX);
        Ok((s.entries(start, end)?, size))
    })
    .await?;
    let got_end = start + page.len() as u64;
    // A page that is exactly what was asked for never changes.
    let policy = if end == Some(got_end) {
        IMMUTABLE
    } else {
        SHORT
    };
    let body = serde_json::json!({
        "tree_size": size,
        "start": start,
        "end": got_end,
        "entries": page.into_iter().map(EntryJson::from).collect::<Vec<_>>(),
    });
    Ok(with_cache(axum::Json(body).into_response(), policy))
}

/// `GET /board/entries/{index}`.
async fn entry(
    State(state): State<AppState>,
    index: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let index = decimal("index", &path_param(index)?)?;
    let e = blocking(&state.store, move |s| Ok(s.entry(index)?)).await?;
    Ok(with_cache(
        axum::Json(EntryJson::from(e)).into_response(),
        IMMUTABLE,
    ))
}

/// `GET /board/entries/by-hash/{hex}`.
async fn entry_by_hash(
    State(state): State<AppState>,
    hash: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let hash = leaf_hash(&path_param(hash)?)?;
    let e = blocking(&state.store, move |s| Ok(s.entry_by_hash(&hash)?)).await?;
    Ok(with_cache(
        axum::Json(EntryJson::from(e)).into_response(),
        IMMUTABLE,
    ))
}

/// `GET /board/proof/inclusion?size=N&index=I` or `?size=N&leaf_hash=H`:
/// the RFC 9162 inclusion proof (spec/board.md §B4.2). `size` is required
/// so the caller pairs the proof with the checkpoint it trusts.
async fn inclusion_proof(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["index", "leaf_hash", "size"])?;
    let size = params.required("size")?;
    let by = match (params.optional("index")?, params.get("leaf_hash")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "conflicting_parameters",
                "Give either index or leaf_hash, not both.",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "missing_parameter",
                "Parameter index or leaf_hash is required.",
            ));
        }
        (Some(i), None) => Ok(i),
        (None, Some(h)) => Err(leaf_hash(h)?),
    };
    let (index, proof) = blocking(&state.store, move |s| match by {
        Ok(index) => Ok((index, s.inclusion_proof(index, size)?)),
        Err(hash) => Ok(s.inclusion_proof_by_hash(&hash, size)?),
    })
    .await?;
    let body = serde_json::json!({
        "index": index,
        "tree_size": size,
        "proof": hexes(&proof),
    });
    Ok(with_cache(axum::Json(body).into_response(), IMMUTABLE))
}

/// `GET /board/proof/consistency?old=M&new=N` (spec/board.md §B4.3).
async fn consistency_proof(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = Params::parse(query, &["old", "new"])?;
    let old = params.required("old")?;
    let new = params.required("new")?;
    let proof = blocking(&state.store, move |s| Ok(s.consistency_proof(old, new)?)).await?;
    let body = serde_json::json!({ "old": old, "new": new, "proof": hexes(&proof) });
    Ok(with_cache(axum::Json(body).into_response(), IMMUTABLE))
}

/// `GET /board/tile/...`: C2SP tlog-tiles hash tiles and entry bundles
/// (spec/board.md §B8). Full tiles never change; partial ones are
/// superseded as the tree grows.
async fn tile(
    State(state): State<AppState>,
    rest: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let rest = path_param(rest)?;
    let path = parse_tile_path(&format!("tile/{rest}")).map_err(|e| {
        ApiError::bad_request(
            "invalid_tile_path",
            format!("tile/{rest} is not a canonical C2SP tile path: {e}."),
        )
    })?;
    let full = match path {
        TilePath::Hashes(t) => t.is_full(),
        TilePath::Entries(b) => b.width() == urna_board::TILE_WIDTH,
    };
    let bytes = blocking(&state.store, move |s| Ok(s.tile(path)?)).await?;
    let resp = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        bytes,
    )
        .into_response();
    Ok(with_cache(resp, if full { IMMUTABLE } else { SHORT }))
}
