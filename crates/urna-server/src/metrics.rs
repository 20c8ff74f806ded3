//! Operations: Prometheus metrics at `GET /metrics` and one log line per
//! request (spec/api.md §A10).
//!
//! The counters live in one process-wide registry of their own (not the
//! `prometheus` crate's default one): the call sites that move them — the
//! batching verifier, the board append, the sequencer lease, the writer's
//! recovery — reach them through the small functions below without
//! carrying a handle. Nothing here holds a voter's identity, credential,
//! ballot or tracking code: labels are route templates, statuses and
//! error codes, and the turnout figures are those `GET /election/turnout`
//! already publishes.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Registry,
    TextEncoder,
};

use crate::AppState;
use crate::error::ApiError;

/// The route whose answers count as ballots accepted or refused.
const BALLOTS: &str = "/election/ballots";

/// The stable code of an [`ApiError`] answer, left in the response's
/// extensions for the request log and the refusal counter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) &'static str);

struct Metrics {
    registry: Registry,
    accepted: IntCounter,
    refused: IntCounterVec,
    batch_size: Histogram,
    append_seconds: Histogram,
    sequencer_changes: IntCounter,
    writer_restarts: IntCounter,
    database_unavailable: IntGauge,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    board_size: IntGauge,
    board_commits: IntGauge,
    board_entries: IntGauge,
    board_largest_commit: IntGauge,
    turnout_voted: IntGauge,
    turnout_ballots: IntGauge,
    turnout_audited: IntGauge,
}

/// Buckets of the latency histograms, in seconds: 0.5 ms to 10 s.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

impl Metrics {
    fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let refused = IntCounterVec::new(
            prometheus::Opts::new(
                "urna_ballots_refused_total",
                "Ballots answered with an error, by its stable code (spec/api.md §A1).",
            ),
            &["code"],
        )?;
        registry.register(Box::new(refused.clone()))?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(
                "urna_ballot_batch_size",
                "Ballots whose proofs were verified together in one batch.",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]),
        )?;
        registry.register(Box::new(batch_size.clone()))?;
        let append_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "urna_board_append_seconds",
                "Time from queueing entries at the board's writer to their commit being durable.",
            )
            .buckets(SECONDS.to_vec()),
        )?;
        registry.register(Box::new(append_seconds.clone()))?;
        let requests = IntCounterVec::new(
            prometheus::Opts::new(
                "urna_http_requests_total",
                "HTTP requests answered, by route template and status.",
            ),
            &["route", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "urna_http_request_seconds",
                "Time to answer an HTTP request, by route template.",
            )
            .buckets(SECONDS.to_vec()),
            &["route"],
        )?;
        registry.register(Box::new(request_seconds.clone()))?;
        Ok(Metrics {
            accepted: counter(
                "urna_ballots_accepted_total",
                "Ballots acknowledged with a receipt (durable on the board).",
            )?,
            refused,
            batch_size,
            append_seconds,
            sequencer_changes: counter(
                "urna_sequencer_changes_total",
                "Times this process took or lost the role of the board's sequencer.",
            )?,
            writer_restarts: counter(
                "urna_board_writer_restarts_total",
                "Times the board's writer was restarted after losing its database.",
            )?,
            database_unavailable: gauge(
                "urna_database_unavailable",
                "1 while ballots are refused because the board's database is unreachable.",
            )?,
            requests,
            request_seconds,
            board_size: gauge(
                "urna_board_size",
                "Entries on the board (its latest checkpoint).",
            )?,
            board_commits: gauge(
                "urna_board_commits",
                "Board transactions committed by this process's writer since it started.",
            )?,
            board_entries: gauge(
                "urna_board_entries_appended",
                "Entries appended by this process's writer since it started.",
            )?,
            board_largest_commit: gauge(
                "urna_board_largest_commit",
                "Most entries in one board transaction since the writer started.",
            )?,
            turnout_voted: gauge(
                "urna_turnout_voted",
                "Credentials with a ballot on the board (as GET /election/turnout says).",
            )?,
            turnout_ballots: gauge(
                "urna_turnout_ballots",
                "Ballots on the board, re-votes included (as GET /election/turnout says).",
            )?,
            turnout_audited: gauge(
                "urna_turnout_audited",
                "Audited ballots on the board (as GET /election/turnout says).",
            )?,
            registry,
        })
    }
}

