//! `urna bench registry` end to end on a small registry: it imports every
//! row, screens applications, and prints the figures as JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn bench_registry_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args([
            "bench",
            "registry",
            "--rows",
            "3000",
            "--applications",
            "30",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bench"], "registry");
    assert_eq!(v["params"]["rows"], 3000);
    let figure = |name: &str| -> f64 {
        v["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no figure {name}: {v}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert!(figure("sqlite_import_s") > 0.0);
    assert!(figure("sqlite_import_rows_per_s") > 0.0);
    assert!(figure("sqlite_applications_per_s") > 0.0);
}
