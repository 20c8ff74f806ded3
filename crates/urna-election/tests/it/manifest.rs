//! Manifest parsing and every validation rule (spec/record.md §R2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sha2::{Digest, Sha256};
use urna_crypto::ballot::ContestShape;
use urna_election::Timestamp;
use urna_election::manifest::{
    ElectionKind, Manifest, ManifestError, OptionOrder, PaperPolicy, RevotePolicy,
};

const BASE: &str = concat!(
    r#"
id = "test-election"
kind = "election"
title = { en = "Test" }
"#,
    urna_testkit::calendar_and_rules!(),
    r#"
[[regions]]
id = "r1"
name = "Region one"
[[regions.districts]]
id = "d1"
name = "District one"
precincts = [{ id = "p1", name = "P1" }, { id = "p2", name = "P2" }]
[[regions.districts]]
id = "d2"
name = "District two"
precincts = [{ id = "p3", name = "P3" }]

[[regions]]
id = "r2"
name = "Region two"
[[regions.districts]]
id = "d3"
name = "District three"
precincts = [{ id = "p4", name = "P4" }]
"#,
    urna_testkit::contest_party_list!(),
    r#"
[[contests]]
id = "smd-d1"
kind = "candidates"
title = "District one seat"
districts = ["d1"]
min = 0
max = 1
options = [{ id = "x", name = "X" }, { id = "y", name = "Y" }]

[[contests]]
id = "regional"
kind = "question"
title = "Region two question"
regions = ["r2"]
min = 1
max = 1
options = [{ id = "yes", name = "Yes" }, { id = "no", name = "No" }]
"#,
);

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::from_bytes(text.as_bytes())
}

/// Replaces `from` (which must occur) by `to` in BASE and expects a
/// validation problem at `path` whose message contains `needle`.
fn expect_problem(from: &str, to: &str, path: &str, needle: &str) {
    assert!(BASE.contains(from), "test bug: `{from}` not in BASE");
    let text = BASE.replacen(from, to, 1);
    let err = parse(&text).expect_err("must be refused");
    assert_eq!(err.code(), "invalid_manifest", "{err}");
    assert!(
        err.problems()
            .iter()
            .any(|p| p.path == path && p.message.contains(needle)),
        "expected `{path}: …{needle}…`, got: {err}"
    );
}

#[test]
fn base_is_valid_and_styles_follow_scopes() {
    let m = parse(BASE).unwrap();
    assert_eq!(m.kind(), ElectionKind::Election);
    assert_eq!(
        m.revote(),
        RevotePolicy::LastCounts {
            min_interval_seconds: 60
        }
    );
    assert_eq!(m.paper_policy(), PaperPolicy::EvoteAnnulled);
    assert_eq!(m.trustees().n, 3);
    assert_eq!(m.regions().len(), 2);
    assert_eq!(m.districts().len(), 3);
    assert_eq!(m.precincts().len(), 4);
    assert_eq!(m.precincts()[3].district, 2);
    assert_eq!(m.districts()[2].region, 1);
    // d1: list + its seat; d2: list only; d3 (region r2): list + regional question.
    let ids = |d: &str| -> Vec<&str> {
        m.style_of(d)
            .unwrap()
            .contests
            .iter()
            .map(|&i| m.contests()[i].id.as_str())
            .collect()
    };
    assert_eq!(ids("d1"), ["list", "smd-d1"]);
    assert_eq!(ids("d2"), ["list"]);
    assert_eq!(ids("d3"), ["list", "regional"]);
    assert_eq!(
        m.style_of("d1").unwrap().shapes,
        [ContestShape::choose(3, 1, 1), ContestShape::choose(2, 0, 1)]
    );
    assert_eq!(
        m.schedule().voting_closes,
        Timestamp::parse_rfc3339("2021-09-19T17:00:00Z").unwrap()
    );
}

#[test]
fn hash_is_of_the_exact_bytes() {
    let m = parse(BASE).unwrap();
    let expected: [u8; 32] = Sha256::digest(BASE.as_bytes()).into();
    assert_eq!(m.hash(), &expected);
    assert_eq!(m.bytes(), BASE.as_bytes());
    // A comment changes nothing in meaning but changes the hash: we hash what we store.
    let other = parse(&format!("{BASE}\n# comment\n")).unwrap();
    assert_ne!(other.hash(), m.hash());
    assert_eq!(other.contests(), m.contests());
}

#[test]
fn every_example_parses_and_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let bytes = std::fs::read(&path).unwrap();
            let m =
                Manifest::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!m.styles().is_empty());
            n += 1;
        }
    }
    assert!(n >= 2, "expected the example manifests, found {n}");
}

