//! Voter registration over HTTP (spec/registration.md §G9): applications
//! with screening, withdrawal, one-time-code login, the report and
//! complaints, on an `urna_registry::Registry`; and [`VoterRegistrar`],
//! the election API's [`Registrar`] that lets a logged-in approved voter
//! register the credential made on their device (`POST
//! /election/credentials` with `Authorization: Bearer <session token>`),
//! bound to that voter and their precinct.
//!
//! [`admin`] holds the commission's endpoints (registry import, paper
//! votes, precinct lists, reconciliation) behind the admin token.
//!
//! Registration and the election do not hold each other: the election
//! reaches the registry only through its [`Registrar`] ([`registrar`]),
//! and these handlers reach the election only through [`ElectionBoard`]
//! ([`board`]), given to the routes by [`crate::app`] with
//! [`crate::AppStateBuilder::with_registration`].
//!
//! The registry's calls block (SQLite fsync, the blocking PostgreSQL
//! client): handlers run them on the blocking pool.

mod admin;
mod amendments;
pub mod board;
mod complaints;
mod receipt;
mod registrar;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{ConnectInfo, FromRef, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use urna_election::{Manifest, PaperPolicy};
use urna_registry::notify::{Channel, Lang, Message, Notifier};
use urna_registry::otp::SessionToken;
use urna_registry::screening::{Application, Decision, Rules};
use urna_registry::{CommissionSecret, Geography, Registry, RegistryError};

pub use board::ElectionBoard;
pub use registrar::VoterRegistrar;

use crate::election::{AdminToken, Clock, Registrar};
use crate::error::{ApiError, sentence};
use crate::json::{Json, JsonRejection};

/// What the registration endpoints share.
#[derive(Clone)]
pub struct RegistrationService(Arc<Inner>);

struct Inner {
    registry: OffRuntime,
    rules: Rules,
    secret: CommissionSecret,
    notifier: Arc<dyn Notifier>,
    geography: Geography,
    election: String,
    /// The election's title in Russian and English, for the voter's
    /// messages (spec/registration.md §G6).
    title: (Option<String>, Option<String>),
    admin: AdminToken,
    clock: Arc<dyn Clock>,
    /// Precinct ids in manifest order (the precinct lists).
    precincts: Vec<String>,
    /// The manifest's rule for voters who voted online and on paper.
    paper_policy: &'static str,
    /// The commission's key signing precinct lists, when given.
    list_key: OnceLock<ed25519_dalek::SigningKey>,
    /// Serialises precinct list publications (§G9).
    publishing: tokio::sync::Mutex<()>,
    /// Receipt messages sent per voter in the last hour (§G6.1).
    receipts_sent: receipt::Sent,
}

impl Inner {
    /// The language of a voter's message and the election's title in it
    /// (§G6): the one asked for, else Russian when the title has a Russian
    /// text, else English; the title in that language, else in the other,
    /// else the election's id — a message never names only the id when a
    /// title exists.
    fn message_title(&self, asked: Option<Lang>) -> (Lang, &str) {
        let (ru, en) = (self.title.0.as_deref(), self.title.1.as_deref());
        let lang = asked.unwrap_or(if ru.is_some() { Lang::Ru } else { Lang::En });
        let title = match lang {
            Lang::Ru => ru.or(en),
            Lang::En => en.or(ru),
        };
        (lang, title.unwrap_or(&self.election))
    }
}

/// The registry, closed off the async runtime when the last handle goes:
/// the blocking PostgreSQL client runs its own runtime to close its
/// connection, which panics on a runtime's thread (at the server's
/// shutdown, or when a test's service goes out of scope).
struct OffRuntime(Option<Registry>);

impl std::ops::Deref for OffRuntime {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        match &self.0 {
            Some(r) => r,
            // Only `drop` takes it out.
            None => unreachable!("the registry is used after it was closed"),
        }
    }
}

