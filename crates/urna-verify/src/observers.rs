//! The observer list (`admin_action` sub-tag 4, spec/record.md §R16) and
//! the cosignatures of the final checkpoint (spec/board.md §B10.3): whose
//! cosignatures count is on the board itself, so a verifier need not take
//! the server's word for it. Read here from the spec alone, like the rest
//! of this crate (no dependency on the election engine).

use urna_board::{SignatureType, SignedNote, VerifierKey, verify_checkpoint};

use crate::report::{Checks, Summary};

/// `admin_action` sub-tag of the observer list (§R16).
pub(crate) const SUB_TAG: u8 = 4;

/// Most keys a list holds (spec/board.md §B7.1).
const MAX_OBSERVERS: usize = 99;

const CHECK: &str = "observers";

/// The last observer list read so far.
#[derive(Debug, Default)]
pub(crate) struct Observers {
    list: Option<Vec<VerifierKey>>,
}

/// Strict reading of a §R16 payload.
fn parse(payload: &[u8]) -> Result<Vec<VerifierKey>, String> {
    let (head, mut rest) = payload
        .split_first_chunk::<3>()
        .ok_or("truncated: the observer list header")?;
    if head[0] != 1 {
        return Err(format!("unknown_version {}", head[0]));
    }
    if head[1] != SUB_TAG {
        return Err(format!("unknown_tag: sub-tag {}", head[1]));
    }
    let n = usize::from(head[2]);
    if n > MAX_OBSERVERS {
        return Err(format!(
            "out_of_bounds: {n} observers, at most {MAX_OBSERVERS}"
        ));
    }
    let mut keys: Vec<VerifierKey> = Vec::with_capacity(n);
    let mut last: Option<&[u8]> = None;
    for i in 0..n {
        let (&len, tail) = rest
            .split_first()
            .ok_or_else(|| format!("truncated: observer {i}"))?;
        let (text, tail) = tail
            .split_at_checked(len.into())
            .ok_or_else(|| format!("truncated: observer {i}"))?;
        rest = tail;
        let key = std::str::from_utf8(text)
            .ok()
            .and_then(|t| VerifierKey::parse(t).ok())
            .filter(|k| k.signature_type() == SignatureType::CosignatureV1)
            .filter(|k| k.to_string().as_bytes() == text)
            .ok_or_else(|| format!("bad_key: observer {i} is not a type-0x04 verifier key"))?;
        if last.is_some_and(|l| l >= text) {
            return Err("not_canonical_order: observer keys not strictly increasing".into());
        }
        last = Some(text);
        keys.push(key);
    }
    if !rest.is_empty() {
        return Err(format!("trailing_bytes: {}", rest.len()));
    }
    Ok(keys)
}

impl Observers {
    /// An observer list entry at board index `index`; a later list
    /// supersedes an earlier one.
    pub(crate) fn entry(&mut self, index: u64, payload: &[u8], checks: &mut Checks) {
        checks.checked(CHECK, 1);
        match parse(payload) {
            Ok(keys) => self.list = Some(keys),
            Err(e) => checks.fail(CHECK, Some(index), e),
        }
    }

    /// The final checkpoint as served: with a list on the board, every
    /// cosignature line on it must be a listed observer's and verify
    /// (the server serves no other, §B10.3); the count is reported.
    pub(crate) fn final_note(
        &self,
        bytes: &[u8],
        board_key: &VerifierKey,
        checks: &mut Checks,
        summary: &mut Summary,
    ) {
        let Some(list) = &self.list else {
            return;
        };
        summary.observers = list.len() as u64;
        let Ok(note) = SignedNote::parse(bytes) else {
            return; // reported by checkpoint.signature
        };
        checks.checked(CHECK, 1);
        let v = match verify_checkpoint(&note, board_key, list) {
            Ok(v) => v,
            Err(e) => {
                // Without the observers it verifies: a listed observer's line is bad.
                if verify_checkpoint(&note, board_key, &[]).is_ok() {
                    checks.fail(
                        CHECK,
                        None,
                        format!("the final checkpoint's cosignatures: {e}"),
                    );
                }
                return;
            }
        };
        let cosigners = v.signers.iter().filter(|s| s.key_index > 0).count();
        summary.cosigned_by = cosigners as u64;
        let lines = note.signatures().len().saturating_sub(1);
        if lines > cosigners {
            checks.fail(
                CHECK,
                None,
                format!(
                    "the final checkpoint carries {} cosignature line(s) that are not valid cosignatures by a listed observer",
                    lines - cosigners
                ),
            );
        }
    }
}
