//! `urna trustee init` and `show` through the real binary, with the
//! test-only fast key derivation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const SECRET: &str = "cli test passphrase 7f3a";

fn urna(args: &[&str], pass: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_urna"));
    c.args(args)
        .env("URNA_TRUSTEE_INSECURE_FAST_KDF_FOR_TESTS", "1")
        .env_remove("URNA_TRUSTEE_PASSPHRASE");
    if let Some(p) = pass {
        c.env("URNA_TRUSTEE_PASSPHRASE", p);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn init_then_show() {
    let dir = tempfile::tempdir().unwrap();
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/moscow-2020-constitution.toml");
    let store = dir.path().join("trustee.key");
    let out = dir.path().join("round1.msg");
    let (m, s, o) = (
        manifest.to_str().unwrap(),
        store.to_str().unwrap(),
        out.to_str().unwrap(),
    );

    // No passphrase: refused, nothing created.
    let r = urna(
        &[
            "trustee",
            "init",
            "--manifest",
            m,
            "--index",
            "4",
            "--store",
            s,
            "--out",
            o,
        ],
        None,
    );
    assert!(!r.status.success());
    assert!(text(&r).contains("URNA_TRUSTEE_PASSPHRASE"), "{}", text(&r));
    assert!(!store.exists());

    let r = urna(
        &[
            "trustee",
            "init",
            "--manifest",
            m,
            "--index",
            "4",
            "--store",
            s,
            "--out",
            o,
        ],
        Some(SECRET),
    );
    assert!(r.status.success(), "{}", text(&r));
    assert!(!text(&r).contains(SECRET));
    assert!(store.exists() && out.exists());
    let round1 = std::fs::read(&out).unwrap();
    assert_eq!(&round1[..8], b"URNA-PAY");
    assert!(!String::from_utf8_lossy(&std::fs::read(&store).unwrap()).contains(SECRET));

    // A second init never overwrites the store.
    let before = std::fs::read(&store).unwrap();
    let r = urna(
        &[
            "trustee",
            "init",
            "--manifest",
            m,
            "--index",
            "4",
            "--store",
            s,
            "--out",
            o,
        ],
        Some(SECRET),
    );
    assert!(!r.status.success());
    assert!(text(&r).contains("refusing to overwrite"), "{}", text(&r));
    assert_eq!(std::fs::read(&store).unwrap(), before);

    let r = urna(&["trustee", "show", "--store", s], Some(SECRET));
    assert!(r.status.success(), "{}", text(&r));
    let shown = text(&r);
    assert!(shown.contains("ru-2020-constitution"), "{shown}");
    assert!(shown.contains("4 of n = 5, t = 3"), "{shown}");
    assert!(shown.contains("phase:                committed"), "{shown}");
    assert!(shown.contains("WEAK"), "{shown}");
    assert!(!shown.contains(SECRET));

    // The passphrase from a file (first line).
    let pf = dir.path().join("pass.txt");
    std::fs::write(&pf, format!("{SECRET}\n")).unwrap();
    let r = urna(
        &[
            "trustee",
            "show",
            "--store",
            s,
            "--passphrase-file",
            pf.to_str().unwrap(),
        ],
        None,
    );
    assert!(r.status.success(), "{}", text(&r));

    // A wrong passphrase: a precise error, non-zero exit.
    let r = urna(&["trustee", "show", "--store", s], Some("not it"));
    assert!(!r.status.success());
    assert!(text(&r).contains("wrong passphrase"), "{}", text(&r));

    // n, t that contradict the manifest are refused.
    let other = dir.path().join("other.key");
    let r = urna(
        &[
            "trustee",
            "init",
            "--manifest",
            m,
            "--index",
            "1",
            "--n",
            "4",
            "--t",
            "2",
            "--store",
            other.to_str().unwrap(),
            "--out",
            o,
        ],
        Some(SECRET),
    );
    assert!(!r.status.success());
    assert!(text(&r).contains("manifest's [trustees]"), "{}", text(&r));
    assert!(!other.exists());
}
