//! Strict payload reading shared by every section (spec/record.md §R1):
//! versions, identifiers, chunk positions and sequences, sub-tags.

use urna_crypto::PeerError;
use urna_crypto::encoding::Reader;

/// A peer error as the failure message.
pub(super) fn pe(e: PeerError) -> String {
    e.to_string()
}

/// record.md §R1.1: the version byte `0x01`.
pub(super) fn read_version(r: &mut Reader<'_>) -> Result<(), String> {
    match r.u8().map_err(pe)? {
        1 => Ok(()),
        v => Err(format!("unknown_version {v}")),
    }
}

/// record.md §R1.2: `u8(len) ‖ id`, 1 to 64 bytes of `a-z 0-9 . _ -`.
pub(super) fn read_id(r: &mut Reader<'_>) -> Result<String, String> {
    let n = r.u8().map_err(pe)?;
    let b = r.take(n.into()).map_err(pe)?;
    let ok = (1..=64).contains(&n)
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
    if !ok {
        return Err("bad_identifier".into());
    }
    Ok(String::from_utf8_lossy(b).into_owned())
}

/// record.md §R1.2 encoding of an identifier.
pub(super) fn id_bytes(s: &str) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkPos {
    pub(super) index: u32,
    pub(super) count: u32,
}

/// record.md §R1.3: `u32 index ‖ u32 count`, `index < count`.
pub(super) fn read_pos(r: &mut Reader<'_>) -> Result<ChunkPos, String> {
    let index = r.u32().map_err(pe)?;
    let count = r.u32().map_err(pe)?;
    if count == 0 || index >= count {
        return Err(format!("out_of_bounds: chunk {index} of {count}"));
    }
    Ok(ChunkPos { index, count })
}

/// Tracks one chunk sequence (§R1.3).
#[derive(Debug, Default, Clone)]
pub(super) struct Seq {
    pub(super) next: u32,
    pub(super) count: u32,
    pub(super) started: bool,
}

impl Seq {
    /// Accepts the next chunk; `Err` if out of order.
    pub(super) fn push(&mut self, p: ChunkPos) -> Result<(), String> {
        if !self.started {
            self.started = true;
            self.count = p.count;
        }
        if p.count != self.count || p.index != self.next {
            return Err(format!(
                "inconsistent_chunks: got chunk {} of {}, expected {} of {}",
                p.index, p.count, self.next, self.count
            ));
        }
        self.next += 1;
        Ok(())
    }
    pub(super) fn complete(&self) -> bool {
        self.started && self.next == self.count
    }
}

/// record.md §R11.2: the label of a tally position.
pub(super) fn label(d: &str, c: &str, o: u16) -> Vec<u8> {
    let mut l = id_bytes(d);
    l.extend(id_bytes(c));
    l.extend_from_slice(&o.to_be_bytes());
    l
}

/// A tree size written in decimal (board.md §B1): ASCII digits, no sign,
/// no leading zero unless the value is 0 (spec/export.md §X1).
pub(super) fn decimal(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// `admin_action` sub-tags (record.md §R10, §R15).
pub(super) const SUB_TAG_TALLY: u8 = 1;
pub(super) const SUB_TAG_PRECINCT_LIST: u8 = 2;

/// The version and sub-tag that open every `admin_action` payload
/// (record.md §R1.1): the sub-tag, or why there is none.
pub(super) fn admin_sub_tag(payload: &[u8]) -> Result<u8, String> {
    match payload {
        [1, tag, ..] => Ok(*tag),
        [v, _, ..] => Err(format!("unknown_version {v}")),
        _ => Err("truncated: admin_action without a sub-tag".into()),
    }
}