static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| match Metrics::new() {
    Ok(m) => Some(m),
    Err(e) => {
        // Only a programming error (a name used twice) gets here: the
        // server runs on without metrics rather than refusing ballots.
        tracing::error!(error = %e, "metrics registry could not be built");
        None
    }
});

fn with(f: impl FnOnce(&Metrics)) {
    if let Some(m) = METRICS.as_ref() {
        f(m);
    }
}

/// A batch of `n` ballots went to proof verification.
pub(crate) fn ballot_batch(n: usize) {
    with(|m| m.batch_size.observe(n as f64));
}

/// Entries queued at `started` are durable now.
pub(crate) fn board_appended(started: Instant) {
    with(|m| m.append_seconds.observe(started.elapsed().as_secs_f64()));
}

/// This process took or lost the role of the board's sequencer (the lease
/// of several servers on one database).
pub fn sequencer_changed() {
    with(|m| m.sequencer_changes.inc());
}

/// The board's writer was restarted after losing its database.
pub fn writer_restarted() {
    with(|m| m.writer_restarts.inc());
}

/// Ballots are refused (or accepted again) because the board's database
/// is unreachable (or back).
pub fn database_unavailable(down: bool) {
    with(|m| m.database_unavailable.set(i64::from(down)));
}

fn ballot_answered(status: StatusCode, code: Option<&'static str>) {
    with(|m| {
        if status.is_success() {
            m.accepted.inc();
        } else {
            let code = code.unwrap_or(if status.is_client_error() {
                "bad_request"
            } else {
                "internal_error"
            });
            m.refused.with_label_values(&[code]).inc();
        }
    });
}

/// The middleware of every route: counts the answer, times it, and logs
/// one line with the route template (never the path: it may hold a
/// tracking code), the status, the error code and the latency. No header,
/// body, query or peer address is logged.
pub(crate) async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    let elapsed = started.elapsed();
    let status = resp.status();
    let code = resp.extensions().get::<ErrorCode>().map(|c| c.0);
    if method == Method::POST && route == BALLOTS {
        ballot_answered(status, code);
    }
    with(|m| {
        m.requests
            .with_label_values(&[route.as_str(), status.as_str()])
            .inc();
        m.request_seconds
            .with_label_values(&[route.as_str()])
            .observe(elapsed.as_secs_f64());
    });
    log_request(&method, &route, status, code, elapsed);
    resp
}

fn log_request(
    method: &Method,
    route: &str,
    status: StatusCode,
    code: Option<&str>,
    elapsed: Duration,
) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let code = code.unwrap_or("");
    if status.is_server_error() {
        tracing::warn!(target: "urna::http", method = %method, route, status = status.as_u16(), code, micros, "request");
    } else {
        tracing::info!(target: "urna::http", method = %method, route, status = status.as_u16(), code, micros, "request");
    }
}

/// `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
async fn scrape(State(state): State<AppState>) -> Response {
    let Some(m) = METRICS.as_ref() else {
        return ApiError::internal().into_response();
    };
    let stats = state.store.stats();
    let gauge = |g: &IntGauge, v: u64| g.set(i64::try_from(v).unwrap_or(i64::MAX));
    gauge(&m.board_size, state.store.size());
    gauge(&m.board_commits, stats.batches);
    gauge(&m.board_entries, stats.entries);
    gauge(&m.board_largest_commit, stats.largest_batch);
    let (voted, ballots, audited) = state.election.shared.book().totals();
    gauge(&m.turnout_voted, voted);
    gauge(&m.turnout_ballots, ballots);
    gauge(&m.turnout_audited, audited);
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&m.registry.gather(), &mut body) {
        tracing::error!(error = %e, "metrics could not be encoded");
        return ApiError::internal().into_response();
    }
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}
