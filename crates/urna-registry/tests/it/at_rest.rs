//! A stolen registry database does not tell who voted
//! (spec/registration.md §G4 "Credentials at rest"; issue 12 item 7;
//! docs/threat-model.md, "Database thief"): after a whole run —
//! applications, credentials registered, ballots being cast and marked,
//! paper votes, the reconciliation — no public credential appears in the
//! database in the clear, raw or in hex, nor any document number, on
//! either backend; the reconciliation still names the double voters'
//! credentials, and another secret cannot open them.

use urna_election::{Manifest, Timestamp};
use urna_registry::screening::{Application, Decision, Rules};
use urna_registry::store::PostgresOptions;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry};

const MANIFEST: &[u8] = include_bytes!("../../../../examples/moscow-2020-constitution.toml");
const CONFIG: &str = "participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 3\n";
const MSK: &str =
    "voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created
m1,Иванов Иван Иванович,1980-01-02,4508 123456,+79161234567,ivan@example.org,uik-0001,2015-03-04
m2,Петрова Анна Сергеевна,1975-05-06,4509 654321,+79161112233,,uik-0002,2018-07-08
m3,Сидоров Пётр Алексеевич,1990-12-31,4510 111111,+79161112244,,uik-0301,2019-01-01
";
const DOCUMENTS: [&str; 3] = ["4508123456", "4509654321", "4510111111"];

/// Valid ristretto255 encodings (RFC 9496 A.1: B, 2B, 3B).
const CREDS: [&str; 3] = [
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
];

fn cred(i: usize) -> [u8; 32] {
    let mut b = [0u8; 32];
    hex::decode_to_slice(CREDS[i], &mut b).unwrap();
    b
}

fn secret() -> CommissionSecret {
    CommissionSecret::from_bytes([42; 32])
}

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2020-06-10T12:00:00+03:00").unwrap()
}

/// A run through every step that touches credentials.
fn run(reg: &Registry) {
    let m = Manifest::from_bytes(MANIFEST).unwrap();
    let g = Geography::of(&m);
    let rules = Rules::new(
        RegistrationConfig::from_bytes(CONFIG.as_bytes()).unwrap(),
        &m,
    )
    .unwrap();
    reg.import_csv("msk.csv", "msk", &g, &secret(), MSK.as_bytes(), now())
        .unwrap();
    let people = [
        ("Иванов Иван Иванович", "1980-01-02", "+79161234567"),
        ("Петрова Анна Сергеевна", "1975-05-06", "+79161112233"),
        ("Сидоров Пётр Алексеевич", "1990-12-31", "+79161112244"),
    ];
    for (i, (name, birth, phone)) in people.iter().enumerate() {
        let a = Application::new(&secret(), name, birth, DOCUMENTS[i], phone, None).unwrap();
        assert_eq!(reg.apply(&rules, &a, now()).unwrap().0, Decision::Approved);
        reg.register_credential(&format!("m{}", i + 1), &cred(i))
            .unwrap();
    }
    assert_eq!(
        reg.standing(&[cred(0), cred(1), cred(2), [7; 32]]).unwrap(),
        [true, true, true, false]
    );
    let sealed = reg.sealed_credentials(&g).unwrap();
    let mut all: Vec<[u8; 32]> = sealed.iter().flat_map(|(_, l)| l.clone()).collect();
    all.sort_unstable();
    let mut want = [cred(0), cred(1), cred(2)];
    want.sort_unstable();
    assert_eq!(all, want);
    // m1 and m2 vote online; m3's ballot is still being cast.
    for i in 0..3 {
        reg.reserve_cast(&cred(i)).unwrap();
    }
    assert!(reg.mark_voted(&cred(0)).unwrap());
    assert!(reg.mark_voted(&cred(1)).unwrap());
    assert_eq!(reg.casting().unwrap(), vec![(cred(2), 1)]);
    // m1 also voted on paper.
    reg.import_paper_votes("p.csv", "uik-0001", &g, "voter_id\nm1\n".as_bytes())
        .unwrap();
    let both = reg.double_votes().unwrap();
    assert_eq!(both.len(), 1);
    assert_eq!(
        (both[0].voter_id.as_str(), both[0].credential),
        ("m1", cred(0))
    );
}

