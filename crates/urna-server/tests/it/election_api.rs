//! A whole small election through the HTTP API, in-process (`oneshot`), on
//! a temporary SQLite board: the 2020 Moscow manifest with 3 trustees
//! (t = 2), the test clock walking through its schedule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use urna_board::{
    BoardSigningKey, Entry, EntryKind, Hash, SignedNote, verify_checkpoint, verify_inclusion,
};
use urna_crypto::ballot::{Ballot, BallotSecrets};
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::{Ciphertext, KeyPair};
use urna_crypto::threshold::KeyShare;
use urna_election::Manifest;
use urna_election::record::{AuditedBallot, CeremonyMessage, PartialChunk, TallyChunk};
use urna_election::rules::tally_items;
use urna_server::election::{AdminToken, TestClock};
use urna_server::{AppState, ElectionConfig, app};
use urna_store::BoardStore;

const ORIGIN: &str = "urna.example/ru-2020-constitution";
const TOKEN: &str = "s3cret-admin-token";
const EXAMPLE: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");

fn manifest_text() -> String {
    let text = EXAMPLE.replace("n = 5\nt = 3", "n = 3\nt = 2");
    assert_ne!(text, EXAMPLE, "the example's trustees section moved");
    text
}

fn board_key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes(ORIGIN, &[7; 32]).unwrap()
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
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if admin {
            req = req.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .unwrap();
        (status, body.to_vec())
    }

    async fn ok(&self, method: &str, uri: &str, admin: bool, body: Option<Value>) -> Value {
        let (st, b) = self
            .call(method, uri, admin, body.map(|v| v.to_string().into_bytes()))
            .await;
        let text = String::from_utf8_lossy(&b).into_owned();
        assert!(st.is_success(), "{method} {uri}: {st} {text}");
        serde_json::from_slice(&b).unwrap()
    }

    /// A refusal: status, code, a sentence, and the board unchanged.
    async fn refused(
        &self,
        method: &str,
        uri: &str,
        admin: bool,
        body: Option<Value>,
        status: StatusCode,
        code: &str,
    ) {
        let before = self.store.size();
        let (st, b) = self
            .call(method, uri, admin, body.map(|v| v.to_string().into_bytes()))
            .await;
        let text = String::from_utf8_lossy(&b).into_owned();
        assert_eq!(st, status, "{method} {uri}: {text}");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"]["code"], code, "{method} {uri}: {text}");
        assert!(v["error"]["message"].as_str().unwrap().ends_with('.'));
        assert_eq!(
            self.store.size(),
            before,
            "{method} {uri} changed the board"
        );
    }
}

/// What a device needs, from `GET /election/style/{district}`.
type Style = urna_server::election::BallotStyle;

fn style_from(v: &Value) -> Style {
    Style::from_value(v).unwrap()
}

