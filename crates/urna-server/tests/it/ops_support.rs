//! Set-up of the operations tests (metrics, logs, a lost database): an
//! in-process app, an election up to voting, ballots, and a private
//! PostgreSQL cluster that a test may stop and start.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use urna_crypto::ballot::Ballot;
use urna_crypto::credential::CredentialKey;
use urna_election::Manifest;
use urna_server::election::{BallotStyle, TestClock};

pub const TOKEN: &str = "s3cret-admin-token";
pub const EXAMPLE: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");

/// The example manifest with 3 trustees (t = 2), as the ceremony helper deals.
pub fn manifest_text() -> String {
    let text = EXAMPLE.replace("n = 5\nt = 3", "n = 3\nt = 2");
    assert_ne!(text, EXAMPLE, "the example's trustees section moved");
    text
}

/// Calls `app` with an optional bearer token and a body; status and JSON.
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Vec<u8>>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {a}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b)),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

/// The same, asserting success.
pub async fn ok(
    app: &Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Value {
    let (st, v) = call(
        app,
        method,
        uri,
        auth,
        body.map(|b| b.to_string().into_bytes()),
    )
    .await;
    assert!(st.is_success(), "{method} {uri}: {st} {v}");
    v
}

/// Publishes the manifest and runs the key ceremony: the election takes
/// credentials next.
pub async fn up_to_registration(app: &Router, m: &Manifest, text: &str) {
    let (st, v) = call(
        app,
        "POST",
        "/election/manifest",
        Some(TOKEN),
        Some(text.as_bytes().to_vec()),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    crate::common::honest_ceremony(m, |body| async move {
        ok(app, "POST", "/election/ceremony", Some(TOKEN), Some(body)).await;
    })
    .await;
    ok(app, "POST", "/election/ceremony/finish", Some(TOKEN), None).await;
}

/// Registers `creds` by the admin in `uik-0001`, opens voting, and
/// returns the district's ballot style.
pub async fn open_with(
    app: &Router,
    m: &Manifest,
    clock: &TestClock,
    creds: &[CredentialKey],
) -> BallotStyle {
    for c in creds {
        ok(
            app,
            "POST",
            "/election/credentials",
            Some(TOKEN),
            Some(json!({ "district": "msk-cao", "precinct": "uik-0001", "credential": c.public().to_hex() })),
        )
        .await;
    }
    clock.set(m.schedule().voting_opens);
    ok(app, "POST", "/election/open", Some(TOKEN), None).await;
    style(app).await
}

pub async fn style(app: &Router) -> BallotStyle {
    BallotStyle::from_value(&ok(app, "GET", "/election/style/msk-cao", None, None).await).unwrap()
}

/// A "yes" ballot of `cred`, encoded.
pub fn ballot(style: &BallotStyle, cred: &CredentialKey) -> Vec<u8> {
    let (b, _) = Ballot::encrypt(
        &style.key,
        &style.fingerprint,
        cred,
        &style.header,
        &style.shapes,
        &[vec![1, 0]],
        &mut rand::rng(),
    )
    .unwrap();
    b.encode().unwrap()
}

/// `POST /election/ballots` with `bytes`.
pub async fn cast(app: &Router, bytes: &[u8]) -> (StatusCode, Value) {
    let body = json!({ "ballot": hex::encode(bytes) })
        .to_string()
        .into_bytes();
    call(app, "POST", "/election/ballots", None, Some(body)).await
}

/// The value of the Prometheus sample `name` (with its labels, as
/// written: `urna_x{code="y"}`) in `text`; 0 when absent.
pub fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (n, v) = l.rsplit_once(' ')?;
            (n == name).then(|| v.parse::<f64>().unwrap())
        })
        .unwrap_or(0.0)
}

/// `GET /metrics` as text.
pub async fn metrics(app: &Router) -> String {
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A throwaway PostgreSQL cluster of this test's own, which it may stop
/// and start (the shared one of `.ci/postgres.sh` serves other tests).
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl Cluster {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let path = self.bin.join(program);
        // PostgreSQL refuses to run as root: as `postgres` then.
        let mut cmd = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            std::process::Command::new(&path)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts a new cluster, or `None` (the test skips) when PostgreSQL
    /// is not installed and `URNA_REQUIRE_POSTGRES` is not set.
    pub fn start() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                let mut v: Vec<_> = d
                    .filter_map(|e| e.ok())
                    .map(|e| e.path().join("bin"))
                    .collect();
                v.sort();
                v.pop()
            })
            .filter(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("URNA_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL is required (URNA_REQUIRE_POSTGRES) but not installed"
            );
            eprintln!("skipped: PostgreSQL is not installed");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("urna-pg-ops")
            .tempdir_in("/tmp")
            .unwrap();
        if is_root() {
            let ok = std::process::Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster { dir, bin, port };
        let data = c.data();
        c.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "urna",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        c.pg_start();
        c.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "urna",
                "urna_ops",
            ],
        );
        Some(c)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://urna@127.0.0.1:{}/urna_ops", self.port)
    }

    /// `pg_ctl start` (waits until it accepts connections).
    pub fn pg_start(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// `pg_ctl stop -m fast`: every session is ended.
    pub fn pg_stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let _ = if is_root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&path)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        } else {
            std::process::Command::new(&path)
                .args(["-D", &data, "-m", "immediate", "stop"])
                .output()
        };
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Shares a value between the tasks of a test.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;
