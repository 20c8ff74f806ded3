//! The `urna verify` contract (DESIGN.md): exit 0 for a valid record, 1 for
//! an invalid one naming each failed check, 2 for unusable input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

fn records() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/test-vectors/records")
}

fn verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .arg("verify")
        .args(args)
        .output()
        .expect("run urna");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn valid_record_exits_zero() {
    let (code, out) = verify(&[records().join("valid").to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VALID"));
}

#[test]
fn invalid_record_exits_one_and_names_the_check_and_entry() {
    let (code, out) = verify(&[records().join("weak-fiat-shamir-proof").to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("INVALID: ballot.proofs"), "{out}");
    assert!(out.contains("entry "), "{out}");
    let (code, json) = verify(&[records().join("changed-result").to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json report");
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["failed"].as_u64().unwrap_or(0) > 0)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["results"]);
}

#[test]
fn missing_record_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _) = verify(&[dir.path().join("nothing").to_str().unwrap()]);
    assert_eq!(code, 2);
}
