//! Several servers on one PostgreSQL database (spec/api.md §A9,
//! docs/decisions/0017-cluster-sequencer.md).
//!
//! Exactly one server at a time, the *sequencer*, holds the lease
//! ([`urna_store::Lease`]) and runs the election: it alone appends, under
//! its lease epoch, which every batch checks in the database. The others,
//! *followers*, keep a replica of the election read from the database:
//! they serve reads from it, check each ballot they are sent (decoding,
//! credential, proofs) themselves and forward it to the sequencer as
//! vouched for, so that the proofs' CPU is spread over the servers, and
//! forward every other state-changing call. When the sequencer's lease
//! expires (it died or hangs), a follower takes it over and continues
//! from the board the database holds.

mod forward;
mod health;
mod seat;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use zeroize::Zeroizing;

pub use health::{healthz, readyz_single};

use crate::AppState;

/// Which state a server opens on the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// The sequencer's: appending under this lease epoch, the election
    /// resumed from the board (and the server journal).
    Sequencer(i64),
    /// A follower's replica: read-only (its store can never append), the
    /// election replayed from the board.
    Replica,
}

/// Opens a state on the database; blocking (runs on its own thread).
pub type Opener = Arc<dyn Fn(Opening) -> Result<AppState, String> + Send + Sync>;

/// How a server takes part in the cluster.
pub struct ClusterConfig {
    /// The board's database (`postgres://` URL).
    pub url: String,
    /// The database options (schema); the lease epoch is set per opening.
    pub postgres: urna_store::PostgresOptions,
    /// The secret shared by the servers, authenticating forwarded ballots.
    pub secret: Zeroizing<String>,
    /// The base URL where the others reach this server (`http://host:port`).
    pub advertise: String,
    /// How long a lease lasts without renewal: the takeover delay.
    pub lease_ttl: Duration,
    /// Opens the states.
    pub open: Opener,
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the URL (it may hold a password) nor the secret.
        f.debug_struct("ClusterConfig")
            .field("advertise", &self.advertise)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

/// This server's place in the cluster, as the handlers see it.
#[derive(Clone)]
pub(crate) enum Seat {
    /// Looking for the lease holder, or opening the election.
    Starting,
    /// Holding the lease of `epoch`, serving with `router`.
    Sequencer {
        epoch: i64,
        state: AppState,
        router: Router,
    },
    /// Another server sequences.
    Follower,
}

/// What a follower knows: the sequencer's address and its replica.
#[derive(Clone, Default)]
pub(crate) struct View {
    pub(crate) seat: Option<Seat>,
    /// The lease holder's address and epoch, while its lease is live.
    pub(crate) sequencer: Option<(String, i64)>,
    /// The replica of the election, and its router.
    pub(crate) replica: Option<(AppState, Router)>,
}

pub(crate) struct NodeInner {
    pub(crate) config: ClusterConfig,
    pub(crate) holder: String,
    pub(crate) view: RwLock<View>,
    pub(crate) agent: ureq::Agent,
}

/// A server of the cluster: its router ([`Node::router`]) and the thread
/// that keeps its seat ([`Node::start`]).
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("holder", &self.inner.holder)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A server with `config`, not started.
    pub fn new(config: ClusterConfig) -> Node {
        let id: [u8; 8] = rand::random();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .no_delay(true)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(60)))
            .max_idle_connections(256)
            .max_idle_connections_per_host(256)
            .build()
            .into();
        Node {
            inner: Arc::new(NodeInner {
                config,
                holder: hex::encode(id),
                view: RwLock::new(View::default()),
                agent,
            }),
        }
    }

    /// This server's holder id in the lease row.
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    /// Starts the thread that takes, renews or follows the lease; it runs
    /// as long as the process.
    pub fn start(&self) -> std::io::Result<()> {
        let node = self.clone();
        std::thread::Builder::new()
            .name("urna-cluster-lease".into())
            .spawn(move || seat::run(&node))?;
        Ok(())
    }

    /// The router of this server: the health endpoints, the internal
    /// ballot endpoint, and everything else by seat.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz))
            .route("/internal/cluster/ballots", post(forward::internal_cast))
            .fallback(forward::dispatch)
            .with_state(self.clone())
    }

    pub(crate) fn view(&self) -> View {
        self.inner
            .view
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut View)) {
        f(&mut self
            .inner
            .view
            .write()
            .unwrap_or_else(PoisonError::into_inner));
    }
}
