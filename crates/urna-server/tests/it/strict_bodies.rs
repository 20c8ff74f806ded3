//! Strict request bodies (issue 12 item 4; spec/api.md §A1, §A1.4, §A4):
//! one JSON encoding of a request, the JSON error of §A1 for a body too
//! large, limits per endpoint, uploads read only once the caller is
//! authorised, a bad credential signature named `invalid_signature`, and
//! the phase checked before the registrar reserves anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use urna_board::BoardSigningKey;
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_election::Manifest;
use urna_server::election::{AdminToken, Registrar, TestClock};
use urna_server::{ApiError, AppState, ElectionConfig, app};
use urna_store::BoardStore;

const TOKEN: &str = "s3cret-admin-token";
const EXAMPLE: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");

fn manifest_text() -> String {
    let text = EXAMPLE.replace("n = 5\nt = 3", "n = 3\nt = 2");
    assert_ne!(text, EXAMPLE, "the example's trustees section moved");
    text
}

fn store(dir: &tempfile::TempDir) -> BoardStore {
    let key = BoardSigningKey::from_secret_bytes("urna.example/strict", &[7; 32]).unwrap();
    BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap()
}

fn request(method: &str, uri: &str, admin: bool, content_type: &str, body: Body) -> Request<Body> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type);
    if admin {
        req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    req.body(body).unwrap()
}

/// The answer: status, content type and JSON body (`Null` if not JSON).
async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let b = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    (
        status,
        ct,
        serde_json::from_slice(&b).unwrap_or(Value::Null),
    )
}

/// A refusal as spec/api.md §A1 has it: JSON, this status and code, a sentence.
#[track_caller]
fn assert_refusal(got: &(StatusCode, String, Value), status: StatusCode, code: &str) {
    let (st, ct, v) = got;
    assert_eq!(*st, status, "{ct} {v}");
    assert!(ct.starts_with("application/json"), "{st}: {ct}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().ends_with('.'),
        "{v}"
    );
}

