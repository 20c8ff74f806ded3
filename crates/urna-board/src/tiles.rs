//! C2SP tlog-tiles: tile and entry-bundle paths, and their contents built
//! from stored perfect-subtree hashes: spec/board.md §B8.

use core::fmt;
use core::ops::Range;

use crate::entry::{Entry, EntryError};
use crate::hash::{HASH_LEN, Hash};
use crate::proof::ProofError;
use crate::tree::{SubtreeId, SubtreeSource};

/// Tile height: a tile spans 8 tree levels and holds up to 2^8 hashes.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes (or entries) in a full tile (or bundle).
pub const TILE_WIDTH: u16 = 1 << TILE_HEIGHT;

/// Highest tile level: level-7 tiles hold level-56 subtrees, which reach 2^64 leaves.
pub const MAX_TILE_LEVEL: u8 = 7;

/// Errors about tile paths and tile contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// The path is not a canonical tile or entry-bundle path.
    #[error("not a canonical tile path: {0:?}")]
    InvalidPath(String),
    /// Tile level above [`MAX_TILE_LEVEL`].
    #[error("tile level {0} is above {MAX_TILE_LEVEL}")]
    LevelTooHigh(u8),
    /// Width outside `1..=256`.
    #[error("tile width {0} is not in 1..=256")]
    InvalidWidth(u16),
    /// Tile index so large its leaves are beyond 2^64.
    #[error("tile index {0} is out of range")]
    IndexTooLarge(u64),
    /// An entry bundle has a different number of entries than its width.
    #[error("bundle holds {actual} entries, expected {expected}")]
    WrongEntryCount {
        /// Width of the bundle.
        expected: usize,
        /// Entries found or given.
        actual: usize,
    },
    /// A bundle's length prefix runs past its end.
    #[error("entry bundle is truncated")]
    TruncatedBundle,
    /// An entry is too long for the uint16 length prefix.
    #[error("entry of {0} bytes does not fit an entry bundle")]
    EntryTooLarge(usize),
    /// An entry inside a bundle is malformed.
    #[error("entry {index} of the bundle: {error}")]
    Entry {
        /// Position in the bundle.
        index: usize,
        /// What is wrong with it.
        error: EntryError,
    },
}

fn check_width(width: u16) -> Result<(), TileError> {
    if width == 0 || width > TILE_WIDTH {
        return Err(TileError::InvalidWidth(width));
    }
    Ok(())
}

fn check_index(index: u64, level: u8) -> Result<(), TileError> {
    // The tile's last hash is subtree (8·level, index·256 + 255); its leaves
    // must start below 2^64.
    let first_leaf = (u128::from(index) + 1) << (u32::from(TILE_HEIGHT) * (u32::from(level) + 1));
    if first_leaf > u128::from(u64::MAX) + 1 {
        return Err(TileError::IndexTooLarge(index));
    }
    Ok(())
}

// `N` as zero-padded 3-digit path elements, all but the last prefixed by `x`.
// spec/board.md §B8.1
fn write_index(out: &mut String, mut n: u64) {
    let mut groups = Vec::with_capacity(7);
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
}

fn write_path(f: &mut fmt::Formatter<'_>, level: &str, index: u64, width: u16) -> fmt::Result {
    let mut out = format!("tile/{level}/");
    write_index(&mut out, index);
    if width < TILE_WIDTH {
        out.push_str(&format!(".p/{width}"));
    }
    f.write_str(&out)
}

/// A hash tile: hashes of the level-`8·level` perfect subtrees
/// `index·256 .. index·256 + width`.
// spec/board.md §B8.2
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    level: u8,
    index: u64,
    width: u16,
}

