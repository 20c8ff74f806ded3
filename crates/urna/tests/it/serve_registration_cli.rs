//! `urna serve --registration` option checks through the binary (the
//! served endpoints are tested in-process in urna-server's
//! tests/it/registration_api.rs and in a real browser by
//! web/test/e2e/registration.test.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/moscow-2020-constitution.toml"
);

fn serve(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_urna"))
        .current_dir(dir)
        .args([
            "serve",
            "--data",
            "data",
            "--origin",
            "urna.test/reg",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn registration_options_are_checked_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("reg.toml"),
        "participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bad.toml"),
        "participating_regions = []\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 2\n",
    )
    .unwrap();

    // --registration needs --manifest (a usage error).
    let o = serve(d, &["--registration", "reg.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--manifest"), "{}", stderr(&o));
    // --outbox needs --registration.
    let o = serve(d, &["--outbox", "o.jsonl"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A notifier is required.
    let o = serve(d, &["--registration", "reg.toml", "--manifest", MANIFEST]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("needs a notifier"), "{}", stderr(&o));

    // A bad registration.toml is named with its key.
    let o = serve(
        d,
        &[
            "--registration",
            "bad.toml",
            "--manifest",
            MANIFEST,
            "--outbox",
            "o.jsonl",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("bad.toml") && e.contains("participating_regions"),
        "{e}"
    );

    // The commission secret is created owner-only on first use.
    let o = serve(
        d,
        &[
            "--registration",
            "reg.toml",
            "--manifest",
            MANIFEST,
            "--notify-webhook",
            "ftp://x",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--notify-webhook"), "{}", stderr(&o));
    let secret = d.join("data/registry.secret");
    let text = std::fs::read_to_string(&secret).unwrap();
    assert_eq!(text.trim().len(), 64);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
