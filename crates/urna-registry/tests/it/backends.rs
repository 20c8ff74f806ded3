//! The registry's behaviour, run on both backends: SQLite in a temporary
//! folder, and PostgreSQL at `URNA_TEST_POSTGRES_URL` (each test in a fresh
//! schema). The PostgreSQL tests are `#[ignore]`d, so a run without a
//! database counts them as ignored (never as passed); `scripts/test.sh`
//! (README's test command, also CI's) starts a throwaway server and runs
//! them with `-- --include-ignored`. Once asked for, a missing or
//! unreachable server fails them; with `URNA_REQUIRE_POSTGRES=1` (set by
//! `.ci/postgres.sh`) leaving them out fails too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ed25519_dalek::SigningKey;
use urna_election::PaperPolicy;
use urna_election::record::AnnulReason;
use urna_election::record::commission::AnswerStatus;
use urna_election::{Manifest, Timestamp};
use urna_registry::amendment::{Amendment, Change};
use urna_registry::lists::{ListKind, ListSet};
use urna_registry::notify::Channel;
use urna_registry::otp::{OtpPolicy, SessionToken};
use urna_registry::screening::{Application, Decision, Reason, Rules};
use urna_registry::store::PostgresOptions;
use urna_registry::store::{Author, PublishedList};
use urna_registry::{CommissionSecret, Date, Geography, RegistrationConfig, Registry, VoterRecord};

const MANIFEST: &[u8] = include_bytes!("../../../../examples/moscow-2020-constitution.toml");

const CONFIG: &str = r#"
participating_regions = ["msk"]
account_cutoff = "2020-06-01"
max_applicants_per_phone = 2
phone_blocklist = ["+79990000000"]
report_utc_offset_minutes = 180
[otp]
max_attempts = 3
per_voter_per_hour = 3
per_address_per_hour = 4
"#;

// Moscow, with its precincts; one voter's account is too new (m5), two
// share a phone (m2, m3), one has a blocklisted phone on file (irrelevant:
// the application's phone counts).
const MSK: &str = "\u{feff}voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
m1,Иванов Иван Иванович,1980-01-02,45 08 123456,+7 916 123-45-67,ivan@example.org,uik-0001,2015-03-04
m2,Петрова Анна Сергеевна,1975-05-06,4509 654321,89161112233,,uik-0002,2018-07-08
m3,Сидоров Пётр Алексеевич,1990-12-31,4510-111111,+79161112233,,uik-0301,2019-01-01
m4,Кузнецова Ольга Николаевна,1969-02-28,4511 222222,+79165554433,olga@example.org,uik-3101,2012-11-11
m5,\"Фёдоров Артём Ильич\",2001-09-09,4512 333333,+79167778899,,uik-0302,2020-06-02
m6,Морозов Кирилл Андреевич,1985-04-04,4513 444444,+79160001122,,uik-0001,2016-06-06
";

const NNOV: &str =
    "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
n1,Волков Максим Петрович,1970-03-03,2201 555555,+79201234567,,uik-nn-2001,2014-01-01
n2,Новикова Мария Ивановна,1988-08-08,2202 666666,+79207654321,,uik-nn-0501,2017-02-02
";

fn manifest() -> Manifest {
    Manifest::from_bytes(MANIFEST).unwrap()
}

fn rules() -> Rules {
    Rules::new(
        RegistrationConfig::from_bytes(CONFIG.as_bytes()).unwrap(),
        &manifest(),
    )
    .unwrap()
}