impl TileId {
    /// A tile; `width` is 256 for a full tile, `1..=255` for a partial one.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::LevelTooHigh(level));
        }
        check_width(width)?;
        check_index(index, level)?;
        Ok(TileId {
            level,
            index,
            width,
        })
    }

    /// Tile level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Tile index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes: 256 when full.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// True for a full (256-hash) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The perfect subtrees whose hashes make up the tile, in order.
    pub fn subtrees(&self) -> Vec<SubtreeId> {
        let level = self.level * TILE_HEIGHT;
        let first = self.index << TILE_HEIGHT;
        (0..u64::from(self.width))
            .map(|i| SubtreeId::new(level, first + i))
            .collect()
    }

    /// True if all the tile's hashes exist in a tree of `size` leaves.
    pub fn is_within(&self, size: u64) -> bool {
        let have = size >> (self.level * TILE_HEIGHT);
        (self.index << TILE_HEIGHT) + u64::from(self.width) <= have
    }

    /// The tile's bytes: its hashes concatenated, from the hashes of
    /// [`TileId::subtrees`] given in order.
    // spec/board.md §B8.2
    pub fn encode_ordered(&self, hashes: &[Hash]) -> Result<Vec<u8>, ProofError> {
        if hashes.len() != usize::from(self.width) {
            return Err(ProofError::WrongHashCount {
                expected: usize::from(self.width),
                actual: hashes.len(),
            });
        }
        Ok(hashes.concat())
    }

    /// The tile's bytes, reading hashes from `source`.
    pub fn encode<S: SubtreeSource + ?Sized>(&self, source: &S) -> Result<Vec<u8>, ProofError> {
        let mut out = Vec::with_capacity(usize::from(self.width) * HASH_LEN);
        for id in self.subtrees() {
            out.extend_from_slice(&source.perfect(id).ok_or(ProofError::MissingSubtree(id))?);
        }
        Ok(out)
    }

    /// Splits tile bytes into hashes, checking the length matches the width.
    pub fn decode(&self, bytes: &[u8]) -> Option<Vec<Hash>> {
        if bytes.len() != usize::from(self.width) * HASH_LEN {
            return None;
        }
        Some(
            bytes
                .chunks_exact(HASH_LEN)
                .filter_map(|c| c.try_into().ok())
                .collect(),
        )
    }
}

impl fmt::Display for TileId {
    // spec/board.md §B8.1
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(f, &self.level.to_string(), self.index, self.width)
    }
}

/// An entry bundle: entries `index·256 .. index·256 + width`.
// spec/board.md §B8.3
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundleId {
    index: u64,
    width: u16,
}

impl BundleId {
    /// A bundle; `width` is 256 when full.
    pub fn new(index: u64, width: u16) -> Result<Self, TileError> {
        check_width(width)?;
        check_index(index, 0)?;
        Ok(BundleId { index, width })
    }

    /// Bundle index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of entries: 256 when full.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Leaf indices of the entries in the bundle.
    pub fn entries(&self) -> Range<u64> {
        let first = self.index << TILE_HEIGHT;
        first..first + u64::from(self.width)
    }

    /// True if all the bundle's entries exist in a tree of `size` leaves.
    pub fn is_within(&self, size: u64) -> bool {
        self.entries().end <= size
    }

    /// The bundle's bytes: each entry as `uint16 BE length || entry bytes`.
    // spec/board.md §B8.3
    pub fn encode(&self, entries: &[Entry]) -> Result<Vec<u8>, TileError> {
        if entries.len() != usize::from(self.width) {
            return Err(TileError::WrongEntryCount {
                expected: usize::from(self.width),
                actual: entries.len(),
            });
        }
        let mut out = Vec::with_capacity(entries.iter().map(|e| 2 + e.bytes().len()).sum());
        for e in entries {
            let len = u16::try_from(e.bytes().len())
                .map_err(|_| TileError::EntryTooLarge(e.bytes().len()))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(e.bytes());
        }
        Ok(out)
    }

    /// Parses bundle bytes into exactly `width` valid entries.
    // spec/board.md §B8.3
    pub fn decode(&self, mut bytes: &[u8]) -> Result<Vec<Entry>, TileError> {
        let mut out = Vec::with_capacity(usize::from(self.width));
        while !bytes.is_empty() {
            let (len, rest) = bytes
                .split_first_chunk::<2>()
                .ok_or(TileError::TruncatedBundle)?;
            let len = usize::from(u16::from_be_bytes(*len));
            if rest.len() < len {
                return Err(TileError::TruncatedBundle);
            }
            let (entry, rest) = rest.split_at(len);
            let index = out.len();
            out.push(
                Entry::from_bytes(entry.to_vec())
                    .map_err(|error| TileError::Entry { index, error })?,
            );
            bytes = rest;
        }
        if out.len() != usize::from(self.width) {
            return Err(TileError::WrongEntryCount {
                expected: usize::from(self.width),
                actual: out.len(),
            });
        }
        Ok(out)
    }
}

