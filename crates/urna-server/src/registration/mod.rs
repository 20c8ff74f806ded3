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
//! The registry's calls block (SQLite fsync, the blocking PostgreSQL
//! client): handlers run them on the blocking pool.

mod admin;
mod amendments;
mod complaints;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use urna_election::{Manifest, PaperPolicy};
use urna_registry::notify::{Channel, Message, Notifier};
use urna_registry::otp::SessionToken;
use urna_registry::screening::{Application, Decision, Rules};
use urna_registry::{CommissionSecret, Geography, Registry, RegistryError};

use crate::election::{AdminToken, Clock, CredentialRequest, Registrar};
use crate::error::{ApiError, sentence};

/// What the registration endpoints share.
#[derive(Clone)]
pub struct RegistrationService(Arc<Inner>);

struct Inner {
    registry: Registry,
    rules: Rules,
    secret: CommissionSecret,
    notifier: Arc<dyn Notifier>,
    geography: Geography,
    election: String,
    admin: AdminToken,
    clock: Arc<dyn Clock>,
    /// Precinct ids in manifest order (the precinct lists).
    precincts: Vec<String>,
    /// The manifest's rule for voters who voted online and on paper.
    paper_policy: &'static str,
    /// The commission's key signing precinct lists, when given.
    list_key: OnceLock<ed25519_dalek::SigningKey>,
    /// The election whose board gets complaints, answers and list hashes
    /// (set by [`app_with_registration`]).
    board: OnceLock<crate::ElectionService>,
    /// Serialises precinct list publications (§G9).
    publishing: tokio::sync::Mutex<()>,
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
            registry: registry.with_credential_key(secret.credential_key()),
            rules,
            secret,
            notifier,
            geography: Geography::of(manifest),
            election: manifest.id().to_string(),
            admin,
            clock,
            precincts: manifest.precincts().iter().map(|p| p.id.clone()).collect(),
            paper_policy: match manifest.paper_policy() {
                PaperPolicy::EvoteStands => "evote-stands",
                PaperPolicy::EvoteAnnulled => "evote-annulled",
            },
            list_key: OnceLock::new(),
            board: OnceLock::new(),
            publishing: tokio::sync::Mutex::new(()),
        }))
    }

    /// Sets the commission's key that signs the precinct lists served by
    /// `POST /registration/admin/lists` (once; later calls are ignored).
    /// Without it that endpoint answers 503 `no_commission_key`.
    pub fn set_list_key(&self, key: ed25519_dalek::SigningKey) {
        let _ = self.0.list_key.set(key);
    }

    /// The registrar to put in the election config.
    pub fn registrar(&self) -> Arc<dyn Registrar> {
        Arc::new(VoterRegistrar(self.clone()))
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// The routes under `/registration/`.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/registration/applications", post(apply))
            .route("/registration/withdrawal", post(withdraw))
            .route("/registration/codes", post(request_code))
            .route("/registration/sessions", post(login).delete(logout))
            .route("/registration/me", get(me))
            .route("/registration/report", get(report))
            .merge(complaints::routes())
            .merge(amendments::routes())
            .merge(admin::routes())
            .with_state(self.clone())
    }

    /// The election's shared state, for appending to its board.
    fn board(&self) -> Result<std::sync::Arc<crate::election::service::Shared>, ApiError> {
        self.0
            .board
            .get()
            .map(|e| std::sync::Arc::clone(&e.shared))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_board",
                    "Registration is not attached to an election board.",
                )
            })
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

/// The whole API with registration: [`crate::app`] and the
/// `/registration/` routes. The election config's registrar should be
/// [`RegistrationService::registrar`].
pub fn app_with_registration(state: crate::AppState, registration: &RegistrationService) -> Router {
    // One registration service serves one election board.
    let _ = registration.0.board.set(state.election.clone());
    crate::app(state).merge(registration.routes())
}

/// Serves [`app_with_registration`] on `listener` until `shutdown`
/// resolves, with each request's peer address (the one-time-code rate
/// limit per address).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: crate::AppState,
    registration: &RegistrationService,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app_with_registration(state, registration)
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
    b.map(|Json(v)| v).map_err(|e| {
        ApiError::new(
            e.status(),
            "invalid_body",
            format!(
                "The request body is not the expected JSON: {}.",
                e.body_text()
            ),
        )
    })
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
    let channel = match b.channel.as_deref() {
        None | Some("sms") => Channel::Sms,
        Some("email") => Channel::Email,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_channel",
                "`channel` must be `sms` or `email`.",
            ));
        }
    };
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
        let msg = Message::login_code(
            channel,
            to,
            &i.election,
            &d.code,
            i.rules.config.otp.ttl_seconds,
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

/// The [`Registrar`] of voter registration: the request's session must be
/// an approved voter's, the precinct that voter's, and the credential is
/// kept with the application (one per application).
#[derive(Debug, Clone)]
pub struct VoterRegistrar(RegistrationService);

impl Registrar for VoterRegistrar {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        in_place(|| self.0.session(headers)).map(|_| ())
    }

    fn authorize_credential(
        &self,
        headers: &HeaderMap,
        request: &CredentialRequest<'_>,
    ) -> Result<(), ApiError> {
        in_place(|| {
            let voter = self.0.session(headers)?;
            let reg = &self.0.0.registry;
            let e = reg.enrolment(&voter).map_err(api)?;
            let district = self.0.0.geography.locate(&e.precinct).map(|(d, _)| d);
            if e.precinct != request.precinct || district != Some(request.district) {
                return Err(api(RegistryError::refused(
                    "wrong_precinct",
                    format!(
                        "you vote in precinct `{}` of district `{}`",
                        e.precinct,
                        district.unwrap_or("?")
                    ),
                )));
            }
            reg.register_credential(&voter, request.credential)
                .map_err(api)?;
            Ok(())
        })
    }

    fn authorize_ballot(&self, credential: &[u8; 32]) -> Result<(), ApiError> {
        in_place(|| self.0.0.registry.reserve_cast(credential).map_err(api))
    }

    fn ballot_refused(&self, credential: &[u8; 32]) {
        // A reservation left behind only holds off this voter's withdrawal
        // (until the ballot's mark or an operator clears it): logged.
        if let Err(e) = in_place(|| self.0.0.registry.release_cast(credential)) {
            tracing::error!(error = %e, "could not release a casting reservation");
        }
    }

    fn unsettled(&self) -> Result<Vec<[u8; 32]>, ApiError> {
        let casting = in_place(|| self.0.0.registry.casting()).map_err(api)?;
        Ok(casting.into_iter().map(|(c, _)| c).collect())
    }

    fn settle(&self, on_board: &[[u8; 32]], not_on_board: &[[u8; 32]]) -> Result<(), ApiError> {
        in_place(|| self.0.0.registry.settle_casting(on_board, not_on_board)).map_err(api)
    }

    fn standing(&self, credentials: &[[u8; 32]]) -> Result<Vec<bool>, ApiError> {
        in_place(|| self.0.0.registry.standing(credentials).map_err(api))
    }

    fn ballots_recorded(&self, credentials: &[[u8; 32]]) {
        for c in credentials {
            // The ballot is on the board whatever happens here; a storage
            // fault only delays the voted-online mark, so it is logged.
            if let Err(e) = self.0.0.registry.mark_voted(c) {
                tracing::error!(error = %e, "could not mark a credential as voted");
            }
        }
    }
}
