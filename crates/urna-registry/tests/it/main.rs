//! The integration tests of `urna-registry`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna-registry --test it MODULE::`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod at_rest;
mod backends;
