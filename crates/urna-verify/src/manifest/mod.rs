//! What the verifier needs from the manifest (spec/record.md §R2), read
//! independently of the election engine: the keys and types of §R2.1
//! ([`schema`]), then each rule of §R2.1 in its own function, and the
//! ballot styles of §R2.3.

mod schema;
mod texts;

use std::collections::{BTreeSet, HashMap, HashSet};

use urna_crypto::ballot::ContestShape;

use schema::{RawContest, RawContestKind, RawElectionKind, RawManifest, RawPaperPolicy};

/// Re-vote policy (§R6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revote {
    /// One ballot per credential.
    Forbidden,
    /// The last ballot in board order counts.
    LastCounts,
}

/// A contest.
#[derive(Debug, Clone)]
pub struct Contest {
    /// Id.
    pub id: String,
    /// Shape (§7.1).
    pub shape: ContestShape,
    /// Districts (indices) whose style includes it.
    pub districts: BTreeSet<usize>,
}

/// A district.
#[derive(Debug, Clone)]
pub struct District {
    /// Id.
    pub id: String,
    /// Region index.
    pub region: usize,
    /// Contest indices of its style, in manifest order.
    pub style: Vec<usize>,
    /// Shapes of its style.
    pub shapes: Vec<ContestShape>,
    /// Its precinct ids (the precinct lists of record.md §R15).
    pub precincts: Vec<String>,
}

/// The parts of the manifest the verifier uses.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Election id.
    pub id: String,
    /// Re-vote policy.
    pub revote: Revote,
    /// Paper policy byte of §R9 (1 evote-stands, 2 evote-annulled).
    pub paper_policy: u8,
    /// Trustees n.
    pub n: u16,
    /// Threshold t.
    pub t: u16,
    /// Region ids with their districts.
    pub regions: Vec<(String, Vec<usize>)>,
    /// Districts in manifest order.
    pub districts: Vec<District>,
    /// Contests in manifest order.
    pub contests: Vec<Contest>,
    /// District index by id.
    pub district_index: HashMap<String, usize>,
}

/// Longest ballot header (crypto.md §7.1) and most contests on a ballot.
const MAX_CONTESTS: usize = 64;
/// Most options of a contest (crypto.md §7.1).
const MAX_OPTIONS: usize = 512;
/// Largest board entry payload (board.md §B5.1).
const MAX_PAYLOAD_LEN: u64 = 65_528;

/// record.md §R1.2.
fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// §R2.1 "Identifiers": `id` is an identifier; a second use of it at the
/// same level (`seen`) is refused.
fn fresh_id(seen: &mut HashSet<String>, path: &str, id: &str) -> Result<(), String> {
    if !is_identifier(id) {
        return Err(format!(
            "{path}.id {id:?} is not an identifier (record.md §R1.2)"
        ));
    }
    if !seen.insert(id.to_owned()) {
        return Err(format!("{path}.id {id:?} is used twice"));
    }
    Ok(())
}

/// §R2.1 "Names": a display text holds a character other than white space.
fn named(path: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{path} is empty"));
    }
    Ok(())
}

/// §R2.1 top level: the election id, its title and the trustees.
fn election(raw: &RawManifest) -> Result<(u16, u16), String> {
    if !is_identifier(&raw.id) {
        return Err(format!("election id {:?} is not an identifier", raw.id));
    }
    let title = [&raw.title.ru, &raw.title.en];
    if !title
        .iter()
        .any(|t| t.as_ref().is_some_and(|t| !t.trim().is_empty()))
    {
        return Err("title needs a non-empty `ru` or `en`".into());
    }
    let (n, t) = (raw.trustees.n, raw.trustees.t);
    if !(1 <= t && t <= n && n <= 64) {
        return Err(format!(
            "trustees: need 1 ≤ t ≤ n ≤ 64, have t = {t}, n = {n}"
        ));
    }
    Ok((n, t))
}

/// §R2.1 `schedule`: a time-zone name and the ordered windows.
fn schedule(raw: &RawManifest) -> Result<(), String> {
    let s = &raw.schedule;
    let zone_ok = (1..=64).contains(&s.time_zone.len())
        && s.time_zone.split('/').all(|part| {
            part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
        });
    if !zone_ok {
        return Err(format!(
            "schedule.time_zone {:?} is not a time-zone name",
            s.time_zone
        ));
    }
    let at = |w: &schema::When, key: &str| w.0.clone().map_err(|e| format!("schedule.{key}: {e}"));
    let a_open = at(&s.applications_open, "applications_open")?;
    let a_close = at(&s.applications_close, "applications_close")?;
    let v_open = at(&s.voting_opens, "voting_opens")?;
    let v_close = at(&s.voting_closes, "voting_closes")?;
    if !(a_open < a_close && a_close <= v_open && v_open < v_close) {
        return Err(
            "schedule: need applications_open < applications_close ≤ voting_opens < voting_closes"
                .into(),
        );
    }
    Ok(())
}

