//! The built web app served by `urna serve --web DIR` (src/web.rs): files
//! under `/` and `/web/`, strict paths, a Content-Security-Policy that
//! forbids other origins, and `/web/config.json` with the board key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use urna_board::BoardSigningKey;
use urna_server::{AppState, app};
use urna_store::BoardStore;

const ORIGIN: &str = "urna.example/web-test";

async fn get(app: &axum::Router, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn serves_the_built_app_and_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("dist");
    std::fs::create_dir_all(web.join("i18n")).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><title>urna</title>").unwrap();
    std::fs::write(web.join("app.js"), "console.log(1)").unwrap();
    std::fs::write(web.join("i18n/ru.json"), "{}").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
    let key = BoardSigningKey::from_secret_bytes(ORIGIN, &[5; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let expected_key = store.verifier_key().to_string();
    let app = app(AppState::new(store).with_web(web));

    let (s, h, b) = get(&app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    assert!(b.starts_with(b"<!doctype html>"));

    let (s, h, _) = get(&app, "/web/app.js").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(get(&app, "/web/i18n/ru.json").await.0, StatusCode::OK);

    for bad in [
        "/web/../secret.txt",
        "/web/%2e%2e/secret.txt",
        "/web/.hidden",
        "/web/nothing.js",
        "/web/i18n",
    ] {
        let (s, _, b) = get(&app, bad).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
        assert!(!b.starts_with(b"no"), "{bad}");
    }

    let (s, _, b) = get(&app, "/web/config.json").await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["board_key"], expected_key.as_str());
    assert_eq!(v["origin"], ORIGIN);
}

#[tokio::test]
async fn without_assets_the_root_says_how_to_build_them() {
    let dir = tempfile::tempdir().unwrap();
    let key = BoardSigningKey::from_secret_bytes(ORIGIN, &[5; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let app = app(AppState::new(store));
    let (s, _, b) = get(&app, "/").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("npm --prefix web")
    );
    // The board API is unchanged.
    assert_eq!(get(&app, "/board/checkpoint").await.0, StatusCode::OK);
}
