//! Election-state snapshots (spec/api.md §A6.3, issue 11 item 2): a
//! restart from the latest snapshot plus the board's tail reaches exactly
//! the state of a full replay (re-votes, audits, turnout, receipts); a
//! damaged snapshot, or one of another board, is ignored and the whole
//! board is replayed; a follower catches up with entries appended by
//! another service.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use urna_board::BoardSigningKey;
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_election::Manifest;
use urna_election::record::AuditedBallot;
use urna_server::election::{AdminToken, BallotStyle, ElectionService, TestClock};
use urna_server::{AppState, ElectionConfig};

fn router(state: AppState) -> Router {
    urna_server::app(state)
}
use urna_store::{BoardStore, Snapshot};

const TOKEN: &str = "snapshot-admin-token";
const EXAMPLE: &str = include_str!("../../../../examples/duma-2021.toml");

fn manifest_text() -> String {
    let text = EXAMPLE.replace("n = 7\nt = 4", "n = 3\nt = 2");
    assert_ne!(text, EXAMPLE, "the example's trustees section moved");
    text
}

async fn call(app: &Router, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => {
            req = req.header(header::CONTENT_LENGTH, 0);
            req.body(Body::empty())
        }
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let b = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    let v = serde_json::from_slice(&b)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into_owned()));
    (status, v)
}

async fn ok(app: &Router, method: &str, uri: &str, body: Option<Value>) -> Value {
    let (st, v) = call(app, method, uri, body).await;
    assert!(st.is_success(), "{method} {uri}: {st} {v}");
    v
}

fn ballot(style: &BallotStyle, key: &CredentialKey) -> Ballot {
    let sel: Vec<Vec<u64>> = style
        .shapes
        .iter()
        .map(|s| {
            let mut v = vec![0; usize::from(s.options)];
            v[0] = 1;
            v
        })
        .collect();
    Ballot::encrypt(
        &style.key,
        &style.fingerprint,
        key,
        &style.header,
        &style.shapes,
        &sel,
        &mut rand::rng(),
    )
    .unwrap()
    .0
}

struct Voter {
    key: CredentialKey,
    style: BallotStyle,
}

async fn cast(app: &Router, v: &Voter) -> Value {
    let b = ballot(&v.style, &v.key).encode().unwrap();
    ok(
        app,
        "POST",
        "/election/ballots",
        Some(json!({ "ballot": hex::encode(b) })),
    )
    .await
}

async fn audit(app: &Router, v: &Voter) -> Value {
    let b = Ballot::encrypt(
        &v.style.key,
        &v.style.fingerprint,
        &v.key,
        &v.style.header,
        &v.style.shapes,
        &v.style
            .shapes
            .iter()
            .map(|s| {
                let mut x = vec![0; usize::from(s.options)];
                x[0] = 1;
                x
            })
            .collect::<Vec<_>>(),
        &mut rand::rng(),
    )
    .unwrap();
    let a = AuditedBallot::encode(&b.0.encode().unwrap(), &b.1).unwrap();
    ok(
        app,
        "POST",
        "/election/audits",
        Some(json!({ "audit": hex::encode(a) })),
    )
    .await
}

/// What a restart must reproduce, read over the public API.
async fn public_state(app: &Router, trackings: &[String]) -> Value {
    let mut receipts = Vec::new();
    for t in trackings {
        receipts.push(ok(app, "GET", &format!("/receipt/{t}"), None).await["index"].clone());
    }
    let mut status = ok(app, "GET", "/election/status", None).await;
    // This process's own batch counters, not election state.
    status.as_object_mut().unwrap().remove("verifier");
    json!({
        "turnout": ok(app, "GET", "/election/turnout", None).await,
        "status": status,
        "receipts": receipts,
    })
}

struct Setup {
    _dir: tempfile::TempDir,
    store: BoardStore,
    journal: std::path::PathBuf,
    config: ElectionConfig,
    clock: TestClock,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let key = BoardSigningKey::from_secret_bytes("urna.example/snap", &[3; 32]).unwrap();
        let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
        let m = Manifest::from_bytes(manifest_text().as_bytes()).unwrap();
        let clock = TestClock::new(m.schedule().applications_open.plus_seconds(3600));
        let mut config =
            ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
        config.snapshot_every = 0;
        Setup {
            journal: dir.path().join("server.journal"),
            _dir: dir,
            store,
            config,
            clock,
        }
    }

    async fn resume(&self) -> (AppState, urna_server::election::ResumeReport) {
        let (store, config, journal) = (
            self.store.clone(),
            self.config.clone(),
            self.journal.clone(),
        );
        tokio::task::spawn_blocking(move || AppState::resume(store, config, &journal))
            .await
            .unwrap()
            .unwrap()
    }
}

