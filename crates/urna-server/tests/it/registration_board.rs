//! Registration meets the board, end to end through the HTTP API
//! (in-process): a registry of 300 synthetic voters, 120 of them
//! approved and voting online, complaints filed and answered on the way,
//! the precinct lists' hashes published, a paper list from the precincts
//! overlapping the online voters, the reconciliation applied from the
//! registry under each paper policy, the tally decrypted, and the
//! exported record checked by the independent verifier.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use urna_board::{BoardSigningKey, EntryKind};
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::PublicKey;
use urna_crypto::threshold::KeyShare;
use urna_election::record::{AnnulReason, PartialChunk, ReconciliationChunk, TallyChunk};
use urna_election::rules::tally_items;
use urna_election::{Manifest, Timestamp};
use urna_registry::notify::Outbox;
use urna_registry::screening::{Application, Decision, Rules};
use urna_registry::synthetic::voter;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry};
use urna_server::election::{AdminToken, Clock, Registrar, TestClock};
use urna_server::registration::RegistrationService;
use urna_server::{ApiError, AppState, ElectionConfig};
use urna_store::BoardStore;
use urna_verify::{Options, RecordWriter, verify};

const TOKEN: &str = "s3cret-admin-token";
const EXAMPLE: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");
const CONFIG: &[u8] =
    b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n";
const REGISTRY: u64 = 300;
const ONLINE: usize = 120;

/// Credentials registered by the admin (the voters' devices are not the
/// point here); ballots reported to the registration's registrar, which
/// marks the voters as having voted online.
#[derive(Debug)]
struct AdminThenRegistry(AdminToken, Arc<dyn Registrar>);

impl Registrar for AdminThenRegistry {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        self.0.check(headers)
    }
    fn ballots_recorded(&self, credentials: &[[u8; 32]]) {
        self.1.ballots_recorded(credentials);
    }
}

struct Api {
    app: Router,
    store: BoardStore,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        admin: bool,
        body: Option<Body>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if admin {
            req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let req = req
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let st = resp.status();
        let b = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap();
        (st, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, uri: &str, admin: bool, body: Option<Value>) -> Value {
        let (st, v) = self
            .call(method, uri, admin, body.map(|b| Body::from(b.to_string())))
            .await;
        assert!(st.is_success(), "{method} {uri}: {st} {v}");
        v
    }

    async fn refused(&self, method: &str, uri: &str, status: StatusCode, code: &str) {
        let before = self.store.size();
        let (st, v) = self.call(method, uri, true, None).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {uri}: {v}"
        );
        assert_eq!(
            self.store.size(),
            before,
            "{method} {uri} changed the board"
        );
    }
}

fn style(v: &Value) -> (Vec<u8>, Vec<ContestShape>, PublicKey, Fingerprint) {
    let s = urna_server::election::BallotStyle::from_value(v).unwrap();
    (s.header, s.shapes, s.key, s.fingerprint)
}

async fn ceremony(api: &Api, m: &Manifest) -> BTreeMap<u16, KeyShare> {
    let shares = common::honest_ceremony(m, |body| async move {
        api.ok("POST", "/election/ceremony", true, Some(body)).await;
    })
    .await;
    api.ok("POST", "/election/ceremony/finish", true, None)
        .await;
    shares
}

async fn complaint(api: &Api, text: &str) -> u64 {
    let v = api
        .ok(
            "POST",
            "/registration/complaints",
            false,
            Some(json!({ "author": "observer", "text": text })),
        )
        .await;
    v["id"].as_u64().unwrap()
}

