//! Calendar dates (birth dates, portal account creation, report days):
//! `YYYY-MM-DD`, proleptic Gregorian, no time zone. The calendar is jiff's
//! (`jiff::civil::Date`); this type adds the registry's rules: years
//! 1000–9999 only (so the text form is always 10 characters and sorts like
//! the date) and exactly one text form.

use std::fmt;

use jiff::civil;
use jiff::tz::Offset;
use urna_election::Timestamp;

/// A calendar date. Orders chronologically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(civil::Date);

impl Date {
    /// A date, if it exists (years 1000–9999, so the text form is always
    /// 10 characters and sorts like the date).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(1000..=9999).contains(&year) {
            return None;
        }
        let year = i16::try_from(year).ok()?;
        let (month, day) = (i8::try_from(month).ok()?, i8::try_from(day).ok()?);
        civil::Date::new(year, month, day).ok().map(Date)
    }

    /// Parses exactly `YYYY-MM-DD` (ISO 8601's extended form only: jiff
    /// alone would also take `YYYYMMDD` and signed years).
    pub fn parse(text: &str) -> Result<Date, String> {
        let b = text.as_bytes();
        let shape_ok = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !shape_ok {
            return Err(format!("`{text}` is not a date of the form YYYY-MM-DD"));
        }
        let number = |r: std::ops::Range<usize>| {
            b[r].iter()
                .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'))
        };
        let (y, m, d) = (number(0..4), number(5..7), number(8..10));
        u8::try_from(m)
            .ok()
            .zip(u8::try_from(d).ok())
            .and_then(|(m, d)| Date::new(y, m, d))
            .ok_or_else(|| format!("`{text}` is not a calendar date"))
    }

    /// The calendar day of `t` at a fixed offset from UTC (minutes east).
    pub fn of_timestamp(t: Timestamp, utc_offset_minutes: i32) -> Date {
        let day = jiff::Timestamp::from_second(t.unix())
            .ok()
            .zip(Offset::from_seconds(utc_offset_minutes.saturating_mul(60)).ok())
            .map(|(t, offset)| offset.to_datetime(t).date());
        // Outside years 1000–9999 only for absurd clocks or offsets;
        // clamp rather than fail.
        let lowest = civil::date(1000, 1, 1);
        let highest = civil::date(9999, 12, 31);
        Date(day.map_or(lowest, |d| d.clamp(lowest, highest)))
    }

    /// The year.
    pub fn year(self) -> u16 {
        u16::try_from(self.0.year()).unwrap_or(1000)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // jiff's ISO 8601 form: `YYYY-MM-DD` for years 1000–9999.
        write!(f, "{}", self.0)
    }
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
