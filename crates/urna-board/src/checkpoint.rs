//! C2SP tlog-checkpoint bodies and their signing, cosigning and
//! verification: spec/board.md §B6 and §B7.

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::hash::Hash;
use crate::note::{
    BoardSigningKey, KeyError, NoteError, NoteSignature, ObserverSigningKey, SignatureType,
    SignedNote, VerifiedSignature, VerifierKey, decode_b64_canonical, validate_key_name,
};
use crate::tree::MAX_TREE_SIZE;

/// Why a text is not a canonical checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Empty, or not ending in a newline.
    #[error("checkpoint must end with a newline")]
    MissingFinalNewline,
    /// Fewer than three lines.
    #[error("checkpoint has fewer than three lines")]
    TooFewLines,
    /// An empty line (line numbers from 0).
    #[error("checkpoint line {0} is empty")]
    EmptyLine(usize),
    /// A control character other than the line separators.
    #[error("checkpoint contains a control character")]
    ControlCharacter,
    /// Origin is not a valid key name (non-empty, no spaces, no `+`).
    #[error("invalid origin: {0}")]
    InvalidOrigin(KeyError),
    /// Size is not canonical decimal (digits only, no leading zero, no sign).
    #[error("tree size {0:?} is not canonical decimal")]
    NonCanonicalSize(String),
    /// Size above [`MAX_TREE_SIZE`].
    #[error("tree size {0} exceeds the maximum")]
    SizeTooLarge(u64),
    /// Root is not the canonical base64 of 32 bytes.
    #[error("root hash is not canonical base64 of 32 bytes")]
    InvalidRoot,
    /// The board key's name differs from the checkpoint origin.
    #[error("key name {key:?} does not match origin {origin:?}")]
    OriginMismatch {
        /// Checkpoint origin.
        origin: String,
        /// Key name.
        key: String,
    },
}

/// A checkpoint: the signed statement "the log `origin` has `size` entries
/// and root `root`".
///
/// Text form (C2SP tlog-checkpoint), every line ending in `\n`:
/// `<origin>`, `<size in decimal>`, `<base64 root>`, then optional
/// non-empty extension lines.
// spec/board.md §B6
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("origin", &self.origin)
            .field("size", &self.size)
            .field("root", &hex::encode(self.root))
            .field("extensions", &self.extensions)
            .finish()
    }
}

fn validate_extension(line: &str, n: usize) -> Result<(), CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::EmptyLine(n));
    }
    if line.chars().any(char::is_control) {
        return Err(CheckpointError::ControlCharacter);
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        Self::with_extensions(origin, size, root, Vec::new())
    }

    /// A checkpoint with extension lines (NOT RECOMMENDED by C2SP, and urna
    /// itself writes none; kept for forward compatibility).
    pub fn with_extensions(
        origin: &str,
        size: u64,
        root: Hash,
        extensions: Vec<String>,
    ) -> Result<Self, CheckpointError> {
        validate_key_name(origin).map_err(CheckpointError::InvalidOrigin)?;
        if size > MAX_TREE_SIZE {
            return Err(CheckpointError::SizeTooLarge(size));
        }
        for (i, line) in extensions.iter().enumerate() {
            if line.contains('\n') {
                return Err(CheckpointError::ControlCharacter);
            }
            validate_extension(line, i + 3)?;
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Parses a checkpoint body, accepting only its canonical form.
    // spec/board.md §B6.1
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingFinalNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines);
        };
        for (i, line) in lines.iter().enumerate() {
            if line.is_empty() {
                return Err(CheckpointError::EmptyLine(i));
            }
        }
        if origin.chars().any(char::is_control) {
            return Err(CheckpointError::ControlCharacter);
        }
        validate_key_name(origin).map_err(CheckpointError::InvalidOrigin)?;
        let size = parse_size(size)?;
        let root: Hash = decode_b64_canonical(root)
            .and_then(|b| b.try_into().ok())
            .ok_or(CheckpointError::InvalidRoot)?;
        for (i, line) in extensions.iter().enumerate() {
            validate_extension(line, i + 3)?;
        }
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// The checkpoint body (note text), ending in a newline.
    // spec/board.md §B6.1
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Log identity, e.g. `urna.example/2024-moscow-duma`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash of the tree of `size` entries.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// Extension lines (urna writes none).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

