//! Errors, split as rustls does: what a *peer* sent that is wrong (a
//! malformed encoding, a false proof) versus how the *caller* misused the
//! API. A verifier reports the first kind to the public; the second is a bug
//! or a configuration error on the caller's side.

use std::fmt;

/// Which proof (or signature) an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProofKind {
    /// Schnorr proof of knowledge of a discrete logarithm (spec §6.2).
    Schnorr,
    /// Chaum-Pedersen proof of equal discrete logarithms (spec §6.3).
    Dleq,
    /// Disjunctive Chaum-Pedersen proof that a ciphertext encrypts a value in a range (spec §6.4).
    Range,
    /// Schnorr signature made with a voter credential (spec §6.5).
    Signature,
}

impl fmt::Display for ProofKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofKind::Schnorr => "Schnorr proof of knowledge",
            ProofKind::Dleq => "Chaum-Pedersen (DLEQ) proof",
            ProofKind::Range => "range proof",
            ProofKind::Signature => "credential signature",
        })
    }
}

/// Something received from another party is wrong. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// A scalar encoding is not the canonical (fully reduced) one (spec §2.1).
    #[error("non-canonical scalar encoding")]
    NonCanonicalScalar,
    /// A group element encoding is not a canonical ristretto255 encoding (spec §2.2).
    #[error("non-canonical or invalid group element encoding")]
    NonCanonicalElement,
    /// The identity element appeared where it is forbidden (spec §2.2).
    #[error("the identity element is not allowed here")]
    IdentityElement,
    /// An encoding ended before all its fields were read.
    #[error("truncated encoding: needed {needed} more bytes")]
    Truncated {
        /// Bytes that were missing.
        needed: usize,
    },
    /// An encoding had bytes left over after its last field.
    #[error("{0} trailing bytes after the encoding")]
    TrailingBytes(usize),
    /// A length or count field is outside the allowed bounds.
    #[error("{field} is {value}, allowed {min}..={max}")]
    OutOfBounds {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// An encoding's version byte is not one this code knows.
    #[error("unknown encoding version {0}")]
    UnknownVersion(u8),
    /// A hex string is malformed (JSON forms only).
    #[error("malformed hex: {0}")]
    Hex(String),
    /// The proof or signature does not verify.
    #[error("{0} does not verify")]
    InvalidProof(ProofKind),
    /// The proof's shape does not match the statement it is checked against.
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What differs.
        what: &'static str,
        /// What the statement requires.
        expected: u64,
        /// What the proof has.
        found: u64,
    },
    /// A Feldman-checked DKG share does not match the dealer's commitments (spec §8.4).
    #[error("share from dealer {dealer} does not match its commitments")]
    BadShare {
        /// 1-based index of the dealer.
        dealer: u16,
    },
    /// A sealed DKG share could not be opened (spec §8.3).
    #[error("sealed share from dealer {dealer} to trustee {recipient} cannot be opened")]
    UnreadableShare {
        /// 1-based index of the dealer.
        dealer: u16,
        /// 1-based index of the recipient.
        recipient: u16,
    },
    /// One proof inside a ballot does not verify (spec §7.4): the range proof
    /// of an option, or (`option = None`) the contest's selection-limit proof.
    #[error("{} of contest {contest} does not verify", match option { Some(o) => format!("range proof of option {o}"), None => "selection-limit proof".to_string() })]
    BadBallotProof {
        /// 0-based contest index.
        contest: u16,
        /// 0-based option index, or `None` for the contest sum.
        option: Option<u16>,
    },
    /// A Benaloh audit's revealed selection and nonce do not re-encrypt to the
    /// ballot's ciphertext (spec §7.5).
    #[error("audit: contest {contest} option {option} does not re-encrypt to the ballot")]
    AuditMismatch {
        /// 0-based contest index.
        contest: u16,
        /// 0-based option index.
        option: u16,
    },
    /// A message names a trustee index that does not exist or is a duplicate.
    #[error("trustee index {0} is unknown or repeated")]
    BadTrusteeIndex(u16),
    /// Too few trustees are left qualified after the key ceremony (spec §8.6).
    #[error("only {qualified} trustees qualified, the threshold is {threshold}")]
    TooFewQualified {
        /// How many trustees remain qualified.
        qualified: usize,
        /// The threshold t.
        threshold: u16,
    },
    /// A DKG complaint does not hold up: the share opens and matches the
    /// dealer's commitments (spec §8.5).
    #[error("complaint by trustee {complainer} against dealer {dealer} is unfounded")]
    UnfoundedComplaint {
        /// 1-based index of the accused dealer.
        dealer: u16,
        /// 1-based index of the complainer.
        complainer: u16,
    },
    /// The joint key computed from the ceremony messages differs from the one claimed (spec §8.7).
    #[error("the joint key does not match the key ceremony")]
    JointKeyMismatch,
    /// A partial decryption does not verify against the trustee's verification key (spec §9.3).
    #[error("partial decryption by trustee {trustee} does not verify")]
    BadPartialDecryption {
        /// 1-based index of the trustee.
        trustee: u16,
    },
}

