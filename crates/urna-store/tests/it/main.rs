//! The integration tests of `urna-store`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna-store --test it MODULE::`.

mod cosignatures;
mod crash;
mod store;
mod store_db;
