//! The encrypted tally (`admin_action` sub-tag 1, spec/record.md §R10).

use super::*;

#[derive(Debug, Clone)]
pub(super) struct TallyRec {
    pub(super) district: String,
    pub(super) contest: String,
    pub(super) ballots: u64,
    pub(super) sums: Vec<Ciphertext>,
}

impl Verifier {
    // §R10
    pub(super) fn admin_action(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        r.u8().map_err(pe)?; // sub-tag 1: `entry` passes only the tally here
        let pos = read_pos(&mut r)?;
        self.tally_seq.push(pos)?;
        if self.expected_tally.is_none() {
            self.expected_tally = Some(self.expected_tally_records());
        }
        let n = r.u32().map_err(pe)?;
        for _ in 0..n {
            let district = read_id(&mut r)?;
            let contest = read_id(&mut r)?;
            let ballots = r.u64().map_err(pe)?;
            let k = r.u16().map_err(pe)?;
            if !(1..=512).contains(&k) {
                return Err(format!("out_of_bounds: {k} options"));
            }
            let mut sums = Vec::with_capacity(k.into());
            for _ in 0..k {
                sums.push(Ciphertext {
                    alpha: r.element().map_err(pe)?,
                    beta: r.element().map_err(pe)?,
                });
            }
            let rec = TallyRec {
                district,
                contest,
                ballots,
                sums,
            };
            let i = self.published_tally.len();
            self.checks.checked("tally", 1);
            let expected = self.expected_tally.as_ref().and_then(|e| e.get(i));
            let mismatch = match expected {
                None => Some("a record beyond the tally order".to_owned()),
                Some(e)
                    if (e.district.as_str(), e.contest.as_str())
                        != (&rec.district, &rec.contest) =>
                {
                    Some(format!(
                        "record {i} is {}/{}, expected {}/{}",
                        rec.district, rec.contest, e.district, e.contest
                    ))
                }
                Some(e) if e.ballots != rec.ballots => Some(format!(
                    "{}/{}: {} ballots published, {} counted",
                    rec.district, rec.contest, rec.ballots, e.ballots
                )),
                Some(e) if e.sums != rec.sums => Some(format!(
                    "{}/{}: the sums differ from the recomputed homomorphic sums",
                    rec.district, rec.contest
                )),
                Some(_) => None,
            };
            if let Some(msg) = mismatch {
                self.checks.fail("tally", None, msg);
            }
            self.published_tally.push(rec);
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    /// spec/record.md §R10 tally order: districts in manifest order, the
    /// contests of each style, with the running sums and counted ballots.
    pub(super) fn expected_tally_records(&self) -> Vec<TallyRec> {
        let Some(m) = &self.manifest else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (di, d) in m.districts.iter().enumerate() {
            let mut at = 0usize;
            for (&ci, shape) in d.style.iter().zip(&d.shapes) {
                let n = usize::from(shape.options);
                let sums = self.sums[di].get(at..at + n).unwrap_or(&[]);
                at += n;
                out.push(TallyRec {
                    district: d.id.clone(),
                    contest: m.contests[ci].id.clone(),
                    ballots: self.counted[di],
                    sums: sums
                        .iter()
                        .map(|(a, b)| Ciphertext {
                            alpha: Element::from_point(*a),
                            beta: Element::from_point(*b),
                        })
                        .collect(),
                });
            }
        }
        out
    }
}
