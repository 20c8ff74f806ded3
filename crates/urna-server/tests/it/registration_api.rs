//! Voter registration through the HTTP API, in-process: applications with
//! screening, one-time-code login through the outbox notifier, the
//! `Registrar` seam binding a credential to the logged-in voter's
//! precinct, withdrawal, the report and complaints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;
use tower::ServiceExt;
use urna_board::BoardSigningKey;
use urna_election::Manifest;
use urna_election::record::commission::{
    AnswerEntry, AnswerStatus, ComplaintEntry, PrecinctListEntry, PrecinctListKind, Role,
};
use urna_registry::lists::ListKind;
use urna_registry::notify::Outbox;
use urna_registry::screening::Rules;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry};
use urna_server::election::{AdminToken, TestClock};
use urna_server::registration::RegistrationService;
use urna_server::{AppState, ElectionConfig, app};
use urna_store::BoardStore;

const TOKEN: &str = "s3cret-admin-token";
const EXAMPLE: &[u8] = include_bytes!("../../../../examples/moscow-2020-constitution.toml");
const CONFIG: &[u8] = b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n";
const MSK: &str =
    "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
m1,Иванов Иван Иванович,1980-01-02,4508 123456,+79161234567,,uik-0001,2015-03-04
m2,Петрова Анна Сергеевна,1975-05-06,4509 654321,+79161112233,,uik-0002,2018-07-08
";
/// RFC 9496 A.1: the encoding of B, a valid credential.
const CRED: &str = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";

struct Api {
    app: Router,
    store: BoardStore,
    service: RegistrationService,
    outbox: Outbox,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new() -> Api {
        Api::with(None, CONFIG)
    }

    /// With another notifier than the outbox, and another config.
    fn with(notifier: Option<Arc<dyn urna_registry::notify::Notifier>>, config: &[u8]) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let key = BoardSigningKey::from_secret_bytes("urna.example/reg", &[7; 32]).unwrap();
        let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
        let m = Manifest::from_bytes(EXAMPLE).unwrap();
        let clock = TestClock::new(m.schedule().applications_open.plus_seconds(3600));
        let registry = Registry::open_sqlite(&dir.path().join("registry.db")).unwrap();
        let secret = CommissionSecret::from_bytes([5; 32]);
        registry
            .import_csv(
                "msk.csv",
                "msk",
                &Geography::of(&m),
                &secret,
                MSK.as_bytes(),
                clock_now(&clock),
            )
            .unwrap();
        let rules = Rules::new(RegistrationConfig::from_bytes(config).unwrap(), &m).unwrap();
        let outbox_path = dir.path().join("outbox.jsonl");
        let service = RegistrationService::new(
            registry,
            rules,
            secret,
            notifier.unwrap_or_else(|| Arc::new(Outbox::new(&outbox_path))),
            &m,
            AdminToken::new(TOKEN),
            Arc::new(clock.clone()),
        );
        let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock));
        let app = app(AppState::builder(store.clone(), config)
            .with_registration(service.clone())
            .build());
        Api {
            app,
            store,
            service,
            outbox: Outbox::new(outbox_path),
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, v)
    }
}