fn secret() -> CommissionSecret {
    CommissionSecret::from_bytes([42; 32])
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// Inside the application window (Moscow time).
fn now() -> Timestamp {
    t("2020-06-10T12:00:00+03:00")
}

fn imported(reg: &Registry) {
    let g = Geography::of(&manifest());
    reg.import_csv("msk.csv", "msk", &g, &secret(), MSK.as_bytes(), now())
        .unwrap();
    reg.import_csv("nnov.csv", "nnov", &g, &secret(), NNOV.as_bytes(), now())
        .unwrap();
}

fn app(name: &str, birth: &str, doc: &str, phone: &str) -> Application {
    Application::new(&secret(), name, birth, doc, phone, None).unwrap()
}

fn m1() -> Application {
    app(
        "Иванов Иван Иванович",
        "1980-01-02",
        "4508123456",
        "+79161234567",
    )
}

// ---- the suite ---------------------------------------------------------------

fn import_and_lookup(reg: &Registry) {
    let g = Geography::of(&manifest());
    let s = reg
        .import_csv("msk.csv", "msk", &g, &secret(), MSK.as_bytes(), now())
        .unwrap();
    assert_eq!(s.rows, 6);
    assert_eq!(hex::encode(s.sha256), sha256_hex(MSK.as_bytes()));
    let v = reg
        .voter_by_document(&secret().doc_hash("45-08 123456"))
        .unwrap()
        .unwrap();
    assert_eq!(v.voter_id, "m1");
    assert_eq!(v.phone, "+79161234567");
    assert_eq!(v.email.as_deref(), Some("ivan@example.org"));
    assert_eq!(v.birth_date, Date::parse("1980-01-02").unwrap());
    // `8…` national form normalised.
    let v2 = reg
        .voter_by_document(&secret().doc_hash("4509654321"))
        .unwrap()
        .unwrap();
    assert_eq!(v2.phone, "+79161112233");
    assert_eq!(v2.email, None);
    // Quoted field.
    let v5 = reg
        .voter_by_document(&secret().doc_hash("4512333333"))
        .unwrap()
        .unwrap();
    assert_eq!(v5.full_name, "Фёдоров Артём Ильич");
    // Another secret finds nothing: only keyed hashes are stored.
    let other = CommissionSecret::from_bytes([7; 32]);
    assert!(
        reg.voter_by_document(&other.doc_hash("4508123456"))
            .unwrap()
            .is_none()
    );

    reg.import_csv("nnov.csv", "nnov", &g, &secret(), NNOV.as_bytes(), now())
        .unwrap();
    assert_eq!(reg.voter_count().unwrap(), 8);
    let (v, h) = reg.head().unwrap();
    assert_eq!(v, 0);
    let expected = urna_registry::amendment::base_hash(&[
        ("msk".into(), sha256(MSK.as_bytes()), 6),
        ("nnov".into(), sha256(NNOV.as_bytes()), 2),
    ]);
    assert_eq!(h, expected);
    let e = reg
        .import_csv("again.csv", "msk", &g, &secret(), MSK.as_bytes(), now())
        .unwrap_err();
    assert_eq!(e.code(), "region_already_imported");
}

fn import_errors_change_nothing(reg: &Registry) {
    let g = Geography::of(&manifest());
    let header =
        "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created\n";
    let good = "m1,Иванов Иван,1980-01-02,4508123456,+79161234567,,uik-0001,2015-03-04\n";
    let cases: &[(&str, &str, u64, &str)] = &[
        (
            "bad date",
            "m2,Петров Пётр,1980-02-30,4508000001,+79161234568,,uik-0001,2015-03-04\n",
            3,
            "invalid_birth_date",
        ),
        (
            "bad phone",
            "m2,Петров Пётр,1980-02-03,4508000001,12345,,uik-0001,2015-03-04\n",
            3,
            "invalid_phone",
        ),
        (
            "bad email",
            "m2,Петров Пётр,1980-02-03,4508000001,+79161234568,nope,uik-0001,2015-03-04\n",
            3,
            "invalid_email",
        ),
        (
            "unknown precinct",
            "m2,Петров Пётр,1980-02-03,4508000001,+79161234568,,uik-9999,2015-03-04\n",
            3,
            "unknown_precinct",
        ),
        (
            "other region",
            "m2,Петров Пётр,1980-02-03,4508000001,+79161234568,,uik-nn-2001,2015-03-04\n",
            3,
            "precinct_outside_region",
        ),
        (
            "dup id",
            "m1,Петров Пётр,1980-02-03,4508000001,+79161234568,,uik-0001,2015-03-04\n",
            3,
            "duplicate_voter",
        ),
        (
            "dup doc",
            "m2,Петров Пётр,1980-02-03,45 08 123456,+79161234568,,uik-0001,2015-03-04\n",
            3,
            "duplicate_document",
        ),
        (
            "fields",
            "m2,Петров Пётр,1980-02-03,4508000001,+79161234568,,uik-0001\n",
            3,
            "wrong_field_count",
        ),
        (
            "empty name",
            "m2, ,1980-02-03,4508000001,+79161234568,,uik-0001,2015-03-04\n",
            3,
            "invalid_full_name",
        ),
        (
            "bad id",
            "m 2,Петров,1980-02-03,4508000001,+79161234568,,uik-0001,2015-03-04\n",
            3,
            "invalid_voter_id",
        ),
        (
            "bad doc",
            "m2,Петров,1980-02-03,45#08,+79161234568,,uik-0001,2015-03-04\n",
            3,
            "invalid_document_number",
        ),
    ];
    for (what, row, line, code) in cases {
        // The bad row comes after a good one, which must not stay imported.
        let text = format!("{header}{good}{row}");
        let e = reg
            .import_csv("msk.csv", "msk", &g, &secret(), text.as_bytes(), now())
            .unwrap_err();
        match &e {
            urna_registry::RegistryError::Import(ie) => {
                assert_eq!(
                    (ie.code, ie.line, ie.file.as_str()),
                    (*code, *line, "msk.csv"),
                    "{what}: {e}"
                );
            }
            other => panic!("{what}: {other}"),
        }
        assert_eq!(reg.voter_count().unwrap(), 0, "{what}");
    }
    let e = reg
        .import_csv(
            "x.csv",
            "msk",
            &g,
            &secret(),
            "voter_id,name\n".as_bytes(),
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "invalid_header");
    assert!(e.to_string().starts_with("x.csv:1:"), "{e}");
    let e = reg
        .import_csv("x.csv", "mars", &g, &secret(), MSK.as_bytes(), now())
        .unwrap_err();
    assert_eq!(e.code(), "unknown_region");
    let e = reg
        .import_csv("x.csv", "msk", &g, &secret(), &b""[..], now())
        .unwrap_err();
    assert_eq!(e.code(), "empty_file");
    let e = reg
        .import_csv(
            "x.csv",
            "msk",
            &g,
            &secret(),
            format!("{header}{good}")
                .replace("Иванов", "\u{0}")
                .as_bytes(),
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "invalid_full_name");
    let mut bad_utf8 = format!("{header}{good}").into_bytes();
    bad_utf8.extend_from_slice(b"m9,\xff\xfe,1980-01-01,1,+79161234560,,uik-0001,2015-03-04\n");
    let e = reg
        .import_csv("x.csv", "msk", &g, &secret(), bad_utf8.as_slice(), now())
        .unwrap_err();
    assert_eq!(e.code(), "invalid_csv");
    assert!(e.to_string().contains("x.csv:3:"), "{e}");
    assert_eq!(reg.voter_count().unwrap(), 0);

    // Duplicates against another region's file name the line.
    reg.import_csv("msk.csv", "msk", &g, &secret(), MSK.as_bytes(), now())
        .unwrap();
    let nn_dup_id = format!(
        "{header}n1,Волков,1970-03-03,2201555555,+79201234567,,uik-nn-2001,2014-01-01\nm3,Волков,1970-03-03,2201000000,+79201234567,,uik-nn-2001,2014-01-01\n"
    );
    let e = reg
        .import_csv(
            "nnov.csv",
            "nnov",
            &g,
            &secret(),
            nn_dup_id.as_bytes(),
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "duplicate_voter");
    assert!(e.to_string().starts_with("nnov.csv:3:"), "{e}");
    let nn_dup_doc = format!(
        "{header}n1,Волков,1970-03-03,2201555555,+79201234567,,uik-nn-2001,2014-01-01\nn2,Волков,1970-03-03,4510111111,+79201234567,,uik-nn-2001,2014-01-01\n"
    );
    let e = reg
        .import_csv(
            "nnov.csv",
            "nnov",
            &g,
            &secret(),
            nn_dup_doc.as_bytes(),
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "duplicate_document");
    assert!(e.to_string().starts_with("nnov.csv:3:"), "{e}");
    assert_eq!(reg.voter_count().unwrap(), 6);
}

fn every_screening_rule(reg: &Registry) {
    imported(reg);
    let r = rules();
    let cases: Vec<(&str, Application, Timestamp, Decision)> = vec![
        (
            "before the window",
            m1(),
            t("2020-06-04T23:59:59+03:00"),
            Decision::Refused(Reason::OutsideApplicationWindow),
        ),
        (
            "after the window",
            m1(),
            t("2020-06-21T14:00:00+03:00"),
            Decision::Refused(Reason::OutsideApplicationWindow),
        ),
        (
            "unknown document",
            app(
                "Иванов Иван Иванович",
                "1980-01-02",
                "4508999999",
                "+79161234567",
            ),
            now(),
            Decision::Refused(Reason::NotInRegistry),
        ),
        (
            "other region",
            app(
                "Волков Максим Петрович",
                "1970-03-03",
                "2201555555",
                "+79201234567",
            ),
            now(),
            Decision::Refused(Reason::RegionNotParticipating),
        ),
        (
            "wrong birth date",
            app(
                "Иванов Иван Иванович",
                "1980-01-03",
                "4508123456",
                "+79161234567",
            ),
            now(),
            Decision::Refused(Reason::PersonalDataMismatch),
        ),
        (
            "wrong name",
            app(
                "Иванов Иван Петрович",
                "1980-01-02",
                "4508123456",
                "+79161234567",
            ),
            now(),
            Decision::Refused(Reason::PersonalDataMismatch),
        ),
        (
            "new account",
            app(
                "Федоров  Артем Ильич",
                "2001-09-09",
                "4512333333",
                "+79167778899",
            ),
            now(),
            Decision::Refused(Reason::AccountCreatedAfterCutoff),
        ),
        // Case, spacing and ё/е do not matter.
        (
            "approved",
            app(
                "иванов  ИВАН иванович",
                "1980-01-02",
                "45 08 123456",
                "+79161234567",
            ),
            now(),
            Decision::Approved,
        ),
        (
            "again",
            m1(),
            now(),
            Decision::Refused(Reason::DuplicateApplication),
        ),
        (
            "blocklisted phone",
            app(
                "Кузнецова Ольга Николаевна",
                "1969-02-28",
                "4511222222",
                "+7 999 000-00-00",
            ),
            now(),
            Decision::Refused(Reason::PhoneBlocklisted),
        ),
        (
            "phone 1",
            app(
                "Петрова Анна Сергеевна",
                "1975-05-06",
                "4509654321",
                "+79161112233",
            ),
            now(),
            Decision::Approved,
        ),
        (
            "phone 2",
            app(
                "Сидоров Пётр Алексеевич",
                "1990-12-31",
                "4510111111",
                "+79161112233",
            ),
            now(),
            Decision::Approved,
        ),
        (
            "phone 3 (K = 2)",
            app(
                "Кузнецова Ольга Николаевна",
                "1969-02-28",
                "4511222222",
                "8 916 111 22 33",
            ),
            now(),
            Decision::Refused(Reason::PhoneOverused),
        ),
    ];
    for (what, a, at, expected) in &cases {
        let (d, version) = reg.apply(&r, a, *at).unwrap();
        assert_eq!(d, *expected, "{what}");
        assert_eq!(version, 0, "{what}");
    }
    // After m2 withdraws, the phone has room again.
    reg.withdraw(&r, "m2", now()).unwrap();
    let (d, _) = reg
        .apply(
            &r,
            &app(
                "Кузнецова Ольга Николаевна",
                "1969-02-28",
                "4511222222",
                "+79161112233",
            ),
            now(),
        )
        .unwrap();
    assert_eq!(d, Decision::Approved);

    let report = reg.report().unwrap();
    let get = |region: &str, outcome: &str| -> u64 {
        report
            .iter()
            .filter(|r| r.region == region && r.outcome == outcome)
            .map(|r| r.count)
            .sum()
    };
    assert_eq!(get("msk", "approved"), 4);
    assert_eq!(get("msk", "outside_application_window"), 2);
    assert_eq!(get("", "not_in_registry"), 1);
    assert_eq!(get("nnov", "region_not_participating"), 1);
    assert_eq!(get("msk", "personal_data_mismatch"), 2);
    assert_eq!(get("msk", "account_created_after_cutoff"), 1);
    assert_eq!(get("msk", "duplicate_application"), 1);
    assert_eq!(get("msk", "phone_blocklisted"), 1);
    assert_eq!(get("msk", "phone_overused"), 1);
    assert_eq!(get("msk", "withdrawn"), 1);
    // Days are Moscow days: the two window refusals fall on other days.
    let days: std::collections::BTreeSet<&str> = report.iter().map(|r| r.day.as_str()).collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2020-06-04", "2020-06-10", "2020-06-21"]
    );
}

