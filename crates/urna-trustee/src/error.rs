//! Errors of the trustee tools. Every refusal leaves the store unchanged.

use std::path::PathBuf;

/// What went wrong; each variant names the file or the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrusteeError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// `init` never overwrites a store.
    #[error("{}: a file already exists there; refusing to overwrite a key store", .0.display())]
    AlreadyExists(PathBuf),
    /// The file does not start with the store's magic bytes.
    #[error("not an urna trustee key store (bad magic bytes)")]
    NotAStore,
    /// A store format this build does not read.
    #[error("unsupported key store format version {0}")]
    UnsupportedVersion(u8),
    /// A header field is outside what this format allows.
    #[error("key store header: {0}")]
    BadHeader(String),
    /// The file is shorter than its header says.
    #[error("key store truncated: {len} bytes, expected {expected}")]
    Truncated {
        /// Actual length.
        len: usize,
        /// Length the header implies (or the minimum).
        expected: usize,
    },
    /// The file is longer than its header says.
    #[error("key store has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// The integrity checksum does not match: some byte changed on disk.
    #[error("key store corrupted: its checksum does not match (a byte was changed)")]
    Corrupted,
    /// The checksum is intact but authenticated decryption failed.
    #[error("wrong passphrase (authenticated decryption of the key store failed)")]
    WrongPassphrase,
    /// The decrypted contents are not a valid trustee state.
    #[error("key store contents: {0}")]
    BadState(String),
    /// The step asked for does not follow the store's phase.
    #[error("the store is in phase `{actual}`; `{step}` needs phase `{needs}`")]
    WrongPhase {
        /// The command.
        step: &'static str,
        /// What it needs.
        needs: &'static str,
        /// What the store holds.
        actual: &'static str,
    },
    /// An input file is malformed or inconsistent.
    #[error("{0}")]
    Input(String),
    /// The operation is refused (e.g. another election's tally).
    #[error("refused: {0}")]
    Refused(String),
    /// The passphrase is unusable.
    #[error("passphrase: {0}")]
    Passphrase(String),
    /// A cryptographic step failed.
    #[error("{0}")]
    Crypto(#[from] urna_crypto::Error),
}

impl From<urna_crypto::UsageError> for TrusteeError {
    fn from(e: urna_crypto::UsageError) -> Self {
        TrusteeError::Crypto(e.into())
    }
}

impl From<urna_crypto::PeerError> for TrusteeError {
    fn from(e: urna_crypto::PeerError) -> Self {
        TrusteeError::Crypto(e.into())
    }
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, TrusteeError>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrusteeError + '_ {
    move |source| TrusteeError::Io {
        path: path.to_path_buf(),
        source,
    }
}
