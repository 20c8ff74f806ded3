//! The `voting_opened` and `voting_closed` markers (spec/record.md §R5,
//! §R8).

use super::*;

impl Verifier {
    // §R5
    pub(super) fn voting_opened(&mut self, payload: &[u8]) -> Result<(), String> {
        self.checks.checked("voting_opened", 1);
        if self.opened {
            return Err("voting opened twice".into());
        }
        self.opened = true;
        self.summary.credentials = self.creds.len();
        if let Some(m) = &self.manifest {
            for (d, done) in m.districts.iter().zip(&self.lists_done) {
                if !done {
                    self.checks.fail(
                        "credential_lists",
                        None,
                        format!("district {} has no complete sealed list", d.id),
                    );
                }
            }
        }
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let mh = r.take(32).map_err(pe)?;
        let _time = r.u64().map_err(pe)?;
        let total = r.u64().map_err(pe)?;
        r.finish().map_err(pe)?;
        if mh != self.manifest_hash {
            return Err("manifest hash differs".into());
        }
        if total != self.creds.len() {
            return Err(format!(
                "states {total} credentials, the lists hold {}",
                self.creds.len()
            ));
        }
        Ok(())
    }

    // §R8
    pub(super) fn voting_closed(&mut self, payload: &[u8]) -> Result<(), String> {
        self.checks.checked("voting_closed", 1);
        if !self.opened || self.closed {
            return Err("voting_closed without a single preceding voting_opened".into());
        }
        self.closed = true;
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let mh = r.take(32).map_err(pe)?;
        let _time = r.u64().map_err(pe)?;
        let ballots = r.u64().map_err(pe)?;
        let audited = r.u64().map_err(pe)?;
        r.finish().map_err(pe)?;
        if mh != self.manifest_hash {
            return Err("manifest hash differs".into());
        }
        if (ballots, audited) != (self.ballot_entries, self.audited_entries) {
            return Err(format!(
                "states {ballots} ballots and {audited} audited, the board has {} and {}",
                self.ballot_entries, self.audited_entries
            ));
        }
        Ok(())
    }
}
