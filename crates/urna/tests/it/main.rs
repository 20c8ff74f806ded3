//! The integration tests of `urna`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna --test it MODULE::`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bench_registry_cli;
mod cli_errors;
mod cluster_failover;
mod common;
mod cosign_restart;
mod demo_cli;
mod demo_data;
mod observe_cli;
mod registry_cli;
mod serve_new_folder;
mod serve_registration_cli;
mod serve_resume;
mod state_restart_bench;
mod tls_cli;
mod trustee_cli;
mod trustee_server;
mod trustee_tally;
mod verifier_history;
mod verify_cli;
