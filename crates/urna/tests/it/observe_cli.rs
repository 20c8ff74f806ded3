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

/// `GET`, or `None` on any fault of the connection.
fn try_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out.split_once("\r\n\r\n")?.1.to_owned())
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

/// An observer whose `--listen 127.0.0.1:0` address is read from its log
/// as it starts; its peers reach it through a proxy whose port the test
/// holds from the start (so no port is guessed free and then taken).
struct Gossiping {
    child: Child,
    log: Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

fn gossiping(port: u16, dir: &Path, name: &str, extra: &[&str], to: &Arc<AtomicU16>) -> Gossiping {
    use std::io::BufRead;
    let mut child = observer(
        port,
        dir,
        name,
        &[&["--listen", "127.0.0.1:0"], extra].concat(),
    );
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let (log2, to2) = (Arc::clone(&log), Arc::clone(to));
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split("checkpoint at http://127.0.0.1:").nth(1) {
                let p: u16 = rest.split('/').next().unwrap().parse().unwrap();
                to2.store(p, Ordering::SeqCst);
            }
            let mut l = log2.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    Gossiping { child, log, reader }
}

fn wait_gossiping(g: Gossiping, limit: Duration) -> (i32, String) {
    let Gossiping {
        mut child,
        log,
        reader,
    } = g;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "observer did not stop within {limit:?}:\n{}",
                log.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().unwrap();
    let log = log.lock().unwrap().clone();
    (status.code().unwrap_or(-1), log)
}

/// Answers every request with `body` (a peer serving garbage).
fn fixed_server(body: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn observers_gossiping_over_http_catch_a_split_view() {
    let n = valid_entries().len();
    let (a, b) = forked(n / 2, 1);
    let sa = serve(&a);
    let sb = serve(&b);
    let dir = tempfile::tempdir().unwrap();
    let (ta, tb) = (Arc::new(AtomicU16::new(0)), Arc::new(AtomicU16::new(0)));
    let (pa, pb) = (proxy(Arc::clone(&ta)), proxy(Arc::clone(&tb)));
    let o1 = gossiping(
        sa.port,
        dir.path(),
        "one.observer.example",
        &["--peer", &url(pb), "--duration", "10"],
        &ta,
    );
    let o2 = gossiping(
        sb.port,
        dir.path(),
        "two.observer.example",
        &["--peer", &url(pa), "--duration", "10"],
        &tb,
    );
    let results: Vec<(i32, String)> = [o1, o2]
        .into_iter()
        .map(|g| wait_gossiping(g, Duration::from_secs(60)))
        .collect();
    // (The second fork is also a broken election: its observer names a
    // failing entry too, which alone would make it exit 1.)
    let caught: Vec<&(i32, String)> = results
        .iter()
        .filter(|(c, log)| *c == 1 && log.contains("ALARM: split view"))
        .collect();
    assert!(
        !caught.is_empty(),
        "no observer caught the split view:\n{results:#?}"
    );
    let root_a = root_line(&get(sa.port, "/board/checkpoint"));
    let root_b = root_line(&get(sb.port, "/board/checkpoint"));
    for (_, log) in caught {
        // Both signed checkpoints, in full: the evidence names both forks.
        assert!(log.contains(&root_a) && log.contains(&root_b), "{log}");
        assert!(log.contains("seen by peer http://127.0.0.1:"), "{log}");
    }
}

#[test]
fn observers_gossiping_about_one_honest_board_agree() {
    let entries = valid_entries();
    let server = serve(&entries);
    let dir = tempfile::tempdir().unwrap();
    let (ta, tb) = (Arc::new(AtomicU16::new(0)), Arc::new(AtomicU16::new(0)));
    let (pa, pb) = (proxy(Arc::clone(&ta)), proxy(Arc::clone(&tb)));
    // A third "peer" serves a checkpoint of another board key: the
    // peer's fault, not evidence against the board.
    let other_key =
        BoardSigningKey::from_secret_bytes("test.urna.example/observe", &[9; 32]).unwrap();
    let cp = urna_board::Checkpoint::new("test.urna.example/observe", 3, [7; 32]).unwrap();
    let junk = urna_board::sign_checkpoint(&other_key, &cp)
        .unwrap()
        .to_text();
    let junk_port = fixed_server(junk);
    let o1 = gossiping(
        server.port,
        dir.path(),
        "one.observer.example",
        &[
            "--peer",
            &url(pb),
            "--peer",
            &url(junk_port),
            "--duration",
            "4",
        ],
        &ta,
    );
    let o2 = gossiping(
        server.port,
        dir.path(),
        "two.observer.example",
        &["--peer", &url(pa), "--duration", "4"],
        &tb,
    );
    // While they run: the status endpoint states the size and root.
    let start = Instant::now();
    let status = loop {
        // Until the observer listens, its proxy drops the connection.
        if let Some(body) = try_get(pa, "/observer/status") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if v["size"] == entries.len() as u64 {
                break v;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no status");
        std::thread::sleep(Duration::from_millis(100));
    };
    let note = get(pa, "/observer/checkpoint");
    assert_eq!(
        root_line(&note),
        root_line(&get(server.port, "/board/checkpoint"))
    );
    assert_eq!(status["alarms"], serde_json::json!([]));
    assert_eq!(status["root"].as_str().unwrap().len(), 64);
    let r1 = wait_gossiping(o1, Duration::from_secs(60));
    let r2 = wait_gossiping(o2, Duration::from_secs(60));
    for (code, log) in [&r1, &r2] {
        assert_eq!(*code, 0, "{log}");
        assert!(!log.contains("ALARM"), "{log}");
    }
    assert!(r1.1.contains("peer error"), "{}", r1.1);
}

/// Runs one observer to the end with a given mirror folder.
fn observe_into(port: u16, mirror: &Path, key_dir: &Path, extra: &[&str]) -> (i32, String) {
    let child = urna()
        .args([
            "observe",
            &url(port),
            "--interval",
            "0.1",
            "--name",
            "r.observer.example",
        ])
        .arg("--key")
        .arg(key_dir.join("r.key"))
        .arg("--mirror")
        .arg(mirror)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child, Duration::from_secs(90))
}

#[test]
fn an_observer_resumes_its_mirror_and_fetches_only_what_is_new() {
    let entries = valid_entries();
    let half = entries.len() / 2;
    let server = serve(&entries[..half]);
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    let until = |n: usize| {
        vec![
            "--until-size".to_owned(),
            n.to_string(),
            "--duration".into(),
            "60".into(),
        ]
    };
    let args = until(half);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, log) = observe_into(server.port, &mirror, dir.path(), &args);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains(&format!("size {half} (+{half})")), "{log}");
    for e in &entries[half..] {
        server.store.append(e.clone()).unwrap();
    }
    let args = until(entries.len());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, log) = observe_into(server.port, &mirror, dir.path(), &args);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains(&format!(
            "resuming the mirror in {} at size {half}",
            mirror.display()
        )),
        "{log}"
    );
    // Only the entries after the mirror's size were fetched.
    let rest = entries.len() - half;
    assert!(
        log.contains(&format!("size {} (+{rest})", entries.len())),
        "{log}"
    );
    // The whole mirror, old and new entries, was verified again.
    assert!(log.contains("VALID"), "{log}");
    let out = urna().arg("verify").arg(&mirror).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_history_rewritten_while_the_observer_was_down_is_caught() {
    let n = valid_entries().len();
    let (a, b) = forked(n / 2, 1);
    let sa = serve(&a);
    let sb = serve(&b);
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    let size = a.len().to_string();
    let (code, log) = observe_into(
        sa.port,
        &mirror,
        dir.path(),
        &["--until-size", &size, "--duration", "60"],
    );
    assert_eq!(code, 0, "{log}");
    // The observer is down; the board comes back with the other history
    // (same key, longer).
    let (code, log) = observe_into(sb.port, &mirror, dir.path(), &["--duration", "10"]);
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("rewrote its history"), "{log}");
    let root_a = root_line(&get(sa.port, "/board/checkpoint"));
    let root_b = root_line(&get(sb.port, "/board/checkpoint"));
    assert!(log.contains(&root_a) && log.contains(&root_b), "{log}");
}