fn make_ballot(style: &Style, cred: &CredentialKey, yes: bool) -> (Vec<u8>, BallotSecrets) {
    let sel = if yes {
        vec![vec![1, 0]]
    } else {
        vec![vec![0, 1]]
    };
    let (b, secrets) = Ballot::encrypt(
        &style.key,
        &style.fingerprint,
        cred,
        &style.header,
        &style.shapes,
        &sel,
        &mut rand::rng(),
    )
    .unwrap();
    (b.encode().unwrap(), secrets)
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

/// Checks a receipt: signed checkpoint, inclusion of the entry made of `payload`.
fn check_receipt(store: &BoardStore, r: &Value, kind: EntryKind, payload: &[u8]) {
    let entry = Entry::new(kind, payload).unwrap();
    assert_eq!(r["leaf_hash"], hex::encode(entry.leaf_hash()));
    let note = SignedNote::parse(r["checkpoint"].as_str().unwrap().as_bytes()).unwrap();
    let cp = verify_checkpoint(&note, store.verifier_key(), &[])
        .unwrap()
        .checkpoint;
    assert_eq!(r["tree_size"].as_u64().unwrap(), cp.size());
    verify_inclusion(
        &entry.leaf_hash(),
        r["index"].as_u64().unwrap(),
        cp.size(),
        &hashes(&r["inclusion_proof"]),
        cp.root(),
    )
    .unwrap();
}

/// Key ceremony: three trustees, t = 2, messages POSTed by "their
/// machines"; refusals on the way. Returns the trustees' key shares.
async fn ceremony(api: &Api, m: &Manifest) -> BTreeMap<u16, KeyShare> {
    let mut rng = rand::rng();
    let params = CeremonyParams::new(3, 2).unwrap();
    let post_msg = |msg: CeremonyMessage| json!({ "message": hexed(&msg.encode()) });
    let mut r1s = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=3 {
        let tr = Trustee::new(params, i, m.hash(), KeyPair::generate(&mut rng)).unwrap();
        let (r1, msg) = tr.start(&mut rng);
        api.ok(
            "POST",
            "/election/ceremony",
            true,
            Some(post_msg(CeremonyMessage::Round1(msg.clone()))),
        )
        .await;
        r1s.push(r1);
        msgs1.push(msg);
    }
    api.refused(
        "POST",
        "/election/ceremony",
        true,
        Some(post_msg(CeremonyMessage::Round1(msgs1[0].clone()))),
        StatusCode::CONFLICT,
        "duplicate_message",
    )
    .await;
    api.refused(
        "POST",
        "/election/ceremony",
        true,
        Some(json!({ "message": "zz" })),
        StatusCode::BAD_REQUEST,
        "invalid_hex",
    )
    .await;
    let mut r2s = Vec::new();
    let mut msgs2 = Vec::new();
    for r1 in r1s {
        let (r2, msg) = r1.deal(&msgs1, &mut rng).unwrap();
        api.ok(
            "POST",
            "/election/ceremony",
            true,
            Some(post_msg(CeremonyMessage::Round2(msg.clone()))),
        )
        .await;
        r2s.push(r2);
        msgs2.push(msg);
    }
    let mut shares: BTreeMap<u16, KeyShare> = BTreeMap::new();
    for r2 in r2s {
        let (r3, complaints) = r2.receive(&msgs2, &mut rng);
        assert!(complaints.is_empty());
        let q = r3.finish(&[], &mut rng).unwrap();
        shares.insert(q.key_share().index(), q.key_share().clone());
    }
    shares
}

/// Asks the server to tally, then decodes the published tally's items.
async fn tally_and_fetch(api: &Api) -> Vec<(Vec<u8>, Ciphertext)> {
    api.ok("POST", "/election/tally", true, None).await;
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
    tally_items(&records)
}

fn hexed(b: &[u8]) -> Value {
    Value::String(hex::encode(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_election_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board_key()).unwrap();
    let text = manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let journal = dir.path().join("server.journal");
    let resume = |config: ElectionConfig| {
        let (store, journal) = (store.clone(), journal.clone());
        tokio::task::spawn_blocking(move || AppState::resume(store, config, &journal))
    };
    let (state, report) = resume(config.clone()).await.unwrap().unwrap();
    assert_eq!(report.phase, "empty");
    let api = Api {
        app: app(state),
        store: store.clone(),
    };
    let mut rng = rand::rng();

    // Nothing published yet.
    api.refused(
        "GET",
        "/election/manifest",
        false,
        None,
        StatusCode::NOT_FOUND,
        "no_manifest",
    )
    .await;
    // Publishing needs the admin token.
    let (st, _) = api
        .call(
            "POST",
            "/election/manifest",
            false,
            Some(text.clone().into_bytes()),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(store.size(), 0);
    api.refused(
        "POST",
        "/election/open",
        true,
        None,
        StatusCode::CONFLICT,
        "wrong_phase",
    )
    .await;
    let (st, b) = api
        .call("POST", "/election/manifest", true, Some(b"id = 1".to_vec()))
        .await;
    assert_eq!(
        st,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert_eq!(store.size(), 0);
    let (st, b) = api
        .call(
            "POST",
            "/election/manifest",
            true,
            Some(text.clone().into_bytes()),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (st, b) = api.call("GET", "/election/manifest", false, None).await;
    assert_eq!((st, b), (StatusCode::OK, text.clone().into_bytes()));
    api.refused(
        "GET",
        "/election/style/msk-cao",
        false,
        None,
        StatusCode::CONFLICT,
        "no_joint_key",
    )
    .await;

    let shares = ceremony(&api, &m).await;
    api.ok("POST", "/election/ceremony/finish", true, None)
        .await;
    let status = api.ok("GET", "/election/status", false, None).await;
    assert_eq!(status["phase"], "registration");

    // Styles for every district.
    let mut styles = BTreeMap::new();
    for d in m.districts() {
        let v = api
            .ok("GET", &format!("/election/style/{}", d.id), false, None)
            .await;
        assert_eq!(v["contests"][0]["options"][0]["id"], "yes");
        // No `order` in the manifest: the options are shown in its order.
        assert_eq!(v["contests"][0]["order"], "manifest");
        styles.insert(d.id.clone(), style_from(&v));
    }
    api.refused(
        "GET",
        "/election/style/nowhere",
        false,
        None,
        StatusCode::NOT_FOUND,
        "unknown_district",
    )
    .await;

    // Registration: 205 voters spread over the precincts.
    const VOTERS: usize = 205;
    let precincts: Vec<(String, String)> = m
        .precincts()
        .iter()
        .map(|p| (m.districts()[p.district].id.clone(), p.id.clone()))
        .collect();
    let mut voters = Vec::new();
    for i in 0..VOTERS {
        let key = CredentialKey::generate(&mut rng);
        let (d, p) = precincts[i % precincts.len()].clone();
        api.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": d, "precinct": p, "credential": key.public().to_hex() })),
        )
        .await;
        voters.push((key, d));
    }
    api.refused(
        "POST",
        "/election/credentials",
        true,
        Some(json!({ "district": voters[0].1, "precinct": precincts[0].1, "credential": voters[0].0.public().to_hex() })),
        StatusCode::CONFLICT,
        "duplicate_credential",
    )
    .await;
    api.refused(
        "POST",
        "/election/credentials",
        false,
        Some(json!({ "district": "msk-cao", "precinct": "uik-0001", "credential": CredentialKey::generate(&mut rng).public().to_hex() })),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // Opening before the voting window is refused; then open.
    api.refused(
        "POST",
        "/election/open",
        true,
        None,
        StatusCode::CONFLICT,
        "too_early",
    )
    .await;
    let voting_opens = sched.voting_opens;
    clock.set(voting_opens.plus_seconds(1800));
    // A ballot before the open is refused.
    let (early, _) = make_ballot(&styles[&voters[0].1], &voters[0].0, true);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&early) })),
        StatusCode::FORBIDDEN,
        "voting_not_open",
    )
    .await;
    api.ok("POST", "/election/open", true, None).await;

    // 200 voters cast concurrently; voter i votes yes iff i % 3 != 0.
    const CAST: usize = 200;
    let ballots: Vec<Vec<u8>> = voters[..CAST]
        .iter()
        .enumerate()
        .map(|(i, (k, d))| make_ballot(&styles[d], k, i % 3 != 0).0)
        .collect();
    let api = Arc::new(api);
    let tasks: Vec<_> = ballots
        .iter()
        .cloned()
        .map(|b| {
            let api = Arc::clone(&api);
            tokio::spawn(async move {
                let r = api
                    .ok(
                        "POST",
                        "/election/ballots",
                        false,
                        Some(json!({ "ballot": hexed(&b) })),
                    )
                    .await;
                (b, r)
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for t in tasks {
        receipts.push(t.await.unwrap());
    }
    let mut indices: Vec<u64> = receipts
        .iter()
        .map(|(_, r)| r["index"].as_u64().unwrap())
        .collect();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), CAST);
    for (b, r) in &receipts {
        assert_eq!(r["kind"], "ballot");
        assert_eq!(r["tracking"], hex::encode(urna_election::tracking_code(b)));
        check_receipt(&store, r, EntryKind::Ballot, b);
    }

    // Proofs were verified in batches across concurrent submissions.
    let st = api.ok("GET", "/election/status", false, None).await;
    let (batches, batched) = (
        st["verifier"]["batches"].as_u64().unwrap(),
        st["verifier"]["ballots"].as_u64().unwrap(),
    );
    assert_eq!(batched, CAST as u64);
    assert!(batches < batched, "no batching: {batches} batches");

    // Refusals, each with its code and the board unchanged.
    let (k0, d0) = &voters[0];
    let (revote, _) = make_ballot(&styles[d0], k0, false);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&revote) })),
        StatusCode::CONFLICT,
        "revote_forbidden",
    )
    .await;
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&ballots[1]) })),
        StatusCode::CONFLICT,
        "replayed_ballot",
    )
    .await;
    let (k, d) = &voters[CAST];
    let (mut tampered, _) = make_ballot(&styles[d], k, true);
    let at = tampered.len() - 100;
    tampered[at] ^= 1;
    let before = store.size();
    let (st, b) = api
        .call(
            "POST",
            "/election/ballots",
            false,
            Some(
                json!({ "ballot": hexed(&tampered) })
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        matches!(
            v["error"]["code"].as_str().unwrap(),
            "invalid_proof"
                | "invalid_signature"
                | "non_canonical_scalar"
                | "non_canonical_element"
        ),
        "{v}"
    );
    assert_eq!(store.size(), before);
    let stranger = CredentialKey::generate(&mut rng);
    let (sb, _) = make_ballot(&styles["msk-cao"], &stranger, true);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&sb) })),
        StatusCode::FORBIDDEN,
        "unknown_credential",
    )
    .await;
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": "00ff" })),
        StatusCode::BAD_REQUEST,
        "unknown_version",
    )
    .await;
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "vote": "00" })),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;

    // Turnout: counts only, never results, before the close.
    let t = api.ok("GET", "/election/turnout", false, None).await;
    assert_eq!(t["voted"], CAST as u64);
    assert_eq!(t["eligible"], VOTERS as u64);
    assert_eq!(t["ballots"], CAST as u64);
    let district_sum: u64 = t["districts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["voted"].as_u64().unwrap())
        .sum();
    assert_eq!(district_sum, CAST as u64);
    assert_eq!(t["hours"].as_array().unwrap().len(), 1);
    let text_t = t.to_string();
    for leak in ["\"yes\"", "\"no\"", "counts", "results", "amendments"] {
        assert!(!text_t.contains(leak), "turnout leaks {leak}: {text_t}");
    }
    api.refused(
        "GET",
        "/election/results",
        false,
        None,
        StatusCode::CONFLICT,
        "results_not_published",
    )
    .await;
    api.refused(
        "GET",
        "/election/tally",
        false,
        None,
        StatusCode::CONFLICT,
        "tally_not_published",
    )
    .await;
    api.refused(
        "POST",
        "/election/tally",
        true,
        None,
        StatusCode::CONFLICT,
        "wrong_phase",
    )
    .await;

    // A Benaloh audit by a voter who has not voted: spoiled, never castable.
    let (k, d) = &voters[CAST + 1];
    let (ab, secrets) = make_ballot(&styles[d], k, true);
    let audit = AuditedBallot::encode(&ab, &secrets).unwrap();
    let r = api
        .ok(
            "POST",
            "/election/audits",
            false,
            Some(json!({ "audit": hexed(&audit) })),
        )
        .await;
    check_receipt(&store, &r, EntryKind::AuditedBallot, &audit);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&ab) })),
        StatusCode::CONFLICT,
        "audited_ballot",
    )
    .await;

    // A receipt answers at any time against the latest checkpoint.
    let (b5, r5) = &receipts[5];
    let fresh = api
        .ok(
            "GET",
            &format!("/receipt/{}", r5["tracking"].as_str().unwrap()),
            false,
            None,
        )
        .await;
    assert_eq!(fresh["index"], r5["index"]);
    assert_eq!(fresh["tree_size"].as_u64().unwrap(), store.size());
    check_receipt(&store, &fresh, EntryKind::Ballot, b5);
    api.refused(
        "GET",
        &format!("/receipt/{}", "ab".repeat(32)),
        false,
        None,
        StatusCode::NOT_FOUND,
        "unknown_tracking_code",
    )
    .await;

    // Close: too early, then at the scheduled end; ballots after it are refused.
    api.refused(
        "POST",
        "/election/close",
        true,
        None,
        StatusCode::CONFLICT,
        "too_early",
    )
    .await;
    clock.set(sched.voting_closes);
    let (k, d) = &voters[CAST + 2];
    let (late, _) = make_ballot(&styles[d], k, true);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&late) })),
        StatusCode::FORBIDDEN,
        "outside_voting_window",
    )
    .await;
    api.ok("POST", "/election/close", true, None).await;
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&late) })),
        StatusCode::FORBIDDEN,
        "voting_closed",
    )
    .await;
    api.refused(
        "GET",
        "/election/results",
        false,
        None,
        StatusCode::CONFLICT,
        "results_not_published",
    )
    .await;

    // Tally; trustees 1 and 3 decrypt what the server published.
    let items = tally_and_fetch(&api).await;
    let fp = styles["msk-cao"].fingerprint;
    let partial_body = |j: u16| {
        let p = shares[&j].partial_decrypt_batch(&fp, &items, &mut rand::rng());
        let payloads = PartialChunk::payloads(j, &p).unwrap();
        json!({ "payloads": payloads.iter().map(|x| hexed(x)).collect::<Vec<_>>() })
    };
    api.ok("POST", "/election/partials", true, Some(partial_body(1)))
        .await;
    api.refused(
        "POST",
        "/election/results",
        true,
        None,
        StatusCode::CONFLICT,
        "not_enough_trustees",
    )
    .await;
    api.refused(
        "POST",
        "/election/partials",
        true,
        Some(partial_body(1)),
        StatusCode::CONFLICT,
        "duplicate_trustee",
    )
    .await;
    api.ok("POST", "/election/partials", true, Some(partial_body(3)))
        .await;
    api.ok("POST", "/election/results", true, None).await;

    // Results: voter i (i < 200) voted yes iff i % 3 != 0.
    let res = api.ok("GET", "/election/results", false, None).await;
    let total = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap();
    let yes = (0..CAST).filter(|i| i % 3 != 0).count() as u64;
    assert_eq!(total["options"], json!(["yes", "no"]));
    assert_eq!(total["ballots"], CAST as u64);
    assert_eq!(total["counts"], json!([yes, CAST as u64 - yes]));
    for r in res["results"].as_array().unwrap() {
        if r["scope"] == "district" {
            let d = r["id"].as_str().unwrap();
            let (y, n) = voters[..CAST]
                .iter()
                .enumerate()
                .filter(|(_, (_, vd))| vd == d)
                .fold((0u64, 0u64), |(y, n), (i, _)| {
                    if i % 3 != 0 { (y + 1, n) } else { (y, n + 1) }
                });
            assert_eq!(r["counts"], json!([y, n]), "{d}");
        }
    }

    // Receipts still verify against the final checkpoint.
    let fresh = api
        .ok(
            "GET",
            &format!("/receipt/{}", r5["tracking"].as_str().unwrap()),
            false,
            None,
        )
        .await;
    check_receipt(&store, &fresh, EntryKind::Ballot, b5);
    let final_status = api.ok("GET", "/election/status", false, None).await;
    assert_eq!(final_status["phase"], "decrypted");

    // A restart replays the whole board: every entry the engine produces
    // again (close, tally, partials, results) equals the stored one, and
    // the election answers as before (spec/api.md §A6).
    let turnout = api.ok("GET", "/election/turnout", false, None).await;
    let tally = api.ok("GET", "/election/tally", false, None).await;
    drop(api);
    let (state, report) = resume(config).await.unwrap().unwrap();
    assert_eq!(report.phase, "decrypted");
    assert_eq!(report.ballots, CAST as u64 + 1, "{report:?}");
    assert_eq!((report.audited, report.untimed), (1, 0), "{report:?}");
    let api = Api {
        app: app(state),
        store: store.clone(),
    };
    assert_eq!(api.ok("GET", "/election/results", false, None).await, res);
    assert_eq!(api.ok("GET", "/election/tally", false, None).await, tally);
    assert_eq!(
        api.ok("GET", "/election/turnout", false, None).await,
        turnout
    );
    let fresh = api
        .ok(
            "GET",
            &format!("/receipt/{}", r5["tracking"].as_str().unwrap()),
            false,
            None,
        )
        .await;
    check_receipt(&store, &fresh, EntryKind::Ballot, b5);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&late) })),
        StatusCode::FORBIDDEN,
        "voting_closed",
    )
    .await;
    api.refused(
        "POST",
        "/election/results",
        true,
        None,
        StatusCode::CONFLICT,
        "wrong_phase",
    )
    .await;
}

