//! Partial decryptions and their combination (spec/record.md §R11, §R12).

use super::*;

impl Verifier {
    // §R11
    pub(super) fn partial_chunk(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let j = r.u16().map_err(pe)?;
        if !(1..=64).contains(&j) {
            return Err(format!("out_of_bounds trustee {j}"));
        }
        let pos = read_pos(&mut r)?;
        let entry = self
            .partials
            .entry(j)
            .or_insert_with(|| (Seq::default(), Vec::new()));
        if entry.0.complete() {
            return Err(format!(
                "trustee {j} has a second set of partial decryptions"
            ));
        }
        entry.0.push(pos)?;
        let k = r.u32().map_err(pe)?;
        for _ in 0..k {
            let b = r.take(PartialDecryption::ENCODED_LEN).map_err(pe)?;
            let p = PartialDecryption::decode(b).map_err(pe)?;
            if p.trustee != j {
                return Err(format!(
                    "bad_trustee_index {} in trustee {j}'s chunk",
                    p.trustee
                ));
            }
            entry.1.push(p);
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    /// spec/record.md §R11: every set of partial decryptions verifies
    /// (crypto.md §9.3) for a qualified trustee; §R12: at least t sets, and
    /// any two sets of t combine to the same plaintexts (check `combination`).
    pub(super) fn finish_partials(&mut self) {
        self.partials_done = true;
        let (Some(fp), Some(m)) = (self.fp, self.manifest.as_ref()) else {
            return;
        };
        let t = m.t;
        let items: Vec<(Vec<u8>, Ciphertext)> = self
            .published_tally
            .iter()
            .flat_map(|rec| {
                rec.sums
                    .iter()
                    .enumerate()
                    .map(|(o, ct)| (label(&rec.district, &rec.contest, o as u16), *ct))
            })
            .collect();
        let mut good: Vec<(u16, Vec<PartialDecryption>)> = Vec::new();
        let mut rng = rand::rng();
        for (j, (seq, list)) in std::mem::take(&mut self.partials) {
            self.checks
                .checked("partial_decryptions", list.len() as u64);
            let Some(vk) = self.vks.get(&j) else {
                self.checks.fail(
                    "partial_decryptions",
                    None,
                    format!("trustee {j} is not a qualified trustee of the ceremony"),
                );
                continue;
            };
            if !seq.complete() {
                self.checks.fail(
                    "partial_decryptions",
                    None,
                    format!("trustee {j}: incomplete chunk sequence"),
                );
                continue;
            }
            match verify_partials(&fp, vk, &items, &list, &mut rng) {
                Ok(()) => good.push((j, list)),
                Err(bad) => {
                    for b in bad {
                        self.checks.fail(
                            "partial_decryptions",
                            None,
                            format!("trustee {j}, tally ciphertext {}: {}", b.index, b.error),
                        );
                    }
                }
            }
        }
        self.summary.trustees = good.iter().map(|(j, _)| *j).collect();
        self.checks.checked("combination", 1);
        if good.len() < usize::from(t) {
            self.checks.fail(
                "combination",
                None,
                format!("{} valid sets of partial decryptions, t = {t}", good.len()),
            );
            return;
        }
        let cts: Vec<Ciphertext> = items.iter().map(|(_, c)| *c).collect();
        let t_us = usize::from(t);
        let first: Vec<&[PartialDecryption]> = good[..t_us].iter().map(|(_, l)| &l[..]).collect();
        let last: Vec<&[PartialDecryption]> = good[good.len() - t_us..]
            .iter()
            .map(|(_, l)| &l[..])
            .collect();
        match (
            combine_batch_elements(t, &cts, &first),
            combine_batch_elements(t, &cts, &last),
        ) {
            (Ok(a), Ok(b)) => {
                if a != b {
                    self.checks
                        .fail("combination", None, "two sets of t trustees disagree");
                }
                self.combined = Some(a);
            }
            (Err(e), _) | (_, Err(e)) => self.checks.fail("combination", None, e.to_string()),
        }
    }
}
