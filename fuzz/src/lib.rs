//! The fuzz targets' bodies, one function per parser that takes outside
//! bytes; `src/bin/<name>.rs` feeds each to cargo-afl. A target must
//! never panic: every input is either parsed or refused with an error.
//! Where a parser has an encoder, what it accepts must re-encode to the
//! same bytes (one canonical encoding, spec/crypto.md §2.3).

#![forbid(unsafe_code)]

use std::sync::OnceLock;

use urna_board::{BoardSigningKey, Checkpoint, Entry, EntryKind, SignedNote, VerifierKey};

/// The board key the note and record targets sign with.
fn board_key() -> &'static BoardSigningKey {
    static KEY: OnceLock<BoardSigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        BoardSigningKey::from_secret_bytes("fuzz.example/board", &[7; 32])
            .unwrap_or_else(|e| panic!("fixed key: {e}"))
    })
}

/// Ballot decoding (spec/crypto.md §7.3).
pub fn ballot(data: &[u8]) {
    use urna_crypto::ballot::Ballot;
    if let Ok(b) = Ballot::decode(data) {
        let again = b.encode().unwrap_or_else(|e| panic!("re-encoding: {e}"));
        assert_eq!(again, data, "a ballot with two encodings");
    }
    let _ = Ballot::decode_deferred(data);
}

/// Board entries (spec/board.md §B5.1) and every payload decoder of
/// spec/record.md behind them.
pub fn entry(data: &[u8]) {
    use urna_election::record::commission::{AnswerEntry, ComplaintEntry, PrecinctListEntry};
    use urna_election::record::observers::ObserverList;
    use urna_election::record::*;
    let Ok(e) = Entry::from_bytes(data.to_vec()) else {
        return;
    };
    let p = e.payload();
    let _ = match e.kind() {
        EntryKind::ElectionManifest => ManifestChunk::decode(p).map(|_| ()),
        EntryKind::TrusteeCeremony => CeremonyMessage::decode(p).map(|_| ()),
        EntryKind::CredentialList => CredentialChunk::decode(p).map(|_| ()),
        EntryKind::VotingOpened => VotingOpened::decode(p).map(|_| ()),
        EntryKind::VotingClosed => VotingClosed::decode(p).map(|_| ()),
        EntryKind::AuditedBallot => AuditedBallot::decode(p).map(|_| ()),
        EntryKind::Reconciliation => ReconciliationChunk::decode(p).map(|_| ()),
        EntryKind::PartialDecryption => PartialChunk::decode(p).map(|_| ()),
        EntryKind::Results => ResultsChunk::decode(p).map(|_| ()),
        EntryKind::Complaint => ComplaintEntry::decode(p).map(|_| ()),
        EntryKind::ComplaintAnswer => AnswerEntry::decode(p).map(|_| ()),
        EntryKind::AdminAction => match p.get(1) {
            Some(2) => PrecinctListEntry::decode(p).map(|_| ()),
            Some(3) => ObserverList::decode(p).map(|l| {
                let again = l.encode().unwrap_or_else(|e| panic!("re-encoding: {e}"));
                assert_eq!(again, p, "an observer list with two encodings");
            }),
            _ => TallyChunk::decode(p).map(|_| ()),
        },
        EntryKind::Ballot => {
            ballot(p);
            Ok(())
        }
        _ => Ok(()),
    };
}

/// Signed notes, checkpoints and verifier keys (spec/board.md §B6–§B7).
pub fn note(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(first) = text.lines().next()
        && let Ok(k) = VerifierKey::parse(first)
    {
        assert_eq!(k.to_string(), first, "a verifier key with two forms");
    }
    if let Ok(n) = SignedNote::parse(data) {
        let _ = Checkpoint::parse(n.text());
        let _ = urna_board::verify_checkpoint(&n, &board_key().verifier_key(), &[]);
        let _ = n.to_text();
    }
}

/// Tile paths and tile bodies (spec/board.md §B8, C2SP tlog-tiles).
pub fn tile(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (path, body) = data.split_at(split);
    if let Ok(p) = std::str::from_utf8(path)
        && let Ok(t) = urna_board::parse_tile_path(p)
    {
        let _ = format!("{t:?}");
        if let urna_board::TilePath::Hashes(id) = t {
            let _ = id.decode(body.get(1..).unwrap_or(&[]));
        }
    }
}

/// The election manifest, TOML (spec/manifest.md).
pub fn manifest(data: &[u8]) {
    let _ = urna_election::Manifest::from_bytes(data);
}

/// A registry CSV file (spec/registration.md, `urna registry import`).
pub fn registry_csv(data: &[u8]) {
    use urna_registry::import::RowReader;
    use urna_registry::{CommissionSecret, Geography};
    static GEO: OnceLock<Geography> = OnceLock::new();
    let geo = GEO.get_or_init(|| {
        let m = urna_election::Manifest::from_bytes(include_bytes!(
            "../../examples/moscow-2020-constitution.toml"
        ))
        .unwrap_or_else(|e| panic!("example manifest: {e}"));
        Geography::of(&m)
    });
    let secret = CommissionSecret::from_bytes([9; 32]);
    let region = geo.districts().first().cloned().unwrap_or_default();
    for row in RowReader::new("fuzz.csv", &region, geo, &secret, data).take(10_000) {
        let _ = row;
    }
}

