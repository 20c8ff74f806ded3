//! `election_manifest` chunks, their hash and the manifest they hold
//! (spec/record.md §R2).

use super::*;

impl Verifier {
    // §R2
    pub(super) fn manifest_chunk(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let index = r.u16().map_err(pe)?;
        let count = r.u16().map_err(pe)?;
        if count == 0 || index >= count {
            return Err(format!("out_of_bounds: chunk {index} of {count}"));
        }
        let (next, expected) = self.manifest_seq;
        if index != next || (index > 0 && count != expected) {
            return Err(format!(
                "inconsistent_chunks: manifest chunk {index} of {count} after {next}"
            ));
        }
        let rest = r.take(r.remaining()).map_err(pe)?;
        if rest.is_empty() {
            return Err("empty manifest chunk".into());
        }
        self.manifest_bytes.extend_from_slice(rest);
        self.manifest_seq = (index + 1, count);
        Ok(())
    }

    /// spec/record.md §R2.1–§R2.3: the joined chunks, their hash (§R2.2)
    /// and the manifest they hold; prepares the ballot styles and headers.
    pub(super) fn finish_manifest(&mut self, at: Option<u64>) {
        self.manifest_done = true;
        self.checks.checked("manifest", 1);
        let (next, count) = self.manifest_seq;
        if count == 0 || next != count {
            self.checks
                .fail("manifest", at, "the manifest is missing or incomplete");
            return;
        }
        self.manifest_hash = Sha256::digest(&self.manifest_bytes).into();
        self.summary.manifest_hash = Some(hex::encode(self.manifest_hash));
        match Manifest::parse(&self.manifest_bytes) {
            Ok(m) => {
                self.election_hash = Sha256::digest(m.id.as_bytes()).into();
                self.summary.election = Some(m.id.clone());
                self.ceremony.params = CeremonyParams { n: m.n, t: m.t };
                self.ceremony.manifest_hash = self.manifest_hash;
                self.lists_done = vec![false; m.districts.len()];
                let zero = (RistrettoPoint::identity(), RistrettoPoint::identity());
                self.sums = m
                    .districts
                    .iter()
                    .map(|d| {
                        let n: usize = d.shapes.iter().map(|s| usize::from(s.options)).sum();
                        vec![zero; n]
                    })
                    .collect();
                // record.md §R6.1: version 1, SHA-256 of the election id,
                // the district id; one canonical encoding per district.
                self.expected_headers = m
                    .districts
                    .iter()
                    .map(|d| {
                        let mut h = vec![1u8];
                        h.extend_from_slice(&self.election_hash);
                        h.extend(id_bytes(&d.id));
                        h
                    })
                    .collect();
                self.counted = vec![0; m.districts.len()];
                self.manifest = Some(m);
            }
            Err(e) => self.checks.fail("manifest", None, e),
        }
        self.manifest_bytes = Vec::new();
    }
}
