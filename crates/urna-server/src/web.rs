//! The voter web app and the public pages (`web/`, built into `web/dist`):
//! static files from a directory given at start (`urna serve --web DIR`),
//! and `/web/config.json`, what the pages need to check receipts (the
//! board's verifier key). Everything the pages load comes from this server:
//! the Content-Security-Policy forbids any other origin.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

/// Where the built web assets are, if anywhere.
#[derive(Clone, Debug, Default)]
pub(crate) struct WebAssets(Option<Arc<PathBuf>>);

impl WebAssets {
    pub(crate) fn new(dir: PathBuf) -> Self {
        WebAssets(Some(Arc::new(dir)))
    }
}

/// No script, style, image or connection from any other origin; no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/web/config.json", get(config))
        .route("/web/{*path}", get(asset))
}

fn not_built() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no such endpoint: this server has no web assets: build them with `npm --prefix web ci && npm --prefix web run build` and start `urna serve --web web/dist`.",
    )
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "There is no such file.")
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("map") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// A relative path of plain segments: no `..`, no hidden files, no odd bytes.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.len() > 200 {
        return None;
    }
    let mut out = PathBuf::new();
    for seg in path.split('/') {
        let ok = !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

async fn file(dir: &Path, rel: &Path) -> Result<Response, ApiError> {
    let full = dir.join(rel);
    let body = match tokio::fs::read(&full).await {
        Ok(b) => b,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::IsADirectory =>
        {
            return Err(not_found());
        }
        Err(e) => {
            tracing::error!(error = %e, path = %full.display(), "reading a web asset");
            return Err(ApiError::internal());
        }
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(rel)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    Ok(resp)
}

/// `GET /`: the web app.
async fn index(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(dir) = &state.web.0 else {
        return Err(not_built());
    };
    file(dir, Path::new("index.html")).await
}

/// `GET /web/{path}`: a built asset.
async fn asset(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
) -> Result<Response, ApiError> {
    let Some(dir) = &state.web.0 else {
        return Err(not_built());
    };
    let rel = safe_relative(&path).ok_or_else(not_found)?;
    file(dir, &rel).await
}

/// `GET /web/config.json`: the board's verifier key and origin, which the
/// pages use to verify signed checkpoints (spec/board.md §B7).
async fn config(State(state): State<AppState>) -> Response {
    let store = state.store();
    let mut resp = axum::Json(json!({
        "board_key": store.verifier_key().to_string(),
        "origin": store.origin(),
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::safe_relative;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert!(safe_relative("app.js").is_some());
        assert!(safe_relative("i18n/ru.json").is_some());
        for bad in [
            "",
            "../x",
            "a/../b",
            ".env",
            "a//b",
            "/etc/passwd",
            "a\\b",
            "%2e%2e/x",
            "a/.git/config",
        ] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
    }
}
