//! `urna serve` survives `kill -9` (spec/api.md §A6): the real binary,
//! a real clock, ballots cast from several threads while the process is
//! killed; on restart over the same folder every acknowledged receipt
//! still answers, the turnout is the same, the re-vote interval of a
//! credential that already voted still applies, and casting continues.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{Server, manifest, now};
use serde_json::{Value, json};
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::{KeyPair, PublicKey};
use urna_crypto::encoding::Element;
use urna_election::Manifest;
use urna_election::record::CeremonyMessage;

#[derive(Clone)]
pub(crate) struct Style {
    header: Vec<u8>,
    shapes: Vec<ContestShape>,
    key: PublicKey,
    fingerprint: Fingerprint,
}

pub(crate) fn style_from(v: &Value) -> Style {
    let shapes = v["contests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = &c["shape"];
            ContestShape {
                options: s["options"].as_u64().unwrap() as u16,
                option_max: s["option_max"].as_u64().unwrap() as u32,
                min: s["min"].as_u64().unwrap() as u32,
                max: s["max"].as_u64().unwrap() as u32,
            }
        })
        .collect();
    let fp: [u8; 32] = hex::decode(v["fingerprint"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    Style {
        header: hex::decode(v["header"].as_str().unwrap()).unwrap(),
        shapes,
        key: PublicKey::new(Element::from_hex(v["joint_key"].as_str().unwrap()).unwrap()).unwrap(),
        fingerprint: Fingerprint(fp),
    }
}

pub(crate) fn ballot(style: &Style, cred: &CredentialKey, yes: bool) -> Vec<u8> {
    let sel = if yes {
        vec![vec![1, 0]]
    } else {
        vec![vec![0, 1]]
    };
    Ballot::encrypt(
        &style.key,
        &style.fingerprint,
        cred,
        &style.header,
        &style.shapes,
        &sel,
        &mut rand::rng(),
    )
    .unwrap()
    .0
    .encode()
    .unwrap()
}

/// Manifest, ceremony over the admin endpoints, registration of `voters`.
fn set_up(srv: &Server, text: &str, voters: usize) -> Vec<(CredentialKey, String)> {
    let mut rng = rand::rng();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let r = common::request(
        &srv.addr,
        "POST",
        "/election/manifest",
        Some(common::TOKEN),
        Some(text.as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let params = CeremonyParams::new(3, 2).unwrap();
    let post = |msg: CeremonyMessage| {
        srv.ok(
            "POST",
            "/election/ceremony",
            true,
            Some(json!({ "message": hex::encode(msg.encode()) })),
        );
    };
    let mut r1s = Vec::new();
    let mut m1 = Vec::new();
    for i in 1..=3 {
        let t = Trustee::new(params, i, m.hash(), KeyPair::generate(&mut rng)).unwrap();
        let (r1, msg) = t.start(&mut rng);
        post(CeremonyMessage::Round1(msg.clone()));
        r1s.push(r1);
        m1.push(msg);
    }
    for r1 in r1s {
        let (_, msg) = r1.deal(&m1, &mut rng).unwrap();
        post(CeremonyMessage::Round2(msg));
    }
    srv.ok("POST", "/election/ceremony/finish", true, None);
    let mut out = Vec::new();
    for i in 0..voters {
        let p = &m.precincts()[i % m.precincts().len()];
        let d = m.districts()[p.district].id.clone();
        let key = CredentialKey::generate(&mut rng);
        srv.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() })),
        );
        out.push((key, d));
    }
    out
}

fn styles(srv: &Server, voters: &[(CredentialKey, String)]) -> BTreeMap<String, Style> {
    let mut out = BTreeMap::new();
    for (_, d) in voters {
        if !out.contains_key(d) {
            let v = srv.ok("GET", &format!("/election/style/{d}"), false, None);
            out.insert(d.clone(), style_from(&v));
        }
    }
    out
}

pub(crate) fn cast(addr: &str, b: &[u8]) -> std::io::Result<common::Resp> {
    let body = json!({ "ballot": hex::encode(b) }).to_string();
    common::request(
        addr,
        "POST",
        "/election/ballots",
        None,
        Some(body.as_bytes()),
    )
}

/// Ballots acknowledged with a receipt, shared by the casting threads.
type Acked = Arc<Mutex<Vec<(Vec<u8>, Value)>>>;

