//! `GET /metrics` moves with the ballots (spec/api.md §A10.1), and the
//! logs of a whole voter's path — application, one-time code, login,
//! credential, ballot, receipt — hold none of the voter's identifiers,
//! credential, session, ballot or tracking code (§A10.2).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::StatusCode;
use serde_json::{Value, json};
use urna_board::BoardSigningKey;
use urna_crypto::credential::CredentialKey;
use urna_election::Manifest;
use urna_registry::notify::Outbox;
use urna_registry::screening::Rules;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry};
use urna_server::election::{AdminToken, Clock, TestClock};
use urna_server::registration::RegistrationService;
use urna_server::{AppState, ElectionConfig, app};
use urna_store::BoardStore;

use crate::ops_support::{self as ops, TOKEN};

const CONFIG: &[u8] = b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n";
const NAME: &str = "Сидорова Мария Павловна";
const BIRTH: &str = "1983-11-27";
const DOCUMENT: &str = "4511 987654";
const PHONE: &str = "+79165550199";
const CSV: &str = "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
ops1,Сидорова Мария Павловна,1983-11-27,4511 987654,+79165550199,maria.sidorova@example.org,uik-0001,2015-03-04
";

/// Every log line of this test binary, as JSON lines (the global
/// subscriber: the server's tasks run on any thread).
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_and_logs_hold_no_voter_data() {
    let logs = captured();
    let dir = tempfile::tempdir().unwrap();
    let key = BoardSigningKey::from_secret_bytes("urna.example/ops", &[8; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let text = ops::manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let clock = TestClock::new(m.schedule().applications_open.plus_seconds(3600));
    let registry = Registry::open_sqlite(&dir.path().join("registry.db")).unwrap();
    let secret = CommissionSecret::from_bytes([6; 32]);
    registry
        .import_csv(
            "ops.csv",
            "msk",
            &Geography::of(&m),
            &secret,
            CSV.as_bytes(),
            clock.now(),
        )
        .unwrap();
    let rules = Rules::new(RegistrationConfig::from_bytes(CONFIG).unwrap(), &m).unwrap();
    let outbox_path = dir.path().join("outbox.jsonl");
    let service = RegistrationService::new(
        registry,
        rules,
        secret,
        Arc::new(Outbox::new(&outbox_path)),
        &m,
        AdminToken::new(TOKEN),
        Arc::new(clock.clone()),
    );
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let app = app(AppState::builder(store.clone(), config)
        .with_registration(service)
        .build());
    let before = ops::metrics(&app).await;

    // A ballot before the manifest: refused, counted by its code.
    let (st, v) = ops::cast(&app, &[0u8; 40]).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let code = v["error"]["code"].as_str().unwrap().to_owned();

    ops::up_to_registration(&app, &m, &text).await;
    // The voter applies, logs in with a one-time code, registers a credential.
    let apply = json!({ "full_name": NAME, "birth_date": BIRTH, "document_number": DOCUMENT, "phone": PHONE });
    let v = ops::ok(
        &app,
        "POST",
        "/registration/applications",
        None,
        Some(apply),
    )
    .await;
    assert_eq!(v["decision"], "approved", "{v}");
    let who = json!({ "document_number": DOCUMENT, "birth_date": BIRTH });
    ops::ok(&app, "POST", "/registration/codes", None, Some(who.clone())).await;
    let msgs = Outbox::new(&outbox_path).read_all().unwrap();
    let otp = msgs[0]["text"]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let mut login = who;
    login["code"] = json!(otp);
    let v = ops::ok(&app, "POST", "/registration/sessions", None, Some(login)).await;
    let session = v["token"].as_str().unwrap().to_owned();
    let cred = CredentialKey::generate(&mut rand::rng());
    let body = json!({ "district": "msk-cao", "precinct": "uik-0001", "credential": cred.public().to_hex() });
    ops::ok(
        &app,
        "POST",
        "/election/credentials",
        Some(&session),
        Some(body),
    )
    .await;
    let style = ops::open_with(&app, &m, &clock, &[]).await;
    let ballot = ops::ballot(&style, &cred);
    let (st, receipt) = ops::cast(&app, &ballot).await;
    assert_eq!(st, StatusCode::OK, "{receipt}");
    let tracking = receipt["tracking"].as_str().unwrap_or_default().to_owned();
    assert!(!tracking.is_empty(), "{receipt}");
    ops::ok(&app, "GET", &format!("/receipt/{tracking}"), None, None).await;

    // Metrics moved.
    let after = ops::metrics(&app).await;
    let delta = |name: &str| ops::sample(&after, name) - ops::sample(&before, name);
    assert!(delta("urna_ballots_accepted_total") >= 1.0, "{after}");
    assert!(
        delta(&format!("urna_ballots_refused_total{{code=\"{code}\"}}")) >= 1.0,
        "{after}"
    );
    assert!(delta("urna_ballot_batch_size_count") >= 1.0, "{after}");
    assert!(delta("urna_board_append_seconds_count") >= 1.0, "{after}");
    assert!(ops::sample(&after, "urna_board_size") >= store.size() as f64 - 1.0);
    assert_eq!(ops::sample(&after, "urna_turnout_ballots"), 1.0, "{after}");
    assert!(
        after.contains("# TYPE urna_sequencer_changes_total counter"),
        "{after}"
    );
    assert!(
        after.contains("# TYPE urna_board_writer_restarts_total counter"),
        "{after}"
    );

    // The logs: request lines exist (the capture works) ...
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["route"] == "/election/ballots" && l["status"] == 200),
        "no request line for the ballot"
    );
    assert!(lines.iter().any(|l| l["route"] == "/registration/sessions"));
    // ... and none holds what identifies the voter or their ballot.
    let document: String = DOCUMENT.chars().filter(char::is_ascii_digit).collect();
    let forbidden = [
        NAME.to_owned(),
        "Сидорова".to_owned(),
        DOCUMENT.to_owned(),
        document.clone(),
        document[4..].to_owned(),
        PHONE.to_owned(),
        PHONE[2..].to_owned(),
        "maria.sidorova".to_owned(),
        BIRTH.to_owned(),
        otp.clone(),
        session.clone(),
        cred.public().to_hex(),
        cred.public().to_hex()[..16].to_owned(),
        hex::encode(&ballot[..48]),
        tracking.clone(),
        tracking[..16].to_owned(),
    ];
    for line in text.lines() {
        for f in &forbidden {
            assert!(!line.contains(f.as_str()), "a log line holds {f:?}: {line}");
        }
    }
}
