//! `trustee_ceremony` entries (spec/record.md §R3).

use super::*;

impl Verifier {
    // §R3
    pub(super) fn ceremony_entry(&mut self, payload: &[u8]) -> Result<(), String> {
        if self.joint_key.is_some() {
            return Err("ceremony message after the joint key".into());
        }
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let tag = r.u8().map_err(pe)?;
        let body = r.take(r.remaining()).map_err(pe)?;
        match tag {
            1 => self
                .ceremony
                .round1
                .push(Round1Message::decode(body).map_err(pe)?),
            2 => self
                .ceremony
                .round2
                .push(Round2Message::decode(body).map_err(pe)?),
            3 => self
                .ceremony
                .complaints
                .push(Complaint::decode(body).map_err(pe)?),
            4 => {
                let arr: [u8; 32] = body
                    .try_into()
                    .map_err(|_| "joint key entry is not 32 bytes".to_owned())?;
                let k = Element::decode_non_identity(&arr).map_err(pe)?;
                self.joint_key = Some(k);
                self.fp = Some(Fingerprint::election(&self.manifest_hash, &k));
                self.summary.fingerprint = self.fp.as_ref().map(|f| hex::encode(f.0));
                self.checks.checked("key_ceremony", 1);
                if self.manifest.is_none() {
                    return Err("no valid manifest to bind the ceremony to".into());
                }
                let mut rng = rand::rng();
                let outcome = urna_crypto::dkg::verify_ceremony(&self.ceremony, Some(&k), &mut rng)
                    .map_err(|e| format!("ceremony verification: {e}"))?;
                self.vks = outcome.verification_keys;
            }
            t => return Err(format!("unknown_tag {t}")),
        }
        Ok(())
    }
}