/// The engine counts before the board stores: a failed append halts the
/// election (503) and nothing more is accepted.
#[tokio::test]
async fn failed_append_halts_the_election() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.db");
    let store = BoardStore::open_sqlite(&path, board_key()).unwrap();
    let text = manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let clock = TestClock::new(m.schedule().applications_open);
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock));
    let api = Api {
        app: app(AppState::with_election(store.clone(), config)),
        store: store.clone(),
    };
    let (st, _) = api
        .call("POST", "/election/manifest", true, Some(text.into_bytes()))
        .await;
    assert_eq!(st, StatusCode::OK);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_more BEFORE INSERT ON board_entries \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    drop(conn);
    let mut rng = rand::rng();
    let params = CeremonyParams::new(3, 2).unwrap();
    let tr = Trustee::new(params, 1, m.hash(), KeyPair::generate(&mut rng)).unwrap();
    let (_, msg) = tr.start(&mut rng);
    let body = json!({ "message": hexed(&CeremonyMessage::Round1(msg).encode()) });
    let size = store.size();
    let (st, b) = api
        .call(
            "POST",
            "/election/ceremony",
            true,
            Some(body.to_string().into_bytes()),
        )
        .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "election_halted");
    assert_eq!(store.size(), size);
    for (uri, body) in [
        ("/election/ceremony", Some(body.clone())),
        ("/election/ballots", Some(json!({ "ballot": "00" }))),
        ("/election/ceremony/finish", None),
    ] {
        api.refused(
            "POST",
            uri,
            true,
            body,
            StatusCode::SERVICE_UNAVAILABLE,
            "election_halted",
        )
        .await;
    }
    // Reads still answer.
    let st = api.ok("GET", "/election/status", false, None).await;
    assert_eq!(st["phase"], "key_ceremony");
}

