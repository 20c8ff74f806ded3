//! Payload files: what a trustee carries to and from its offline machine
//! (spec/trustee.md §T4). A file holds board entry payloads, each with its
//! entry kind, so that a transport (a USB stick today, HTTP later) can put
//! them on the board as they are.
//!
//! ```text
//! 0  8  magic "URNA-PAY"
//! 8  1  version = 1
//! 9  4  count (u32)
//! then count × ( kind u16 ‖ length u32 ‖ payload )
//! ```
//!
//! On input a file that does not start with the magic bytes is read as one
//! bare payload (for example a board entry's payload saved as it is).

use std::path::{Path, PathBuf};

use crate::error::{Result, TrusteeError, io};

/// Magic bytes of a payload file.
pub const PAYLOAD_MAGIC: &[u8; 8] = b"URNA-PAY";
/// Payload file version.
pub const PAYLOAD_FILE_VERSION: u8 = 1;
/// Board entry kind `trustee_ceremony` (spec/record.md §R3).
pub const KIND_TRUSTEE_CEREMONY: u16 = 0x0101;
/// Board entry kind `partial_decryption` (spec/record.md §R11).
pub const KIND_PARTIAL_DECRYPTION: u16 = 0x0301;
/// Board entry kind `admin_action` (the tally, spec/record.md §R10).
pub const KIND_ADMIN_ACTION: u16 = 0x0400;

/// One board payload with its entry kind (`None`: a bare payload file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The board entry kind, if the file said.
    pub kind: Option<u16>,
    /// The payload bytes.
    pub bytes: Vec<u8>,
}

/// Encodes a payload file.
pub fn encode(kind: u16, payloads: &[Vec<u8>]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(13 + payloads.iter().map(|p| 6 + p.len()).sum::<usize>());
    out.extend_from_slice(PAYLOAD_MAGIC);
    out.push(PAYLOAD_FILE_VERSION);
    let count = u32::try_from(payloads.len())
        .map_err(|_| TrusteeError::Input("too many payloads".into()))?;
    out.extend_from_slice(&count.to_be_bytes());
    for p in payloads {
        out.extend_from_slice(&kind.to_be_bytes());
        let len =
            u32::try_from(p.len()).map_err(|_| TrusteeError::Input("payload too long".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(p);
    }
    Ok(out)
}

/// Decodes a payload file (or a bare payload), strictly.
pub fn decode(bytes: &[u8]) -> std::result::Result<Vec<Payload>, String> {
    let Some(rest) = bytes.strip_prefix(PAYLOAD_MAGIC.as_slice()) else {
        return Ok(vec![Payload {
            kind: None,
            bytes: bytes.to_vec(),
        }]);
    };
    let mut r = urna_crypto::encoding::Reader::new(rest);
    let e = |e: urna_crypto::PeerError| e.to_string();
    let version = r.u8().map_err(e)?;
    if version != PAYLOAD_FILE_VERSION {
        return Err(format!("unknown payload file version {version}"));
    }
    let count = r.u32().map_err(e)? as usize;
    if count > r.remaining() / 6 {
        return Err(format!("count {count} exceeds the file"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = r.u16().map_err(e)?;
        let len = r.u32().map_err(e)? as usize;
        out.push(Payload {
            kind: Some(kind),
            bytes: r.take(len).map_err(e)?.to_vec(),
        });
    }
    r.finish().map_err(e)?;
    Ok(out)
}

/// Reads payloads from files and folders (a folder: every regular file in
/// it whose name does not start with `.`, by name). Every payload must be
/// of `kind` (bare payloads are taken to be).
pub fn read_inputs(paths: &[PathBuf], kind: u16) -> Result<Vec<Vec<u8>>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inner = Vec::new();
            for entry in std::fs::read_dir(p).map_err(io(p))? {
                let entry = entry.map_err(io(p))?;
                let path = entry.path();
                let hidden = entry.file_name().to_string_lossy().starts_with('.');
                if !hidden && path.is_file() {
                    inner.push(path);
                }
            }
            inner.sort();
            files.extend(inner);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in &files {
        out.extend(read_file(f, kind)?);
    }
    Ok(out)
}

fn read_file(path: &Path, kind: u16) -> Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let payloads =
        decode(&bytes).map_err(|e| TrusteeError::Input(format!("{}: {e}", path.display())))?;
    payloads
        .into_iter()
        .map(|p| match p.kind {
            Some(k) if k != kind => Err(TrusteeError::Input(format!(
                "{}: a payload of entry kind {k:#06x}, expected {kind:#06x}",
                path.display()
            ))),
            _ => Ok(p.bytes),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let ps = vec![vec![1u8, 2, 3], vec![], vec![9; 300]];
        let file = encode(KIND_TRUSTEE_CEREMONY, &ps).unwrap_or_default();
        let back = decode(&file).unwrap_or_default();
        assert_eq!(back.iter().map(|p| p.bytes.clone()).collect::<Vec<_>>(), ps);
        assert!(back.iter().all(|p| p.kind == Some(KIND_TRUSTEE_CEREMONY)));
        // Empty list.
        let empty = encode(KIND_TRUSTEE_CEREMONY, &[]).unwrap_or_default();
        assert_eq!(empty.len(), 13);
        assert_eq!(decode(&empty), Ok(vec![]));
        // Truncated, trailing, wrong version.
        assert!(decode(&file[..file.len() - 1]).is_err());
        let mut longer = file.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut v2 = file.clone();
        v2[8] = 2;
        assert!(decode(&v2).is_err());
        // No magic: one bare payload.
        assert_eq!(
            decode(b"\x01\x01abc"),
            Ok(vec![Payload {
                kind: None,
                bytes: b"\x01\x01abc".to_vec()
            }])
        );
    }
}
