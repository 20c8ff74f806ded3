//! The integration tests of `urna-crypto`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna-crypto --test it MODULE::`.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cross_check;
mod dkg_ceremony;
mod dkg_restore;
mod dkg_threshold;
mod proofs;
mod ts_client_ballots;
mod vectors;
