//! Errors, split as urna-crypto and rustls split them: what a *peer* (a
//! voter's device, a trustee, a board being read) sent that is wrong, versus
//! how the *caller* (the server, the commission's tooling) misused the
//! engine. Every error has a stable snake_case [`code`](ElectionError::code)
//! for API responses and verifier reports, and a sentence for people.

use urna_crypto::{PeerError, UsageError};

use crate::time::Timestamp;

/// A board payload (spec/record.md) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A strict-reading or crypto-encoding error (spec/crypto.md §2): its
    /// code is the crypto code (`truncated`, `trailing_bytes`, …).
    #[error("{0}")]
    Encoding(#[from] PeerError),
    /// An identifier is empty, too long or uses characters outside `[a-z0-9._-]` (spec/record.md §R1).
    #[error("{field}: not a valid identifier")]
    BadIdentifier {
        /// Which field.
        field: &'static str,
    },
    /// A list that must be strictly increasing is not (spec/record.md §R1).
    #[error("{field}: not in strictly increasing order (duplicate or unsorted)")]
    NotCanonicalOrder {
        /// Which list.
        field: &'static str,
    },
    /// Chunks of one object disagree, are out of order or incomplete (spec/record.md §R1.3).
    #[error("chunked payload: {0}")]
    Chunks(String),
    /// A code byte (tag, scope, reason, policy) that is not assigned.
    #[error("{field}: unknown value {value}")]
    UnknownTag {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u8,
    },
    /// A key that is not a verifier key of the required type in its one
    /// canonical text form (spec/board.md §B7.2; record.md §R16).
    #[error("{field}: not a valid key")]
    BadKey {
        /// Which field.
        field: &'static str,
    },
    /// A text field is empty, too long, not UTF-8 or holds a control
    /// character (spec/record.md §R13).
    #[error("{field}: not a valid text (1 to {max} bytes of UTF-8, no control characters)")]
    BadText {
        /// Which field.
        field: &'static str,
        /// Its byte limit.
        max: usize,
    },
}

impl RecordError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            RecordError::Encoding(e) => e.code(),
            RecordError::BadIdentifier { .. } => "bad_identifier",
            RecordError::NotCanonicalOrder { .. } => "not_canonical_order",
            RecordError::Chunks(_) => "inconsistent_chunks",
            RecordError::BadKey { .. } => "bad_key",
            RecordError::UnknownTag { .. } => "unknown_tag",
            RecordError::BadText { .. } => "bad_text",
        }
    }
}