fn withdrawal_until_ballot(reg: &Registry) {
    imported(reg);
    let r = rules();
    assert_eq!(
        reg.withdraw(&r, "m1", now()).unwrap_err().code(),
        "no_application"
    );
    assert_eq!(reg.apply(&r, &m1(), now()).unwrap().0, Decision::Approved);
    let cred = [3u8; 32];
    let e = reg.register_credential("m1", &cred).unwrap();
    assert_eq!(
        (e.region.as_str(), e.precinct.as_str()),
        ("msk", "uik-0001")
    );
    assert_eq!(
        reg.register_credential("m1", &[4; 32]).unwrap_err().code(),
        "credential_already_registered"
    );
    // The same credential again is a retry.
    assert_eq!(
        reg.register_credential("m1", &cred).unwrap().precinct,
        "uik-0001"
    );
    assert_eq!(reg.enrolment("m1").unwrap().precinct, "uik-0001");
    assert_eq!(reg.enrolment("m2").unwrap_err().code(), "not_approved");
    assert_eq!(
        reg.register_credential("m2", &[4; 32]).unwrap_err().code(),
        "not_approved"
    );
    assert!(reg.mark_voted(&cred).unwrap());
    assert!(!reg.mark_voted(&[9; 32]).unwrap());
    assert_eq!(
        reg.withdraw(&r, "m1", now()).unwrap_err().code(),
        "ballot_already_cast"
    );
    // Another voter withdraws before voting and may apply again.
    let m6 = app(
        "Морозов Кирилл Андреевич",
        "1985-04-04",
        "4513444444",
        "+79160001122",
    );
    assert_eq!(reg.apply(&r, &m6, now()).unwrap().0, Decision::Approved);
    assert_eq!(
        reg.register_credential("m6", &cred).unwrap_err().code(),
        "duplicate_credential"
    );
    reg.withdraw(&r, "m6", now()).unwrap();
    assert_eq!(
        reg.withdraw(&r, "m6", now()).unwrap_err().code(),
        "no_application"
    );
    assert_eq!(
        reg.register_credential("m6", &[5; 32]).unwrap_err().code(),
        "not_approved"
    );
    assert_eq!(reg.apply(&r, &m6, now()).unwrap().0, Decision::Approved);
    // A voter who registered a credential, withdrew and applied again keeps
    // that credential: a second one would be a second vote.
    let m2 = app(
        "Петрова Анна Сергеевна",
        "1975-05-06",
        "4509654321",
        "+79161112233",
    );
    assert_eq!(reg.apply(&r, &m2, now()).unwrap().0, Decision::Approved);
    reg.register_credential("m2", &[6; 32]).unwrap();
    assert!(reg.may_cast(&[6; 32]).is_ok());
    reg.withdraw(&r, "m2", now()).unwrap();
    // A withdrawn application's credential may not cast a ballot ...
    assert_eq!(
        reg.may_cast(&[6; 32]).unwrap_err().code(),
        "application_withdrawn"
    );
    // ... a credential no application holds is left to the election.
    assert!(reg.may_cast(&[7; 32]).is_ok());
    assert_eq!(reg.apply(&r, &m2, now()).unwrap().0, Decision::Approved);
    // Applying again restores the credential's right to vote.
    assert!(reg.may_cast(&[6; 32]).is_ok());
    assert_eq!(
        reg.register_credential("m2", &[8; 32]).unwrap_err().code(),
        "credential_already_registered"
    );
    assert!(reg.register_credential("m2", &[6; 32]).is_ok());
}

