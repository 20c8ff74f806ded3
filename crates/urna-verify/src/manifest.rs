//! What the verifier needs from the manifest (spec/record.md §R2), read
//! independently of the election engine: ids, trustees, policies, contests
//! and the ballot styles of §R2.3.

use std::collections::{BTreeSet, HashMap};

use toml::Value;
use urna_crypto::ballot::ContestShape;

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

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn get<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("{path}.{key} is missing"))
}

fn get_str<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, String> {
    get(v, key, path)?
        .as_str()
        .ok_or_else(|| format!("{path}.{key} is not a string"))
}

fn get_int(v: &Value, key: &str, path: &str) -> Result<i64, String> {
    get(v, key, path)?
        .as_integer()
        .ok_or_else(|| format!("{path}.{key} is not an integer"))
}

fn get_array<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a [Value], String> {
    match v.get(key) {
        None => Ok(&[]),
        Some(a) => a
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| format!("{path}.{key} is not an array")),
    }
}

fn ident(v: &Value, path: &str) -> Result<String, String> {
    let id = get_str(v, "id", path)?;
    if !is_identifier(id) {
        return Err(format!(
            "{path}.id {id:?} is not an identifier (record.md §R1.2)"
        ));
    }
    Ok(id.to_owned())
}

fn u32_of(v: i64, what: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{what} = {v} is out of range"))
}

impl Manifest {
    /// Parses and validates the manifest bytes (UTF-8 TOML).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("manifest is not UTF-8: {e}"))?;
        let root: Value = toml::from_str(text).map_err(|e| format!("manifest TOML: {e}"))?;
        let id = get_str(&root, "id", "manifest")?.to_owned();
        if !is_identifier(&id) {
            return Err(format!("election id {id:?} is not an identifier"));
        }
        let revote = match get_str(get(&root, "revote", "manifest")?, "policy", "revote")? {
            "forbidden" => Revote::Forbidden,
            "last-counts" => Revote::LastCounts,
            p => return Err(format!("unknown revote.policy {p:?}")),
        };
        let paper_policy = match get_str(
            get(&root, "reconciliation", "manifest")?,
            "paper_after_evote",
            "reconciliation",
        )? {
            "evote-stands" => 1,
            "evote-annulled" => 2,
            p => return Err(format!("unknown reconciliation.paper_after_evote {p:?}")),
        };
        let tr = get(&root, "trustees", "manifest")?;
        let n = get_int(tr, "n", "trustees")?;
        let t = get_int(tr, "t", "trustees")?;
        if !(1 <= t && t <= n && n <= 64) {
            return Err(format!(
                "trustees: need 1 ≤ t ≤ n ≤ 64, have t = {t}, n = {n}"
            ));
        }
        let (n, t) = (n as u16, t as u16);

        let mut regions = Vec::new();
        let mut districts: Vec<District> = Vec::new();
        let mut district_index = HashMap::new();
        let mut region_ids = BTreeSet::new();
        for (ri, r) in get_array(&root, "regions", "manifest")?.iter().enumerate() {
            let path = format!("regions[{ri}]");
            let rid = ident(r, &path)?;
            if !region_ids.insert(rid.clone()) {
                return Err(format!("duplicate region {rid}"));
            }
            let mut ds = Vec::new();
            for (di, d) in get_array(r, "districts", &path)?.iter().enumerate() {
                let did = ident(d, &format!("{path}.districts[{di}]"))?;
                if district_index
                    .insert(did.clone(), districts.len())
                    .is_some()
                {
                    return Err(format!("duplicate district {did}"));
                }
                let dpath = format!("{path}.districts[{di}]");
                let mut precincts = Vec::new();
                for (pi, p) in get_array(d, "precincts", &dpath)?.iter().enumerate() {
                    precincts.push(ident(p, &format!("{dpath}.precincts[{pi}]"))?);
                }
                ds.push(districts.len());
                districts.push(District {
                    id: did,
                    region: ri,
                    style: Vec::new(),
                    shapes: Vec::new(),
                    precincts,
                });
            }
            regions.push((rid, ds));
        }
        if districts.is_empty() {
            return Err("the manifest has no district".into());
        }

