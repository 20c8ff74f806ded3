//! What the tests that drive the real `urna serve` binary share: a
//! blocking HTTP/1.1 client on std, starting and killing the server, and
//! a manifest whose windows are around the real clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub const TOKEN: &str = "resume-test-admin-token";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn rfc3339(unix: i64) -> String {
    urna_election::Timestamp::from_unix(unix).to_rfc3339_utc()
}

/// The 2020 example with 3 trustees (t = 2), the given re-vote section,
/// applications open now and voting opening at `opens` for a day.
pub fn manifest(opens: i64, revote: &str) -> String {
    manifest_with(opens, opens + 86_400, revote, (3, 2))
}

/// The same with the voting window `[opens, closes)` and trustees (n, t).
pub fn manifest_with(opens: i64, closes: i64, revote: &str, (n, t): (u16, u16)) -> String {
    let example = include_str!("../../../../../examples/moscow-2020-constitution.toml");
    let mut out = String::new();
    let mut skip = false;
    for line in example.lines() {
        if line.starts_with('[') {
            skip = false;
        }
        if line == "[schedule]" {
            skip = true;
            out.push_str(&format!(
                "[schedule]\ntime_zone = \"Europe/Moscow\"\napplications_open = {}\napplications_close = {}\nvoting_opens = {}\nvoting_closes = {}\n\n",
                rfc3339(now() - 3600),
                rfc3339(opens),
                rfc3339(opens),
                rfc3339(closes)
            ));
        } else if line == "[revote]" {
            skip = true;
            out.push_str(revote);
            out.push_str("\n\n");
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    let want = format!("n = {n}\nt = {t}");
    let out = out.replace("n = 5\nt = 3", &want);
    assert!(out.contains(&want));
    out
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// A blocking request (`Connection: close`); `Err` if the server is gone.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&[u8]>,
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = bearer {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or(b"");
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let nl = body[at..].windows(2).position(|w| w == b"\r\n").unwrap() + at;
            let n = usize::from_str_radix(std::str::from_utf8(&body[at..nl]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&body[nl + 2..nl + 2 + n]);
            at = nl + 2 + n + 2;
        }
        body = out;
    }
    Ok(Resp { status, body })
}

/// The server under test.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    /// Starts `urna serve` on a free port over `data`; waits until it listens.
    pub fn start(data: &Path) -> Result<Server, String> {
        std::fs::create_dir_all(data).unwrap();
        let token = data.join("admin.token");
        if !token.exists() {
            std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        }
        Server::spawn(&[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "urna.test/resume",
            "--admin-token-file",
            token.to_str().unwrap(),
        ])
    }

    /// Runs `urna ARGS` (a `serve` listening on 127.0.0.1:0); waits until it listens.
    pub fn spawn(args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_urna"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.split("on http://").nth(1) {
                let addr = rest.trim().to_string();
                // Keep draining stderr so that the server never blocks on it.
                std::thread::spawn(move || for _ in lines {});
                return Ok(Server { child, addr });
            }
        }
        let _ = child.wait();
        Err(seen)
    }

    pub fn call(&self, method: &str, path: &str, admin: bool, body: Option<Value>) -> Resp {
        let b = body.map(|v| v.to_string().into_bytes());
        request(
            &self.addr,
            method,
            path,
            admin.then_some(TOKEN),
            b.as_deref(),
        )
        .unwrap()
    }

    pub fn ok(&self, method: &str, path: &str, admin: bool, body: Option<Value>) -> Value {
        let r = self.call(method, path, admin, body);
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
