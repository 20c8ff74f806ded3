//! A running board's public API as seen by a verifier or an observer
//! (spec/board.md §B6–§B8, §B10), and a local mirror folder in the
//! record layout of spec/export.md, so that `urna verify DIR` can re-check
//! what was mirrored.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use urna_board::{
    BundleId, Checkpoint, Frontier, Hash, MAX_ENTRY_LEN, SignedNote, TILE_WIDTH, VerifierKey,
    leaf_hash, verify_checkpoint,
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
        #[derive(serde::Deserialize)]
        struct P {
            proof: Vec<String>,
        }
        let p: P = serde_json::from_slice(&body).context("the consistency proof's JSON")?;
        p.proof
            .iter()
            .map(|h| {
                let b = hex::decode(h).context("a proof hash is not hex")?;
                Hash::try_from(b.as_slice()).map_err(|_| anyhow!("a proof hash is not 32 bytes"))
            })
            .collect()
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
