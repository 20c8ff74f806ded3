//! The CLI's HTTP client, on ureq (blocking, rustls on ring): `urna verify
//! URL`, `urna observe`, `urna trustee --server` (GET and JSON POST over
//! `http://` or `https://`), and the agent of the demo's and `urna bench
//! cast`'s simulated devices (`demo::http_client`). The server's certificate
//! must chain to Mozilla's roots or to the CAs given with `--ca-cert`.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

/// Largest response body accepted (a full entry bundle is at most
/// 256 × 64 KiB; JSON pages are smaller).
pub const MAX_BODY: u64 = 32 << 20;

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
    /// The body.
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
static EXTRA_CAS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();

/// Trusts the CA certificates in the PEM file `path` (a private CA) for
/// every `https://` request of this process, besides Mozilla's roots.
/// Call before the first request.
pub fn trust_ca_file(path: &Path) -> anyhow::Result<()> {
    let pem = std::fs::read(path).with_context(|| format!("--ca-cert {}", path.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(c) =
            item.map_err(|e| anyhow!("--ca-cert {}: {e}", path.display()))?
        {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        bail!("--ca-cert {}: no certificate in the file", path.display());
    }
    EXTRA_CAS
        .set(certs)
        .map_err(|_| anyhow!("--ca-cert given after the first request"))
}

/// Mozilla's roots, plus the `--ca-cert` CAs if any. ureq takes either its
/// bundled Mozilla trust anchors or a list of certificates, so with extra
/// CAs the list is Mozilla's roots as certificates (webpki-root-certs, the
/// same set) followed by the extra ones.
fn root_certs() -> RootCerts {
    let extra = EXTRA_CAS.get_or_init(Vec::new);
    if extra.is_empty() {
        return RootCerts::WebPki;
    }
    let mozilla = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned());
    RootCerts::new_with_certs(&mozilla.chain(extra.iter().cloned()).collect::<Vec<_>>())
}

/// An agent: statuses are answers (not errors), no redirects followed, no
/// proxy from the environment (the URL given is the server spoken to),
/// small requests sent at once (no Nagle delay), bodies up to [`MAX_BODY`].
/// `idle` connections per host are kept alive for reuse (0: one request
/// per connection).
pub fn agent(idle: usize) -> ureq::Agent {
    let tls = TlsConfig::builder().root_certs(root_certs()).build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .proxy(None)
        .no_delay(true)
        .user_agent("urna")
        .max_idle_connections(idle)
        .max_idle_connections_per_host(idle)
        .build()
        .into()
}

/// The agent of the CLI's one-off requests, built at the first request
/// (after `--ca-cert` was read).
fn cli_agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| agent(0))
}

/// Runs `req` on the CLI's agent: `limit` bounds connecting and each read
/// and write.
fn run(
    req: ureq::http::Request<impl ureq::AsSendBody>,
    limit: Duration,
) -> Result<(u16, Vec<u8>), ureq::Error> {
    let agent = cli_agent();
    let req = agent
        .configure_request(req)
        .timeout_connect(Some(limit.min(Duration::from_secs(10))))
        .timeout_per_read(Some(limit))
        .timeout_per_write(Some(limit))
        .build();
    agent.run(req).and_then(read_body)
}

/// Reads a whole response of at most [`MAX_BODY`] bytes.
pub fn read_body(resp: ureq::http::Response<ureq::Body>) -> Result<(u16, Vec<u8>), ureq::Error> {
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .into_with_config()
        .limit(MAX_BODY)
        .read_to_vec()?;
    Ok((status, body))
}

/// A request with a JSON body (empty if `None`) and, if given, a bearer
/// token (not kept beyond the call). `limit` bounds connecting and each
/// read and write (progress, not the whole transfer).
pub fn send(
    base: &BaseUrl,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    bearer: Option<&str>,
    limit: Duration,
) -> anyhow::Result<Response> {
    let url = base.url(path);
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(&url)
        // One request per connection, as before: the CLI polls now and then.
        .header("connection", "close");
    if let Some(t) = bearer {
        let value = Zeroizing::new(format!("Bearer {t}"));
        req = req.header("authorization", value.as_str());
    }
    let what = || format!("{method} {url}");
    let (status, body) = match body {
        Some(b) => run(
            req.header("content-type", "application/json")
                .body(b.to_vec())
                .with_context(what)?,
            limit,
        ),
        None => run(req.body(()).with_context(what)?, limit),
    }
    .with_context(what)?;
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
}