/// The same on the casting path: ballots counted by the engine whose
/// entries cannot be stored are answered 503 without a receipt, and the
/// election stops accepting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_ballot_append_halts_casting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.db");
    let store = BoardStore::open_sqlite(&path, board_key()).unwrap();
    let text = manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let clock = TestClock::new(m.schedule().applications_open);
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let api = Arc::new(Api {
        app: app(AppState::with_election(store.clone(), config)),
        store: store.clone(),
    });
    let (st, _) = api
        .call("POST", "/election/manifest", true, Some(text.into_bytes()))
        .await;
    assert_eq!(st, StatusCode::OK);
    ceremony(&api, &m).await;
    api.ok("POST", "/election/ceremony/finish", true, None)
        .await;
    let style = style_from(&api.ok("GET", "/election/style/msk-cao", false, None).await);
    let mut rng = rand::rng();
    let creds: Vec<CredentialKey> = (0..4).map(|_| CredentialKey::generate(&mut rng)).collect();
    for c in &creds {
        api.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": "msk-cao", "precinct": "uik-0001", "credential": c.public().to_hex() })),
        )
        .await;
    }
    clock.set(m.schedule().voting_opens);
    api.ok("POST", "/election/open", true, None).await;
    let size = store.size();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_more BEFORE INSERT ON board_entries \
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    drop(conn);
    let tasks: Vec<_> = creds[..3]
        .iter()
        .map(|c| {
            let b = make_ballot(&style, c, true).0;
            let api = Arc::clone(&api);
            tokio::spawn(async move {
                api.call(
                    "POST",
                    "/election/ballots",
                    false,
                    Some(json!({ "ballot": hexed(&b) }).to_string().into_bytes()),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        let (st, b) = t.await.unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["error"]["code"], "election_halted");
    }
    assert_eq!(store.size(), size);
    let (b, _) = make_ballot(&style, &creds[3], false);
    api.refused(
        "POST",
        "/election/ballots",
        false,
        Some(json!({ "ballot": hexed(&b) })),
        StatusCode::SERVICE_UNAVAILABLE,
        "election_halted",
    )
    .await;
    api.refused(
        "POST",
        "/election/close",
        true,
        None,
        StatusCode::SERVICE_UNAVAILABLE,
        "election_halted",
    )
    .await;
}

/// Runs an election up to just before the close with voters choosing
/// `choices[i]`, and returns every public answer that exists before the
/// close: turnout, status (without keys), tally and results refusals.
async fn public_before_close(choices: &[bool]) -> Vec<(String, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board_key()).unwrap();
    let text = manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let api = Api {
        app: app(AppState::with_election(store.clone(), config)),
        store: store.clone(),
    };
    let (st, _) = api
        .call("POST", "/election/manifest", true, Some(text.into_bytes()))
        .await;
    assert_eq!(st, StatusCode::OK);
    ceremony(&api, &m).await;
    api.ok("POST", "/election/ceremony/finish", true, None)
        .await;
    let mut rng = rand::rng();
    let mut voters = Vec::new();
    for i in 0..choices.len() {
        let p = &m.precincts()[i % m.precincts().len()];
        let d = m.districts()[p.district].id.clone();
        let key = CredentialKey::generate(&mut rng);
        api.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() })),
        )
        .await;
        voters.push((key, d));
    }
    clock.set(sched.voting_opens.plus_seconds(60));
    api.ok("POST", "/election/open", true, None).await;
    for (i, ((key, d), &yes)) in voters.iter().zip(choices).enumerate() {
        // Ballots spread over three hours.
        clock.set(sched.voting_opens.plus_seconds(60 + 1800 * (i as u64 % 6)));
        let v = api
            .ok("GET", &format!("/election/style/{d}"), false, None)
            .await;
        let (b, _) = make_ballot(&style_from(&v), key, yes);
        api.ok(
            "POST",
            "/election/ballots",
            false,
            Some(json!({ "ballot": hexed(&b) })),
        )
        .await;
    }
    let mut out = Vec::new();
    let t = api.ok("GET", "/election/turnout", false, None).await;
    out.push(("turnout".into(), t));
    let mut st = api.ok("GET", "/election/status", false, None).await;
    for k in ["joint_key", "fingerprint", "verifier"] {
        st.as_object_mut().unwrap().remove(k);
    }
    out.push(("status".into(), st));
    for uri in ["/election/tally", "/election/results"] {
        let (st, b) = api.call("GET", uri, false, None).await;
        assert_eq!(st, StatusCode::CONFLICT, "{uri}");
        out.push((uri.into(), serde_json::from_slice(&b).unwrap()));
    }
    out
}

