//! Test fixtures shared by the integration tests of `urna-election` and
//! `urna-verify` (a dev-dependency only; never linked into a program).
//!
//! The small manifests of those tests were copies of one another. Each
//! macro here expands to a string literal holding one part of a manifest
//! (spec/record.md §R2), so a test keeps its manifest a `const` built with
//! `concat!` and the bytes, hence the manifest hash and every committed
//! record in `spec/test-vectors/records/`, stay exactly as they were:
//!
//! ```text
//! const MANIFEST: &str = concat!(
//!     r#"
//! id = "small-2021"
//! kind = "election"
//! title = { en = "Small election" }
//! "#,
//!     urna_testkit::calendar_and_rules!(),
//!     urna_testkit::small_election_body!(),
//! );
//! assert!(MANIFEST.contains("[[contests]]\nid = \"seat-d1\""));
//! ```

/// The `[schedule]` of a September 2021 vote (Moscow time), last-counts
/// re-voting, paper ballots annulling e-votes, and 3 trustees of whom 2
/// decrypt: the sections every small test manifest shares.
#[macro_export]
macro_rules! calendar_and_rules {
    () => {
        r#"
[schedule]
time_zone = "Europe/Moscow"
applications_open = 2021-08-02T00:00:00+03:00
applications_close = 2021-09-14T00:00:00+03:00
voting_opens = 2021-09-17T08:00:00+03:00
voting_closes = 2021-09-19T20:00:00+03:00

[revote]
policy = "last-counts"
min_interval_seconds = 60

[reconciliation]
paper_after_evote = "evote-annulled"

[trustees]
n = 3
t = 2
"#
    };
}

/// Region `r1` with districts `d1` (precinct `p1`) and `d2` (precinct `p2`).
#[macro_export]
macro_rules! region_r1 {
    () => {
        r#"
[[regions]]
id = "r1"
name = "Region one"
[[regions.districts]]
id = "d1"
name = "District one"
precincts = [{ id = "p1", name = "P1" }]
[[regions.districts]]
id = "d2"
name = "District two"
precincts = [{ id = "p2", name = "P2" }]
"#
    };
}

/// Region `r2` with district `d3` (precinct `p3`).
#[macro_export]
macro_rules! region_r2 {
    () => {
        r#"
[[regions]]
id = "r2"
name = "Region two"
[[regions.districts]]
id = "d3"
name = "District three"
precincts = [{ id = "p3", name = "P3" }]
"#
    };
}

/// The `list` party-list contest: one of parties `a`, `b`, `c`, everywhere.
#[macro_export]
macro_rules! contest_party_list {
    () => {
        r#"
[[contests]]
id = "list"
kind = "party-list"
title = "Parties"
min = 1
max = 1
options = [{ id = "a", name = "A" }, { id = "b", name = "B" }, { id = "c", name = "C" }]
"#
    };
}

/// The `seat-d1` candidates contest of district `d1`: at most one of `x`, `y`.
#[macro_export]
macro_rules! contest_seat_d1 {
    () => {
        r#"
[[contests]]
id = "seat-d1"
kind = "candidates"
title = "District one seat"
districts = ["d1"]
min = 0
max = 1
options = [{ id = "x", name = "X" }, { id = "y", name = "Y" }]
"#
    };
}

/// Regions `r1` and `r2` with the `list` and `seat-d1` contests: the body
/// of the small election of `urna-election`'s lifecycle test and of
/// `urna-verify`'s records.
#[macro_export]
macro_rules! small_election_body {
    () => {
        concat!(
            $crate::region_r1!(),
            $crate::region_r2!(),
            $crate::contest_party_list!(),
            $crate::contest_seat_d1!(),
        )
    };
}
