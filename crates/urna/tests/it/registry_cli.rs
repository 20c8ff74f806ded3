//! `urna registry` through the binary: generate, import (all or nothing,
//! file:line errors, exit 1), signed precinct lists that verify, paper votes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

const MANIFEST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/moscow-2020-constitution.toml"
);

fn urna(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_urna"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn import_lists_and_paper_votes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("secret.hex"), "11".repeat(32)).unwrap();
    std::fs::write(d.join("key.hex"), "22".repeat(32)).unwrap();
    let db = ["--db", "reg.db", "--manifest", MANIFEST];
    ok(&urna(
        d,
        &[
            "registry",
            "generate",
            "--manifest",
            MANIFEST,
            "--region",
            "msk",
            "--rows",
            "500",
            "--out",
            "msk.csv",
        ],
    ));
    let out = ok(&urna(
        d,
        &[
            &["registry", "import"][..],
            &db,
            &["--secret-file", "secret.hex", "--region", "msk", "msk.csv"],
        ]
        .concat(),
    ));
    assert!(out.contains("imported 500 voters of region msk"), "{out}");

    // A bad row: exit 1, file and line named, nothing imported.
    std::fs::write(
        d.join("nnov.csv"),
        "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created\n\
         n1,Волков Максим,1970-03-03,2201 555555,+79201234567,,uik-nn-2001,2014-01-01\n\
         n2,Новикова Мария,1988-02-30,2202 666666,+79207654321,,uik-nn-0501,2017-02-02\n",
    )
    .unwrap();
    let bad = urna(
        d,
        &[
            &["registry", "import"][..],
            &db,
            &[
                "--secret-file",
                "secret.hex",
                "--region",
                "nnov",
                "nnov.csv",
            ],
        ]
        .concat(),
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("nnov.csv:3:") && err.contains("invalid_birth_date"),
        "{err}"
    );
    std::fs::write(
        d.join("nnov.csv"),
        std::fs::read_to_string(d.join("nnov.csv"))
            .unwrap()
            .replace("1988-02-30", "1988-02-28"),
    )
    .unwrap();
    let out = ok(&urna(
        d,
        &[
            &["registry", "import"][..],
            &db,
            &[
                "--secret-file",
                "secret.hex",
                "--region",
                "nnov",
                "nnov.csv",
            ],
        ]
        .concat(),
    ));
    assert!(out.contains("imported 2 voters"), "{out}");

    let out = ok(&urna(
        d,
        &[
            &["registry", "lists"][..],
            &db,
            &[
                "--kind",
                "approved-online",
                "--key-file",
                "key.hex",
                "--out",
                "lists",
            ],
        ]
        .concat(),
    ));
    let hash = out
        .lines()
        .find_map(|l| l.strip_prefix("list hash (for the board) "))
        .unwrap();
    let key = urna_registry::secret::signing_key_from_hex(&"22".repeat(32)).unwrap();
    let checked = urna_registry::lists::verify_dir(
        &d.join("lists"),
        "ru-2020-constitution",
        urna_registry::lists::ListKind::ApprovedOnline,
        &key.verifying_key(),
    )
    .unwrap();
    assert_eq!(hex::encode(checked), hash);

    std::fs::write(d.join("paper.csv"), "voter_id\nn1\n").unwrap();
    let out = ok(&urna(
        d,
        &[
            &["registry", "paper"][..],
            &db,
            &["--precinct", "uik-nn-2001", "paper.csv"],
        ]
        .concat(),
    ));
    assert!(out.contains("recorded 1 paper votes"), "{out}");
    let out = ok(&urna(
        d,
        &[&["registry", "reconcile"][..], &db[..]].concat(),
    ));
    assert!(
        out.starts_with("0 voters voted online and on paper"),
        "{out}"
    );
}

/// `urna registry amend`: a signed amendment (adds and removals) chained
/// to the imported registry, applied locally; a second one chains to the
/// first; a bad removals file or an unknown voter writes nothing.
#[test]
fn amendments_are_signed_chained_and_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("secret.hex"), "11".repeat(32)).unwrap();
    std::fs::write(d.join("key.hex"), "22".repeat(32)).unwrap();
    let db = ["--db", "reg.db", "--manifest", MANIFEST];
    let generate = [
        "registry",
        "generate",
        "--manifest",
        MANIFEST,
        "--region",
        "msk",
        "--rows",
        "20",
        "--out",
        "msk.csv",
    ];
    ok(&urna(d, &generate));
    let import = ["--secret-file", "secret.hex", "--region", "msk", "msk.csv"];
    let out = ok(&urna(
        d,
        &[&["registry", "import"][..], &db, &import].concat(),
    ));
    let base = out
        .lines()
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();

    std::fs::write(
        d.join("adds.csv"),
        "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created\n\
         msk90000000,Орлова Анна Сергеевна,1990-01-02,45 01 900000000,+79009000000,,uik-0301,2019-01-01\n",
    )
    .unwrap();
    std::fs::write(
        d.join("rm.csv"),
        "voter_id,reason\nmsk00000003,court decision 12/2020\n",
    )
    .unwrap();
    let keys = ["--secret-file", "secret.hex", "--key-file", "key.hex"];
    let out = ok(&urna(
        d,
        &[
            &["registry", "amend"][..],
            &db,
            &keys,
            &[
                "--adds",
                "adds.csv",
                "--region",
                "msk",
                "--removals",
                "rm.csv",
            ],
            &["--out", "a1.bin", "--apply"],
        ]
        .concat(),
    ));
    assert!(out.contains("amendment version 1 (2 changes)"), "{out}");
    assert!(out.contains(&format!("chained to {base}")), "{out}");
    let file = std::fs::read(d.join("a1.bin")).unwrap();
    let signed = urna_registry::amendment::SignedAmendment::from_file(&file).unwrap();
    let key = urna_registry::secret::signing_key_from_hex(&"22".repeat(32)).unwrap();
    let a = signed.verify(&key.verifying_key()).unwrap();
    assert_eq!((a.version, hex::encode(a.previous)), (1, base));
    assert_eq!(a.changes.len(), 2);

    // Removing a voter who is not in the registry is refused when applied:
    // no file, and the registry stays at version 1.
    std::fs::write(d.join("rm2.csv"), "voter_id,reason\nmsk99999999,moved\n").unwrap();
    let amend2 = |rm: &str, out: &str| {
        urna(
            d,
            &[
                &["registry", "amend"][..],
                &db,
                &keys,
                &["--removals", rm, "--out", out, "--apply"],
            ]
            .concat(),
        )
    };
    let bad = amend2("rm2.csv", "a2.bin");
    assert!(!bad.status.success());
    assert!(!d.join("a2.bin").exists());
    // A removals file without its header names the file and line.
    std::fs::write(d.join("rm3.csv"), "msk00000004,moved\n").unwrap();
    let bad = amend2("rm3.csv", "a3.bin");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("rm3.csv:1"),
        "{bad:?}"
    );
    assert!(!d.join("a3.bin").exists());
    // The next amendment chains to the first.
    std::fs::write(
        d.join("rm4.csv"),
        "voter_id,reason\nmsk00000004,moved abroad\n",
    )
    .unwrap();
    let out = ok(&amend2("rm4.csv", "a4.bin"));
    assert!(out.contains("amendment version 2 (1 changes)"), "{out}");
    assert!(
        out.contains(&format!("chained to {}", hex::encode(signed.hash()))),
        "{out}"
    );
}
