//! `https://` URLs in the CLI's HTTP client: `urna verify URL`, `urna
//! observe` and `urna trustee --server` against a board behind a local
//! TLS front whose certificate a private CA (made here with rcgen)
//! signed. With `--ca-cert` the CA is trusted; without it the
//! certificate is refused (Mozilla's roots do not know the CA).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use urna_board::{BoardSigningKey, Entry, SignedNote, VerifierKey, verify_checkpoint};
use urna_store::BoardStore;

fn valid_entries() -> Vec<Entry> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../spec/test-vectors/records/valid/entries.bin");
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(Entry::from_bytes(bytes[at + 4..at + 4 + n].to_vec()).unwrap());
        at += 4 + n;
    }
    out
}

fn board_key() -> BoardSigningKey {
    BoardSigningKey::from_secret_bytes("test.urna.example/tls", &[42; 32]).unwrap()
}

/// A plain board on a local port; returns the port.
fn serve(entries: &[Entry], dir: &Path) -> u16 {
    let store = BoardStore::open_sqlite(dir.join("board.db"), board_key()).unwrap();
    for e in entries {
        store.append(e.clone()).unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let state = urna_server::AppState::new(store);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            urna_server::serve(l, state, std::future::pending()).await
        })
    });
    port
}

/// A private CA (PEM) and a server configuration whose certificate, for
/// 127.0.0.1 and localhost, that CA signed.
fn pki() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "urna test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
    .unwrap();
    (ca.pem(), Arc::new(config))
}

/// A TLS front for the plain server on `backend`: each connection is one
/// request (the CLI sends `Connection: close`), passed on and answered.
fn tls_front(backend: u16, config: Arc<rustls::ServerConfig>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(tcp) = c else { continue };
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                // A client that refuses the certificate ends here.
                let Some(request) = read_request(&mut tls) else {
                    return;
                };
                let mut b = TcpStream::connect(("127.0.0.1", backend)).unwrap();
                b.write_all(&request).unwrap();
                let mut answer = Vec::new();
                b.read_to_end(&mut answer).unwrap();
                let _ = tls.write_all(&answer);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

fn read_request(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut r = BufReader::new(s);
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

fn urna() -> Command {
    Command::new(env!("CARGO_BIN_EXE_urna"))
}

#[test]
fn verify_and_observe_over_https_with_a_private_ca() {
    let entries = valid_entries();
    let dir = tempfile::tempdir().unwrap();
    let plain = serve(&entries, dir.path());
    let (ca_pem, config) = pki();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let url = format!("https://127.0.0.1:{}", tls_front(plain, config));

    let out = urna()
        .args(["verify", &url, "--json", "--ca-cert"])
        .arg(&ca)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["entries"], entries.len() as u64);

    // Without the CA: the certificate is refused, nothing is read.
    let out = urna().args(["verify", &url]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");

    // The observer mirrors over TLS and its cosignature (a POST) lands.
    let out = urna()
        .args([
            "observe",
            &url,
            "--interval",
            "0.1",
            "--name",
            "tls.observer.example",
        ])
        .args([
            "--until-size",
            &entries.len().to_string(),
            "--duration",
            "60",
        ])
        .arg("--ca-cert")
        .arg(&ca)
        .arg("--key")
        .arg(dir.path().join("o.key"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let pubkey = std::fs::read_to_string(dir.path().join("o.pub")).unwrap();
    let observer_key = VerifierKey::parse(pubkey.trim()).unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", plain)).unwrap();
    write!(
        s,
        "GET /board/checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let note = raw.split_once("\r\n\r\n").unwrap().1;
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    let v = verify_checkpoint(&parsed, &board_key().verifier_key(), &[observer_key]).unwrap();
    assert_eq!(v.cosigners().count(), 1, "{note}");

    // A CA file with no certificate in it is an error of its own.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let out = urna()
        .args(["verify", &url, "--ca-cert"])
        .arg(&empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no certificate"), "{stderr}");
}

#[test]
fn a_trustee_reaches_its_server_over_https() {
    // A board without an election: the trustee's first request (the
    // manifest) is answered 404 through TLS, which shows the connection
    // works; without the CA it never gets an answer.
    let dir = tempfile::tempdir().unwrap();
    let plain = serve(&[], dir.path());
    let (ca_pem, config) = pki();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let url = format!("https://127.0.0.1:{}", tls_front(plain, config));
    let token = dir.path().join("t.token");
    std::fs::write(&token, "some-token\n").unwrap();
    let run = |extra: &[&str]| {
        let out = urna()
            .args(["trustee", "init", "--index", "1", "--server", &url])
            .arg("--store")
            .arg(dir.path().join("t.key"))
            .arg("--token-file")
            .arg(&token)
            .args(extra)
            .env("URNA_TRUSTEE_INSECURE_FAST_KDF_FOR_TESTS", "1")
            .env("URNA_TRUSTEE_PASSPHRASE", "a passphrase long enough")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stderr) = run(&["--ca-cert", ca.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("GET /election/manifest: 404"), "{stderr}");
    let (ok, stderr) = run(&[]);
    assert!(!ok);
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(!stderr.contains("404"), "{stderr}");
}