/// Withdrawal and casting are serialised (spec/registration.md §G4): a
/// reservation taken with the `may_cast` check holds a withdrawal off until
/// the ballot is on the board (then it is refused for good) or refused
/// (then the reservation is given back).
fn casting_and_withdrawal(reg: &Registry) {
    imported(reg);
    let r = rules();
    let m6 = app(
        "Морозов Кирилл Андреевич",
        "1985-04-04",
        "4513444444",
        "+79160001122",
    );
    let m4 = app(
        "Кузнецова Ольга Николаевна",
        "1969-02-28",
        "4511222222",
        "+79165554433",
    );
    let (c1, c6, c4) = ([11u8; 32], [16u8; 32], [14u8; 32]);
    for (a, id, c) in [(m1(), "m1", c1), (m6, "m6", c6), (m4.clone(), "m4", c4)] {
        assert_eq!(reg.apply(&r, &a, now()).unwrap().0, Decision::Approved);
        reg.register_credential(id, &c).unwrap();
    }
    assert_eq!(
        reg.standing(&[c1, c6, [99; 32]]).unwrap(),
        [true, true, false]
    );

    // A ballot being cast holds the withdrawal off; refused, it lets go.
    reg.reserve_cast(&c1).unwrap();
    assert_eq!(reg.casting().unwrap(), vec![(c1, 1)]);
    assert_eq!(
        reg.withdraw(&r, "m1", now()).unwrap_err().code(),
        "ballot_being_cast"
    );
    reg.release_cast(&c1).unwrap();
    assert!(reg.casting().unwrap().is_empty());
    reg.withdraw(&r, "m1", now()).unwrap();
    assert_eq!(
        reg.reserve_cast(&c1).unwrap_err().code(),
        "application_withdrawn"
    );
    assert!(reg.casting().unwrap().is_empty());
    assert_eq!(reg.standing(&[c1, c6]).unwrap(), [false, true]);

    // Two ballots at once: one refused leaves the other's reservation; the
    // one on the board turns it into the voted mark.
    reg.reserve_cast(&c6).unwrap();
    reg.reserve_cast(&c6).unwrap();
    reg.release_cast(&c6).unwrap();
    assert_eq!(reg.casting().unwrap(), vec![(c6, 1)]);
    assert_eq!(
        reg.withdraw(&r, "m6", now()).unwrap_err().code(),
        "ballot_being_cast"
    );
    assert!(reg.mark_voted(&c6).unwrap());
    assert!(reg.casting().unwrap().is_empty());
    assert_eq!(
        reg.withdraw(&r, "m6", now()).unwrap_err().code(),
        "ballot_already_cast"
    );
    // A credential no application holds is not reserved.
    reg.reserve_cast(&[98; 32]).unwrap();
    assert!(reg.casting().unwrap().is_empty());

    // Raced from two threads, exactly one of withdrawal and reservation wins.
    let mut won = (0, 0);
    for _ in 0..12 {
        let barrier = std::sync::Barrier::new(2);
        let (w, c) = std::thread::scope(|s| {
            let w = s.spawn(|| {
                barrier.wait();
                reg.withdraw(&r, "m4", now())
            });
            let c = s.spawn(|| {
                barrier.wait();
                reg.reserve_cast(&c4)
            });
            (w.join().unwrap(), c.join().unwrap())
        });
        match (w, c) {
            (Ok(()), Err(e)) => {
                assert_eq!(e.code(), "application_withdrawn");
                won.0 += 1;
                assert_eq!(reg.apply(&r, &m4, now()).unwrap().0, Decision::Approved);
            }
            (Err(e), Ok(())) => {
                assert_eq!(e.code(), "ballot_being_cast");
                won.1 += 1;
                reg.release_cast(&c4).unwrap();
            }
            other => panic!("withdrawal and casting both {other:?}"),
        }
        assert!(reg.casting().unwrap().is_empty());
    }
    assert_eq!(won.0 + won.1, 12);

    // A restart settles what a stopped server left reserved: a ballot found
    // on the board is a vote (its mark was lost with the server), the
    // others' reservations go.
    reg.reserve_cast(&c4).unwrap();
    reg.settle_casting(&[c4], &[[97; 32]]).unwrap();
    assert!(reg.casting().unwrap().is_empty());
    assert_eq!(
        reg.withdraw(&r, "m4", now()).unwrap_err().code(),
        "ballot_already_cast"
    );
}

fn sealed_lists(reg: &Registry) {
    imported(reg);
    let r = rules();
    let g = Geography::of(&manifest());
    let people = [
        (m1(), "m1", [9u8; 32]),
        (
            app(
                "Петрова Анна Сергеевна",
                "1975-05-06",
                "4509654321",
                "+79161112233",
            ),
            "m2",
            [1u8; 32],
        ),
        (
            app(
                "Сидоров Пётр Алексеевич",
                "1990-12-31",
                "4510111111",
                "+79160000001",
            ),
            "m3",
            [5u8; 32],
        ),
        (
            app(
                "Морозов Кирилл Андреевич",
                "1985-04-04",
                "4513444444",
                "+79160001122",
            ),
            "m6",
            [2u8; 32],
        ),
        (
            app(
                "Кузнецова Ольга Николаевна",
                "1969-02-28",
                "4511222222",
                "+79165554433",
            ),
            "m4",
            [7u8; 32],
        ),
    ];
    for (a, id, cred) in &people {
        assert_eq!(
            reg.apply(&r, a, now()).unwrap().0,
            Decision::Approved,
            "{id}"
        );
        reg.register_credential(id, cred).unwrap();
    }
    // m4 withdraws: not on the list.
    reg.withdraw(&r, "m4", now()).unwrap();
    let lists = reg.sealed_credentials(&g).unwrap();
    let names: Vec<&str> = lists.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        names,
        [
            "msk-cao",
            "msk-sao",
            "msk-zelao",
            "nnov-city",
            "nnov-dzerzhinsk"
        ]
    );
    assert_eq!(lists[0].1, vec![[1u8; 32], [2u8; 32], [9u8; 32]]); // m2, m6, m1 sorted
    assert_eq!(lists[1].1, vec![[5u8; 32]]);
    assert!(lists[2].1.is_empty() && lists[3].1.is_empty());
}