impl Api {
    /// A request with a raw text body.
    async fn raw(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
        }
        let req = req
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

impl Api {
    /// Publishes the example manifest (the board's first entry).
    async fn publish_manifest(&self) {
        let (st, v) = self
            .raw(
                "POST",
                "/election/manifest",
                Some(TOKEN),
                std::str::from_utf8(EXAMPLE).unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }

    /// The board entry at `index`.
    fn service_entry(&self, index: u64) -> urna_board::Entry {
        self.store.entry(index).unwrap().entry
    }
}

fn clock_now(c: &TestClock) -> urna_election::Timestamp {
    use urna_server::election::Clock;
    c.now()
}

fn code_of(err: &Value) -> &str {
    err["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn apply_login_register_withdraw() {
    let api = Api::new();
    let m1 = json!({ "full_name": "Иванов Иван Иванович", "birth_date": "1980-01-02",
                     "document_number": "4508123456", "phone": "+7 916 123 45 67" });
    let (st, v) = api
        .call("POST", "/registration/applications", None, Some(m1.clone()))
        .await;
    assert_eq!(
        (st, v["decision"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );
    let (_, v) = api
        .call("POST", "/registration/applications", None, Some(m1))
        .await;
    assert_eq!(v["decision"], "duplicate_application");
    let unknown = json!({ "full_name": "Нет Такого", "birth_date": "1980-01-02",
                          "document_number": "1111111111", "phone": "+79160000000" });
    let (_, v) = api
        .call("POST", "/registration/applications", None, Some(unknown))
        .await;
    assert_eq!(v["decision"], "not_in_registry");
    assert!(v["message"].as_str().unwrap().contains("registry"));
    let bad = json!({ "full_name": "X", "birth_date": "1980-13-02", "document_number": "1", "phone": "+79160000000" });
    let (st, v) = api
        .call("POST", "/registration/applications", None, Some(bad))
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_application")
    );
    let (st, v) = api
        .call(
            "POST",
            "/registration/applications",
            None,
            Some(json!({ "x": 1 })),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
    );

    // Login with a one-time code from the outbox.
    let who = json!({ "document_number": "45 08 123456", "birth_date": "1980-01-02" });
    let (st, v) = api
        .call("POST", "/registration/codes", None, Some(who.clone()))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["sent_to"], "+7916*****67");
    let msgs = api.outbox.read_all().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["to"], "+79161234567");
    let code = msgs[0]["text"]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let (st, v) = api
        .call(
            "POST",
            "/registration/codes",
            None,
            Some(json!({ "document_number": "4509654321", "birth_date": "1975-05-06" })),
        )
        .await;
    assert_eq!((st, code_of(&v)), (StatusCode::FORBIDDEN, "not_approved"));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let mut login = who.clone();
    login["code"] = json!(wrong);
    let (st, v) = api
        .call("POST", "/registration/sessions", None, Some(login.clone()))
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "otp_wrong_code")
    );
    login["code"] = json!(code);
    let (st, v) = api
        .call("POST", "/registration/sessions", None, Some(login))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_string();

