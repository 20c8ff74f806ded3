//! Points in time as plain values. The engine never reads a clock: every
//! rule that depends on time takes the caller's `now` (sans-IO).

use std::fmt;

/// Seconds since 1970-01-01T00:00:00Z, ignoring leap seconds (Unix time).
///
/// Whole seconds only: the manifest rejects fractional seconds, so a
/// schedule boundary is never ambiguous by a rounding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From Unix seconds (the server converts its clock with this).
    pub const fn from_unix(seconds: i64) -> Self {
        Timestamp(seconds)
    }

    /// Unix seconds.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// `self + seconds`, saturating (schedules are far from the limits).
    pub fn plus_seconds(self, seconds: u64) -> Self {
        let s = i64::try_from(seconds).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(s))
    }

    /// Parses an RFC 3339 date-time with an explicit offset, such as
    /// `2020-06-30T20:00:00+03:00` or `2021-09-17T05:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let dt: toml::value::Datetime = text
            .parse()
            .map_err(|e| format!("`{text}` is not an RFC 3339 date-time: {e}"))?;
        Self::from_toml(&dt)
    }

    /// From a TOML offset date-time; local dates/times (no offset) are
    /// refused because they do not name an instant.
    pub(crate) fn from_toml(dt: &toml::value::Datetime) -> Result<Self, String> {
        use toml::value::Offset;
        let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
            return Err(format!(
                "`{dt}` must be a full date-time with a UTC offset, like 2020-06-30T20:00:00+03:00"
            ));
        };
        if time.nanosecond != 0 {
            return Err(format!("`{dt}` has fractional seconds; use whole seconds"));
        }
        if time.second > 59 {
            return Err(format!("`{dt}`: leap seconds are not supported"));
        }
        let days = days_from_civil(
            i64::from(date.year),
            i64::from(date.month),
            i64::from(date.day),
        );
        let offset_minutes = match offset {
            Offset::Z => 0,
            Offset::Custom { minutes } => i64::from(minutes),
        };
        let secs = days * 86_400
            + i64::from(time.hour) * 3600
            + i64::from(time.minute) * 60
            + i64::from(time.second)
            - offset_minutes * 60;
        Ok(Timestamp(secs))
    }

    /// RFC 3339 in UTC, e.g. `2020-06-30T17:00:00Z` (for messages).
    pub fn to_rfc3339_utc(self) -> String {
        let days = self.0.div_euclid(86_400);
        let rem = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_utc())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known
/// era-based algorithm; exact for all i64 years that fit).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_instants() {
        // 2020-06-30T20:00:00+03:00 = 17:00Z = 1593536400.
        let t = Timestamp::parse_rfc3339("2020-06-30T20:00:00+03:00").unwrap();
        assert_eq!(t.unix(), 1_593_536_400);
        assert_eq!(t.to_rfc3339_utc(), "2020-06-30T17:00:00Z");
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z")
                .unwrap()
                .unix(),
            0
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2000-02-29T00:00:00-01:30")
                .unwrap()
                .unix(),
            951_782_400 + 5400
        );
        assert_eq!(
            Timestamp::from_unix(-1).to_rfc3339_utc(),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn refuses_local_and_fractional() {
        assert!(Timestamp::parse_rfc3339("2020-06-30T20:00:00").is_err());
        assert!(Timestamp::parse_rfc3339("2020-06-30").is_err());
        assert!(Timestamp::parse_rfc3339("2020-06-30T20:00:00.5Z").is_err());
        assert!(Timestamp::parse_rfc3339("tomorrow").is_err());
    }
}
