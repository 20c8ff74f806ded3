//! The public board API, exercised in-process through `tower::ServiceExt`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use tower::ServiceExt;
use urna_board::{
    BoardSigningKey, BundleId, Entry, EntryKind, Hash, MemoryTree, SignedNote, TileId,
    verify_checkpoint, verify_consistency, verify_inclusion,
};
use urna_server::{AppState, app};
use urna_store::BoardStore;

const ORIGIN: &str = "urna.example/api-test";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &[3; 32]).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: BoardStore,
    app: Router,
    entries: Vec<Entry>,
    tree: MemoryTree,
}

const N: u64 = 700;

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key()).unwrap();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let e = Entry::new(EntryKind::Ballot, format!("ballot {i}").as_bytes()).unwrap();
                store.append_async(e).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut entries = Vec::new();
    let mut tree = MemoryTree::new();
    for e in store.entries(0, N).unwrap() {
        tree.push(e.leaf_hash).unwrap();
        entries.push(e.entry);
    }
    assert_eq!(entries.len() as u64, N);
    let app = app(AppState::new(store.clone()));
    Fixture {
        _dir: dir,
        store,
        app,
        entries,
        tree,
    }
}

async fn request(app: &Router, method: &str, uri: &str) -> (StatusCode, HeaderMap, Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    (status, headers, body)
}

async fn get(app: &Router, uri: &str) -> (StatusCode, HeaderMap, Bytes) {
    request(app, "GET", uri).await
}

