//! Audited ballots (spec/record.md §R7, crypto.md §7.5).

use super::*;

impl Verifier {
    // §R7
    pub(super) fn audited(&mut self, index: u64, payload: &[u8]) {
        self.summary.audited += 1;
        if !self.in_window(index, "audited ballot") {
            return;
        }
        self.audited_entries += 1;
        self.checks.checked("audited_ballot", 1);
        let r = (|| -> Result<(), (&'static str, String)> {
            let mut r = Reader::new(payload);
            read_version(&mut r).map_err(|e| ("audited_ballot", e))?;
            let len = r.u32().map_err(|e| ("audited_ballot", pe(e)))?;
            let bytes = r
                .take(len as usize)
                .map_err(|e| ("audited_ballot", pe(e)))?;
            let code: [u8; 32] = Sha256::digest(bytes).into();
            if self.was_cast(bytes, &code) || !self.audited_codes.insert(code) {
                return Err((
                    "ballot.replay",
                    "the audited ballot was already on the board".into(),
                ));
            }
            let ballot = Ballot::decode(bytes).map_err(|e| ("audited_ballot", pe(e)))?;
            let mut selections = Vec::new();
            let mut nonces = Vec::new();
            for c in &ballot.contests {
                let mut s = Vec::new();
                let mut n = Vec::new();
                for _ in 0..c.ciphertexts.len() {
                    let v = r.u8().map_err(|e| ("audited_ballot", pe(e)))?;
                    if u32::from(v) > c.shape.option_max {
                        return Err(("audited_ballot", format!("out_of_bounds value {v}")));
                    }
                    s.push(u64::from(v));
                    n.push(SecretScalar::new(
                        r.scalar().map_err(|e| ("audited_ballot", pe(e)))?,
                    ));
                }
                selections.push(s);
                nonces.push(n);
            }
            r.finish().map_err(|e| ("audited_ballot", pe(e)))?;
            let pre = self.precheck(bytes);
            if matches!(pre, Pre::NoManifest) {
                return Err(("audited_ballot", "no manifest or joint key".into()));
            }
            // spec/export.md §X4: a credential or header failure is
            // reported by `ballot.credential` / `ballot.header` alone.
            let Some(district) = self.apply_pre(index, &pre) else {
                return Ok(());
            };
            let (Some(m), Some(k), Some(fp)) = (self.manifest.as_ref(), self.joint_key, self.fp)
            else {
                return Err(("audited_ballot", "no manifest or joint key".into()));
            };
            let mut rng = rand::rng();
            verify_one(
                &ballot.statement(&k, &fp, &m.districts[district].shapes),
                Some(&k),
                &mut rng,
            )
            .map_err(|e| ("audited_ballot", format!("proofs: {e}")))?;
            let key = PublicKey::new(k).map_err(|e| ("audited_ballot", pe(e)))?;
            ballot
                .check_audit(&key, &BallotSecrets { selections, nonces })
                .map_err(|e| ("audited_ballot", e.to_string()))?;
            Ok(())
        })();
        if let Err((check, msg)) = r {
            self.checks.fail(check, Some(index), msg);
        }
    }
}