    let (st, v) = api
        .call("GET", "/registration/me", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["district"].as_str(), v["precinct"].as_str()),
        (Some("msk-cao"), Some("uik-0001"))
    );
    let (st, v) = api.call("GET", "/registration/me", None, None).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "session_invalid")
    );

    // The Registrar seam: the credential is bound to the voter's precinct.
    let cred = |d: &str, p: &str| json!({ "district": d, "precinct": p, "credential": CRED });
    let (st, v) = api
        .call(
            "POST",
            "/election/credentials",
            None,
            Some(cred("msk-cao", "uik-0001")),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "session_invalid")
    );
    let (st, v) = api
        .call(
            "POST",
            "/election/credentials",
            Some(&token),
            Some(cred("msk-sao", "uik-0301")),
        )
        .await;
    assert_eq!((st, code_of(&v)), (StatusCode::FORBIDDEN, "wrong_precinct"));
    assert!(
        api.service
            .registry()
            .list_rows(ListKind::ApprovedOnline)
            .unwrap()
            .is_empty()
    );
    // Accepted by the registrar; the engine (no key ceremony here) is not
    // taking credentials yet, and a retry with the same credential is fine.
    for _ in 0..2 {
        let (st, v) = api
            .call(
                "POST",
                "/election/credentials",
                Some(&token),
                Some(cred("msk-cao", "uik-0001")),
            )
            .await;
        assert_eq!(
            (st, code_of(&v)),
            (StatusCode::CONFLICT, "wrong_phase"),
            "{v}"
        );
    }
    let listed = api
        .service
        .registry()
        .list_rows(ListKind::ApprovedOnline)
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].voter_id, "m1");

    // Withdrawal, then the session no longer has an application.
    let (st, _) = api
        .call("POST", "/registration/withdrawal", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = api
        .call("POST", "/registration/withdrawal", Some(&token), None)
        .await;
    assert_eq!((st, code_of(&v)), (StatusCode::CONFLICT, "no_application"));
    let (st, v) = api
        .call("GET", "/registration/me", Some(&token), None)
        .await;
    assert_eq!((st, code_of(&v)), (StatusCode::FORBIDDEN, "not_approved"));
    let (st, _) = api
        .call("DELETE", "/registration/sessions", Some(&token), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v) = api
        .call("POST", "/registration/withdrawal", Some(&token), None)
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "session_invalid")
    );

    // The report (admin only).
    let (st, v) = api.call("GET", "/registration/report", None, None).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (st, v) = api
        .call("GET", "/registration/report", Some(TOKEN), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let count = |outcome: &str| -> u64 {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["outcome"] == outcome)
            .map(|r| r["count"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        (
            count("approved"),
            count("duplicate_application"),
            count("not_in_registry"),
            count("withdrawn")
        ),
        (1, 1, 1, 1)
    );
}

#[tokio::test]
async fn complaints_are_public_and_answered_once() {
    let api = Api::new();
    // Nothing to put a complaint on before the manifest.
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints",
            None,
            Some(json!({ "author": "voter", "text": "early" })),
        )
        .await;
    assert_eq!((st, code_of(&v)), (StatusCode::CONFLICT, "no_manifest"));
    api.publish_manifest().await;
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints",
            None,
            Some(json!({ "author": "observer", "text": "List for uik-0001 was late." })),
        )
        .await;
    assert_eq!(
        (st, v["id"].as_u64()),
        (StatusCode::CREATED, Some(1)),
        "{v}"
    );
    let filed_at = v["board_index"].as_u64().unwrap();
    let entry = api.service_entry(filed_at);
    assert_eq!(entry.kind(), urna_board::EntryKind::Complaint);
    let c = ComplaintEntry::decode(entry.payload()).unwrap();
    assert_eq!(
        (c.number, c.role, c.tracking, c.text.as_str()),
        (1, Role::Observer, None, "List for uik-0001 was late.")
    );
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints",
            None,
            Some(json!({ "author": "voter", "text": "x", "tracking": "ABC" })),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_tracking_code")
    );
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints",
            None,
            Some(json!({ "author": "press", "text": "x" })),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_complaint")
    );
    let size = api.store.size();
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints",
            None,
            Some(json!({ "author": "voter", "text": "x\u{7}" })),
        )
        .await;
    assert_eq!(
        (st, code_of(&v), api.store.size()),
        (StatusCode::BAD_REQUEST, "invalid_complaint", size),
        "a refused complaint changes nothing"
    );
    let bad_status = json!({ "status": "maybe", "answer": "?" });
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints/1/answer",
            Some(TOKEN),
            Some(bad_status),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_answer")
    );
    let answer = json!({ "status": "rejected", "answer": "It was delivered at 21:05 in front of observers." });
    let (st, _) = api
        .call(
            "POST",
            "/registration/complaints/1/answer",
            None,
            Some(answer.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = api
        .call(
            "POST",
            "/registration/complaints/1/answer",
            Some(TOKEN),
            Some(answer.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints/1/answer",
            Some(TOKEN),
            Some(answer.clone()),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::CONFLICT, "already_answered")
    );
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints/7/answer",
            Some(TOKEN),
            Some(answer),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::NOT_FOUND, "unknown_complaint")
    );
    let (_, v) = api
        .call("GET", "/registration/complaints", None, None)
        .await;
    assert_eq!(v["complaints"][0]["status"], "rejected");
    assert_eq!(v["complaints"][0]["author"], "observer");
    assert_eq!(v["complaints"][0]["board_index"], filed_at);
    let answered_at = v["complaints"][0]["answer_index"].as_u64().unwrap();
    assert!(answered_at > filed_at);
    let a = AnswerEntry::decode(api.service_entry(answered_at).payload()).unwrap();
    assert_eq!((a.number, a.status), (1, AnswerStatus::Rejected));
    assert_eq!(v["complaints"].as_array().unwrap().len(), 1);
    // A voter's complaint with a tracking code: the code, the role and
    // the text are all that reach the board.
    let t = "ab".repeat(32);
    let (st, v) = api
        .call(
            "POST",
            "/registration/complaints",
            None,
            Some(json!({ "author": "voter", "text": "My receipt is missing.", "tracking": t })),
        )
        .await;
    assert_eq!((st, v["id"].as_u64()), (StatusCode::CREATED, Some(2)));
    let e = api.service_entry(v["board_index"].as_u64().unwrap());
    let c = ComplaintEntry::decode(e.payload()).unwrap();
    assert_eq!((c.role, c.tracking), (Role::Voter, Some([0xab; 32])));

    // A restart replays the board: the complaints and the answer stand
    // beside the election's entries.
    let store = api.store.clone();
    let journal = api._dir.path().join("server.journal");
    let (_, report) = tokio::task::spawn_blocking(move || {
        AppState::resume(store, ElectionConfig::new(AdminToken::new(TOKEN)), &journal)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!((report.phase, report.other), ("key_ceremony", 3));
}

/// The replay refuses a complaint before the manifest (spec/record.md
/// §R13) and a malformed one, naming the entry.
#[tokio::test]
async fn resume_refuses_misplaced_or_malformed_complaints() {
    let dir = tempfile::tempdir().unwrap();
    let key = BoardSigningKey::from_secret_bytes("urna.example/reg", &[7; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let c = ComplaintEntry {
        number: 1,
        role: Role::Voter,
        tracking: None,
        text: "early".into(),
    };
    let entry = |p: &[u8]| urna_board::Entry::new(urna_board::EntryKind::Complaint, p).unwrap();
    store.append(entry(&c.encode().unwrap())).unwrap();
    let resume = |store: BoardStore, journal: std::path::PathBuf| {
        tokio::task::spawn_blocking(move || {
            AppState::resume(store, ElectionConfig::new(AdminToken::new(TOKEN)), &journal)
                .map(|_| ())
        })
    };
    let err = resume(store.clone(), dir.path().join("j1"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.index, Some(0), "{err}");
    assert!(err.to_string().contains("complaint"), "{err}");

    let store2 = BoardStore::open_sqlite(
        dir.path().join("board2.db"),
        BoardSigningKey::from_secret_bytes("urna.example/reg", &[7; 32]).unwrap(),
    )
    .unwrap();
    for p in urna_election::record::ManifestChunk::payloads(EXAMPLE).unwrap() {
        store2
            .append(urna_board::Entry::new(urna_board::EntryKind::ElectionManifest, &p).unwrap())
            .unwrap();
    }
    let mut bad = c.encode().unwrap();
    bad.push(0);
    store2.append(entry(&bad)).unwrap();
    let err = resume(store2, dir.path().join("j2"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("trailing"), "{err}");
}

const NNOV_HEAD: &str =
    "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created\n";

#[tokio::test]
async fn admin_import_paper_lists_reconciliation() {
    let api = Api::new();
    // Admin only.
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/registry?region=nnov",
            None,
            NNOV_HEAD,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/registry",
            Some(TOKEN),
            NNOV_HEAD,
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    // A bad line refuses the whole file, naming file and line.
    let bad = format!(
        "{NNOV_HEAD}n1,Смирнов Пётр,1990-02-03,2201 111111,+79031112233,,uik-nn-2001,2016-01-01\nn2,Кузнецова Ольга,1991-02-30,2201 222222,+79031112244,,uik-nn-2002,2016-01-01\n"
    );
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/registry?region=nnov&file=nnov.csv",
            Some(TOKEN),
            &bad,
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nnov.csv:3:"),
        "{v}"
    );
    assert_eq!(api.service.registry().voter_count().unwrap(), 2);
    let good = bad.replace("1991-02-30", "1991-02-28");
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/registry?region=nnov&file=nnov.csv",
            Some(TOKEN),
            &good,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["rows"].as_u64(), v["region"].as_str()),
        (Some(2), Some("nnov"))
    );
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(api.service.registry().voter_count().unwrap(), 4);
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/registry?region=nnov",
            Some(TOKEN),
            &good,
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::CONFLICT, "region_already_imported")
    );

    // Paper votes: all or nothing, per precinct.
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/paper?precinct=uik-nn-2001",
            Some(TOKEN),
            "voter_id\nn1\nn2\n",
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains(":3:"),
        "{v}"
    );
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/paper?precinct=nowhere",
            Some(TOKEN),
            "voter_id\nn1\n",
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "unknown_precinct"),
        "{v}"
    );
    let (st, v) = api
        .raw(
            "POST",
            "/registration/admin/paper?precinct=uik-nn-2001",
            Some(TOKEN),
            "voter_id\nn1\n",
        )
        .await;
    assert_eq!(
        (st, v["recorded"].as_u64()),
        (StatusCode::CREATED, Some(1)),
        "{v}"
    );

    // Precinct lists need the commission key.
    api.publish_manifest().await;
    let (st, v) = api
        .call(
            "POST",
            "/registration/admin/lists?kind=approved-online",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "no_commission_key")
    );
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    api.service.set_list_key(key.clone());
    let (st, v) = api
        .call(
            "POST",
            "/registration/admin/lists?kind=bogus",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let size = api.store.size();
    let (st, v) = api
        .call(
            "POST",
            "/registration/admin/lists?kind=approved-online",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // One admin_action per precinct, before the answer (§R15).
    let n = Manifest::from_bytes(EXAMPLE).unwrap().precincts().len() as u64;
    assert_eq!(api.store.size(), size + n);
    assert_eq!(v["newly_published"], true);
    let first = v["board_entries"].as_array().unwrap()[0].as_u64().unwrap();
    let e = PrecinctListEntry::decode(api.service_entry(first).payload()).unwrap();
    assert_eq!(e.kind, PrecinctListKind::ApprovedOnline);
    assert_eq!(hex::encode(e.sums_sha256), v["hash"].as_str().unwrap());
    assert_eq!(hex::encode(e.signature), v["signature"].as_str().unwrap());
    assert_eq!(e.rows, v["counts"][0]["voters"].as_u64().unwrap());
    let csv = base64::engine::general_purpose::STANDARD
        .decode(v["files"][0]["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(e.csv_sha256, <[u8; 32]>::from(sha2::Sha256::digest(&csv)));
    // Exporting the same lists again appends nothing.
    let (st, again) = api
        .call(
            "POST",
            "/registration/admin/lists?kind=approved-online",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (
            &again["board_entries"],
            &again["newly_published"],
            api.store.size()
        ),
        (&v["board_entries"], &json!(false), size + n)
    );
    // The voted-online lists wait for the close.
    let (st, e) = api
        .call(
            "POST",
            "/registration/admin/lists?kind=voted-online",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (st, code_of(&e)),
        (StatusCode::CONFLICT, "voting_not_closed")
    );
    assert_eq!(api.store.size(), size + n);
    // Before the close there is nothing to reconcile.
    let (st, e) = api
        .call(
            "POST",
            "/registration/admin/reconciliation/apply",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!((st, code_of(&e)), (StatusCode::CONFLICT, "wrong_phase"));
    assert_eq!(v["kind"], "approved-online");
    assert_eq!(
        v["commission_key"],
        hex::encode(key.verifying_key().as_bytes())
    );
    let m = Manifest::from_bytes(EXAMPLE).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), m.precincts().len());
    let precincts: Vec<String> = m.precincts().iter().map(|p| p.id.clone()).collect();
    let set = urna_registry::lists::ListSet::build(
        m.id(),
        ListKind::ApprovedOnline,
        &precincts,
        api.service
            .registry()
            .list_rows(ListKind::ApprovedOnline)
            .unwrap(),
        &key,
    )
    .unwrap();
    assert_eq!(v["hash"], hex::encode(set.hash()));
    assert_eq!(v["signature"], hex::encode(set.signature));

    let (st, v) = api
        .call(
            "GET",
            "/registration/admin/reconciliation",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["policy"], "evote-stands");
    assert_eq!(v["double_votes"], json!([]));
}

/// Amendments over HTTP (spec/registration.md §G3, §G9): a broken
/// signature, chain or order is refused precisely and changes nothing;
/// the list of versions; decisions record the version in force; a
/// different precinct list is published only after an amendment.
#[tokio::test]
async fn amendments_over_http_and_lists_after_an_amendment() {
    use urna_registry::amendment::{Amendment, Change};
    let api = Api::new();
    api.publish_manifest().await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let upload = |file: Vec<u8>| {
        let api = &api;
        async move {
            let req = Request::builder()
                .method("POST")
                .uri("/registration/admin/amendments")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(file))
                .unwrap();
            let resp = api.app.clone().oneshot(req).await.unwrap();
            let st = resp.status();
            let b = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (st, serde_json::from_slice::<Value>(&b).unwrap())
        }
    };
    let (_, base) = api.service.registry().head().unwrap();
    let amendment = |version: u64, previous: [u8; 32]| Amendment {
        version,
        previous,
        time: urna_election::Timestamp::from_unix(1_590_000_000),
        changes: vec![Change::Remove {
            voter_id: "m2".into(),
            reason: "moved to another region".into(),
        }],
    };
    let good = amendment(1, base).sign(&key).unwrap();
    // Without the commission key nothing can be checked.
    let (st, v) = upload(good.to_file()).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "no_commission_key")
    );
    api.service.set_list_key(key.clone());

    // The approved-online lists, before anyone registered a device.
    let lists = || {
        api.call(
            "POST",
            "/registration/admin/lists?kind=approved-online",
            Some(TOKEN),
            None,
        )
    };
    let (st, first) = lists().await;
    assert_eq!(st, StatusCode::OK, "{first}");
    // m1 is approved and registers a credential: the list differs, and
    // with no amendment since, it is refused.
    let m1 = json!({ "full_name": "Иванов Иван Иванович", "birth_date": "1980-01-02",
                     "document_number": "4508123456", "phone": "+7 916 123 45 67" });
    let (_, v) = api
        .call("POST", "/registration/applications", None, Some(m1))
        .await;
    assert_eq!(
        (v["decision"].as_str(), v["registry_version"].as_u64()),
        (Some("approved"), Some(0))
    );
    let cred: [u8; 32] = hex::decode(CRED).unwrap().try_into().unwrap();
    api.service
        .registry()
        .register_credential("m1", &cred)
        .unwrap();
    let size = api.store.size();
    let (st, v) = lists().await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::CONFLICT, "list_already_published"),
        "{v}"
    );
    assert_eq!(api.store.size(), size);

    // Refusals, each changing nothing.
    let mut broken = good.to_file();
    let n = broken.len();
    broken[n - 1] ^= 1;
    let wrong_chain = amendment(1, [0; 32]).sign(&key).unwrap();
    let out_of_order = amendment(2, base).sign(&key).unwrap();
    let other_key = amendment(1, base)
        .sign(&ed25519_dalek::SigningKey::from_bytes(&[4; 32]))
        .unwrap();
    for (file, status, code) in [
        (broken, StatusCode::BAD_REQUEST, "invalid_signature"),
        (
            other_key.to_file(),
            StatusCode::BAD_REQUEST,
            "invalid_signature",
        ),
        (
            wrong_chain.to_file(),
            StatusCode::CONFLICT,
            "amendment_chain_broken",
        ),
        (
            out_of_order.to_file(),
            StatusCode::CONFLICT,
            "amendment_out_of_order",
        ),
        (vec![1, 2, 3], StatusCode::BAD_REQUEST, "invalid_amendment"),
    ] {
        let (st, v) = upload(file).await;
        assert_eq!((st, code_of(&v)), (status, code), "{v}");
        assert_eq!(api.service.registry().head().unwrap(), (0, base));
    }
    let (st, v) = api
        .call("GET", "/registration/amendments", None, None)
        .await;
    assert_eq!(
        (st, v["amendments"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );

    let (st, v) = upload(good.to_file()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["version"].as_u64(), v["hash"].as_str()),
        (Some(1), Some(hex::encode(good.hash()).as_str()))
    );
    let (_, v) = api
        .call("GET", "/registration/amendments", None, None)
        .await;
    assert_eq!(
        v["amendments"],
        json!([{ "version": 1, "hash": hex::encode(good.hash()), "previous": hex::encode(base),
                 "time": 1_590_000_000, "adds": 0, "removals": 1 }])
    );
    assert_eq!(v["current_version"], 1);

    // Decisions record the version in force; the report is reachable.
    let m2 = json!({ "full_name": "Петрова Анна Сергеевна", "birth_date": "1975-05-06",
                     "document_number": "4509654321", "phone": "+79161112233" });
    let (_, v) = api
        .call("POST", "/registration/applications", None, Some(m2))
        .await;
    assert_eq!(
        (v["decision"].as_str(), v["registry_version"].as_u64()),
        (Some("not_in_registry"), Some(1))
    );
    let (st, v) = api
        .call("GET", "/registration/report", Some(TOKEN), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let outcomes: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"approved") && outcomes.contains(&"not_in_registry"),
        "{v}"
    );

    // After the amendment the different list is published, superseding.
    let (st, v) = lists().await;
    assert_eq!(
        (st, &v["newly_published"]),
        (StatusCode::OK, &json!(true)),
        "{v}"
    );
    assert_ne!(v["hash"], first["hash"]);
    assert!(api.store.size() > size);
}

