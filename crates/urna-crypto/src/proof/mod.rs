//! Zero-knowledge proofs, all in commitment form (spec §6).
//!
//! Each proof carries its commitments and responses; the challenge is
//! recomputed by the verifier from the transcript (spec §3), which binds
//! the fingerprint, a caller-supplied context, the whole statement and the
//! commitments. The group equations go into an [`Accumulator`] so that
//! many proofs verify in one multiscalar multiplication (spec §6.1).
//!
//! [`Accumulator`]: crate::batch::Accumulator

pub mod dleq;
pub mod range;
pub mod schnorr;