#[test]
fn kill_9_then_resume() {
    const VOTERS: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Voting opens a few seconds from now: registration happens before.
    let opens = now() + 6;
    let text = manifest(
        opens,
        "[revote]\npolicy = \"last-counts\"\nmin_interval_seconds = 3600",
    );

    let srv = Server::start(&data).unwrap();
    let voters = set_up(&srv, &text, VOTERS);
    // A restart during registration keeps every acknowledged registration.
    srv.kill();
    let srv = Server::start(&data).unwrap();
    let t = srv.ok("GET", "/election/turnout", false, None);
    assert_eq!(t["eligible"], VOTERS as u64, "{t}");
    assert_eq!(
        srv.ok("GET", "/election/status", false, None)["phase"],
        "registration"
    );
    let styles = styles(&srv, &voters);
    while now() < opens {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let opened = srv.ok("POST", "/election/open", true, None);
    assert_eq!(opened["phase"], "voting");

    // Voter 0 votes, then tries again at once: too soon under last-counts.
    let first = ballot(&styles[&voters[0].1], &voters[0].0, true);
    let r = cast(&srv.addr, &first).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let again = ballot(&styles[&voters[0].1], &voters[0].0, false);
    let r = cast(&srv.addr, &again).unwrap();
    assert_eq!((r.status, r.code().as_str()), (429, "revote_too_soon"));

    // Four threads cast voters 1..40 while the server is killed under them.
    let ballots: Vec<Vec<u8>> = (1..40)
        .map(|i| ballot(&styles[&voters[i].1], &voters[i].0, i % 3 != 0))
        .collect();
    let acked: Acked = Arc::new(Mutex::new(Vec::new()));
    acked.lock().unwrap().push((first.clone(), Value::Null));
    let addr = srv.addr.clone();
    let threads: Vec<_> = (0..4)
        .map(|k| {
            let mine: Vec<Vec<u8>> = ballots.iter().skip(k).step_by(4).cloned().collect();
            let (acked, addr) = (Arc::clone(&acked), addr.clone());
            std::thread::spawn(move || {
                for b in mine {
                    match cast(&addr, &b) {
                        Ok(r) if r.status == 200 => acked.lock().unwrap().push((b, r.json())),
                        Ok(r) => {
                            panic!("refused: {} {}", r.status, String::from_utf8_lossy(&r.body))
                        }
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 15 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    srv.kill();
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 15);

    // Restart on the same folder.
    let srv = Server::start(&data).unwrap();
    assert_eq!(
        srv.ok("GET", "/election/status", false, None)["phase"],
        "voting"
    );
    for (b, r) in &acked {
        let tracking = hex::encode(urna_election::tracking_code(b));
        let got = srv.ok("GET", &format!("/receipt/{tracking}"), false, None);
        assert_eq!(got["kind"], "ballot");
        if !r.is_null() {
            assert_eq!(got["index"], r["index"], "receipt index moved");
            assert_eq!(got["leaf_hash"], r["leaf_hash"]);
        }
        // A replay of an acknowledged ballot is still a replay.
        let again = cast(&srv.addr, b).unwrap();
        assert_eq!(
            again.status,
            409,
            "{}",
            String::from_utf8_lossy(&again.body)
        );
    }
    let t = srv.ok("GET", "/election/turnout", false, None);
    let voted = t["voted"].as_u64().unwrap();
    assert!(voted >= acked.len() as u64, "{t}");
    assert_eq!(t["eligible"], VOTERS as u64);

    // The re-vote interval of voter 0 survived the restart.
    let r = cast(&srv.addr, &again).unwrap();
    assert_eq!(
        (r.status, r.code().as_str()),
        (429, "revote_too_soon"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );

    // Casting continues: the voters who had not voted yet.
    let before = voted;
    for i in 40..50 {
        let b = ballot(&styles[&voters[i].1], &voters[i].0, true);
        let r = cast(&srv.addr, &b).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let t = srv.ok("GET", "/election/turnout", false, None);
    assert_eq!(t["voted"].as_u64().unwrap(), before + 10, "{t}");

    // A third start over the same folder replays the new ballots too.
    srv.kill();
    let srv = Server::start(&data).unwrap();
    let t2 = srv.ok("GET", "/election/turnout", false, None);
    assert_eq!(t2["voted"], t["voted"]);
    assert_eq!(t2["hours"], t["hours"], "hourly turnout changed on restart");
}

#[test]
fn refuses_a_board_that_does_not_replay() {
    use urna_board::{BoardSigningKey, Entry, EntryKind};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A board whose first entry is a ballot: no election starts that way.
    let secret = [9u8; 32];
    std::fs::write(
        data.join("board.key"),
        format!("urna.test/resume\n{}\n", hex::encode(secret)),
    )
    .unwrap();
    {
        let key = BoardSigningKey::from_secret_bytes("urna.test/resume", &secret).unwrap();
        let store = urna_store::BoardStore::open_sqlite(data.join("board.db"), key).unwrap();
        store
            .append(Entry::new(EntryKind::Ballot, b"not a ballot").unwrap())
            .unwrap();
    }
    let err = Server::start(&data)
        .err()
        .expect("the server started on a board that does not replay");
    assert!(
        err.contains("refusing to start") && err.contains("board entry 0 does not replay"),
        "{err}"
    );
    assert!(err.contains("phase `empty`"), "{err}");
}