/// A local e-mail gateway: answers 200 to each POST and hands over the
/// JSON bodies.
fn mail_gateway() -> (String, std::sync::mpsc::Receiver<Value>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mail", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let mut s = s.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
                let t = String::from_utf8_lossy(&got).to_string();
                if let Some(i) = t.find("\r\n\r\n") {
                    let len: usize = t
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    if got.len() >= i + 4 + len {
                        let body: Value = serde_json::from_slice(&got[i + 4..i + 4 + len]).unwrap();
                        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                            .unwrap();
                        if tx.send(body).is_err() {
                            return;
                        }
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
        }
    });
    (url, rx)
}

/// One-time codes by e-mail (spec/registration.md §G6): the voter picks
/// the channel when the application has an address; the e-mail webhook
/// gets its own payload; the limit per delivery address counts each
/// channel's address.
#[tokio::test]
async fn codes_by_email_through_a_webhook() {
    use axum::extract::ConnectInfo;
    use urna_registry::notify::{Channels, Webhook};
    let (url, mails) = mail_gateway();
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path().join("sms.jsonl"));
    let notifier = Channels {
        sms: Arc::new(Outbox::new(dir.path().join("sms.jsonl"))),
        email: Some(Arc::new(
            Webhook::email(&url, None, Some("Login code")).unwrap(),
        )),
    };
    let config = [CONFIG, b"[otp]\nper_address_per_hour = 2\n"].concat();
    let api = Api::with(Some(Arc::new(notifier)), &config);
    let m1 = json!({ "full_name": "Иванов Иван Иванович", "birth_date": "1980-01-02",
                     "document_number": "4508123456", "phone": "+7 916 123 45 67",
                     "email": "ivan@example.org" });
    let (_, v) = api
        .call("POST", "/registration/applications", None, Some(m1))
        .await;
    assert_eq!(v["decision"], "approved", "{v}");
    let m2 = json!({ "full_name": "Петрова Анна Сергеевна", "birth_date": "1975-05-06",
                     "document_number": "4509654321", "phone": "+79161112233" });
    let (_, v) = api
        .call("POST", "/registration/applications", None, Some(m2))
        .await;
    assert_eq!(v["decision"], "approved", "{v}");
    let code_req = |body: Value, ip: u8| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/registration/codes")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((
                [10, 0, 0, ip],
                4000,
            ))));
        let app = api.app.clone();
        async move {
            let resp = app.oneshot(req).await.unwrap();
            let st = resp.status();
            let b = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            (st, serde_json::from_slice::<Value>(&b).unwrap())
        }
    };
    let who = |channel: &str| json!({ "document_number": "4508123456", "birth_date": "1980-01-02", "channel": channel });

    let (st, v) = code_req(who("email"), 1).await;
    assert_eq!(
        (st, v["sent_to"].as_str(), v["channel"].as_str()),
        (
            StatusCode::ACCEPTED,
            Some("i***@example.org"),
            Some("email")
        ),
        "{v}"
    );
    let mail = mails
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        (mail["to"].as_str(), mail["subject"].as_str()),
        (Some("ivan@example.org"), Some("Login code"))
    );
    let code: String = mail["text"]
        .as_str()
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6);
    assert!(outbox.read_all().unwrap().is_empty(), "no SMS was sent");
    let (st, v) = api
        .call(
            "POST",
            "/registration/sessions",
            None,
            Some(json!({ "document_number": "4508123456", "birth_date": "1980-01-02", "code": code })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");

    // Two codes per address and hour: the third e-mail is refused, an
    // SMS to the phone (another address) still goes.
    let (st, _) = code_req(who("email"), 2).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    mails
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    let (st, v) = code_req(who("email"), 3).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "otp_rate_limited"),
        "{v}"
    );
    let (st, v) = code_req(who("sms"), 4).await;
    assert_eq!(
        (st, v["sent_to"].as_str()),
        (StatusCode::ACCEPTED, Some("+7916*****67")),
        "{v}"
    );
    assert_eq!(outbox.read_all().unwrap().len(), 1);

    // No address on the application, or an unknown channel.
    let m2who =
        json!({ "document_number": "4509654321", "birth_date": "1975-05-06", "channel": "email" });
    let (st, v) = code_req(m2who, 5).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "no_email"),
        "{v}"
    );
    let (st, v) = code_req(who("fax"), 6).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_channel")
    );

    // The message is in the voter's language and names the election by
    // its title (registration.md §G6): Russian by default, as the
    // manifest's title has a Russian text, the title cut at a word in an
    // SMS; English when asked.
    let sms = outbox.read_all().unwrap();
    let text = sms[0]["text"].as_str().unwrap();
    assert!(
        text.ends_with(" — код для входа: «Общероссийское голосование по…». Действует 5 мин. Никому его не сообщайте."),
        "{text}"
    );
    let m2en = json!({ "document_number": "4509654321", "birth_date": "1975-05-06", "lang": "en" });
    let (st, v) = code_req(m2en, 7).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let sms = outbox.read_all().unwrap();
    let text = sms[1]["text"].as_str().unwrap();
    assert!(
        text.ends_with(" is your login code for “All-Russian vote on the…”. It expires in 5 min. Never tell it to anyone."),
        "{text}"
    );
    assert!(sms[1].get("subject").is_none(), "an SMS has no subject");
    let m2de = json!({ "document_number": "4509654321", "birth_date": "1975-05-06", "lang": "de" });
    let (st, v) = code_req(m2de, 8).await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_language")
    );
    assert_eq!(outbox.read_all().unwrap().len(), 2, "nothing sent");

    // A server without an e-mail gateway says so before anything else.
    let sms_only = Channels {
        sms: Arc::new(Outbox::new(dir.path().join("sms2.jsonl"))),
        email: None,
    };
    let api2 = Api::with(Some(Arc::new(sms_only)), CONFIG);
    let (st, v) = api2
        .call(
            "POST",
            "/registration/codes",
            None,
            Some(json!({ "document_number": "4508123456", "birth_date": "1980-01-02", "channel": "email" })),
        )
        .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "channel_unavailable")
    );
}
