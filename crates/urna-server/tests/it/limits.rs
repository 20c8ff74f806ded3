//! Issue 12 item 3: slow clients do not hold the server (spec/api.md §A8).
//! Against a real socket: clients that trickle their header, stay idle,
//! or announce a body they never send are cut off after the timeouts
//! while other clients are served; connections beyond the per-address
//! and total limits get a JSON 503 at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use urna_board::{BoardSigningKey, Entry, EntryKind};
use urna_server::AppState;
use urna_server::limits::Limits;
use urna_store::BoardStore;

const ORIGIN: &str = "urna.example/limits-test";

async fn start(dir: &tempfile::TempDir, limits: Limits) -> SocketAddr {
    let key = BoardSigningKey::from_secret_bytes(ORIGIN, &[7; 32]).unwrap();
    let store = BoardStore::open_sqlite(dir.path().join("board.db"), key).unwrap();
    store
        .append_async(Entry::new(EntryKind::Ballot, &[1]).unwrap())
        .await
        .unwrap();
    let state = AppState::new(store).with_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(urna_server::serve(listener, state, std::future::pending()));
    addr
}

/// Connects from the loopback address `from` (127.0.0.x).
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{from}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// One `GET /board/key` on a fresh connection: the status and body.
async fn get_key(from: &str, to: SocketAddr) -> (u16, String) {
    let mut s = connect_from(from, to).await;
    s.write_all(b"GET /board/key HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the server closes (EOF or a reset after its answer).
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("an answer in time");
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Waits until the server closes `s` (read gives EOF or an error), up to
/// `within`; returns what it sent before closing, or `None` if still open.
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(within, s.read_to_end(&mut out)).await {
        Ok(_) => Some(out),
        Err(_) => None,
    }
}

fn limits(per_address: usize, total: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_connections: total,
        max_connections_per_address: per_address,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&dir, limits(64, 256)).await;

    // 20 clients that send a header byte every 300 ms (never finishing
    // the head), and 5 that send nothing at all.
    let mut trickling = Vec::new();
    for _ in 0..20 {
        let mut s = connect_from("127.0.0.1", addr).await;
        s.write_all(b"GET /board/key HTTP/1.1\r\n").await.unwrap();
        trickling.push(s);
    }
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(connect_from("127.0.0.1", addr).await);
    }
    let started = Instant::now();
    let drip = tokio::spawn(async move {
        let mut cut = 0;
        for round in 0..40 {
            for s in trickling.iter_mut() {
                if s.write_all(format!("X-{round}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    cut += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        (trickling, cut)
    });
    // Meanwhile others are served.
    for _ in 0..5 {
        let (status, body) = get_key("127.0.0.1", addr).await;
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for s in idle.iter_mut() {
        assert!(
            closed_within(s, Duration::from_secs(5)).await.is_some(),
            "an idle connection was kept"
        );
    }
    let (mut trickling, _) = drip.await.unwrap();
    for s in trickling.iter_mut() {
        // The drip went on for 12 s; the header deadline is 1 s.
        assert!(
            closed_within(s, Duration::from_millis(100)).await.is_some(),
            "a trickling header was kept for {:?}",
            started.elapsed()
        );
    }
    let (status, _) = get_key("127.0.0.1", addr).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_comes_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&dir, limits(64, 256)).await;
    let mut s = connect_from("127.0.0.1", addr).await;
    s.write_all(
        b"POST /election/ballots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"ballot\":\"00",
    )
    .await
    .unwrap();
    let answer = closed_within(&mut s, Duration::from_secs(8))
        .await
        .expect("the server still waits for the body");
    let text = String::from_utf8_lossy(&answer);
    // Answered with a refusal (or closed), never 200.
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
    let (status, _) = get_key("127.0.0.1", addr).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_limited_per_address_and_in_all() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(&dir, limits(3, 5)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from("127.0.0.1", addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A fourth from the same address: 503 with the JSON error.
    let (status, text) = get_key("127.0.0.1", addr).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("\"too_many_connections\""), "{text}");
    // Another address is still served...
    let (status, _) = get_key("127.0.0.2", addr).await;
    assert_eq!(status, 200);
    // ...until the total is reached.
    for _ in 0..2 {
        held.push(connect_from("127.0.0.3", addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, text) = get_key("127.0.0.2", addr).await;
    assert_eq!(status, 503, "{text}");
    // Closed connections free their slots.
    held.clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = get_key("127.0.0.1", addr).await;
    assert_eq!(status, 200);
}
