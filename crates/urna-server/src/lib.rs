//! urna's HTTP API (axum).
//!
//! The public board read API — the latest checkpoint, entries by range,
//! index or leaf hash, inclusion and consistency proofs, and the log as
//! C2SP tlog-tiles under `/board/tile/` — and the election API under
//! `/election/` and `/receipt/` ([`election`], spec/api.md). Every refusal is a JSON body
//! `{ "error": { "code": "...", "message": "..." } }` with a precise status;
//! 5xx answers never carry internal details.
//!
//! [`app`] builds the router without binding a socket, so handlers are
//! tested in-process; the `urna` binary serves it.

mod board;
pub mod election;
mod error;
pub mod limits;
pub mod observers;
pub mod registration;
mod web;

use axum::Router;
use axum::http::StatusCode;
use urna_store::BoardStore;

pub use election::{ElectionConfig, ElectionService};
pub use error::ApiError;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    store: BoardStore,
    election: ElectionService,
    web: web::WebAssets,
    cosignatures: board::Cosignatures,
    limits: limits::Limits,
}

impl AppState {
    /// State serving `store`, with the election API on the system clock and
    /// admin endpoints disabled.
    pub fn new(store: BoardStore) -> Self {
        Self::with_election(store, ElectionConfig::default())
    }

    /// State serving `store` and an election configured by `config`.
    pub fn with_election(store: BoardStore, config: ElectionConfig) -> Self {
        AppState {
            election: ElectionService::new(store.clone(), config),
            store,
            web: web::WebAssets::default(),
            cosignatures: board::Cosignatures::default(),
            limits: limits::Limits::default(),
        }
    }

    /// Also serves the built web app (`web/dist`) from `dir` at `/` and `/web/`.
    pub fn with_web(mut self, dir: std::path::PathBuf) -> Self {
        self.web = web::WebAssets::new(dir);
        self
    }

    /// State continuing the election on `store` after a restart: the
    /// board is replayed through the engine, with the server journal at
    /// `journal` (spec/api.md §A6). Blocks; call before serving.
    pub fn resume(
        store: BoardStore,
        config: ElectionConfig,
        journal: &std::path::Path,
    ) -> Result<(Self, election::ResumeReport), election::ResumeError> {
        let (election, report) = ElectionService::resume(store.clone(), config, journal)?;
        Ok((
            AppState {
                store,
                election,
                web: web::WebAssets::default(),
                cosignatures: board::Cosignatures::default(),
                limits: limits::Limits::default(),
            },
            report,
        ))
    }

    /// Accepts observers' cosignatures only from these keys (by default,
    /// from any key whose cosignature verifies; spec/board.md §B10).
    pub fn with_observers(self, keys: Vec<urna_board::VerifierKey>) -> Self {
        self.cosignatures.restrict_to(keys);
        self
    }

    /// Serves under these connection and read limits (spec/api.md §A8)
    /// instead of the defaults.
    pub fn with_limits(mut self, limits: limits::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The board store.
    pub fn store(&self) -> &BoardStore {
        &self.store
    }
}

async fn no_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no such endpoint.",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This endpoint does not accept that method.",
    )
}

/// The router of the whole API.
pub fn app(state: AppState) -> Router {
    board::routes()
        .merge(election::routes())
        .merge(web::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
}

/// Serves [`app`] on `listener` until `shutdown` resolves, under the
/// state's connection and read limits ([`limits::serve`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits;
    limits::serve(listener, app(state), limits, shutdown).await
}
