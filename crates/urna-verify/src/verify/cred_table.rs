//! Per-credential state kept on disk, so that the verifier's resident
//! memory does not grow with the number of credentials and ballots
//! (issue 15: ≤ 64 MiB at a million ballots, flat beyond): an
//! open-addressing hash table in an unnamed temporary file, read and
//! written one bucket at a time with positioned reads and writes (the
//! operating system's page cache holds the hot part; nothing is mapped
//! into the process). Written by hand because no well-kept crate offers a
//! file-backed hash map without `unsafe` memory mapping (docs/decisions,
//! 0019-verifier-memory-and-speed).

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::BuildHasher;
use std::io;
use std::os::unix::fs::FileExt;

/// key[32] ‖ district+1 u32 ‖ ballots u32 ‖ counted u64 ‖ first u64 (LE).
const BUCKET: usize = 56;
/// Buckets of a new table (grows by doubling at half full).
const INITIAL_BUCKETS: u64 = 1 << 12;
/// Absent offsets.
const NONE: u64 = u64::MAX;
/// Buckets moved per read while growing.
const MOVE_CHUNK: usize = 2048;

/// The state of one sealed credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cred {
    /// Its district (index in the manifest).
    pub(super) district: u32,
    /// Verified `ballot` entries (record.md §R6.3).
    pub(super) ballots: u32,
    /// Offset in entries.bin of the counted ballot.
    pub(super) counted: Option<u64>,
    /// Offset in entries.bin of its first ballot in the window that is not
    /// a replay (valid or not): the tracking codes of §R6.3 are compared
    /// per credential, since a replay repeats the credential too.
    pub(super) first: Option<u64>,
}

/// Where a credential's bucket is, for a write after a read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot(u64);

