//! Engine errors as API errors: the engine's stable code, a precise 4xx
//! and its sentence; engine misuse that a client cannot cause is a 500.

use axum::http::StatusCode;
use urna_crypto::{PeerError, ProofKind};
use urna_election::{ElectionError, ManifestError, Misuse, Refusal};

use crate::error::{ApiError, sentence};

/// The status for an engine error.
fn status(e: &ElectionError) -> StatusCode {
    match e {
        ElectionError::Refused(r) => match r {
            Refusal::Malformed(_)
            | Refusal::Crypto(_)
            | Refusal::WrongElection
            | Refusal::WrongBallotStyle { .. }
            | Refusal::CeremonyMismatch(_) => StatusCode::BAD_REQUEST,
            Refusal::UnknownCredential
            | Refusal::UnknownTrustee(_)
            | Refusal::OutsideApplicationWindow { .. }
            | Refusal::OutsideVotingWindow { .. } => StatusCode::FORBIDDEN,
            Refusal::RevoteTooSoon { .. } => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::CONFLICT,
        },
        ElectionError::Misuse(m) => match m {
            Misuse::TooEarly { .. }
            | Misuse::TooLate { .. }
            | Misuse::NotEnoughTrustees { .. }
            | Misuse::AlreadyReconciled => StatusCode::CONFLICT,
            Misuse::UnknownDistrict(_) => StatusCode::NOT_FOUND,
            Misuse::NothingToAnnul(_)
            | Misuse::AgainstPolicy
            | Misuse::DuplicateAnnulment(_)
            | Misuse::Unencodable(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The code for an engine error: the engine's, except that a credential
/// signature that does not verify is `invalid_signature` (spec/api.md
/// §A4), where the crypto layer names every failed equation of a ballot
/// `invalid_proof` (spec/crypto.md §2.6, §7.4).
fn code(e: &ElectionError) -> &'static str {
    match e {
        ElectionError::Refused(Refusal::Crypto(PeerError::InvalidProof(ProofKind::Signature))) => {
            "invalid_signature"
        }
        other => other.code(),
    }
}

/// An engine error as answered to the client.
pub(crate) fn election_error(e: &ElectionError) -> ApiError {
    let st = status(e);
    if st.is_server_error() {
        tracing::error!(error = %e, code = e.code(), "election engine misuse");
        return ApiError::internal();
    }
    ApiError::new(st, code(e), sentence(e))
}

impl From<ElectionError> for ApiError {
    fn from(e: ElectionError) -> Self {
        election_error(&e)
    }
}

impl From<ManifestError> for ApiError {
    fn from(e: ManifestError) -> Self {
        ApiError::bad_request(e.code(), sentence(&e))
    }
}

/// The request does not fit the election's current phase.
pub(crate) fn wrong_phase(action: &str, phase: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "wrong_phase",
        format!("Cannot {action}: the election is in phase `{phase}`."),
    )
}

/// A failed append after the engine counted: the server stops accepting.
pub(crate) fn halted() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "election_halted",
        "The board failed to store an entry; the election no longer accepts requests that change it.",
    )
}

/// The board's database cannot be reached (spec/api.md §A10.3): nothing
/// is accepted until it is back; the server reconnects by itself.
pub(crate) fn database_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        "The board's database cannot be reached; nothing is accepted until it is back. Try again in a moment.",
    )
}

/// A body field that is not lower-case hex of the right length.
pub(crate) fn bad_hex(field: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_hex",
        format!("Field {field} must be lower-case hexadecimal bytes."),
    )
}

/// Decodes lower-case hex.
pub(crate) fn from_hex(field: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad_hex(field));
    }
    hex::decode(s).map_err(|_| bad_hex(field))
}

/// Decodes lower-case hex of exactly 32 bytes.
pub(crate) fn from_hex32(field: &str, s: &str) -> Result<[u8; 32], ApiError> {
    from_hex(field, s)?.try_into().map_err(|_| {
        ApiError::bad_request(
            "invalid_hex",
            format!("Field {field} must be 64 lower-case hex digits (32 bytes)."),
        )
    })
}
