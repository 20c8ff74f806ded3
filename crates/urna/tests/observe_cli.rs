//! `urna verify URL` and `urna observe` against real `urna-server`
//! boards, honest and forked (spec/board.md §B10–§B11).
//!
//! The forks are real boards signed with one board key: two stores that
//! share a prefix and then differ, so that every checkpoint each serves is
//! validly signed and internally consistent. Only comparing what was shown
//! to different observers, or at different times, reveals the fork.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use urna_board::{BoardSigningKey, Entry, SignedNote, VerifierKey, verify_checkpoint};
use urna_store::BoardStore;

/// The entries of the committed valid election record.
fn valid_entries() -> Vec<Entry> {
    record_entries("valid")
}

/// The entries of a committed test record (spec/test-vectors/records).
fn record_entries(name: &str) -> Vec<Entry> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../spec/test-vectors/records")
        .join(name)
        .join("entries.bin");
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(Entry::from_bytes(bytes[at + 4..at + 4 + n].to_vec()).unwrap());
        at += 4 + n;
    }
    out
}

fn board_key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("test.urna.example/observe", &[42; 32]).unwrap()
}

/// A board served on a local port, with its own runtime thread.
struct Server {
    store: BoardStore,
    port: u16,
    _dir: tempfile::TempDir,
}

fn serve(entries: &[Entry]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), board_key()).unwrap();
    for e in entries {
        store.append(e.clone()).unwrap();
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let state = urna_server::AppState::new(store.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            urna_server::serve(l, state, std::future::pending()).await
        })
    });
    Server {
        store,
        port,
        _dir: dir,
    }
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn urna() -> Command {
    Command::new(env!("CARGO_BIN_EXE_urna"))
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n").unwrap().1.to_owned()
}