/// A signed registry amendment file (spec/registration.md §G9).
pub fn amendment(data: &[u8]) {
    use urna_registry::amendment::{Amendment, SignedAmendment};
    if let Ok(a) = Amendment::decode(data)
        && let Ok(again) = a.encode()
    {
        assert_eq!(again, data, "an amendment with two encodings");
    }
    let _ = SignedAmendment::from_file(data);
}

/// DKG messages (spec/crypto.md §8.8) and their §R3 envelope.
pub fn dkg(data: &[u8]) {
    use urna_crypto::dkg::{Complaint, Round1Message, Round2Message};
    if let Ok(m) = Round1Message::decode(data) {
        assert_eq!(m.encode(), data, "a round 1 message with two encodings");
    }
    if let Ok(m) = Round2Message::decode(data) {
        assert_eq!(m.encode(), data, "a round 2 message with two encodings");
    }
    let _ = Complaint::decode(data);
    let _ = urna_election::record::CeremonyMessage::decode(data);
}

/// Trustee payload files and the key store's state (spec/trustee.md §T3–§T4).
pub fn trustee(data: &[u8]) {
    let _ = urna_trustee::payloads::decode(data);
    let _ = urna_trustee::state::TrusteeState::decode(data);
}

/// A whole record, `entries.bin` (spec/export.md §X2), under a
/// checkpoint signed for exactly those entries, through the verifier.
pub fn record(data: &[u8]) {
    use urna_board::{Frontier, leaf_hash};
    let mut frontier = Frontier::new();
    let mut at = 0usize;
    while let Some(len) = data.get(at..at + 4) {
        let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let Some(e) = data.get(at + 4..at + 4 + n) else {
            break;
        };
        if frontier.push(leaf_hash(e)).is_err() {
            return;
        }
        at += 4 + n;
    }
    let Ok(cp) = Checkpoint::new(board_key().name(), frontier.size(), frontier.root()) else {
        return;
    };
    let Ok(note) = urna_board::sign_checkpoint(board_key(), &cp) else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let entries = dir.path().join("entries.bin");
    if std::fs::write(&entries, data).is_err() {
        return;
    }
    let text = note.to_text().into_bytes();
    let source = urna_verify::Source {
        name: "fuzz".into(),
        board_key: board_key().verifier_key().to_string(),
        checkpoints: Vec::new(),
        entries: Box::new(std::io::Cursor::new(data.to_vec())),
        total_bytes: Some(data.len() as u64),
        reread: entries,
        final_checkpoint: Box::new(move || Ok(text)),
    };
    let report = urna_verify::verify_source(source, urna_verify::Options::default());
    let _ = report.to_json();
}

/// HTTP request bodies through the real router, in process: the first
/// byte picks the endpoint, the rest is the body.
pub fn http(data: &[u8]) {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    const ENDPOINTS: &[(&str, &str)] = &[
        ("POST", "/election/ballots"),
        ("POST", "/election/audits"),
        ("POST", "/board/cosignature"),
        ("POST", "/election/manifest"),
        ("POST", "/election/credentials"),
        ("POST", "/election/trustees/1/ceremony"),
        ("POST", "/election/trustees/1/partials"),
        ("POST", "/election/reconciliation"),
        ("GET", "/board/entries?start=0&end=2"),
        ("GET", "/board/proof/inclusion?index=0&size=1"),
    ];
    struct Env {
        rt: tokio::runtime::Runtime,
        app: axum::Router,
        _dir: tempfile::TempDir,
    }
    static ENV: OnceLock<Env> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store = urna_store::BoardStore::open_sqlite(dir.path().join("board.db"), {
            BoardSigningKey::from_secret_bytes("fuzz.example/http", &[8; 32])
                .unwrap_or_else(|e| panic!("key: {e}"))
        })
        .unwrap_or_else(|e| panic!("store: {e}"));
        let config = urna_server::ElectionConfig::new(urna_server::election::AdminToken::new(
            "fuzz-admin-token",
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        // Inside the runtime: the election service may start tasks.
        let app = rt.block_on(async {
            urna_server::app(urna_server::AppState::with_election(store, config))
        });
        Env { rt, app, _dir: dir }
    });
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, uri) = ENDPOINTS[usize::from(pick) % ENDPOINTS.len()];
    let Ok(req) = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, "Bearer fuzz-admin-token")
        .body(Body::from(body.to_vec()))
    else {
        return;
    };
    let status = env.rt.block_on(async {
        let resp = env.app.clone().oneshot(req).await;
        resp.map(|r| r.status())
    });
    let Ok(s) = status;
    assert!(!s.is_server_error(), "{method} {uri}: {s}");
}
