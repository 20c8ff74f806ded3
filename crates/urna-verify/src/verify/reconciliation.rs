//! Reconciliation (spec/record.md §R9).

use super::*;

impl Verifier {
    /// record.md §R9: the chunk's header and length first (a failure
    /// there annuls nothing), then each listed credential on its own.
    pub(super) fn reconciliation(&mut self, index: u64, payload: &[u8]) -> Result<(), String> {
        let policy = self.manifest.as_ref().map(|m| m.paper_policy);
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let p = r.u8().map_err(pe)?;
        if Some(p) != policy {
            return Err(format!("policy {p} differs from the manifest's"));
        }
        let pos = read_pos(&mut r)?;
        let n = r.u32().map_err(pe)?;
        let len = 33 * n as usize;
        if r.remaining() < len {
            return Err(format!(
                "truncated: {n} listed credentials need {len} bytes"
            ));
        }
        if r.remaining() > len {
            return Err(format!("trailing_bytes after {n} listed credentials"));
        }
        self.recon_seq.push(pos)?;
        for _ in 0..n {
            self.checks.checked("reconciliation", 1);
            let raw = r.take(32).map_err(pe)?;
            let reason = r.u8().map_err(pe)?;
            if let Err(e) = self.annul(index, p, raw, reason) {
                self.checks.fail("reconciliation", Some(index), e);
            }
        }
        Ok(())
    }

    /// One listed credential of §R9: applied only if it passes every rule.
    pub(super) fn annul(
        &mut self,
        index: u64,
        policy: u8,
        raw: &[u8],
        reason: u8,
    ) -> Result<(), String> {
        let b: [u8; 32] = raw.try_into().map_err(|_| "truncated".to_owned())?;
        let ordered = self.recon_last.is_none_or(|last| b > last);
        self.recon_last = Some(b);
        if !ordered {
            return Err(format!("not_canonical_order at {}", hex::encode(b)));
        }
        let c = Element::decode_non_identity(&b).map_err(pe)?;
        match (reason, policy) {
            (1, 2) | (2, _) | (3, 1) => {}
            (1, _) => return Err("reason 1 (paper vote) under evote-stands".into()),
            (3, _) => {
                return Err("reason 3 (paper vote, e-vote stands) under evote-annulled".into());
            }
            (x, _) => return Err(format!("unknown_tag reason {x}")),
        }
        let Some((slot, cred)) = self.creds.get(&b) else {
            return Err(format!("annulled credential {} is not sealed", c.to_hex()));
        };
        if cred.ballots == 0 {
            return Err(format!(
                "annulled credential {} has no valid ballot in the voting window",
                c.to_hex()
            ));
        }
        if reason == 3 {
            return Ok(()); // listed so that double votes are public; it counts
        }
        let d = cred.district as usize;
        if let Some(off) = cred.counted {
            let annulled = Cred {
                counted: None,
                ..cred
            };
            self.creds.put(slot, &b, &cred, &annulled);
            self.counted[d] -= 1;
            self.subtract_at(off, index);
        }
        Ok(())
    }
}
