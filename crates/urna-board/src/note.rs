//! C2SP signed notes with Ed25519 signatures and timestamped Ed25519
//! cosignatures (cosignature/v1): spec/board.md §B7.

use core::fmt;
use core::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Largest note accepted by [`SignedNote::parse`], in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// Most signature lines accepted in one note (C2SP requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Key ID: first four bytes of `SHA-256(name || 0x0A || type || public key)`.
pub type KeyId = [u8; 4];

/// Signature type byte of a key (C2SP signed-note "signature types").
// spec/board.md §B7.2
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text. Used by the board's own key.
    Ed25519,
    /// `0x04`: timestamped Ed25519 cosignature (C2SP tlog-cosignature,
    /// `cosignature/v1`). Used by observers.
    CosignatureV1,
}

impl SignatureType {
    /// The type identifier byte.
    pub const fn byte(self) -> u8 {
        match self {
            SignatureType::Ed25519 => 0x01,
            SignatureType::CosignatureV1 => 0x04,
        }
    }

    /// The type with this identifier byte, if supported.
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0x01 => Some(SignatureType::Ed25519),
            0x04 => Some(SignatureType::CosignatureV1),
            _ => None,
        }
    }
}

/// Errors about key names, verifier keys and signing keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Empty, or contains a Unicode space, `+` or a control character.
    #[error("invalid key name {0:?}")]
    InvalidName(String),
    /// Not `<name>+<8 lowercase hex>+<base64>`.
    #[error("malformed verifier key")]
    MalformedVerifierKey,
    /// The key material is not canonical base64.
    #[error("verifier key material is not canonical base64")]
    NonCanonicalBase64,
    /// Type byte other than 0x01 or 0x04.
    #[error("unsupported signature type 0x{0:02x}")]
    UnsupportedSignatureType(u8),
    /// Key material is not 32 bytes, not a valid point, or a weak (small-order) point.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// The key ID in the string is not the one computed from name and key.
    #[error("key ID does not match the name and public key")]
    KeyIdMismatch,
}

/// Errors parsing or verifying a signed note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// Larger than [`MAX_NOTE_LEN`].
    #[error("note is larger than {MAX_NOTE_LEN} bytes")]
    TooLarge,
    /// Not valid UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// Contains an ASCII control character other than newline.
    #[error("note contains a control character")]
    ControlCharacter,
    /// Text empty or not ending in a newline.
    #[error("note text must be non-empty and end with a newline")]
    MalformedText,
    /// No blank line separating text from signatures.
    #[error("note has no blank line before the signatures")]
    MissingSeparator,
    /// No signature lines.
    #[error("note has no signatures")]
    NoSignatures,
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// Signature line `n` (0-based) is not `— <name> <base64>\n`.
    #[error("malformed signature line {0}")]
    MalformedSignatureLine(usize),
    /// A signature's key name is invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The verifier list has two keys with the same name and key ID.
    #[error("two trusted keys share name {name:?} and key ID {key_id}")]
    AmbiguousKey {
        /// Key name.
        name: String,
        /// Key ID, hex.
        key_id: String,
    },
    /// A signature from a trusted key does not verify: the whole note is rejected.
    #[error("invalid signature from trusted key {name:?} ({key_id})")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID, hex.
        key_id: String,
    },
    /// No signature from any trusted key.
    #[error("no signature from a trusted key")]
    NoTrustedSignature,
    /// The note is missing the signature of a key the caller requires.
    #[error("no valid signature from required key {0:?}")]
    MissingRequiredSignature(String),
    /// Cosignature timestamp above 2^63 − 1.
    #[error("cosignature timestamp {0} exceeds 2^63-1")]
    TimestampOutOfRange(u64),
    /// The note text is not a valid checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
}

