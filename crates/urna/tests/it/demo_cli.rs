//! `urna demo` and `urna bench cast` through the binary: a whole small
//! election over the real HTTP server must pass, and the casting bench
//! must accept every ballot it sends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn urna(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(args)
        .output()
        .expect("run urna");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn small_demo_passes_over_http() {
    let (code, out, err) = urna(&["demo", "--voters", "300", "--concurrency", "16"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("served on http://127.0.0.1:"), "{out}");
    // 300 voters: 1 in 20 re-votes, 1 in 50 audits first (see demo/devices.rs).
    assert!(
        out.contains("casting: 315 ballots accepted (15 re-votes), 6 audited ballots spoiled, every receipt verified"),
        "{out}"
    );
    for refusal in [
        "2 invalid_proof",
        "2 replayed_ballot",
        "2 revote_too_soon",
        "2 unknown_credential",
        "1 audited_ballot",
        "late ballots refused (outside_voting_window, voting_closed)",
    ] {
        assert!(out.contains(refusal), "missing `{refusal}` in\n{out}");
    }
    let total = out
        .lines()
        .find(|l| l.trim_start().starts_with("total "))
        .expect("a total row");
    let cols: Vec<u64> = total
        .split_whitespace()
        .skip(1)
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(cols.len(), 3, "{total}");
    assert_eq!(cols[0] + cols[1], 300, "{total}");
    assert_eq!(cols[2], 300, "{total}");
    assert!(out.contains("close → published results"), "{out}");
    assert!(out.contains("\nVALID\n"), "{out}");
    assert!(out.trim_end().ends_with("demo: PASSED"), "{out}");
}

#[test]
fn demo_refuses_bad_options_with_non_zero_exit() {
    let (code, out, err) = urna(&["demo", "--voters", "0"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("--voters must be at least 1"), "{err}");
}

#[test]
fn bench_cast_accepts_every_ballot_and_reports_json() {
    let (code, out, err) = urna(&[
        "bench",
        "cast",
        "--ballots",
        "200",
        "--concurrency",
        "32",
        "--json",
    ]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(v["bench"], "cast");
    assert_eq!(v["params"]["ballots"], 200);
    assert_eq!(v["params"]["errors"], serde_json::json!([]));
    let figure = |name: &str| {
        v["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no figure {name} in {out}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(figure("accepted"), 200.0);
    assert_eq!(figure("errors"), 0.0);
    assert!(figure("accepted_per_s") > 0.0);
    let (p50, p99) = (figure("latency_p50_ms"), figure("latency_p99_ms"));
    assert!(0.0 < p50 && p50 <= p99, "p50 {p50} p99 {p99}");
    assert!(figure("batch_mean") >= 1.0);
}