#[tokio::test]
async fn a_ballot_as_a_json_array_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let app = app(AppState::new(store.clone()));
    let ballot = "02".repeat(200);
    // serde's derived structs also read `["…"]` as `{ "ballot": "…" }`.
    for body in [json!([ballot]), json!([[ballot]])] {
        let got = send(
            &app,
            request(
                "POST",
                "/election/ballots",
                false,
                "application/json",
                Body::from(body.to_string()),
            ),
        )
        .await;
        assert_refusal(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
        assert!(
            got.2["error"]["message"]
                .as_str()
                .unwrap()
                .contains("array")
        );
    }
    // Also for every other JSON body, e.g. an audit or a complaint answer.
    let got = send(
        &app,
        request(
            "POST",
            "/election/audits",
            false,
            "application/json",
            Body::from(r#" ["00"]"#),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert_eq!(store.size(), 0);
}

#[tokio::test]
async fn bodies_over_the_limit_get_the_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let app = app(AppState::with_election(
        store.clone(),
        ElectionConfig::new(AdminToken::new(TOKEN)),
    ));
    let huge = || Body::from(vec![b' '; 20 << 20]);
    for (uri, admin, ct) in [
        ("/election/ballots", false, "application/json"),
        ("/election/audits", false, "application/json"),
        ("/election/credentials", true, "application/json"),
        ("/election/reconciliation", true, "application/json"),
        ("/board/cosignature", false, "application/json"),
        ("/election/manifest", true, "application/toml"),
    ] {
        let got = send(&app, request("POST", uri, admin, ct, huge())).await;
        assert_refusal(&got, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    }
    // The limits are per endpoint (§A1.4): a ballot-sized body of 200 KiB
    // is read by the ballot endpoint but too large for a credential.
    let padded = format!("{{\"ballot\": \"00\"{}}}", " ".repeat(200 << 10));
    let got = send(
        &app,
        request(
            "POST",
            "/election/ballots",
            false,
            "application/json",
            Body::from(padded.clone()),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::FORBIDDEN, "voting_not_open");
    let got = send(
        &app,
        request(
            "POST",
            "/election/credentials",
            true,
            "application/json",
            Body::from(padded),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(store.size(), 0);
}

/// A body that never ends.
fn endless() -> (http_body_util::channel::Sender<Bytes>, Body) {
    let (tx, body) = http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(1);
    (tx, Body::new(body))
}

#[tokio::test]
async fn uploads_are_read_only_once_the_admin_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(AppState::with_election(
        store(&dir),
        ElectionConfig::new(AdminToken::new(TOKEN)),
    ));
    // Without the token the answer comes at once, without waiting for a
    // body that may be a gigabyte (or never end).
    let (_tx, body) = endless();
    let req = request(
        "POST",
        "/election/manifest",
        false,
        "application/toml",
        body,
    );
    let got = tokio::time::timeout(Duration::from_secs(10), send(&app, req))
        .await
        .expect("the server waited for the body of an unauthorised upload");
    assert_refusal(&got, StatusCode::UNAUTHORIZED, "unauthorized");
}

/// Counts the registrar's casting checks (each reserves, §G4).
#[derive(Debug, Default)]
struct Counting(Mutex<u32>);

impl Registrar for Counting {
    fn authorize(&self, _: &HeaderMap) -> Result<(), ApiError> {
        Ok(())
    }
    fn authorize_ballot(&self, _: &[u8; 32]) -> Result<(), ApiError> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phase_is_checked_before_the_registrar() {
    let dir = tempfile::tempdir().unwrap();
    let counting = Arc::new(Counting::default());
    let state = AppState::builder(store(&dir), ElectionConfig::new(AdminToken::new(TOKEN)))
        .with_registrar(counting.clone())
        .build();
    let app = app(state);
    // A ballot-shaped body (version, credential, …) before voting opens.
    let bytes = [vec![2u8], vec![0x11; 32], vec![0; 100]].concat();
    let got = send(
        &app,
        request(
            "POST",
            "/election/ballots",
            false,
            "application/json",
            Body::from(json!({ "ballot": hex::encode(&bytes) }).to_string()),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::FORBIDDEN, "voting_not_open");
    assert_eq!(*counting.0.lock().unwrap(), 0, "the registrar reserved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_credential_signature_is_invalid_signature() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let text = manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let app = app(AppState::with_election(store.clone(), config));
    let ok = |method: &'static str, uri: String, body: Body| {
        let app = app.clone();
        async move {
            let got = send(&app, request(method, &uri, true, "application/json", body)).await;
            assert!(got.0.is_success(), "{method} {uri}: {got:?}");
            got.2
        }
    };
    ok(
        "POST",
        "/election/manifest".into(),
        Body::from(text.clone()),
    )
    .await;
    common::honest_ceremony(&m, |body| {
        let posted = ok(
            "POST",
            "/election/ceremony".into(),
            Body::from(body.to_string()),
        );
        async move {
            posted.await;
        }
    })
    .await;
    ok("POST", "/election/ceremony/finish".into(), Body::empty()).await;
    let p = &m.precincts()[0];
    let d = m.districts()[p.district].id.clone();
    let key = CredentialKey::generate(&mut rand::rng());
    let cred = json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() });
    ok(
        "POST",
        "/election/credentials".into(),
        Body::from(cred.to_string()),
    )
    .await;
    clock.set(sched.voting_opens.plus_seconds(60));
    ok("POST", "/election/open".into(), Body::empty()).await;
    let v = ok("GET", format!("/election/style/{d}"), Body::empty()).await;
    let style = urna_server::election::BallotStyle::from_value(&v).unwrap();
    let (ballot, _) = Ballot::encrypt(
        &style.key,
        &style.fingerprint,
        &key,
        &style.header,
        &style.shapes,
        &[vec![1, 0]],
        &mut rand::rng(),
    )
    .unwrap();
    let mut bytes = ballot.encode().unwrap();
    // The signature is the commitment, then the response s (little-endian,
    // spec/crypto.md §6.5): s ± 1 is still canonical, and wrong.
    let at = bytes.len() - 32;
    bytes[at] ^= 1;
    let before = store.size();
    let got = send(
        &app,
        request(
            "POST",
            "/election/ballots",
            false,
            "application/json",
            Body::from(json!({ "ballot": hex::encode(&bytes) }).to_string()),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::BAD_REQUEST, "invalid_signature");
    assert_eq!(store.size(), before);
}

/// The whole API with voter registration on a SQLite registry.
fn with_registration(dir: &tempfile::TempDir) -> Router {
    let m = Manifest::from_bytes(EXAMPLE.as_bytes()).unwrap();
    let clock = TestClock::new(m.schedule().applications_open.plus_seconds(3600));
    let registry = urna_registry::Registry::open_sqlite(&dir.path().join("registry.db")).unwrap();
    let config = urna_registry::RegistrationConfig::from_bytes(
        b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n",
    )
    .unwrap();
    let service = urna_server::registration::RegistrationService::new(
        registry,
        urna_registry::screening::Rules::new(config, &m).unwrap(),
        urna_registry::CommissionSecret::from_bytes([5; 32]),
        Arc::new(urna_registry::notify::Outbox::new(
            dir.path().join("outbox.jsonl"),
        )),
        &m,
        AdminToken::new(TOKEN),
        Arc::new(clock.clone()),
    );
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock));
    app(AppState::builder(store(dir), config)
        .with_registration(service)
        .build())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_uploads_have_their_own_limits() {
    let dir = tempfile::tempdir().unwrap();
    let app = with_registration(&dir);
    // A precinct's paper list is not a region's registry: 17 MiB is refused
    // (it was read up to 1 GiB).
    let mut csv = b"voter_id\n".to_vec();
    csv.resize(17 << 20, b'\n');
    let got = send(
        &app,
        request(
            "POST",
            "/registration/admin/paper?precinct=uik-0001",
            true,
            "text/csv",
            Body::from(csv),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    // Nothing is read before the admin token is checked.
    for uri in [
        "/registration/admin/registry?region=msk",
        "/registration/admin/paper?precinct=uik-0001",
        "/registration/admin/amendments",
    ] {
        let (_tx, body) = endless();
        let req = request("POST", uri, false, "text/csv", body);
        let got = tokio::time::timeout(Duration::from_secs(10), send(&app, req))
            .await
            .unwrap_or_else(|_| panic!("{uri}: the server waited for an unauthorised upload"));
        assert_refusal(&got, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // A malformed query is the JSON error too, not axum's text.
    let got = send(
        &app,
        request(
            "POST",
            "/registration/admin/registry?region=msk&region=spb",
            true,
            "text/csv",
            Body::from("voter_id\n"),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::BAD_REQUEST, "invalid_query");
    // And a complaint body as an array.
    let got = send(
        &app,
        request(
            "POST",
            "/registration/complaints",
            false,
            "application/json",
            Body::from(r#"["voter", "text"]"#),
        ),
    )
    .await;
    assert_refusal(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
}

#[tokio::test]
async fn a_nested_object_as_an_array_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(AppState::with_election(
        store(&dir),
        ElectionConfig::new(AdminToken::new(TOKEN)),
    ));
    let cred = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";
    let post = |body: Value| {
        request(
            "POST",
            "/election/reconciliation",
            true,
            "application/json",
            Body::from(body.to_string()),
        )
    };
    // As an object the body is read (and refused by the phase) ...
    let got = send(
        &app,
        post(json!({ "annulled": [{ "credential": cred, "reason": "decision" }] })),
    )
    .await;
    assert_refusal(&got, StatusCode::CONFLICT, "wrong_phase");
    // ... as an array of its fields it is not read at all.
    let got = send(&app, post(json!({ "annulled": [[cred, "decision"]] }))).await;
    assert_refusal(&got, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
}