fn amendments_chain(reg: &Registry) {
    imported(reg);
    let r = rules();
    let g = Geography::of(&manifest());
    let key = SigningKey::from_bytes(&[11; 32]);
    let vk = key.verifying_key();
    assert_eq!(
        reg.apply(&r, &m1(), now()).unwrap(),
        (Decision::Approved, 0)
    );
    let (v0, h0) = reg.head().unwrap();
    assert_eq!(v0, 0);
    let added = VoterRecord {
        voter_id: "m7".into(),
        region: "msk".into(),
        full_name: "Белова Дарья Олеговна".into(),
        birth_date: Date::parse("1995-05-05").unwrap(),
        doc_hash: secret().doc_hash("4520 777777"),
        phone: "+79169998877".into(),
        email: None,
        precinct: "uik-0302".into(),
        account_created: Date::parse("2019-05-05").unwrap(),
    };
    let a1 = Amendment {
        version: 1,
        previous: h0,
        time: now(),
        changes: vec![
            Change::Add(added.clone()),
            Change::Remove {
                voter_id: "m1".into(),
                reason: "court decision 2-123/2020".into(),
            },
        ],
    }
    .sign(&key)
    .unwrap();

    // Refusals change nothing.
    let other = SigningKey::from_bytes(&[12; 32]);
    assert_eq!(
        reg.apply_amendment(&a1, &other.verifying_key(), &g, now())
            .unwrap_err()
            .code(),
        "invalid_signature"
    );
    let wrong_prev = Amendment {
        version: 1,
        previous: [0; 32],
        time: now(),
        changes: vec![],
    }
    .sign(&key)
    .unwrap();
    assert_eq!(
        reg.apply_amendment(&wrong_prev, &vk, &g, now())
            .unwrap_err()
            .code(),
        "amendment_chain_broken"
    );
    let skip = Amendment {
        version: 2,
        previous: h0,
        time: now(),
        changes: vec![],
    }
    .sign(&key)
    .unwrap();
    assert_eq!(
        reg.apply_amendment(&skip, &vk, &g, now())
            .unwrap_err()
            .code(),
        "amendment_out_of_order"
    );
    // A later change failing undoes the earlier ones of the same amendment.
    let half = Amendment {
        version: 1,
        previous: h0,
        time: now(),
        changes: vec![
            Change::Add(added.clone()),
            Change::Remove {
                voter_id: "nobody".into(),
                reason: "x".into(),
            },
        ],
    }
    .sign(&key)
    .unwrap();
    let e = reg.apply_amendment(&half, &vk, &g, now()).unwrap_err();
    assert_eq!(e.code(), "unknown_voter");
    assert!(e.to_string().contains("change 1"), "{e}");
    assert!(reg.voter_by_document(&added.doc_hash).unwrap().is_none());
    let bad_precinct = Amendment {
        version: 1,
        previous: h0,
        time: now(),
        changes: vec![Change::Add(VoterRecord {
            precinct: "uik-nn-2001".into(),
            ..added.clone()
        })],
    }
    .sign(&key)
    .unwrap();
    assert_eq!(
        reg.apply_amendment(&bad_precinct, &vk, &g, now())
            .unwrap_err()
            .code(),
        "unknown_precinct"
    );
    let dup_doc = Amendment {
        version: 1,
        previous: h0,
        time: now(),
        changes: vec![Change::Add(VoterRecord {
            doc_hash: secret().doc_hash("4509654321"),
            ..added.clone()
        })],
    }
    .sign(&key)
    .unwrap();
    assert_eq!(
        reg.apply_amendment(&dup_doc, &vk, &g, now())
            .unwrap_err()
            .code(),
        "duplicate_document"
    );
    assert_eq!(reg.head().unwrap(), (0, h0));

    assert_eq!(reg.apply_amendment(&a1, &vk, &g, now()).unwrap(), 1);
    assert_eq!(reg.head().unwrap(), (1, a1.hash()));
    assert_eq!(reg.amendments().unwrap(), vec![a1.clone()]);
    // m1 is removed: the approval is revoked and a new application fails.
    assert!(
        reg.voter_by_document(&secret().doc_hash("4508123456"))
            .unwrap()
            .is_none()
    );
    assert_eq!(
        reg.apply(&r, &m1(), now()).unwrap(),
        (Decision::Refused(Reason::NotInRegistry), 1)
    );
    assert_eq!(
        reg.decisions_of("m1").unwrap(),
        vec![("approved".to_string(), 0), ("revoked".to_string(), 1)]
    );
    // The added voter can apply, under version 1.
    let m7 = app(
        "Белова Дарья Олеговна",
        "1995-05-05",
        "4520777777",
        "+79169998877",
    );
    assert_eq!(reg.apply(&r, &m7, now()).unwrap(), (Decision::Approved, 1));
    assert_eq!(
        reg.decisions_of("m7").unwrap(),
        vec![("approved".to_string(), 1)]
    );
    // Replaying version 1 is out of order; adding an active voter is refused.
    assert_eq!(
        reg.apply_amendment(&a1, &vk, &g, now()).unwrap_err().code(),
        "amendment_out_of_order"
    );
    let again = Amendment {
        version: 2,
        previous: a1.hash(),
        time: now(),
        changes: vec![Change::Add(added.clone())],
    }
    .sign(&key)
    .unwrap();
    assert_eq!(
        reg.apply_amendment(&again, &vk, &g, now())
            .unwrap_err()
            .code(),
        "voter_exists"
    );
    // Re-adding the removed voter works.
    let m1_back = VoterRecord {
        voter_id: "m1".into(),
        region: "msk".into(),
        full_name: "Иванов Иван Иванович".into(),
        birth_date: Date::parse("1980-01-02").unwrap(),
        doc_hash: secret().doc_hash("4508123456"),
        phone: "+79161234567".into(),
        email: None,
        precinct: "uik-0002".into(),
        account_created: Date::parse("2015-03-04").unwrap(),
    };
    let a2 = Amendment {
        version: 2,
        previous: a1.hash(),
        time: now(),
        changes: vec![Change::Add(m1_back)],
    }
    .sign(&key)
    .unwrap();
    assert_eq!(reg.apply_amendment(&a2, &vk, &g, now()).unwrap(), 2);
    assert_eq!(
        reg.apply(&r, &m1(), now()).unwrap(),
        (Decision::Approved, 2)
    );
    // The base registry is fixed once amended.
    let e = reg
        .import_csv("late.csv", "nnov", &g, &secret(), NNOV.as_bytes(), now())
        .unwrap_err();
    assert_eq!(e.code(), "registry_amended");
}

