//! A running board's public API as seen by a verifier or an observer
//! (spec/board.md §B6–§B8, §B10), and a local mirror folder in the
//! record layout of spec/export.md, so that `urna verify DIR` can re-check
//! what was mirrored.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use urna_board::{
    BundleId, Checkpoint, EntryKind, Frontier, Hash, MAX_ENTRY_LEN, SignedNote, TILE_WIDTH,
    VerifierKey, leaf_hash, verify_checkpoint,
};
use urna_verify::record::{BOARD_KEY_FILE, CHECKPOINT_FILE, CHECKPOINTS_DIR, ENTRIES_FILE};

use crate::http::{self, BaseUrl};

/// A board served by `urna serve`.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Where.
    pub base: BaseUrl,
    /// The board's key: pinned by the user, or as first served.
    pub key: VerifierKey,
    /// Whether the key was pinned (rather than trusted on first use).
    pub pinned: bool,
}

/// A checkpoint as served, with its verified body.
#[derive(Debug, Clone)]
pub struct Served {
    /// The note exactly as served (with any cosignatures).
    pub text: String,
    /// The parsed note.
    pub note: SignedNote,
    /// The checkpoint the board's signature covers.
    pub checkpoint: Checkpoint,
}

impl Remote {
    /// Connects to `url`; the board key is `pinned` (verifier key text or
    /// a file holding it) or else fetched from `/board/key`.
    pub fn connect(url: &str, pinned: Option<&str>) -> anyhow::Result<Remote> {
        let base = BaseUrl::parse(url)?;
        let (text, pinned) = match pinned {
            Some(p) if Path::new(p).is_file() => (
                fs::read_to_string(p).with_context(|| format!("reading the board key {p}"))?,
                true,
            ),
            Some(p) => (p.to_owned(), true),
            None => {
                let body = http::get(&base, "/board/key")?.ok("the board key")?;
                (
                    String::from_utf8(body).context("the board key is not UTF-8")?,
                    false,
                )
            }
        };
        let key = VerifierKey::parse(text.trim_end_matches('\n'))
            .map_err(|e| anyhow!("the board key {:?}: {e}", text.trim_end()))?;
        Ok(Remote { base, key, pinned })
    }

    /// The latest checkpoint as served, raw.
    pub fn checkpoint_text(&self) -> anyhow::Result<String> {
        let body = http::get(&self.base, "/board/checkpoint")?.ok("the latest checkpoint")?;
        String::from_utf8(body).context("the checkpoint is not UTF-8")
    }

    /// Verifies a served note with the board key.
    pub fn check(&self, text: String) -> anyhow::Result<Served> {
        let note = SignedNote::parse(text.as_bytes())
            .map_err(|e| anyhow!("the checkpoint does not parse: {e}"))?;
        let v = verify_checkpoint(&note, &self.key, &[])
            .map_err(|e| anyhow!("the checkpoint does not verify with the board key: {e}"))?;
        Ok(Served {
            text,
            note,
            checkpoint: v.checkpoint,
        })
    }

    /// Entries `start..end`, raw, from the C2SP entry bundles
    /// (board.md §B8.3), in order.
    pub fn entries(
        &self,
        start: u64,
        end: u64,
        mut each: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let width = u64::from(TILE_WIDTH);
        let mut next = start;
        while next < end {
            let n = next / width;
            let w = (end - n * width).min(width);
            let id = BundleId::new(n, w as u16).map_err(|e| anyhow!("bundle {n}: {e}"))?;
            let bytes = http::get(&self.base, &format!("/board/{id}"))?.ok(&format!("{id}"))?;
            let entries = split_bundle(&bytes, w as usize).with_context(|| format!("{id}"))?;
            for (i, e) in entries.into_iter().enumerate() {
                let index = n * width + i as u64;
                if index >= next {
                    each(e)?;
                }
            }
            next = n * width + w;
        }
        Ok(())
    }

    /// The consistency proof between sizes `old` and `new` (board.md §B4.3).
    pub fn consistency(&self, old: u64, new: u64) -> anyhow::Result<Vec<Hash>> {
        let body = http::get(
            &self.base,
            &format!("/board/proof/consistency?old={old}&new={new}"),
        )?
        .ok("the consistency proof")?;
        parse_proof(&body)
    }

    /// The consistency proof between sizes `old` and `new`, or the
    /// board's refusal (status and body) when it answered but would not
    /// give one; `Err` only when the board could not be asked.
    pub fn consistency_answer(
        &self,
        old: u64,
        new: u64,
    ) -> anyhow::Result<Result<Vec<Hash>, String>> {
        let path = format!("/board/proof/consistency?old={old}&new={new}");
        let r = http::get(&self.base, &path)?;
        if r.status != 200 {
            let body = String::from_utf8_lossy(&r.body);
            return Ok(Err(format!(
                "HTTP {}: {}",
                r.status,
                body.chars().take(300).collect::<String>()
            )));
        }
        parse_proof(&r.body).map(Ok)
    }

