//! The live observer of a board behind `urna observe URL` (spec/board.md
//! §B11, §B12), and the board API client that `urna verify URL` shares.
//!
//! It mirrors the board into a local record folder, checks every new
//! checkpoint against everything it saw before (the consistency proof of
//! board.md §B4.5, and the root of the entries it mirrored itself, which
//! covers the inclusion of every entry), runs the independent verifier's
//! per-entry checks on the entries as they arrive, shows the turnout,
//! cosigns each checkpoint it accepted (§B7.4) and submits the
//! cosignature to the board (§B10). Observers compare their checkpoints
//! over HTTP (`--listen`, `--peer`) or through a shared folder
//! (`--peers`), which catches a board showing different histories to
//! different observers (a split view, §B12). A mirror folder that already
//! holds a mirror is re-checked and continued (§B11.2).
//!
//! Any inconsistency is an alarm: an `ALARM` line on stderr naming the
//! evidence (the two conflicting signed checkpoints, in full), and exit
//! code 1. Exit 0: stopped as asked with nothing wrong; 2: unusable input
//! or local state.

//!
//! Rooms: [`observer`] runs the observer from its options (setup, resume,
//! the loop, the verdict); `round` is one look at the board, one function
//! per rule of §B11.1; `gossip` compares with other observers (§B12);
//! [`mirror`] is the board's read API and the local record folder;
//! [`http`] is the HTTP client (ureq) of the `urna` command.

mod alarm;
mod gossip;
pub mod http;
mod key;
pub mod mirror;
pub mod observer;
mod options;
mod round;

pub use observer::{Outcome, observe, run};
pub use options::ObserveOpts;
