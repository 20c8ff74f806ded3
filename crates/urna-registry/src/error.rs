//! Errors with stable snake_case codes. A refusal is the caller's or the
//! voter's fault and changes nothing; a storage fault is ours (spec/registration.md names
//! each code with the rule that gives it; spec/api.md §A1 maps them to HTTP).

use std::fmt;

/// A registry import refused: which file, which line (1-based, the header
/// being line 1), a stable code and what is wrong. Nothing of the file was
/// imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// The file name given to the import.
    pub file: String,
    /// 1-based line; 0 when the problem is the file as a whole.
    pub line: u64,
    /// Stable code, e.g. `invalid_birth_date`, `duplicate_voter`.
    pub code: &'static str,
    /// What is wrong, as a sentence fragment.
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {} ({})", self.file, self.message, self.code)
        } else {
            write!(
                f,
                "{}:{}: {} ({})",
                self.file, self.line, self.message, self.code
            )
        }
    }
}

impl std::error::Error for ImportError {}

/// Why a registry operation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Refused by a rule; `code` is stable and may be shown to the user.
    #[error("{message} ({code})")]
    Refused {
        /// Stable snake_case code.
        code: &'static str,
        /// A sentence.
        message: String,
    },
    /// A registry or list file was refused, with its file and line.
    #[error("{0}")]
    Import(ImportError),
    /// The database failed; the details are for the operator's log only.
    #[error("storage: {context}: {message}")]
    Storage {
        /// What was being done.
        context: &'static str,
        /// The driver's message.
        message: String,
    },
}

impl RegistryError {
    /// A refusal with a stable code.
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        RegistryError::Refused {
            code,
            message: message.into(),
        }
    }

    /// A storage fault.
    pub fn storage(context: &'static str, e: impl fmt::Display) -> Self {
        RegistryError::Storage {
            context,
            message: e.to_string(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Refused { code, .. } => code,
            RegistryError::Import(e) => e.code,
            RegistryError::Storage { .. } => "storage_error",
        }
    }

    /// Whether this is our fault (storage) rather than a refusal.
    pub fn is_internal(&self) -> bool {
        matches!(self, RegistryError::Storage { .. })
    }
}

impl From<ImportError> for RegistryError {
    fn from(e: ImportError) -> Self {
        RegistryError::Import(e)
    }
}
