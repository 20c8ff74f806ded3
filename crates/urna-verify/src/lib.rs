//! urna's independent verifier (issue 6).
//!
//! It reads an exported election record (spec/export.md) and re-checks the
//! whole election from the specification alone: it depends on the
//! primitives of `urna-crypto` and `urna-board` and never on the election
//! engine, the store or the server, so that an engine bug shows up as a
//! disagreement rather than being reproduced.
//!
//! * [`verify`] streams `entries.bin` once with bounded memory: ballots
//!   are batch-verified a few thousand at a time, and only per-credential
//!   positions and running homomorphic sums are kept (a superseded or
//!   annulled ballot is re-read by its offset and subtracted).
//! * [`Report`] names every check with its counts and failures; it prints
//!   as text and serialises to JSON; [`Report::exit_code`] gives
//!   0 valid, 1 invalid, 2 unusable input.
//! * [`RecordWriter`] writes the record folder for an exporter.

mod board_tally;
mod manifest;
mod notices;
mod observers;
pub mod record;
mod report;
mod stream;
mod verify;

pub use board_tally::{BEFORE_DECRYPTION, BoardTally, decryptable_tally, tally_of};
pub use record::RecordWriter;
pub use report::{
    CHECKS, CheckReport, Failure, FailureHook, MAX_FAILURES_PER_CHECK, Report, Summary,
};
pub use stream::FollowReader;
pub use verify::{EarlierCheckpoint, Options, Progress, Source, verify, verify_source};