/// The voter, a trustee or another peer sent something wrong. The request
/// is refused and nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The bytes do not decode (spec/record.md, spec/crypto.md §2).
    #[error("malformed payload: {0}")]
    Malformed(#[from] RecordError),
    /// A cryptographic check failed (decoding, proof, signature, audit, ceremony).
    #[error("{0}")]
    Crypto(#[from] PeerError),
    /// Applications (credential registration) are accepted only in the application window.
    #[error("applications are accepted from {opens} until {closes}; it is {now}")]
    OutsideApplicationWindow {
        /// When it was tried.
        now: Timestamp,
        /// Window start (inclusive).
        opens: Timestamp,
        /// Window end (exclusive).
        closes: Timestamp,
    },
    /// Ballots are accepted only in the voting window (spec/record.md §R6.3).
    #[error("ballots are accepted from {opens} until {closes}; it is {now}")]
    OutsideVotingWindow {
        /// When it was tried.
        now: Timestamp,
        /// Window start (inclusive).
        opens: Timestamp,
        /// Window end (exclusive).
        closes: Timestamp,
    },
    /// The ballot's credential is not on the sealed list.
    #[error("the credential is not on the sealed list of this election")]
    UnknownCredential,
    /// The credential was registered already (in this or another district).
    #[error("the credential is already registered")]
    DuplicateCredential,
    /// The ballot header names another election (spec/record.md §R6.1).
    #[error("the ballot was made for another election")]
    WrongElection,
    /// The ballot header or contests are not the style of the credential's district (spec/record.md §R6.1).
    #[error(
        "the ballot style is for district `{found}`, but the credential belongs to `{expected}`"
    )]
    WrongBallotStyle {
        /// The credential's district.
        expected: String,
        /// What the header says.
        found: String,
    },
    /// A ballot with this tracking code is already on the board (spec/record.md §R6.3).
    #[error("this exact ballot is already on the board")]
    ReplayedBallot,
    /// This ballot was audited (its nonces are public) and can never be cast (spec/crypto.md §7.5).
    #[error("this ballot was audited; an audited ballot can never be cast")]
    AuditedBallot,
    /// The election forbids re-voting and this credential has a ballot on the board (spec/record.md §R6.3).
    #[error("this credential has already voted and re-voting is not allowed in this election")]
    RevoteForbidden,
    /// Re-voting is allowed, but not this soon after the previous ballot.
    #[error("re-voting is allowed {min_interval} s after the previous ballot; wait {wait} s more")]
    RevoteTooSoon {
        /// The manifest's minimum interval in seconds.
        min_interval: u64,
        /// Seconds still to wait.
        wait: u64,
    },
    /// A key-ceremony message does not belong to this ceremony (wrong n, t or sender).
    #[error("key ceremony message does not fit this election: {0}")]
    CeremonyMismatch(String),
    /// A trustee sent a different message for a step it already took.
    #[error("trustee {0} already sent a different message for this step")]
    Equivocation(u16),
    /// This exact message was accepted already.
    #[error("this message is already on the board")]
    DuplicateMessage,
    /// Partial decryptions from a trustee who is not qualified.
    #[error("trustee {0} is not a qualified trustee of this election")]
    UnknownTrustee(u16),
    /// This trustee's partial decryptions were accepted already.
    #[error("trustee {0} has already supplied partial decryptions")]
    DuplicateTrustee(u16),
}

impl Refusal {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(e) => e.code(),
            Refusal::Crypto(e) => e.code(),
            Refusal::OutsideApplicationWindow { .. } => "outside_application_window",
            Refusal::OutsideVotingWindow { .. } => "outside_voting_window",
            Refusal::UnknownCredential => "unknown_credential",
            Refusal::DuplicateCredential => "duplicate_credential",
            Refusal::WrongElection => "wrong_election",
            Refusal::WrongBallotStyle { .. } => "wrong_ballot_style",
            Refusal::ReplayedBallot => "replayed_ballot",
            Refusal::AuditedBallot => "audited_ballot",
            Refusal::RevoteForbidden => "revote_forbidden",
            Refusal::RevoteTooSoon { .. } => "revote_too_soon",
            Refusal::CeremonyMismatch(_) => "ceremony_mismatch",
            Refusal::Equivocation(_) => "equivocation",
            Refusal::DuplicateMessage => "duplicate_message",
            Refusal::UnknownTrustee(_) => "unknown_trustee",
            Refusal::DuplicateTrustee(_) => "duplicate_trustee",
        }
    }
}

