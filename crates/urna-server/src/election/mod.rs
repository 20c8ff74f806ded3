//! The election API (spec/api.md): admin actions, the key ceremony,
//! casting with batched verification and receipts, audits, turnout and
//! results. The engine (`urna_election`, sans-IO) sits behind one lock
//! that serialises transitions; its entries are appended in exactly the
//! order it returned them, and a failed append halts the election.

pub(crate) mod admin;
mod auth;
mod batch;
mod body;
mod clock;
mod errors;
mod journal;
mod names;
pub(crate) mod peer;
mod phase;
mod public;
mod recover;
mod resume;
pub(crate) mod service;
mod snapshot;
mod style;
mod trustees;
mod turnout;
mod tz;
pub(crate) mod voter;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::{AdminRegistrar, AdminToken, CredentialRequest, Registrar};
pub use clock::{Clock, SystemClock, TestClock};
pub use journal::JournalError;
pub use resume::{ResumeError, ResumeReport};
pub use service::{DEFAULT_SNAPSHOT_EVERY, ElectionConfig, ElectionService};
pub use snapshot::{FORMAT as SNAPSHOT_FORMAT, SnapshotTaken};
pub use style::{BallotStyle, StyleError};

use crate::AppState;
use crate::json::limit;

pub(crate) fn routes() -> Router<AppState> {
    // Body limits of spec/api.md §A1.4 (the default is set in `crate::app`).
    let entry = || DefaultBodyLimit::max(limit::ENTRY);
    let list = || DefaultBodyLimit::max(limit::LIST);
    Router::new()
        .route(
            "/election/manifest",
            get(public::get_manifest).post(admin::publish),
        )
        .route("/election/style/{district}", get(public::style))
        .route("/election/names", get(names::names))
        .route("/election/status", get(public::status))
        .route(
            "/election/ceremony",
            get(trustees::messages).post(admin::ceremony).layer(entry()),
        )
        .route("/election/trustees/{j}/token", post(trustees::issue))
        .route(
            "/election/trustees/{j}/ceremony",
            post(trustees::ceremony).layer(entry()),
        )
        .route(
            "/election/trustees/{j}/partials",
            post(trustees::partials).layer(list()),
        )
        .route("/election/ceremony/finish", post(admin::finish_ceremony))
        .route("/election/credentials", post(admin::register))
        .route("/election/open", post(admin::open))
        .route("/election/close", post(admin::close))
        .route(
            "/election/reconciliation",
            post(admin::reconcile).layer(list()),
        )
        .route("/election/tally", get(public::tally).post(admin::tally))
        .route("/election/partials", post(admin::partials).layer(list()))
        .route(
            "/election/results",
            get(public::results).post(admin::publish_results),
        )
        .route("/election/ballots", post(voter::cast).layer(entry()))
        .route("/election/audits", post(voter::audit).layer(entry()))
        .route("/election/turnout", get(public::turnout))
        .route("/receipt/{tracking}", get(public::get_receipt))
}
