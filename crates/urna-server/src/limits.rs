//! What one client may hold of the server (spec/api.md §A8): a deadline
//! for each request head, a read timeout for request bodies, and a bound
//! on open connections per client address and in all. Without them a few
//! hundred clients that trickle a header byte every few seconds, or
//! announce a body they never send, hold connections (and file
//! descriptors) for ever while honest voters queue behind them.
//!
//! The pieces are hyper's own: the HTTP/1.1 connection's
//! `header_read_timeout` (which also bounds how long an idle keep-alive
//! connection waits for its next request) and tower-http's
//! `RequestBodyTimeoutLayer`. `axum::serve` configures neither, so the
//! accept loop is here; what is written by hand is only the connection
//! count, which no crate keeps per client address.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Connection and read limits of [`serve`] (spec/api.md §A8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time from the first byte a connection waits for until the whole
    /// request head (request line and headers) has arrived; also how long
    /// an idle keep-alive connection is kept. Default 10 s.
    pub header_timeout: Duration,
    /// Longest wait for the next piece of a request body. Default 30 s.
    pub body_timeout: Duration,
    /// Open connections in all. Default 4096.
    pub max_connections: usize,
    /// Open connections from one client IP address. Default 256 (voters
    /// behind one carrier-grade NAT share an address).
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: 256,
        }
    }
}

/// The open connections, in all and per client address.
#[derive(Debug, Default)]
struct Gate {
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
struct Slot {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Gate {
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Result<Slot, &'static str> {
        let mut g = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if g.0 >= limits.max_connections {
            return Err("The server holds as many connections as it accepts; try again shortly.");
        }
        let mine = g.1.entry(ip).or_insert(0);
        if *mine >= limits.max_connections_per_address {
            return Err(
                "Too many open connections from your address; close some or try again shortly.",
            );
        }
        *mine += 1;
        g.0 += 1;
        Ok(Slot {
            gate: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        g.0 = g.0.saturating_sub(1);
        if let Some(n) = g.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                g.1.remove(&self.ip);
            }
        }
    }
}

/// The answer to a connection over the limits: 503 with the JSON error
/// body of spec/api.md §A1.
fn refusal(message: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": { "code": "too_many_connections", "message": message }
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a connection over the limits and closes it. The request is
/// read for a moment first (at most 100 ms and 16 KiB): closing a socket
/// with unread bytes sends a reset, which may destroy the answer.
async fn refuse(mut stream: tokio::net::TcpStream, why: &'static str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 16 * 1024];
    let _ = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await;
    let _ = tokio::time::timeout(Duration::from_millis(100), async {
        stream.write_all(&refusal(why)).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves `router` on `listener` under `limits` until `shutdown`
/// resolves, then lets open requests finish. Requests carry the client's
/// address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    let gate = Arc::new(Gate::default());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors or a connection reset before
                    // it was accepted: keep serving the others.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match gate.admit(addr.ip(), &limits) {
            Ok(s) => s,
            Err(why) => {
                tokio::spawn(refuse(stream, why));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |req: Request<Incoming>| with_peer(req, addr));
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection from {addr}: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn with_peer(req: Request<Incoming>, addr: SocketAddr) -> Request<Body> {
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}
