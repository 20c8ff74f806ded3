//! UTC offsets of the manifest's time zone, for the hourly turnout
//! (spec/api.md §A2 turnout): read from the system's IANA zoneinfo files
//! (TZif, RFC 8536). The engine stays free of I/O and of time zones; the
//! offsets only label counts, they decide nothing.

use std::path::Path;

/// A zone's offsets: transitions (unix seconds, sorted) and the offset in
/// force from each, plus the offset before the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zone {
    /// The name actually used (`UTC` when the zone could not be read).
    pub(crate) name: String,
    before: i32,
    transitions: Vec<(i64, i32)>,
}

impl Zone {
    /// UTC.
    pub(crate) fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            before: 0,
            transitions: Vec::new(),
        }
    }

    /// A fixed offset (tests).
    #[cfg(test)]
    pub(crate) fn fixed_for_tests(offset: i32) -> Zone {
        Zone {
            name: "fixed".into(),
            before: offset,
            transitions: Vec::new(),
        }
    }

    /// Loads `name` from `/usr/share/zoneinfo`; UTC (logged) if it cannot.
    pub(crate) fn load(name: &str) -> Zone {
        // The manifest allows only `Area/Place` names of letters, digits
        // and `_+-` (no dots), so this stays inside the folder.
        let path = Path::new("/usr/share/zoneinfo").join(name);
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| parse(&b))
        {
            Ok((before, transitions)) => Zone {
                name: name.to_string(),
                before,
                transitions,
            },
            Err(e) => {
                tracing::warn!(zone = name, error = %e, "time zone not available; hourly turnout in UTC");
                Zone::utc()
            }
        }
    }

    /// The UTC offset, seconds, at `unix`.
    pub(crate) fn offset(&self, unix: i64) -> i32 {
        let k = self.transitions.partition_point(|t| t.0 <= unix);
        match k.checked_sub(1) {
            Some(k) => self.transitions[k].1,
            None => self.before,
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
        .ok_or_else(|| "truncated TZif file".to_string())
}

/// Parses a TZif file: the 64-bit block of version 2+, else version 1.
fn parse(b: &[u8]) -> Result<(i32, Vec<(i64, i32)>), String> {
    if b.get(..4) != Some(b"TZif") {
        return Err("not a TZif file".into());
    }
    let counts = |at: usize| -> Result<[usize; 6], String> {
        let mut c = [0usize; 6];
        for (k, v) in c.iter_mut().enumerate() {
            *v = u32_at(b, at + 20 + 4 * k)? as usize;
        }
        Ok(c)
    };
    let v1 = counts(0)?;
    let v1_len = |c: &[usize; 6], tsize: usize| {
        let [isut, isstd, leap, time, typ, chr] = *c;
        time * tsize + time + typ * 6 + chr + leap * (tsize + 4) + isstd + isut
    };
    let (start, c, tsize) = if b[4] >= b'2' {
        let at = 44 + v1_len(&v1, 4);
        if b.get(at..at + 4) != Some(b"TZif") {
            return Err("bad second TZif header".into());
        }
        (at, counts(at)?, 8)
    } else {
        (0, v1, 4)
    };
    let [_, _, _, time, typ, _] = c;
    let data = start + 44;
    if b.len() < data + v1_len(&c, tsize) || typ == 0 {
        return Err("truncated TZif file".into());
    }
    let times = data;
    let idx = times + time * tsize;
    let types = idx + time;
    let utoff = |t: usize| -> Result<(i32, bool), String> {
        if t >= typ {
            return Err("TZif type index out of range".into());
        }
        let at = types + 6 * t;
        Ok((u32_at(b, at)? as i32, b[at + 4] != 0))
    };
    let mut out = Vec::with_capacity(time);
    for k in 0..time {
        let at = times + k * tsize;
        let t = if tsize == 8 {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        } else {
            i64::from(u32_at(b, at)? as i32)
        };
        out.push((t, utoff(usize::from(b[idx + k]))?.0));
    }
    // Before the first transition: the first standard-time type (RFC 8536 §3.2).
    let before = (0..typ)
        .map(utoff)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|(_, dst)| !dst)
        .map_or(utoff(0)?.0, |(o, _)| o);
    Ok((before, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_real_zones() {
        if !Path::new("/usr/share/zoneinfo/Europe/Moscow").exists() {
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
        assert!(parse(b"not a zone").is_err());
    }
}
