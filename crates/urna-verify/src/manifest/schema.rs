//! The manifest's keys and types (spec/record.md §R2.1, "Keys"), read
//! with serde: every table refuses keys it does not list, a missing
//! required key or a value of another type is a syntax error.
//!
//! These structs are the verifier's own reading of the spec; they are
//! deliberately not shared with the election engine.

use std::fmt;

use serde::Deserialize;

/// The top level (§R2.1 table "top level").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub id: String,
    pub title: RawTitle,
    pub kind: RawElectionKind,
    pub schedule: RawSchedule,
    pub revote: RawRevote,
    pub reconciliation: RawReconciliation,
    pub trustees: RawTrustees,
    pub regions: Vec<RawRegion>,
    pub contests: Vec<RawContest>,
    // §R2.1 "Display names": keys added for display only go in the
    // tables below (§R2.5), each with its type; they change no check.
}

/// A display text per language (§R2.5): `ru` and/or `en`, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTexts {
    pub ru: Option<String>,
    pub en: Option<String>,
}

/// `title`: `ru` and/or `en` (§R2.1).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTitle {
    pub ru: Option<String>,
    pub en: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawElectionKind {
    Referendum,
    Election,
    Poll,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchedule {
    pub time_zone: String,
    pub applications_open: When,
    pub applications_close: When,
    pub voting_opens: When,
    pub voting_closes: When,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawRevotePolicy {
    Forbidden,
    LastCounts,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRevote {
    pub policy: RawRevotePolicy,
    pub min_interval_seconds: Option<u64>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawPaperPolicy {
    EvoteStands,
    EvoteAnnulled,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReconciliation {
    pub paper_after_evote: RawPaperPolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrustees {
    pub n: u16,
    pub t: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegion {
    pub id: String,
    pub name: String,
    pub names: Option<RawTexts>,
    #[serde(default)]
    pub districts: Vec<RawDistrict>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDistrict {
    pub id: String,
    pub name: String,
    pub names: Option<RawTexts>,
    #[serde(default)]
    pub precincts: Vec<RawPrecinct>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrecinct {
    pub id: String,
    pub name: String,
    pub names: Option<RawTexts>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawContestKind {
    Question,
    Candidates,
    PartyList,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContest {
    pub id: String,
    pub kind: RawContestKind,
    pub title: String,
    pub titles: Option<RawTexts>,
    pub descriptions: Option<RawTexts>,
    pub min: u32,
    pub max: u32,
    pub option_max: Option<u32>,
    pub regions: Option<Vec<String>>,
    pub districts: Option<Vec<String>>,
    pub order: Option<String>,
    #[serde(default)]
    pub options: Vec<RawOption>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOption {
    pub id: String,
    pub name: String,
    #[expect(dead_code, reason = "display only: typed, never checked (§R2.1)")]
    pub party: Option<String>,
    pub names: Option<RawTexts>,
    pub parties: Option<RawTexts>,
    pub descriptions: Option<RawTexts>,
}

/// A date-time of §R2.1: a TOML offset date-time, or a string holding
/// one. Converted to Unix seconds; why it is not an instant otherwise.
pub(crate) struct When(pub Result<i64, String>);

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = When;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date-time with a UTC offset")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<When, E> {
                Ok(When(match s.parse::<toml::value::Datetime>() {
                    Ok(dt) => unix_seconds(&dt),
                    Err(e) => Err(format!("`{s}` is not a date-time: {e}")),
                }))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<When, A::Error> {
                let dt = toml::value::Datetime::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(When(unix_seconds(&dt)))
            }
        }
        d.deserialize_any(V)
    }
}

/// §R2.1: a full date, time and offset, whole seconds, no leap second.
fn unix_seconds(dt: &toml::value::Datetime) -> Result<i64, String> {
    use toml::value::Offset;
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!("`{dt}` is not a date-time with a UTC offset"));
    };
    if time.nanosecond != 0 || time.second > 59 {
        return Err(format!("`{dt}`: fractional or leap seconds"));
    }
    let minutes = match offset {
        Offset::Z => 0,
        Offset::Custom { minutes } => i64::from(minutes),
    };
    let days = days_from_civil(
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    Ok(days * 86_400
        + i64::from(time.hour) * 3600
        + i64::from(time.minute) * 60
        + i64::from(time.second)
        - minutes * 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the era-based
/// algorithm). Written here because the verifier needs only this one
/// conversion to order the schedule, not a calendar crate.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn instants_with_offsets() {
        let at = |s: &str| unix_seconds(&s.parse().unwrap());
        assert_eq!(at("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(at("2021-09-17T08:00:00+03:00"), Ok(1_631_854_800));
        assert_eq!(at("2021-09-17T05:00:00Z"), Ok(1_631_854_800));
        assert!(at("2021-09-17T08:00:00").is_err());
        assert!(at("2021-09-17").is_err());
        assert!(at("2021-09-17T08:00:00.5Z").is_err());
    }
}