/// Publishes, runs the ceremony, registers `n` voters across precincts
/// and opens voting.
async fn open_election(s: &Setup, app: &Router, n: usize) -> Vec<Voter> {
    let text = manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let req = Request::builder()
        .method("POST")
        .uri("/election/manifest")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/toml")
        .body(Body::from(text))
        .unwrap();
    assert!(
        app.clone()
            .oneshot(req)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    crate::common::honest_ceremony(&m, |b| {
        let app = app.clone();
        async move {
            ok(&app, "POST", "/election/ceremony", Some(b)).await;
        }
    })
    .await;
    ok(app, "POST", "/election/ceremony/finish", None).await;
    let mut voters = Vec::new();
    for i in 0..n {
        let p = &m.precincts()[i % m.precincts().len()];
        let d = m.districts()[p.district].id.clone();
        let key = CredentialKey::generate(&mut rand::rng());
        ok(
            app,
            "POST",
            "/election/credentials",
            Some(json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() })),
        )
        .await;
        let style =
            BallotStyle::from_value(&ok(app, "GET", &format!("/election/style/{d}"), None).await)
                .unwrap();
        voters.push(Voter { key, style });
    }
    s.clock.set(m.schedule().voting_opens.plus_seconds(60));
    ok(app, "POST", "/election/open", None).await;
    voters
}

fn tracking(r: &Value) -> String {
    r["tracking"].as_str().unwrap().to_string()
}

