//! The election API client (spec/api.md) of the demo's simulated devices,
//! commission and trustees, and of `urna bench cast`: the CLI's ureq client
//! (`urna_observe::http`) with connections pooled and kept alive, as a browser
//! would. The demo drives thousands of devices from async tasks; each
//! blocking request runs on tokio's blocking-thread pool, so the number of
//! requests in flight is the demo's `--concurrency`.

use anyhow::{Context, anyhow};
use serde::de::DeserializeOwned;
use ureq::http::{Method, Request, StatusCode, header};

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The stable error code of a refusal (`{"error":{"code":...}}`), if any.
    pub fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        v.get("error")?.get("code")?.as_str().map(str::to_owned)
    }

    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Idle connections kept for reuse: more than any `--concurrency` used.
const POOL: usize = 4096;

/// A client of one server; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Api {
    agent: ureq::Agent,
    base: String,
    admin_token: Option<String>,
}

impl Api {
    /// A client of `http://{addr}`; `admin_token` is sent only on admin calls.
    /// Must be used inside a tokio runtime (requests run on its blocking pool).
    pub fn new(addr: std::net::SocketAddr, admin_token: Option<String>) -> Self {
        Api {
            agent: urna_observe::http::agent(POOL),
            base: format!("http://{addr}"),
            admin_token,
        }
    }

    /// Sends one request; any status is a `Reply`, only transport failures are errors.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        admin: bool,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> anyhow::Result<Reply> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base));
        if admin && let Some(t) = &self.admin_token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let agent = self.agent.clone();
        let what = format!("{method} {path}");
        let sent = match body {
            Some((content_type, bytes)) => {
                let req = req
                    .header(header::CONTENT_TYPE, content_type)
                    .body(bytes)
                    .with_context(|| format!("building {what}"))?;
                tokio::task::spawn_blocking(move || {
                    agent.run(req).and_then(urna_observe::http::read_body)
                })
                .await
            }
            None => {
                let req = req.body(()).with_context(|| format!("building {what}"))?;
                tokio::task::spawn_blocking(move || {
                    agent.run(req).and_then(urna_observe::http::read_body)
                })
                .await
            }
        };
        let (status, body) = sent
            .map_err(|e| anyhow!("{what}: the request's thread failed: {e}"))?
            .with_context(|| what.clone())?;
        let status = StatusCode::from_u16(status).with_context(|| what.clone())?;
        Ok(Reply { status, body })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send(Method::GET, path, false, None).await
    }

    /// `POST path` with a JSON body (or none).
    pub async fn post_json(
        &self,
        path: &str,
        admin: bool,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Reply> {
        let body = match body {
            Some(v) => Some(("application/json", serde_json::to_vec(v)?)),
            None => None,
        };
        self.send(Method::POST, path, admin, body).await
    }

    /// `GET path`, which must succeed, parsed as JSON.
    pub async fn get_ok<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        parse_ok("GET", path, self.get(path).await?)
    }

    /// `POST path` (admin or not), which must succeed, parsed as JSON.
    pub async fn post_ok<T: DeserializeOwned>(
        &self,
        path: &str,
        admin: bool,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        parse_ok("POST", path, self.post_json(path, admin, body).await?)
    }
}

/// A successful answer parsed as JSON; a refusal becomes an error naming
/// the status, the code and the server's sentence.
pub fn parse_ok<T: DeserializeOwned>(method: &str, path: &str, r: Reply) -> anyhow::Result<T> {
    if !r.status.is_success() {
        return Err(anyhow!("{method} {path}: {} {}", r.status, r.text()));
    }
    serde_json::from_slice(&r.body)
        .with_context(|| format!("{method} {path}: the answer is not the expected JSON"))
}
