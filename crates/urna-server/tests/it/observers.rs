//! Issue 12 item 6: only the configured observers' cosignatures are
//! accepted and served, and the list is published on the board where the
//! verifier checks it (spec/board.md §B10.3, spec/record.md §R16).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use urna_board::{
    BoardSigningKey, Checkpoint, Entry, EntryKind, ObserverSigningKey, SignedNote,
    cosign_checkpoint,
};
use urna_election::record::observers::ObserverList;
use urna_server::{AppState, app};
use urna_store::BoardStore;
use urna_verify::RecordWriter;

const ORIGIN: &str = "urna.example/observers-test";

fn board() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &[6; 32]).unwrap()
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

async fn cosign(app: &Router, w: &ObserverSigningKey) -> (StatusCode, Vec<u8>) {
    let (_, served) = call(app, "GET", "/board/checkpoint", None).await;
    let mut note = SignedNote::parse(&served).unwrap();
    let cp = Checkpoint::parse(note.text()).unwrap();
    note.add_signature(cosign_checkpoint(w, &cp, 1_700_000_000).unwrap())
        .unwrap();
    let body = serde_json::json!({ "key": w.verifier_key().to_string(), "note": note.to_text() });
    call(app, "POST", "/board/cosignature", Some(body)).await
}

#[test]
fn the_observer_file_is_read_strictly() {
    let a = observer("a.observer.example", 1).verifier_key();
    let b = observer("b.observer.example", 2).verifier_key();
    let list = urna_server::observers::parse_file(&format!("# ours\n\n  {b}  \n{a}\n")).unwrap();
    assert_eq!(list.keys, vec![a.clone(), b.clone()]);
    let payload = list.encode().unwrap();
    assert_eq!(ObserverList::decode(&payload).unwrap(), list);
    // Refusals: a duplicate, the board's own (type 0x01) key, garbage.
    assert!(urna_server::observers::parse_file(&format!("{a}\n{a}\n")).is_err());
    let board_key = board().verifier_key();
    assert!(urna_server::observers::parse_file(&format!("{board_key}\n")).is_err());
    assert!(urna_server::observers::parse_file("not a key\n").is_err());
    // Strict decoding: unsorted, trailing bytes, too many, bad key text.
    let mut swapped = vec![1, 4, 2];
    for k in [&b, &a] {
        let t = k.to_string();
        swapped.push(t.len() as u8);
        swapped.extend_from_slice(t.as_bytes());
    }
    assert!(ObserverList::decode(&swapped).is_err());
    let mut trailing = payload.clone();
    trailing.push(0);
    assert!(ObserverList::decode(&trailing).is_err());
    assert!(ObserverList::decode(&[1, 4, 100]).is_err());
    assert!(ObserverList::decode(&[1, 4, 1, 3, b'a', b'+', b'b']).is_err());
    assert!(ObserverList::decode(&[1, 9, 0]).is_err());
}

#[tokio::test]
async fn only_listed_observers_cosign_and_the_list_is_on_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board()).unwrap();
    for i in 0..3u8 {
        store
            .append_async(Entry::new(EntryKind::Ballot, &[i]).unwrap())
            .await
            .unwrap();
    }
    let listed = observer("listed.observer.example", 11);
    let stranger = observer("stranger.example", 12);
    let state = AppState::new(store.clone());
    let app = app(state.clone());
    // Before the list, a stranger's cosignature of size 3 is stored.
    let (s, _) = cosign(&app, &stranger).await;
    assert_eq!(s, StatusCode::OK);

    let list = ObserverList::new(vec![listed.verifier_key()]).unwrap();
    let at = state.publish_observers(&list, None).await.unwrap();
    assert_eq!(at, Some(3));
    let on_board = store.entry(3).unwrap();
    assert_eq!(on_board.entry.kind(), EntryKind::AdminAction);
    assert_eq!(
        ObserverList::decode(on_board.entry.payload()).unwrap(),
        list
    );
    // The same list again (after a restart): nothing appended.
    assert_eq!(
        state.publish_observers(&list, Some(&list)).await.unwrap(),
        None
    );
    assert_eq!(store.size(), 4);

    let (s, body) = cosign(&app, &stranger).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "unknown_observer");
    let (s, _) = cosign(&app, &listed).await;
    assert_eq!(s, StatusCode::OK);
    // The stranger's old line for size 3 is no longer served.
    let (_, old) = call(&app, "GET", "/board/checkpoint/3", None).await;
    assert!(!String::from_utf8_lossy(&old).contains("stranger.example"));
    let (_, latest) = call(&app, "GET", "/board/checkpoint", None).await;
    let latest = String::from_utf8(latest).unwrap();
    assert!(latest.contains("listed.observer.example"), "{latest}");

    // The verifier reads the list from the board: the record with the
    // served checkpoint passes its check and counts the cosigner...
    let observers_check = |cp: &str| {
        let rec = tempfile::tempdir().unwrap();
        let mut w = RecordWriter::create(rec.path().join("r"), &board().verifier_key()).unwrap();
        for i in 0..store.size() {
            w.append(&store.entry(i).unwrap().entry).unwrap();
        }
        let dir = w
            .finish(&SignedNote::parse(cp.as_bytes()).unwrap())
            .unwrap();
        let report = urna_verify::verify(&dir, urna_verify::Options::default());
        (report.check("observers").unwrap().clone(), report.summary)
    };
    let (check, summary) = observers_check(&latest);
    assert!(check.passed() && check.checked == 2, "{check:?}");
    assert_eq!((summary.observers, summary.cosigned_by), (1, 1));
    // ...and a checkpoint carrying a stranger's line fails it.
    let mut note = SignedNote::parse(latest.as_bytes()).unwrap();
    let cp = Checkpoint::parse(note.text()).unwrap();
    note.add_signature(cosign_checkpoint(&stranger, &cp, 1_700_000_001).unwrap())
        .unwrap();
    let (check, _) = observers_check(&note.to_text());
    assert!(!check.passed(), "{check:?}");
}