// spec/board.md §B6.1
fn parse_size(s: &str) -> Result<u64, CheckpointError> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let size = canonical
        .then(|| s.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| CheckpointError::NonCanonicalSize(s.to_owned()))?;
    if size > MAX_TREE_SIZE {
        return Err(CheckpointError::SizeTooLarge(size));
    }
    Ok(size)
}

/// Signs a checkpoint with the board key. The key's name must equal the
/// origin, so that a key can never vouch for another log.
// spec/board.md §B7.3
pub fn sign_checkpoint(
    key: &BoardSigningKey,
    checkpoint: &Checkpoint,
) -> Result<SignedNote, NoteError> {
    if key.name() != checkpoint.origin {
        return Err(CheckpointError::OriginMismatch {
            origin: checkpoint.origin.clone(),
            key: key.name().to_owned(),
        }
        .into());
    }
    let text = checkpoint.to_text();
    let sig = key.sign_text(&text)?;
    SignedNote::new(text, vec![sig])
}

/// An observer's cosignature (C2SP tlog-cosignature, `cosignature/v1`) over
/// `checkpoint` at `timestamp` (POSIX seconds). Add it to the board's note
/// with [`SignedNote::add_signature`].
///
/// By cosigning, the observer states that as of `timestamp` this is the
/// largest checkpoint of this origin it has seen, and that it checked it is
/// consistent with every earlier one it saw.
// spec/board.md §B7.4
pub fn cosign_checkpoint(
    key: &ObserverSigningKey,
    checkpoint: &Checkpoint,
    timestamp: u64,
) -> Result<NoteSignature, NoteError> {
    key.cosign_text(&checkpoint.to_text(), timestamp)
}

/// A checkpoint whose note carried valid signatures from trusted keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The trusted keys that signed it, each once, in note order.
    pub signers: Vec<VerifiedSignature>,
}

impl VerifiedCheckpoint {
    /// The observers' cosignatures among the signers.
    pub fn cosigners(&self) -> impl Iterator<Item = &VerifiedSignature> {
        self.signers
            .iter()
            .filter(|s| s.signature_type == SignatureType::CosignatureV1)
    }
}

/// Verifies a signed checkpoint against trusted keys: at least one must have
/// signed, none may have a bad signature, and the text must be a canonical
/// checkpoint. Unknown signatures are ignored (and kept in `note`).
// spec/board.md §B7.5
pub fn verify_note(
    note: &SignedNote,
    trusted: &[VerifierKey],
) -> Result<VerifiedCheckpoint, NoteError> {
    let signers = note.verify(trusted)?;
    let checkpoint = Checkpoint::parse(note.text())?;
    Ok(VerifiedCheckpoint {
        checkpoint,
        signers,
    })
}

/// Verifies a board checkpoint: it must be signed by `board_key` (an
/// Ed25519 key named like the origin); cosignatures from `observers` are
/// verified and reported. Count them with [`VerifiedCheckpoint::cosigners`]
/// to apply a quorum policy.
// spec/board.md §B7.5
pub fn verify_checkpoint(
    note: &SignedNote,
    board_key: &VerifierKey,
    observers: &[VerifierKey],
) -> Result<VerifiedCheckpoint, NoteError> {
    let required = || NoteError::MissingRequiredSignature(board_key.to_string());
    if board_key.signature_type() != SignatureType::Ed25519 {
        return Err(required());
    }
    let mut trusted = Vec::with_capacity(observers.len() + 1);
    trusted.push(board_key.clone());
    trusted.extend(observers.iter().cloned());
    let verified = verify_note(note, &trusted).map_err(|e| match e {
        NoteError::NoTrustedSignature => required(),
        other => other,
    })?;
    if !verified.signers.iter().any(|s| s.key_index == 0) {
        return Err(required());
    }
    if verified.checkpoint.origin != board_key.name() {
        return Err(CheckpointError::OriginMismatch {
            origin: verified.checkpoint.origin.clone(),
            key: board_key.name().to_owned(),
        }
        .into());
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_canonical_forms() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("20852163"), Ok(20852163));
        for bad in ["", "00", "01", "+1", "-1", " 1", "1 ", "1_000", "0x10", "١"] {
            assert!(
                matches!(parse_size(bad), Err(CheckpointError::NonCanonicalSize(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse_size("18446744073709551616"),
            Err(CheckpointError::NonCanonicalSize(_))
        ));
        assert_eq!(
            parse_size("9223372036854775809"),
            Err(CheckpointError::SizeTooLarge(9223372036854775809))
        );
    }
}
