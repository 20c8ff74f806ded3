//! The real server (urna-server's router, axum, the durable SQLite board)
//! on a TCP socket of the loopback interface, in its own runtime so that
//! its threads are not the clients'.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::oneshot;
use urna_board::VerifierKey;
use urna_election::Timestamp;
use urna_server::election::{AdminToken, TestClock};
use urna_server::{AppState, ElectionConfig};
use urna_store::BoardStore;

/// A running server.
#[derive(Debug)]
pub struct LocalServer {
    runtime: tokio::runtime::Runtime,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The server's clock. The demo's election is scheduled on fixed dates,
    /// so the server runs on a simulated clock that the demo moves through
    /// the schedule, as the API tests do; nothing else is done in-process.
    pub clock: TestClock,
    /// The board (for the export at the end; the server owns it meanwhile).
    pub store: BoardStore,
    /// The board's public key, published out of band for receipts.
    pub board_key: VerifierKey,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl LocalServer {
    /// Opens (or creates) `dir/board.db` with the board key `dir/board.key`
    /// for `origin` (created if missing, as `urna serve` does, so that
    /// `urna serve --data dir` can serve the election afterwards), and
    /// serves the API on 127.0.0.1 with the admin `token`.
    pub fn start(dir: &Path, origin: &str, token: &str, now: Timestamp) -> anyhow::Result<Self> {
        Self::open(dir, origin, token, now, false)
    }

    /// The same with the server journal `dir/server.journal` that `urna
    /// serve` keeps (spec/api.md §A6.2), so that `urna serve --data dir`
    /// can take the election up afterwards.
    pub fn start_journalled(
        dir: &Path,
        origin: &str,
        token: &str,
        now: Timestamp,
    ) -> anyhow::Result<Self> {
        Self::open(dir, origin, token, now, true)
    }

    /// The same on a PostgreSQL board in `schema` of the database at
    /// `url` (`urna bench cast --postgres`), with the board key in `dir`.
    pub fn start_postgres(
        dir: &Path,
        url: &str,
        schema: &str,
        origin: &str,
        token: &str,
        now: Timestamp,
    ) -> anyhow::Result<Self> {
        let key = crate::serve::board_key(&dir.join("board.key"), Some(origin))?;
        let backend = urna_store::PostgresBackend::open(
            url,
            &urna_store::PostgresOptions::with_schema(schema),
        )
        .context("opening the PostgreSQL board")?;
        let store = BoardStore::open(backend, key, urna_store::StoreOptions::default())?;
        Self::serve(dir, store, token, now, true)
    }

    fn open(
        dir: &Path,
        origin: &str,
        token: &str,
        now: Timestamp,
        journal: bool,
    ) -> anyhow::Result<Self> {
        let key = crate::serve::board_key(&dir.join("board.key"), Some(origin))?;
        let store = BoardStore::open_sqlite(dir.join("board.db"), key)
            .with_context(|| format!("opening the board in {}", dir.display()))?;
        Self::serve(dir, store, token, now, journal)
    }

    fn serve(
        dir: &Path,
        store: BoardStore,
        token: &str,
        now: Timestamp,
        journal: bool,
    ) -> anyhow::Result<Self> {
        let board_key = store.verifier_key().clone();
        let clock = TestClock::new(now);
        let config =
            ElectionConfig::new(AdminToken::new(token)).with_clock(Arc::new(clock.clone()));
        let state = if journal {
            AppState::resume(store.clone(), config, &dir.join("server.journal"))
                .map_err(|e| anyhow::anyhow!("starting on {}: {e}", dir.display()))?
                .0
        } else {
            AppState::with_election(store.clone(), config)
        };
        // One local client (the demo, `urna bench cast --concurrency N`)
        // holds every connection: no per-address or total cap here
        // (spec/api.md §A8 limits are for `urna serve`); the timeouts stay.
        let state = state.with_limits(urna_server::limits::Limits {
            max_connections: usize::MAX,
            max_connections_per_address: usize::MAX,
            ..Default::default()
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("urna-server")
            .enable_all()
            .build()
            .context("starting the server's runtime")?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .context("listening on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let served = runtime.spawn(urna_server::serve(listener, state, async {
            let _ = rx.await;
        }));
        Ok(LocalServer {
            runtime,
            addr,
            clock,
            store,
            board_key,
            shutdown: Some(tx),
            served: Some(served),
        })
    }

    /// Stops accepting, lets open requests finish, and reports a server failure.
    pub fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            self.runtime
                .block_on(served)
                .context("the server task failed")?
                .context("the server stopped with an error")?;
        }
        Ok(())
    }
}