async fn get_json(app: &Router, uri: &str) -> (HeaderMap, Value) {
    let (status, headers, body) = get(app, uri).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{uri}: {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
    (headers, serde_json::from_slice(&body).unwrap())
}

/// Asserts a refusal: status, code, a sentence, JSON, never cached.
async fn refused(app: &Router, uri: &str, status: StatusCode, code: &str) -> String {
    refused_method(app, "GET", uri, status, code).await
}

async fn refused_method(
    app: &Router,
    method: &str,
    uri: &str,
    status: StatusCode,
    code: &str,
) -> String {
    let (got, headers, body) = request(app, method, uri).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(got, status, "{method} {uri}: {text}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri}");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), 1, "{text}");
    assert_eq!(v["error"]["code"], code, "{method} {uri}: {text}");
    let message = v["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.ends_with('.') && message.len() > 10, "{message}");
    message
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn checkpoint_latest_and_by_size() {
    let f = fixture().await;
    let (status, headers, body) = get(&f.app, "/board/checkpoint").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let note = SignedNote::parse(&body).unwrap();
    let cp = verify_checkpoint(&note, &key().verifier_key(), &[])
        .unwrap()
        .checkpoint;
    assert_eq!(cp.size(), N);
    assert_eq!(*cp.root(), f.tree.root());

    let (status, _, body) = get(&f.app, &format!("/board/checkpoint/{N}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], f.store.latest_checkpoint().text().as_bytes());
    let (status, _, body) = get(&f.app, "/board/checkpoint/0").await;
    assert_eq!(status, StatusCode::OK);
    let note = SignedNote::parse(&body).unwrap();
    let cp0 = verify_checkpoint(&note, &key().verifier_key(), &[]).unwrap();
    assert_eq!(cp0.checkpoint.size(), 0);

    refused(
        &f.app,
        "/board/checkpoint/701",
        StatusCode::NOT_FOUND,
        "size_beyond_tree",
    )
    .await;
    refused(
        &f.app,
        "/board/checkpoint/x",
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        &f.app,
        "/board/checkpoint/07",
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    // Group commit: some sizes never had a checkpoint of their own.
    if let Some(missing) = (1..N).find(|&n| f.store.checkpoint(n).is_err()) {
        refused(
            &f.app,
            &format!("/board/checkpoint/{missing}"),
            StatusCode::NOT_FOUND,
            "unknown_checkpoint",
        )
        .await;
    }
}

#[tokio::test]
async fn entries_by_range_index_and_hash() {
    let f = fixture().await;
    let (headers, v) = get_json(&f.app, "/board/entries?start=10&end=20").await;
    assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
    assert_eq!(v["tree_size"], N);
    assert_eq!(v["start"], 10);
    assert_eq!(v["end"], 20);
    let list = v["entries"].as_array().unwrap();
    assert_eq!(list.len(), 10);
    for (k, e) in list.iter().enumerate() {
        let i = 10 + k;
        assert_eq!(e["index"], i as u64);
        assert_eq!(e["kind"], "ballot");
        let bytes = B64.decode(e["entry"].as_str().unwrap()).unwrap();
        assert_eq!(bytes, f.entries[i].bytes());
        assert_eq!(e["leaf_hash"], hex::encode(f.entries[i].leaf_hash()));
    }
    // Open-ended and clamped pages are not immutable.
    let (headers, v) = get_json(&f.app, "/board/entries?start=690").await;
    assert_ne!(headers[header::CACHE_CONTROL], IMMUTABLE);
    assert_eq!(v["end"], N);
    assert_eq!(v["entries"].as_array().unwrap().len(), 10);
    let (_, v) = get_json(&f.app, "/board/entries?start=0&end=100000").await;
    assert_eq!(v["end"], N);
    let (_, v) = get_json(&f.app, "/board/entries?start=3&end=3").await;
    assert!(v["entries"].as_array().unwrap().is_empty());

    let (headers, v) = get_json(&f.app, "/board/entries/42").await;
    assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
    assert_eq!(v["index"], 42);
    assert_eq!(
        B64.decode(v["entry"].as_str().unwrap()).unwrap(),
        f.entries[42].bytes()
    );
    let h = hex::encode(f.entries[42].leaf_hash());
    let (_, by_hash) = get_json(&f.app, &format!("/board/entries/by-hash/{h}")).await;
    assert_eq!(by_hash, v);
    let upper = h.to_uppercase();
    let (_, by_upper) = get_json(&f.app, &format!("/board/entries/by-hash/{upper}")).await;
    assert_eq!(by_upper, v);
}

#[tokio::test]
async fn entry_errors() {
    let f = fixture().await;
    let app = &f.app;
    use StatusCode as S;
    refused(app, "/board/entries", S::BAD_REQUEST, "missing_parameter").await;
    refused(
        app,
        "/board/entries?end=5",
        S::BAD_REQUEST,
        "missing_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=abc",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=-1",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=%2B1",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=01",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=99999999999999999999999",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=5&end=3",
        S::BAD_REQUEST,
        "invalid_range",
    )
    .await;
    refused(
        app,
        "/board/entries?start=700",
        S::NOT_FOUND,
        "index_out_of_range",
    )
    .await;
    refused(
        app,
        "/board/entries?start=1&limit=3",
        S::BAD_REQUEST,
        "unknown_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries?start=1&start=2",
        S::BAD_REQUEST,
        "duplicate_parameter",
    )
    .await;
    refused(
        app,
        "/board/entries/700",
        S::NOT_FOUND,
        "index_out_of_range",
    )
    .await;
    refused(
        app,
        "/board/entries/18446744073709551615",
        S::NOT_FOUND,
        "index_out_of_range",
    )
    .await;
    refused(
        app,
        "/board/entries/1x",
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    let unknown = hex::encode([7u8; 32]);
    refused(
        app,
        &format!("/board/entries/by-hash/{unknown}"),
        S::NOT_FOUND,
        "unknown_leaf_hash",
    )
    .await;
    refused(
        app,
        "/board/entries/by-hash/abcd",
        S::BAD_REQUEST,
        "invalid_leaf_hash",
    )
    .await;
    let not_hex = "z".repeat(64);
    refused(
        app,
        &format!("/board/entries/by-hash/{not_hex}"),
        S::BAD_REQUEST,
        "invalid_leaf_hash",
    )
    .await;
}

#[tokio::test]
async fn inclusion_proofs() {
    let f = fixture().await;
    for (index, size) in [(0, 1), (5, 6), (0, N), (699, N), (300, 512), (257, 300)] {
        let (headers, v) = get_json(
            &f.app,
            &format!("/board/proof/inclusion?index={index}&size={size}"),
        )
        .await;
        assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(v["index"], index);
        assert_eq!(v["tree_size"], size);
        let proof = hashes(&v["proof"]);
        let leaf = f.entries[index as usize].leaf_hash();
        verify_inclusion(&leaf, index, size, &proof, &f.tree.root_at(size).unwrap()).unwrap();
    }
    let leaf = f.entries[123].leaf_hash();
    let (_, v) = get_json(
        &f.app,
        &format!(
            "/board/proof/inclusion?leaf_hash={}&size={N}",
            hex::encode(leaf)
        ),
    )
    .await;
    assert_eq!(v["index"], 123);
    verify_inclusion(&leaf, 123, N, &hashes(&v["proof"]), &f.tree.root()).unwrap();

    let app = &f.app;
    use StatusCode as S;
    let p = "/board/proof/inclusion";
    refused(
        app,
        &format!("{p}?index=1"),
        S::BAD_REQUEST,
        "missing_parameter",
    )
    .await;
    refused(
        app,
        &format!("{p}?size=5"),
        S::BAD_REQUEST,
        "missing_parameter",
    )
    .await;
    refused(
        app,
        &format!("{p}?index=1&leaf_hash={}&size=5", hex::encode(leaf)),
        S::BAD_REQUEST,
        "conflicting_parameters",
    )
    .await;
    refused(
        app,
        &format!("{p}?index=1&size=701"),
        S::NOT_FOUND,
        "size_beyond_tree",
    )
    .await;
    refused(
        app,
        &format!("{p}?index=5&size=5"),
        S::NOT_FOUND,
        "index_out_of_range",
    )
    .await;
    refused(
        app,
        &format!("{p}?index=0&size=0"),
        S::NOT_FOUND,
        "index_out_of_range",
    )
    .await;
    refused(
        app,
        &format!("{p}?index=x&size=5"),
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        &format!("{p}?leaf_hash=00&size=5"),
        S::BAD_REQUEST,
        "invalid_leaf_hash",
    )
    .await;
    refused(
        app,
        &format!("{p}?leaf_hash={}&size=100", hex::encode([1u8; 32])),
        S::NOT_FOUND,
        "unknown_leaf_hash",
    )
    .await;
    // Known leaf, but not in the tree of the requested size.
    refused(
        app,
        &format!("{p}?leaf_hash={}&size=100", hex::encode(leaf)),
        S::NOT_FOUND,
        "index_out_of_range",
    )
    .await;
    refused(
        app,
        &format!("{p}?index=1&size=5&x=1"),
        S::BAD_REQUEST,
        "unknown_parameter",
    )
    .await;
}

#[tokio::test]
async fn consistency_proofs() {
    let f = fixture().await;
    for (old, new) in [(0, N), (1, N), (256, N), (300, 512), (N, N), (7, 8)] {
        let (headers, v) = get_json(
            &f.app,
            &format!("/board/proof/consistency?old={old}&new={new}"),
        )
        .await;
        assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(v["old"], old);
        assert_eq!(v["new"], new);
        let proof = hashes(&v["proof"]);
        verify_consistency(
            old,
            new,
            &proof,
            &f.tree.root_at(old).unwrap(),
            &f.tree.root_at(new).unwrap(),
        )
        .unwrap();
    }
    let app = &f.app;
    use StatusCode as S;
    let p = "/board/proof/consistency";
    refused(
        app,
        &format!("{p}?old=5&new=4"),
        S::BAD_REQUEST,
        "old_size_larger_than_new",
    )
    .await;
    refused(
        app,
        &format!("{p}?old=5&new=701"),
        S::NOT_FOUND,
        "size_beyond_tree",
    )
    .await;
    refused(
        app,
        &format!("{p}?old=5"),
        S::BAD_REQUEST,
        "missing_parameter",
    )
    .await;
    refused(
        app,
        &format!("{p}?new=5"),
        S::BAD_REQUEST,
        "missing_parameter",
    )
    .await;
    refused(
        app,
        &format!("{p}?old=a&new=5"),
        S::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    refused(
        app,
        &format!("{p}?old=1&new=5&size=3"),
        S::BAD_REQUEST,
        "unknown_parameter",
    )
    .await;
}

#[tokio::test]
async fn tiles_and_bundles() {
    let f = fixture().await;
    let (status, headers, body) = get(&f.app, "/board/tile/0/001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
    let t = TileId::new(0, 1, 256).unwrap();
    assert_eq!(&body[..], &t.encode(&f.tree).unwrap()[..]);

    let (status, headers, body) = get(&f.app, "/board/tile/0/002.p/188").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers[header::CACHE_CONTROL], IMMUTABLE);
    let t = TileId::new(0, 2, 188).unwrap();
    assert_eq!(&body[..], &t.encode(&f.tree).unwrap()[..]);

    let (status, _, body) = get(&f.app, "/board/tile/1/000.p/2").await;
    assert_eq!(status, StatusCode::OK);
    let t = TileId::new(1, 0, 2).unwrap();
    assert_eq!(&body[..], &t.encode(&f.tree).unwrap()[..]);

    let (status, headers, body) = get(&f.app, "/board/tile/entries/000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], IMMUTABLE);
    let b = BundleId::new(0, 256).unwrap();
    assert_eq!(b.decode(&body).unwrap(), f.entries[..256].to_vec());

    let (status, headers, body) = get(&f.app, "/board/tile/entries/002.p/188").await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers[header::CACHE_CONTROL], IMMUTABLE);
    let b = BundleId::new(2, 188).unwrap();
    assert_eq!(b.decode(&body).unwrap(), f.entries[512..].to_vec());

    let app = &f.app;
    use StatusCode as S;
    for path in [
        "0/002",
        "0/003.p/1",
        "1/000",
        "1/000.p/3",
        "entries/002",
        "entries/002.p/189",
    ] {
        refused(
            app,
            &format!("/board/tile/{path}"),
            S::NOT_FOUND,
            "tile_beyond_tree",
        )
        .await;
    }
    for path in [
        "0/2",
        "0/x000/001",
        "8/000",
        "0/000.p/0",
        "0/000.p/256",
        "entries",
        "x/000",
    ] {
        refused(
            app,
            &format!("/board/tile/{path}"),
            S::BAD_REQUEST,
            "invalid_tile_path",
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let f = fixture().await;
    refused(&f.app, "/board/nothing", StatusCode::NOT_FOUND, "not_found").await;
    refused(&f.app, "/", StatusCode::NOT_FOUND, "not_found").await;
    refused_method(
        &f.app,
        "POST",
        "/board/checkpoint",
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    refused_method(
        &f.app,
        "DELETE",
        "/board/entries/1",
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn refusals_change_nothing() {
    let f = fixture().await;
    let before = f.store.latest_checkpoint();
    for uri in [
        "/board/entries?start=9999",
        "/board/proof/consistency?old=9&new=1",
        "/board/tile/0/009",
        "/board/entries/by-hash/00",
    ] {
        let (status, _, _) = get(&f.app, uri).await;
        assert!(status.is_client_error());
    }
    assert_eq!(*f.store.latest_checkpoint(), *before);
    assert_eq!(f.store.stats().entries, N);
}

#[tokio::test]
async fn internal_faults_do_not_leak() {
    let f = fixture().await;
    // Damage the database under the running store: leaf hashes vanish.
    let path = f._dir.path().join("board.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM board_subtrees WHERE level = 0", [])
        .unwrap();
    drop(conn);
    let message = refused(
        &f.app,
        "/board/proof/inclusion?index=3&size=700",
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    )
    .await;
    assert!(!message.contains("subtree"), "{message}");
    assert!(!message.contains("board.db"), "{message}");
    assert!(!message.to_lowercase().contains("sql"), "{message}");
}
