//! Issue 11 item 4: several `urna serve` on one PostgreSQL database
//! (spec/api.md §A9). Three real servers on loopback, clients casting
//! concurrently against all three: `kill -9` the sequencer mid-load, then
//! the next one, then restart all three; every acknowledged ballot is on
//! the board at the index its receipt gave, none twice, the election
//! closes, the trustees decrypt and `urna verify` says VALID. And the
//! fencing: a sequencer paused (SIGSTOP) past its lease and resumed after
//! another took over never appends; it steps down and follows.
//!
//! Run: `scripts/test.sh`, or with a database in `URNA_TEST_POSTGRES_URL`:
//! `cargo test -p urna --test it cluster_failover:: -- --include-ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use urna_crypto::credential::CredentialKey;
use urna_election::Manifest;

use crate::common::{self, Server, TOKEN, manifest_with, now};
use crate::serve_resume::{Style, ballot, cast, style_from};
use crate::trustee_tally::{ok, trustee};

/// The test database, or `None` (said on stderr) when none is configured
/// and none is required.
fn database() -> Option<String> {
    let require = std::env::var("URNA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    match std::env::var("URNA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !require,
                "URNA_REQUIRE_POSTGRES=1 but URNA_TEST_POSTGRES_URL is not set"
            );
            eprintln!("!!! SKIPPED cluster_failover: URNA_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Three servers of one board, each with its own folder (holding the
/// same board key and admin token) and journal.
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
    schema: String,
    servers: Vec<Option<Server>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = urna_store::drop_postgres_schema(&self.url, &self.schema);
        if std::thread::panicking() {
            // The servers' stderr, to see why.
            for i in 0..3 {
                let log = std::fs::read_to_string(self.log(i)).unwrap_or_default();
                eprintln!("--- server {i} ---\n{log}");
            }
        }
    }
}

