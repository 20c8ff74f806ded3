//! The server journal (spec/api.md §A6.2): what the server must remember
//! across a restart that is not on the public board.
//!
//! * Registrations: a credential is acknowledged (201) long before the
//!   sealed lists reach the board at the open, and its precinct never
//!   reaches the board at all (turnout per precinct is server-side). A
//!   registration is answered only once its record is on disk (fsync,
//!   shared by concurrent registrations: one `sync_data` covers every
//!   record written before it).
//! * Withdrawals at the open: a registered credential whose application
//!   no longer stood when voting opened is left out of the sealed lists
//!   (spec/record.md §R4). The record is on disk before the sealed lists
//!   are appended, so a restart knows why an acknowledged registration is
//!   missing from them, whatever the registry says by then.
//! * Acceptance times: ballots carry no time on the board, but the hourly
//!   turnout and the re-vote interval need one. After each durable append
//!   the server notes `(first index, count, time)`. These records are
//!   written but not fsynced: they survive a killed process (the bytes are
//!   in the OS) and at worst the last few are lost with the machine, in
//!   which case those ballots are taken as accepted at the restart
//!   (later than in truth: the re-vote interval only gets stricter).
//!
//! File: the magic `URNA-SJ1`, then records `tag u8 ‖ body ‖ check`,
//! where `check` is the first 4 bytes of SHA-256(tag ‖ body). A torn last
//! record (a crash while writing it) was never acknowledged and is cut
//! off on open; a damaged record before the last one is an error.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"URNA-SJ1";
const TAG_REGISTRATION: u8 = 1;
const TAG_TIMES: u8 = 2;
const TAG_WITHDRAWN: u8 = 3;
const REGISTRATION_BODY: usize = 32 + 4 + 4;
const TIMES_BODY: usize = 8 + 8 + 8;
const WITHDRAWN_BODY: usize = 32;

/// One journal record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// A credential registered in district and precinct (manifest indices).
    Registration {
        credential: [u8; 32],
        district: u32,
        precinct: u32,
    },
    /// Board entries `first .. first + count` were durable at `time` (unix seconds).
    Times { first: u64, count: u64, time: i64 },
    /// A registered credential left out of the sealed lists at the open
    /// because its application no longer stood.
    Withdrawn { credential: [u8; 32] },
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + REGISTRATION_BODY + 4);
        match self {
            Record::Registration {
                credential,
                district,
                precinct,
            } => {
                out.push(TAG_REGISTRATION);
                out.extend_from_slice(credential);
                out.extend_from_slice(&district.to_be_bytes());
                out.extend_from_slice(&precinct.to_be_bytes());
            }
            Record::Times { first, count, time } => {
                out.push(TAG_TIMES);
                out.extend_from_slice(&first.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
                out.extend_from_slice(&time.to_be_bytes());
            }
            Record::Withdrawn { credential } => {
                out.push(TAG_WITHDRAWN);
                out.extend_from_slice(credential);
            }
        }
        let check = Sha256::digest(&out);
        out.extend_from_slice(&check[..4]);
        out
    }
}

/// Why the journal cannot be used.
#[derive(Debug)]
pub struct JournalError(pub(crate) String);

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JournalError {}

fn be<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// Parses the records; returns them and the length of the good prefix.
fn parse(bytes: &[u8], path: &Path) -> Result<(Vec<Record>, usize), JournalError> {
    if bytes.len() < MAGIC.len() {
        // Torn while being created: nothing was ever acknowledged.
        return Ok((Vec::new(), 0));
    }
    if &bytes[..MAGIC.len()] != MAGIC {
        return Err(JournalError(format!(
            "{} is not an urna server journal (bad magic)",
            path.display()
        )));
    }
    let mut at = MAGIC.len();
    let mut out = Vec::new();
    while at < bytes.len() {
        let tag = bytes[at];
        let body = match tag {
            TAG_REGISTRATION => REGISTRATION_BODY,
            TAG_TIMES => TIMES_BODY,
            TAG_WITHDRAWN => WITHDRAWN_BODY,
            _ => {
                return Err(JournalError(format!(
                    "{}: unknown record tag {tag} at byte {at}",
                    path.display()
                )));
            }
        };
        let end = at + 1 + body + 4;
        if end > bytes.len() {
            // The last record was torn by a crash while it was written.
            break;
        }
        let check = Sha256::digest(&bytes[at..at + 1 + body]);
        if check[..4] != bytes[at + 1 + body..end] {
            if end == bytes.len() {
                break;
            }
            return Err(JournalError(format!(
                "{}: the record at byte {at} is damaged (checksum)",
                path.display()
            )));
        }
        let b = &bytes[at + 1..at + 1 + body];
        out.push(match tag {
            TAG_REGISTRATION => Record::Registration {
                credential: be::<32>(b),
                district: u32::from_be_bytes(be::<4>(&b[32..])),
                precinct: u32::from_be_bytes(be::<4>(&b[36..])),
            },
            TAG_WITHDRAWN => Record::Withdrawn {
                credential: be::<32>(b),
            },
            _ => Record::Times {
                first: u64::from_be_bytes(be::<8>(b)),
                count: u64::from_be_bytes(be::<8>(&b[8..])),
                time: i64::from_be_bytes(be::<8>(&b[16..])),
            },
        });
        at = end;
    }
    Ok((out, at))
}

