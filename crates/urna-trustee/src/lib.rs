//! What a trustee runs on its own offline machine (spec/trustee.md): the
//! passphrase-encrypted key store ([`store`], [`state`]) and the ceremony
//! and decryption steps on files ([`ops`], [`payloads`]). No network code:
//! moving payload files to and from the board is the caller's business
//! (the `urna trustee` command today, an HTTP transport later).

pub mod error;
pub mod ops;
pub mod payloads;
pub mod state;
pub mod store;

pub use error::{Result, TrusteeError};
pub use store::{KdfParams, Passphrase};
/// Re-exported so that callers can hold passphrases without a direct dependency.
pub use zeroize::Zeroizing;
