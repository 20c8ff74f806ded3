//! What `urna demo` leaves behind is an election the other commands take
//! up (issue 16): its folder is kept, the printed `urna verify` command
//! verifies its record, and `urna serve --data` serves the finished
//! election (results, turnout) with the demo's own board key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use crate::common;

fn urna(args: &[&str], tmpdir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(args)
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run urna");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The path after `prefix` on the line that starts with it (trimmed).
fn printed<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}…` in\n{out}"))
        .split(" (")
        .next()
        .unwrap()
}

#[test]
fn demo_keeps_its_folder_and_prints_the_verify_command_that_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = urna(
        &["demo", "--voters", "20", "--concurrency", "4"],
        tmp.path(),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let record = printed(&out, "check it yourself: urna verify ");
    assert!(
        Path::new(record).starts_with(tmp.path()),
        "{record} is not in the temporary folder {}",
        tmp.path().display()
    );
    assert!(Path::new(record).join("entries.bin").is_file(), "{out}");
    let (code, verified, err) = urna(&["verify", record], tmp.path());
    assert_eq!(code, 0, "{verified}\n{err}");
    assert!(verified.contains("VALID"), "{verified}");
}

#[test]
fn demo_data_folder_is_served_afterwards() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("election");
    let data_s = data.to_str().unwrap();
    let (code, out, err) = urna(
        &[
            "demo",
            "--voters",
            "20",
            "--concurrency",
            "4",
            "--data",
            data_s,
        ],
        tmp.path(),
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(data.join("board.key").is_file(), "no board.key in {data_s}");
    assert_eq!(
        printed(&out, "see it in a browser: urna serve --data "),
        data_s
    );
    assert_eq!(
        printed(&out, "check it yourself: urna verify "),
        data.join("record").to_str().unwrap()
    );

    let no_web = tmp.path().join("no-web");
    let server = common::Server::spawn(&[
        "serve",
        "--data",
        data_s,
        "--listen",
        "127.0.0.1:0",
        "--web",
        no_web.to_str().unwrap(),
    ])
    .unwrap_or_else(|log| panic!("urna serve --data {data_s} did not start:\n{log}"));
    let turnout = server.ok("GET", "/election/turnout", false, None);
    assert_eq!(turnout["voted"], 20, "{turnout}");
    assert_eq!(turnout["eligible"], 20, "{turnout}");
    let results = server.ok("GET", "/election/results", false, None);
    let total = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap_or_else(|| panic!("no total in {results}"));
    let counts: u64 = total["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counts, 20, "{results}");
    drop(server);

    // A second demo into the same folder is refused before touching it.
    let key = std::fs::read(data.join("board.key")).unwrap();
    let (code, out, err) = urna(&["demo", "--voters", "5", "--data", data_s], tmp.path());
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds an election"), "{err}");
    assert_eq!(std::fs::read(data.join("board.key")).unwrap(), key);
}
