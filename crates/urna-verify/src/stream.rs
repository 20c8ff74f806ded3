//! Reading `entries.bin` (spec/export.md §X2) on a thread of its own, in
//! blocks, with each entry's leaf hash (board.md §B2.1) and, for ballots,
//! its tracking code (record.md §R6.2) already computed: the hashing then
//! runs beside the sequential checks instead of in front of them, and
//! entries live in one buffer per block rather than one allocation each.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use sha2::{Digest, Sha256};
use urna_board::{EntryKind, Hash, MAX_ENTRY_LEN, leaf_hash};

use crate::record::FramingError;

/// Bytes of entries per block (a block is the unit handed between threads).
const BLOCK_BYTES: usize = 1 << 20;
/// Entries per block at most.
const BLOCK_ENTRIES: usize = 2048;

/// Consecutive entries of `entries.bin`.
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// Leaf index of the first entry.
    pub first_index: u64,
    /// The entries' bytes, back to back.
    pub buf: Vec<u8>,
    /// Per entry: start in `buf`, length, and offset of its length prefix
    /// in `entries.bin`.
    pub spans: Vec<(usize, usize, u64)>,
    /// Per entry: its leaf hash.
    pub leaves: Vec<Hash>,
    /// Per entry: SHA-256 of the payload if the envelope says `ballot`
    /// (meaningful only once the envelope is checked), zeros otherwise.
    pub codes: Vec<[u8; 32]>,
    /// Bytes of `entries.bin` consumed after this block.
    pub end: u64,
    /// A framing fault right after this block's entries: the stream ends.
    pub error: Option<FramingError>,
    /// Sent before it was full because the source had nothing more yet.
    pub short: bool,
}

/// Fills `buf` as far as the stream allows; the count read (short only at
/// the end of the stream). `WouldBlock` (a live source with nothing new)
/// is returned only if nothing was read yet; inside a value it waits.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Frames `entries.bin` from `reader` into blocks sent on `tx`; stops at
/// the end of the stream, at a framing fault (sent in the last block), or
/// when the receiver is gone.
pub(crate) fn read_blocks(reader: impl Read, tx: SyncSender<Block>) {
    let ballot = EntryKind::Ballot.tag().to_be_bytes();
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let mut offset = 0u64;
    let mut index = 0u64;
    loop {
        let mut block = Block {
            first_index: index,
            buf: Vec::with_capacity(BLOCK_BYTES + MAX_ENTRY_LEN),
            ..Block::default()
        };
        let mut done = false;
        while block.buf.len() < BLOCK_BYTES && block.spans.len() < BLOCK_ENTRIES {
            let mut prefix = [0u8; 4];
            match read_full(&mut r, &mut prefix) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(4) => {}
                Ok(_) => {
                    block.error = Some(FramingError::Truncated(offset));
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if block.spans.is_empty() {
                        continue;
                    }
                    block.short = true;
                    break;
                }
                Err(e) => {
                    block.error = Some(FramingError::Io(e));
                    break;
                }
            }
            let n = u32::from_be_bytes(prefix);
            if n as usize > MAX_ENTRY_LEN {
                block.error = Some(FramingError::TooLong { offset, len: n });
                break;
            }
            let start = block.buf.len();
            block.buf.resize(start + n as usize, 0);
            match read_full(&mut r, &mut block.buf[start..]) {
                Ok(k) if k == n as usize => {}
                Ok(_) => {
                    block.buf.truncate(start);
                    block.error = Some(FramingError::Truncated(offset));
                    break;
                }
                Err(e) => {
                    block.buf.truncate(start);
                    block.error = Some(FramingError::Io(e));
                    break;
                }
            }
            let bytes = &block.buf[start..];
            block.leaves.push(leaf_hash(bytes));
            let code = if bytes.len() >= 7 && bytes[1..3] == ballot {
                Sha256::digest(&bytes[7..]).into()
            } else {
                [0u8; 32]
            };
            block.codes.push(code);
            block.spans.push((start, n as usize, offset));
            offset += 4 + u64::from(n);
            index += 1;
        }
        block.end = offset;
        let last = done || block.error.is_some();
        if tx.send(block).is_err() || last {
            return;
        }
    }
}

/// A reader of a file that another thread is still appending to (a live
/// mirror of a board): at the end of the file it waits for more bytes
/// until `finished` is set, and only then reports the end.
#[derive(Debug)]
pub struct FollowReader {
    file: File,
    finished: Arc<AtomicBool>,
    poll: Duration,
}

impl FollowReader {
    /// Follows `path`; the writer sets `finished` once it has written and
    /// flushed its last byte.
    pub fn open(path: &PathBuf, finished: Arc<AtomicBool>) -> io::Result<Self> {
        Ok(FollowReader {
            file: File::open(path)?,
            finished,
            poll: Duration::from_millis(20),
        })
    }
}

impl Read for FollowReader {
    /// At the end of what was written so far, waits a little and then
    /// answers `WouldBlock`, so that a reader can hand on what it has.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Read the flag before the file: if it was set, every byte was
        // already written, so an empty read is the true end.
        let finished = self.finished.load(Ordering::Acquire);
        let n = self.file.read(buf)?;
        if n > 0 || finished || buf.is_empty() {
            return Ok(n);
        }
        std::thread::sleep(self.poll);
        Err(io::ErrorKind::WouldBlock.into())
    }
}
