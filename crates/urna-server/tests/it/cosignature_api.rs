//! `GET /board/key` and `POST /board/cosignature` (spec/board.md §B10).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use urna_board::{
    BoardSigningKey, Checkpoint, Entry, EntryKind, ObserverSigningKey, SignedNote,
    cosign_checkpoint, sign_checkpoint, verify_checkpoint,
};
use urna_server::{AppState, app};
use urna_store::BoardStore;

const ORIGIN: &str = "urna.example/cosign-test";

fn board() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &[5; 32]).unwrap()
}

fn observer(name: &str, seed: u8) -> ObserverSigningKey {
    ObserverSigningKey::from_secret_bytes(name, &[seed; 32]).unwrap()
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    let resp = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

fn code(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

fn cosigned(note_text: &str, w: &ObserverSigningKey, ts: u64) -> SignedNote {
    let mut note = SignedNote::parse(note_text.as_bytes()).unwrap();
    let cp = Checkpoint::parse(note.text()).unwrap();
    note.add_signature(cosign_checkpoint(w, &cp, ts).unwrap())
        .unwrap();
    note
}

async fn setup(dir: &tempfile::TempDir) -> (BoardStore, Router) {
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board()).unwrap();
    for i in 0..5u8 {
        store
            .append_async(Entry::new(EntryKind::Ballot, &[i]).unwrap())
            .await
            .unwrap();
    }
    let app = app(AppState::new(store.clone()));
    (store, app)
}

#[tokio::test]
async fn cosignatures_are_checked_kept_and_published() {
    let dir = tempfile::tempdir().unwrap();
    let (store, app) = setup(&dir).await;
    let (s, key) = call(&app, "GET", "/board/key", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        String::from_utf8(key).unwrap(),
        format!("{}\n", board().verifier_key())
    );

    let (_, served) = call(&app, "GET", "/board/checkpoint", None).await;
    let served = String::from_utf8(served).unwrap();
    let w = observer("w.observer.example", 9);
    let body = |note: &SignedNote, k: &ObserverSigningKey| serde_json::json!({ "key": k.verifier_key().to_string(), "note": note.to_text() });
    let (s, resp) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&served, &w, 1_700_000_000), &w)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&resp));
    // A newer cosignature by the same key replaces the first.
    let (s, resp) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&served, &w, 1_700_000_100), &w)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["cosignatures"], 1);

    for uri in ["/board/checkpoint", "/board/checkpoint/5"] {
        let (_, published) = call(&app, "GET", uri, None).await;
        let note = SignedNote::parse(&published).unwrap();
        let ok = verify_checkpoint(&note, &board().verifier_key(), &[w.verifier_key()]).unwrap();
        let cos: Vec<_> = ok.cosigners().collect();
        assert_eq!(cos.len(), 1, "{uri}");
        assert_eq!(cos[0].timestamp, Some(1_700_000_100));
    }

    // Refusals.
    let board_as_observer = serde_json::json!({
        "key": board().verifier_key().to_string(), "note": served.clone() });
    let (s, r) = call(&app, "POST", "/board/cosignature", Some(board_as_observer)).await;
    assert_eq!(
        (s, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_observer_key")
    );

    let x = observer("x.observer.example", 10);
    let unsigned = SignedNote::parse(served.as_bytes()).unwrap();
    let (s, r) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(body(&unsigned, &x)),
    )
    .await;
    assert_eq!(
        (s, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "missing_cosignature")
    );

    // x's cosignature line of another checkpoint does not verify on this one.
    let fork = Checkpoint::new(ORIGIN, 5, [0xAB; 32]).unwrap();
    let mut forged = SignedNote::parse(served.as_bytes()).unwrap();
    forged
        .add_signature(cosign_checkpoint(&x, &fork, 5).unwrap())
        .unwrap();
    let (s, r) = call(&app, "POST", "/board/cosignature", Some(body(&forged, &x))).await;
    assert_eq!(
        (s, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_cosignature")
    );

    // A checkpoint signed with the board key that the board does not hold.
    let fork_note = sign_checkpoint(&board(), &fork).unwrap().to_text();
    let (s, r) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&fork_note, &x, 5), &x)),
    )
    .await;
    assert_eq!(
        (s, code(&r).as_str()),
        (StatusCode::CONFLICT, "checkpoint_mismatch")
    );

    let (s, r) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(serde_json::json!({ "key": x.verifier_key().to_string(), "note": "nonsense" })),
    )
    .await;
    assert_eq!(
        (s, code(&r).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_note")
    );

    // A board that accepts only listed observers.
    let restricted = urna_server::app(AppState::new(store).with_observers(vec![w.verifier_key()]));
    let (s, r) = call(
        &restricted,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&served, &x, 7), &x)),
    )
    .await;
    assert_eq!(
        (s, code(&r).as_str()),
        (StatusCode::FORBIDDEN, "unknown_observer")
    );
    let (s, _) = call(
        &restricted,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&served, &w, 7), &w)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn cosignatures_are_durable_and_refusals_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, app) = setup(&dir).await;
    let (_, served) = call(&app, "GET", "/board/checkpoint", None).await;
    let served = String::from_utf8(served).unwrap();
    let w = observer("w.observer.example", 9);
    let x = observer("x.observer.example", 10);
    let body = |note: &SignedNote, k: &ObserverSigningKey| serde_json::json!({ "key": k.verifier_key().to_string(), "note": note.to_text() });
    let (s, _) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&served, &w, 1_700_000_000), &w)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Refused: a cosignature of a checkpoint this board never signed, and
    // an observer the board does not accept.
    let fork = Checkpoint::new(ORIGIN, 5, [0xAB; 32]).unwrap();
    let fork_note = sign_checkpoint(&board(), &fork).unwrap().to_text();
    let (s, _) = call(
        &app,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&fork_note, &x, 5), &x)),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let restricted = app_of(store.clone(), vec![w.verifier_key()]);
    let (s, _) = call(
        &restricted,
        "POST",
        "/board/cosignature",
        Some(body(&cosigned(&served, &x, 7), &x)),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Restart: the store is closed and opened again on the same file.
    drop((app, restricted, store));
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board()).unwrap();
    let restarted = urna_server::app(AppState::new(store));
    for uri in ["/board/checkpoint", "/board/checkpoint/5"] {
        let (_, published) = call(&restarted, "GET", uri, None).await;
        let note = SignedNote::parse(&published).unwrap();
        assert_eq!(note.signatures().len(), 2, "board + w only, {uri}");
        let ok = verify_checkpoint(&note, &board().verifier_key(), &[w.verifier_key()]).unwrap();
        let cos: Vec<_> = ok.cosigners().collect();
        assert_eq!(cos.len(), 1, "{uri}");
        assert_eq!(cos[0].timestamp, Some(1_700_000_000));
    }
}

fn app_of(store: BoardStore, observers: Vec<urna_board::VerifierKey>) -> Router {
    app(AppState::new(store).with_observers(observers))
}
