//! Display texts per language in the manifest (spec/record.md §R2.5):
//! optional, read into the manifest, and refused when blank, too long,
//! without a language, in an unknown language or with control characters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use urna_election::manifest::{Manifest, ManifestError};

fn doc(region_extra: &str, contest_extra: &str, option: &str) -> String {
    format!(
        r#"
id = "names-test"
kind = "election"
title = {{ ru = "Выборы", en = "Election" }}

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
n = 1
t = 1

[[regions]]
id = "r1"
name = "Москва"
{region_extra}
[[regions.districts]]
id = "d1"
name = "Округ 1"
names = {{ ru = "Округ 1", en = "District 1" }}
precincts = [{{ id = "p1", name = "УИК 1", names = {{ en = "Precinct 1" }} }}]

[[contests]]
id = "seat"
kind = "candidates"
title = "Округ 1"
{contest_extra}
min = 1
max = 1
options = [{option}, {{ id = "b", name = "Б" }}]
"#
    )
}

const OPTION: &str = r#"{ id = "a", name = "А", names = { ru = "Иванова А. А.", en = "Ivanova A. A." }, parties = { ru = "Партия", en = "Party" }, descriptions = { ru = "1970 г. р.\nинженер", en = "born 1970\nengineer" } }"#;

fn problems(text: &str) -> Vec<String> {
    match Manifest::from_bytes(text.as_bytes()) {
        Err(ManifestError::Invalid(p)) => p.iter().map(|p| p.path.clone()).collect(),
        Err(e) => vec![format!("syntax: {e}")],
        Ok(_) => vec![],
    }
}

#[test]
fn display_texts_are_read() {
    let text = doc(
        r#"names = { ru = "Москва", en = "Moscow" }"#,
        r#"titles = { ru = "Округ 1", en = "District 1 seat" }
descriptions = { en = "Mark one." }"#,
        OPTION,
    );
    let m = Manifest::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(
        m.regions()[0].names.as_ref().unwrap().en.as_deref(),
        Some("Moscow")
    );
    assert_eq!(
        m.districts()[0].names.as_ref().unwrap().en.as_deref(),
        Some("District 1")
    );
    assert_eq!(m.precincts()[0].names.as_ref().unwrap().ru, None);
    let c = &m.contests()[0];
    assert_eq!(
        c.titles.as_ref().unwrap().en.as_deref(),
        Some("District 1 seat")
    );
    assert_eq!(
        c.descriptions.as_ref().unwrap().en.as_deref(),
        Some("Mark one.")
    );
    let o = &c.options[0];
    assert_eq!(
        o.names.as_ref().unwrap().ru.as_deref(),
        Some("Иванова А. А.")
    );
    assert_eq!(o.parties.as_ref().unwrap().en.as_deref(), Some("Party"));
    assert_eq!(
        o.descriptions.as_ref().unwrap().en.as_deref(),
        Some("born 1970\nengineer")
    );
    // All optional: the second option has none.
    assert_eq!(c.options[1].names, None);
    assert_eq!(c.options[1].descriptions, None);
}

#[test]
fn bad_display_texts_are_refused_with_their_path() {
    let ok_option = OPTION;
    // A table with no language.
    assert_eq!(
        problems(&doc("names = {}", "", ok_option)),
        ["regions[0].names"]
    );
    // Blank text.
    assert_eq!(
        problems(&doc(r#"names = { ru = " " }"#, "", ok_option)),
        ["regions[0].names.ru"]
    );
    // A line break in a name, a bidi override in a title.
    assert_eq!(
        problems(&doc(
            "",
            r#"titles = { en = "a\nb", ru = "x\u202Ey" }"#,
            ok_option
        )),
        ["contests[0].titles.ru", "contests[0].titles.en"]
    );
    // Too long.
    let long = "я".repeat(301);
    assert_eq!(
        problems(&doc(
            &format!(r#"names = {{ ru = "{long}" }}"#),
            "",
            ok_option
        )),
        ["regions[0].names.ru"]
    );
    let long = "x".repeat(2001);
    assert_eq!(
        problems(&doc(
            "",
            &format!(r#"descriptions = {{ en = "{long}" }}"#),
            ok_option
        )),
        ["contests[0].descriptions.en"]
    );
    // A tab in an option's description.
    let tab = r#"{ id = "a", name = "А", descriptions = { en = "a\tb" } }"#;
    assert_eq!(
        problems(&doc("", "", tab)),
        ["contests[0].options[0].descriptions.en"]
    );
    // A language other than ru and en is a syntax error (unknown field).
    let de = problems(&doc(r#"names = { de = "Moskau" }"#, "", ok_option));
    assert!(
        de.len() == 1 && de[0].starts_with("syntax:") && de[0].contains("de"),
        "{de:?}"
    );
}

#[test]
fn the_examples_carry_names_in_both_languages() {
    let bytes = include_bytes!("../../../../examples/moscow-2020-constitution.toml");
    let m = Manifest::from_bytes(bytes).unwrap();
    for r in m.regions() {
        let n = r.names.as_ref().expect("region names");
        assert!(n.ru.is_some() && n.en.is_some(), "{}", r.id);
    }
    for d in m.districts() {
        let n = d.names.as_ref().expect("district names");
        assert!(n.ru.is_some() && n.en.is_some(), "{}", d.id);
    }
    let c = &m.contests()[0];
    assert!(
        c.titles
            .as_ref()
            .unwrap()
            .en
            .as_deref()
            .unwrap()
            .starts_with("Do you approve")
    );
    let yes: Vec<_> = c
        .options
        .iter()
        .map(|o| o.names.as_ref().unwrap().en.clone().unwrap())
        .collect();
    assert_eq!(yes, ["Yes", "No"]);
}
