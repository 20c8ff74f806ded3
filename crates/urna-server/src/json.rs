//! Request bodies, strictly (spec/api.md §A1, §A1.4): a JSON body is an
//! object with named fields, of `Content-Type: application/json`, within
//! the endpoint's size limit; raw uploads are read only after the caller
//! is authorised, within theirs. Every refusal is the JSON error of §A1,
//! never axum's `text/plain` rejection.
//!
//! [`Json`] replaces `axum::Json` as an extractor (and answers like it):
//! serde's derived `Deserialize` also takes a struct as a JSON array of
//! its fields in order (`["<hex>"]` for `{ "ballot": "<hex>" }`), a
//! second encoding of the same request that §A1 does not allow.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, JsonRejection as AxumJsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Body limits per endpoint (spec/api.md §A1.4), in bytes.
pub(crate) mod limit {
    /// Any endpoint not listed below (small JSON bodies).
    pub(crate) const DEFAULT: usize = 64 << 10;
    /// A body carrying one board entry in hex: a ballot, an audit, a
    /// ceremony message (an entry is at most 65,535 bytes, 131,070 hex digits).
    pub(crate) const ENTRY: usize = 256 << 10;
    /// Lists that grow with the election: one trustee's partial
    /// decryptions of the whole tally, a reconciliation.
    pub(crate) const LIST: usize = 16 << 20;
    /// The manifest (TOML).
    pub(crate) const MANIFEST: usize = 8 << 20;
    /// A precinct's paper-vote list (§G7).
    pub(crate) const PAPER: usize = 16 << 20;
    /// A signed registry amendment (§G3).
    pub(crate) const AMENDMENT: usize = 64 << 20;
    /// A region's registry CSV (§G2): several million voters.
    pub(crate) const REGISTRY: usize = 1 << 30;
}

/// A JSON object body (extractor), or a JSON answer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Json<T>(pub(crate) T);

/// Why a JSON body was refused: already the API's error.
pub(crate) type JsonRejection = ApiError;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "The request body is larger than this endpoint accepts (spec/api.md §A1.4).",
    )
}

fn bytes_error(e: &BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    ApiError::new(
        e.status(),
        "invalid_body",
        format!("The request body could not be read: {}.", e.body_text()),
    )
}

/// `application/json` or `application/<anything>+json`, as axum decides.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_body",
                "The request body is not the expected JSON: Expected request with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| bytes_error(&e))?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "The request body is a JSON array; this endpoint takes a JSON object with named fields (spec/api.md §A1).",
            ));
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(v)| Json(v))
            .map_err(|e: AxumJsonRejection| {
                ApiError::new(
                    e.status(),
                    "invalid_body",
                    format!(
                        "The request body is not the expected JSON: {}.",
                        e.body_text()
                    ),
                )
            })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A struct nested in a JSON body, read only from a JSON object (serde's
/// derive also reads it from an array of its fields; see [`Json`]).
#[derive(Debug, Clone)]
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: DeserializeOwned> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        T::deserialize(serde_json::Value::Object(map))
            .map(Object)
            .map_err(serde::de::Error::custom)
    }
}

/// The JSON body's value, or why it was refused.
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v)
}

/// Reads a raw upload of at most `limit` bytes; call once the caller is
/// authorised, so that nobody else can make the server buffer it.
pub(crate) async fn read_upload(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // `to_bytes` fails on the limit or on a broken connection.
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            too_large()
        } else {
            ApiError::bad_request(
                "invalid_body",
                format!("The request body could not be read: {e}."),
            )
        }
    })
}
