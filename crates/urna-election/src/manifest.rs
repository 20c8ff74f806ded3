//! The election manifest: a TOML document that the commission writes and
//! publishes as the first entries of the board (spec/record.md §R2).
//!
//! [`Manifest::from_bytes`] parses *and validates*; a value of type
//! [`Manifest`] always satisfies every rule below, so the rest of the engine
//! never re-checks. The manifest hash is SHA-256 of the exact bytes that
//! were parsed — the bytes published on the board — never of a
//! re-serialisation ("hash what you store", spec/record.md §R2.2).
//!
//! The format, by example (see `examples/` at the repository root):
//!
//! ```toml
//! id = "ru-2020-constitution"
//! kind = "referendum"                       # referendum | election | poll
//! title = { ru = "Общероссийское голосование", en = "All-Russian vote" }
//!
//! [schedule]
//! time_zone = "Europe/Moscow"               # IANA name, informative
//! applications_open = 2020-06-05T00:00:00+03:00
//! applications_close = 2020-06-21T14:00:00+03:00
//! voting_opens = 2020-06-25T08:00:00+03:00
//! voting_closes = 2020-06-30T20:00:00+03:00
//!
//! [revote]
//! policy = "forbidden"                      # or "last-counts"
//! # min_interval_seconds = 60               # last-counts only
//!
//! [reconciliation]
//! paper_after_evote = "evote-annulled"      # or "evote-stands"
//!
//! [trustees]
//! n = 5
//! t = 3
//!
//! [[regions]]
//! id = "msk"
//! name = "Москва"
//! [[regions.districts]]
//! id = "msk-1"
//! name = "…"
//! precincts = [{ id = "uik-1", name = "УИК №1" }]
//!
//! [[contests]]
//! id = "amendments"
//! kind = "question"                         # question | candidates | party-list
//! title = "Вы одобряете изменения в Конституцию?"
//! min = 1
//! max = 1
//! # option_max = 1                          # > 1 for cumulative voting
//! # regions = ["msk"] or districts = ["msk-1"]; neither means every district
//! # order = "random"                       # on screen only; default "manifest"
//! options = [{ id = "yes", name = "Да" }, { id = "no", name = "Нет" }]
//! ```
//!
//! Display text in both languages is optional (spec/record.md §R2.5):
//! `names = { ru = "…", en = "…" }` on regions, districts, precincts and
//! options, `titles` on contests, `descriptions` on contests and options
//! (a question's explanation, a candidate's biography line), and `parties`
//! on options (a candidate's party line).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use urna_board::MAX_PAYLOAD_LEN;
use urna_crypto::ballot::{ContestShape, MAX_CONTESTS, MAX_OPTIONS};
use urna_crypto::dkg::{CeremonyParams, MAX_TRUSTEES};

use crate::time::Timestamp;

/// Longest identifier (spec/record.md §R1.2).
pub const MAX_ID_LEN: usize = 64;

/// One thing wrong with a manifest, with the path of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, like `contests[2].max` or `regions[0].districts[1].id`.
    pub path: String,
    /// What is wrong, as a sentence fragment.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not UTF-8, not TOML, or fields of the wrong type, missing or unknown.
    #[error("manifest syntax: {0}")]
    Syntax(String),
    /// Well-formed, but breaks rules; every problem found is listed.
    #[error("invalid manifest: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

impl ManifestError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ManifestError::Syntax(_) => "manifest_syntax",
            ManifestError::Invalid(_) => "invalid_manifest",
        }
    }

    /// The problems (empty for a syntax error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ManifestError::Syntax(_) => &[],
            ManifestError::Invalid(p) => p,
        }
    }
}

/// What is being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElectionKind {
    /// Questions only (e.g. the 2020 constitutional vote).
    Referendum,
    /// Candidates and/or party lists.
    Election,
    /// Anything, without legal effect.
    Poll,
}

/// What a contest is about (informative for display, except that a
/// referendum has only questions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContestKind {
    /// A question, typically with options yes / no.
    Question,
    /// Candidates (e.g. in a single-member district).
    Candidates,
    /// Party lists.
    PartyList,
}