/// Starts `urna ARGS` with its stderr appended to `log`; waits until it listens.
fn spawn(args: &[&str], log: &std::path::Path) -> Server {
    let before = std::fs::read_to_string(log).map_or(0, |s| s.len());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    // Killed and waited for on drop, a failed start included.
    let mut srv = Server {
        child,
        addr: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(rest) = text[before.min(text.len())..]
            .split("serving on http://")
            .nth(1)
            && let Some(addr) = rest.lines().next()
        {
            srv.addr = addr.trim().to_owned();
            return srv;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Cluster {
    fn new(url: String, name: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!("urna_cl_{name}_{}_{nanos}", std::process::id());
        std::fs::write(
            dir.path().join("cluster.secret"),
            format!("{:0>64}\n", nanos),
        )
        .unwrap();
        std::fs::write(dir.path().join("admin.token"), format!("{TOKEN}\n")).unwrap();
        let mut c = Cluster {
            dir,
            url,
            schema,
            servers: (0..3).map(|_| None).collect(),
        };
        // The first creates the board key; the others get a copy.
        c.start(0);
        assert_eq!(c.sequencer(), 0);
        for i in 1..3 {
            std::fs::create_dir_all(c.data(i)).unwrap();
            std::fs::copy(c.data(0).join("board.key"), c.data(i).join("board.key")).unwrap();
            c.start(i);
        }
        assert_eq!(c.sequencer(), 0);
        c
    }

    fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("s{i}"))
    }

    fn start(&mut self, i: usize) {
        let p = |x: PathBuf| x.to_str().unwrap().to_owned();
        let (data, token, secret) = (
            p(self.data(i)),
            p(self.dir.path().join("admin.token")),
            p(self.dir.path().join("cluster.secret")),
        );
        let args = [
            "serve",
            "--data",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "urna.test/cluster",
            "--admin-token-file",
            &token,
            "--postgres",
            &self.url,
            "--postgres-schema",
            &self.schema,
            "--cluster-secret-file",
            &secret,
            "--lease-ttl",
            "3",
        ];
        self.servers[i] = Some(spawn(&args, &self.log(i)));
    }

    fn log(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("server{i}.log"))
    }

    fn addr(&self, i: usize) -> String {
        self.servers[i].as_ref().unwrap().addr.clone()
    }

    fn live(&self) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|&i| self.servers[i].is_some())
            .collect()
    }

    fn srv(&self, i: usize) -> &Server {
        self.servers[i].as_ref().unwrap()
    }

    /// Waits until the servers `among` are ready and name one sequencer
    /// among them; returns it.
    fn sequencer_among(&self, among: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let named: Vec<Option<String>> = among
                .iter()
                .map(|&i| {
                    let r = common::request(&self.addr(i), "GET", "/readyz", None, None).ok()?;
                    (r.status == 200).then(|| r.json()["sequencer"].as_str().map(str::to_owned))?
                })
                .collect();
            if let Some(Some(first)) = named.first()
                && named.iter().all(|n| n.as_ref() == Some(first))
                && let Some(&i) = among
                    .iter()
                    .find(|&&i| format!("http://{}", self.addr(i)) == *first)
            {
                return i;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the servers {among:?} named no common sequencer within a minute");
    }

    fn sequencer(&self) -> usize {
        self.sequencer_among(&self.live())
    }

    fn kill(&mut self, i: usize) {
        self.servers[i].take().unwrap().kill();
    }

    fn signal(&self, i: usize, sig: &str) {
        let pid = self.srv(i).child.id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// `METHOD path` as admin on server `i`, retried while the cluster
    /// answers 503 (no sequencer for a moment); must succeed.
    fn admin(&self, i: usize, method: &str, path: &str, body: Option<&[u8]>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = common::request(&self.addr(i), method, path, Some(TOKEN), body).unwrap();
            if r.status == 503 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            assert!(
                (200..300).contains(&r.status),
                "{method} {path}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            );
            return r.json();
        }
    }
}

/// Manifest, key ceremony by three trustees (`urna trustee`), `voters`
/// credentials; on server `s`.
fn set_up(
    c: &Cluster,
    s: usize,
    text: &str,
    voters: usize,
) -> (Vec<(CredentialKey, String)>, BTreeMap<String, Style>) {
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    c.admin(s, "POST", "/election/manifest", Some(text.as_bytes()));
    let url = format!("http://{}", c.addr(s));
    let dir = c.dir.path();
    for j in 1..=3u16 {
        let v = c.admin(s, "POST", &format!("/election/trustees/{j}/token"), None);
        std::fs::write(
            dir.join(format!("trustee{j}.token")),
            v["token"].as_str().unwrap(),
        )
        .unwrap();
    }
    for j in 1..=3u16 {
        ok(
            j,
            &trustee(dir, j, &url, &["init", "--index", &j.to_string()]),
        );
    }
    for step in ["deal", "receive"] {
        for j in 1..=3u16 {
            ok(j, &trustee(dir, j, &url, &[step, "--wait", "60"]));
        }
    }
    c.admin(s, "POST", "/election/ceremony/finish", None);
    for j in 1..=3u16 {
        ok(j, &trustee(dir, j, &url, &["finish"]));
    }
    let mut rng = rand::rng();
    let mut out = Vec::new();
    for i in 0..voters {
        let p = &m.precincts()[i % m.precincts().len()];
        let d = m.districts()[p.district].id.clone();
        let key = CredentialKey::generate(&mut rng);
        let body = json!({ "district": d, "precinct": p.id, "credential": key.public().to_hex() });
        c.admin(
            s,
            "POST",
            "/election/credentials",
            Some(body.to_string().as_bytes()),
        );
        out.push((key, d));
    }
    let mut styles = BTreeMap::new();
    for (_, d) in &out {
        if !styles.contains_key(d) {
            let v = c
                .srv(s)
                .ok("GET", &format!("/election/style/{d}"), false, None);
            styles.insert(d.clone(), style_from(&v));
        }
    }
    (out, styles)
}

/// What the casting clients saw.
#[derive(Default)]
struct Seen {
    /// Ballots acknowledged with a receipt.
    acked: Vec<(Vec<u8>, Value)>,
    /// Ballots whose answer was lost (a server died) and which a retry
    /// found already on the board (`replayed_ballot`).
    landed: Vec<Vec<u8>>,
}

/// Clients casting `ballots` round-robin over the servers in `addrs`
/// (updated as servers restart), each retrying a ballot on the next
/// server while it gets no answer or a 503.
fn casting(
    ballots: Vec<Vec<u8>>,
    addrs: &Arc<RwLock<Vec<String>>>,
    seen: &Arc<Mutex<Seen>>,
    clients: usize,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..clients)
        .map(|k| {
            let mine: Vec<Vec<u8>> = ballots.iter().skip(k).step_by(clients).cloned().collect();
            let (addrs, seen) = (Arc::clone(addrs), Arc::clone(seen));
            std::thread::spawn(move || {
                let mut turn = k;
                for b in mine {
                    let mut lost = false;
                    let give_up = Instant::now() + Duration::from_secs(90);
                    loop {
                        assert!(Instant::now() < give_up, "a ballot found no server");
                        turn += 1;
                        let addr = {
                            let a = addrs.read().unwrap();
                            a[turn % a.len()].clone()
                        };
                        match cast(&addr, &b) {
                            Ok(r) if r.status == 200 => {
                                seen.lock().unwrap().acked.push((b, r.json()));
                                break;
                            }
                            Ok(r) if r.status == 409 && r.code() == "replayed_ballot" => {
                                assert!(lost, "a ballot never sent before is a replay");
                                seen.lock().unwrap().landed.push(b);
                                break;
                            }
                            Ok(r) if r.status >= 500 => lost = true,
                            Ok(r) => panic!(
                                "refused at {addr}: {} {}",
                                r.status,
                                String::from_utf8_lossy(&r.body)
                            ),
                            Err(_) => lost = true,
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
        })
        .collect()
}

fn acked(seen: &Arc<Mutex<Seen>>) -> usize {
    seen.lock().unwrap().acked.len()
}

fn wait_acked(seen: &Arc<Mutex<Seen>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while acked(seen) < n {
        assert!(
            Instant::now() < deadline,
            "casting stalled at {}",
            acked(seen)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every acknowledged ballot answers its receipt at the index it was
/// given, on every server; distinct ballots at distinct indices.
fn receipts_hold(c: &Cluster, seen: &Seen) {
    let mut indices = BTreeSet::new();
    for (b, r) in &seen.acked {
        let tracking = hex::encode(urna_election::tracking_code(b));
        for i in c.live() {
            let got = c
                .srv(i)
                .ok("GET", &format!("/receipt/{tracking}"), false, None);
            assert_eq!(got["kind"], "ballot");
            assert_eq!(got["index"], r["index"], "receipt index moved");
            assert_eq!(got["leaf_hash"], r["leaf_hash"]);
        }
        assert!(
            indices.insert(r["index"].as_u64().unwrap()),
            "two ballots at one index"
        );
    }
    for b in &seen.landed {
        let tracking = hex::encode(urna_election::tracking_code(b));
        let got = c
            .srv(c.live()[0])
            .ok("GET", &format!("/receipt/{tracking}"), false, None);
        assert!(indices.insert(got["index"].as_u64().unwrap()));
    }
}

/// Waits until every live server serves the same signed checkpoint (the
/// followers' views catch up within about a second).
fn converged(c: &Cluster) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let notes: BTreeSet<Vec<u8>> = c
            .live()
            .into_iter()
            .map(|i| {
                common::request(&c.addr(i), "GET", "/board/checkpoint", None, None)
                    .unwrap()
                    .body
            })
            .collect();
        if notes.len() == 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the servers disagree on the checkpoint"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn set_addr(addrs: &Arc<RwLock<Vec<String>>>, c: &Cluster, i: usize) {
    addrs.write().unwrap()[i] = c.addr(i);
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh"]
fn kill_9_sequencers_then_restart_all() {
    const VOTERS: usize = 150;
    let Some(url) = database() else { return };
    let mut c = Cluster::new(url, "kill");
    let opens = now() + 30;
    let closes = opens + 90;
    let text = manifest_with(opens, closes, "[revote]\npolicy = \"forbidden\"", (3, 2));
    let (voters, styles) = set_up(&c, 0, &text, VOTERS);
    let ballots: Vec<Vec<u8>> = voters
        .iter()
        .enumerate()
        .map(|(i, (k, d))| ballot(&styles[d], k, i % 3 != 0))
        .collect();
    let yes = (0..VOTERS).filter(|i| i % 3 != 0).count() as u64;
    while now() < opens {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Opened through a follower: forwarded to the sequencer.
    let opened = c.admin(1, "POST", "/election/open", None);
    assert_eq!(opened["phase"], "voting");

    let addrs = Arc::new(RwLock::new((0..3).map(|i| c.addr(i)).collect::<Vec<_>>()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let clients = casting(ballots, &addrs, &seen, 6);

    // kill -9 the sequencer mid-load; a follower takes over.
    wait_acked(&seen, VOTERS / 5);
    let first = c.sequencer();
    c.kill(first);
    let second = c.sequencer();
    assert_ne!(second, first);
    c.start(first);
    set_addr(&addrs, &c, first);
    // Then the next one.
    wait_acked(&seen, 2 * VOTERS / 5);
    let second = c.sequencer();
    c.kill(second);
    let third = c.sequencer();
    assert_ne!(third, second);
    c.start(second);
    set_addr(&addrs, &c, second);
    // Then all three at once, restarted.
    wait_acked(&seen, 3 * VOTERS / 5);
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        c.start(i);
        set_addr(&addrs, &c, i);
    }
    for t in clients {
        t.join().unwrap();
    }
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    assert_eq!(seen.acked.len() + seen.landed.len(), VOTERS);
    let s = c.sequencer();
    receipts_hold(&c, &seen);
    // Ballots, not voters: a server that took over knows the precincts
    // only of the registrations it journalled itself (decision 0017).
    let t = c.srv(s).ok("GET", "/election/turnout", false, None);
    assert_eq!(t["ballots"], VOTERS as u64, "{t}");

    // Close, tally and decrypt, the admin calls through a follower.
    while now() < closes {
        std::thread::sleep(Duration::from_millis(200));
    }
    let f = (s + 1) % 3;
    c.admin(f, "POST", "/election/close", None);
    c.admin(f, "POST", "/election/tally", None);
    let url = format!("http://{}", c.addr(s));
    for j in [1u16, 2] {
        ok(j, &trustee(c.dir.path(), j, &url, &["decrypt"]));
    }
    c.admin(f, "POST", "/election/results", None);
    let res = c.srv(s).ok("GET", "/election/results", false, None);
    let total = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scope"] == "total")
        .unwrap()
        .clone();
    assert_eq!(total["counts"], json!([yes, VOTERS as u64 - yes]), "{res}");

    // The whole board, read through a follower, verifies.
    converged(&c);
    let out = Command::new(env!("CARGO_BIN_EXE_urna"))
        .args(["verify", &format!("http://{}", c.addr(f))])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("VALID"),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh"]
fn a_paused_sequencer_never_appends_after_takeover() {
    const VOTERS: usize = 60;
    let Some(url) = database() else { return };
    let c = Cluster::new(url, "fence");
    let opens = now() + 25;
    let text = manifest_with(
        opens,
        opens + 86_400,
        "[revote]\npolicy = \"forbidden\"",
        (3, 2),
    );
    let (voters, styles) = set_up(&c, 0, &text, VOTERS);
    let ballots: Vec<Vec<u8>> = voters
        .iter()
        .map(|(k, d)| ballot(&styles[d], k, true))
        .collect();
    while now() < opens {
        std::thread::sleep(Duration::from_millis(200));
    }
    c.admin(0, "POST", "/election/open", None);
    let mut seen = Seen::default();
    let cast_ok = |addr: &str, b: &Vec<u8>, seen: &mut Seen| {
        let r = cast(addr, b).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        seen.acked.push((b.clone(), r.json()));
    };
    for (i, b) in ballots[..20].iter().enumerate() {
        cast_ok(&c.addr(i % 3), b, &mut seen);
    }

    // Pause the sequencer past its lease; send it a ballot meanwhile.
    let old = c.sequencer();
    c.signal(old, "-STOP");
    let (to_old, addr) = (ballots[20].clone(), c.addr(old));
    let pending = std::thread::spawn(move || cast(&addr, &to_old));
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();
    let new = c.sequencer_among(&others);
    assert_ne!(new, old);
    for (i, b) in ballots[21..40].iter().enumerate() {
        cast_ok(&c.addr(others[i % 2]), b, &mut seen);
    }
    let size = c.srv(new).ok("GET", "/election/status", false, None)["tree_size"].clone();

    // Resumed: whatever it had in hand is refused by the fence or
    // forwarded to the new sequencer; it steps down and follows.
    c.signal(old, "-CONT");
    let answer = pending.join().unwrap().unwrap();
    let tracking = hex::encode(urna_election::tracking_code(&ballots[20]));
    let on_board = c
        .srv(new)
        .call("GET", &format!("/receipt/{tracking}"), false, None);
    if answer.status == 200 {
        assert_eq!(on_board.status, 200);
        seen.acked.push((ballots[20].clone(), answer.json()));
    } else {
        assert!(
            answer.status >= 500,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(
            on_board.status, 404,
            "an unacknowledged ballot is on the board"
        );
        cast_ok(&c.addr(new), &ballots[20], &mut seen);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = common::request(&c.addr(old), "GET", "/readyz", None, None).unwrap();
        if r.status == 200 && r.json()["role"] == "follower" {
            assert_eq!(
                r.json()["sequencer"],
                format!("http://{}", c.addr(new)).as_str()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old sequencer did not step down"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The board only grew from the new sequencer's appends.
    let now_size = c.srv(new).ok("GET", "/election/status", false, None)["tree_size"].clone();
    assert!(now_size.as_u64() >= size.as_u64());
    // Casting continues through all three, the old one included.
    for (i, b) in ballots[40..].iter().enumerate() {
        cast_ok(&c.addr(i % 3), b, &mut seen);
    }
    assert_eq!(c.sequencer(), new);
    receipts_hold(&c, &seen);
    let t = c.srv(new).ok("GET", "/election/turnout", false, None);
    assert_eq!(t["ballots"], VOTERS as u64, "{t}");
    // Every server serves the same signed checkpoint once caught up.
    converged(&c);
}
