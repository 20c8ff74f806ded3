//! `urna serve` on a new folder creates what it needs (the board key, with
//! a default origin, and the commission's admin token) and says what to do
//! next; on the next start it takes them up again (issue 14, item 1).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common;

/// `urna serve --data DATA` with no other option but a free port and no
/// web app: the child, its address and its stderr up to the `next:` line.
fn serve(data: &Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(["serve", "--data", data.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--web"])
        .arg(data.join("no-web"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut log, mut addr) = (String::new(), None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("on http://").nth(1) {
            addr = Some(rest.trim().to_string());
        }
        if line.starts_with("urna: next: ") {
            std::thread::spawn(move || for _ in lines {});
            return (child, addr.expect("an address before `next:`"), log);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("urna serve stopped before saying what is next:\n{log}");
}

#[test]
fn serve_on_a_new_folder_creates_key_and_token_and_says_what_next() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("City 2026");
    let (mut child, addr, log) = serve(&data);

    let key = std::fs::read_to_string(data.join("board.key")).unwrap();
    assert_eq!(key.lines().next(), Some("localhost/city-2026"), "{log}");
    let token_file = data.join("admin.token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    for f in ["board.key", "admin.token"] {
        let mode = std::fs::metadata(data.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    assert!(
        log.contains("board key for origin localhost/city-2026")
            && log.contains("give --origin HOST/ELECTION-ID"),
        "{log}"
    );
    assert!(log.contains("admin token in "), "{log}");
    let next = log.lines().last().unwrap();
    assert!(
        next.contains("publish the manifest: curl")
            && next.contains(&format!("$(cat '{}')", token_file.display()))
            && next.contains(&format!("http://{addr}/election/manifest")),
        "{next}"
    );

    // The token it made is the admin token it serves with.
    let m = common::manifest(
        common::now() + 86_400,
        "[revote]\npolicy = \"last-counts\"\nmin_interval_seconds = 60",
    );
    let r = common::request(
        &addr,
        "POST",
        "/election/manifest",
        Some(token),
        Some(m.as_bytes()),
    )
    .unwrap();
    assert!(
        (200..300).contains(&r.status),
        "{} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // The next start takes up the same key and token, and the next step moved on.
    let (mut child, _, log) = serve(&data);
    assert!(!log.contains("new election folder"), "{log}");
    assert_eq!(
        std::fs::read_to_string(data.join("board.key")).unwrap(),
        key
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    assert!(
        log.lines().last().unwrap().contains("key ceremony"),
        "{log}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_with_origin_and_token_file_creates_no_token() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, "operator-token\n").unwrap();
    let server = common::Server::spawn(&[
        "serve",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--origin",
        "vote.example/city-2026",
        "--admin-token-file",
        token_file.to_str().unwrap(),
    ])
    .unwrap();
    let key = std::fs::read_to_string(data.join("board.key")).unwrap();
    assert_eq!(key.lines().next(), Some("vote.example/city-2026"));
    assert!(!data.join("admin.token").exists());
    drop(server);
}
