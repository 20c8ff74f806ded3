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
//! tested in-process; [`serve`] serves it (the `urna` binary, the demo).
//! Voter registration ([`registration`], spec/registration.md §G9) is
//! part of the same router when the state has it
//! ([`AppStateBuilder::with_registration`]). The election and
//! registration do not hold each other: each reaches the other through
//! one narrow trait, [`election::Registrar`] and
//! [`registration::ElectionBoard`], wired here
//! (docs/decisions/0010-server-one-app.md).

mod board;
pub mod cluster;
pub mod election;
mod error;
mod json;
pub mod limits;
pub mod metrics;
pub mod observers;
pub mod registration;
mod state;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;

pub use election::{ElectionConfig, ElectionService};
pub use error::ApiError;
pub use state::{AppState, AppStateBuilder};

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

/// The router of the whole API: the board, the election, the web app,
/// and voter registration when the state has it.
pub fn app(state: AppState) -> Router {
    let mut router = board::routes()
        .route("/healthz", axum::routing::get(cluster::healthz))
        .route("/readyz", axum::routing::get(cluster::readyz_single))
        .merge(election::routes())
        .merge(web::routes())
        .merge(metrics::routes())
        .with_state(state.clone());
    if let Some(service) = state.registration {
        let board: Arc<dyn registration::ElectionBoard> = Arc::new(state.election);
        router = router.merge(registration::routes(service, board));
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn(metrics::observe))
        // spec/api.md §A1.4: endpoints taking more say so on their route.
        .layer(DefaultBodyLimit::max(json::limit::DEFAULT))
}

/// Serves [`app`] on `listener` until `shutdown` resolves, under the
/// state's connection and read limits ([`limits::serve`]); each request
/// carries its peer address (the one-time-code rate limit per address).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits;
    limits::serve(listener, app(state), limits, shutdown).await
}

/// The election as registration sees it: its board, in the engine's order.
impl registration::ElectionBoard for ElectionService {
    fn append_notice<'a>(
        &'a self,
        entries: registration::board::Notice<'a>,
    ) -> registration::board::BoxFuture<'a, Result<Vec<urna_store::Appended>, ApiError>> {
        Box::pin(async move {
            let (appended, ()) = self
                .shared
                .append_notice(|phase| Ok((entries(phase)?, ())))
                .await?;
            Ok(appended)
        })
    }

    fn reconcile(
        &self,
        list: Vec<(
            urna_crypto::encoding::Element,
            urna_election::record::AnnulReason,
        )>,
    ) -> registration::board::BoxFuture<'_, Result<Vec<urna_store::Appended>, ApiError>> {
        Box::pin(election::admin::apply_reconciliation(&self.shared, list))
    }

    fn cast_ballot(&self, tracking: &[u8; 32]) -> Option<u64> {
        let index = self.shared.receipt_index(tracking)?;
        let stored = self.shared.store.entry(index).ok()?;
        (stored.entry.kind() == urna_board::EntryKind::Ballot).then_some(index)
    }
}
