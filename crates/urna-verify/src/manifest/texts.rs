//! Display texts per language (spec/record.md §R2.5): typed by the
//! schema, and held to the rules every text must keep so that a device
//! can show it as written. They take part in no other check.

use super::schema::{RawManifest, RawTexts};

/// Most characters of a name, title or party line (§R2.5).
const SHORT_MAX: usize = 300;
/// Most characters of a description (§R2.5).
const LONG_MAX: usize = 2000;

/// Whether `c` is one of the bidirectional embedding, override or
/// isolate characters §R2.5 refuses.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// §R2.5: one language's text at `path`.
fn text(path: &str, t: &str, long: bool) -> Result<(), String> {
    if t.trim().is_empty() {
        return Err(format!("{path}: empty text"));
    }
    let max = if long { LONG_MAX } else { SHORT_MAX };
    if t.chars().count() > max {
        return Err(format!("{path}: longer than {max} characters"));
    }
    if t.chars().any(|c| c.is_control() && !(long && c == '\n')) {
        return Err(format!("{path}: a control character"));
    }
    if t.chars().any(is_bidi_control) {
        return Err(format!("{path}: a bidirectional control character"));
    }
    Ok(())
}

/// §R2.5: a table of `ru` and/or `en` (unknown keys are refused by the
/// schema), each a valid text.
fn texts(path: &str, key: &str, t: Option<&RawTexts>, long: bool) -> Result<(), String> {
    let Some(t) = t else { return Ok(()) };
    if t.ru.is_none() && t.en.is_none() {
        return Err(format!("{path}.{key}: neither `ru` nor `en`"));
    }
    for (lang, v) in [("ru", &t.ru), ("en", &t.en)] {
        if let Some(v) = v {
            text(&format!("{path}.{key}.{lang}"), v, long)?;
        }
    }
    Ok(())
}

/// §R2.5 over the whole manifest.
pub(super) fn check(raw: &RawManifest) -> Result<(), String> {
    for (i, r) in raw.regions.iter().enumerate() {
        let rp = format!("regions[{i}]");
        texts(&rp, "names", r.names.as_ref(), false)?;
        for (j, d) in r.districts.iter().enumerate() {
            let dp = format!("{rp}.districts[{j}]");
            texts(&dp, "names", d.names.as_ref(), false)?;
            for (k, p) in d.precincts.iter().enumerate() {
                texts(
                    &format!("{dp}.precincts[{k}]"),
                    "names",
                    p.names.as_ref(),
                    false,
                )?;
            }
        }
    }
    for (i, c) in raw.contests.iter().enumerate() {
        let cp = format!("contests[{i}]");
        texts(&cp, "titles", c.titles.as_ref(), false)?;
        texts(&cp, "descriptions", c.descriptions.as_ref(), true)?;
        for (j, o) in c.options.iter().enumerate() {
            let op = format!("{cp}.options[{j}]");
            texts(&op, "names", o.names.as_ref(), false)?;
            texts(&op, "parties", o.parties.as_ref(), false)?;
            texts(&op, "descriptions", o.descriptions.as_ref(), true)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_follow_r2_5() {
        assert!(text("p", "Москва", false).is_ok());
        assert!(text("p", "line\nbreak", true).is_ok());
        assert!(text("p", "line\nbreak", false).is_err());
        assert!(text("p", "  ", false).is_err());
        assert!(text("p", "a\u{202E}b", true).is_err());
        assert!(text("p", &"я".repeat(SHORT_MAX + 1), false).is_err());
        assert!(text("p", &"я".repeat(SHORT_MAX + 1), true).is_ok());
        let none = RawTexts { ru: None, en: None };
        assert!(texts("p", "names", Some(&none), false).is_err());
    }
}
