//! The sealed credential lists hold only voters whose application stands,
//! and withdrawal cannot race a ballot (spec/record.md §R4,
//! spec/registration.md §G4), through the HTTP API in-process with the
//! voter registrar: three voters log in with one-time codes and register
//! their device credentials, one withdraws before the open; the board's
//! sealed list, `voting_opened` and the turnout count two; the withdrawn
//! voter's ballots are refused; a ballot in flight holds a withdrawal off;
//! and restarts replay the board (with and without the journal's record of
//! the withdrawal) while any other missing registration is still refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use urna_board::{BoardSigningKey, EntryKind};
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::PublicKey;
use urna_election::record::{CredentialChunk, VotingOpened};
use urna_election::{Manifest, Timestamp};
use urna_registry::notify::Outbox;
use urna_registry::screening::Rules;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry};
use urna_server::election::{AdminToken, Clock, TestClock};
use urna_server::registration::RegistrationService;
use urna_server::{AppState, ElectionConfig};
use urna_store::BoardStore;

const TOKEN: &str = "s3cret-admin-token";
const EXAMPLE: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");
const CONFIG: &[u8] = b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n";
const MSK: &str =
    "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
m1,Иванов Иван Иванович,1980-01-02,4508 123456,+79161234567,,uik-0001,2015-03-04
m2,Петрова Анна Сергеевна,1975-05-06,4509 654321,+79161112233,,uik-0002,2018-07-08
m3,Сидоров Пётр Алексеевич,1990-12-31,4510 111111,+79160000001,,uik-0001,2019-01-01
";

/// (full name, birth date, document, phone) of m1, m2, m3.
const VOTERS: [(&str, &str, &str, &str); 3] = [
    (
        "Иванов Иван Иванович",
        "1980-01-02",
        "4508123456",
        "+79161234567",
    ),
    (
        "Петрова Анна Сергеевна",
        "1975-05-06",
        "4509654321",
        "+79161112233",
    ),
    (
        "Сидоров Пётр Алексеевич",
        "1990-12-31",
        "4510111111",
        "+79160000001",
    ),
];

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Body>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
    }
    let req = req
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.unwrap_or_else(Body::empty))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let st = resp.status();
    let b = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn json_call(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    call(app, method, uri, auth, Some(Body::from(body.to_string()))).await
}

