//! A small blocking HTTP/1.1 client for the board's public API and the
//! trustee endpoints: enough for `urna verify URL`, `urna observe` and
//! `urna trustee --server` (GET and JSON POST, over `http://` or
//! `https://`), without pulling an HTTP client stack into the verifier's
//! dependencies. TLS is rustls: the server's certificate must chain to
//! Mozilla's roots (webpki-roots) or to the CAs given with `--ca-cert`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use zeroize::Zeroizing;

/// Largest response body accepted (a full entry bundle is at most
/// 256 × 64 KiB; JSON pages are smaller).
const MAX_BODY: usize = 32 << 20;

/// A base URL `http[s]://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    tls: bool,
    host: String,
    port: u16,
    prefix: String,
}

impl BaseUrl {
    /// Parses `http[s]://host[:port][/prefix]`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let (tls, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => bail!("{url:?}: expected an http:// or https:// URL"),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            bail!("{url:?}: no host");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h.to_owned(),
                p.parse()
                    .with_context(|| format!("{url:?}: bad port {p:?}"))?,
            ),
            _ => (authority.to_owned(), if tls { 443 } else { 80 }),
        };
        Ok(BaseUrl {
            tls,
            host,
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{self}{path}")
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.prefix)
    }
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The body if the status is 200, else an error with the server's words.
    pub fn ok(self, what: &str) -> anyhow::Result<Vec<u8>> {
        if self.status == 200 {
            return Ok(self.body);
        }
        let text = String::from_utf8_lossy(&self.body);
        bail!(
            "{what}: HTTP {}: {}",
            self.status,
            text.chars().take(300).collect::<String>()
        )
    }
}

/// GET `path` under `base`.
pub fn get(base: &BaseUrl, path: &str) -> anyhow::Result<Response> {
    send(base, "GET", path, None, None, Duration::from_secs(60))
}

/// `POST` of a JSON body.
pub fn post_json(base: &BaseUrl, path: &str, body: &[u8]) -> anyhow::Result<Response> {
    send(
        base,
        "POST",
        path,
        Some(body),
        None,
        Duration::from_secs(60),
    )
}

/// `GET` that gives up after `limit` without progress (connecting,
/// reading or writing): for peers that must not hold up the caller.
pub fn get_within(base: &BaseUrl, path: &str, limit: Duration) -> anyhow::Result<Response> {
    send(base, "GET", path, None, None, limit)
}

/// CA certificates (PEM) trusted besides Mozilla's roots, from `--ca-cert`.
static EXTRA_CAS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// Trusts the CA certificates in the PEM file `path` (a private CA) for
/// every `https://` request of this process, besides Mozilla's roots.
/// Call before the first request.
pub fn trust_ca_file(path: &Path) -> anyhow::Result<()> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("--ca-cert {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("--ca-cert {}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!("--ca-cert {}: no certificate in the file", path.display());
    }
    EXTRA_CAS
        .set(certs)
        .map_err(|_| anyhow!("--ca-cert given after the first request"))
}

/// The TLS client configuration, built once.
fn tls_config() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for c in EXTRA_CAS.get_or_init(Vec::new) {
                roots
                    .add(c.clone())
                    .map_err(|e| format!("--ca-cert: {e}"))?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
        .map_err(|e| anyhow!("TLS: {e}"))
}

/// A connection, plain or TLS.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(base: &BaseUrl, limit: Duration) -> anyhow::Result<Box<dyn Stream>> {
    let addr = (base.host.as_str(), base.port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {}", base.host))?
        .next()
        .ok_or_else(|| anyhow!("{} resolves to no address", base.host))?;
    let tcp = TcpStream::connect_timeout(&addr, limit.min(Duration::from_secs(10)))
        .with_context(|| format!("connecting to {base}"))?;
    tcp.set_read_timeout(Some(limit))?;
    tcp.set_write_timeout(Some(limit))?;
    if !base.tls {
        return Ok(Box::new(tcp));
    }
    let name = ServerName::try_from(base.host.trim_start_matches('[').trim_end_matches(']'))
        .map_err(|e| anyhow!("{base}: not a TLS server name: {e}"))?
        .to_owned();
    let conn = rustls::ClientConnection::new(tls_config()?, name)
        .with_context(|| format!("starting TLS with {base}"))?;
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

/// A request with a JSON body (empty if `None`) and, if given, a bearer
/// token (not kept beyond the call).
pub fn send(
    base: &BaseUrl,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    bearer: Option<&str>,
    limit: Duration,
) -> anyhow::Result<Response> {
    let mut stream = connect(base, limit)?;
    let mut head = Zeroizing::new(format!(
        "{method} {}{path} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: urna\r\nAccept: */*\r\nConnection: close\r\n",
        base.prefix, base.host, base.port
    ));
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    } else if method != "GET" {
        head.push_str("Content-Length: 0\r\n");
    }
    if let Some(t) = bearer {
        head.push_str("Authorization: Bearer ");
        head.push_str(t);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let what = || format!("{method} {}", base.url(path));
    stream.write_all(head.as_bytes()).with_context(what)?;
    if let Some(b) = body {
        stream.write_all(b).with_context(what)?;
    }
    stream.flush().with_context(what)?;
    read_response(BufReader::new(stream)).with_context(what)
}

fn read_response(mut r: impl BufRead) -> anyhow::Result<Response> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("not an HTTP response: {:?}", line.trim_end()))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            bail!("connection closed inside the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().context("bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim_end().split(';').next().unwrap_or(""), 16)
                .context("bad chunk size")?;
            if size == 0 {
                break;
            }
            if body.len() + size > MAX_BODY {
                bail!("response body above {MAX_BODY} bytes");
            }
            let at = body.len();
            body.resize(at + size, 0);
            r.read_exact(&mut body[at..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        if n > MAX_BODY {
            bail!("response body above {MAX_BODY} bytes");
        }
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.take(MAX_BODY as u64 + 1).read_to_end(&mut body)?;
        if body.len() > MAX_BODY {
            bail!("response body above {MAX_BODY} bytes");
        }
    }
    Ok(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let b = BaseUrl::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(b.url("/board/key"), "http://127.0.0.1:8080/board/key");
        let b = BaseUrl::parse("http://example.org/urna").unwrap();
        assert_eq!(b.url("/x"), "http://example.org:80/urna/x");
        let b = BaseUrl::parse("https://example.org/urna").unwrap();
        assert_eq!(b.url("/x"), "https://example.org:443/urna/x");
        assert!(BaseUrl::parse("ftp://example.org").is_err());
        assert!(BaseUrl::parse("http://").is_err());
        assert!(BaseUrl::parse("http://h:notaport").is_err());
    }

    #[test]
    fn responses_by_length_and_chunks() {
        let r = read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef"[..]).unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"abc"[..]));
        let r = read_response(
            &b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!((r.status, &r.body[..]), (404, &b"abc"[..]));
        assert!(read_response(&b"garbage\r\n\r\n"[..]).is_err());
    }
}