/// The order a voter's device shows a contest's options in (spec/record.md
/// §R2). Display only: the ballot's ciphertexts are always in manifest order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptionOrder {
    /// The manifest's order (the default).
    #[default]
    Manifest,
    /// A random order, drawn anew by the device each time it shows the ballot.
    Random,
}

impl OptionOrder {
    /// The manifest's spelling: `manifest` or `random`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionOrder::Manifest => "manifest",
            OptionOrder::Random => "random",
        }
    }
}

/// Which ballot counts when a credential votes more than once, applied by
/// board order (spec/record.md §R6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevotePolicy {
    /// One ballot per credential (Moscow 2020); a second one is refused.
    Forbidden,
    /// Re-voting allowed; the last ballot on the board counts (Moscow 2021,
    /// Estonia). The server refuses a re-vote sooner than
    /// `min_interval_seconds` after the previous one by its clock.
    LastCounts {
        /// Minimum seconds between two ballots of one credential.
        min_interval_seconds: u64,
    },
}

/// What happens when a voter who voted electronically also votes on paper
/// (spec/record.md §R9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaperPolicy {
    /// The e-vote counts; the paper ballot is the one set aside.
    EvoteStands,
    /// The e-vote is annulled by the reconciliation entry (Estonia's rule).
    EvoteAnnulled,
}

impl PaperPolicy {
    /// The byte of spec/record.md §R9.
    pub fn tag(self) -> u8 {
        match self {
            PaperPolicy::EvoteStands => 1,
            PaperPolicy::EvoteAnnulled => 2,
        }
    }
}

/// A title in Russian and/or English (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Title {
    /// Russian.
    pub ru: Option<String>,
    /// English.
    pub en: Option<String>,
}

/// The schedule. Windows are half-open: `[opens, closes)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// IANA time-zone name for display (informative; instants carry offsets).
    pub time_zone: String,
    /// Applications (credential registration) accepted from here…
    pub applications_open: Timestamp,
    /// …until here (exclusive).
    pub applications_close: Timestamp,
    /// Ballots accepted from here…
    pub voting_opens: Timestamp,
    /// …until here (exclusive).
    pub voting_closes: Timestamp,
}

impl Schedule {
    /// Whether a ballot may be accepted at `now`: `voting_opens ≤ now < voting_closes`.
    pub fn voting_open_at(&self, now: Timestamp) -> bool {
        self.voting_opens <= now && now < self.voting_closes
    }

    /// Whether an application may be accepted at `now`.
    pub fn applications_open_at(&self, now: Timestamp) -> bool {
        self.applications_open <= now && now < self.applications_close
    }
}

/// A region: a set of districts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Display name per language (spec/record.md §R2.5).
    pub names: Option<Title>,
    /// Its districts, as indices into [`Manifest::districts`].
    pub districts: Vec<usize>,
}

/// A district: the unit of ballot styles and of the tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Display name per language (spec/record.md §R2.5).
    pub names: Option<Title>,
    /// Index of its region in [`Manifest::regions`].
    pub region: usize,
    /// Its precincts, as indices into [`Manifest::precincts`].
    pub precincts: Vec<usize>,
}

/// A precinct (polling station), for lists and turnout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precinct {
    /// Identifier.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Display name per language (spec/record.md §R2.5).
    pub names: Option<Title>,
    /// Index of its district in [`Manifest::districts`].
    pub district: usize,
}

/// One option of a contest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestOption {
    /// Identifier, unique within the contest.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Party of a candidate (informative).
    #[serde(default)]
    pub party: Option<String>,
    /// Display name per language (spec/record.md §R2.5).
    #[serde(default)]
    pub names: Option<Title>,
    /// A candidate's party line per language (§R2.5).
    #[serde(default)]
    pub parties: Option<Title>,
    /// A candidate's biography line, or an option's explanation, per language (§R2.5).
    #[serde(default)]
    pub descriptions: Option<Title>,
}

/// Where a contest appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// On every district's ballot.
    All,
    /// On the ballots of every district of these regions (indices).
    Regions(Vec<usize>),
    /// On the ballots of these districts (indices).
    Districts(Vec<usize>),
}