#[test]
fn moscow_2020_example_facts() {
    let bytes = include_bytes!("../../../../examples/moscow-2020-constitution.toml");
    let m = Manifest::from_bytes(bytes).unwrap();
    assert_eq!(m.kind(), ElectionKind::Referendum);
    assert_eq!(m.revote(), RevotePolicy::Forbidden);
    assert_eq!(m.regions().len(), 2);
    assert_eq!(m.contests().len(), 1);
    for s in m.styles() {
        assert_eq!(s.shapes, [ContestShape::choose(2, 1, 1)]);
    }
    // E-voting closed at 20:00 MSK (17:00 UTC) on 30 June 2020.
    assert_eq!(
        m.schedule().voting_closes.to_rfc3339_utc(),
        "2020-06-30T17:00:00Z"
    );
    assert_eq!(
        m.schedule().voting_opens.to_rfc3339_utc(),
        "2020-06-25T07:00:00Z"
    );
}

#[test]
fn duma_2021_example_facts() {
    let bytes = include_bytes!("../../../../examples/duma-2021.toml");
    let m = Manifest::from_bytes(bytes).unwrap();
    assert!(matches!(m.revote(), RevotePolicy::LastCounts { .. }));
    // Every style: the party list, then the district's own candidates.
    for s in m.styles() {
        let d = &m.districts()[s.district];
        let ids: Vec<&str> = s
            .contests
            .iter()
            .map(|&i| m.contests()[i].id.as_str())
            .collect();
        assert_eq!(ids, ["party-list", d.id.as_str()]);
    }
    // Different candidates per district.
    let n: Vec<u16> = m.styles().iter().map(|s| s.shapes[1].options).collect();
    assert!(n.windows(2).any(|w| w[0] != w[1]));
}