impl fmt::Display for BundleId {
    // spec/board.md §B8.1
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(f, "entries", self.index, self.width)
    }
}

/// A parsed tile resource path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`
    Hashes(TileId),
    /// `tile/entries/<N>[.p/<W>]`
    Entries(BundleId),
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TilePath::Hashes(t) => t.fmt(f),
            TilePath::Entries(b) => b.fmt(f),
        }
    }
}

// Decimal without sign or leading zeros.
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

fn parse_group(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a tile or entry-bundle path (relative to the log prefix, no
/// leading slash), accepting only the canonical form that
/// [`TileId`]/[`BundleId`] print.
// spec/board.md §B8.1
pub fn parse_tile_path(path: &str) -> Result<TilePath, TileError> {
    let invalid = || TileError::InvalidPath(path.to_owned());
    let rest = path.strip_prefix("tile/").ok_or_else(invalid)?;
    let mut parts: Vec<&str> = rest.split('/').collect();
    if parts.len() < 2 {
        return Err(invalid());
    }
    let level = parts.remove(0);

    // A trailing ".p/<W>" marks a partial tile.
    let mut width = TILE_WIDTH;
    if let [.., last_index, w] = parts.as_slice()
        && let Some(stripped) = last_index.strip_suffix(".p")
    {
        let w = parse_decimal(w).ok_or_else(invalid)?;
        if !(1..u64::from(TILE_WIDTH)).contains(&w) {
            return Err(invalid());
        }
        width = w as u16;
        let n = parts.len();
        parts[n - 2] = stripped;
        parts.truncate(n - 1);
    }

    let (last, prefix) = parts.split_last().ok_or_else(invalid)?;
    let mut index: u64 = 0;
    for (i, p) in prefix.iter().enumerate() {
        let g = p
            .strip_prefix('x')
            .and_then(parse_group)
            .ok_or_else(invalid)?;
        // "x000" first would be a second spelling of the same index.
        if i == 0 && g == 0 {
            return Err(invalid());
        }
        index = index
            .checked_mul(1000)
            .and_then(|v| v.checked_add(g))
            .ok_or_else(invalid)?;
    }
    let g = parse_group(last).ok_or_else(invalid)?;
    index = index
        .checked_mul(1000)
        .and_then(|v| v.checked_add(g))
        .ok_or_else(invalid)?;

    if level == "entries" {
        return Ok(TilePath::Entries(BundleId::new(index, width)?));
    }
    let level = parse_decimal(level).ok_or_else(invalid)?;
    let level = u8::try_from(level).map_err(|_| invalid())?;
    Ok(TilePath::Hashes(TileId::new(level, index, width)?))
}

/// The hash tiles whose contents at tree size `new` differ from those at
/// `old` (or did not exist): what a store writes or invalidates after
/// growing from `old` to `new`. Full tiles come before the partial one of
/// each level; levels go bottom-up.
// spec/board.md §B8.4
pub fn changed_tiles(old: u64, new: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    if new <= old {
        return out;
    }
    for level in 0..=MAX_TILE_LEVEL {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let (have_old, have_new) = (old >> shift, new >> shift);
        if have_new == have_old {
            continue;
        }
        let first = have_old >> TILE_HEIGHT;
        let last = (have_new - 1) >> TILE_HEIGHT;
        for index in first..=last {
            let start = index << TILE_HEIGHT;
            let width = (have_new - start).min(u64::from(TILE_WIDTH)) as u16;
            // Parameters are in range by construction; skip rather than panic.
            if let Ok(t) = TileId::new(level, index, width) {
                out.push(t);
            }
        }
    }
    out
}

/// The entry bundles whose contents at tree size `new` differ from those at `old`.
// spec/board.md §B8.4
pub fn changed_bundles(old: u64, new: u64) -> Vec<BundleId> {
    changed_tiles(old, new)
        .into_iter()
        .filter(|t| t.level == 0)
        .filter_map(|t| BundleId::new(t.index, t.width).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Result<TilePath, TileError> {
        parse_tile_path(p)
    }

    #[test]
    fn paths_format_and_parse() {
        // The index examples of C2SP tlog-tiles and Go's sumdb/tlog tests.
        let cases = [
            (
                TileId::new(0, 1234067, 256).unwrap(),
                "tile/0/x001/x234/067",
            ),
            (
                TileId::new(3, 123456078, 256).unwrap(),
                "tile/3/x123/x456/078",
            ),
            (
                TileId::new(3, 123456078, 2).unwrap(),
                "tile/3/x123/x456/078.p/2",
            ),
            (
                TileId::new(1, 3057500, 256).unwrap(),
                "tile/1/x003/x057/500",
            ),
            (TileId::new(0, 1, 256).unwrap(), "tile/0/001"),
            (TileId::new(2, 0, 5).unwrap(), "tile/2/000.p/5"),
            (TileId::new(0, 1000, 255).unwrap(), "tile/0/x001/000.p/255"),
        ];
        for (tile, p) in cases {
            assert_eq!(tile.to_string(), p);
            assert_eq!(path(p), Ok(TilePath::Hashes(tile)));
        }
        let b = BundleId::new(1234067, 7).unwrap();
        assert_eq!(b.to_string(), "tile/entries/x001/x234/067.p/7");
        assert_eq!(path(&b.to_string()), Ok(TilePath::Entries(b)));
        assert_eq!(b.entries(), 1234067 * 256..1234067 * 256 + 7);
    }

    #[test]
    fn non_canonical_paths_rejected() {
        for p in [
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/00/001",
            "tile/+0/001",
            "tile/0/123/456/078",
            "tile/0/x123/x456/x078",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/05",
            "tile/0/001.p/",
            "tile/0/001/",
            "tile/0/",
            "tile/0",
            "tile//001",
            "/tile/0/001",
            "tile/-1/001",
            "tile/data/001",
            "tiles/0/001",
            "tile/0/x01a/001",
        ] {
            assert!(path(p).is_err(), "{p} accepted");
        }
        assert_eq!(path("tile/8/001"), Err(TileError::LevelTooHigh(8)));
        assert!(matches!(
            path("tile/0/x999/x999/x999/x999/x999/x999/999"),
            Err(TileError::InvalidPath(_))
        ));
        assert_eq!(path("tile/7/001"), Err(TileError::IndexTooLarge(1)));
        assert_eq!(
            path("tile/7/000"),
            Ok(TilePath::Hashes(TileId::new(7, 0, 256).unwrap()))
        );
    }

    #[test]
    fn changed_tiles_matches_spec_example() {
        // C2SP tlog-tiles: size 70 000 is 273 full level-0 tiles, a partial of
        // width 112, a full level-1 tile, a partial level-1 of width 17 and a
        // partial level-2 of width 1.
        let all = changed_tiles(0, 70_000);
        let level0: Vec<_> = all.iter().filter(|t| t.level() == 0).collect();
        assert_eq!(level0.len(), 274);
        assert_eq!(level0.iter().filter(|t| t.is_full()).count(), 273);
        assert_eq!(level0[273].width(), 112);
        let level1: Vec<_> = all
            .iter()
            .filter(|t| t.level() == 1)
            .map(|t| t.width())
            .collect();
        assert_eq!(level1, [256, 17]);
        let level2: Vec<_> = all
            .iter()
            .filter(|t| t.level() == 2)
            .map(|t| t.width())
            .collect();
        assert_eq!(level2, [1]);
        assert!(all.iter().all(|t| t.is_within(70_000)));
        assert_eq!(changed_tiles(256, 256), []);
        assert_eq!(
            changed_tiles(0, 256),
            [
                TileId::new(0, 0, 256).unwrap(),
                TileId::new(1, 0, 1).unwrap()
            ]
        );
        assert_eq!(changed_tiles(300, 301), [TileId::new(0, 1, 45).unwrap()]);
        assert_eq!(changed_bundles(300, 301), [BundleId::new(1, 45).unwrap()]);
    }
}