/// The open journal: appends records, syncs them on demand.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// Records written so far, and the count known to be on disk.
    written: AtomicU64,
    synced: Mutex<u64>,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` and reads its
    /// records; a torn last record is cut off.
    pub(crate) fn open(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let io =
            |what: &str, e: std::io::Error| JournalError(format!("{what} {}: {e}", path.display()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io("opening", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io("reading", e))?;
        let (records, good) = parse(&bytes, path)?;
        if good < MAGIC.len() {
            file.set_len(0).map_err(|e| io("resetting", e))?;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| io("seeking in", e))?;
            file.write_all(MAGIC).map_err(|e| io("writing", e))?;
        } else if good < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                dropped = bytes.len() - good,
                "cutting off a torn last journal record (never acknowledged)"
            );
            file.set_len(good as u64).map_err(|e| io("truncating", e))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| io("seeking in", e))?;
        file.sync_all().map_err(|e| io("syncing", e))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The file's creation must be durable too.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io("syncing the folder of", e))?;
        }
        Ok((
            Journal {
                path: path.to_path_buf(),
                file: Mutex::new(file),
                written: AtomicU64::new(0),
                synced: Mutex::new(0),
            },
            records,
        ))
    }

    /// Every record in the file now, read again (the rebuild after a lost
    /// database, spec/api.md §A10.3); call while nothing writes.
    pub(crate) fn records(&self) -> Result<Vec<Record>, JournalError> {
        let _writes = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = std::fs::read(&self.path)
            .map_err(|e| JournalError(format!("reading {}: {e}", self.path.display())))?;
        Ok(parse(&bytes, &self.path)?.0)
    }

    /// Writes a record (not yet synced); returns its sequence number.
    pub(crate) fn write(&self, record: &Record) -> Result<u64, JournalError> {
        let bytes = record.encode();
        let mut f = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        f.write_all(&bytes)
            .map_err(|e| JournalError(format!("writing {}: {e}", self.path.display())))?;
        Ok(self.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Makes every record up to `seq` durable. Concurrent callers share
    /// one `sync_data`: whoever syncs covers all records written before.
    pub(crate) fn sync(&self, seq: u64) -> Result<(), JournalError> {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        if *synced >= seq {
            return Ok(());
        }
        let target = self.written.load(Ordering::SeqCst);
        let file = self
            .file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_clone()
            .map_err(|e| JournalError(format!("syncing {}: {e}", self.path.display())))?;
        file.sync_data()
            .map_err(|e| JournalError(format!("syncing {}: {e}", self.path.display())))?;
        *synced = target;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.journal");
        let r1 = Record::Registration {
            credential: [5; 32],
            district: 2,
            precinct: 7,
        };
        let r2 = Record::Times {
            first: 10,
            count: 3,
            time: 1_593_000_000,
        };
        let r3 = Record::Withdrawn {
            credential: [9; 32],
        };
        {
            let (j, recs) = Journal::open(&path).unwrap();
            assert!(recs.is_empty());
            let s = j.write(&r1).unwrap();
            j.write(&r2).unwrap();
            let s3 = j.write(&r3).unwrap();
            assert!(s3 > s);
            j.sync(s3).unwrap();
        }
        // A torn record at the end is cut off, the rest kept.
        let mut bytes = std::fs::read(&path).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(&[TAG_TIMES, 1, 2, 3]);
        std::fs::write(&path, &bytes).unwrap();
        let (j, recs) = Journal::open(&path).unwrap();
        assert_eq!(recs, vec![r1, r2, r3]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good as u64);
        j.write(&r1).unwrap();
        drop(j);
        let (_, recs) = Journal::open(&path).unwrap();
        assert_eq!(recs, vec![r1, r2, r3, r1]);
        // A damaged record in the middle is an error, never skipped.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[MAGIC.len() + 5] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = Journal::open(&path).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        // Not a journal at all.
        std::fs::write(&path, b"something else entirely").unwrap();
        assert!(
            Journal::open(&path)
                .unwrap_err()
                .to_string()
                .contains("magic")
        );
    }
}
