//! A follower's own checks of a ballot before it forwards it to the
//! sequencer (several servers on one database, crate::cluster): the cheap
//! checks and the proofs, against its replica of the election, so that
//! the proofs' CPU cost is spread over the servers.

use axum::http::StatusCode;

use super::ElectionService;
use super::errors::election_error;
use super::phase::Phase;
use crate::error::ApiError;

/// What a follower does with a ballot after its own checks.
#[derive(Debug)]
pub(crate) enum PeerCheck {
    /// Its proofs verify: forward it as vouched for.
    Verified,
    /// Certainly bad whatever the board holds (decoding, proofs, header):
    /// answer this refusal here.
    Refused(ApiError),
    /// The verdict depends on state the replica may not have yet (phase,
    /// credential, replay, re-vote): the sequencer decides, verifying it.
    SequencerDecides,
}

/// The cheap checks then the proofs of `bytes`, on a blocking thread.
pub(crate) async fn check(service: &ElectionService, bytes: Vec<u8>) -> PeerCheck {
    let shared = std::sync::Arc::clone(&service.shared);
    let verdict = tokio::task::spawn_blocking(move || {
        let admitted = {
            let inner = shared.inner.blocking_lock();
            let Phase::Voting(e) = &inner.phase else {
                return PeerCheck::SequencerDecides;
            };
            e.admit(bytes, shared.now())
        };
        let verdict = admitted.and_then(|a| a.verify(&mut rand::rng()));
        match verdict {
            Ok(_) => PeerCheck::Verified,
            Err(e) => {
                let err = election_error(&e);
                if err.status() == StatusCode::BAD_REQUEST {
                    PeerCheck::Refused(err)
                } else {
                    PeerCheck::SequencerDecides
                }
            }
        }
    })
    .await;
    verdict.unwrap_or(PeerCheck::SequencerDecides)
}
