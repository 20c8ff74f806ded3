//! What voter registration needs from the election, and all it may do to
//! it: append its own entries (complaints, answers, precinct list hashes)
//! to the board in the engine's order, reading the phase as it does, and
//! put the paper-vote reconciliation through the engine's step. The
//! election implements this; registration never sees the engine, its lock
//! or its state (docs/decisions/0010-server-one-app.md).

use std::future::Future;
use std::pin::Pin;

use urna_board::Entry;
use urna_crypto::encoding::Element;
use urna_election::record::AnnulReason;
use urna_store::Appended;

use crate::error::ApiError;

/// A boxed future, so that the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The entries to append, made under the election's lock from the
/// phase's name (`empty`, `key_ceremony`, …, `decrypted`); an error
/// refuses the append and changes nothing.
pub type Notice<'a> = Box<dyn FnOnce(&'static str) -> Result<Vec<Entry>, ApiError> + Send + 'a>;

/// The election as registration sees it.
pub trait ElectionBoard: Send + Sync + 'static {
    /// Appends entries that are not election state (spec/record.md
    /// §R13–§R15) under the engine's lock, so that they never fall inside
    /// a chunked object and numbers taken in `entries` increase along the
    /// board, once the manifest is on the board (409 `no_manifest`
    /// before). Returns once they are durable.
    fn append_notice<'a>(
        &'a self,
        entries: Notice<'a>,
    ) -> BoxFuture<'a, Result<Vec<Appended>, ApiError>>;

    /// Puts a reconciliation on the board through the engine's step
    /// (spec/record.md §R9, registration.md §G7): after the close, before
    /// the tally, once.
    fn reconcile(
        &self,
        list: Vec<(Element, AnnulReason)>,
    ) -> BoxFuture<'_, Result<Vec<Appended>, ApiError>>;

    /// The board index of the cast ballot (a `ballot` entry, not an
    /// audited one) with this tracking code, if the board holds one
    /// (spec/record.md §R6.2); a receipt message names only such a ballot
    /// (registration.md §G6.1).
    fn cast_ballot(&self, tracking: &[u8; 32]) -> Option<u64>;
}