fn one_time_codes(reg: &Registry) {
    imported(reg);
    let r = rules();
    let p: OtpPolicy = r.config.otp;
    let s = secret();
    assert_eq!(
        reg.request_code(&s, &p, "m1", "10.0.0.1", now())
            .unwrap_err()
            .code(),
        "not_approved"
    );
    reg.apply(&r, &m1(), now()).unwrap();
    assert_eq!(
        reg.verify_code(&s, &p, "m1", "000000", now())
            .unwrap_err()
            .code(),
        "otp_not_requested"
    );

    let d = reg.request_code(&s, &p, "m1", "10.0.0.1", now()).unwrap();
    assert_eq!(d.phone, "+79161234567");
    let code = d.code.to_string();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let e = reg.verify_code(&s, &p, "m1", wrong, now()).unwrap_err();
    assert_eq!(e.code(), "otp_wrong_code");
    assert!(e.to_string().contains("2 attempt"), "{e}");
    let token = reg.verify_code(&s, &p, "m1", &code, now()).unwrap();
    assert_eq!(reg.session_voter(&token, now()).unwrap(), "m1");
    // A code is used once.
    assert_eq!(
        reg.verify_code(&s, &p, "m1", &code, now())
            .unwrap_err()
            .code(),
        "otp_not_requested"
    );
    // Sessions expire and can be ended.
    let later = now().plus_seconds(p.session_ttl_seconds);
    assert_eq!(
        reg.session_voter(&token, later).unwrap_err().code(),
        "session_invalid"
    );
    reg.logout(&token).unwrap();
    assert_eq!(
        reg.session_voter(&token, now()).unwrap_err().code(),
        "session_invalid"
    );
    assert_eq!(
        reg.session_voter(&SessionToken::random(), now())
            .unwrap_err()
            .code(),
        "session_invalid"
    );

    // Codes expire.
    let t1 = now().plus_seconds(60);
    let d = reg.request_code(&s, &p, "m1", "10.0.0.1", t1).unwrap();
    let e = reg
        .verify_code(&s, &p, "m1", &d.code, t1.plus_seconds(p.ttl_seconds))
        .unwrap_err();
    assert_eq!(e.code(), "otp_expired");

    // Per-voter rate limit: 3 per hour (2 issued already).
    let t2 = now().plus_seconds(120);
    let d = reg.request_code(&s, &p, "m1", "10.0.0.2", t2).unwrap();
    assert_eq!(
        reg.request_code(&s, &p, "m1", "10.0.0.3", t2)
            .unwrap_err()
            .code(),
        "otp_rate_limited"
    );
    // Attempts are limited: 3 wrong guesses kill even the right code.
    let wrong = if d.code.as_str() == "000000" {
        "000001"
    } else {
        "000000"
    };
    for _ in 0..3 {
        assert_eq!(
            reg.verify_code(&s, &p, "m1", wrong, t2).unwrap_err().code(),
            "otp_wrong_code"
        );
    }
    assert_eq!(
        reg.verify_code(&s, &p, "m1", &d.code, t2)
            .unwrap_err()
            .code(),
        "otp_attempts_exhausted"
    );
    assert_eq!(
        reg.verify_code(&s, &p, "m1", &d.code, t2)
            .unwrap_err()
            .code(),
        "otp_not_requested"
    );
    // An hour later the voter may ask again.
    let t3 = t2.plus_seconds(3600);
    let d = reg.request_code(&s, &p, "m1", "10.0.0.2", t3).unwrap();
    assert!(reg.verify_code(&s, &p, "m1", &d.code, t3).is_ok());

    // Per-client-address limit: 4 per hour across voters.
    for (i, a) in [
        app(
            "Петрова Анна Сергеевна",
            "1975-05-06",
            "4509654321",
            "+79170000001",
        ),
        app(
            "Сидоров Пётр Алексеевич",
            "1990-12-31",
            "4510111111",
            "+79170000002",
        ),
        app(
            "Морозов Кирилл Андреевич",
            "1985-04-04",
            "4513444444",
            "+79170000003",
        ),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            reg.apply(&r, a, now()).unwrap().0,
            Decision::Approved,
            "{i}"
        );
    }
    let t4 = t3.plus_seconds(10);
    for v in ["m2", "m3", "m6"] {
        reg.request_code(&s, &p, v, "192.0.2.9", t4).unwrap();
    }
    reg.request_code(&s, &p, "m2", "192.0.2.9", t4).unwrap();
    assert_eq!(
        reg.request_code(&s, &p, "m3", "192.0.2.9", t4)
            .unwrap_err()
            .code(),
        "otp_rate_limited"
    );
    assert!(reg.request_code(&s, &p, "m3", "192.0.2.10", t4).is_ok());
    // A withdrawn voter cannot log in any more.
    let d = reg.request_code(&s, &p, "m6", "192.0.2.11", t4).unwrap();
    reg.withdraw(&r, "m6", t4).unwrap();
    assert_eq!(
        reg.verify_code(&s, &p, "m6", &d.code, t4)
            .unwrap_err()
            .code(),
        "not_approved"
    );
}