    /// Submits a cosigned note (board.md §B10); the server's answer.
    pub fn submit_cosignature(
        &self,
        key: &VerifierKey,
        note: &SignedNote,
    ) -> anyhow::Result<http::Response> {
        let body = serde_json::json!({ "key": key.to_string(), "note": note.to_text() });
        http::post_json(
            &self.base,
            "/board/cosignature",
            &serde_json::to_vec(&body)?,
        )
    }
}

/// The hashes of a consistency proof answer (spec/board.md §B4.3).
fn parse_proof(body: &[u8]) -> anyhow::Result<Vec<Hash>> {
    #[derive(serde::Deserialize)]
    struct P {
        proof: Vec<String>,
    }
    let p: P = serde_json::from_slice(body).context("the consistency proof's JSON")?;
    p.proof
        .iter()
        .map(|h| {
            let b = hex::decode(h).context("a proof hash is not hex")?;
            Hash::try_from(b.as_slice()).map_err(|_| anyhow!("a proof hash is not 32 bytes"))
        })
        .collect()
}

/// Splits an entry bundle into its `width` entries (board.md §B8.3),
/// without parsing them: envelope faults are the verifier's to report.
fn split_bundle(mut bytes: &[u8], width: usize) -> anyhow::Result<Vec<&[u8]>> {
    let mut out = Vec::with_capacity(width);
    while !bytes.is_empty() {
        let Some((len, rest)) = bytes.split_first_chunk::<2>() else {
            bail!("truncated entry bundle");
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            bail!("truncated entry bundle");
        }
        let (e, rest) = rest.split_at(len);
        out.push(e);
        bytes = rest;
    }
    if out.len() != width {
        bail!("entry bundle holds {} entries, expected {width}", out.len());
    }
    Ok(out)
}

/// A local copy of a board in the record layout (spec/export.md §X1):
/// `entries.bin` grows as entries arrive, every checkpoint seen is kept.
#[derive(Debug)]
pub struct Mirror {
    dir: PathBuf,
    entries: BufWriter<File>,
    /// The tree of the mirrored entries.
    pub frontier: Frontier,
}

impl Mirror {
    /// Creates `dir` (which must not hold a record yet) for a board with `key`.
    pub fn create(dir: &Path, key: &VerifierKey) -> anyhow::Result<Mirror> {
        fs::create_dir_all(dir.join(CHECKPOINTS_DIR))
            .with_context(|| format!("creating {}", dir.display()))?;
        if dir.join(ENTRIES_FILE).exists() {
            bail!(
                "{} already holds a mirror; give an empty folder",
                dir.display()
            );
        }
        fs::write(dir.join(BOARD_KEY_FILE), format!("{key}\n"))?;
        let file = File::options()
            .append(true)
            .create_new(true)
            .open(dir.join(ENTRIES_FILE))?;
        Ok(Mirror {
            dir: dir.to_path_buf(),
            entries: BufWriter::with_capacity(1 << 20, file),
            frontier: Frontier::new(),
        })
    }

    /// Whether `dir` already holds a mirror to resume.
    pub fn exists(dir: &Path) -> bool {
        dir.join(ENTRIES_FILE).exists()
    }

    /// The board key a mirror in `dir` was made for.
    pub fn stored_key(dir: &Path) -> anyhow::Result<VerifierKey> {
        let path = dir.join(BOARD_KEY_FILE);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        VerifierKey::parse(text.trim_end_matches('\n'))
            .map_err(|e| anyhow!("{}: not a board key: {e}", path.display()))
    }