/// No endpoint tells anything about the choices before the close: every
/// public answer is the same whether everyone voted yes, no, or a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_about_choices_before_the_close() {
    let n = 14;
    let yes = public_before_close(&vec![true; n]).await;
    let no = public_before_close(&vec![false; n]).await;
    let mixed: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
    let mixed = public_before_close(&mixed).await;
    assert_eq!(yes, no);
    assert_eq!(yes, mixed);
    // The hourly turnout is in the manifest's zone (Europe/Moscow, +03:00).
    let t = &yes[0].1;
    assert_eq!(t["voted"], n as u64);
    let hours = t["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 3, "{t}");
    if std::path::Path::new("/usr/share/zoneinfo/Europe/Moscow").exists() {
        assert_eq!(t["time_zone"], "Europe/Moscow");
        assert_eq!(hours[0]["hour"], "2020-06-25T10:00:00+03:00", "{t}");
    }
    let per_hour: u64 = hours.iter().map(|h| h["voters"].as_u64().unwrap()).sum();
    assert_eq!(per_hour, n as u64);
}

/// Admin registration, recording what `ballots_recorded` is told.
#[derive(Debug, Default)]
struct Recording(std::sync::Mutex<std::collections::BTreeSet<[u8; 32]>>);

impl urna_server::election::Registrar for Recording {
    fn authorize(&self, headers: &axum::http::HeaderMap) -> Result<(), urna_server::ApiError> {
        urna_server::election::AdminToken::new(TOKEN).check(headers)
    }

