//! `urna serve` keeps observers' cosignatures across a restart
//! (spec/board.md §B10): an observer cosigns the board's checkpoint, the
//! server is killed (`kill -9`) and started again over the same folder,
//! and `GET /board/checkpoint` still carries the cosignature; a refused
//! cosignature is not there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Command;

use common::Server;
use urna_board::{
    Checkpoint, ObserverSigningKey, SignedNote, VerifierKey, cosign_checkpoint, verify_checkpoint,
};

#[test]
fn a_cosignature_outlives_a_killed_server() {
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
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");

    // A cosignature the board refuses: a line over another checkpoint,
    // which does not verify on this one.
    let board_note =
        String::from_utf8(srv.call("GET", "/board/checkpoint", false, None).body).unwrap();
    let stranger = ObserverSigningKey::from_secret_bytes("x.observer.example", &[3; 32]).unwrap();
    let mut forged = SignedNote::parse(board_note.as_bytes()).unwrap();
    let other = Checkpoint::new("urna.test/resume", 0, [1; 32]).unwrap();
    forged
        .add_signature(cosign_checkpoint(&stranger, &other, 1).unwrap())
        .unwrap();
    let r = srv.call(
        "POST",
        "/board/cosignature",
        false,
        Some(serde_json::json!({
            "key": stranger.verifier_key().to_string(),
            "note": forged.to_text(),
        })),
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    srv.kill();
    let srv = Server::start(&data).unwrap();
    let board_key = VerifierKey::parse(
        String::from_utf8(srv.call("GET", "/board/key", false, None).body)
            .unwrap()
            .trim(),
    )
    .unwrap();
    let observer_key = VerifierKey::parse(
        std::fs::read_to_string(dir.path().join("o.pub"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let note = String::from_utf8(srv.call("GET", "/board/checkpoint", false, None).body).unwrap();
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    assert_eq!(
        parsed.signatures().len(),
        2,
        "the board's and o's only:\n{note}"
    );
    let v = verify_checkpoint(
        &parsed,
        &board_key,
        &[observer_key, stranger.verifier_key()],
    )
    .unwrap();
    let cosigners: Vec<_> = v.cosigners().map(|c| c.name.clone()).collect();
    assert_eq!(cosigners, vec!["o.observer.example".to_owned()], "{note}");
}