/// The code endpoint is no oracle (spec/registration.md §G6, issue 12
/// item 5): identity checks are limited per document number and per
/// client before the registry is read, and an unknown document, a wrong
/// birth date and an unapproved voter get the same refusal.
fn identity_checks_are_limited_and_alike(reg: &Registry) {
    imported(reg);
    let r = rules();
    let p: OtpPolicy = r.config.otp;
    let s = secret();
    reg.apply(&r, &m1(), now()).unwrap();
    let ask = |doc: &str, birth: &str, client: &str, at: Timestamp| {
        reg.request_code_for(&s, &p, doc, birth, Channel::Sms, client, at)
    };
    // Unknown, mismatched and unapproved (m2 never applied): one refusal.
    let unknown = ask("9999 999999", "1980-01-02", "10.1.0.1", now()).unwrap_err();
    let mismatched = ask("4508123456", "1980-01-03", "10.1.0.2", now()).unwrap_err();
    let unapproved = ask("4509654321", "1975-05-06", "10.1.0.3", now()).unwrap_err();
    assert_eq!(unknown.code(), "not_approved");
    assert_eq!(unknown, mismatched);
    assert_eq!(unknown, unapproved);
    let login_unknown = reg
        .login(
            &s,
            &p,
            "9999999999",
            "1980-01-02",
            "123456",
            "10.1.0.4",
            now(),
        )
        .unwrap_err();
    let login_mismatched = reg
        .login(
            &s,
            &p,
            "4508123456",
            "1980-01-04",
            "123456",
            "10.1.0.5",
            now(),
        )
        .unwrap_err();
    assert_eq!(login_unknown, unknown);
    assert_eq!(login_mismatched, unknown);

    // 20 wrong birth dates for m1's document from 20 clients: the limit
    // per document (10 an hour; 2 were used above) refuses the 9th on.
    let answers: Vec<&str> = (0..20)
        .map(|i| {
            let birth = format!("1981-02-{:02}", i + 1);
            match ask("45 08 123456", &birth, &format!("10.2.0.{i}"), now()) {
                Err(e) => e.code(),
                Ok(_) => "sent",
            }
        })
        .collect();
    assert_eq!(answers[..8], ["not_approved"; 8]);
    assert_eq!(answers[8..], ["otp_rate_limited"; 12]);
    // Refused before the lookup: the right birth date too, and the same
    // refusal for a document that is not in the registry at all.
    let right = ask("4508123456", "1980-01-02", "10.3.0.1", now()).unwrap_err();
    assert_eq!(right.code(), "otp_rate_limited");
    for i in 0..10 {
        let e = ask("1111 000000", "1980-01-02", &format!("10.4.0.{i}"), now());
        assert_eq!(e.unwrap_err().code(), "not_approved");
    }
    let absent = ask("1111 000000", "1980-01-02", "10.3.0.3", now()).unwrap_err();
    assert_eq!(absent, right);
    // An hour later the voter gets a code and logs in (two checks).
    let later = now().plus_seconds(3601);
    let d = ask("4508123456", "1980-01-02", "10.3.0.1", later).unwrap();
    assert_eq!(
        (d.voter_id.as_str(), d.phone.as_str()),
        ("m1", "+79161234567")
    );
    let token = reg
        .login(
            &s,
            &p,
            "4508-123456",
            "1980-01-02",
            &d.code,
            "10.3.0.1",
            later,
        )
        .unwrap();
    assert_eq!(reg.session_voter(&token, later).unwrap(), "m1");

    // Per client: 4 checks an hour (the config's per_address_per_hour),
    // whatever the documents.
    let t = later.plus_seconds(10);
    for doc in ["2000000001", "2000000002", "2000000003", "2000000004"] {
        assert_eq!(
            ask(doc, "1990-01-01", "192.0.2.77", t).unwrap_err().code(),
            "not_approved"
        );
    }
    assert_eq!(
        ask("4508123456", "1980-01-02", "192.0.2.77", t)
            .unwrap_err()
            .code(),
        "otp_rate_limited"
    );
}

/// Two valid ristretto255 encodings (RFC 9496 A.1: B and 2B), as credentials.
const B1: &str = "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76";
const B2: &str = "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919";

fn cred(h: &str) -> [u8; 32] {
    let mut b = [0u8; 32];
    hex::decode_to_slice(h, &mut b).unwrap();
    b
}

fn lists_and_reconciliation(reg: &Registry) {
    imported(reg);
    let r = rules();
    let g = Geography::of(&manifest());
    let m = manifest();
    let precincts: Vec<String> = m.precincts().iter().map(|p| p.id.clone()).collect();
    let m2 = app(
        "Петрова Анна Сергеевна",
        "1975-05-06",
        "4509654321",
        "+79161112233",
    );
    let m6 = app(
        "Морозов Кирилл Андреевич",
        "1985-04-04",
        "4513444444",
        "+79160001122",
    );
    for a in [m1(), m2, m6] {
        assert_eq!(reg.apply(&r, &a, now()).unwrap().0, Decision::Approved);
    }
    reg.register_credential("m1", &cred(B1)).unwrap();
    reg.register_credential("m2", &cred(B2)).unwrap();
    // m6 never registered a credential: not struck from the paper list.
    let approved = reg.list_rows(ListKind::ApprovedOnline).unwrap();
    let mut ids: Vec<&str> = approved.iter().map(|r| r.voter_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["m1", "m2"]);
    let key = SigningKey::from_bytes(&[21; 32]);
    let set = ListSet::build(m.id(), ListKind::ApprovedOnline, &precincts, approved, &key).unwrap();
    assert_eq!(set.files.len(), precincts.len());
    assert_eq!(
        &set.counts[..2],
        &[("uik-0001".to_string(), 1), ("uik-0002".to_string(), 1)]
    );
    let dir = tempfile::tempdir().unwrap();
    set.write_to(dir.path()).unwrap();
    let h = urna_registry::lists::verify_dir(
        dir.path(),
        m.id(),
        ListKind::ApprovedOnline,
        &key.verifying_key(),
    )
    .unwrap();
    assert_eq!(h, set.hash());
    let uik1 = std::fs::read_to_string(dir.path().join("approved-online/uik-0001.csv")).unwrap();
    assert_eq!(
        uik1,
        "voter_id,full_name,birth_date\nm1,Иванов Иван Иванович,1980-01-02\n"
    );

    assert!(reg.list_rows(ListKind::VotedOnline).unwrap().is_empty());
    assert!(reg.mark_voted(&cred(B1)).unwrap());
    assert!(reg.mark_voted(&cred(B2)).unwrap());
    let voted = reg.list_rows(ListKind::VotedOnline).unwrap();
    assert_eq!(voted.len(), 2);

    // Paper lists: precise errors, all or nothing.
    let bad: &[(&str, &str, u64, &str)] = &[
        ("voter_id\nm1\nnobody\n", "uik-0001", 3, "unknown_voter"),
        ("voter_id\nm1\nm2\n", "uik-0001", 3, "wrong_precinct"),
        ("voter_id\nm1\nm1\n", "uik-0001", 3, "duplicate_voter"),
        ("voter_id,x\nm1\n", "uik-0001", 1, "invalid_header"),
        ("voter_id\nm1,2\n", "uik-0001", 2, "wrong_field_count"),
        ("voter_id\nm 1\n", "uik-0001", 2, "invalid_voter_id"),
        ("voter_id\nm1\n", "uik-9999", 0, "unknown_precinct"),
    ];
    for (text, precinct, line, code) in bad {
        match reg
            .import_paper_votes("paper.csv", precinct, &g, text.as_bytes())
            .unwrap_err()
        {
            urna_registry::RegistryError::Import(e) => {
                assert_eq!((e.line, e.code), (*line, *code), "{text}")
            }
            other => panic!("{other}"),
        }
    }
    assert!(reg.double_votes().unwrap().is_empty());
    assert_eq!(
        reg.import_paper_votes(
            "uik-0001.csv",
            "uik-0001",
            &g,
            "voter_id\nm1\nm6\n".as_bytes()
        )
        .unwrap(),
        2
    );
    match reg
        .import_paper_votes("again.csv", "uik-0001", &g, "voter_id\nm6\n".as_bytes())
        .unwrap_err()
    {
        urna_registry::RegistryError::Import(e) => {
            assert_eq!((e.line, e.code), (2, "already_recorded"))
        }
        other => panic!("{other}"),
    }
    // The sealed lists for the board: §R4 payloads that decode back.
    let (payloads, counts) = reg.sealed_payloads(&g).unwrap();
    assert_eq!(payloads.len(), m.districts().len());
    assert_eq!(
        &counts[..2],
        &[("msk-cao".to_string(), 2), ("msk-sao".to_string(), 0)]
    );
    let first = urna_election::record::CredentialChunk::decode(&payloads[0]).unwrap();
    assert_eq!(first.district, "msk-cao");
    let mut sorted = vec![cred(B1), cred(B2)];
    sorted.sort_unstable();
    assert_eq!(
        first
            .credentials
            .iter()
            .map(|e| *e.as_bytes())
            .collect::<Vec<_>>(),
        sorted
    );

    let both = reg.double_votes().unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(
        (
            both[0].voter_id.as_str(),
            both[0].precinct.as_str(),
            both[0].credential
        ),
        ("m1", "uik-0001", cred(B1))
    );
    assert!(reg.annulments(PaperPolicy::EvoteStands).unwrap().is_empty());
    let annul = reg.annulments(PaperPolicy::EvoteAnnulled).unwrap();
    assert_eq!(annul.len(), 1);
    assert_eq!(*annul[0].0.as_bytes(), cred(B1));
    assert_eq!(annul[0].1, AnnulReason::PaperVote);
}

