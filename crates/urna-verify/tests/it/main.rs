//! The integration tests of `urna-verify`, one test binary (issue 16: each
//! `tests/*.rs` used to be its own binary linking the whole stack).
//! Run one module with `cargo test -p urna-verify --test it MODULE::`.

mod key_text;
mod records;
