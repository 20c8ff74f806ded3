//! Observers the user trusts (spec/export.md §X3.1, `urna verify
//! --observer KEY`): a board-key holder can rewrite the board and re-sign
//! every checkpoint, but cannot make an independent observer cosign the
//! rewritten tree, so the final checkpoint must carry a valid cosignature
//! by each trusted observer, and any line by one of them on an earlier
//! checkpoint must verify.

use super::*;

const CHECK: &str = "checkpoint.cosigners";

/// Whether `key`'s line on `note` verifies: `Ok(true)` it does, `Ok(false)`
/// there is no line by that key, `Err` there is one and it does not verify.
fn cosigned_by(note: &SignedNote, board: &VerifierKey, key: &VerifierKey) -> Result<bool, String> {
    match verify_checkpoint(note, board, std::slice::from_ref(key)) {
        Ok(v) => Ok(v.signers.iter().any(|s| s.key_index == 1)),
        Err(e) => Err(e.to_string()),
    }
}

impl Verifier {
    /// A `checkpoints/` file: each trusted observer's cosignature line on
    /// it, if there is one, verifies (a missing line is allowed: observers
    /// cosign the checkpoints they happened to see). A note that does not
    /// verify with the board key alone is `checkpoint.consistency`'s.
    pub(super) fn earlier_cosigners(&mut self, file: &str, bytes: &[u8], board: &VerifierKey) {
        let Ok(note) = SignedNote::parse(bytes) else {
            return;
        };
        if verify_checkpoint(&note, board, &[]).is_err() {
            return;
        }
        for key in self.trusted.clone() {
            match cosigned_by(&note, board, &key) {
                Ok(true) => self.checks.checked(CHECK, 1),
                Ok(false) => {}
                Err(e) => {
                    self.checks.checked(CHECK, 1);
                    let msg = format!("{file}: the cosignature of {}: {e}", key.name());
                    self.checks.fail(CHECK, None, msg);
                }
            }
        }
    }

    /// `checkpoint.txt`: a valid cosignature by every trusted observer.
    pub(super) fn final_cosigners(&mut self, bytes: &[u8], board: &VerifierKey) {
        let Ok(note) = SignedNote::parse(bytes) else {
            return; // reported by checkpoint.signature
        };
        if verify_checkpoint(&note, board, &[]).is_err() {
            return; // reported by checkpoint.signature
        }
        for key in self.trusted.clone() {
            self.checks.checked(CHECK, 1);
            let why = match cosigned_by(&note, board, &key) {
                Ok(true) => continue,
                Ok(false) => "carries no cosignature by this observer".to_owned(),
                Err(e) => format!("does not verify with this observer's key: {e}"),
            };
            let msg = format!("{CHECKPOINT_FILE} {why} ({key})");
            self.checks.fail(CHECK, None, msg);
        }
    }
}