#[test]
fn syntax_errors() {
    assert_eq!(
        Manifest::from_bytes(&[0xff, 0xfe]).unwrap_err().code(),
        "manifest_syntax"
    );
    assert_eq!(parse("id = ").unwrap_err().code(), "manifest_syntax");
    // Unknown fields are refused (a typo must not silently drop a rule).
    let e = parse(&BASE.replacen("[trustees]", "[trustees]\nm = 4", 1)).unwrap_err();
    assert_eq!(e.code(), "manifest_syntax");
    // Missing section.
    let e = parse(&BASE.replacen(
        "[reconciliation]\npaper_after_evote = \"evote-annulled\"\n",
        "",
        1,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("reconciliation"), "{e}");
    // Unknown policy name.
    let e = parse(&BASE.replacen("\"last-counts\"", "\"first-counts\"", 1)).unwrap_err();
    assert_eq!(e.code(), "manifest_syntax");
}

#[test]
fn identifiers() {
    expect_problem(
        "id = \"test-election\"",
        "id = \"Test Election\"",
        "id",
        "not an identifier",
    );
    expect_problem(
        "id = \"r1\"",
        "id = \"\"",
        "regions[0].id",
        "not an identifier",
    );
    expect_problem(
        "id = \"d2\"",
        "id = \"D2\"",
        "regions[0].districts[1].id",
        "not an identifier",
    );
    expect_problem(
        "id = \"p3\"",
        "id = \"p/3\"",
        "regions[0].districts[1].precincts[0].id",
        "not an identifier",
    );
    let long = format!("id = \"{}\"", "a".repeat(65));
    expect_problem(
        "id = \"list\"",
        &long,
        "contests[0].id",
        "not an identifier",
    );
    expect_problem(
        "{ id = \"b\", name = \"B\" }",
        "{ id = \"B\", name = \"B\" }",
        "contests[0].options[1].id",
        "not an identifier",
    );
}

#[test]
fn unique_ids() {
    expect_problem(
        "id = \"r2\"",
        "id = \"r1\"",
        "regions[1].id",
        "already used by regions[0].id",
    );
    // A district in two regions.
    expect_problem(
        "id = \"d3\"",
        "id = \"d1\"",
        "regions[1].districts[0].id",
        "already used by regions[0].districts[0].id",
    );
    // A precinct in two districts.
    expect_problem(
        "id = \"p4\"",
        "id = \"p1\"",
        "regions[1].districts[0].precincts[0].id",
        "already used by regions[0].districts[0].precincts[0].id",
    );
    expect_problem(
        "id = \"regional\"",
        "id = \"list\"",
        "contests[2].id",
        "already used by contests[0].id",
    );
    expect_problem(
        "{ id = \"c\", name = \"C\" }",
        "{ id = \"a\", name = \"C\" }",
        "contests[0].options[2].id",
        "already used by contests[0].options[0].id",
    );
}

#[test]
fn names_and_title() {
    expect_problem(
        "title = { en = \"Test\" }",
        "title = { en = \" \" }",
        "title",
        "non-empty",
    );
    expect_problem(
        "title = { en = \"Test\" }",
        "title = { }",
        "title",
        "non-empty",
    );
    expect_problem(
        "name = \"Region one\"",
        "name = \"\"",
        "regions[0].name",
        "must not be empty",
    );
    expect_problem(
        "title = \"Parties\"",
        "title = \"\"",
        "contests[0].title",
        "must not be empty",
    );
}

#[test]
fn hierarchy_not_empty() {
    expect_problem(
        "precincts = [{ id = \"p3\", name = \"P3\" }]",
        "precincts = []",
        "regions[0].districts[1].precincts",
        "at least one precinct",
    );
    let text = BASE.replacen(
        "[[regions.districts]]\nid = \"d3\"\nname = \"District three\"\nprecincts = [{ id = \"p4\", name = \"P4\" }]\n",
        "",
        1,
    );
    let e = parse(&text).unwrap_err();
    assert!(
        e.problems()
            .iter()
            .any(|p| p.path == "regions[1].districts"),
        "{e}"
    );
}

#[test]
fn schedule_rules() {
    expect_problem(
        "applications_close = 2021-09-14T00:00:00+03:00",
        "applications_close = 2021-08-01T00:00:00+03:00",
        "schedule.applications_close",
        "not after applications_open",
    );
    expect_problem(
        "voting_opens = 2021-09-17T08:00:00+03:00",
        "voting_opens = 2021-09-13T08:00:00+03:00",
        "schedule.voting_opens",
        "before applications_close",
    );
    expect_problem(
        "voting_closes = 2021-09-19T20:00:00+03:00",
        "voting_closes = 2021-09-17T08:00:00+03:00",
        "schedule.voting_closes",
        "not after voting_opens",
    );
    expect_problem(
        "voting_closes = 2021-09-19T20:00:00+03:00",
        "voting_closes = 2021-09-19T20:00:00",
        "schedule.voting_closes",
        "UTC offset",
    );
    expect_problem(
        "voting_closes = 2021-09-19T20:00:00+03:00",
        "voting_closes = \"2021-09-19 soon\"",
        "schedule.voting_closes",
        "not an RFC 3339",
    );
    expect_problem(
        "time_zone = \"Europe/Moscow\"",
        "time_zone = \"Moscow time\"",
        "schedule.time_zone",
        "IANA",
    );
    // A string in RFC 3339 is accepted like a TOML date-time.
    let m = parse(&BASE.replacen(
        "voting_closes = 2021-09-19T20:00:00+03:00",
        "voting_closes = \"2021-09-19T17:00:00Z\"",
        1,
    ))
    .unwrap();
    assert_eq!(
        m.schedule().voting_closes.to_rfc3339_utc(),
        "2021-09-19T17:00:00Z"
    );
}

#[test]
fn revote_and_trustees() {
    expect_problem(
        "policy = \"last-counts\"",
        "policy = \"forbidden\"",
        "revote.min_interval_seconds",
        "only to the policy `last-counts`",
    );
    expect_problem("t = 2", "t = 4", "trustees.t", "4 exceeds n = 3");
    expect_problem("t = 2", "t = 0", "trustees.t", "at least 1");
    expect_problem("n = 3", "n = 65", "trustees.n", "exceeds the maximum of 64");
}

#[test]
fn contest_shapes() {
    expect_problem(
        "min = 1\nmax = 1\noptions = [{ id = \"yes\"",
        "min = 1\nmax = 3\noptions = [{ id = \"yes\"",
        "contests[2].max",
        "3 exceeds the 2 options",
    );
    expect_problem(
        "min = 0\nmax = 1",
        "min = 2\nmax = 1",
        "contests[1].min",
        "2 exceeds max = 1",
    );
    expect_problem(
        "min = 0\nmax = 1",
        "min = 0\nmax = 0",
        "contests[1].max",
        "at least 1",
    );
    expect_problem(
        "min = 0\nmax = 1",
        "min = 0\nmax = 7\noption_max = 3",
        "contests[1].max",
        "7 exceeds 2 options × option_max 3 = 6",
    );
    expect_problem(
        "min = 0\nmax = 1",
        "min = 0\nmax = 1\noption_max = 0",
        "contests[1].option_max",
        "outside 1..=255",
    );
    expect_problem(
        "min = 0\nmax = 1",
        "min = 0\nmax = 1\noption_max = 256",
        "contests[1].option_max",
        "outside 1..=255",
    );
    expect_problem(
        "options = [{ id = \"x\", name = \"X\" }, { id = \"y\", name = \"Y\" }]",
        "options = []",
        "contests[1].options",
        "at least one option",
    );
    // max − min > 255 with cumulative voting: 2 options × 200.
    expect_problem(
        "min = 0\nmax = 1",
        "min = 0\nmax = 300\noption_max = 200",
        "contests[1].max",
        "exceeds 255",
    );
    // 513 options.
    let opts: Vec<String> = (0..513)
        .map(|i| format!("{{ id = \"o{i}\", name = \"O\" }}"))
        .collect();
    expect_problem(
        "options = [{ id = \"x\", name = \"X\" }, { id = \"y\", name = \"Y\" }]",
        &format!("options = [{}]", opts.join(", ")),
        "contests[1].options",
        "513 options, at most 512",
    );
    // Cumulative voting within bounds is fine.
    let m =
        parse(&BASE.replacen("min = 0\nmax = 1", "min = 0\nmax = 3\noption_max = 2", 1)).unwrap();
    assert_eq!(
        m.contests()[1].shape,
        ContestShape {
            options: 2,
            option_max: 2,
            min: 0,
            max: 3
        }
    );
}

#[test]
fn option_order() {
    // Absent: the manifest's order.
    let m = parse(BASE).unwrap();
    assert!(
        m.contests()
            .iter()
            .all(|c| c.order == OptionOrder::Manifest)
    );
    let m = parse(&BASE.replacen(
        "title = \"District one seat\"\n",
        "title = \"District one seat\"\norder = \"random\"\n",
        1,
    ))
    .unwrap();
    assert_eq!(m.contests()[1].order, OptionOrder::Random);
    assert_eq!(m.contests()[0].order, OptionOrder::Manifest);
    let m = parse(&BASE.replacen(
        "title = \"Parties\"\n",
        "title = \"Parties\"\norder = \"manifest\"\n",
        1,
    ))
    .unwrap();
    assert_eq!(m.contests()[0].order, OptionOrder::Manifest);
    expect_problem(
        "title = \"Parties\"\n",
        "title = \"Parties\"\norder = \"shuffled\"\n",
        "contests[0].order",
        "`shuffled` is not an order",
    );
}

#[test]
fn scopes() {
    expect_problem(
        "districts = [\"d1\"]",
        "districts = [\"d9\"]",
        "contests[1].districts[0]",
        "no district `d9`",
    );
    expect_problem(
        "regions = [\"r2\"]",
        "regions = [\"r9\"]",
        "contests[2].regions[0]",
        "no region `r9`",
    );
    expect_problem(
        "districts = [\"d1\"]",
        "districts = []",
        "contests[1].districts",
        "empty list",
    );
    expect_problem(
        "districts = [\"d1\"]",
        "districts = [\"d1\", \"d1\"]",
        "contests[1].districts[1]",
        "already listed",
    );
    expect_problem(
        "regions = [\"r2\"]",
        "regions = [\"r2\"]\ndistricts = [\"d3\"]",
        "contests[2]",
        "not both",
    );
    // A district left without any contest.
    let text = BASE.replacen(
        "kind = \"party-list\"\ntitle = \"Parties\"\n",
        "kind = \"party-list\"\ntitle = \"Parties\"\nregions = [\"r2\"]\n",
        1,
    );
    let e = parse(&text).unwrap_err();
    assert!(
        e.problems()
            .iter()
            .any(|p| p.path == "district `d2` ballot" && p.message.contains("no contest")),
        "{e}"
    );
}

#[test]
fn referendum_has_only_questions() {
    expect_problem(
        "kind = \"election\"",
        "kind = \"referendum\"",
        "contests[0].kind",
        "only contests of kind `question`",
    );
}

#[test]
fn ballot_must_fit_a_board_entry() {
    // 200 options with option_max 1: ~ 200 · 320 = 64 000 bytes of ballot,
    // plus the audit's 33 bytes per option: over 65 528.
    let opts: Vec<String> = (0..200)
        .map(|i| format!("{{ id = \"o{i}\", name = \"O\" }}"))
        .collect();
    expect_problem(
        "options = [{ id = \"x\", name = \"X\" }, { id = \"y\", name = \"Y\" }]",
        &format!("options = [{}]", opts.join(", ")),
        "district `d1` ballot",
        "more than the 65528 a board entry holds",
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = BASE
        .replacen("t = 2", "t = 9", 1)
        .replacen("id = \"r2\"", "id = \"r1\"", 1);
    let e = parse(&text).unwrap_err();
    assert!(e.problems().len() >= 2, "{e}");
    assert!(e.to_string().contains("trustees.t: 9 exceeds n = 3"), "{e}");
}
