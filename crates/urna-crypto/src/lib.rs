//! # urna-crypto
//!
//! The cryptographic core of urna: ristretto255 group, exponential ElGamal,
//! zero-knowledge proofs in commitment form with batch verification, voter
//! credential signatures, the Pedersen distributed key generation and
//! threshold decryption. Everything here is pure computation: no I/O, no
//! clock, no global mutable state; randomness comes from the caller.
//!
//! Every function that implements a rule of the protocol cites its section
//! of `spec/crypto.md` as "spec §N". The design notes are in [`manual`].

pub mod ballot;
pub mod batch;
pub mod credential;
pub mod dkg;
pub mod dlog;
pub mod elgamal;
pub mod encoding;
pub mod error;
pub mod group;
pub mod manual;
pub mod proof;
/// INSECURE, test only: generator of the published test vectors (spec §10).
#[cfg(feature = "insecure-deterministic-rng")]
pub mod test_vectors;
pub mod threshold;
pub mod transcript;
#[cfg(feature = "insecure-deterministic-rng")]
pub use test_vectors::insecure_test_rng;

pub use curve25519_dalek::scalar::Scalar;
pub use encoding::Element;
pub use error::{Error, PeerError, ProofKind, UsageError};
pub use transcript::Fingerprint;
