//! The public board read API: anyone may call these; none changes anything.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use urna_board::{
    Hash, SignatureType, SignedNote, TilePath, VerifierKey, parse_tile_path, verify_checkpoint,
};
use urna_store::{BoardStore, SignedCheckpoint, StoredEntry};

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
        .route("/board/key", get(board_key))
        .route("/board/cosignature", post(submit_cosignature))
}

/// Which observers may cosign (spec/board.md §B10). The cosignatures
/// themselves are kept by the store, durably, before the board answers
/// 200, and are published again after a restart.
#[derive(Clone, Debug, Default)]
pub struct Cosignatures {
    /// When set, only these observer keys may cosign.
    allowed: Arc<Mutex<Option<Vec<VerifierKey>>>>,
}

impl Cosignatures {
    /// Accepts cosignatures only from `keys` (type-0x04 verifier keys).
    pub fn restrict_to(&self, keys: Vec<VerifierKey>) {
        if let Ok(mut allowed) = self.allowed.lock() {
            *allowed = Some(keys);
        }
    }

    /// Whether a stored cosignature line may be served: with an
    /// allow-list, only its observers' (spec/board.md §B10.3), also for
    /// lines stored before the list was configured.
    fn serves(&self, sig: &urna_board::NoteSignature) -> bool {
        self.allowed.lock().is_ok_and(|allowed| {
            allowed
                .as_ref()
                .is_none_or(|list| crate::observers::signed_by_one_of(sig, list))
        })
    }

    fn allowed(&self, key: &VerifierKey) -> bool {
        self.allowed.lock().is_ok_and(|allowed| {
            allowed
                .as_ref()
                .is_none_or(|list| list.iter().any(|k| k == key))
        })
    }
}

/// The board's note for a checkpoint with the cosignatures held for its
/// size appended (board.md §B7.4: lines are appended).
fn publish(store: &BoardStore, cp: &SignedCheckpoint, allowed: &Cosignatures) -> String {
    let mut sigs = store.cosignatures(cp.size());
    sigs.retain(|s| allowed.serves(s));
    if sigs.is_empty() {
        return cp.text().to_owned();
    }
    let mut note = cp.note().clone();
    for sig in sigs {
        // At most MAX_SIGNATURES lines (the store keeps no more).
        if note.add_signature(sig).is_err() {
            break;
        }
    }
    note.to_text()
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

/// `GET /board/checkpoint`: the latest signed checkpoint (C2SP signed
/// note), with the observers' cosignatures received for it.
async fn latest_checkpoint(State(state): State<AppState>) -> Response {
    let cp = state.store.latest_checkpoint();
    note_response(publish(&state.store, &cp, &state.cosignatures), LATEST)
}

/// `GET /board/key`: the board's verifier key (board.md §B7.2), so that a
/// verifier can start from the URL alone. Trust on first use: whoever
/// can, should compare it with the key the election authority publishes.
async fn board_key(State(state): State<AppState>) -> Response {
    let text = format!("{}\n", state.store.verifier_key());
    let resp = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response();
    with_cache(resp, SHORT)
}

/// Body of `POST /board/cosignature`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CosignatureBody {
    /// The observer's verifier key (type 0x04, board.md §B7.2).
    key: String,
    /// The board's signed checkpoint with the observer's cosignature line
    /// added (other lines may be present and are ignored).
    note: String,
}

/// `POST /board/cosignature`: an observer submits its cosignature of a
/// checkpoint (board.md §B10). The server checks the board's signature,
/// the cosignature, and that the checkpoint is the one it signed for that
/// size; then publishes the line with the checkpoint.
async fn submit_cosignature(
    State(state): State<AppState>,
    body: Result<crate::json::Json<CosignatureBody>, crate::json::JsonRejection>,
) -> Result<Response, ApiError> {
    let body = crate::json::json_body(body)?;
    let key = VerifierKey::parse(body.key.trim_end_matches('\n')).map_err(|e| {
        ApiError::bad_request(
            "invalid_observer_key",
            format!("The observer key is not a C2SP verifier key: {e}."),
        )
    })?;
    if key.signature_type() != SignatureType::CosignatureV1 {
        return Err(ApiError::bad_request(
            "invalid_observer_key",
            "The observer key must be a cosignature/v1 (type 0x04) key.",
        ));
    }
    if !state.cosignatures.allowed(&key) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "unknown_observer",
            format!(
                "This board does not accept cosignatures from {}.",
                key.name()
            ),
        ));
    }
    let note = SignedNote::parse(body.note.as_bytes()).map_err(|e| {
        ApiError::bad_request("invalid_note", format!("The note does not parse: {e}."))
    })?;
    let verified = verify_checkpoint(
        &note,
        state.store.verifier_key(),
        std::slice::from_ref(&key),
    )
    .map_err(|e| {
        ApiError::bad_request(
            "invalid_cosignature",
            format!("The note does not verify: {e}."),
        )
    })?;
    if !verified.cosigners().any(|s| s.key_index == 1) {
        return Err(ApiError::bad_request(
            "missing_cosignature",
            format!("The note carries no cosignature by {}.", key.name()),
        ));
    }
    let Some(sig) = note
        .signatures()
        .iter()
        .find(|s| s.name() == key.name() && s.key_id() == key.key_id())
        .cloned()
    else {
        return Err(ApiError::bad_request(
            "missing_cosignature",
            format!("The note carries no cosignature by {}.", key.name()),
        ));
    };
    let size = verified.checkpoint.size();
    let stored = blocking(&state.store, move |s| Ok(s.checkpoint(size)?)).await?;
    if *stored.checkpoint() != verified.checkpoint {
        // Signed by the board key, yet not what this board holds: evidence
        // of a fork somewhere. Logged in full for the operator.
        tracing::error!(size, note = %body.note, "cosignature for a checkpoint this board did not sign for that size");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "checkpoint_mismatch",
            format!("The checkpoint for size {size} is not the one this board holds."),
        ));
    }
    // Durable before the answer: a restarted board publishes it again.
    let count = blocking(&state.store, move |s| {
        Ok(s.add_cosignature(size, &key, sig)?)
    })
    .await?;
    let body = serde_json::json!({ "size": size, "cosignatures": count });
    Ok(with_cache(axum::Json(body).into_response(), "no-store"))
}

/// `GET /board/checkpoint/{size}`: the checkpoint the board signed for `size`.
async fn checkpoint_at(
    State(state): State<AppState>,
    size: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let size = decimal("size", &path_param(size)?)?;
    let cp = blocking(&state.store, move |s| Ok(s.checkpoint(size)?)).await?;
    // Observers may add cosignatures later.
    Ok(note_response(
        publish(&state.store, &cp, &state.cosignatures),
        SHORT,
    ))
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