        let mut contests = Vec::new();
        let mut contest_ids = BTreeSet::new();
        for (ci, c) in get_array(&root, "contests", "manifest")?.iter().enumerate() {
            let path = format!("contests[{ci}]");
            let cid = ident(c, &path)?;
            if !contest_ids.insert(cid.clone()) {
                return Err(format!("duplicate contest {cid}"));
            }
            let options = get_array(c, "options", &path)?.len();
            let options =
                u16::try_from(options).map_err(|_| format!("{path}: too many options"))?;
            let option_max = match c.get("option_max") {
                None => 1,
                Some(v) => u32_of(
                    v.as_integer()
                        .ok_or_else(|| format!("{path}.option_max is not an integer"))?,
                    "option_max",
                )?,
            };
            let shape = ContestShape {
                options,
                option_max,
                min: u32_of(get_int(c, "min", &path)?, "min")?,
                max: u32_of(get_int(c, "max", &path)?, "max")?,
            };
            shape
                .validate()
                .map_err(|e| format!("{path}: invalid shape: {e}"))?;
            // §R2.3: scope.
            let mut scope = BTreeSet::new();
            let regs = c.get("regions");
            let dists = c.get("districts");
            match (regs, dists) {
                (None, None) => scope.extend(0..districts.len()),
                (Some(_), Some(_)) => {
                    return Err(format!("{path}: both `regions` and `districts`"));
                }
                _ => {}
            }
            for r in get_array(c, "regions", &path)? {
                let r = r
                    .as_str()
                    .ok_or_else(|| format!("{path}.regions: not a string"))?;
                let (_, ds) = regions
                    .iter()
                    .find(|(id, _)| id == r)
                    .ok_or_else(|| format!("{path}: unknown region {r}"))?;
                scope.extend(ds.iter().copied());
            }
            for d in get_array(c, "districts", &path)? {
                let d = d
                    .as_str()
                    .ok_or_else(|| format!("{path}.districts: not a string"))?;
                let di = district_index
                    .get(d)
                    .ok_or_else(|| format!("{path}: unknown district {d}"))?;
                scope.insert(*di);
            }
            if scope.is_empty() {
                return Err(format!("{path}: an empty scope"));
            }
            contests.push(Contest {
                id: cid,
                shape,
                districts: scope,
            });
        }
        for (ci, c) in contests.iter().enumerate() {
            for &d in &c.districts {
                districts[d].style.push(ci);
                districts[d].shapes.push(c.shape);
            }
        }
        if let Some(d) = districts.iter().find(|d| d.style.is_empty()) {
            return Err(format!("district {} has no contest", d.id));
        }
        Ok(Manifest {
            id,
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
[revote]
policy = "forbidden"
[reconciliation]
paper_after_evote = "evote-stands"
[trustees]
n = 3
t = 2
[[regions]]
id = "r1"
[[regions.districts]]
id = "a"
[[regions.districts]]
id = "b"
[[regions]]
id = "r2"
[[regions.districts]]
id = "c"
[[contests]]
id = "all"
min = 1
max = 1
options = [{ id = "y" }, { id = "n" }]
[[contests]]
id = "reg"
regions = ["r2"]
min = 0
max = 2
option_max = 2
options = [{ id = "x" }]
[[contests]]
id = "dist"
districts = ["b", "c"]
min = 0
max = 1
options = [{ id = "x" }, { id = "y" }, { id = "z" }]
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

    #[test]
    fn rejects_bad_manifests() {
        let bad = [
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
        ];
        for (i, b) in bad.iter().enumerate() {
            assert!(Manifest::parse(b.as_bytes()).is_err(), "case {i}");
        }
    }
}