fn complaints(reg: &Registry) {
    assert!(reg.complaints().unwrap().is_empty());
    let a = reg
        .file_complaint(
            Author::Voter,
            "My receipt does not verify.",
            Some([7; 32]),
            now(),
        )
        .unwrap();
    let b = reg
        .file_complaint(
            Author::Observer,
            "Precinct uik-0001 list arrived late.",
            None,
            now(),
        )
        .unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(
        reg.file_complaint(Author::Voter, "  ", None, now())
            .unwrap_err()
            .code(),
        "invalid_complaint"
    );
    reg.answer_complaint(
        1,
        AnswerStatus::Rejected,
        "The receipt verifies against checkpoint 120.",
        now().plus_seconds(60),
    )
    .unwrap();
    assert_eq!(
        reg.answer_complaint(1, AnswerStatus::Answered, "again", now())
            .unwrap_err()
            .code(),
        "already_answered"
    );
    assert_eq!(
        reg.answer_complaint(9, AnswerStatus::Answered, "x", now())
            .unwrap_err()
            .code(),
        "unknown_complaint"
    );
    let list = reg.complaints().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].status, list[1].status), ("rejected", "open"));
    assert_eq!((list[0].board_index, list[1].board_index), (None, None));
    reg.complaint_on_board(1, 40).unwrap();
    reg.complaint_on_board(2, 41).unwrap();
    reg.answer_on_board(1, 42).unwrap();
    let list = reg.complaints().unwrap();
    assert_eq!(
        list.iter()
            .map(|c| (c.board_index, c.answer_index, c.status))
            .collect::<Vec<_>>(),
        vec![(Some(40), Some(42), "rejected"), (Some(41), None, "open")]
    );
    // Published precinct lists: recorded per kind and precinct, replaced
    // by a later publication of the same precinct.
    assert!(
        reg.published_lists(ListKind::VotedOnline)
            .unwrap()
            .is_empty()
    );
    let pl = |p: &str, h: u8, index: u64| PublishedList {
        precinct: p.into(),
        csv_sha256: [h; 32],
        sums_sha256: [h + 1; 32],
        version: 0,
        board_index: index,
    };
    reg.record_published_lists(ListKind::VotedOnline, &[pl("p1", 1, 50), pl("p2", 2, 51)])
        .unwrap();
    reg.record_published_lists(ListKind::VotedOnline, &[pl("p1", 5, 60)])
        .unwrap();
    assert_eq!(
        reg.published_lists(ListKind::VotedOnline).unwrap(),
        vec![pl("p1", 5, 60), pl("p2", 2, 51)]
    );
    assert!(
        reg.published_lists(ListKind::ApprovedOnline)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        list[0].tracking.as_deref(),
        Some(hex::encode([7u8; 32]).as_str())
    );
    assert_eq!(list[0].answered, Some(now().plus_seconds(60).unix()));
    assert_eq!(list[1].author, Author::Observer);
}

// ---- harness -------------------------------------------------------------------

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha256(b))
}

fn with_sqlite(test: fn(&Registry)) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open_sqlite(&dir.path().join("registry.db"))
        .unwrap()
        .with_credential_key(secret().credential_key());
    assert_eq!(reg.backend_name(), "sqlite");
    test(&reg);
}

struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let _ = urna_registry::store::drop_postgres_schema(&self.url, &self.schema);
    }
}

/// Runs only when asked for (the tests are ignored by default), so no
/// database is a failure, never a pass.
fn with_postgres(name: &str, test: fn(&Registry)) {
    let Some(url) = std::env::var("URNA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        panic!(
            "postgres::{name} needs PostgreSQL: URNA_TEST_POSTGRES_URL is not set (scripts/test.sh starts one)"
        );
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!("urna_test_{name}_{}_{nanos}", std::process::id());
    let _guard = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let reg = match Registry::open_postgres(&url, &PostgresOptions::with_schema(&schema)) {
        Ok(r) => r.with_credential_key(secret().credential_key()),
        Err(e) => {
            panic!("postgres::{name}: cannot reach PostgreSQL at URNA_TEST_POSTGRES_URL: {e}")
        }
    };
    assert_eq!(reg.backend_name(), "postgres");
    test(&reg);
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::with_sqlite(super::$name) })*
        }
        mod postgres {
            $(
                #[test]
                #[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
                fn $name() { super::with_postgres(stringify!($name), super::$name) }
            )*
        }
    };
}

/// With `URNA_REQUIRE_POSTGRES=1` (CI) the ignored PostgreSQL tests must have
/// been asked for, so that leaving them out fails instead of passing unseen.
#[test]
fn postgres_tests_are_run_when_required() {
    if std::env::var("URNA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        let asked = std::env::args().any(|a| a == "--include-ignored" || a == "--ignored");
        assert!(
            asked,
            "URNA_REQUIRE_POSTGRES=1 but the PostgreSQL tests are ignored: add -- --include-ignored (scripts/test.sh does)"
        );
    }
}

both!(
    import_and_lookup,
    import_errors_change_nothing,
    every_screening_rule,
    withdrawal_until_ballot,
    casting_and_withdrawal,
    sealed_lists,
    amendments_chain,
    one_time_codes,
    identity_checks_are_limited_and_alike,
    lists_and_reconciliation,
    complaints,
);