/// A contest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contest {
    /// Identifier.
    pub id: String,
    /// What it is.
    pub kind: ContestKind,
    /// The question or the office.
    pub title: String,
    /// The title per language (spec/record.md §R2.5).
    pub titles: Option<Title>,
    /// An explanation of the contest per language (§R2.5).
    pub descriptions: Option<Title>,
    /// Options, in ballot order.
    pub options: Vec<ContestOption>,
    /// The order the options are shown in (`order`, default `manifest`).
    pub order: OptionOrder,
    /// The shape the ballot proves (spec/crypto.md §7.1).
    pub shape: ContestShape,
    /// Where it appears.
    pub scope: Scope,
}

/// The ballot of one district: which contests, in manifest order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotStyle {
    /// Index of the district (the style id is the district id).
    pub district: usize,
    /// Indices into [`Manifest::contests`], in manifest order.
    pub contests: Vec<usize>,
    /// The shapes of those contests, what `Ballot::encrypt` and the verifier use.
    pub shapes: Vec<ContestShape>,
}

/// A parsed and validated manifest, with the exact bytes it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    bytes: Vec<u8>,
    hash: [u8; 32],
    id: String,
    title: Title,
    kind: ElectionKind,
    schedule: Schedule,
    revote: RevotePolicy,
    paper: PaperPolicy,
    trustees: CeremonyParams,
    regions: Vec<Region>,
    districts: Vec<District>,
    precincts: Vec<Precinct>,
    contests: Vec<Contest>,
    styles: Vec<BallotStyle>,
    district_index: HashMap<String, usize>,
}

impl Manifest {
    /// Parses and validates manifest bytes (UTF-8 TOML). The hash is of
    /// these exact bytes (spec/record.md §R2.2).
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ManifestError::Syntax(format!("not UTF-8: {e}")))?;
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.to_string()))?;
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        validate(raw, bytes.to_vec(), hash)
    }

    /// The exact bytes, as published on the board.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// SHA-256 of [`Manifest::bytes`]: the `M` of spec/crypto.md §3.5.
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }
    /// SHA-256 of the election id, as written in every ballot header (spec/record.md §R6.1).
    pub fn id_hash(&self) -> [u8; 32] {
        Sha256::digest(self.id.as_bytes()).into()
    }
    /// The election id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The title.
    pub fn title(&self) -> &Title {
        &self.title
    }
    /// Referendum, election or poll.
    pub fn kind(&self) -> ElectionKind {
        self.kind
    }
    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    /// The re-vote policy.
    pub fn revote(&self) -> RevotePolicy {
        self.revote
    }
    /// The paper-after-e-vote policy.
    pub fn paper_policy(&self) -> PaperPolicy {
        self.paper
    }
    /// Trustees n and t.
    pub fn trustees(&self) -> CeremonyParams {
        self.trustees
    }
    /// Regions, in manifest order.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }
    /// Districts, in manifest order (regions in order, each region's districts in order).
    pub fn districts(&self) -> &[District] {
        &self.districts
    }
    /// Precincts, in manifest order.
    pub fn precincts(&self) -> &[Precinct] {
        &self.precincts
    }
    /// Contests, in manifest order.
    pub fn contests(&self) -> &[Contest] {
        &self.contests
    }
    /// One ballot style per district, in district order.
    pub fn styles(&self) -> &[BallotStyle] {
        &self.styles
    }
    /// The index of a district id.
    pub fn district_index(&self, id: &str) -> Option<usize> {
        self.district_index.get(id).copied()
    }
    /// The ballot style of a district id.
    pub fn style_of(&self, district_id: &str) -> Option<&BallotStyle> {
        self.district_index(district_id).map(|i| &self.styles[i])
    }
}

/// Whether `s` is an identifier: 1–64 bytes of `a-z 0-9 . _ -` (spec/record.md §R1.2).
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

