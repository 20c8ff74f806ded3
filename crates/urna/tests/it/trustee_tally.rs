//! Issue 12 item 1: a trustee decrypts only the tally it recomputed from
//! the board (spec/trustee.md §T1.1). A proxy in front of the real
//! `urna serve` passes everything through except `GET /election/tally`,
//! which it answers with one voter's ballot ciphertexts dressed as the
//! tally: `urna trustee decrypt` must refuse and post nothing. The same
//! trustees then decrypt the real tally (board key pinned) and the results
//! come out right.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Server, manifest_with, now};
use serde_json::{Value, json};
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::PublicKey;
use urna_crypto::encoding::Element;
use urna_election::Manifest;
use urna_election::record::TallyChunk;

pub(crate) fn trustee(dir: &Path, j: u16, url: &str, args: &[&str]) -> Output {
    let store = dir.join(format!("trustee{j}.key"));
    let token = dir.join(format!("trustee{j}.token"));
    Command::new(env!("CARGO_BIN_EXE_urna"))
        .arg("trustee")
        .args(args)
        .args(["--store", store.to_str().unwrap()])
        .args(["--server", url, "--token-file", token.to_str().unwrap()])
        .env("URNA_TRUSTEE_INSECURE_FAST_KDF_FOR_TESTS", "1")
        .env(
            "URNA_TRUSTEE_PASSPHRASE",
            format!("passphrase of trustee {j}"),
        )
        .output()
        .unwrap()
}

pub(crate) fn ok(j: u16, out: &Output) {
    assert!(
        out.status.success(),
        "trustee {j}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body).
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                return raw;
            }
        }
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            return raw;
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// A proxy to `upstream` that serves `fake_tally` for `GET /election/tally`
/// and takes (answers 200 to, and counts) posted partial decryptions.
fn hostile_proxy(upstream: String, fake_tally: String, posted: Arc<AtomicUsize>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let (upstream, fake, posted) = (upstream.clone(), fake_tally.clone(), posted.clone());
            std::thread::spawn(move || {
                let req = read_request(&mut c);
                let line = String::from_utf8_lossy(&req[..req.len().min(200)]).to_string();
                if line.starts_with("GET /election/tally ") {
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{fake}",
                        fake.len()
                    );
                    let _ = c.write_all(answer.as_bytes());
                    return;
                }
                if line.starts_with("POST ") && line.contains("/partials") {
                    // A hostile server takes the partial decryptions.
                    posted.fetch_add(1, Ordering::SeqCst);
                    let body = "{\"entries\":[0]}";
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = c.write_all(answer.as_bytes());
                    return;
                }
                let mut up = TcpStream::connect(&upstream).unwrap();
                up.write_all(&req).unwrap();
                let mut answer = Vec::new();
                let _ = up.read_to_end(&mut answer);
                let _ = c.write_all(&answer);
            });
        }
    });
    addr
}

