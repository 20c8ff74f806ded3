//! The board's PostgreSQL stops mid-load and comes back (spec/api.md
//! §A10.3): ballots in flight and during the outage are refused 503
//! `database_unavailable`, never acknowledged unless committed; the
//! server reconnects and accepts ballots again by itself; every
//! acknowledged ballot is on the board, none twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use urna_board::{Entry, EntryKind};
use urna_crypto::credential::CredentialKey;
use urna_election::Manifest;
use urna_server::election::{AdminToken, TestClock};
use urna_server::{AppState, ElectionConfig, app};
use urna_store::BoardStore;

use crate::ops_support::{self as ops, Cluster};

/// Voters, casting workers, and each worker's pause between ballots (so
/// that the load spans the outage).
const VOTERS: usize = 120;
const WORKERS: usize = 4;
const PAUSE: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: cargo test -p urna-server --test it ops_pg_outage -- --include-ignored (starts its own cluster from /usr/lib/postgresql)"]
async fn database_stopped_and_restarted_mid_load() {
    let Some(pg) = Cluster::start() else {
        return;
    };
    let url = pg.url();
    let key =
        urna_board::BoardSigningKey::from_secret_bytes("urna.example/outage", &[3; 32]).unwrap();
    let store = tokio::task::spawn_blocking(move || BoardStore::open_postgres(&url, key))
        .await
        .unwrap()
        .unwrap();
    let text = ops::manifest_text();
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    let clock = TestClock::new(m.schedule().applications_open.plus_seconds(3600));
    let config =
        ElectionConfig::new(AdminToken::new(ops::TOKEN)).with_clock(Arc::new(clock.clone()));
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("server.journal");
    let s = store.clone();
    let (state, _) = tokio::task::spawn_blocking(move || AppState::resume(s, config, &journal))
        .await
        .unwrap()
        .unwrap();
    let app = app(state);
    ops::up_to_registration(&app, &m, &text).await;
    let mut rng = rand::rng();
    let creds: Vec<CredentialKey> = (0..VOTERS)
        .map(|_| CredentialKey::generate(&mut rng))
        .collect();
    let style = ops::open_with(&app, &m, &clock, &creds).await;
    let ballots: Vec<Vec<u8>> = creds.iter().map(|c| ops::ballot(&style, c)).collect();

    // Workers cast their voters' ballots in turn, retrying a refused one
    // until it is acknowledged (or found on the board).
    let acked: ops::Shared<Vec<(usize, u64)>> = Default::default();
    let refusals: ops::Shared<Vec<(StatusCode, String)>> = Default::default();
    let stopped_at: ops::Shared<Option<Instant>> = Default::default();
    let restarted_at: ops::Shared<Option<Instant>> = Default::default();
    let accepted_after_restart = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (app, ballots, acked, refusals) = (
            app.clone(),
            ballots.clone(),
            acked.clone(),
            refusals.clone(),
        );
        let (store, restarted_at, after) = (
            store.clone(),
            restarted_at.clone(),
            accepted_after_restart.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in (w..VOTERS).step_by(WORKERS) {
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    assert!(Instant::now() < deadline, "ballot {i} never accepted");
                    let (st, v) = ops::cast(&app, &ballots[i]).await;
                    if st == StatusCode::OK {
                        acked
                            .lock()
                            .unwrap()
                            .push((i, v["index"].as_u64().unwrap()));
                        if restarted_at.lock().unwrap().is_some() {
                            after.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        tokio::time::sleep(PAUSE).await;
                        break;
                    }
                    let code = v["error"]["code"].as_str().unwrap_or("").to_owned();
                    if st.is_client_error() {
                        // Only a ballot whose COMMIT went unanswered may be
                        // refused on a retry (it is on the board already).
                        let leaf = Entry::new(EntryKind::Ballot, &ballots[i])
                            .unwrap()
                            .leaf_hash();
                        let s = store.clone();
                        let found = tokio::task::spawn_blocking(move || s.entry_by_hash(&leaf))
                            .await
                            .unwrap();
                        assert!(
                            found.is_ok(),
                            "ballot {i} refused {st} {v} and not on the board"
                        );
                        break;
                    }
                    refusals.lock().unwrap().push((st, code));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Stop the database once some ballots are in, for two seconds.
    let start = Instant::now();
    while acked.lock().unwrap().len() < VOTERS / 4 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "casting is too slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pg = Arc::new(pg);
    let p = Arc::clone(&pg);
    tokio::task::spawn_blocking(move || p.pg_stop())
        .await
        .unwrap();
    *stopped_at.lock().unwrap() = Some(Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = refusals.lock().unwrap().len();
    let p = Arc::clone(&pg);
    tokio::task::spawn_blocking(move || p.pg_start())
        .await
        .unwrap();
    *restarted_at.lock().unwrap() = Some(Instant::now());
    for t in tasks {
        t.await.unwrap();
    }

    // Refusals were all 503 database_unavailable, and there were some.
    let refusals = refusals.lock().unwrap().clone();
    assert!(
        during > 0,
        "no ballot was refused while the database was down"
    );
    for (st, code) in &refusals {
        assert_eq!(
            (*st, code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
        );
    }
    assert!(
        accepted_after_restart.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "no ballot accepted after the database came back"
    );
    // Every acknowledged ballot is on the board at its receipt's index
    // (blocking reads of the PostgreSQL client: off the runtime's threads).
    let acked = acked.lock().unwrap().clone();
    let s = store.clone();
    let on_board: Vec<Vec<u8>> = tokio::task::spawn_blocking(move || {
        for (i, index) in &acked {
            let e = s.entry(*index).unwrap();
            assert_eq!(e.entry.payload(), &ballots[*i][..], "ballot {i} at {index}");
        }
        let size = s.size();
        s.entries(0, size)
            .unwrap()
            .into_iter()
            .filter(|e| e.entry.kind() == EntryKind::Ballot)
            .map(|e| e.entry.payload().to_vec())
            .collect()
    })
    .await
    .unwrap();
    // No ballot twice, and all of them there.
    let distinct: HashSet<_> = on_board.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        on_board.len(),
        "a ballot is on the board twice"
    );
    assert_eq!(on_board.len(), VOTERS);
    // The writer restarted once, the engine counts what the board holds.
    let text = ops::metrics(&app).await;
    assert!(
        ops::sample(&text, "urna_board_writer_restarts_total") >= 1.0,
        "{text}"
    );
    assert_eq!(ops::sample(&text, "urna_database_unavailable"), 0.0);
    let turnout = ops::ok(&app, "GET", "/election/turnout", None, None).await;
    assert_eq!(turnout["ballots"], VOTERS as u64, "{turnout}");
    // The PostgreSQL client may not be dropped on a runtime thread: the
    // last handle of the board goes on a blocking one, once the server's
    // tasks have let theirs go.
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .unwrap();
}
