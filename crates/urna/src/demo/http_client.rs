//! A small HTTP/1.1 client for the election API (spec/api.md), used by the
//! demo's simulated devices, commission and trustees, and by `urna bench
//! cast`. Connections are pooled and kept alive, as a browser would.

use anyhow::{Context, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::http::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

/// An answer: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
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

/// A client of one server; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    admin_token: Option<String>,
}

impl Api {
    /// A client of `http://{addr}`; `admin_token` is sent only on admin calls.
    /// Must be created inside a tokio runtime (connections run as tasks on it).
    pub fn new(addr: std::net::SocketAddr, admin_token: Option<String>) -> Self {
        let mut connector = HttpConnector::new();
        // Small JSON requests and answers: Nagle's algorithm would add 40 ms.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Api {
            client,
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
        let req = match body {
            Some((content_type, bytes)) => req
                .header(header::CONTENT_TYPE, content_type)
                .body(Full::new(Bytes::from(bytes))),
            None => req.body(Full::new(Bytes::new())),
        }
        .with_context(|| format!("building {method} {path}"))?;
        let resp = self
            .client
            .request(req)
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?
            .to_bytes();
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