fn observer(port: u16, dir: &Path, name: &str, extra: &[&str]) -> Child {
    urna()
        .args(["observe", &url(port), "--interval", "0.1", "--name", name])
        .arg("--key")
        .arg(dir.join(format!("{name}.key")))
        .arg("--mirror")
        .arg(dir.join(format!("{name}-mirror")))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait(child: Child, limit: Duration) -> (i32, String) {
    let start = Instant::now();
    let mut child = child;
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "observer did not stop within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn root_line(note: &str) -> String {
    note.lines().nth(2).unwrap().to_owned()
}

#[test]
fn verify_url_streams_a_served_record() {
    let entries = valid_entries();
    let server = serve(&entries);
    let dir = tempfile::tempdir().unwrap();
    let out = urna()
        .args(["verify", &url(server.port), "--json", "--mirror"])
        .arg(dir.path().join("m"))
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{json}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["entries"], entries.len() as u64);
    // The mirror is a record folder of its own.
    let again = urna()
        .arg("verify")
        .arg(dir.path().join("m"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    // A wrong pinned key: the served checkpoint fails its check.
    let other = BoardSigningKey::from_secret_bytes("test.urna.example/observe", &[7; 32])
        .unwrap()
        .verifier_key()
        .to_string();
    let out = urna()
        .args(["verify", &url(server.port), "--board-key", &other])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL checkpoint.signature"));
    // Nothing listening: unusable.
    let out = urna()
        .args(["verify", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn observer_follows_a_live_board_and_its_cosignature_is_published() {
    let entries = valid_entries();
    let half = entries.len() / 2;
    let server = serve(&entries[..half]);
    let dir = tempfile::tempdir().unwrap();
    let child = observer(
        server.port,
        dir.path(),
        "alice.observer.example",
        &[
            "--until-size",
            &entries.len().to_string(),
            "--duration",
            "60",
        ],
    );
    std::thread::sleep(Duration::from_millis(800));
    for e in &entries[half..] {
        server.store.append(e.clone()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, log) = wait(child, Duration::from_secs(90));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("ballots"), "{log}");
    assert!(
        log.contains("VALID"),
        "the finished election is verified in full:\n{log}"
    );
    // The board now publishes Alice's cosignature with its checkpoint.
    let pubkey = std::fs::read_to_string(dir.path().join("alice.observer.example.pub")).unwrap();
    let observer_key = VerifierKey::parse(pubkey.trim()).unwrap();
    let note = get(server.port, "/board/checkpoint");
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    let v = verify_checkpoint(&parsed, &board_key().verifier_key(), &[observer_key]).unwrap();
    assert_eq!(v.cosigners().count(), 1, "{note}");
    assert_eq!(v.checkpoint.size(), entries.len() as u64);
}

/// Two boards with one key: the first `common` entries shared, then each
/// its own. `b_extra` entries more on the second.
fn forked(common: usize, b_skip: usize) -> (Vec<Entry>, Vec<Entry>) {
    let entries = valid_entries();
    let a = entries[..common + 8].to_vec();
    let mut b = entries[..common].to_vec();
    b.extend(
        entries[common + b_skip..common + 8 + b_skip + 2]
            .iter()
            .cloned(),
    );
    (a, b)
}

#[test]
fn observers_sharing_peers_catch_a_split_view() {
    let n = valid_entries().len();
    let common = n / 2;
    let (a, b) = forked(common, 1);
    let sa = serve(&a);
    let sb = serve(&b);
    let dir = tempfile::tempdir().unwrap();
    let peers = dir.path().join("peers");
    let peers_arg = peers.to_str().unwrap();
    let extra = ["--peers", peers_arg, "--duration", "10"];
    let o1 = observer(sa.port, dir.path(), "one.observer.example", &extra);
    let o2 = observer(sb.port, dir.path(), "two.observer.example", &extra);
    let o3 = observer(sa.port, dir.path(), "three.observer.example", &extra);
    let results: Vec<(i32, String)> = [o1, o2, o3]
        .into_iter()
        .map(|c| wait(c, Duration::from_secs(60)))
        .collect();
    let caught: Vec<&(i32, String)> = results.iter().filter(|(c, _)| *c == 1).collect();
    assert!(
        !caught.is_empty(),
        "no observer caught the split view:\n{results:#?}"
    );
    let root_a = root_line(&get(sa.port, "/board/checkpoint"));
    let root_b = root_line(&get(sb.port, "/board/checkpoint"));
    for (_, log) in caught {
        assert!(log.contains("ALARM: split view"), "{log}");
        // The evidence: both signed checkpoints, in full.
        assert!(log.contains(&root_a) || log.contains(&root_b), "{log}");
        assert_eq!(log.matches("evidence (").count(), 2, "{log}");
        assert!(log.contains("— test.urna.example/observe "), "{log}");
    }
}

/// Forwards each connection to the port in `to`, read when it arrives.
fn proxy(to: Arc<AtomicU16>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut client) = c else { continue };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", to.load(Ordering::SeqCst)))
            else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
                let _ = s2.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

#[test]
fn an_observer_catches_a_rewritten_history() {
    let n = valid_entries().len();
    let (a, b) = forked(n / 2, 1);
    let sa = serve(&a);
    let sb = serve(&b);
    let to = Arc::new(AtomicU16::new(sa.port));
    let port = proxy(Arc::clone(&to));
    let dir = tempfile::tempdir().unwrap();
    let child = observer(
        port,
        dir.path(),
        "solo.observer.example",
        &["--duration", "20"],
    );
    std::thread::sleep(Duration::from_millis(1500));
    // The board "rewrites" its history: from now on the other fork, longer
    // and re-signed with the same key.
    to.store(sb.port, Ordering::SeqCst);
    let (code, log) = wait(child, Duration::from_secs(60));
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("rewrote its history"), "{log}");
    let root_a = root_line(&get(sa.port, "/board/checkpoint"));
    let root_b = root_line(&get(sb.port, "/board/checkpoint"));
    assert!(log.contains(&root_a) && log.contains(&root_b), "{log}");
    // What an operator sees (cargo test -- --nocapture).
    eprintln!("{log}");
}

#[test]
fn an_observer_reports_a_bad_entry_on_a_consistent_board() {
    // The board is one consistent log, but it accepted a ballot whose bytes
    // were altered: the per-entry checks name it and the observer exits 1.
    let entries = record_entries("flipped-bit-ballot");
    let server = serve(&entries);
    let dir = tempfile::tempdir().unwrap();
    let child = observer(
        server.port,
        dir.path(),
        "carol.observer.example",
        &[
            "--until-size",
            &entries.len().to_string(),
            "--duration",
            "30",
        ],
    );
    let (code, log) = wait(child, Duration::from_secs(60));
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("ERROR: entry "), "{log}");
    assert!(!log.contains("ALARM"), "no fork here:\n{log}");
}
