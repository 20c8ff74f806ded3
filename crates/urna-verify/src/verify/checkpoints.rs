//! The record folder and its checkpoints (spec/export.md §X1, §X3) and
//! `cosigned_checkpoint` entries (spec/board.md §B5.3).

use super::*;

impl Verifier {
    /// Reads the folder's small files; the entries are streamed later.
    pub(super) fn open_folder(&mut self, dir: &Path) -> Result<Source, String> {
        if !dir.is_dir() {
            self.checks.fail("record.files", None, "not a folder");
            return Err(format!("{} is not a folder", dir.display()));
        }
        let board_key = fs::read_to_string(dir.join(BOARD_KEY_FILE))
            .map_err(|e| self.unusable(format!("{BOARD_KEY_FILE}: {e}")))?;
        let cp_bytes = fs::read(dir.join(CHECKPOINT_FILE))
            .map_err(|e| self.unusable(format!("{CHECKPOINT_FILE}: {e}")))?;
        let mut checkpoints = Vec::new();
        let cps = dir.join(CHECKPOINTS_DIR);
        if cps.is_dir() {
            let mut names: Vec<String> = fs::read_dir(&cps)
                .map_err(|e| self.unusable(format!("{CHECKPOINTS_DIR}: {e}")))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                let size = name.strip_suffix(".txt").and_then(decimal);
                let bytes = fs::read(cps.join(&name)).map_err(|e| e.to_string());
                checkpoints.push(EarlierCheckpoint {
                    label: format!("{CHECKPOINTS_DIR}/{name}"),
                    size,
                    bytes,
                });
            }
        }
        let entries_path = dir.join(ENTRIES_FILE);
        let file = fs::File::open(&entries_path)
            .map_err(|e| self.unusable(format!("{ENTRIES_FILE}: {e}")))?;
        let total_bytes = file.metadata().map(|m| m.len()).ok();
        Ok(Source {
            name: dir.display().to_string(),
            board_key,
            checkpoints,
            entries: Box::new(file),
            total_bytes,
            reread: entries_path,
            final_checkpoint: Box::new(move || Ok(cp_bytes)),
        })
    }

    /// spec/board.md §B7.5: a note verifies as a board checkpoint with the
    /// board key; a failure is reported under `check`.
    pub(super) fn check_note(
        &mut self,
        check: &'static str,
        at: Option<u64>,
        file: &str,
        bytes: &[u8],
        key: &VerifierKey,
    ) -> Option<Checkpoint> {
        let note = match SignedNote::parse(bytes) {
            Ok(n) => n,
            Err(e) => {
                self.checks.fail(check, at, format!("{file}: {e}"));
                return None;
            }
        };
        match verify_checkpoint(&note, key, &[]) {
            Ok(v) => Some(v.checkpoint),
            Err(e) => {
                self.checks.fail(check, at, format!("{file}: {e}"));
                None
            }
        }
    }

    /// board.md §B5.3: a `cosigned_checkpoint` entry holds a checkpoint
    /// the board signed for a size no larger than the entry's index; its
    /// root is compared with that tree at the end ([`Self::check_cosigned`]).
    pub(super) fn cosigned_checkpoint(&mut self, index: u64, payload: &[u8]) {
        self.checks.checked("checkpoint.consistency", 1);
        let Some(key) = self.board_key.clone() else {
            return;
        };
        let label = format!("cosigned_checkpoint entry {index}");
        let check = "checkpoint.consistency";
        let Some(cp) = self.check_note(check, Some(index), &label, payload, &key) else {
            return;
        };
        if cp.size() > index {
            let msg = format!("{label}: size {} beyond the entries before it", cp.size());
            self.checks.fail(check, Some(index), msg);
            return;
        }
        self.cosigned.push((index, cp.size(), *cp.root()));
    }

    /// Re-reads the entries once to compare each cosigned checkpoint's
    /// root with the tree of its size (spec/export.md §X3).
    pub(super) fn check_cosigned(&mut self) {
        let mut wanted = std::mem::take(&mut self.cosigned);
        let Some(path) = self.reread.clone() else {
            return;
        };
        wanted.sort_by_key(|&(_, size, _)| size);
        let mut frontier = Frontier::new();
        let mut reader = crate::record::EntryReader::open(&path);
        for (index, size, root) in wanted {
            while frontier.size() < size {
                let next = match reader.as_mut() {
                    Ok(r) => r.next_entry().map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match next {
                    Ok(Some(e)) => {
                        if frontier.push(urna_board::leaf_hash(&e.bytes)).is_err() {
                            return;
                        }
                    }
                    Ok(None) | Err(_) => {
                        let msg = "entries.bin could not be re-read".to_owned();
                        return self.checks.fail("checkpoint.consistency", Some(index), msg);
                    }
                }
            }
            if frontier.root() != root {
                self.checks.fail(
                    "checkpoint.consistency",
                    Some(index),
                    format!("cosigned_checkpoint entry {index}: root differs from the tree of the first {size} entries"),
                );
            }
        }
    }

    /// spec/export.md §X1, §X3: every file of `checkpoints/` verifies,
    /// states its file's size, and waits for the tree of that size.
    pub(super) fn earlier_checkpoints(&mut self, list: Vec<EarlierCheckpoint>, key: &VerifierKey) {
        for cp in list {
            let file = cp.label;
            self.checks.checked("checkpoint.consistency", 1);
            let Some(size) = cp.size else {
                self.checks.fail(
                    "checkpoint.consistency",
                    None,
                    format!("{file}: not <size>.txt"),
                );
                continue;
            };
            let bytes = match cp.bytes {
                Ok(b) => b,
                Err(e) => {
                    self.checks
                        .fail("checkpoint.consistency", None, format!("{file}: {e}"));
                    continue;
                }
            };
            // spec/export.md §X3.1: a trusted observer's line must verify.
            self.earlier_cosigners(&file, &bytes, key);
            if let Some(cp) = self.check_note("checkpoint.consistency", None, &file, &bytes, key) {
                if cp.size() != size {
                    self.checks.fail(
                        "checkpoint.consistency",
                        None,
                        format!("{file} states size {}", cp.size()),
                    );
                } else if size == 0 {
                    if *cp.root() != empty_root() {
                        self.checks.fail(
                            "checkpoint.consistency",
                            None,
                            format!("{file}: size 0 with a non-empty root"),
                        );
                    }
                } else {
                    self.older.insert(size, (*cp.root(), file));
                }
            }
        }
    }

    /// spec/export.md §X3: the final checkpoint is the rebuilt tree, and
    /// no earlier checkpoint is beyond it.
    pub(super) fn check_final_tree(&mut self, final_cp: Option<&Checkpoint>) {
        self.checks.checked("checkpoint.root", 1);
        if let Some(cp) = final_cp {
            if cp.size() != self.frontier.size() {
                self.checks.fail(
                    "checkpoint.root",
                    None,
                    format!(
                        "checkpoint size {} but entries.bin holds {} entries",
                        cp.size(),
                        self.frontier.size()
                    ),
                );
            } else if *cp.root() != self.frontier.root() {
                self.checks.fail(
                    "checkpoint.root",
                    None,
                    "the root rebuilt from the entries differs from the checkpoint",
                );
            }
        } else {
            self.checks
                .fail("checkpoint.root", None, "no verified final checkpoint");
        }
        for (size, (_, file)) in std::mem::take(&mut self.older) {
            self.checks.fail(
                "checkpoint.consistency",
                None,
                format!("{file}: size {size} beyond the final tree"),
            );
        }
        self.check_cosigned();
    }
}