/// The whole flow under `policy`; returns the total ballots counted and
/// the double voters.
async fn election(policy: &str) -> (u64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let key = BoardSigningKey::from_secret_bytes("urna.example/regboard", &[7; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let text = EXAMPLE.replace("n = 5\nt = 3", "n = 3\nt = 2").replace(
        "paper_after_evote = \"evote-stands\"",
        &format!("paper_after_evote = \"{policy}\""),
    );
    assert!(text.contains(policy));
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let now = |c: &TestClock| -> Timestamp { c.now() };

    // The registry: 300 synthetic voters of the Moscow precincts.
    let geo = Geography::of(&m);
    let msk: Vec<String> = m
        .precincts()
        .iter()
        .filter(|p| geo.locate(&p.id).is_some_and(|(_, r)| r == "msk"))
        .map(|p| p.id.clone())
        .collect();
    assert!(msk.len() >= 3, "{msk:?}");
    let rows: Vec<[String; 8]> = (0..REGISTRY).map(|i| voter("m", i, &msk, 2020)).collect();
    let mut csv = Vec::new();
    urna_registry::synthetic::write_registry_csv(&mut csv, "m", REGISTRY, &msk, 2020).unwrap();
    let registry = Registry::open_sqlite(&dir.path().join("registry.db")).unwrap();
    let secret = CommissionSecret::from_bytes([5; 32]);
    registry
        .import_csv("msk.csv", "msk", &geo, &secret, &csv[..], now(&clock))
        .unwrap();
    let rules = Rules::new(RegistrationConfig::from_bytes(CONFIG).unwrap(), &m).unwrap();
    let service = RegistrationService::new(
        registry,
        rules.clone(),
        secret.clone(),
        Arc::new(Outbox::new(dir.path().join("outbox.jsonl"))),
        &m,
        AdminToken::new(TOKEN),
        Arc::new(clock.clone()),
    );
    service.set_list_key(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let registrar = Arc::new(AdminThenRegistry(
        AdminToken::new(TOKEN),
        service.registrar(),
    ));
    let state = AppState::builder(store.clone(), config)
        .with_registration(service.clone())
        .with_registrar(registrar)
        .build();
    let api = Api {
        app: urna_server::app(state),
        store: store.clone(),
    };

    let (st, _) = api
        .call(
            "POST",
            "/election/manifest",
            true,
            Some(Body::from(text.clone())),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(complaint(&api, "The application page was slow.").await, 1);
    let shares = ceremony(&api, &m).await;

    // 120 voters apply, are approved and register a device credential.
    let reg = service.registry();
    let mut online = Vec::new();
    for row in rows.iter().take(ONLINE) {
        let email = (!row[5].is_empty()).then_some(row[5].as_str());
        let app = Application::new(&secret, &row[1], &row[2], &row[3], &row[4], email).unwrap();
        let (d, _) = reg.apply(&rules, &app, now(&clock)).unwrap();
        assert_eq!(d, Decision::Approved, "{row:?}");
        let cred = CredentialKey::generate(&mut rand::rng());
        let e = reg
            .register_credential(&row[0], cred.public().as_bytes())
            .unwrap();
        let district = m.districts()[m
            .precincts()
            .iter()
            .find(|p| p.id == e.precinct)
            .unwrap()
            .district]
            .id
            .clone();
        api.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": district, "precinct": e.precinct, "credential": cred.public().to_hex() })),
        )
        .await;
        online.push((row[0].clone(), e.precinct, district, cred));
    }
    // The approved-online lists, before voting.
    let approved = api
        .ok(
            "POST",
            "/registration/admin/lists?kind=approved-online",
            true,
            None,
        )
        .await;
    assert_eq!(
        approved["board_entries"].as_array().unwrap().len(),
        m.precincts().len()
    );
    let listed: u64 = approved["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["voters"].as_u64().unwrap())
        .sum();
    assert_eq!(listed, ONLINE as u64);

    clock.set(sched.voting_opens.plus_seconds(60));
    api.ok("POST", "/election/open", true, None).await;
    // 100 of them vote online, "yes"; one re-votes "no" later.
    let voted = 100;
    for (k, (_, _, district, cred)) in online.iter().take(voted).enumerate() {
        let v = api
            .ok("GET", &format!("/election/style/{district}"), false, None)
            .await;
        let (header, shapes, key, fp) = style(&v);
        let sel = if k == 0 {
            vec![vec![0, 1]]
        } else {
            vec![vec![1, 0]]
        };
        let (b, _) =
            Ballot::encrypt(&key, &fp, cred, &header, &shapes, &sel, &mut rand::rng()).unwrap();
        api.ok(
            "POST",
            "/election/ballots",
            false,
            Some(json!({ "ballot": hex::encode(b.encode().unwrap()) })),
        )
        .await;
        if k == 50 {
            let id = complaint(&api, "A queue at the portal at noon.").await;
            api.ok(
                "POST",
                &format!("/registration/complaints/{id}/answer"),
                true,
                Some(json!({ "status": "accepted", "answer": "Capacity was doubled at 12:20." })),
            )
            .await;
        }
    }
    // The registrar is told who voted once the ballots are durable.
    for _ in 0..300 {
        if reg
            .list_rows(urna_registry::lists::ListKind::VotedOnline)
            .unwrap()
            .len()
            >= voted
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    api.refused(
        "POST",
        "/registration/admin/reconciliation/apply",
        StatusCode::CONFLICT,
        "wrong_phase",
    )
    .await;
    clock.set(sched.voting_closes);
    api.ok("POST", "/election/close", true, None).await;

    // The voted-online lists, then the paper lists from the precincts:
    // 15 online voters also voted on paper, with 40 who voted only on paper.
    let lists = api
        .ok(
            "POST",
            "/registration/admin/lists?kind=voted-online",
            true,
            None,
        )
        .await;
    let listed: u64 = lists["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["voters"].as_u64().unwrap())
        .sum();
    assert_eq!(listed, voted as u64);
    let both: BTreeSet<String> = online
        .iter()
        .take(voted)
        .step_by(7)
        .take(15)
        .map(|o| o.0.clone())
        .collect();
    assert_eq!(both.len(), 15);
    let paper_only = rows.iter().skip(ONLINE + 10).take(40).map(|r| r[0].clone());
    let mut per: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let precinct_of: BTreeMap<&str, &str> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[6].as_str()))
        .collect();
    for id in both.iter().cloned().chain(paper_only) {
        per.entry(precinct_of[id.as_str()].to_string())
            .or_default()
            .push(id);
    }
    for (p, ids) in &per {
        let body = format!("voter_id\n{}\n", ids.join("\n"));
        let (st, v) = api
            .call(
                "POST",
                &format!("/registration/admin/paper?precinct={p}"),
                true,
                Some(Body::from(body)),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    let report = api
        .ok("GET", "/registration/admin/reconciliation", true, None)
        .await;
    assert_eq!(report["double_votes"].as_array().unwrap().len(), both.len());

    let r = api
        .ok(
            "POST",
            "/registration/admin/reconciliation/apply",
            true,
            None,
        )
        .await;
    assert_eq!(r["double_votes"], both.len());
    let e = store
        .entry(r["entries"][0].as_u64().unwrap())
        .unwrap()
        .entry;
    assert_eq!(e.kind(), EntryKind::Reconciliation);
    let chunk = ReconciliationChunk::decode(e.payload()).unwrap();
    assert_eq!(chunk.annulled.len(), both.len());
    let reason = if policy == "evote-annulled" {
        AnnulReason::PaperVote
    } else {
        AnnulReason::PaperVoteStands
    };
    assert!(chunk.annulled.iter().all(|(_, why)| *why == reason));
    api.refused(
        "POST",
        "/registration/admin/reconciliation/apply",
        StatusCode::CONFLICT,
        "already_reconciled",
    )
    .await;

    // The tally, two trustees, the results.
    api.ok("POST", "/election/tally", true, None).await;
    api.refused(
        "POST",
        "/registration/admin/reconciliation/apply",
        StatusCode::CONFLICT,
        "wrong_phase",
    )
    .await;
    let tv = api.ok("GET", "/election/tally", false, None).await;
    let records: Vec<_> = tv["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            TallyChunk::decode(&hex::decode(p.as_str().unwrap()).unwrap())
                .unwrap()
                .records
        })
        .collect();
    let items = tally_items(&records);
    let fp = style(
        &api.ok(
            "GET",
            &format!("/election/style/{}", online[0].2),
            false,
            None,
        )
        .await,
    )
    .3;
    for j in [1u16, 3] {
        let p = shares[&j].partial_decrypt_batch(&fp, &items, &mut rand::rng());
        let payloads: Vec<String> = PartialChunk::payloads(j, &p)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect();
        api.ok(
            "POST",
            "/election/partials",
            true,
            Some(json!({ "payloads": payloads })),
        )
        .await;
    }
    api.ok("POST", "/election/results", true, None).await;
    assert_eq!(complaint(&api, "Results were late by a minute.").await, 3);
    let res = api.ok("GET", "/election/results", false, None).await;
    let total = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap()
        .clone();
    let counted = total["ballots"].as_u64().unwrap();
    let list = api.ok("GET", "/registration/complaints", false, None).await;
    assert_eq!(list["complaints"].as_array().unwrap().len(), 3);
    assert_eq!(list["complaints"][1]["status"], "accepted");

    // The exported record verifies, complaints and list hashes included.
    let out = dir.path().join("record");
    let latest = store.latest_checkpoint();
    let mut w = RecordWriter::create(&out, store.verifier_key()).unwrap();
    for e in store.entries(0, latest.size()).unwrap() {
        w.append(&e.entry).unwrap();
    }
    w.finish(latest.note()).unwrap();
    let report = verify(&out, Options::default());
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.summary.counted, counted);
    assert_eq!(
        (
            report.summary.complaints_filed,
            report.summary.complaints_answered
        ),
        (3, 1)
    );
    let n = m.precincts().len() as u64;
    assert_eq!(report.summary.voted_online_lists, (n, n));
    assert_eq!(report.summary.voted_online_rows, voted as u64);
    assert_eq!(report.check("precinct_lists").unwrap().checked, 2 * n + 1);
    (counted, both.len())
}

/// Under `evote-annulled` (Estonia) the double voters' e-votes are not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_from_the_registry_annuls_double_votes() {
    let (counted, both) = election("evote-annulled").await;
    assert_eq!(counted, 100 - both as u64);
}

/// Under `evote-stands` every e-vote counts, and the double voters are
/// still on the board (reason 3) for observers to count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_from_the_registry_lists_double_votes_that_stand() {
    let (counted, both) = election("evote-stands").await;
    assert_eq!((counted, both), (100, 15));
}
