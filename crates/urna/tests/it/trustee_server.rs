//! A 3-of-5 key ceremony and the tally's partial decryptions by five
//! `urna trustee … --server` processes against the real `urna serve`
//! (spec/api.md §A5, spec/trustee.md §T5): every message goes through the
//! server onto the board; three trustees decrypt; the results are right.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Server, manifest_with, now};
use serde_json::json;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::PublicKey;
use urna_crypto::encoding::Element;
use urna_election::Manifest;
use urna_election::record::CeremonyMessage;

fn trustee(dir: &Path, j: u16, srv: &Server, args: &[&str]) -> std::process::Child {
    let store = dir.join(format!("trustee{j}.key"));
    let token = dir.join(format!("trustee{j}.token"));
    let url = format!("http://{}", srv.addr);
    let mut c = Command::new(env!("CARGO_BIN_EXE_urna"));
    c.arg("trustee")
        .args(args)
        .args(["--store", store.to_str().unwrap()])
        .args(["--server", &url, "--token-file", token.to_str().unwrap()])
        .env("URNA_TRUSTEE_INSECURE_FAST_KDF_FOR_TESTS", "1")
        .env(
            "URNA_TRUSTEE_PASSPHRASE",
            format!("passphrase of trustee {j}"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c.spawn().unwrap()
}

fn all_ok(children: Vec<(u16, std::process::Child)>) {
    for (j, c) in children {
        let out: Output = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "trustee {j}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn three_of_five_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let opens = now() + 30;
    let closes = opens + 4;
    let text = manifest_with(opens, closes, "[revote]\npolicy = \"forbidden\"", (5, 3));
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let srv = Server::start(&data).unwrap();

    // No token before the manifest names the election.
    let r = srv.call("POST", "/election/trustees/1/token", true, None);
    assert_eq!((r.status, r.code().as_str()), (404, "no_manifest"));
    let r = common::request(
        &srv.addr,
        "POST",
        "/election/manifest",
        Some(common::TOKEN),
        Some(text.as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let r = srv.call("POST", "/election/trustees/6/token", true, None);
    assert_eq!((r.status, r.code().as_str()), (404, "no_such_trustee"));
    let r = srv.call("POST", "/election/trustees/1/token", false, None);
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    let mut tokens = Vec::new();
    for j in 1..=5u16 {
        let v = srv.ok("POST", &format!("/election/trustees/{j}/token"), true, None);
        let t = v["token"].as_str().unwrap().to_string();
        std::fs::write(dir.path().join(format!("trustee{j}.token")), &t).unwrap();
        tokens.push(t);
    }

    // Round 1: five processes, each on "its own machine".
    all_ok(
        (1..=5u16)
            .map(|j| {
                let i = j.to_string();
                (j, trustee(dir.path(), j, &srv, &["init", "--index", &i]))
            })
            .collect(),
    );
    let c = srv.ok("GET", "/election/ceremony", false, None);
    assert_eq!(c["messages"].as_array().unwrap().len(), 5);
    // Tokens are per trustee: trustee 2's token cannot post as trustee 1,
    // and trustee 2 cannot post trustee 1's message.
    let msg1 = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["payload"].as_str().unwrap().to_string())
        .find(|p| {
            matches!(
                CeremonyMessage::decode(&hex::decode(p).unwrap()).unwrap(),
                CeremonyMessage::Round1(m) if m.trustee == 1
            )
        })
        .unwrap();
    let body = json!({ "message": msg1 }).to_string();
    let r = common::request(
        &srv.addr,
        "POST",
        "/election/trustees/1/ceremony",
        Some(&tokens[1]),
        Some(body.as_bytes()),
    )
    .unwrap();
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    let r = common::request(
        &srv.addr,
        "POST",
        "/election/trustees/2/ceremony",
        Some(&tokens[1]),
        Some(body.as_bytes()),
    )
    .unwrap();
    assert_eq!((r.status, r.code().as_str()), (403, "not_your_message"));

    // Round 2 and the share checks; every trustee waits for the others.
    for step in ["deal", "receive"] {
        all_ok(
            (1..=5u16)
                .map(|j| (j, trustee(dir.path(), j, &srv, &[step, "--wait", "60"])))
                .collect(),
        );
    }
    // A trustee cannot finish before the admin closes the ceremony.
    let early = trustee(dir.path(), 1, &srv, &["finish"])
        .wait_with_output()
        .unwrap();
    assert!(!early.status.success());
    assert!(String::from_utf8_lossy(&early.stderr).contains("no joint key"));
    let done = srv.ok("POST", "/election/ceremony/finish", true, None);
    assert_eq!(done["phase"], "registration");
    all_ok(
        (1..=5u16)
            .map(|j| (j, trustee(dir.path(), j, &srv, &["finish"])))
            .collect(),
    );
    let c = srv.ok("GET", "/election/ceremony", false, None);
    // 5 round 1, 5 round 2, no complaints, the joint key.
    assert_eq!(c["messages"].as_array().unwrap().len(), 11);

    // Six voters: four yes, two no.
    let mut rng = rand::rng();
    let mut voters = Vec::new();
    for i in 0..6 {
        let p = &m.precincts()[i % m.precincts().len()];
        let d = m.districts()[p.district].id.clone();
        let key = CredentialKey::generate(&mut rng);
        srv.ok(
            "POST",
            "/election/credentials",
            true,
            Some(json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() })),
        );
        voters.push((key, d));
    }
    while now() < opens {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    srv.ok("POST", "/election/open", true, None);
    for (i, (key, d)) in voters.iter().enumerate() {
        let v = srv.ok("GET", &format!("/election/style/{d}"), false, None);
        let shapes: Vec<ContestShape> = v["contests"]
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
        let key_el = Element::from_hex(v["joint_key"].as_str().unwrap()).unwrap();
        let fp: [u8; 32] = hex::decode(v["fingerprint"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let sel = if i < 4 {
            vec![vec![1, 0]]
        } else {
            vec![vec![0, 1]]
        };
        let (b, _) = Ballot::encrypt(
            &PublicKey::new(key_el).unwrap(),
            &Fingerprint(fp),
            key,
            &hex::decode(v["header"].as_str().unwrap()).unwrap(),
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
    }
    while now() < closes {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    srv.ok("POST", "/election/close", true, None);
    srv.ok("POST", "/election/tally", true, None);

    // Trustees 1, 3 and 5 decrypt; 2 and 4 stay home.
    all_ok(
        [1u16, 3, 5]
            .into_iter()
            .map(|j| (j, trustee(dir.path(), j, &srv, &["decrypt"])))
            .collect(),
    );
    srv.ok("POST", "/election/results", true, None);
    let res = srv.ok("GET", "/election/results", false, None);
    let total = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap()
        .clone();
    assert_eq!(total["counts"], json!([4, 2]), "{res}");

    // The whole ceremony and the partials replay after a restart.
    srv.kill();
    let srv = Server::start(&data).unwrap();
    assert_eq!(srv.ok("GET", "/election/results", false, None), res);
    assert_eq!(
        srv.ok("GET", "/election/ceremony", false, None)["messages"]
            .as_array()
            .unwrap()
            .len(),
        11
    );
}