/// §R2.1 `revote`: `min_interval_seconds` only with `last-counts`.
fn revote(raw: &RawManifest) -> Result<Revote, String> {
    match (raw.revote.policy, raw.revote.min_interval_seconds) {
        (schema::RawRevotePolicy::Forbidden, None) => Ok(Revote::Forbidden),
        (schema::RawRevotePolicy::Forbidden, Some(_)) => {
            Err("revote.min_interval_seconds applies only to `last-counts`".into())
        }
        (schema::RawRevotePolicy::LastCounts, _) => Ok(Revote::LastCounts),
    }
}

/// The places of §R2.1 `regions`: every region has a district, every
/// district a precinct; district and precinct ids are unique across the
/// whole manifest, region ids among regions.
type Places = (
    Vec<(String, Vec<usize>)>,
    Vec<District>,
    HashMap<String, usize>,
);

fn places(raw: &RawManifest) -> Result<Places, String> {
    if raw.regions.is_empty() {
        return Err("regions: at least one region is needed".into());
    }
    let (mut seen_r, mut seen_d, mut seen_p) = (HashSet::new(), HashSet::new(), HashSet::new());
    let mut regions = Vec::new();
    let mut districts: Vec<District> = Vec::new();
    let mut district_index = HashMap::new();
    for (ri, r) in raw.regions.iter().enumerate() {
        let rp = format!("regions[{ri}]");
        fresh_id(&mut seen_r, &rp, &r.id)?;
        named(&format!("{rp}.name"), &r.name)?;
        if r.districts.is_empty() {
            return Err(format!("{rp}.districts: a region needs a district"));
        }
        let mut ds = Vec::new();
        for (di, d) in r.districts.iter().enumerate() {
            let dp = format!("{rp}.districts[{di}]");
            fresh_id(&mut seen_d, &dp, &d.id)?;
            named(&format!("{dp}.name"), &d.name)?;
            if d.precincts.is_empty() {
                return Err(format!("{dp}.precincts: a district needs a precinct"));
            }
            let mut precincts = Vec::new();
            for (pi, p) in d.precincts.iter().enumerate() {
                let pp = format!("{dp}.precincts[{pi}]");
                fresh_id(&mut seen_p, &pp, &p.id)?;
                named(&format!("{pp}.name"), &p.name)?;
                precincts.push(p.id.clone());
            }
            district_index.insert(d.id.clone(), districts.len());
            ds.push(districts.len());
            districts.push(District {
                id: d.id.clone(),
                region: ri,
                style: Vec::new(),
                shapes: Vec::new(),
                precincts,
            });
        }
        regions.push((r.id.clone(), ds));
    }
    Ok((regions, districts, district_index))
}

/// §R2.1 contest shape (crypto.md §7.1, and `max ≥ 1`).
fn shape(path: &str, c: &RawContest) -> Result<ContestShape, String> {
    let n = c.options.len();
    if !(1..=MAX_OPTIONS).contains(&n) {
        return Err(format!(
            "{path}.options: {n} options, need 1 to {MAX_OPTIONS}"
        ));
    }
    let option_max = c.option_max.unwrap_or(1);
    let total = n as u64 * u64::from(option_max);
    let ok = (1..=255).contains(&option_max)
        && c.max >= 1
        && c.min <= c.max
        && u64::from(c.max) <= total
        && c.max - c.min <= 255;
    if !ok {
        return Err(format!(
            "{path}: need 1 ≤ option_max ≤ 255, 1 ≤ max, min ≤ max ≤ options × option_max, max − min ≤ 255"
        ));
    }
    let shape = ContestShape {
        options: n as u16,
        option_max,
        min: c.min,
        max: c.max,
    };
    shape
        .validate()
        .map_err(|e| format!("{path}: invalid shape: {e}"))?;
    Ok(shape)
}