impl PeerError {
    /// A stable snake_case code for this kind of error, used in JSON test
    /// vectors and API responses (spec §2.6). Proof failures inside a
    /// ballot or an audit share the code `invalid_proof`; the message says
    /// which part failed.
    pub fn code(&self) -> &'static str {
        match self {
            PeerError::NonCanonicalScalar => "non_canonical_scalar",
            PeerError::NonCanonicalElement => "non_canonical_element",
            PeerError::IdentityElement => "identity_element",
            PeerError::Truncated { .. } => "truncated",
            PeerError::TrailingBytes(_) => "trailing_bytes",
            PeerError::OutOfBounds { .. } => "out_of_bounds",
            PeerError::UnknownVersion(_) => "unknown_version",
            PeerError::Hex(_) => "hex",
            PeerError::InvalidProof(_)
            | PeerError::BadBallotProof { .. }
            | PeerError::AuditMismatch { .. } => "invalid_proof",
            PeerError::ShapeMismatch { .. } => "shape_mismatch",
            PeerError::BadShare { .. } => "bad_share",
            PeerError::UnreadableShare { .. } => "unreadable_share",
            PeerError::BadTrusteeIndex(_) => "bad_trustee_index",
            PeerError::TooFewQualified { .. } => "too_few_qualified",
            PeerError::UnfoundedComplaint { .. } => "unfounded_complaint",
            PeerError::JointKeyMismatch => "joint_key_mismatch",
            PeerError::BadPartialDecryption { .. } => "bad_partial_decryption",
        }
    }
}

/// The caller asked for something impossible. Not caused by untrusted input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The value to encrypt or prove lies outside the declared range.
    #[error("value {value} is outside {lo}..={hi}")]
    ValueOutOfRange {
        /// The value.
        value: u64,
        /// Lowest allowed.
        lo: u64,
        /// Highest allowed.
        hi: u64,
    },
    /// Parameters that cannot make sense (for example t > n).
    #[error("invalid parameters: {0}")]
    Parameters(String),
    /// Fewer than t partial decryptions were supplied (spec §9.2).
    #[error("need partial decryptions from at least {needed} trustees, have {have}")]
    NotEnoughShares {
        /// The threshold t.
        needed: usize,
        /// How many distinct trustees supplied one.
        have: usize,
    },
    /// The discrete logarithm is larger than the table's bound (spec §5).
    #[error("no discrete logarithm up to the bound {0}")]
    DlogNotFound(u64),
    /// The same trustee index was supplied twice (spec §9.2).
    #[error("trustee {0} appears more than once")]
    DuplicateTrustee(u16),
    /// This trustee is not among the participants or the qualified set of the
    /// key ceremony, or its own message is missing from what was passed (spec §8).
    #[error("trustee {0} is not a participant in this step of the key ceremony")]
    NotAParticipant(u16),
}

impl UsageError {
    /// A stable snake_case code (spec §2.6).
    pub fn code(&self) -> &'static str {
        match self {
            UsageError::ValueOutOfRange { .. } => "value_out_of_range",
            UsageError::Parameters(_) => "invalid_parameters",
            UsageError::NotEnoughShares { .. } => "not_enough_shares",
            UsageError::DlogNotFound(_) => "dlog_not_found",
            UsageError::DuplicateTrustee(_) => "duplicate_trustee",
            UsageError::NotAParticipant(_) => "not_a_participant",
        }
    }
}

impl Error {
    /// The stable code of either kind (spec §2.6).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Peer(e) => e.code(),
            Error::Usage(e) => e.code(),
        }
    }
}

/// Any error of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another party misbehaved (or data was corrupted).
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// The caller misused the API.
    #[error(transparent)]
    Usage(#[from] UsageError),
}
