//! Requests by seat: the sequencer serves all; a follower serves reads
//! from its replica, checks ballots and forwards them, and forwards every
//! other call to the sequencer (spec/api.md §A9.2).

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower::ServiceExt;

use super::{Node, Seat};
use crate::election::peer::{self, PeerCheck};
use crate::error::ApiError;

/// The internal endpoint a follower forwards checked ballots to.
const INTERNAL_BALLOTS: &str = "/internal/cluster/ballots";

/// Most bytes of a forwarded request body (the largest body limit of
/// spec/api.md §A1.4 is far below).
const MAX_FORWARD: usize = 64 << 20;

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "sequencer_unavailable",
        "No server is sequencing the board right now; try again in a few seconds.",
    )
}

/// Every request not routed otherwise.
pub(crate) async fn dispatch(State(node): State<Node>, req: Request) -> Response {
    let view = node.view();
    match view.seat {
        Some(Seat::Sequencer { router, .. }) => match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        Some(Seat::Follower) => {
            let sequencer = view.sequencer.map(|(a, _)| a);
            if req.method() == Method::POST && req.uri().path() == "/election/ballots" {
                let replica = view.replica.map(|(s, _)| s);
                return follower_cast(&node, req, replica, sequencer).await;
            }
            if matches!(*req.method(), Method::GET | Method::HEAD)
                && let Some((_, router)) = view.replica
            {
                // The replica may lag the board by a moment: what it does
                // not know yet (a receipt just given, a new entry), the
                // sequencer answers.
                let (parts, body) = req.into_parts();
                let again = Request::from_parts(parts.clone(), Body::empty());
                let resp = match router.oneshot(Request::from_parts(parts, body)).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                if resp.status() != StatusCode::NOT_FOUND {
                    return resp;
                }
                return forward(&node, sequencer, again, None).await;
            }
            forward(&node, sequencer, req, None).await
        }
        Some(Seat::Starting) | None => unavailable().into_response(),
    }
}

/// A ballot sent to a follower: checked here, then forwarded.
async fn follower_cast(
    node: &Node,
    req: Request,
    replica: Option<crate::AppState>,
    sequencer: Option<String>,
) -> Response {
    let (parts, body) = req.into_parts();
    let limit = crate::json::limit::ENTRY;
    let Ok(bytes) = to_bytes(body, limit).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The request body is larger than the {limit} bytes this endpoint takes."),
        )
        .into_response();
    };
    let ballot = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("ballot")?.as_str().and_then(|h| hex::decode(h).ok()));
    let verdict = match (ballot, &replica) {
        (Some(ballot), Some(replica)) => peer::check(&replica.election, ballot).await,
        // Malformed bodies get the sequencer's precise refusal.
        _ => PeerCheck::SequencerDecides,
    };
    let mut req = Request::from_parts(parts, Body::empty());
    match verdict {
        PeerCheck::Refused(e) => e.into_response(),
        PeerCheck::SequencerDecides => forward(node, sequencer, req, Some(bytes)).await,
        PeerCheck::Verified => {
            *req.uri_mut() = axum::http::Uri::from_static(INTERNAL_BALLOTS);
            let secret = format!("Bearer {}", node.inner.config.secret.as_str());
            match secret.parse() {
                Ok(v) => {
                    req.headers_mut().insert(header::AUTHORIZATION, v);
                }
                Err(_) => return ApiError::internal().into_response(),
            }
            forward(node, sequencer, req, Some(bytes)).await
        }
    }
}

/// Sends `req` (with `body`, or its own) to the sequencer and relays the answer.
async fn forward(
    node: &Node,
    sequencer: Option<String>,
    req: Request,
    body: Option<Bytes>,
) -> Response {
    let Some(base) = sequencer else {
        return unavailable().into_response();
    };
    let (parts, own) = req.into_parts();
    let body = match body {
        Some(b) => b,
        None => match to_bytes(own, MAX_FORWARD).await {
            Ok(b) => b,
            Err(_) => return unavailable().into_response(),
        },
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut out = ureq::http::Request::builder()
        .method(parts.method.as_str())
        .uri(format!("{base}{path}"));
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = parts.headers.get(&name) {
            out = out.header(name.as_str(), v.as_bytes());
        }
    }
    let Ok(out) = out.body(body.to_vec()) else {
        return unavailable().into_response();
    };
    let agent = node.inner.agent.clone();
    let sent = tokio::task::spawn_blocking(move || {
        let resp = agent.run(out)?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, Vec<u8>)> = resp
            .headers()
            .iter()
            .filter(|(n, _)| {
                [
                    header::CONTENT_TYPE,
                    header::CACHE_CONTROL,
                    header::LOCATION,
                ]
                .contains(n)
            })
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let body = resp
            .into_body()
            .into_with_config()
            .limit(MAX_FORWARD as u64)
            .read_to_vec()?;
        Ok::<_, ureq::Error>((status, headers, body))
    })
    .await;
    match sent {
        Ok(Ok((status, headers, body))) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (n, v) in headers {
                if let (Ok(n), Ok(v)) = (
                    n.parse::<header::HeaderName>(),
                    header::HeaderValue::from_bytes(&v),
                ) {
                    resp.headers_mut().insert(n, v);
                }
            }
            resp
        }
        // Not reached, or no answer: the sequencer is gone or changing.
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "forwarding to the sequencer failed");
            unavailable().into_response()
        }
        Err(_) => unavailable().into_response(),
    }
}

fn authorized(node: &Node, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let ours = node.inner.config.secret.as_bytes();
    // Constant time in the secret's bytes (the length is not secret).
    given.len() == ours.len() && bool::from(given.as_bytes().ct_eq(ours))
}

/// `POST /internal/cluster/ballots`: a ballot whose proofs a follower
/// verified, authenticated by the cluster secret (spec/api.md §A9.2).
pub(crate) async fn internal_cast(
    State(node): State<Node>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&node, &headers) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "cluster_unauthorized",
            "This endpoint takes ballots only from the servers of the cluster.",
        )
        .into_response();
    }
    let Some(Seat::Sequencer { state, .. }) = node.view().seat else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_sequencer",
            "This server does not sequence the board (any more).",
        )
        .into_response();
    };
    let ballot = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("ballot")?.as_str().and_then(|h| hex::decode(h).ok()));
    let Some(ballot) = ballot else {
        return ApiError::bad_request("invalid_json", "The forwarded ballot does not parse.")
            .into_response();
    };
    match crate::election::voter::submit(&state, ballot, true).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}