fn encode(key: &[u8; 32], c: &Cred) -> [u8; BUCKET] {
    let mut b = [0u8; BUCKET];
    b[..32].copy_from_slice(key);
    b[32..36].copy_from_slice(&(c.district.saturating_add(1)).to_le_bytes());
    b[36..40].copy_from_slice(&c.ballots.to_le_bytes());
    b[40..48].copy_from_slice(&c.counted.unwrap_or(NONE).to_le_bytes());
    b[48..56].copy_from_slice(&c.first.unwrap_or(NONE).to_le_bytes());
    b
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// A bucket's key and state, `None` if empty.
fn decode(b: &[u8]) -> Option<([u8; 32], Cred)> {
    let d = u32_at(b, 32);
    if d == 0 {
        return None;
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&b[..32]);
    let opt = |x: u64| (x != NONE).then_some(x);
    Some((
        key,
        Cred {
            district: d - 1,
            ballots: u32_at(b, 36),
            counted: opt(u64_at(b, 40)),
            first: opt(u64_at(b, 48)),
        },
    ))
}

/// The sealed credentials and their state.
#[derive(Debug)]
pub(super) struct CredTable {
    file: Option<File>,
    /// Buckets − 1 (a power of two minus one).
    mask: u64,
    len: u64,
    /// Credentials with at least one verified ballot.
    voters: u64,
    /// Keyed per run: credentials are chosen by the commission, so the
    /// probe sequences must not be predictable.
    hasher: RandomState,
    /// The first I/O error, reported by the verifier at the end.
    fault: RefCell<Option<String>>,
}

impl Default for CredTable {
    fn default() -> Self {
        CredTable {
            file: None,
            mask: INITIAL_BUCKETS - 1,
            len: 0,
            voters: 0,
            hasher: RandomState::new(),
            fault: RefCell::new(None),
        }
    }
}

impl CredTable {
    /// Sealed credentials.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Credentials with at least one verified ballot.
    pub(super) fn voters(&self) -> u64 {
        self.voters
    }

    /// The first I/O error met, if any (the table's answers after it are
    /// not to be trusted: the verifier reports the record as unverified).
    pub(super) fn fault(&self) -> Option<String> {
        self.fault.borrow().clone()
    }

    fn note(&self, e: io::Error) {
        let mut f = self.fault.borrow_mut();
        if f.is_none() {
            *f = Some(format!(
                "the verifier's credential table (a temporary file): {e}"
            ));
        }
    }

    fn home(&self, key: &[u8; 32]) -> u64 {
        self.hasher.hash_one(key) & self.mask
    }

    /// The bucket of `key`, or the empty one where it would go.
    fn probe(&self, key: &[u8; 32]) -> io::Result<(u64, Option<Cred>)> {
        let Some(file) = &self.file else {
            return Ok((self.home(key), None));
        };
        let mut i = self.home(key);
        let mut b = [0u8; BUCKET];
        loop {
            file.read_exact_at(&mut b, i * BUCKET as u64)?;
            match decode(&b) {
                None => return Ok((i, None)),
                Some((k, c)) if &k == key => return Ok((i, Some(c))),
                Some(_) => i = (i + 1) & self.mask,
            }
        }
    }

    /// The state of `key`, if it is sealed.
    pub(super) fn get(&self, key: &[u8; 32]) -> Option<(Slot, Cred)> {
        match self.probe(key) {
            Ok((i, Some(c))) => Some((Slot(i), c)),
            Ok((_, None)) => None,
            Err(e) => {
                self.note(e);
                None
            }
        }
    }

    /// Writes back the state read at `slot` for `key`.
    pub(super) fn put(&mut self, slot: Slot, key: &[u8; 32], old: &Cred, new: &Cred) {
        if old.ballots == 0 && new.ballots > 0 {
            self.voters += 1;
        }
        if let Some(file) = &self.file
            && let Err(e) = file.write_all_at(&encode(key, new), slot.0 * BUCKET as u64)
        {
            self.note(e);
        }
    }

    /// Seals `key` in `district`; `false` if it was already sealed.
    pub(super) fn insert(&mut self, key: &[u8; 32], district: u32) -> bool {
        match self.try_insert(key, district) {
            Ok(added) => added,
            Err(e) => {
                self.note(e);
                true
            }
        }
    }

    fn try_insert(&mut self, key: &[u8; 32], district: u32) -> io::Result<bool> {
        if self.file.is_none() {
            let f = tempfile::tempfile()?;
            f.set_len((self.mask + 1) * BUCKET as u64)?;
            self.file = Some(f);
        }
        if (self.len + 1) * 2 > self.mask + 1 {
            self.grow()?;
        }
        let (i, found) = self.probe(key)?;
        if found.is_some() {
            return Ok(false);
        }
        let c = Cred {
            district,
            ballots: 0,
            counted: None,
            first: None,
        };
        if let Some(file) = &self.file {
            file.write_all_at(&encode(key, &c), i * BUCKET as u64)?;
        }
        self.len += 1;
        Ok(true)
    }

    /// Doubles the buckets: every credential moves to a new file.
    fn grow(&mut self) -> io::Result<()> {
        let Some(old) = self.file.take() else {
            return Ok(());
        };
        let old_buckets = self.mask + 1;
        let new = tempfile::tempfile()?;
        new.set_len(old_buckets * 2 * BUCKET as u64)?;
        self.file = Some(new);
        self.mask = old_buckets * 2 - 1;
        let mut chunk = vec![0u8; MOVE_CHUNK * BUCKET];
        let mut at = 0u64;
        while at < old_buckets {
            let n = (old_buckets - at).min(MOVE_CHUNK as u64) as usize;
            let buf = &mut chunk[..n * BUCKET];
            old.read_exact_at(buf, at * BUCKET as u64)?;
            for b in buf.chunks_exact(BUCKET) {
                if let Some((key, _)) = decode(b) {
                    let (i, _) = self.probe(&key)?;
                    if let Some(file) = &self.file {
                        file.write_all_at(b, i * BUCKET as u64)?;
                    }
                }
            }
            at += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_put_and_grow() {
        let mut t = CredTable::default();
        let key = |i: u32| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            k[31] = 7;
            k
        };
        let n = 3 * INITIAL_BUCKETS as u32;
        for i in 0..n {
            assert!(t.insert(&key(i), i % 5));
        }
        assert!(!t.insert(&key(17), 1), "already sealed");
        assert_eq!(t.len(), u64::from(n));
        assert!(t.get(&key(n)).is_none());
        for i in (0..n).step_by(97) {
            let (slot, c) = t.get(&key(i)).unwrap();
            assert_eq!(c.district, i % 5);
            assert_eq!((c.ballots, c.counted, c.first), (0, None, None));
            let new = Cred {
                ballots: 2,
                counted: Some(u64::from(i) * 10),
                first: Some(3),
                ..c
            };
            t.put(slot, &key(i), &c, &new);
            assert_eq!(t.get(&key(i)).unwrap().1, new);
        }
        assert_eq!(t.voters(), u64::from(n).div_ceil(97));
        assert!(t.fault().is_none());
    }
}
