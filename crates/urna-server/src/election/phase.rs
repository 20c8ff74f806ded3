//! The engine in its current phase, and the type-state transitions as
//! functions that always give a phase back (the new one, or the old one
//! when the transition failed).

use rand_core::CryptoRng;
use urna_board::Entry;
use urna_election::{
    Closed, Decrypted, Election, KeyCeremony, Registration, Tallied, Timestamp, Voting,
};

use super::errors::wrong_phase;
use crate::error::ApiError;

/// The election engine between requests.
#[derive(Debug, Default)]
pub(crate) enum Phase {
    /// No manifest published yet.
    #[default]
    Empty,
    /// Collecting trustees' ceremony messages.
    KeyCeremony(Election<KeyCeremony>),
    /// The joint key exists; credentials are registered.
    Registration(Election<Registration>),
    /// Ballots are accepted.
    Voting(Box<Election<Voting>>),
    /// Voting is closed.
    Closed(Box<Election<Closed>>),
    /// The encrypted tally is published; trustees decrypt.
    Tallied(Box<Election<Tallied>>),
    /// Results are published.
    Decrypted(Box<Election<Decrypted>>),
}

/// What a transition returns: the phase to keep and the entries to append.
pub(crate) type Outcome = (Phase, Result<Vec<Entry>, ApiError>);

impl Phase {
    /// The phase name used in API answers.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Phase::Empty => "empty",
            Phase::KeyCeremony(_) => "key_ceremony",
            Phase::Registration(_) => "registration",
            Phase::Voting(_) => "voting",
            Phase::Closed(_) => "closed",
            Phase::Tallied(_) => "tallied",
            Phase::Decrypted(_) => "decrypted",
        }
    }

    /// Publishes a manifest (only on an empty server).
    pub(crate) fn publish(self, manifest: &[u8]) -> Outcome {
        let Phase::Empty = self else {
            let e = wrong_phase("publish a manifest", self.name());
            return (self, Err(e));
        };
        let e = match Election::new(manifest) {
            Ok(e) => e,
            Err(err) => return (Phase::Empty, Err(err.into())),
        };
        match e.publish() {
            Ok((e, out)) => (Phase::KeyCeremony(e), Ok(out)),
            Err(stuck) => (Phase::Empty, Err(stuck.error.into())),
        }
    }

    /// Ends the key ceremony and publishes the joint key.
    pub(crate) fn finish_ceremony<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Outcome {
        match self {
            Phase::KeyCeremony(e) => match e.finish(rng) {
                Ok((e, out)) => (Phase::Registration(e), Ok(out)),
                Err(stuck) => (Phase::KeyCeremony(stuck.election), Err(stuck.error.into())),
            },
            other => {
                let e = wrong_phase("finish the key ceremony", other.name());
                (other, Err(e))
            }
        }
    }

    /// Seals the credential lists, without `withdrawn`, and opens voting.
    pub(crate) fn open(self, now: Timestamp, withdrawn: &[[u8; 32]]) -> Outcome {
        match self {
            Phase::Registration(e) => match e.open_without(now, withdrawn) {
                Ok((e, out)) => (Phase::Voting(Box::new(e)), Ok(out)),
                Err(stuck) => (Phase::Registration(stuck.election), Err(stuck.error.into())),
            },
            other => {
                let e = wrong_phase("open voting", other.name());
                (other, Err(e))
            }
        }
    }

    /// Closes voting.
    pub(crate) fn close(self, now: Timestamp) -> Outcome {
        match self {
            Phase::Voting(e) => match e.close(now) {
                Ok((e, out)) => (Phase::Closed(Box::new(e)), Ok(out)),
                Err(stuck) => (
                    Phase::Voting(Box::new(stuck.election)),
                    Err(stuck.error.into()),
                ),
            },
            other => {
                let e = wrong_phase("close voting", other.name());
                (other, Err(e))
            }
        }
    }

    /// Publishes the encrypted tally.
    pub(crate) fn tally(self) -> Outcome {
        match self {
            Phase::Closed(e) => match e.tally() {
                Ok((e, out)) => (Phase::Tallied(Box::new(e)), Ok(out)),
                Err(stuck) => (
                    Phase::Closed(Box::new(stuck.election)),
                    Err(stuck.error.into()),
                ),
            },
            other => {
                let e = wrong_phase("tally", other.name());
                (other, Err(e))
            }
        }
    }

    /// Combines the partial decryptions and publishes the results.
    pub(crate) fn decrypt(self) -> Outcome {
        match self {
            Phase::Tallied(e) => match e.decrypt() {
                Ok((e, out)) => (Phase::Decrypted(Box::new(e)), Ok(out)),
                Err(stuck) => (
                    Phase::Tallied(Box::new(stuck.election)),
                    Err(stuck.error.into()),
                ),
            },
            other => {
                let e = wrong_phase("publish results", other.name());
                (other, Err(e))
            }
        }
    }
}
