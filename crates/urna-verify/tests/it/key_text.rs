//! spec/board.md §B7.2 and spec/export.md §X1: how the board key text is
//! split and which line endings a record's `board-key.txt` may have.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use urna_board::{BoardSigningKey, VerifierKey};
use urna_verify::{Options, verify};

fn records() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/test-vectors/records")
}

/// A copy of the `valid` record whose `board-key.txt` is `key`.
fn with_key_file(tmp: &Path, name: &str, key: &str) -> std::path::PathBuf {
    let src = records().join("valid");
    let dir = tmp.join(name);
    std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
    for f in ["checkpoint.txt", "entries.bin"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    for f in std::fs::read_dir(src.join("checkpoints")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.join("checkpoints").join(f.file_name())).unwrap();
    }
    std::fs::write(dir.join("board-key.txt"), key).unwrap();
    dir
}

#[test]
fn board_key_file_allows_one_final_newline_only() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(records().join("valid/board-key.txt")).unwrap();
    let key = text.strip_suffix('\n').unwrap_or(&text).to_owned();
    for (name, content, code) in [
        ("bare", key.clone(), 0),
        ("newline", format!("{key}\n"), 0),
        ("crlf", format!("{key}\r\n"), 2),
        ("two-newlines", format!("{key}\n\n"), 2),
        ("trailing-space", format!("{key} \n"), 2),
    ] {
        let dir = with_key_file(tmp.path(), name, &content);
        let r = verify(&dir, Options::default());
        assert_eq!(r.exit_code(), code, "{name}: {r}");
    }
}

#[test]
fn key_text_splits_at_the_first_two_plus_signs_only() {
    // Find a board key whose base64 holds a `+` (about one key in 2).
    let mut seen = 0;
    for i in 0..=255u8 {
        let key = BoardSigningKey::from_secret_bytes("urna.example/plus", &[i; 32]).unwrap();
        let text = key.verifier_key().to_string();
        let b64 = text.splitn(3, '+').nth(2).unwrap();
        if !b64.contains('+') {
            continue;
        }
        seen += 1;
        let parsed = VerifierKey::parse(&text).unwrap();
        assert_eq!(parsed, key.verifier_key());
        assert!(VerifierKey::parse(&format!("{text}\r")).is_err());
        assert!(VerifierKey::parse(&format!("{text}\n")).is_err());
    }
    assert!(seen > 0, "no key with `+` in its base64");
}