/// The caller asked for something the rules or the API do not allow. Not
/// caused by a voter's or trustee's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A lifecycle step was attempted before its scheduled time.
    #[error("{action} is possible from {at}; it is {now}")]
    TooEarly {
        /// What was attempted.
        action: &'static str,
        /// Earliest allowed time.
        at: Timestamp,
        /// When it was tried.
        now: Timestamp,
    },
    /// A lifecycle step was attempted after its scheduled time.
    #[error("{action} was possible until {until}; it is {now}")]
    TooLate {
        /// What was attempted.
        action: &'static str,
        /// End of the allowed time.
        until: Timestamp,
        /// When it was tried.
        now: Timestamp,
    },
    /// A district id that is not in the manifest.
    #[error("district `{0}` is not in the manifest")]
    UnknownDistrict(String),
    /// Fewer than t trustees have supplied valid partial decryptions.
    #[error("{have} trustees have supplied partial decryptions, {need} are needed")]
    NotEnoughTrustees {
        /// Trustees with accepted partial decryptions.
        have: usize,
        /// The threshold t.
        need: u16,
    },
    /// Reconciliation was already published.
    #[error("reconciliation has already been published")]
    AlreadyReconciled,
    /// An annulment names a credential without a ballot on the board.
    #[error("credential {0} has no ballot to annul")]
    NothingToAnnul(String),
    /// An annulment reason that the manifest's paper-vote policy does not allow.
    #[error(
        "the paper-vote reason contradicts the manifest's policy (reason 1 needs `evote-annulled`, reason 3 `evote-stands`)"
    )]
    AgainstPolicy,
    /// The same credential is listed twice in one reconciliation.
    #[error("credential {0} is listed twice")]
    DuplicateAnnulment(String),
    /// A credential left out of the sealed lists that was never registered
    /// (or is left out twice).
    #[error("credential {0} is not registered, so it cannot be left out of the sealed lists")]
    NotRegistered(String),
    /// A value outside what a payload can carry (e.g. an audited selection above 255).
    #[error("cannot encode: {0}")]
    Unencodable(String),
    /// A urna-crypto usage error (the engine passed impossible parameters).
    #[error("{0}")]
    Crypto(#[from] UsageError),
    /// A payload did not fit a board entry (an engine bug: payloads are chunked).
    #[error("board entry: {0}")]
    Board(#[from] urna_board::EntryError),
}

impl Misuse {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Misuse::TooEarly { .. } => "too_early",
            Misuse::TooLate { .. } => "too_late",
            Misuse::UnknownDistrict(_) => "unknown_district",
            Misuse::NotEnoughTrustees { .. } => "not_enough_trustees",
            Misuse::AlreadyReconciled => "already_reconciled",
            Misuse::NothingToAnnul(_) => "nothing_to_annul",
            Misuse::AgainstPolicy => "against_policy",
            Misuse::DuplicateAnnulment(_) => "duplicate_annulment",
            Misuse::NotRegistered(_) => "not_registered",
            Misuse::Unencodable(_) => "unencodable",
            Misuse::Crypto(_) => "crypto_usage",
            Misuse::Board(_) => "board_entry",
        }
    }
}

/// Any error of the election engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElectionError {
    /// A peer sent something wrong (HTTP 4xx at the server).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The caller misused the engine (a bug or an operator error).
    #[error(transparent)]
    Misuse(#[from] Misuse),
}

impl ElectionError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ElectionError::Refused(r) => r.code(),
            ElectionError::Misuse(m) => m.code(),
        }
    }

    /// Whether a peer (voter, trustee) caused it, rather than the caller.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ElectionError::Refused(_))
    }
}

impl From<PeerError> for ElectionError {
    fn from(e: PeerError) -> Self {
        ElectionError::Refused(Refusal::Crypto(e))
    }
}

impl From<RecordError> for ElectionError {
    fn from(e: RecordError) -> Self {
        ElectionError::Refused(Refusal::Malformed(e))
    }
}

impl From<UsageError> for ElectionError {
    fn from(e: UsageError) -> Self {
        ElectionError::Misuse(Misuse::Crypto(e))
    }
}

impl From<urna_board::EntryError> for ElectionError {
    fn from(e: urna_board::EntryError) -> Self {
        ElectionError::Misuse(Misuse::Board(e))
    }
}

impl From<urna_crypto::Error> for ElectionError {
    fn from(e: urna_crypto::Error) -> Self {
        match e {
            urna_crypto::Error::Peer(p) => p.into(),
            urna_crypto::Error::Usage(u) => u.into(),
            // urna_crypto::Error is non_exhaustive; treat unknown kinds as misuse.
            other => ElectionError::Misuse(Misuse::Unencodable(other.to_string())),
        }
    }
}
