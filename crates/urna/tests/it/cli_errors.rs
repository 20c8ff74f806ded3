//! Unusable input to `urna verify` and `urna export` is one clear error
//! naming the path, with nothing else printed (issue 16).

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
fn verify_of_a_missing_path_is_one_error_and_exit_two() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing");
    let missing = missing.to_str().unwrap();
    for extra in [&[][..], &["--json"][..]] {
        let (code, out, err) = urna(&[&["verify", missing][..], extra].concat());
        assert_eq!(code, 2, "{out}{err}");
        assert_eq!(out, "", "no report for a path that is not there");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!(
                "urna verify: unusable input: {missing} does not exist"
            )),
            "{err}"
        );
    }
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let (code, out, err) = urna(&["verify", file.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains("is not a folder"), "{err}");
}

#[test]
fn export_of_a_folder_without_a_board_names_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out_dir = tmp.path().join("record");
    let (code, out, err) = urna(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(!err.contains("--origin"), "export takes no --origin: {err}");
    assert!(
        err.contains("is not an election's data folder: it has no board.db"),
        "{err}"
    );
    assert!(!data.exists(), "export created {}", data.display());
    assert!(!out_dir.exists(), "export wrote {}", out_dir.display());

    // A board without its key: the key is named.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("board.db"), b"").unwrap();
    let (code, _, err) = urna(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("it has no board.key"), "{err}");
    assert!(!err.contains("--origin"), "{err}");
}
