//! The integration tests of `urna-server`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna-server --test it MODULE::`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod board_api;
mod common;
mod cosignature_api;
mod election_api;
mod limits;
mod observers;
mod otp_oracle;
mod registration_api;
mod registration_board;
mod sealing_api;
mod state_snapshots;
mod strict_bodies;
mod web_assets;
