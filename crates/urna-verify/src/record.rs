//! The exported election record (spec/export.md): a folder holding
//! `board-key.txt`, `checkpoint.txt`, optionally `checkpoints/<size>.txt`,
//! and `entries.bin` (every entry as `u32 BE length ‖ entry bytes`).

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use urna_board::{Entry, MAX_ENTRY_LEN, SignedNote, VerifierKey};

/// File names of the record folder (spec/export.md §X2).
pub const BOARD_KEY_FILE: &str = "board-key.txt";
/// The final signed checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint.txt";
/// The folder of earlier checkpoints, one `<size>.txt` each.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// The entries, length-prefixed, in board order.
pub const ENTRIES_FILE: &str = "entries.bin";

/// Writes an election record folder (spec/export.md). Stream the entries in
/// board order with [`RecordWriter::append`], add any checkpoints handed out
/// with [`RecordWriter::add_checkpoint`], and end with
/// [`RecordWriter::finish`] and the final checkpoint.
#[derive(Debug)]
pub struct RecordWriter {
    dir: PathBuf,
    entries: BufWriter<File>,
    count: u64,
}

impl RecordWriter {
    /// Creates the folder (it may exist but must not hold `entries.bin`)
    /// and writes `board-key.txt`.
    pub fn create(dir: impl AsRef<Path>, board_key: &VerifierKey) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(BOARD_KEY_FILE), format!("{board_key}\n"))?;
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(dir.join(ENTRIES_FILE))?;
        Ok(RecordWriter {
            dir,
            entries: BufWriter::new(file),
            count: 0,
        })
    }

    /// Appends the exact bytes of the next entry.
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        self.append_bytes(entry.bytes())
    }

    /// Appends raw entry bytes (as stored on the board; not re-parsed).
    pub fn append_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "entry too long"))?;
        self.entries.write_all(&len.to_be_bytes())?;
        self.entries.write_all(bytes)?;
        self.count += 1;
        Ok(())
    }

    /// Number of entries written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds a checkpoint that was handed out, as `checkpoints/<size>.txt`;
    /// `size` is the tree size it states.
    pub fn add_checkpoint(&mut self, size: u64, note: &SignedNote) -> io::Result<()> {
        let dir = self.dir.join(CHECKPOINTS_DIR);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(format!("{size}.txt")), note.to_text())
    }

    /// Writes the final checkpoint and flushes everything to disk.
    pub fn finish(mut self, final_checkpoint: &SignedNote) -> io::Result<PathBuf> {
        self.entries.flush()?;
        self.entries.get_ref().sync_all()?;
        fs::write(self.dir.join(CHECKPOINT_FILE), final_checkpoint.to_text())?;
        Ok(self.dir)
    }
}

/// One entry read from `entries.bin`: its index, its byte offset (of the
/// length prefix) and its bytes.
#[derive(Debug)]
pub struct RawEntry {
    /// Leaf index.
    pub index: u64,
    /// Offset of the length prefix in `entries.bin`.
    pub offset: u64,
    /// The entry bytes, exactly as stored.
    pub bytes: Vec<u8>,
}

/// Reads `entries.bin` sequentially.
#[derive(Debug)]
pub struct EntryReader {
    inner: BufReader<File>,
    offset: u64,
    index: u64,
    len: u64,
}

/// A fault in the framing of `entries.bin`.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    /// An I/O error.
    #[error("reading entries.bin: {0}")]
    Io(#[from] io::Error),
    /// The file ends inside a length prefix or an entry.
    #[error("entries.bin is truncated at offset {0}")]
    Truncated(u64),
    /// A length prefix above the largest entry.
    #[error("entry at offset {offset} claims {len} bytes (at most {MAX_ENTRY_LEN})")]
    TooLong {
        /// Offset of the prefix.
        offset: u64,
        /// Claimed length.
        len: u32,
    },
}

impl EntryReader {
    /// Opens `entries.bin`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(EntryReader {
            inner: BufReader::with_capacity(1 << 20, file),
            offset: 0,
            index: 0,
            len,
        })
    }

    /// Total size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// The next entry, or `None` at a clean end of file.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry>, FramingError> {
        if self.offset == self.len {
            return Ok(None);
        }
        let mut prefix = [0u8; 4];
        self.inner
            .read_exact(&mut prefix)
            .map_err(|_| FramingError::Truncated(self.offset))?;
        let n = u32::from_be_bytes(prefix);
        if n as usize > MAX_ENTRY_LEN {
            return Err(FramingError::TooLong {
                offset: self.offset,
                len: n,
            });
        }
        let mut bytes = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut bytes)
            .map_err(|_| FramingError::Truncated(self.offset))?;
        let e = RawEntry {
            index: self.index,
            offset: self.offset,
            bytes,
        };
        self.offset += 4 + u64::from(n);
        self.index += 1;
        Ok(Some(e))
    }
}

/// Reads single entries again by offset (for superseded ballots).
#[derive(Debug)]
pub struct RandomAccess {
    file: File,
}

impl RandomAccess {
    /// Opens `entries.bin` a second time.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(RandomAccess {
            file: File::open(path)?,
        })
    }

    /// The entry bytes whose length prefix is at `offset`.
    pub fn read_at(&mut self, offset: u64) -> Result<Vec<u8>, FramingError> {
        self.file.seek(SeekFrom::Start(offset))?;
        let mut prefix = [0u8; 4];
        self.file
            .read_exact(&mut prefix)
            .map_err(|_| FramingError::Truncated(offset))?;
        let n = u32::from_be_bytes(prefix);
        if n as usize > MAX_ENTRY_LEN {
            return Err(FramingError::TooLong { offset, len: n });
        }
        let mut bytes = vec![0u8; n as usize];
        self.file
            .read_exact(&mut bytes)
            .map_err(|_| FramingError::Truncated(offset))?;
        Ok(bytes)
    }
}
