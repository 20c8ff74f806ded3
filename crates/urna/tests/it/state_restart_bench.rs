//! `urna bench restart` end to end on a tiny board: it builds the board,
//! restarts by a full replay (which takes a snapshot), then from the
//! snapshot, each time until a new ballot is accepted; a rerun reuses the
//! board.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn run(dir: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(["bench", "restart", "--ballots", "40", "--json", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn figure(v: &serde_json::Value, name: &str) -> Option<f64> {
    v["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .map(|f| f["value"].as_f64().unwrap())
}

#[test]
fn bench_restart_snapshot_and_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let v = run(dir.path());
    assert_eq!(v["bench"], "restart");
    assert!(figure(&v, "build_s").unwrap() > 0.0);
    assert!(figure(&v, "snapshot_mib").unwrap() > 0.0);
    assert!(figure(&v, "snapshot_ready_s").unwrap() > 0.0);
    // The full replay reads all 40 ballots, casts one, takes the snapshot
    // and casts another: the restart from the snapshot replays that one.
    assert_eq!(figure(&v, "full_replayed"), Some(40.0));
    assert_eq!(figure(&v, "snapshot_replayed"), Some(1.0));
    // A rerun reuses the board, with the three ballots cast since.
    let v = run(dir.path());
    assert_eq!(figure(&v, "build_s"), None);
    assert_eq!(figure(&v, "full_replayed"), Some(43.0));
    assert_eq!(figure(&v, "snapshot_replayed"), Some(1.0));
}