#[test]
fn trustee_refuses_a_tally_that_is_not_the_boards() {
    let dir = tempfile::tempdir().unwrap();
    let opens = now() + 20;
    let closes = opens + 3;
    let text = manifest_with(opens, closes, "[revote]\npolicy = \"forbidden\"", (3, 2));
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let srv = Server::start(&dir.path().join("data")).unwrap();
    let url = format!("http://{}", srv.addr);
    let r = common::request(
        &srv.addr,
        "POST",
        "/election/manifest",
        Some(common::TOKEN),
        Some(text.as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    for j in 1..=3u16 {
        let v = srv.ok("POST", &format!("/election/trustees/{j}/token"), true, None);
        std::fs::write(
            dir.path().join(format!("trustee{j}.token")),
            v["token"].as_str().unwrap(),
        )
        .unwrap();
    }
    for j in 1..=3u16 {
        ok(
            j,
            &trustee(dir.path(), j, &url, &["init", "--index", &j.to_string()]),
        );
    }
    for step in ["deal", "receive"] {
        for j in 1..=3u16 {
            ok(j, &trustee(dir.path(), j, &url, &[step, "--wait", "60"]));
        }
    }
    srv.ok("POST", "/election/ceremony/finish", true, None);
    for j in 1..=3u16 {
        ok(j, &trustee(dir.path(), j, &url, &["finish"]));
    }

    // Three voters in the first precinct's district: yes, no, no.
    let mut rng = rand::rng();
    let p = &m.precincts()[0];
    let d = m.districts()[p.district].id.clone();
    let keys: Vec<CredentialKey> = (0..3).map(|_| CredentialKey::generate(&mut rng)).collect();
    for key in &keys {
        srv.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() })),
        );
    }
    while now() < opens {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    srv.ok("POST", "/election/open", true, None);
    let style = srv.ok("GET", &format!("/election/style/{d}"), false, None);
    let shapes: Vec<ContestShape> = style["contests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ContestShape {
            options: c["shape"]["options"].as_u64().unwrap() as u16,
            option_max: c["shape"]["option_max"].as_u64().unwrap() as u32,
            min: c["shape"]["min"].as_u64().unwrap() as u32,
            max: c["shape"]["max"].as_u64().unwrap() as u32,
        })
        .collect();
    let joint =
        PublicKey::new(Element::from_hex(style["joint_key"].as_str().unwrap()).unwrap()).unwrap();
    let fp: [u8; 32] = hex::decode(style["fingerprint"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let header = hex::decode(style["header"].as_str().unwrap()).unwrap();
    let mut ballots = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let sel = if i == 0 {
            vec![vec![1, 0]]
        } else {
            vec![vec![0, 1]]
        };
        let (b, _) = Ballot::encrypt(
            &joint,
            &Fingerprint(fp),
            key,
            &header,
            &shapes,
            &sel,
            &mut rng,
        )
        .unwrap();
        srv.ok(
            "POST",
            "/election/ballots",
            false,
            Some(json!({ "ballot": hex::encode(b.encode().unwrap()) })),
        );
        ballots.push(b);
    }
    while now() < closes {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    srv.ok("POST", "/election/close", true, None);
    srv.ok("POST", "/election/tally", true, None);

    // The hostile server's "tally": voter 0's ballot in place of its
    // district's sums, otherwise well formed and of the manifest's shape.
    let real: Value = srv.ok("GET", "/election/tally", false, None);
    let mut records = Vec::new();
    for p in real["payloads"].as_array().unwrap() {
        let chunk = TallyChunk::decode(&hex::decode(p.as_str().unwrap()).unwrap()).unwrap();
        records.extend(chunk.records);
    }
    let mut replaced = 0;
    for r in records.iter_mut().filter(|r| r.district == d) {
        r.sums = ballots[0].contests[replaced].ciphertexts.clone();
        r.ballots = 1;
        replaced += 1;
    }
    assert_eq!(replaced, ballots[0].contests.len());
    let mut fake = real.clone();
    fake["payloads"] = json!(
        TallyChunk::payloads(&records)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect::<Vec<_>>()
    );
    assert_ne!(fake, real);
    let posted = Arc::new(AtomicUsize::new(0));
    let proxy = hostile_proxy(srv.addr.clone(), fake.to_string(), posted.clone());
    let size_before = srv.ok("GET", "/election/tally", false, None);
    let checkpoint_before = common::request(&srv.addr, "GET", "/board/checkpoint", None, None)
        .unwrap()
        .body;

    for j in [1u16, 2] {
        let out = trustee(dir.path(), j, &format!("http://{proxy}"), &["decrypt"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "trustee {j} decrypted a forged tally"
        );
        assert!(err.contains("refusing to decrypt"), "trustee {j}: {err}");
        assert!(err.contains("nothing was decrypted"), "trustee {j}: {err}");
    }
    assert_eq!(posted.load(Ordering::SeqCst), 0, "partials were posted");
    // The board did not grow: no partial decryption reached it.
    assert_eq!(
        common::request(&srv.addr, "GET", "/board/checkpoint", None, None)
            .unwrap()
            .body,
        checkpoint_before
    );
    assert_eq!(srv.ok("GET", "/election/tally", false, None), size_before);

    // A wrong pinned board key is refused as well.
    let other = "urna.test/other+00000000+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let out = trustee(dir.path(), 1, &url, &["decrypt", "--board-key", other]);
    assert!(!out.status.success());

    // The honest server: the tally is the board's; the board key pinned.
    let key = String::from_utf8(
        common::request(&srv.addr, "GET", "/board/key", None, None)
            .unwrap()
            .body,
    )
    .unwrap();
    for j in [1u16, 2] {
        ok(
            j,
            &trustee(dir.path(), j, &url, &["decrypt", "--board-key", key.trim()]),
        );
    }
    srv.ok("POST", "/election/results", true, None);
    let res = srv.ok("GET", "/election/results", false, None);
    let total = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap()
        .clone();
    assert_eq!(total["counts"], json!([1, 2]), "{res}");
}