/// §R2.3 scope: `regions` or `districts` (not both; neither is every
/// district), non-empty, each naming a known place once.
fn scope(path: &str, c: &RawContest, places: &Places) -> Result<BTreeSet<usize>, String> {
    let (regions, districts, district_index) = places;
    let (list, key) = match (&c.regions, &c.districts) {
        (None, None) => return Ok((0..districts.len()).collect()),
        (Some(_), Some(_)) => return Err(format!("{path}: both `regions` and `districts`")),
        (Some(l), None) => (l, "regions"),
        (None, Some(l)) => (l, "districts"),
    };
    if list.is_empty() {
        return Err(format!("{path}.{key}: an empty list"));
    }
    let mut scope = BTreeSet::new();
    let mut seen = HashSet::new();
    for id in list {
        if !seen.insert(id) {
            return Err(format!("{path}.{key}: {id:?} is listed twice"));
        }
        if key == "regions" {
            let (_, ds) = regions
                .iter()
                .find(|(r, _)| r == id)
                .ok_or_else(|| format!("{path}: unknown region {id:?}"))?;
            scope.extend(ds.iter().copied());
        } else {
            let di = district_index
                .get(id)
                .ok_or_else(|| format!("{path}: unknown district {id:?}"))?;
            scope.insert(*di);
        }
    }
    Ok(scope)
}