impl Drop for OffRuntime {
    fn drop(&mut self) {
        let Some(registry) = self.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return drop(registry);
        }
        if std::thread::spawn(move || drop(registry)).join().is_err() {
            tracing::error!("closing the registry failed");
        }
    }
}

impl fmt::Debug for RegistrationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationService")
            .field("election", &self.0.election)
            .field("backend", &self.0.registry.backend_name())
            .finish_non_exhaustive()
    }
}

impl RegistrationService {
    /// Registration for the election of `manifest`.
    pub fn new(
        registry: Registry,
        rules: Rules,
        secret: CommissionSecret,
        notifier: Arc<dyn Notifier>,
        manifest: &Manifest,
        admin: AdminToken,
        clock: Arc<dyn Clock>,
    ) -> Self {
        RegistrationService(Arc::new(Inner {
            // The key linking applications to credentials is the
            // commission's, never in the database (registration.md §G4).
            registry: OffRuntime(Some(registry.with_credential_key(secret.credential_key()))),
            rules,
            secret,
            notifier,
            geography: Geography::of(manifest),
            election: manifest.id().to_string(),
            title: (manifest.title().ru.clone(), manifest.title().en.clone()),
            admin,
            clock,
            precincts: manifest.precincts().iter().map(|p| p.id.clone()).collect(),
            paper_policy: match manifest.paper_policy() {
                PaperPolicy::EvoteStands => "evote-stands",
                PaperPolicy::EvoteAnnulled => "evote-annulled",
            },
            list_key: OnceLock::new(),
            publishing: tokio::sync::Mutex::new(()),
            receipts_sent: receipt::Sent::default(),
        }))
    }

    /// Sets the commission's key that signs the precinct lists served by
    /// `POST /registration/admin/lists` (once; later calls are ignored).
    /// Without it that endpoint answers 503 `no_commission_key`.
    pub fn set_list_key(&self, key: ed25519_dalek::SigningKey) {
        let _ = self.0.list_key.set(key);
    }

    /// The election's registrar for this registration (installed by
    /// [`crate::AppStateBuilder::with_registration`]).
    pub fn registrar(&self) -> Arc<dyn Registrar> {
        Arc::new(VoterRegistrar(self.clone()))
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    fn session(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let token = bearer(headers).ok_or_else(|| {
            api(RegistryError::refused(
                "session_invalid",
                "log in first: no session token (Authorization: Bearer ...)",
            ))
        })?;
        let token = SessionToken::from_hex(token).map_err(api)?;
        self.0
            .registry
            .session_voter(&token, self.0.clock.now())
            .map_err(api)
    }
}

/// What the registration routes share: the service, and the election
/// they reach only through [`ElectionBoard`].
#[derive(Clone)]
pub(crate) struct RegistrationState {
    service: RegistrationService,
    board: Arc<dyn ElectionBoard>,
}

impl FromRef<RegistrationState> for RegistrationService {
    fn from_ref(s: &RegistrationState) -> Self {
        s.service.clone()
    }
}

impl FromRef<RegistrationState> for Arc<dyn ElectionBoard> {
    fn from_ref(s: &RegistrationState) -> Self {
        Arc::clone(&s.board)
    }
}

/// The routes under `/registration/`, appending to `board`.
pub(crate) fn routes(service: RegistrationService, board: Arc<dyn ElectionBoard>) -> Router {
    Router::new()
        .route("/registration/applications", post(apply))
        .route("/registration/withdrawal", post(withdraw))
        .route("/registration/codes", post(request_code))
        .route("/registration/sessions", post(login).delete(logout))
        .route("/registration/me", get(me))
        .route("/registration/receipt", post(receipt::send))
        .route("/registration/report", get(report))
        .merge(complaints::routes())
        .merge(amendments::routes())
        .merge(admin::routes())
        .with_state(RegistrationState { service, board })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// A registry error as an API error (statuses in spec/registration.md §G9).
fn api(e: RegistryError) -> ApiError {
    if e.is_internal() {
        tracing::error!(error = %e, "registry storage fault");
        return ApiError::internal();
    }
    let status = match e.code() {
        // A refused file is a bad request, whatever its line's code.
        _ if matches!(e, RegistryError::Import(_)) => StatusCode::BAD_REQUEST,
        "session_invalid"
        | "otp_not_requested"
        | "otp_wrong_code"
        | "otp_expired"
        | "otp_attempts_exhausted" => StatusCode::UNAUTHORIZED,
        "not_approved" | "wrong_precinct" | "application_withdrawn" | "application_revoked" => {
            StatusCode::FORBIDDEN
        }
        "unknown_complaint" => StatusCode::NOT_FOUND,
        "no_application"
        | "ballot_already_cast"
        | "ballot_being_cast"
        | "credential_already_registered"
        | "duplicate_credential"
        | "already_answered"
        | "amendment_out_of_order"
        | "amendment_chain_broken"
        | "voter_exists"
        | "duplicate_document"
        | "registry_amended"
        | "region_already_imported" => StatusCode::CONFLICT,
        "otp_rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match &e {
        RegistryError::Refused { message, .. } => sentence(message),
        // `file:line: …` keeps the file name as given.
        RegistryError::Import(i) => format!("{i}."),
        other => sentence(other),
    };
    ApiError::new(status, e.code(), message)
}

/// Runs a blocking registry call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "registry task failed");
        ApiError::internal()
    })?
}