#[test]
fn an_altered_mirror_is_refused() {
    let entries = valid_entries();
    let server = serve(&entries);
    let dir = tempfile::tempdir().unwrap();
    let mirror = dir.path().join("mirror");
    let size = entries.len().to_string();
    let run = || {
        observe_into(
            server.port,
            &mirror,
            dir.path(),
            &["--until-size", &size, "--duration", "60"],
        )
    };
    let (code, log) = run();
    assert_eq!(code, 0, "{log}");

    // One byte of one entry changed.
    let path = mirror.join("entries.bin");
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let (code, log) = run();
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("the files were altered"), "{log}");
    assert!(!log.contains("ALARM"), "local state is no evidence:\n{log}");

    // Cut short.
    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    let (code, log) = run();
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("is cut short") || log.contains("ends after"),
        "{log}"
    );

    // The accepted checkpoint altered (its signature no longer verifies).
    std::fs::write(&path, &good).unwrap();
    let cp_path = mirror.join("checkpoint.txt");
    let cp = std::fs::read_to_string(&cp_path).unwrap();
    std::fs::write(&cp_path, cp.replacen(&entries.len().to_string(), "1", 1)).unwrap();
    let (code, log) = run();
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("checkpoint.txt does not verify"), "{log}");

    // The mirror was made for this board's key: another is refused.
    std::fs::write(&cp_path, &cp).unwrap();
    let other = BoardSigningKey::from_secret_bytes("test.urna.example/observe", &[8; 32])
        .unwrap()
        .verifier_key()
        .to_string();
    let (code, log) = observe_into(
        server.port,
        &mirror,
        dir.path(),
        &["--board-key", &other, "--duration", "5"],
    );
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("the mirror was made for board key"), "{log}");

    // Put back as it was, plus the start of an entry written after the
    // last accepted checkpoint (a stop between the two writes): that part
    // is cut off and the mirror resumes.
    std::fs::write(&cp_path, cp).unwrap();
    let mut longer = good.clone();
    longer.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
    std::fs::write(&path, &longer).unwrap();
    let (code, log) = run();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("resuming the mirror"), "{log}");
    assert!(
        log.contains("6 bytes of entries never accepted cut off"),
        "{log}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), good);

    // Stopped before accepting any checkpoint: whatever was written is
    // unaccepted, and the observer starts over from entry 0.
    std::fs::remove_file(&cp_path).unwrap();
    let (code, log) = run();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("at size 0"), "{log}");
    assert!(log.contains(&format!("size {size} (+{size})")), "{log}");
}
