//! `urna export` keeps the board's history (spec/export.md §X1.1): the
//! checkpoints it handed out, with the observers' cosignatures; `urna
//! verify --observer KEY` requires the final checkpoint to carry a valid
//! cosignature by each trusted observer (§X3.1).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::Command;

use common::Server;
use urna_board::ObserverSigningKey;

fn failed_checks(record: &Path, observers: &[&Path]) -> (i32, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_urna"));
    cmd.arg("verify").arg(record).arg("--json");
    for o in observers {
        cmd.arg("--observer").arg(o);
    }
    let out = cmd.output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let failed = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["failed"].as_u64().unwrap_or(0) > 0)
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    (code, failed)
}

#[test]
fn export_keeps_cosigned_checkpoints_and_verify_requires_trusted_observers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let srv = Server::start(&data).unwrap();
    let url = format!("http://{}", srv.addr);
    let key_file = dir.path().join("o.key");
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(["observe", &url, "--interval", "0.1", "--until-size", "0"])
        .args(["--name", "o.observer.example", "--duration", "30"])
        .arg("--key")
        .arg(&key_file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.kill();

    let rec = dir.path().join("record");
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .arg("export")
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&rec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let final_note = std::fs::read_to_string(rec.join("checkpoint.txt")).unwrap();
    assert!(
        final_note.contains("\n— o.observer.example "),
        "the observer's cosignature is exported:\n{final_note}"
    );

    // The observer cosigned the final checkpoint: trusting it adds no failure.
    let o_pub = dir.path().join("o.pub");
    let (_, without) = failed_checks(&rec, &[]);
    let (_, with_o) = failed_checks(&rec, &[&o_pub]);
    assert!(
        !with_o.iter().any(|c| c == "checkpoint.cosigners"),
        "{with_o:?}"
    );
    assert_eq!(with_o, without);

    // An observer that never cosigned: the check fails, nothing else changes.
    let stranger = ObserverSigningKey::from_secret_bytes("x.observer.example", &[3; 32]).unwrap();
    let x_pub = dir.path().join("x.pub");
    std::fs::write(&x_pub, format!("{}\n", stranger.verifier_key())).unwrap();
    let (code, with_x) = failed_checks(&rec, &[&o_pub, &x_pub]);
    assert_eq!(code, 1);
    let mut expected = without.clone();
    expected.push("checkpoint.cosigners".to_owned());
    let order = |v: &mut Vec<String>| v.sort();
    let (mut a, mut b) = (with_x.clone(), expected);
    order(&mut a);
    order(&mut b);
    assert_eq!(a, b);

    // A board key is not an observer's key: unusable input.
    let board_pub = std::fs::read_to_string(rec.join("board-key.txt")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .arg("verify")
        .arg(&rec)
        .args(["--observer", board_pub.trim()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