    fn ballots_recorded(&self, credentials: &[[u8; 32]]) {
        self.0.lock().unwrap().extend(credentials.iter().copied());
    }
}

/// The commission's reconciliation (spec/api.md §A3, spec/record.md §R9):
/// after the close, before the tally; on the board; the annulled e-votes
/// are not counted; refusals change nothing; a restart replays it.
/// The registrar is told who cast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_annuls_paper_voters() {
    let dir = tempfile::tempdir().unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board_key()).unwrap();
    let text = manifest_text().replace(
        "paper_after_evote = \"evote-stands\"",
        "paper_after_evote = \"evote-annulled\"",
    );
    assert!(text.contains("evote-annulled"));
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let mut config =
        ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let told = Arc::new(Recording::default());
    config.registrar = told.clone();
    let journal = dir.path().join("server.journal");
    let resume = |config: ElectionConfig| {
        let (store, journal) = (store.clone(), journal.clone());
        tokio::task::spawn_blocking(move || AppState::resume(store, config, &journal))
    };
    let api = Api {
        app: app(resume(config.clone()).await.unwrap().unwrap().0),
        store: store.clone(),
    };
    let (st, _) = api
        .call("POST", "/election/manifest", true, Some(text.into_bytes()))
        .await;
    assert_eq!(st, StatusCode::OK);
    let shares = ceremony(&api, &m).await;
    api.ok("POST", "/election/ceremony/finish", true, None)
        .await;
    let mut rng = rand::rng();
    let mut voters = Vec::new();
    for i in 0..7 {
        let p = &m.precincts()[i % m.precincts().len()];
        let d = m.districts()[p.district].id.clone();
        let key = CredentialKey::generate(&mut rng);
        api.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() })),
        )
        .await;
        voters.push((key, d));
    }
    clock.set(sched.voting_opens.plus_seconds(60));
    api.ok("POST", "/election/open", true, None).await;
    // Voters 0..6 vote yes; voter 6 does not vote.
    for (key, d) in &voters[..6] {
        let v = api
            .ok("GET", &format!("/election/style/{d}"), false, None)
            .await;
        let (b, _) = make_ballot(&style_from(&v), key, true);
        api.ok(
            "POST",
            "/election/ballots",
            false,
            Some(json!({ "ballot": hexed(&b) })),
        )
        .await;
    }
    // The registrar is told exactly who cast (voter 6 did not), once the
    // ballots are durable; it runs beside the receipts, so wait for it.
    let expected: std::collections::BTreeSet<[u8; 32]> = voters[..6]
        .iter()
        .map(|(k, _)| *k.public().as_bytes())
        .collect();
    for _ in 0..200 {
        if told.0.lock().unwrap().len() >= expected.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(*told.0.lock().unwrap(), expected);
    let cred = |i: usize| voters[i].0.public().to_hex();
    let body = |list: Vec<(String, &str)>| json!({ "annulled": list.into_iter().map(|(c, r)| json!({ "credential": c, "reason": r })).collect::<Vec<_>>() });
    let good = body(vec![(cred(0), "paper_vote"), (cred(1), "decision")]);
    api.refused(
        "POST",
        "/election/reconciliation",
        true,
        Some(good.clone()),
        StatusCode::CONFLICT,
        "wrong_phase",
    )
    .await;
    clock.set(sched.voting_closes);
    api.ok("POST", "/election/close", true, None).await;
    api.refused(
        "POST",
        "/election/reconciliation",
        false,
        Some(good.clone()),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    for (bad, status, code) in [
        (
            body(vec![(cred(6), "paper_vote")]),
            StatusCode::BAD_REQUEST,
            "nothing_to_annul",
        ),
        (
            body(vec![(cred(0), "paper_vote"), (cred(0), "decision")]),
            StatusCode::BAD_REQUEST,
            "duplicate_annulment",
        ),
        (
            body(vec![("AB".repeat(32), "decision")]),
            StatusCode::BAD_REQUEST,
            "invalid_hex",
        ),
        (
            body(vec![("ff".repeat(32), "decision")]),
            StatusCode::BAD_REQUEST,
            "invalid_credential",
        ),
        (
            body(vec![(cred(0), "lost_in_the_mail")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        api.refused(
            "POST",
            "/election/reconciliation",
            true,
            Some(bad),
            status,
            code,
        )
        .await;
    }
    let r = api
        .ok("POST", "/election/reconciliation", true, Some(good.clone()))
        .await;
    assert_eq!(r["entries"].as_array().unwrap().len(), 1);
    let entry = store.entry(r["entries"][0].as_u64().unwrap()).unwrap();
    assert_eq!(entry.entry.kind(), EntryKind::Reconciliation);
    api.refused(
        "POST",
        "/election/reconciliation",
        true,
        Some(good),
        StatusCode::CONFLICT,
        "already_reconciled",
    )
    .await;

    // The tally counts the four e-votes that stand.
    let items = tally_and_fetch(&api).await;
    let fp = style_from(&api.ok("GET", "/election/style/msk-cao", false, None).await).fingerprint;
    for j in [2u16, 3] {
        let p = shares[&j].partial_decrypt_batch(&fp, &items, &mut rand::rng());
        let payloads = PartialChunk::payloads(j, &p).unwrap();
        api.ok(
            "POST",
            "/election/partials",
            true,
            Some(json!({ "payloads": payloads.iter().map(|x| hexed(x)).collect::<Vec<_>>() })),
        )
        .await;
    }
    api.ok("POST", "/election/results", true, None).await;
    let res = api.ok("GET", "/election/results", false, None).await;
    let total = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap()
        .clone();
    assert_eq!(total["ballots"], 4);
    assert_eq!(total["counts"], json!([4, 0]));

    // A restart replays the reconciliation and everything after it.
    drop(api);
    let (state, report) = resume(config).await.unwrap().unwrap();
    assert_eq!(report.phase, "decrypted");
    let api = Api {
        app: app(state),
        store: store.clone(),
    };
    assert_eq!(api.ok("GET", "/election/results", false, None).await, res);

    // Without the journal the precincts of the sealed credentials are
    // unknown: the server refuses to start rather than guess.
    drop(api);
    std::fs::remove_file(&journal).unwrap();
    let config = ElectionConfig::new(AdminToken::new(TOKEN));
    let err = resume(config).await.unwrap().unwrap_err();
    assert!(
        err.to_string().contains("not in the server journal"),
        "{err}"
    );
    assert!(err.index.is_some(), "{err}");
}
