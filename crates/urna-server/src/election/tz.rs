//! UTC offsets of the manifest's time zone, for the hourly turnout
//! (spec/api.md §A2 turnout): jiff's time zones, from the system's IANA
//! database (`/usr/share/zoneinfo`, or `TZDIR`). The engine stays free of
//! I/O and of time zones; the offsets only label counts, they decide
//! nothing, so a machine without the database counts in UTC (logged)
//! rather than carrying a bundled copy that would age apart from the
//! system's (docs/decisions/0014-cli-handmade.md).

use jiff::tz::TimeZone;

/// A zone: its name and jiff's rules for it.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// The name actually used (`UTC` when the zone could not be read).
    pub(crate) name: String,
    tz: TimeZone,
}

/// Zones of one name are one zone (the database is read once).
impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Zone {
    /// UTC.
    pub(crate) fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// A fixed offset (tests).
    #[cfg(test)]
    pub(crate) fn fixed_for_tests(offset: i32) -> Zone {
        Zone {
            name: "fixed".into(),
            tz: jiff::tz::Offset::from_seconds(offset).map_or(TimeZone::UTC, TimeZone::fixed),
        }
    }

    /// Loads `name` from the system's time zone database; UTC (logged)
    /// if it cannot.
    pub(crate) fn load(name: &str) -> Zone {
        // The manifest allows only `Area/Place` names of letters, digits
        // and `_+-` (no dots); jiff's database lookup also stays inside
        // its folder.
        match jiff::tz::db().get(name) {
            Ok(tz) => Zone {
                name: name.to_string(),
                tz,
            },
            Err(e) => {
                tracing::warn!(zone = name, error = %e, "time zone not available; hourly turnout in UTC");
                Zone::utc()
            }
        }
    }

    /// The UTC offset, seconds, at `unix`.
    pub(crate) fn offset(&self, unix: i64) -> i32 {
        // Timestamps beyond jiff's range (years ±9999) take the nearest end.
        let t = jiff::Timestamp::from_second(unix).unwrap_or(if unix < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        self.tz.to_offset(t).seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_real_zones() {
        if !std::path::Path::new("/usr/share/zoneinfo/Europe/Moscow").exists() {
            return; // no zoneinfo on this machine: UTC is used, nothing to check
        }
        let msk = Zone::load("Europe/Moscow");
        assert_eq!(msk.name, "Europe/Moscow");
        // 2020-06-25T07:00:00Z: +03:00 (no DST since 2014).
        assert_eq!(msk.offset(1_593_068_400), 3 * 3600);
        let berlin = Zone::load("Europe/Berlin");
        // 2021-01-15 (+01:00) and 2021-07-15 (+02:00).
        assert_eq!(berlin.offset(1_610_712_000), 3600);
        assert_eq!(berlin.offset(1_626_350_400), 7200);
        let kolkata = Zone::load("Asia/Kolkata");
        assert_eq!(kolkata.offset(1_626_350_400), 5 * 3600 + 1800);
        assert_eq!(Zone::load("Nowhere/Atlantis"), Zone::utc());
        assert!(TimeZone::tzif("bad", b"not a zone").is_err());
    }
}