/// §R2.1 `contests`: ids unique, names, kind, option ids unique within
/// the contest, `order`, shape and scope.
fn contests(raw: &RawManifest, places: &Places) -> Result<Vec<Contest>, String> {
    if raw.contests.is_empty() {
        return Err("contests: at least one contest is needed".into());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (ci, c) in raw.contests.iter().enumerate() {
        let path = format!("contests[{ci}]");
        fresh_id(&mut seen, &path, &c.id)?;
        named(&format!("{path}.title"), &c.title)?;
        if raw.kind == RawElectionKind::Referendum && c.kind != RawContestKind::Question {
            return Err(format!(
                "{path}.kind: a referendum has only contests of kind `question`"
            ));
        }
        let mut seen_o = HashSet::new();
        for (oi, o) in c.options.iter().enumerate() {
            let op = format!("{path}.options[{oi}]");
            fresh_id(&mut seen_o, &op, &o.id)?;
            named(&format!("{op}.name"), &o.name)?;
        }
        // §R2.4: display only, but only these two values.
        if !matches!(c.order.as_deref(), None | Some("manifest" | "random")) {
            return Err(format!("{path}.order: `manifest` or `random`"));
        }
        out.push(Contest {
            id: c.id.clone(),
            shape: shape(&path, c)?,
            districts: scope(&path, c, places)?,
        });
    }
    Ok(out)
}

/// An upper bound of the size of a ballot (crypto.md §7.3) of a district
/// with this id and shapes: §R2.1 "Ballot size".
fn ballot_size_bound(district: &str, shapes: &[ContestShape]) -> u64 {
    let header = 34 + district.len() as u64; // §R6.1
    let contests: u64 = shapes
        .iter()
        .map(|s| {
            let ko = u64::from(s.option_max) + 1;
            let ks = u64::from(s.max - s.min) + 1;
            14 + u64::from(s.options) * (64 + 128 * ko) + 128 * ks
        })
        .sum();
    1 + 32 + 4 + header + 2 + contests + 64
}

/// §R2.3 styles, and §R2.1: every district has 1 to 64 contests and its
/// audited ballot (§R7) fits one entry.
fn styles(districts: &mut [District], contests: &[Contest]) -> Result<(), String> {
    for (ci, c) in contests.iter().enumerate() {
        for &d in &c.districts {
            districts[d].style.push(ci);
            districts[d].shapes.push(c.shape);
        }
    }
    for d in districts.iter() {
        if !(1..=MAX_CONTESTS).contains(&d.style.len()) {
            return Err(format!(
                "district {}: {} contests on its ballot, need 1 to {MAX_CONTESTS}",
                d.id,
                d.style.len()
            ));
        }
        let options: u64 = d.shapes.iter().map(|s| u64::from(s.options)).sum();
        let audited = 5 + ballot_size_bound(&d.id, &d.shapes) + 33 * options;
        if audited > MAX_PAYLOAD_LEN {
            return Err(format!(
                "district {}: an audited ballot could be {audited} bytes, more than one entry holds",
                d.id
            ));
        }
    }
    Ok(())
}

impl Manifest {
    /// Parses and validates the manifest bytes (UTF-8 TOML), rule by rule
    /// of spec/record.md §R2.1; the first rule broken is the error.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("manifest is not UTF-8: {e}"))?;
        let raw: RawManifest = toml::from_str(text).map_err(|e| format!("manifest TOML: {e}"))?;
        let (n, t) = election(&raw)?;
        schedule(&raw)?;
        texts::check(&raw)?;
        let revote = revote(&raw)?;
        let paper_policy = match raw.reconciliation.paper_after_evote {
            RawPaperPolicy::EvoteStands => 1,
            RawPaperPolicy::EvoteAnnulled => 2,
        };
        let places = places(&raw)?;
        let contests = contests(&raw, &places)?;
        let (regions, mut districts, district_index) = places;
        styles(&mut districts, &contests)?;
        Ok(Manifest {
            id: raw.id,
            revote,
            paper_policy,
            n,
            t,
            regions,
            districts,
            contests,
            district_index,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BASE: &str = r#"
id = "e"
kind = "election"
title = { en = "E" }
[schedule]
time_zone = "Europe/Moscow"
applications_open = 2021-08-02T00:00:00+03:00
applications_close = 2021-09-14T00:00:00+03:00
voting_opens = 2021-09-17T08:00:00+03:00
voting_closes = 2021-09-19T20:00:00+03:00
[revote]
policy = "forbidden"
[reconciliation]
paper_after_evote = "evote-stands"
[trustees]
n = 3
t = 2
[[regions]]
id = "r1"
name = "R1"
[[regions.districts]]
id = "a"
name = "A"
precincts = [{ id = "pa", name = "PA" }]
[[regions.districts]]
id = "b"
name = "B"
precincts = [{ id = "pb", name = "PB" }]
[[regions]]
id = "r2"
name = "R2"
[[regions.districts]]
id = "c"
name = "C"
precincts = [{ id = "pc", name = "PC" }]
[[contests]]
id = "all"
kind = "question"
title = "All"
min = 1
max = 1
options = [{ id = "y", name = "Y" }, { id = "n", name = "N" }]
[[contests]]
id = "reg"
kind = "candidates"
title = "Reg"
regions = ["r2"]
min = 0
max = 2
option_max = 2
options = [{ id = "x", name = "X" }]
[[contests]]
id = "dist"
kind = "party-list"
title = "Dist"
districts = ["b", "c"]
min = 0
max = 1
options = [{ id = "x", name = "X" }, { id = "y", name = "Y", party = "P" }, { id = "z", name = "Z" }]
"#;

    #[test]
    fn styles_follow_scopes_in_manifest_order() {
        let m = Manifest::parse(BASE.as_bytes()).unwrap();
        let styles: Vec<(&str, Vec<&str>)> = m
            .districts
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    d.style.iter().map(|&c| m.contests[c].id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            styles,
            [
                ("a", vec!["all"]),
                ("b", vec!["all", "dist"]),
                ("c", vec!["all", "reg", "dist"])
            ]
        );
        assert_eq!(m.districts[2].shapes[1].option_max, 2);
        assert_eq!(m.districts[1].shapes[1].options, 3);
        assert_eq!(
            (m.n, m.t, m.revote, m.paper_policy),
            (3, 2, Revote::Forbidden, 1)
        );
    }

    fn bad_manifests() -> Vec<String> {
        vec![
            BASE.replace("t = 2", "t = 4"),
            BASE.replace("id = \"c\"", "id = \"a\""),
            BASE.replace("regions = [\"r2\"]", "regions = [\"r9\"]"),
            BASE.replace(
                "regions = [\"r2\"]",
                "regions = [\"r2\"]\ndistricts = [\"a\"]",
            ),
            BASE.replace("regions = [\"r2\"]", "regions = []"),
            BASE.replace("policy = \"forbidden\"", "policy = \"sometimes\""),
            BASE.replace("id = \"e\"", "id = \"E\""),
            BASE.replace("min = 1\nmax = 1", "min = 2\nmax = 1"),
        ]
    }

    #[test]
    fn rejects_bad_manifests() {
        let bad = bad_manifests();
        for (i, b) in bad.iter().enumerate() {
            assert!(Manifest::parse(b.as_bytes()).is_err(), "case {i}");
        }
    }

    fn r2_1_refused() -> Vec<String> {
        vec![
            BASE.replace("[revote]", "colour = \"red\"\n[revote]"),
            BASE.replace("name = \"PA\" }", "name = \"PA\", seats = 3 }"),
            BASE.replace("id = \"pb\"", "id = \"pa\""),
            BASE.replace(
                "{ id = \"z\", name = \"Z\" }",
                "{ id = \"x\", name = \"Z\" }",
            ),
            BASE.replace("kind = \"election\"", "kind = \"referendum\""),
            BASE.replace("voting_opens = 2021-09-17", "voting_opens = 2021-09-13"),
            BASE.replace(
                "voting_closes = 2021-09-19T20:00:00+03:00",
                "voting_closes = 2021-09-19T20:00:00",
            ),
            BASE.replace("name = \"R2\"", "name = \"  \""),
            BASE.replace(
                "policy = \"forbidden\"",
                "policy = \"forbidden\"\nmin_interval_seconds = 5",
            ),
            BASE.replace("precincts = [{ id = \"pc\", name = \"PC\" }]", ""),
            BASE.replace("title = { en = \"E\" }", "title = { de = \"E\" }"),
            // §R2.5 display texts.
            BASE.replace("name = \"R2\"", "name = \"R2\"\nnames = { de = \"R\" }"),
            BASE.replace("name = \"R2\"", "name = \"R2\"\nnames = {}"),
            BASE.replace(
                "title = \"All\"",
                "title = \"All\"\ntitles = { ru = \"a\\u202Eb\" }",
            ),
            BASE.replace(
                "{ id = \"y\", name = \"Y\" }",
                "{ id = \"y\", name = \"Y\", parties = { en = \"a\\nb\" } }",
            ),
            BASE.replace(
                "time_zone = \"Europe/Moscow\"",
                "time_zone = \"Europe//Moscow\"",
            ),
            BASE.replace("districts = [\"b\", \"c\"]", "districts = [\"b\", \"b\"]"),
            BASE.replace("option_max = 2", "option_max = 0"),
            BASE.replace(
                "min = 0\nmax = 1",
                "min = 0\nmax = 1\norder = \"alphabetic\"",
            ),
        ]
    }

    fn r2_1_accepted() -> Vec<String> {
        vec![
            BASE.to_owned(),
            // Ids are unique per level: a district may share a region's id.
            BASE.replace("id = \"c\"\nname = \"C\"", "id = \"r2\"\nname = \"C\"")
                .replace("districts = [\"b\", \"c\"]", "districts = [\"b\", \"r2\"]"),
            // Date-times may be strings; `order = "random"` is accepted.
            BASE.replace(
                "voting_opens = 2021-09-17T08:00:00+03:00",
                "voting_opens = \"2021-09-17T05:00:00Z\"",
            )
            .replace("min = 1\nmax = 1", "min = 1\nmax = 1\norder = \"random\""),
        ]
    }

    /// spec/record.md §R2.1: each rule of the schema, one case each.
    #[test]
    fn schema_rules_of_r2_1() {
        let refused = r2_1_refused();
        for (i, b) in refused.iter().enumerate() {
            assert_ne!(b, BASE, "case {i} changes nothing");
            assert!(Manifest::parse(b.as_bytes()).is_err(), "case {i}");
        }
        let accepted = r2_1_accepted();
        for (i, b) in accepted.iter().enumerate() {
            assert!(i == 0 || *b != BASE, "accepted case {i} changes nothing");
            assert!(Manifest::parse(b.as_bytes()).is_ok(), "accepted case {i}");
        }
        let m = Manifest::parse(accepted[1].as_bytes()).unwrap();
        assert_eq!(m.districts[2].id, "r2");
    }

    /// The election engine (a dev-dependency only) and this parser take
    /// and refuse the same manifests: both follow §R2.1.
    #[test]
    fn engine_and_verifier_agree() {
        let refused = bad_manifests().into_iter().chain(r2_1_refused());
        for (i, b) in refused.enumerate() {
            let engine = urna_election::Manifest::from_bytes(b.as_bytes());
            assert!(engine.is_err(), "refused case {i}: the engine takes it");
        }
        for (i, b) in r2_1_accepted().iter().enumerate() {
            let engine = urna_election::Manifest::from_bytes(b.as_bytes());
            assert!(engine.is_ok(), "accepted case {i}: {engine:?}");
        }
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        for f in std::fs::read_dir(examples).unwrap() {
            let bytes = std::fs::read(f.unwrap().path()).unwrap();
            assert!(urna_election::Manifest::from_bytes(&bytes).is_ok());
            assert!(Manifest::parse(&bytes).is_ok());
        }
    }
}