/// The snapshot as stored, with one byte flipped and (if `rehash`) the
/// check recomputed, saved back under the same size.
fn tamper(store: &BoardStore, at: usize, rehash: bool) -> Snapshot {
    let good = store.latest_snapshot().unwrap().unwrap();
    let mut bad = good.clone();
    bad.state[at] ^= 1;
    if rehash {
        let check = Sha256::digest(&bad.state[32..]);
        bad.state[..32].copy_from_slice(&check);
    }
    store.save_snapshot(bad).unwrap();
    good
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_snapshot_equals_full_replay() {
    let s = Setup::new();
    let (state, report) = s.resume().await;
    assert_eq!(report.snapshot, None);
    let service = state.election().clone();
    let app = router(state);
    let voters = open_election(&s, &app, 8).await;
    // No snapshot outside voting... and one in it.
    let mut trackings = Vec::new();
    for v in &voters[..5] {
        trackings.push(tracking(&cast(&app, v).await));
    }
    trackings.push(tracking(&audit(&app, &voters[5]).await));
    s.clock.advance(120);
    trackings.push(tracking(&cast(&app, &voters[0]).await)); // a re-vote
    let taken = service.snapshot_now().await.unwrap().unwrap();
    assert_eq!(taken.size, s.store.size());
    // The tail: a new voter, a re-vote of a voter counted in the
    // snapshot, an audit, and a re-vote too soon (refused).
    s.clock.advance(30);
    trackings.push(tracking(&cast(&app, &voters[6]).await));
    trackings.push(tracking(&cast(&app, &voters[1]).await));
    trackings.push(tracking(&audit(&app, &voters[2]).await));
    let (st, v) = call(
        &app,
        "POST",
        "/election/ballots",
        Some(json!({ "ballot": hex::encode(ballot(&voters[1].style, &voters[1].key).encode().unwrap()) })),
    )
    .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
    let live = public_state(&app, &trackings).await;
    let size = s.store.size();
    drop(app);
    drop(service);

    // 1. From the snapshot: only the tail is replayed.
    let (state, report) = s.resume().await;
    assert_eq!(report.snapshot, Some(taken.size));
    assert_eq!(report.ballots, 3, "{report:?}");
    let service = state.election().clone();
    let app = router(state);
    assert_eq!(public_state(&app, &trackings).await, live);
    service.snapshot_now().await.unwrap().unwrap();
    let from_snapshot = s.store.latest_snapshot().unwrap().unwrap();
    assert_eq!(from_snapshot.size, size);
    drop(app);
    drop(service);

    // 2. The same snapshot damaged: ignored, the whole board replayed,
    // and the state is the same to the byte.
    tamper(&s.store, 100, false);
    let (state, report) = s.resume().await;
    assert_eq!(report.snapshot, None);
    assert_eq!(report.ballots, 10, "{report:?}");
    let service = state.election().clone();
    let app = router(state);
    assert_eq!(public_state(&app, &trackings).await, live);
    service.snapshot_now().await.unwrap().unwrap();
    assert_eq!(s.store.latest_snapshot().unwrap().unwrap(), from_snapshot);

    // The resumed server goes on: replays and re-votes are still judged
    // by the whole history.
    let (st, v) = call(
        &app,
        "POST",
        "/election/audits",
        Some(json!({ "audit": "00" })),
    )
    .await;
    assert!(st.is_client_error(), "{v}");
    s.clock.advance(120);
    let r = cast(&app, &voters[7]).await;
    assert_eq!(r["index"].as_u64().unwrap(), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_or_damaged_snapshots_fall_back_to_full_replay() {
    let s = Setup::new();
    let (state, _) = s.resume().await;
    let service = state.election().clone();
    let app = router(state);
    let voters = open_election(&s, &app, 4).await;
    let mut trackings = Vec::new();
    for v in &voters[..3] {
        trackings.push(tracking(&cast(&app, v).await));
    }
    service.snapshot_now().await.unwrap().unwrap();
    trackings.push(tracking(&cast(&app, &voters[3]).await));
    let live = public_state(&app, &trackings).await;
    drop(app);
    drop(service);
    let (_, report) = s.resume().await;
    assert_eq!(report.snapshot.map(|x| x + 1), Some(s.store.size()));

    // Offsets in the frame: check [0..32], size [32..40], root [40..72],
    // engine length [72..80], engine state from 80 (its version byte,
    // then the manifest hash).
    for (at, rehash, why) in [
        (45, true, "a root that is not the board's (another board)"),
        (36, true, "a size that is not the one it is stored under"),
        (80, true, "an engine state of an unknown version"),
        (90, true, "an engine state of another manifest"),
        (3000, false, "damaged bytes"),
    ] {
        let good = tamper(&s.store, at, rehash);
        let (state, report) = s.resume().await;
        assert_eq!(report.snapshot, None, "{why}");
        assert_eq!(report.ballots, 4, "{why}");
        let app = router(state);
        assert_eq!(public_state(&app, &trackings).await, live, "{why}");
        drop(app);
        s.store.save_snapshot(good).unwrap();
    }
    // An unknown format number.
    let good = s.store.latest_snapshot().unwrap().unwrap();
    let mut other = good.clone();
    other.format = 99;
    s.store.save_snapshot(other).unwrap();
    let (_, report) = s.resume().await;
    assert_eq!(report.snapshot, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_catches_up_with_the_sequencer() {
    let s = Setup::new();
    let (state, _) = s.resume().await;
    let leader = router(state);
    let voters = open_election(&s, &leader, 4).await;
    cast(&leader, &voters[0]).await;
    // A second service on the same board and journal, reading only.
    let (follower_state, report) = s.resume().await;
    assert_eq!(report.ballots, 1);
    let follower: ElectionService = follower_state.election().clone();
    let follower_app = router(follower_state);
    let mut trackings = Vec::new();
    for v in &voters[1..] {
        trackings.push(tracking(&cast(&leader, v).await));
    }
    trackings.push(tracking(&audit(&leader, &voters[0]).await));
    let f = follower.clone();
    let applied = tokio::task::spawn_blocking(move || f.catch_up())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(applied, s.store.size());
    assert_eq!(follower.applied(), applied);
    // Receipts and turnout follow (acceptance times are the follower's
    // "now", the same test clock here).
    assert_eq!(
        public_state(&follower_app, &trackings).await,
        public_state(&leader, &trackings).await
    );
    // Nothing new: nothing to do.
    let f = follower.clone();
    let again = tokio::task::spawn_blocking(move || f.catch_up())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, applied);
}