async fn ok(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Value {
    let (st, v) = call(
        app,
        method,
        uri,
        auth,
        body.map(|b| Body::from(b.to_string())),
    )
    .await;
    assert!(st.is_success(), "{method} {uri}: {st} {v}");
    v
}

fn code_of(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn ceremony(app: &Router, m: &Manifest) {
    common::honest_ceremony(m, |body| async move {
        ok(app, "POST", "/election/ceremony", Some(TOKEN), Some(body)).await;
    })
    .await;
    ok(app, "POST", "/election/ceremony/finish", Some(TOKEN), None).await;
}

/// Applies, then logs in with the code from the outbox; the session token.
async fn apply_and_login(app: &Router, outbox: &Outbox, k: usize) -> String {
    let (name, birth, doc, phone) = VOTERS[k];
    let (st, v) = json_call(
        app,
        "POST",
        "/registration/applications",
        None,
        json!({ "full_name": name, "birth_date": birth, "document_number": doc, "phone": phone }),
    )
    .await;
    assert_eq!(
        (st, v["decision"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );
    login(app, outbox, k).await
}

/// Logs in with the code from the outbox; the session token.
async fn login(app: &Router, outbox: &Outbox, k: usize) -> String {
    let (_, birth, doc, phone) = VOTERS[k];
    let who = json!({ "document_number": doc, "birth_date": birth });
    let (st, v) = json_call(app, "POST", "/registration/codes", None, who.clone()).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let msgs = outbox.read_all().unwrap();
    let last = msgs.iter().rev().find(|m| m["to"] == phone).unwrap();
    let code = last["text"].as_str().unwrap().split(' ').next().unwrap();
    let mut body = who;
    body["code"] = json!(code);
    let v = ok(app, "POST", "/registration/sessions", None, Some(body)).await;
    v["token"].as_str().unwrap().to_string()
}

fn style(v: &Value) -> (Vec<u8>, Vec<ContestShape>, PublicKey, Fingerprint) {
    let s = urna_server::election::BallotStyle::from_value(v).unwrap();
    (s.header, s.shapes, s.key, s.fingerprint)
}

async fn ballot(app: &Router, cred: &CredentialKey) -> Value {
    let v = ok(app, "GET", "/election/style/msk-cao", None, None).await;
    let (header, shapes, key, fp) = style(&v);
    let (b, _) = Ballot::encrypt(
        &key,
        &fp,
        cred,
        &header,
        &shapes,
        &[vec![1, 0]],
        &mut rand::rng(),
    )
    .unwrap();
    json!({ "ballot": hex::encode(b.encode().unwrap()) })
}

async fn resume(
    store: &BoardStore,
    config: ElectionConfig,
    journal: &Path,
) -> Result<urna_server::election::ResumeReport, urna_server::election::ResumeError> {
    let store = store.clone();
    let journal = journal.to_path_buf();
    tokio::task::spawn_blocking(move || AppState::resume(store, config, &journal).map(|(_, r)| r))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawn_before_the_open_is_not_sealed_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open_sqlite(&dir.path().join("registry.db")).unwrap();
    scenario(dir, registry).await;
}

/// The same on PostgreSQL at URNA_TEST_POSTGRES_URL: ignored by default, so
/// a run without a database counts it as ignored, never as passed;
/// `scripts/test.sh` starts a throwaway server and runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs it (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
async fn withdrawn_before_the_open_is_not_sealed_postgres() {
    let Some(url) = std::env::var("URNA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        panic!("needs PostgreSQL: URNA_TEST_POSTGRES_URL is not set (scripts/test.sh starts one)");
    };
    let schema = format!("urna_test_sealing_{}", std::process::id());
    let (u, sc) = (url.clone(), schema.clone());
    let registry = tokio::task::spawn_blocking(move || {
        Registry::open_postgres(&u, &urna_registry::store::PostgresOptions::with_schema(&sc))
    })
    .await
    .unwrap()
    .unwrap();
    scenario(tempfile::tempdir().unwrap(), registry).await;
    tokio::task::spawn_blocking(move || urna_registry::store::drop_postgres_schema(&url, &schema))
        .await
        .unwrap()
        .unwrap();
}

/// With `URNA_REQUIRE_POSTGRES=1` (CI) the ignored PostgreSQL test must have
/// been asked for, so that leaving it out fails instead of passing unseen.
#[test]
fn postgres_tests_are_run_when_required() {
    if std::env::var("URNA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        let asked = std::env::args().any(|a| a == "--include-ignored" || a == "--ignored");
        assert!(
            asked,
            "URNA_REQUIRE_POSTGRES=1 but the PostgreSQL tests are ignored: add -- --include-ignored (scripts/test.sh does)"
        );
    }
}

async fn scenario(dir: tempfile::TempDir, registry: Registry) {
    let key = BoardSigningKey::from_secret_bytes("urna.example/seal", &[7; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let text = EXAMPLE.replace("n = 5\nt = 3", "n = 3\nt = 2");
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let now: Timestamp = clock.now();
    let secret = CommissionSecret::from_bytes([5; 32]);
    tokio::task::block_in_place(|| {
        registry
            .import_csv(
                "msk.csv",
                "msk",
                &Geography::of(&m),
                &secret,
                MSK.as_bytes(),
                now,
            )
            .unwrap()
    });
    let rules = Rules::new(RegistrationConfig::from_bytes(CONFIG).unwrap(), &m).unwrap();
    let outbox_path = dir.path().join("outbox.jsonl");
    let service = RegistrationService::new(
        registry,
        rules.clone(),
        secret,
        Arc::new(Outbox::new(&outbox_path)),
        &m,
        AdminToken::new(TOKEN),
        Arc::new(clock.clone()),
    );
    let outbox = Outbox::new(&outbox_path);
    let voter_config = || {
        let mut c = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
        c.registrar = service.registrar();
        c
    };
    let journal = dir.path().join("server.journal");
    let (state, _) = {
        let (s, j, c) = (store.clone(), journal.clone(), voter_config());
        let r = service.clone();
        tokio::task::spawn_blocking(move || AppState::builder(s, c).with_registration(r).resume(&j))
            .await
            .unwrap()
            .unwrap()
    };
    let app = urna_server::app(state);
    let (st, _) = call(
        &app,
        "POST",
        "/election/manifest",
        Some(TOKEN),
        Some(Body::from(text.clone())),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    ceremony(&app, &m).await;

    // Three voters register their device credentials; m3 withdraws.
    let mut tokens = Vec::new();
    let mut creds = Vec::new();
    for (k, precinct) in ["uik-0001", "uik-0002", "uik-0001"].into_iter().enumerate() {
        let token = apply_and_login(&app, &outbox, k).await;
        let cred = CredentialKey::generate(&mut rand::rng());
        let (st, v) = json_call(&app, "POST", "/election/credentials", Some(&token),
            json!({ "district": "msk-cao", "precinct": precinct, "credential": cred.public().to_hex() })).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        tokens.push(token);
        creds.push(cred);
    }
    ok(
        &app,
        "POST",
        "/registration/withdrawal",
        Some(&tokens[2]),
        None,
    )
    .await;
    // The journal as it stood before the open, for a restart without the
    // record of what the open left out.
    let before_open = dir.path().join("before-open.journal");
    std::fs::copy(&journal, &before_open).unwrap();

    clock.set(sched.voting_opens.plus_seconds(60));
    let opened = ok(&app, "POST", "/election/open", Some(TOKEN), None).await;
    let indices: Vec<u64> = opened["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap())
        .collect();
    let mut sealed = Vec::new();
    let mut total = None;
    for i in indices {
        let e = store.entry(i).unwrap().entry;
        match e.kind() {
            EntryKind::CredentialList => {
                let c = CredentialChunk::decode(e.payload()).unwrap();
                sealed.push((
                    c.district,
                    c.credentials
                        .iter()
                        .map(|x| *x.as_bytes())
                        .collect::<Vec<_>>(),
                ));
            }
            EntryKind::VotingOpened => {
                total = Some(VotingOpened::decode(e.payload()).unwrap().credentials)
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let cao = &sealed.iter().find(|(d, _)| d == "msk-cao").unwrap().1;
    let mut expected = vec![*creds[0].public().as_bytes(), *creds[1].public().as_bytes()];
    expected.sort_unstable();
    assert_eq!(cao, &expected);
    assert!(
        sealed
            .iter()
            .filter(|(d, _)| d != "msk-cao")
            .all(|(_, l)| l.is_empty())
    );
    assert_eq!(total, Some(2));
    let turnout = ok(&app, "GET", "/election/turnout", None, None).await;
    assert_eq!(turnout["eligible"], 2, "{turnout}");
    let row = |kind: &str, id: &str| {
        turnout[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["eligible"]
            .clone()
    };
    assert_eq!(
        (
            row("districts", "msk-cao"),
            row("precincts", "uik-0001"),
            row("precincts", "uik-0002")
        ),
        (json!(2), json!(1), json!(1))
    );

    // The withdrawn voter's ballot is refused by the registrar; once the
    // application is renewed (it keeps its credential) the engine refuses
    // it, for the credential is not sealed; the board does not change.
    let size = store.size();
    let b3 = ballot(&app, &creds[2]).await;
    let (st, v) = call(
        &app,
        "POST",
        "/election/ballots",
        None,
        Some(Body::from(b3.to_string())),
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::FORBIDDEN, "application_withdrawn"),
        "{v}"
    );
    clock.set(sched.applications_open.plus_seconds(7200));
    let (name, birth, doc, phone) = VOTERS[2];
    let (_, v) = json_call(
        &app,
        "POST",
        "/registration/applications",
        None,
        json!({ "full_name": name, "birth_date": birth, "document_number": doc, "phone": phone }),
    )
    .await;
    assert_eq!(v["decision"], "approved", "{v}");
    clock.set(sched.voting_opens.plus_seconds(120));
    let (st, v) = call(
        &app,
        "POST",
        "/election/ballots",
        None,
        Some(Body::from(b3.to_string())),
    )
    .await;
    assert_eq!(code_of(&v), "unknown_credential", "{st} {v}");
    assert_eq!(store.size(), size);
    // The refused ballot gave its reservation back: m3 may withdraw again.
    assert!(tokio::task::block_in_place(|| service.registry().casting().unwrap()).is_empty());
    let t3 = login(&app, &outbox, 2).await;
    ok(&app, "POST", "/registration/withdrawal", Some(&t3), None).await;

    // A ballot in flight holds a withdrawal off (the reservation is what
    // `POST /election/ballots` takes before the engine sees the ballot).
    // (The sessions of before the open have expired.)
    let tokens = [login(&app, &outbox, 0).await, login(&app, &outbox, 1).await];
    let c2 = *creds[1].public().as_bytes();
    tokio::task::block_in_place(|| service.registry().reserve_cast(&c2).unwrap());
    let (st, v) = call(
        &app,
        "POST",
        "/registration/withdrawal",
        Some(&tokens[1]),
        None,
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::CONFLICT, "ballot_being_cast"),
        "{v}"
    );
    tokio::task::block_in_place(|| service.registry().release_cast(&c2).unwrap());

    // m1 votes and withdraws at the same moment: never both.
    let b1 = ballot(&app, &creds[0]).await;
    let (cast, withdrawal) = tokio::join!(
        call(
            &app,
            "POST",
            "/election/ballots",
            None,
            Some(Body::from(b1.to_string()))
        ),
        call(
            &app,
            "POST",
            "/registration/withdrawal",
            Some(&tokens[0]),
            None
        ),
    );
    let ballots = match (cast.0.is_success(), withdrawal.0.is_success()) {
        (true, false) => {
            assert_eq!(withdrawal.0, StatusCode::CONFLICT, "{}", withdrawal.1);
            assert!(
                ["ballot_being_cast", "ballot_already_cast"].contains(&code_of(&withdrawal.1)),
                "{}",
                withdrawal.1
            );
            1
        }
        (false, true) => {
            assert_eq!(code_of(&cast.1), "application_withdrawn", "{}", cast.1);
            0
        }
        other => panic!(
            "ballot and withdrawal: {other:?} {} {}",
            cast.1, withdrawal.1
        ),
    };
    // m2 votes; afterwards its withdrawal is refused for good.
    let b2 = ballot(&app, &creds[1]).await;
    let cast2 = ok(&app, "POST", "/election/ballots", None, Some(b2)).await;
    let mut code = String::new();
    for _ in 0..300 {
        let (_, v) = call(
            &app,
            "POST",
            "/registration/withdrawal",
            Some(&tokens[1]),
            None,
        )
        .await;
        code = code_of(&v).to_string();
        if code == "ballot_already_cast" {
            break;
        }
        assert_eq!(code, "ballot_being_cast", "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(code, "ballot_already_cast");
    receipt_by_sms(&app, &outbox, &tokens[1], &cast2).await;

    // The server stops with two ballots in flight (their reservations
    // taken, their outcome never learnt): m2's, whose ballot is on the
    // board, and m3's (renewed again), which never got there.
    clock.set(sched.applications_open.plus_seconds(9000));
    let (name, birth, doc, phone) = VOTERS[2];
    let (_, v) = json_call(
        &app,
        "POST",
        "/registration/applications",
        None,
        json!({ "full_name": name, "birth_date": birth, "document_number": doc, "phone": phone }),
    )
    .await;
    assert_eq!(v["decision"], "approved", "{v}");
    clock.set(sched.voting_opens.plus_seconds(600));
    let c3 = *creds[2].public().as_bytes();
    let reg = service.registry();
    tokio::task::block_in_place(|| {
        reg.reserve_cast(&c2).unwrap();
        reg.reserve_cast(&c3).unwrap();
        assert_eq!(reg.casting().unwrap().len(), 2);
    });
    drop(app);

    // Restarts replay the board: with the journal's record of the
    // withdrawal, whatever the registrar says ...
    let admin = || ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let r = resume(&store, admin(), &journal).await.unwrap();
    assert_eq!((r.phase, r.ballots), ("voting", ballots + 1));
    let r = resume(&store, voter_config(), &journal).await.unwrap();
    assert_eq!((r.phase, r.ballots), ("voting", ballots + 1));
    // The voter registrar's restart settled the reservations by the board:
    // m2 voted online, m3 did not and may withdraw.
    tokio::task::block_in_place(|| {
        assert!(reg.casting().unwrap().is_empty());
        assert_eq!(
            reg.withdraw(&rules, "m2", clock.now()).unwrap_err().code(),
            "ballot_already_cast"
        );
        reg.withdraw(&rules, "m3", clock.now()).unwrap();
    });
    // ... without it, because the registrar says m3's application does not stand ...
    let copy = dir.path().join("copy.journal");
    std::fs::copy(&before_open, &copy).unwrap();
    let r = resume(&store, voter_config(), &copy).await.unwrap();
    assert_eq!(r.phase, "voting");
    // ... but a missing registration that nothing explains is refused.
    std::fs::copy(&before_open, &copy).unwrap();
    let err = resume(&store, admin(), &copy).await.unwrap_err();
    assert!(
        err.to_string().contains(&creds[2].public().to_hex()),
        "{err}"
    );
    assert!(err.to_string().contains("not on the sealed lists"), "{err}");
}

/// m2 asks for its ballot's receipt code by SMS (registration.md §G6.1):
/// the message goes to its own phone with the receipt code and nothing of
/// the ballot; bad requests send nothing.
async fn receipt_by_sms(app: &Router, outbox: &Outbox, token: &str, cast: &Value) {
    let tracking = cast["tracking"].as_str().unwrap();
    let phone = VOTERS[1].3;
    let sent = |o: &Outbox| o.read_all().unwrap().len();
    let before = sent(outbox);
    let v = ok(
        app,
        "POST",
        "/registration/receipt",
        Some(token),
        Some(json!({ "tracking": tracking, "lang": "ru" })),
    )
    .await;
    assert_eq!(v["channel"], "sms", "{v}");
    let msgs = outbox.read_all().unwrap();
    assert_eq!(msgs.len(), before + 1);
    let m = &msgs[before];
    let mut t = [0u8; 32];
    hex::decode_to_slice(tracking, &mut t).unwrap();
    let short = urna_election::receipt_code::receipt_code(&t);
    assert_eq!(m["to"], phone);
    let text = m["text"].as_str().unwrap();
    assert!(text.starts_with("Ваш бюллетень принят: «"), "{text}");
    assert!(text.contains(&format!("Код квитанции: {short}.")), "{text}");
    assert!(!text.contains(tracking), "never the full tracking code");

    // Refused, nothing sent: no session, a code not on the board, a
    // malformed code, an unknown field.
    let (st, v) = json_call(
        app,
        "POST",
        "/registration/receipt",
        None,
        json!({ "tracking": tracking }),
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNAUTHORIZED, "session_invalid"),
        "{v}"
    );
    let absent = "ab".repeat(32);
    let (st, v) = json_call(
        app,
        "POST",
        "/registration/receipt",
        Some(token),
        json!({ "tracking": absent }),
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::NOT_FOUND, "unknown_tracking_code"),
        "{v}"
    );
    let upper = tracking.to_uppercase();
    let (st, v) = json_call(
        app,
        "POST",
        "/registration/receipt",
        Some(token),
        json!({ "tracking": upper }),
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::BAD_REQUEST, "invalid_tracking_code"),
        "{v}"
    );
    let (st, v) = json_call(
        app,
        "POST",
        "/registration/receipt",
        Some(token),
        json!({ "tracking": tracking, "ballot": 1 }),
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        "{v}"
    );
    assert_eq!(sent(outbox), before + 1);

    // Five an hour per voter: four more go, the sixth is refused.
    for _ in 0..4 {
        ok(
            app,
            "POST",
            "/registration/receipt",
            Some(token),
            Some(json!({ "tracking": tracking })),
        )
        .await;
    }
    let (st, v) = json_call(
        app,
        "POST",
        "/registration/receipt",
        Some(token),
        json!({ "tracking": tracking }),
    )
    .await;
    assert_eq!(
        (st, code_of(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "receipt_rate_limited"),
        "{v}"
    );
    assert_eq!(sent(outbox), before + 5);
}
