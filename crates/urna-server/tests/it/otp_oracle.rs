//! The one-time-code endpoint is no oracle (spec/registration.md §G6;
//! issue 12 item 5): wrong birth dates for a known document number are
//! refused after a limit per document, whatever the client address, and
//! an unknown document, a wrong birth date and an unapproved voter get
//! byte-identical answers with no phone hint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use urna_board::BoardSigningKey;
use urna_election::Manifest;
use urna_registry::notify::Outbox;
use urna_registry::screening::Rules;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry};
use urna_server::election::{AdminToken, Clock, TestClock};
use urna_server::registration::RegistrationService;
use urna_server::{AppState, ElectionConfig};
use urna_store::BoardStore;

const TOKEN: &str = "s3cret-admin-token";
const EXAMPLE: &[u8] = include_bytes!("../../../../examples/moscow-2020-constitution.toml");
const CONFIG: &[u8] = b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n";
const MSK: &str =
    "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
m1,Иванов Иван Иванович,1980-01-02,4508 123456,+79161234567,,uik-0001,2015-03-04
m2,Петрова Анна Сергеевна,1975-05-06,4509 654321,+79161112233,,uik-0002,2018-07-08
";

fn app(dir: &std::path::Path) -> Router {
    let key = BoardSigningKey::from_secret_bytes("urna.example/reg", &[7; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.join("board.db"), key).unwrap();
    let m = Manifest::from_bytes(EXAMPLE).unwrap();
    let clock = TestClock::new(m.schedule().applications_open.plus_seconds(3600));
    let registry = Registry::open_sqlite(&dir.join("registry.db")).unwrap();
    let secret = CommissionSecret::from_bytes([5; 32]);
    registry
        .import_csv(
            "msk.csv",
            "msk",
            &Geography::of(&m),
            &secret,
            MSK.as_bytes(),
            clock.now(),
        )
        .unwrap();
    let rules = Rules::new(RegistrationConfig::from_bytes(CONFIG).unwrap(), &m).unwrap();
    let service = RegistrationService::new(
        registry,
        rules,
        secret,
        Arc::new(Outbox::new(dir.join("outbox.jsonl"))),
        &m,
        AdminToken::new(TOKEN),
        Arc::new(clock.clone()),
    );
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock));
    urna_server::app(
        AppState::builder(store, config)
            .with_registration(service)
            .build(),
    )
}

/// POSTs `body` from client address 10.0.x.y; the status and the exact body bytes.
async fn post(app: &Router, uri: &str, body: Value, client: u16) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let [a, b] = client.to_be_bytes();
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [10, 0, a, b],
            4000,
        ))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

fn code_of(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["error"]["code"].as_str().unwrap_or("").to_string()
}

fn who(document: &str, birth: &str) -> Value {
    json!({ "document_number": document, "birth_date": birth })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_mismatched_identities_answer_alike() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let m1 = json!({ "full_name": "Иванов Иван Иванович", "birth_date": "1980-01-02",
                     "document_number": "4508123456", "phone": "+7 916 123 45 67" });
    let (st, _) = post(&app, "/registration/applications", m1, 1).await;
    assert_eq!(st, StatusCode::OK);

    let unknown = post(
        &app,
        "/registration/codes",
        who("9999999999", "1980-01-02"),
        2,
    )
    .await;
    let mismatched = post(
        &app,
        "/registration/codes",
        who("4508123456", "1980-01-03"),
        3,
    )
    .await;
    let unapproved = post(
        &app,
        "/registration/codes",
        who("4509654321", "1975-05-06"),
        4,
    )
    .await;
    assert_eq!(unknown.0, StatusCode::FORBIDDEN);
    assert_eq!(code_of(&unknown.1), "not_approved");
    assert_eq!(
        unknown, mismatched,
        "an unknown document and a wrong birth date differ"
    );
    assert_eq!(unknown, unapproved);
    let text = String::from_utf8(unknown.1.clone()).unwrap();
    assert!(!text.contains("sent_to") && !text.contains("916"), "{text}");

    let login = |doc: &str, birth: &str| json!({ "document_number": doc, "birth_date": birth, "code": "123456" });
    let l_unknown = post(
        &app,
        "/registration/sessions",
        login("9999999999", "1980-01-02"),
        5,
    )
    .await;
    let l_mismatched = post(
        &app,
        "/registration/sessions",
        login("4508123456", "1980-01-04"),
        6,
    )
    .await;
    assert_eq!(l_unknown, l_mismatched);
    assert_eq!(l_unknown, unknown);

    // The right identity gets the code and the phone hint.
    let (st, body) = post(
        &app,
        "/registration/codes",
        who("4508123456", "1980-01-02"),
        7,
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["sent_to"], "+7916*****67");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_birth_dates_for_a_known_document_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let m1 = json!({ "full_name": "Иванов Иван Иванович", "birth_date": "1980-01-02",
                     "document_number": "4508123456", "phone": "+7 916 123 45 67" });
    let (st, _) = post(&app, "/registration/applications", m1, 1).await;
    assert_eq!(st, StatusCode::OK);

    // 20 guesses, each from its own address: the default limit of 10
    // checks per document and hour refuses the 11th on.
    let mut answers = Vec::new();
    for i in 0..20u16 {
        let birth = format!("1981-03-{:02}", i + 1);
        let (st, body) = post(
            &app,
            "/registration/codes",
            who("45 08 123456", &birth),
            100 + i,
        )
        .await;
        answers.push((st, code_of(&body)));
    }
    let refused = (StatusCode::FORBIDDEN, "not_approved".to_string());
    let limited = (
        StatusCode::TOO_MANY_REQUESTS,
        "otp_rate_limited".to_string(),
    );
    assert_eq!(answers[..10], vec![refused; 10][..]);
    assert_eq!(answers[10..], vec![limited.clone(); 10][..]);
    // Refused before the registry is read: the right birth date too, and a
    // document that is not in the registry gets the same bytes once over.
    let right = post(
        &app,
        "/registration/codes",
        who("4508123456", "1980-01-02"),
        500,
    )
    .await;
    assert_eq!((right.0, code_of(&right.1)), limited);
    for i in 0..10u16 {
        post(
            &app,
            "/registration/codes",
            who("1111000000", "1980-01-02"),
            600 + i,
        )
        .await;
    }
    let absent = post(
        &app,
        "/registration/codes",
        who("1111000000", "1980-01-02"),
        700,
    )
    .await;
    assert_eq!(absent, right);
    let text = String::from_utf8(right.1).unwrap();
    assert!(!text.contains("916"), "{text}");
}