// ---- raw (serde) form -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    title: Title,
    kind: ElectionKind,
    schedule: RawSchedule,
    revote: RawRevote,
    reconciliation: RawReconciliation,
    trustees: RawTrustees,
    regions: Vec<RawRegion>,
    contests: Vec<RawContest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    time_zone: String,
    applications_open: When,
    applications_close: When,
    voting_opens: When,
    voting_closes: When,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum RawRevotePolicy {
    Forbidden,
    LastCounts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRevote {
    policy: RawRevotePolicy,
    min_interval_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReconciliation {
    paper_after_evote: PaperPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrustees {
    n: u16,
    t: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    id: String,
    name: String,
    names: Option<Title>,
    #[serde(default)]
    districts: Vec<RawDistrict>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistrict {
    id: String,
    name: String,
    names: Option<Title>,
    #[serde(default)]
    precincts: Vec<RawPrecinct>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrecinct {
    id: String,
    name: String,
    names: Option<Title>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContest {
    id: String,
    kind: ContestKind,
    title: String,
    titles: Option<Title>,
    descriptions: Option<Title>,
    min: u32,
    max: u32,
    option_max: Option<u32>,
    regions: Option<Vec<String>>,
    districts: Option<Vec<String>>,
    order: Option<String>,
    #[serde(default)]
    options: Vec<ContestOption>,
}

/// A TOML offset date-time, or a string holding one (RFC 3339).
struct When(Result<Timestamp, String>);

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = When;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time with offset")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<When, E> {
                Ok(When(Timestamp::parse_rfc3339(s)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<When, A::Error> {
                let dt = toml::value::Datetime::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(When(Timestamp::from_toml(&dt)))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- validation --------------------------------------------------------------

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    fn id(&mut self, path: &str, id: &str) {
        if !is_identifier(id) {
            self.add(
                path,
                format!(
                    "`{id}` is not an identifier (1 to {MAX_ID_LEN} characters of a-z 0-9 . _ -)"
                ),
            );
        }
    }

    fn name(&mut self, path: &str, name: &str) {
        if name.trim().is_empty() {
            self.add(path, "must not be empty");
        }
    }

    /// Records `id` at `path`; a second use of the same id is a problem.
    fn unique(&mut self, seen: &mut HashMap<String, String>, path: &str, id: &str) {
        if let Some(first) = seen.get(id) {
            self.add(path, format!("`{id}` is already used by {first}"));
        } else {
            seen.insert(id.to_string(), path.to_string());
        }
    }
}

fn time(problems: &mut Problems, path: &str, w: &When) -> Timestamp {
    match &w.0 {
        Ok(t) => *t,
        Err(e) => {
            problems.add(path, e.clone());
            Timestamp::from_unix(0)
        }
    }
}

/// Whether `tz` looks like an IANA time-zone name (`Area/Location`, `UTC`).
/// Only the syntax is checked: the engine keeps no zone database.
fn is_zone_name(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= 64
        && tz.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b))
        })
}

/// Size in bytes of a ballot (spec/crypto.md §7.3) with this header length and shapes.
pub fn ballot_size(header_len: usize, shapes: &[ContestShape]) -> u64 {
    let contests: u64 = shapes
        .iter()
        .map(|s| {
            let ko = u64::from(s.option_max) + 1;
            let ks = u64::from(s.max - s.min.min(s.max)) + 1;
            14 + u64::from(s.options) * (64 + 128 * ko) + 128 * ks
        })
        .sum();
    1 + 32 + 4 + header_len as u64 + 2 + contests + 64
}

fn validate(raw: RawManifest, bytes: Vec<u8>, hash: [u8; 32]) -> Result<Manifest, ManifestError> {
    let mut p = Problems::default();
    head(&mut p, &raw);
    let schedule = schedule(&mut p, &raw.schedule);
    let revote = revote(&mut p, &raw.revote);
    let trustees = trustees(&mut p, &raw.trustees);
    let (regions, districts, precincts) = places(&mut p, &raw.regions);
    let (contests, district_index) = contests(&mut p, &raw, &regions, &districts);
    display_texts(&mut p, &raw.regions, &raw.contests);
    let styles = styles(&mut p, &districts, &contests);

    if !p.0.is_empty() {
        return Err(ManifestError::Invalid(p.0));
    }
    Ok(Manifest {
        bytes,
        hash,
        id: raw.id,
        title: raw.title,
        kind: raw.kind,
        schedule,
        revote,
        paper: raw.reconciliation.paper_after_evote,
        trustees,
        regions,
        districts,
        precincts,
        contests,
        styles,
        district_index,
    })
}

/// spec/record.md §R2.1, top level: the election's id and its title in at
/// least one language.
fn head(p: &mut Problems, raw: &RawManifest) {
    p.id("id", &raw.id);
    let title_ok = [&raw.title.ru, &raw.title.en]
        .iter()
        .any(|t| t.as_ref().is_some_and(|t| !t.trim().is_empty()));
    if !title_ok {
        p.add("title", "needs a non-empty `ru` or `en`");
    }
}

/// spec/record.md §R2.1, `[schedule]`: an IANA zone and half-open
/// windows, applications strictly before voting, so the sealed credential
/// list can be published before voting opens.
fn schedule(p: &mut Problems, s: &RawSchedule) -> Schedule {
    if !is_zone_name(&s.time_zone) {
        p.add(
            "schedule.time_zone",
            format!(
                "`{}` is not an IANA time-zone name like Europe/Moscow",
                s.time_zone
            ),
        );
    }
    let schedule = Schedule {
        time_zone: s.time_zone.clone(),
        applications_open: time(p, "schedule.applications_open", &s.applications_open),
        applications_close: time(p, "schedule.applications_close", &s.applications_close),
        voting_opens: time(p, "schedule.voting_opens", &s.voting_opens),
        voting_closes: time(p, "schedule.voting_closes", &s.voting_closes),
    };
    if schedule.applications_open >= schedule.applications_close {
        p.add(
            "schedule.applications_close",
            format!(
                "{} is not after applications_open {}",
                schedule.applications_close, schedule.applications_open
            ),
        );
    }
    if schedule.applications_close > schedule.voting_opens {
        p.add(
            "schedule.voting_opens",
            format!(
                "{} is before applications_close {}; the credential list is sealed before voting opens",
                schedule.voting_opens, schedule.applications_close
            ),
        );
    }
    if schedule.voting_opens >= schedule.voting_closes {
        p.add(
            "schedule.voting_closes",
            format!(
                "{} is not after voting_opens {}",
                schedule.voting_closes, schedule.voting_opens
            ),
        );
    }
    schedule
}

/// spec/record.md §R2.1, `[revote]`: `min_interval_seconds` only under
/// `last-counts`.
fn revote(p: &mut Problems, r: &RawRevote) -> RevotePolicy {
    match (&r.policy, r.min_interval_seconds) {
        (RawRevotePolicy::Forbidden, None) => RevotePolicy::Forbidden,
        (RawRevotePolicy::Forbidden, Some(_)) => {
            p.add(
                "revote.min_interval_seconds",
                "applies only to the policy `last-counts`",
            );
            RevotePolicy::Forbidden
        }
        (RawRevotePolicy::LastCounts, m) => RevotePolicy::LastCounts {
            min_interval_seconds: m.unwrap_or(0),
        },
    }
}

/// spec/record.md §R2.1, `[trustees]`: 1 ≤ t ≤ n ≤ the maximum.
fn trustees(p: &mut Problems, t: &RawTrustees) -> CeremonyParams {
    let trustees = CeremonyParams { n: t.n, t: t.t };
    if trustees.t == 0 {
        p.add("trustees.t", "must be at least 1");
    }
    if trustees.t > trustees.n {
        p.add(
            "trustees.t",
            format!("{} exceeds n = {}", trustees.t, trustees.n),
        );
    }
    if trustees.n > MAX_TRUSTEES {
        p.add(
            "trustees.n",
            format!("{} exceeds the maximum of {MAX_TRUSTEES}", trustees.n),
        );
    }
    trustees
}

/// spec/record.md §R2.1, `[[regions]]`: regions → districts → precincts,
/// each level non-empty, ids unique per level across the whole manifest.
fn places(
    p: &mut Problems,
    raw_regions: &[RawRegion],
) -> (Vec<Region>, Vec<District>, Vec<Precinct>) {
    // Regions → districts → precincts. Ids are unique per level across the
    // whole manifest, which makes every district belong to exactly one
    // region and every precinct to exactly one district.
    let mut regions = Vec::new();
    let mut districts = Vec::new();
    let mut precincts = Vec::new();
    let (mut seen_r, mut seen_d, mut seen_p) = (HashMap::new(), HashMap::new(), HashMap::new());
    if raw_regions.is_empty() {
        p.add("regions", "at least one region is needed");
    }
    for (ri, r) in raw_regions.iter().enumerate() {
        let rp = format!("regions[{ri}]");
        p.id(&format!("{rp}.id"), &r.id);
        p.unique(&mut seen_r, &format!("{rp}.id"), &r.id);
        p.name(&format!("{rp}.name"), &r.name);
        if r.districts.is_empty() {
            p.add(
                format!("{rp}.districts"),
                "a region needs at least one district",
            );
        }
        let mut region = Region {
            id: r.id.clone(),
            name: r.name.clone(),
            names: r.names.clone(),
            districts: Vec::new(),
        };
        for (di, d) in r.districts.iter().enumerate() {
            let dp = format!("{rp}.districts[{di}]");
            p.id(&format!("{dp}.id"), &d.id);
            p.unique(&mut seen_d, &format!("{dp}.id"), &d.id);
            p.name(&format!("{dp}.name"), &d.name);
            if d.precincts.is_empty() {
                p.add(
                    format!("{dp}.precincts"),
                    "a district needs at least one precinct",
                );
            }
            let mut district = District {
                id: d.id.clone(),
                name: d.name.clone(),
                names: d.names.clone(),
                region: ri,
                precincts: Vec::new(),
            };
            for (pi, pr) in d.precincts.iter().enumerate() {
                let pp = format!("{dp}.precincts[{pi}]");
                p.id(&format!("{pp}.id"), &pr.id);
                p.unique(&mut seen_p, &format!("{pp}.id"), &pr.id);
                p.name(&format!("{pp}.name"), &pr.name);
                district.precincts.push(precincts.len());
                precincts.push(Precinct {
                    id: pr.id.clone(),
                    name: pr.name.clone(),
                    names: pr.names.clone(),
                    district: districts.len(),
                });
            }
            region.districts.push(districts.len());
            districts.push(district);
        }
        regions.push(region);
    }
    (regions, districts, precincts)
}

/// spec/record.md §R2.1, `[[contests]]`: ids, a referendum's questions
/// only, option ids unique in their contest, the shape, the display order
/// and the scope (regions or districts, not both). Also the index of
/// districts by id.
fn contests(
    p: &mut Problems,
    raw: &RawManifest,
    regions: &[Region],
    districts: &[District],
) -> (Vec<Contest>, HashMap<String, usize>) {
    let region_index: HashMap<&str, usize> = regions
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .rev() // first occurrence wins when ids repeat (already a problem)
        .collect();
    let district_index: HashMap<String, usize> = districts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, d)| (d.id.clone(), i))
        .collect();

    // Contests.
    let mut contests = Vec::new();
    let mut seen_c = HashMap::new();
    if raw.contests.is_empty() {
        p.add("contests", "at least one contest is needed");
    }
    for (ci, c) in raw.contests.iter().enumerate() {
        let cp = format!("contests[{ci}]");
        p.id(&format!("{cp}.id"), &c.id);
        p.unique(&mut seen_c, &format!("{cp}.id"), &c.id);
        p.name(&format!("{cp}.title"), &c.title);
        if raw.kind == ElectionKind::Referendum && c.kind != ContestKind::Question {
            p.add(
                format!("{cp}.kind"),
                "a referendum has only contests of kind `question`",
            );
        }
        let mut seen_o = HashMap::new();
        for (oi, o) in c.options.iter().enumerate() {
            let op = format!("{cp}.options[{oi}]");
            p.id(&format!("{op}.id"), &o.id);
            p.unique(&mut seen_o, &format!("{op}.id"), &o.id);
            p.name(&format!("{op}.name"), &o.name);
        }
        let shape = contest_shape(p, &cp, c);
        let order = match c.order.as_deref() {
            None | Some("manifest") => OptionOrder::Manifest,
            Some("random") => OptionOrder::Random,
            Some(other) => {
                p.add(
                    format!("{cp}.order"),
                    format!("`{other}` is not an order: `manifest` (the default) or `random`"),
                );
                OptionOrder::Manifest
            }
        };
        let scope = match (&c.regions, &c.districts) {
            (Some(_), Some(_)) => {
                p.add(
                    cp.clone(),
                    "give `regions` or `districts` (or neither for every district), not both",
                );
                Scope::All
            }
            (None, None) => Scope::All,
            (Some(list), None) => Scope::Regions(scope_list(
                p,
                &format!("{cp}.regions"),
                list,
                "region",
                |id| region_index.get(id).copied(),
            )),
            (None, Some(list)) => Scope::Districts(scope_list(
                p,
                &format!("{cp}.districts"),
                list,
                "district",
                |id| district_index.get(id).copied(),
            )),
        };
        contests.push(Contest {
            id: c.id.clone(),
            kind: c.kind,
            title: c.title.clone(),
            titles: c.titles.clone(),
            descriptions: c.descriptions.clone(),
            options: c.options.clone(),
            order,
            shape,
            scope,
        });
    }
    (contests, district_index)
}

/// spec/record.md §R2.1, ballot styles: one per district, contests in
/// manifest order; each ballot has a contest, at most the maximum of
/// contests, and fits one board entry even when audited (§R7).
fn styles(p: &mut Problems, districts: &[District], contests: &[Contest]) -> Vec<BallotStyle> {
    // Ballot styles: one per district, contests in manifest order.
    let mut styles = Vec::with_capacity(districts.len());
    for (di, d) in districts.iter().enumerate() {
        let idx: Vec<usize> = contests
            .iter()
            .enumerate()
            .filter(|(_, c)| match &c.scope {
                Scope::All => true,
                Scope::Regions(rs) => rs.contains(&d.region),
                Scope::Districts(ds) => ds.contains(&di),
            })
            .map(|(i, _)| i)
            .collect();
        let path = format!("district `{}` ballot", d.id);
        if idx.is_empty() {
            p.add(path.clone(), "no contest appears on this district's ballot");
        }
        if idx.len() as u64 > MAX_CONTESTS {
            p.add(
                path.clone(),
                format!(
                    "{} contests, a ballot has at most {MAX_CONTESTS}",
                    idx.len()
                ),
            );
        }
        let shapes: Vec<ContestShape> = idx.iter().map(|&i| contests[i].shape).collect();
        // Every ballot, and every audited ballot with its revealed values and
        // nonces (spec/record.md §R7), must fit one board entry.
        let header_len = crate::record::BallotHeader::encoded_len(&d.id);
        let size = ballot_size(header_len, &shapes);
        let options: u64 = shapes.iter().map(|s| u64::from(s.options)).sum();
        let audited = 1 + 4 + size + 33 * options;
        if audited > MAX_PAYLOAD_LEN as u64 {
            p.add(
                path,
                format!(
                    "an audited ballot would be {audited} bytes, more than the {MAX_PAYLOAD_LEN} a board entry holds"
                ),
            );
        }
        styles.push(BallotStyle {
            district: di,
            contests: idx,
            shapes,
        });
    }
    styles
}

/// Longest display name or title, in characters (spec/record.md §R2.5).
pub const MAX_NAME_CHARS: usize = 300;
/// Longest description, in characters (spec/record.md §R2.5).
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// The optional per-language display texts (spec/record.md §R2.5): each
/// table names at least one language, no text is blank, names and titles
/// are one line of at most [`MAX_NAME_CHARS`], descriptions at most
/// [`MAX_DESCRIPTION_CHARS`] with line breaks allowed; no other control
/// characters anywhere (they would reorder or hide text on a voter's screen).
fn display_texts(p: &mut Problems, regions: &[RawRegion], contests: &[RawContest]) {
    let mut check = |path: String, t: &Option<Title>, long: bool| {
        let Some(t) = t else { return };
        if t.ru.is_none() && t.en.is_none() {
            p.add(path.clone(), "needs `ru` or `en`");
        }
        let max = if long {
            MAX_DESCRIPTION_CHARS
        } else {
            MAX_NAME_CHARS
        };
        for (lang, text) in [("ru", &t.ru), ("en", &t.en)] {
            let Some(text) = text else { continue };
            let at = format!("{path}.{lang}");
            if text.trim().is_empty() {
                p.add(at.clone(), "must not be empty");
            }
            let chars = text.chars().count();
            if chars > max {
                p.add(at.clone(), format!("{chars} characters, at most {max}"));
            }
            let bad = |c: char| c.is_control() && !(long && c == '\n');
            let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if text.chars().any(|c| bad(c) || bidi(c)) {
                p.add(
                    at,
                    if long {
                        "has a control character other than a line break"
                    } else {
                        "has a control character or line break"
                    },
                );
            }
        }
    };
    for (ri, r) in regions.iter().enumerate() {
        let rp = format!("regions[{ri}]");
        check(format!("{rp}.names"), &r.names, false);
        for (di, d) in r.districts.iter().enumerate() {
            let dp = format!("{rp}.districts[{di}]");
            check(format!("{dp}.names"), &d.names, false);
            for (pi, pr) in d.precincts.iter().enumerate() {
                check(format!("{dp}.precincts[{pi}].names"), &pr.names, false);
            }
        }
    }
    for (ci, c) in contests.iter().enumerate() {
        let cp = format!("contests[{ci}]");
        check(format!("{cp}.titles"), &c.titles, false);
        check(format!("{cp}.descriptions"), &c.descriptions, true);
        for (oi, o) in c.options.iter().enumerate() {
            let op = format!("{cp}.options[{oi}]");
            check(format!("{op}.names"), &o.names, false);
            check(format!("{op}.parties"), &o.parties, false);
            check(format!("{op}.descriptions"), &o.descriptions, true);
        }
    }
}

fn scope_list(
    p: &mut Problems,
    path: &str,
    list: &[String],
    what: &str,
    lookup: impl Fn(&str) -> Option<usize>,
) -> Vec<usize> {
    if list.is_empty() {
        p.add(path, format!("an empty list; omit it for every {what}"));
    }
    let mut out = Vec::with_capacity(list.len());
    let mut seen = BTreeMap::new();
    for (i, id) in list.iter().enumerate() {
        match lookup(id) {
            None => p.add(format!("{path}[{i}]"), format!("no {what} `{id}`")),
            Some(x) => {
                if let Some(first) = seen.insert(id.clone(), i) {
                    p.add(
                        format!("{path}[{i}]"),
                        format!("`{id}` is already listed at [{first}]"),
                    );
                } else {
                    out.push(x);
                }
            }
        }
    }
    out
}

/// The shape of a contest, with precise messages for each bound of
/// spec/crypto.md §7.1; `ContestShape::validate` is the final word.
fn contest_shape(p: &mut Problems, cp: &str, c: &RawContest) -> ContestShape {
    let n = c.options.len();
    let before = p.0.len();
    if n == 0 {
        p.add(
            format!("{cp}.options"),
            "a contest needs at least one option",
        );
    }
    if n as u64 > MAX_OPTIONS {
        p.add(
            format!("{cp}.options"),
            format!("{n} options, at most {MAX_OPTIONS}"),
        );
    }
    let option_max = c.option_max.unwrap_or(1);
    if !(1..=255).contains(&option_max) {
        p.add(
            format!("{cp}.option_max"),
            format!("{option_max} is outside 1..=255"),
        );
    }
    if c.max == 0 {
        p.add(format!("{cp}.max"), "must be at least 1");
    }
    if c.min > c.max {
        p.add(
            format!("{cp}.min"),
            format!("{} exceeds max = {}", c.min, c.max),
        );
    }
    let total = n as u64 * u64::from(option_max);
    if u64::from(c.max) > total && n > 0 {
        let what = if option_max == 1 {
            format!("the {n} options")
        } else {
            format!("{n} options × option_max {option_max} = {total}")
        };
        p.add(format!("{cp}.max"), format!("{} exceeds {what}", c.max));
    }
    if c.max >= c.min && c.max - c.min > 255 {
        p.add(
            format!("{cp}.max"),
            format!(
                "max − min = {} exceeds 255 (spec/crypto.md §7.1)",
                c.max - c.min
            ),
        );
    }
    let shape = ContestShape {
        options: u16::try_from(n).unwrap_or(u16::MAX),
        option_max,
        min: c.min,
        max: c.max,
    };
    if p.0.len() == before
        && let Err(e) = shape.validate()
    {
        p.add(cp.to_string(), format!("shape not allowed: {e}"));
    }
    shape
}