/// Checks a C2SP key name: non-empty, no Unicode white space, no `+`, no
/// control characters.
// spec/board.md §B7.1
pub fn validate_key_name(name: &str) -> Result<(), KeyError> {
    let bad = |c: char| c.is_whitespace() || c == '+' || c.is_control();
    if name.is_empty() || name.chars().any(bad) {
        return Err(KeyError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || type || public_key)[:4]`.
// spec/board.md §B7.2
pub fn key_id(name: &str, sig_type: SignatureType, public_key: &[u8; 32]) -> KeyId {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type.byte()]);
    h.update(public_key);
    let d: [u8; 32] = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

/// Decodes standard padded base64, accepting only the canonical encoding
/// (the one the encoder would produce), so that every value has one text.
pub(crate) fn decode_b64_canonical(s: &str) -> Option<Vec<u8>> {
    let bytes = B64.decode(s).ok()?;
    (B64.encode(&bytes) == s).then_some(bytes)
}

/// A public key trusted to sign notes, in the C2SP verifier-key text form
/// `<name>+<hex key ID>+<base64(type || public key)>`.
// spec/board.md §B7.2
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: KeyId,
    sig_type: SignatureType,
    key: VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey")
            .field(&self.to_string())
            .finish()
    }
}

impl VerifierKey {
    /// Builds a verifier key from its parts.
    pub fn new(
        name: &str,
        sig_type: SignatureType,
        public_key: &[u8; 32],
    ) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, sig_type, public_key),
            sig_type,
            key,
        })
    }

    /// Parses the verifier-key string, strictly (lowercase hex, canonical base64).
    // spec/board.md §B7.2
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        // The name cannot contain '+' but the base64 part can: split twice only.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::MalformedVerifierKey);
        };
        validate_key_name(name)?;
        let lower_hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        if id_hex.len() != 8 || !id_hex.bytes().all(lower_hex) {
            return Err(KeyError::MalformedVerifierKey);
        }
        let mut claimed = [0u8; 4];
        hex::decode_to_slice(id_hex, &mut claimed).map_err(|_| KeyError::MalformedVerifierKey)?;
        let material = decode_b64_canonical(b64).ok_or(KeyError::NonCanonicalBase64)?;
        let (&type_byte, public) = material
            .split_first()
            .ok_or(KeyError::MalformedVerifierKey)?;
        let sig_type = SignatureType::from_byte(type_byte)
            .ok_or(KeyError::UnsupportedSignatureType(type_byte))?;
        let public: &[u8; 32] = public.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
        let key = VerifierKey::new(name, sig_type, public)?;
        if key.key_id != claimed {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(key)
    }

    /// Key name (for the board key: the checkpoint origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.sig_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    fn matches(&self, sig: &NoteSignature) -> bool {
        self.name == sig.name && self.key_id == sig.key_id
    }
}

impl fmt::Display for VerifierKey {
    // spec/board.md §B7.2
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(33);
        material.push(self.sig_type.byte());
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            B64.encode(material)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        VerifierKey::parse(s)
    }
}

// Shared body of the two signing-key types; the secret is zeroized on drop
// by ed25519-dalek's SigningKey itself.
#[derive(Clone)]
struct NamedKey {
    name: String,
    key: SigningKey,
    sig_type: SignatureType,
}

impl NamedKey {
    fn new(name: &str, key: SigningKey, sig_type: SignatureType) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        Ok(NamedKey {
            name: name.to_owned(),
            key,
            sig_type,
        })
    }

    fn verifier_key(&self) -> VerifierKey {
        let key = self.key.verifying_key();
        VerifierKey {
            name: self.name.clone(),
            key_id: key_id(&self.name, self.sig_type, key.as_bytes()),
            sig_type: self.sig_type,
            key,
        }
    }
}

macro_rules! signing_key_type {
    ($(#[$doc:meta])* $name:ident, $sig_type:expr) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(NamedKey);

        impl fmt::Debug for $name {
            // Never print the secret.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("verifier_key", &self.verifier_key().to_string())
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            /// Generates a fresh key named `name`.
            pub fn generate<R: rand_core::CryptoRng + ?Sized>(
                name: &str,
                rng: &mut R,
            ) -> Result<Self, KeyError> {
                let mut secret = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(secret.as_mut_slice());
                Self::from_secret_bytes(name, &secret)
            }

            /// Rebuilds a key from its 32-byte Ed25519 secret (seed).
            pub fn from_secret_bytes(name: &str, secret: &[u8; 32]) -> Result<Self, KeyError> {
                Ok($name(NamedKey::new(name, SigningKey::from_bytes(secret), $sig_type)?))
            }

            /// The 32-byte secret, zeroized when the returned value is dropped.
            pub fn to_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
                Zeroizing::new(self.0.key.to_bytes())
            }

            /// Key name.
            pub fn name(&self) -> &str {
                &self.0.name
            }

            /// The matching verifier key.
            pub fn verifier_key(&self) -> VerifierKey {
                self.0.verifier_key()
            }
        }
    };
}

signing_key_type!(
    /// The board's checkpoint signing key: plain Ed25519 note signatures
    /// (type 0x01). Its name is the checkpoint origin.
    BoardSigningKey,
    SignatureType::Ed25519
);

signing_key_type!(
    /// An observer's (witness's) cosigning key: timestamped cosignatures
    /// (type 0x04, C2SP tlog-cosignature `cosignature/v1`).
    ObserverSigningKey,
    SignatureType::CosignatureV1
);

impl BoardSigningKey {
    /// Signs a note text (which must be valid note text).
    // spec/board.md §B7.3
    pub fn sign_text(&self, text: &str) -> Result<NoteSignature, NoteError> {
        validate_text(text)?;
        let sig = self.0.key.sign(text.as_bytes());
        Ok(NoteSignature {
            name: self.0.name.clone(),
            key_id: self.verifier_key().key_id,
            signature: sig.to_bytes().to_vec(),
        })
    }
}

/// The message an observer signs for a cosignature/v1:
/// `"cosignature/v1\ntime <timestamp>\n" || text`.
// spec/board.md §B7.4
pub fn cosignature_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

const MAX_TIMESTAMP: u64 = i64::MAX as u64;

impl ObserverSigningKey {
    /// Cosigns a note text at `timestamp` (POSIX seconds, at most 2^63 − 1).
    // spec/board.md §B7.4
    pub fn cosign_text(&self, text: &str, timestamp: u64) -> Result<NoteSignature, NoteError> {
        validate_text(text)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(NoteError::TimestampOutOfRange(timestamp));
        }
        let sig = self.0.key.sign(&cosignature_message(text, timestamp));
        let mut signature = Vec::with_capacity(72);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&sig.to_bytes());
        Ok(NoteSignature {
            name: self.0.name.clone(),
            key_id: self.verifier_key().key_id,
            signature,
        })
    }
}

/// One signature line of a note: `— <name> base64(key ID || signature)`.
/// `signature` is everything after the key ID (for cosignatures: the 8-byte
/// timestamp and the Ed25519 signature).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: KeyId,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Signature bytes after the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Parses one signature line (spec/board.md §B7.1) given without its
    /// newline, as strictly as [`SignedNote::parse`] does; for stores that
    /// keep cosignature lines apart from their note.
    pub fn from_line(line: &str) -> Result<Self, NoteError> {
        check_chars(line)?;
        if line.contains('\n') {
            return Err(NoteError::MalformedSignatureLine(0));
        }
        Self::parse_line(line, 0)
    }

    /// The signature line (spec/board.md §B7.1), without its newline.
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + 100);
        self.write_line(&mut out);
        out.pop();
        out
    }

    // spec/board.md §B7.1
    fn parse_line(line: &str, n: usize) -> Result<Self, NoteError> {
        let bad = || NoteError::MalformedSignatureLine(n);
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(bad)?;
        let (name, b64) = rest.split_once(' ').ok_or_else(bad)?;
        validate_key_name(name)?;
        let raw = decode_b64_canonical(b64).ok_or_else(bad)?;
        // At least a key ID and one byte of signature.
        if raw.len() < 5 {
            return Err(bad());
        }
        let (id, sig) = raw.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: [id[0], id[1], id[2], id[3]],
            signature: sig.to_vec(),
        })
    }

    fn write_line(&self, out: &mut String) {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.signature);
        out.push_str("\u{2014} ");
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&B64.encode(raw));
        out.push('\n');
    }
}

/// A signature that verified against a trusted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Position of the key in the list given to [`SignedNote::verify`].
    pub key_index: usize,
    /// Name of the key.
    pub name: String,
    /// Key ID.
    pub key_id: KeyId,
    /// Type of the key.
    pub signature_type: SignatureType,
    /// For cosignatures, the timestamp (POSIX seconds) the observer signed.
    pub timestamp: Option<u64>,
}

fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.bytes().any(|b| b < 0x20 && b != b'\n') || s.contains('\u{7f}') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

// spec/board.md §B7.1
fn validate_text(text: &str) -> Result<(), NoteError> {
    check_chars(text)?;
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::MalformedText);
    }
    Ok(())
}

/// A C2SP signed note: a text and one or more signature lines.
///
/// Signatures from unknown keys are kept (so a mirror can pass them on) but
/// ignored by [`SignedNote::verify`].
// spec/board.md §B7.1
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// A note with the given text and signatures (at least one).
    pub fn new(text: String, signatures: Vec<NoteSignature>) -> Result<Self, NoteError> {
        validate_text(&text)?;
        if signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        Ok(SignedNote { text, signatures })
    }

    /// Parses a signed note, strictly.
    // spec/board.md §B7.1
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge);
        }
        let s = core::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        check_chars(s)?;
        // The text may itself contain blank lines: the signatures start after
        // the *last* one.
        let sep = s.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let text = &s[..=sep];
        let sigs = &s[sep + 2..];
        validate_text(text)?;
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let body = sigs
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedSignatureLine(0))?;
        let mut signatures = Vec::new();
        for (n, line) in body.split('\n').enumerate() {
            if n >= MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(NoteSignature::parse_line(line, n)?);
        }
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// All signature lines, trusted or not, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature, replacing any existing one with the same key name and ID.
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        if let Some(old) = self
            .signatures
            .iter_mut()
            .find(|s| s.name == sig.name && s.key_id == sig.key_id)
        {
            *old = sig;
            return Ok(());
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// The wire form: text, blank line, signature lines.
    // spec/board.md §B7.1
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for sig in &self.signatures {
            sig.write_line(&mut out);
        }
        out
    }

    /// Verifies the signatures made by `trusted` keys.
    ///
    /// Lines whose (name, key ID) match no trusted key are ignored. A line
    /// that matches a trusted key but does not verify rejects the whole note.
    /// Fails if no trusted key signed. Each trusted key is reported once.
    // spec/board.md §B7.5
    pub fn verify(&self, trusted: &[VerifierKey]) -> Result<Vec<VerifiedSignature>, NoteError> {
        for (i, a) in trusted.iter().enumerate() {
            if trusted[..i]
                .iter()
                .any(|b| a.name == b.name && a.key_id == b.key_id)
            {
                return Err(NoteError::AmbiguousKey {
                    name: a.name.clone(),
                    key_id: hex::encode(a.key_id),
                });
            }
        }
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let Some((key_index, key)) = trusted.iter().enumerate().find(|(_, k)| k.matches(sig))
            else {
                continue;
            };
            let invalid = || NoteError::InvalidSignature {
                name: sig.name.clone(),
                key_id: hex::encode(sig.key_id),
            };
            let timestamp = match key.sig_type {
                SignatureType::Ed25519 => {
                    let s = Signature::from_slice(&sig.signature).map_err(|_| invalid())?;
                    key.key
                        .verify_strict(self.text.as_bytes(), &s)
                        .map_err(|_| invalid())?;
                    None
                }
                SignatureType::CosignatureV1 => {
                    let (ts, s) = sig.signature.split_first_chunk::<8>().ok_or_else(invalid)?;
                    let ts = u64::from_be_bytes(*ts);
                    if ts > MAX_TIMESTAMP {
                        return Err(invalid());
                    }
                    let s = Signature::from_slice(s).map_err(|_| invalid())?;
                    key.key
                        .verify_strict(&cosignature_message(&self.text, ts), &s)
                        .map_err(|_| invalid())?;
                    Some(ts)
                }
            };
            if verified.iter().all(|v| v.key_index != key_index) {
                verified.push(VerifiedSignature {
                    key_index,
                    name: key.name.clone(),
                    key_id: key.key_id,
                    signature_type: key.sig_type,
                    timestamp,
                });
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoTrustedSignature);
        }
        Ok(verified)
    }
}

impl fmt::Display for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for SignedNote {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, NoteError> {
        SignedNote::parse(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(validate_key_name("urna.example/e1").is_ok());
        for bad in ["", "a b", "a+b", "a\u{a0}b", "a\tb", "a\u{2003}b"] {
            assert!(validate_key_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signature_type_bytes() {
        for t in [SignatureType::Ed25519, SignatureType::CosignatureV1] {
            assert_eq!(SignatureType::from_byte(t.byte()), Some(t));
        }
        assert_eq!(SignatureType::from_byte(0x02), None);
    }

    #[test]
    fn timestamp_bound() {
        let key = ObserverSigningKey::from_secret_bytes("w", &[3; 32]).unwrap();
        assert_eq!(
            key.cosign_text("x\n", MAX_TIMESTAMP + 1),
            Err(NoteError::TimestampOutOfRange(MAX_TIMESTAMP + 1))
        );
        assert!(key.cosign_text("x\n", MAX_TIMESTAMP).is_ok());
    }

    #[test]
    fn signature_lines_round_trip_strictly() {
        let key = ObserverSigningKey::from_secret_bytes("w.example", &[3; 32]).unwrap();
        let sig = key.cosign_text("x\n", 7).unwrap();
        let line = sig.to_line();
        assert!(line.starts_with("\u{2014} w.example ") && !line.ends_with('\n'));
        assert_eq!(NoteSignature::from_line(&line).unwrap(), sig);
        for bad in [
            format!("{line}\n"),
            line.replacen('\u{2014}', "-", 1),
            format!("{line}="),
            "\u{2014} w.example AAAA".to_owned(),
        ] {
            assert!(NoteSignature::from_line(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_secret() {
        let key = BoardSigningKey::from_secret_bytes("b", &[0x41; 32]).unwrap();
        let dbg = format!("{key:?}");
        assert!(!dbg.contains(&hex::encode([0x41u8; 32])));
        assert!(dbg.contains("b+"));
    }
}
