//! Measures, through the real HTTP server on a SQLite board, the path
//! from the close to published results (close, tally, three trustees'
//! partial decryptions with proofs posted over HTTP, combination and
//! results), and then a restart: the replay of the whole board.
//!
//! ```sh
//! cargo run --release -p urna-server --example close_to_results -- 20000
//! ```
//!
//! N yes/no ballots are encrypted by two device threads and cast over
//! HTTP by four client threads (the voting window is the test clock's).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use urna_board::BoardSigningKey;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Trustee};
use urna_crypto::elgamal::KeyPair;
use urna_election::Manifest;
use urna_election::record::{CeremonyMessage, PartialChunk, TallyChunk};
use urna_election::rules::tally_items;
use urna_server::election::{AdminToken, TestClock};
use urna_server::{AppState, ElectionConfig};
use urna_store::BoardStore;

const TOKEN: &str = "bench-admin";

fn call(addr: &str, method: &str, path: &str, admin: bool, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = if admin {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

fn ok(addr: &str, method: &str, path: &str, admin: bool, body: Option<Value>) -> Value {
    let b = body.map(|v| v.to_string().into_bytes()).unwrap_or_default();
    let (st, r) = call(addr, method, path, admin, &b);
    assert!(
        (200..300).contains(&st),
        "{method} {path}: {st} {}",
        String::from_utf8_lossy(&r)
    );
    serde_json::from_slice(&r).unwrap_or(Value::Null)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().unwrap();
    let key = BoardSigningKey::from_secret_bytes("urna.bench/close", &[3; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    let text = include_str!("../../../examples/moscow-2020-constitution.toml");
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let sched = m.schedule().clone();
    let clock = TestClock::new(sched.applications_open.plus_seconds(3600));
    let config = ElectionConfig::new(AdminToken::new(TOKEN)).with_clock(Arc::new(clock.clone()));
    let journal = dir.path().join("server.journal");
    let (state, _) = AppState::resume(store.clone(), config.clone(), &journal).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(urna_server::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let a = addr.as_str();

    let (st, b) = call(a, "POST", "/election/manifest", true, text.as_bytes());
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&b));
    // Ceremony: 5 trustees, t = 3, as in the example manifest.
    let mut rng = rand::rng();
    let params = CeremonyParams::new(5, 3).unwrap();
    let post = |msg: CeremonyMessage| {
        ok(
            a,
            "POST",
            "/election/ceremony",
            true,
            Some(json!({ "message": hex::encode(msg.encode()) })),
        );
    };
    let (mut r1s, mut m1) = (Vec::new(), Vec::new());
    for i in 1..=5 {
        let t = Trustee::new(params, i, m.hash(), KeyPair::generate(&mut rng)).unwrap();
        let (r1, msg) = t.start(&mut rng);
        post(CeremonyMessage::Round1(msg.clone()));
        r1s.push(r1);
        m1.push(msg);
    }
    let (mut r2s, mut m2) = (Vec::new(), Vec::new());
    for r1 in r1s {
        let (r2, msg) = r1.deal(&m1, &mut rng).unwrap();
        post(CeremonyMessage::Round2(msg.clone()));
        r2s.push(r2);
        m2.push(msg);
    }
    let shares: Vec<_> = r2s
        .into_iter()
        .map(|r2| {
            r2.receive(&m2, &mut rng)
                .0
                .finish(&[], &mut rng)
                .unwrap()
                .key_share()
                .clone()
        })
        .collect();
    ok(a, "POST", "/election/ceremony/finish", true, None);

    // Registration, spread over the precincts.
    let t0 = Instant::now();
    let creds: Vec<(CredentialKey, String, String)> = (0..n)
        .map(|i| {
            let p = &m.precincts()[i % m.precincts().len()];
            (
                CredentialKey::generate(&mut rand::rng()),
                m.districts()[p.district].id.clone(),
                p.id.clone(),
            )
        })
        .collect();
    std::thread::scope(|s| {
        for part in creds.chunks(n.div_ceil(4).max(1)) {
            s.spawn(move || {
                for (k, d, p) in part {
                    ok(a, "POST", "/election/credentials", true, Some(json!({ "district": d, "precinct": p, "credential": k.public().to_hex() })));
                }
            });
        }
    });
    eprintln!(
        "registered {n} credentials in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    clock.set(sched.voting_opens.plus_seconds(60));
    ok(a, "POST", "/election/open", true, None);

    // Devices: encrypt (yes iff i % 3 != 0).
    let t0 = Instant::now();
    let styles: std::collections::HashMap<String, Value> = m
        .districts()
        .iter()
        .map(|d| {
            (
                d.id.clone(),
                ok(a, "GET", &format!("/election/style/{}", d.id), false, None),
            )
        })
        .collect();
    let ballots: Vec<Vec<u8>> = std::thread::scope(|s| {
        let parts: Vec<_> = creds
            .chunks(n.div_ceil(2).max(1))
            .enumerate()
            .map(|(k, part)| {
                let styles = &styles;
                let base = k * n.div_ceil(2).max(1);
                s.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, (key, d, _))| {
                            let v = &styles[d];
                            let st = urna_server::election::BallotStyle::from_value(v).unwrap();
                            let sel = if !(base + i).is_multiple_of(3) {
                                vec![vec![1, 0]]
                            } else {
                                vec![vec![0, 1]]
                            };
                            Ballot::encrypt(
                                &st.key,
                                &st.fingerprint,
                                key,
                                &st.header,
                                &st.shapes,
                                &sel,
                                &mut rand::rng(),
                            )
                            .unwrap()
                            .0
                            .encode()
                            .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "devices encrypted {n} ballots in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let t0 = Instant::now();
    std::thread::scope(|s| {
        for part in ballots.chunks(n.div_ceil(8).max(1)) {
            s.spawn(move || {
                for b in part {
                    ok(
                        a,
                        "POST",
                        "/election/ballots",
                        false,
                        Some(json!({ "ballot": hex::encode(b) })),
                    );
                }
            });
        }
    });
    let cast = t0.elapsed().as_secs_f64();
    eprintln!(
        "cast {n} ballots over HTTP in {cast:.1} s ({:.0}/s)",
        n as f64 / cast
    );

    // Close → results.
    clock.set(sched.voting_closes);
    let t = Instant::now();
    ok(a, "POST", "/election/close", true, None);
    let t_close = t.elapsed().as_secs_f64();
    ok(a, "POST", "/election/tally", true, None);
    let t_tally = t.elapsed().as_secs_f64();
    let tv = ok(a, "GET", "/election/tally", false, None);
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
    let fp: [u8; 32] = hex::decode(styles["msk-cao"]["fingerprint"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    for share in [&shares[0], &shares[2], &shares[4]] {
        let p = share.partial_decrypt_batch(&Fingerprint(fp), &items, &mut rand::rng());
        let payloads = PartialChunk::payloads(share.index(), &p).unwrap();
        ok(
            a,
            "POST",
            "/election/partials",
            true,
            Some(json!({ "payloads": payloads.iter().map(hex::encode).collect::<Vec<_>>() })),
        );
    }
    let t_partials = t.elapsed().as_secs_f64();
    ok(a, "POST", "/election/results", true, None);
    let total = t.elapsed().as_secs_f64();
    let res = ok(a, "GET", "/election/results", false, None);
    let tot = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap()
        .clone();
    let yes = (0..n).filter(|i| !i.is_multiple_of(3)).count() as u64;
    assert_eq!(tot["counts"], json!([yes, n as u64 - yes]));
    println!(
        "close -> results over HTTP for {n} ballots: {total:.3} s (close {t_close:.3}, tally {:.3}, 3 partial decryptions made and posted {:.3}, results {:.3})",
        t_tally - t_close,
        t_partials - t_tally,
        total - t_partials
    );
    let _ = stop_tx.send(());
    rt.block_on(server).unwrap().unwrap();
    drop(rt);

    // Restart: replay the board.
    let t = Instant::now();
    let (_, report) = AppState::resume(store.clone(), config, &journal).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "restart: replayed {} entries ({} ballots) in {s:.2} s ({:.0} ballots/s), phase {}",
        report.entries,
        report.ballots,
        report.ballots as f64 / s,
        report.phase
    );
}
