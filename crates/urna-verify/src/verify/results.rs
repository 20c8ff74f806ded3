//! Results (spec/record.md §R12).

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResultRec {
    pub(super) scope: u8,
    pub(super) scope_id: Option<String>,
    pub(super) contest: String,
    pub(super) ballots: u64,
    pub(super) counts: Vec<u64>,
}

impl Verifier {
    // §R12
    pub(super) fn results_chunk(&mut self, index: u64, payload: &[u8]) -> Result<(), String> {
        let mut r = Reader::new(payload);
        read_version(&mut r)?;
        let pos = read_pos(&mut r)?;
        self.results_seq.push(pos)?;
        let n = r.u32().map_err(pe)?;
        for _ in 0..n {
            let scope = r.u8().map_err(pe)?;
            let scope_id = match scope {
                0 | 1 => Some(read_id(&mut r)?),
                2 => None,
                s => return Err(format!("unknown_tag scope {s}")),
            };
            let contest = read_id(&mut r)?;
            let ballots = r.u64().map_err(pe)?;
            let k = r.u16().map_err(pe)?;
            if !(1..=512).contains(&k) {
                return Err(format!("out_of_bounds: {k} options"));
            }
            let mut counts = Vec::with_capacity(k.into());
            for _ in 0..k {
                counts.push(r.u64().map_err(pe)?);
            }
            self.results.push((
                index,
                ResultRec {
                    scope,
                    scope_id,
                    contest,
                    ballots,
                    counts,
                },
            ));
        }
        r.finish().map_err(pe)?;
        Ok(())
    }

    /// spec/record.md §R12: each district count decrypts the combination
    /// within its bound (`combination`), and the district, region and total
    /// records equal the recomputed ones byte for byte (`results`).
    pub(super) fn check_results(&mut self) {
        let Some(m) = self.manifest.as_ref() else {
            return;
        };
        let results = std::mem::take(&mut self.results);
        // Expected district records from the published tally and the combination.
        let mut expected: Vec<ResultRec> = Vec::new();
        let mut flat = 0usize;
        for (ti, rec) in self.published_tally.iter().enumerate() {
            let got = results.get(ti);
            // A missing or misshapen district record is the `results`
            // check's alone (spec/export.md §X4.1): no count to combine.
            let (counts, published): (Vec<u64>, bool) = match got {
                Some((_, g)) if g.scope == 0 && g.counts.len() == rec.sums.len() => {
                    (g.counts.clone(), true)
                }
                _ => (vec![0; rec.sums.len()], false),
            };
            // Each count must decrypt the combination (m·H = M, m bounded).
            let option_max = m
                .contests
                .iter()
                .find(|c| c.id == rec.contest)
                .map_or(1, |c| u64::from(c.shape.option_max));
            if let Some(comb) = self.combined.as_ref().filter(|_| published) {
                for (o, &c) in counts.iter().enumerate() {
                    self.checks.checked("combination", 1);
                    let at = got.map(|g| g.0);
                    let mh = Element::from_point(group::mul_h(&Scalar::from(c)));
                    if comb.get(flat + o) != Some(&mh) {
                        self.checks.fail(
                            "combination",
                            at,
                            format!(
                                "{}/{} option {o}: published count {c} is not the decryption",
                                rec.district, rec.contest
                            ),
                        );
                    } else if c > rec.ballots.saturating_mul(option_max) {
                        self.checks.fail(
                            "combination",
                            at,
                            format!(
                                "{}/{} option {o}: count {c} above the bound",
                                rec.district, rec.contest
                            ),
                        );
                    }
                }
            }
            flat += rec.sums.len();
            expected.push(ResultRec {
                scope: 0,
                scope_id: Some(rec.district.clone()),
                contest: rec.contest.clone(),
                ballots: rec.ballots,
                counts,
            });
        }
        // Regions and total, summed from the district records.
        let district_region: HashMap<&str, usize> = m
            .districts
            .iter()
            .map(|d| (d.id.as_str(), d.region))
            .collect();
        let agg = |scope: u8, scope_id: Option<String>, pick: &dyn Fn(&str) -> bool| {
            let mut out = Vec::new();
            for c in &m.contests {
                let recs: Vec<&ResultRec> = expected
                    .iter()
                    .filter(|r| r.scope == 0 && r.contest == c.id)
                    .filter(|r| r.scope_id.as_deref().is_some_and(pick))
                    .collect();
                let in_scope = c.districts.iter().any(|&d| pick(&m.districts[d].id));
                if !in_scope {
                    continue;
                }
                let mut counts = vec![0u64; c.shape.options.into()];
                let mut ballots = 0u64;
                for r in recs {
                    ballots += r.ballots;
                    for (a, b) in counts.iter_mut().zip(&r.counts) {
                        *a += b;
                    }
                }
                out.push(ResultRec {
                    scope,
                    scope_id: scope_id.clone(),
                    contest: c.id.clone(),
                    ballots,
                    counts,
                });
            }
            out
        };
        let mut more = Vec::new();
        for (ri, (rid, _)) in m.regions.iter().enumerate() {
            more.extend(agg(1, Some(rid.clone()), &|d: &str| {
                district_region.get(d) == Some(&ri)
            }));
        }
        more.extend(agg(2, None, &|_: &str| true));
        expected.extend(more);

        self.checks.checked("results", expected.len() as u64);
        for (i, e) in expected.iter().enumerate() {
            match results.get(i) {
                None => {
                    self.checks
                        .fail("results", None, format!("record {i} is missing: {e:?}"));
                    break;
                }
                Some((at, g)) if g != e => {
                    self.checks.fail(
                        "results",
                        Some(*at),
                        format!("record {i} is {g:?}, expected {e:?}"),
                    );
                }
                Some(_) => {}
            }
        }
        if results.len() > expected.len() {
            self.checks.fail(
                "results",
                results.get(expected.len()).map(|r| r.0),
                format!(
                    "{} records beyond those expected",
                    results.len() - expected.len()
                ),
            );
        }
    }
}