/// No credential (raw bytes, lower- or upper-case hex) and no document
/// number is in `dump`.
fn assert_clean(dump: &[u8]) {
    let has = |needle: &[u8]| dump.windows(needle.len()).any(|w| w == needle);
    for (i, hex) in CREDS.iter().enumerate() {
        assert!(!has(&cred(i)), "credential {i} in the clear");
        assert!(!has(hex.as_bytes()), "credential {i} in hex");
        assert!(!has(hex.to_uppercase().as_bytes()), "credential {i} in HEX");
    }
    for d in DOCUMENTS {
        assert!(!has(d.as_bytes()), "document {d} in the clear");
    }
}

#[test]
fn sqlite_dump_holds_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    {
        let reg = Registry::open_sqlite(&path)
            .unwrap()
            .with_credential_key(secret().credential_key());
        run(&reg);
        // The dump while the database is open: the WAL holds recent pages.
        let mut dump = Vec::new();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            dump.extend(std::fs::read(f.unwrap().path()).unwrap());
        }
        assert!(dump.len() > 4096);
        // The test can fail: the phone numbers are there in the clear.
        assert!(dump.windows(12).any(|w| w == b"+79161234567"));
        assert_clean(&dump);
    }
    // Reopened without the key, nothing that needs a credential works;
    // with another secret the sealed credentials do not open.
    let bare = Registry::open_sqlite(&path).unwrap();
    assert_eq!(bare.double_votes().unwrap_err().code(), "no_credential_key");
    assert_eq!(
        bare.may_cast(&cred(0)).unwrap_err().code(),
        "no_credential_key"
    );
    let other = Registry::open_sqlite(&path)
        .unwrap()
        .with_credential_key(CommissionSecret::from_bytes([1; 32]).credential_key());
    assert!(other.double_votes().unwrap_err().is_internal());
    assert_eq!(other.standing(&[cred(0)]).unwrap(), [false]);
    let mut dump = Vec::new();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        dump.extend(std::fs::read(f.unwrap().path()).unwrap());
    }
    assert_clean(&dump);
}

/// Every row of every table of the schema, as PostgreSQL prints it
/// (`bytea` as `\x` and lower-case hex).
fn pg_dump(url: &str, schema: &str) -> Vec<u8> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(tables.len() >= 10, "{tables:?}");
    let mut out = Vec::new();
    for t in tables {
        for r in c
            .query(&format!("SELECT t::text FROM {schema}.{t} t"), &[])
            .unwrap()
        {
            out.extend(r.get::<_, String>(0).into_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[test]
#[ignore = "needs PostgreSQL: scripts/test.sh starts one and runs these (or set URNA_TEST_POSTGRES_URL, add -- --include-ignored)"]
fn postgres_dump_holds_no_credential() {
    let require = std::env::var("URNA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Some(url) = std::env::var("URNA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            !require,
            "URNA_REQUIRE_POSTGRES=1 but URNA_TEST_POSTGRES_URL is not set"
        );
        eprintln!(
            "!!! SKIPPED postgres_dump_holds_no_credential: URNA_TEST_POSTGRES_URL is not set"
        );
        return;
    };
    let schema = format!("urna_test_at_rest_{}", std::process::id());
    let reg = match Registry::open_postgres(&url, &PostgresOptions::with_schema(&schema)) {
        Ok(r) => r.with_credential_key(secret().credential_key()),
        Err(e) => {
            assert!(
                !require,
                "URNA_REQUIRE_POSTGRES=1 but PostgreSQL is unreachable: {e}"
            );
            eprintln!("!!! SKIPPED postgres_dump_holds_no_credential: {e}");
            return;
        }
    };
    run(&reg);
    let dump = pg_dump(&url, &schema);
    assert!(dump.windows(12).any(|w| w == b"+79161234567"));
    assert_clean(&dump);
    drop(reg);
    urna_registry::store::drop_postgres_schema(&url, &schema).unwrap();
}