/// A blocking registry call from synchronous code that may be on a
/// runtime thread (the [`Registrar`] methods): moved off the worker when
/// the runtime allows it.
fn in_place<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    crate::json::json_body(b)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyBody {
    full_name: String,
    birth_date: String,
    document_number: String,
    phone: String,
    email: Option<String>,
}

/// `POST /registration/applications`: screens and records the decision.
/// A refusal by a screening rule is a decision: 200 with its code.
async fn apply(
    State(s): State<RegistrationService>,
    b: Result<Json<ApplyBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    blocking(move || {
        let i = &s.0;
        let app = Application::new(
            &i.secret,
            &b.full_name,
            &b.birth_date,
            &b.document_number,
            &b.phone,
            b.email.as_deref(),
        )
        .map_err(api)?;
        let (d, version) = i.registry.apply(&i.rules, &app, i.clock.now()).map_err(api)?;
        let message = match d {
            Decision::Approved => "Approved: you may vote online. Log in with a one-time code to register your device.",
            Decision::Refused(r) => r.message(),
        };
        Ok(Json(json!({ "decision": d.code(), "message": message, "registry_version": version }))
            .into_response())
    })
    .await
}

/// The client's network address, the key of the per-client limits (§G6).
/// A message's channel as a request names it: `sms` (the default) or `email`.
fn channel_of(asked: Option<&str>) -> Result<Channel, ApiError> {
    match asked {
        None | Some("sms") => Ok(Channel::Sms),
        Some("email") => Ok(Channel::Email),
        Some(_) => Err(ApiError::bad_request(
            "invalid_channel",
            "`channel` must be `sms` or `email`.",
        )),
    }
}

/// A message's language as a request names it (§G6), if it does.
fn lang_of(asked: Option<&str>) -> Result<Option<Lang>, ApiError> {
    asked
        .map(|l| {
            Lang::parse(l).ok_or_else(|| {
                ApiError::bad_request("invalid_language", "`lang` must be `ru` or `en`.")
            })
        })
        .transpose()
}

fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

fn mask(phone: &str) -> String {
    let n = phone.chars().count();
    phone
        .chars()
        .enumerate()
        .map(|(k, c)| if k >= 5 && k + 2 < n { '*' } else { c })
        .collect()
}

fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((user, domain)) => {
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    document_number: String,
    birth_date: String,
    /// `sms` (the default) or `email`.
    channel: Option<String>,
    /// The message's language, `ru` or `en` (§G6).
    lang: Option<String>,
}

