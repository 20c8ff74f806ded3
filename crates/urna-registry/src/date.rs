//! Calendar dates (birth dates, portal account creation, report days):
//! `YYYY-MM-DD`, proleptic Gregorian, no time zone.

use std::fmt;

use urna_election::Timestamp;

/// A calendar date. Orders chronologically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A date, if it exists (years 1000–9999, so the text form is always
    /// 10 characters and sorts like the date).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1000..=9999).contains(&year) && (1..=days_in_month).contains(&day)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, String> {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<u16> {
            b.get(r.clone())?.iter().try_fold(0u16, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
            })
        };
        let shape_ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
        let parts = (digits(0..4), digits(5..7), digits(8..10));
        match (shape_ok, parts) {
            (true, (Some(y), Some(m), Some(d))) => Date::new(
                y,
                u8::try_from(m).unwrap_or(0),
                u8::try_from(d).unwrap_or(0),
            )
            .ok_or_else(|| format!("`{text}` is not a calendar date")),
            _ => Err(format!("`{text}` is not a date of the form YYYY-MM-DD")),
        }
    }

    /// The calendar day of `t` at a fixed offset from UTC (minutes east).
    pub fn of_timestamp(t: Timestamp, utc_offset_minutes: i32) -> Date {
        let secs = t.unix().saturating_add(i64::from(utc_offset_minutes) * 60);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        // Outside years 1000–9999 only for absurd clocks; clamp rather than fail.
        let y = u16::try_from(y.clamp(1000, 9999)).unwrap_or(9999);
        Date::new(y, m, d).unwrap_or(Date {
            year: y,
            month: 1,
            day: 1,
        })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

// Howard Hinnant's algorithm, days since 1970-01-01 to (y, m, d).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            Date::parse("2020-02-29").map(|d| d.to_string()),
            Ok("2020-02-29".into())
        );
        for bad in [
            "2019-02-29",
            "2020-13-01",
            "2020-1-01",
            "20200101",
            "2020-01-0x",
            "",
            "0999-01-01",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert!(Date::parse("2020-01-31").unwrap() < Date::parse("2020-02-01").unwrap());
    }

    #[test]
    fn day_of_timestamp_respects_offset() {
        // 2020-06-30T21:30:00Z is already July 1st in Moscow (+03:00).
        let t = Timestamp::parse_rfc3339("2020-06-30T21:30:00Z").unwrap();
        assert_eq!(Date::of_timestamp(t, 0).to_string(), "2020-06-30");
        assert_eq!(Date::of_timestamp(t, 180).to_string(), "2020-07-01");
    }
}
