//! The integration tests of `urna-store`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna-store --test it MODULE::`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// First: its `both!` macro is used by the modules below.
#[macro_use]
mod store_db;

mod cluster_lease;
mod cosignatures;
mod crash;
mod snapshots;
mod store;
mod verifier_history;