    /// Reopens the mirror in `dir` made for a board with `key`, after
    /// checking it against the last checkpoint the observer accepted
    /// (`checkpoint.txt`, spec/board.md §B11.2): that note must verify
    /// with `key` (a missing one means none was accepted yet: size 0),
    /// and `entries.bin` must hold at least its size in
    /// well-framed entries whose root (recomputed here) is its root.
    /// Entries past that size were written but never accepted (the
    /// observer stopped between the two writes): they are cut off and
    /// fetched again. Any other difference is an error: the local state
    /// is unusable, and says nothing about the board.
    pub fn resume(dir: &Path, key: &VerifierKey) -> anyhow::Result<Resumed> {
        let bad = |what: String| anyhow!("the mirror in {} is unusable: {what}", dir.display());
        let cp_path = dir.join(CHECKPOINT_FILE);
        // No checkpoint yet: the observer stopped before accepting its
        // first one; whatever entries were written are unaccepted.
        let served = if cp_path.exists() {
            let text = fs::read_to_string(&cp_path)
                .map_err(|e| bad(format!("{}: {e}", cp_path.display())))?;
            let note = SignedNote::parse(text.as_bytes())
                .map_err(|e| bad(format!("{CHECKPOINT_FILE} does not parse: {e}")))?;
            let checkpoint = verify_checkpoint(&note, key, &[])
                .map_err(|e| bad(format!("{CHECKPOINT_FILE} does not verify with {key}: {e}")))?
                .checkpoint;
            Some(Served {
                text,
                note,
                checkpoint,
            })
        } else {
            None
        };
        let size = served.as_ref().map_or(0, |s| s.checkpoint.size());
        let path = dir.join(ENTRIES_FILE);
        let mut reader = std::io::BufReader::with_capacity(
            1 << 20,
            File::open(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?,
        );
        let mut frontier = Frontier::new();
        let (mut ballots, mut audited, mut offset) = (0u64, 0u64, 0u64);
        let mut entry = Vec::new();
        while frontier.size() < size {
            let i = frontier.size();
            let mut len = [0u8; 4];
            reader.read_exact(&mut len).map_err(|e| {
                bad(format!(
                    "{ENTRIES_FILE} ends after {i} entries ({e}); {CHECKPOINT_FILE} has size {size}"
                ))
            })?;
            let n = u32::from_be_bytes(len) as usize;
            if n > MAX_ENTRY_LEN {
                return Err(bad(format!("entry {i} claims {n} bytes")));
            }
            entry.resize(n, 0);
            reader
                .read_exact(&mut entry)
                .map_err(|e| bad(format!("entry {i} is cut short ({e})")))?;
            match entry.get(1..3).map(|t| u16::from_be_bytes([t[0], t[1]])) {
                Some(t) if t == EntryKind::Ballot.tag() => ballots += 1,
                Some(t) if t == EntryKind::AuditedBallot.tag() => audited += 1,
                _ => {}
            }
            frontier
                .push(leaf_hash(&entry))
                .map_err(|e| bad(format!("entry {i}: {e}")))?;
            offset += 4 + n as u64;
        }
        if let Some(s) = &served
            && frontier.root() != *s.checkpoint.root()
        {
            return Err(bad(format!(
                "its {size} entries hash to {}, not to the root of its checkpoint {}: the files were altered",
                hex::encode(frontier.root()),
                hex::encode(s.checkpoint.root())
            )));
        }
        drop(reader);
        let file = File::options()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata()?.len();
        let dropped = len - offset;
        if dropped > 0 {
            file.set_len(offset)
                .with_context(|| format!("cutting {} to {offset} bytes", path.display()))?;
        }
        Ok(Resumed {
            mirror: Mirror {
                dir: dir.to_path_buf(),
                entries: BufWriter::with_capacity(1 << 20, file),
                frontier,
            },
            served,
            ballots,
            audited,
            dropped_bytes: dropped,
        })
    }

    /// Path of `entries.bin`.
    pub fn entries_path(&self) -> PathBuf {
        self.dir.join(ENTRIES_FILE)
    }

    /// Appends one entry (spec/export.md §X2) and grows the tree.
    pub fn append(&mut self, entry: &[u8]) -> anyhow::Result<()> {
        if entry.len() > MAX_ENTRY_LEN {
            bail!(
                "entry {} is longer than {MAX_ENTRY_LEN} bytes",
                self.frontier.size()
            );
        }
        self.entries
            .write_all(&(entry.len() as u32).to_be_bytes())?;
        self.entries.write_all(entry)?;
        self.frontier.push(leaf_hash(entry))?;
        Ok(())
    }

    /// Makes every appended byte visible to readers of `entries.bin`.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.entries.flush()?;
        Ok(())
    }

    /// Keeps a checkpoint that was served (as `checkpoints/<size>.txt`, and
    /// as `checkpoint.txt` when it is the newest).
    pub fn keep_checkpoint(&self, size: u64, text: &str, newest: bool) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join(CHECKPOINTS_DIR).join(format!("{size}.txt")),
            text.as_bytes(),
        )?;
        if newest {
            write_atomic(&self.dir.join(CHECKPOINT_FILE), text.as_bytes())?;
        }
        Ok(())
    }
}

/// A mirror reopened by [`Mirror::resume`].
#[derive(Debug)]
pub struct Resumed {
    /// The mirror, ready to append after the last accepted entry.
    pub mirror: Mirror,
    /// The last checkpoint the observer accepted (none if it stopped
    /// before the first).
    pub served: Option<Served>,
    /// Ballots and audited ballots among the mirrored entries.
    pub ballots: u64,
    /// See `ballots`.
    pub audited: u64,
    /// Bytes of entries past the accepted checkpoint that were cut off.
    pub dropped_bytes: u64,
}

/// Writes a file so that readers see the old or the new content, never
/// half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_split_exactly() {
        let b = [0, 2, 7, 7, 0, 1, 9];
        assert_eq!(split_bundle(&b, 2).unwrap(), vec![&[7, 7][..], &[9][..]]);
        assert!(split_bundle(&b, 3).is_err());
        assert!(split_bundle(&b[..6], 2).is_err());
    }
}
