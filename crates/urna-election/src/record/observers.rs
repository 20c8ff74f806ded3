//! The observer list (`admin_action` sub-tag 4, spec/record.md §R16):
//! whose cosignatures of the board's checkpoints count. The server
//! publishes it when it starts with `--observers FILE` and the list
//! differs from the last one on the board; verifiers read it.

use urna_board::{SignatureType, VerifierKey};
use urna_crypto::encoding::{Reader, Writer};

use super::{PAYLOAD_VERSION, bounded, version};
use crate::error::{Misuse, RecordError};

/// `admin_action` sub-tag of the observer list (§R16).
pub const ADMIN_OBSERVERS: u8 = 4;

/// Most observers a list names: the cosignature lines one checkpoint note
/// can carry beside the board's own (spec/board.md §B7.1).
pub const MAX_OBSERVERS: usize = 99;

/// An `admin_action` with sub-tag 4 (spec/record.md §R16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverList {
    /// The observers' verifier keys (type `0x04`), strictly increasing by
    /// their text form.
    pub keys: Vec<VerifierKey>,
}

impl ObserverList {
    /// The list of `keys` in canonical order; duplicates, keys that are
    /// not cosignature keys and more than [`MAX_OBSERVERS`] are refused.
    pub fn new(mut keys: Vec<VerifierKey>) -> Result<Self, Misuse> {
        keys.sort_by_key(|k| k.to_string());
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(Misuse::Unencodable(
                "an observer key is listed twice".into(),
            ));
        }
        if keys.len() > MAX_OBSERVERS {
            return Err(Misuse::Unencodable(format!(
                "{} observers, at most {MAX_OBSERVERS}",
                keys.len()
            )));
        }
        if let Some(k) = keys
            .iter()
            .find(|k| k.signature_type() != SignatureType::CosignatureV1)
        {
            return Err(Misuse::Unencodable(format!(
                "{} is not an observer (type 0x04) key",
                k.name()
            )));
        }
        Ok(ObserverList { keys })
    }

    /// The payload.
    pub fn encode(&self) -> Result<Vec<u8>, Misuse> {
        let mut w = Writer::new();
        w.u8(PAYLOAD_VERSION)
            .u8(ADMIN_OBSERVERS)
            .u8(self.keys.len() as u8);
        for k in &self.keys {
            let text = k.to_string();
            let len = u8::try_from(text.len())
                .map_err(|_| Misuse::Unencodable("an observer key is too long".into()))?;
            w.u8(len).raw(text.as_bytes());
        }
        Ok(w.finish())
    }

    /// Strict decoding (§R16).
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let sub = r.u8()?;
        if sub != ADMIN_OBSERVERS {
            return Err(RecordError::UnknownTag {
                field: "admin_action sub-tag",
                value: sub,
            });
        }
        let n = r.u8()?;
        bounded("observers", n.into(), 0, MAX_OBSERVERS as u64)?;
        let mut keys: Vec<VerifierKey> = Vec::with_capacity(n.into());
        let mut last: Option<Vec<u8>> = None;
        for _ in 0..n {
            let len = r.u8()?;
            let text = r.take(len.into())?;
            let key = std::str::from_utf8(text)
                .ok()
                .and_then(|t| VerifierKey::parse(t).ok())
                .filter(|k| k.signature_type() == SignatureType::CosignatureV1)
                .filter(|k| k.to_string().as_bytes() == text)
                .ok_or(RecordError::BadKey {
                    field: "observer key",
                })?;
            if last.as_deref().is_some_and(|l| l >= text) {
                return Err(RecordError::NotCanonicalOrder { field: "observers" });
            }
            last = Some(text.to_vec());
            keys.push(key);
        }
        r.finish()?;
        Ok(ObserverList { keys })
    }
}