/// `POST /registration/codes`: sends a one-time code to the application's
/// phone, or to its e-mail address when the voter asks and both the
/// application and the server have one.
async fn request_code(
    State(s): State<RegistrationService>,
    parts: Parts,
    b: Result<Json<CodeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let channel = channel_of(b.channel.as_deref())?;
    let lang = lang_of(b.lang.as_deref())?;
    if !s.0.notifier.supports(channel) {
        return Err(ApiError::bad_request(
            "channel_unavailable",
            "This server does not send codes by e-mail; ask for an SMS.",
        ));
    }
    let client = client_address(&parts);
    blocking(move || {
        let i = &s.0;
        // Limited per document and client before the registry is read;
        // unknown and mismatched identities answer alike (§G6).
        let d = i
            .registry
            .request_code_for(
                &i.secret,
                &i.rules.config.otp,
                &b.document_number,
                &b.birth_date,
                channel,
                &client,
                i.clock.now(),
            )
            .map_err(api)?;
        // `request_code_for` refuses e-mail without an address.
        let (to, shown) = match (channel, &d.email) {
            (Channel::Email, Some(e)) => (e.as_str(), mask_email(e)),
            _ => (d.phone.as_str(), mask(&d.phone)),
        };
        let (lang, title) = i.message_title(lang);
        let msg = Message::login_code(
            channel,
            to,
            title,
            &d.code,
            i.rules.config.otp.ttl_seconds,
            lang,
        );
        i.notifier.send(&msg).map_err(|e| {
            tracing::error!(error = %e, "sending a login code failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "notifier_failed",
                "The code could not be sent; try again later.",
            )
        })?;
        Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "sent_to": shown, "channel": channel })),
        )
            .into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    document_number: String,
    birth_date: String,
    code: String,
}

/// `POST /registration/sessions`: checks the code, opens a session.
async fn login(
    State(s): State<RegistrationService>,
    parts: Parts,
    b: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let client = client_address(&parts);
    blocking(move || {
        let i = &s.0;
        let token = i
            .registry
            .login(
                &i.secret,
                &i.rules.config.otp,
                &b.document_number,
                &b.birth_date,
                &b.code,
                &client,
                i.clock.now(),
            )
            .map_err(api)?;
        Ok((
            StatusCode::CREATED,
            Json(json!({ "token": token.to_hex().as_str(), "expires_in": i.rules.config.otp.session_ttl_seconds })),
        )
            .into_response())
    })
    .await
}

/// `DELETE /registration/sessions`: logs out.
async fn logout(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = bearer(&headers).map(str::to_string);
    blocking(move || {
        if let Some(t) = token.and_then(|t| SessionToken::from_hex(&t).ok()) {
            s.0.registry.logout(&t).map_err(api)?;
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// `GET /registration/me`: the logged-in voter's place.
async fn me(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    blocking(move || {
        let voter = s.session(&headers)?;
        let e = s.0.registry.enrolment(&voter).map_err(api)?;
        let district =
            s.0.geography
                .locate(&e.precinct)
                .map(|(d, _)| d.to_string());
        Ok(
            Json(json!({ "region": e.region, "district": district, "precinct": e.precinct }))
                .into_response(),
        )
    })
    .await
}

/// `POST /registration/withdrawal`: withdraws the logged-in voter's application.
async fn withdraw(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    blocking(move || {
        let voter = s.session(&headers)?;
        let i = &s.0;
        i.registry
            .withdraw(&i.rules, &voter, i.clock.now())
            .map_err(api)?;
        Ok(Json(json!({ "withdrawn": true })).into_response())
    })
    .await
}

/// `GET /registration/report` (admin): decisions per day, region and outcome.
async fn report(
    State(s): State<RegistrationService>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    s.0.admin.check(&headers)?;
    blocking(move || {
        let rows = s.0.registry.report().map_err(api)?;
        Ok(Json(json!({ "rows": rows })).into_response())
    })
    .await
}
