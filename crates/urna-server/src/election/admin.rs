//! Admin endpoints (bearer token): publish the manifest, run the key
//! ceremony, register test credentials, open, close, tally, accept partial
//! decryptions, publish results. Each appends the engine's entries in
//! order before answering.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use urna_crypto::encoding::Element;
use urna_election::record::AnnulReason;
use urna_election::{ElectionError, Misuse, Timestamp};
use urna_store::Appended;

use super::body::json_body;
use super::errors::{from_hex, from_hex32, wrong_phase};
use super::phase::{Outcome, Phase};
use super::service::{Inner, Shared};
use crate::AppState;
use crate::error::ApiError;
use crate::json::{Json, JsonRejection, Object, limit, read_upload};

fn done(shared: &Shared, phase: &'static str, appended: &[Appended]) -> Response {
    let body = json!({
        "phase": phase,
        "entries": appended.iter().map(|a| a.index).collect::<Vec<_>>(),
        "tree_size": shared.store.size(),
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// Runs a consuming transition of the phase.
fn step(
    inner: &mut Inner,
    f: impl FnOnce(Phase) -> Outcome,
) -> Result<(Vec<urna_board::Entry>, &'static str), ApiError> {
    let (phase, out) = f(std::mem::take(&mut inner.phase));
    inner.phase = phase;
    Ok((out?, inner.phase.name()))
}

/// `POST /election/manifest`: the TOML manifest as the body.
pub(crate) async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.config.admin.check(&headers)?;
    let body = read_upload(body, limit::MANIFEST).await?;
    let (appended, phase) = shared
        .transition(|inner, _| {
            let r = step(inner, |p| p.publish(&body))?;
            if let Phase::KeyCeremony(e) = &inner.phase {
                let _ = shared.manifest.set(Arc::new(e.manifest().clone()));
            }
            Ok(r)
        })
        .await?;
    Ok(done(shared, phase, &appended))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CeremonyBody {
    /// A `trustee_ceremony` payload (spec/record.md §R3), hex.
    message: String,
}

/// `POST /election/ceremony`: one trustee's ceremony message.
pub(crate) async fn ceremony(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CeremonyBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    state.election.shared.config.admin.check(&headers)?;
    let payload = from_hex("message", &json_body(body)?.message)?;
    accept_ceremony(&state, payload).await
}

/// Accepts one ceremony message (authorised by the caller) and appends it.
pub(crate) async fn accept_ceremony(
    state: &AppState,
    payload: Vec<u8>,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    let (appended, phase) = shared
        .transition(|inner, _| match &mut inner.phase {
            Phase::KeyCeremony(e) => Ok((vec![e.accept(&payload)?], "key_ceremony")),
            other => Err(wrong_phase("accept a ceremony message", other.name())),
        })
        .await?;
    for a in &appended {
        shared.log_ceremony(a.index, payload.clone());
    }
    Ok(done(shared, phase, &appended))
}

/// `POST /election/ceremony/finish`: checks the ceremony, publishes the joint key.
pub(crate) async fn finish_ceremony(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.config.admin.check(&headers)?;
    let (appended, phase) = shared
        .transition(|inner, _| {
            let (entries, phase) = step(inner, |p| p.finish_ceremony(&mut rand::rng()))?;
            if let Phase::Registration(e) = &inner.phase {
                let _ = shared.keys.set(e.keys().clone());
            }
            let payloads: Vec<Vec<u8>> = entries.iter().map(|e| e.payload().to_vec()).collect();
            Ok((entries, (phase, payloads)))
        })
        .await?;
    let (phase, payloads) = phase;
    for (a, p) in appended.iter().zip(payloads) {
        shared.log_ceremony(a.index, p);
    }
    Ok(done(shared, phase, &appended))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CredentialBody {
    district: String,
    precinct: String,
    /// The public credential (a ristretto255 element), hex.
    credential: String,
}

/// `POST /election/credentials`: registers a voter's public credential.
pub(crate) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CredentialBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.config.registrar.authorize(&headers)?;
    let body = json_body(body)?;
    let cred = from_hex32("credential", &body.credential)?;
    let element = Element::decode(&cred).map_err(ElectionError::from)?;
    shared.config.registrar.authorize_credential(
        &headers,
        &super::auth::CredentialRequest {
            district: &body.district,
            precinct: &body.precinct,
            credential: &cred,
        },
    )?;
    let (_, (registered, seq)) = shared
        .transition(|inner, now| {
            let Phase::Registration(e) = &mut inner.phase else {
                return Err(wrong_phase("register a credential", inner.phase.name()));
            };
            let m = e.manifest();
            let d = m.district_index(&body.district);
            let p = m.precincts().iter().position(|p| p.id == body.precinct);
            let p = match (d, p) {
                (Some(d), Some(p)) if m.precincts()[p].district == d => p,
                (Some(_), _) => {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "unknown_precinct",
                        format!(
                            "Precinct `{}` is not a precinct of district `{}`.",
                            body.precinct, body.district
                        ),
                    ));
                }
                (None, _) => {
                    let e = Misuse::UnknownDistrict(body.district.clone());
                    return Err(ElectionError::from(e).into());
                }
            };
            let precincts = m.precincts().len();
            let d = m.precincts()[p].district;
            e.register(&body.district, element, now)?;
            // The precinct never reaches the board and the sealed lists
            // only at the open: the journal keeps both across a restart.
            let seq = shared.journal_registration(cred, d, p)?;
            inner.precinct_of.insert(cred, p);
            shared.book().registered(precincts, p);
            Ok((Vec::new(), (e.registered(), seq)))
        })
        .await?;
    // Acknowledged only once durable (spec/api.md §A6.2).
    shared.sync_journal(seq).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "registered": registered })),
    )
        .into_response())
}

/// A consuming transition that only needs the clock.
async fn simple(
    state: AppState,
    headers: HeaderMap,
    f: fn(Phase, Timestamp) -> Outcome,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.config.admin.check(&headers)?;
    let (appended, phase) = shared
        .transition(|inner, now| step(inner, |p| f(p, now)))
        .await?;
    Ok(done(shared, phase, &appended))
}

/// `POST /election/open`: seals the credential lists and opens voting.
/// Only credentials whose application still stands are sealed (the
/// registrar is asked under the engine lock, so no registration slips in
/// between); the others are journalled and left out (spec/record.md §R4).
/// A withdrawal racing the open is no different from one just after it:
/// the credential is sealed and the registrar refuses its ballots.
pub(crate) async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.config.admin.check(&headers)?;
    // Every registration the sealed lists will hold is on disk first.
    shared.sync_journal(u64::MAX).await?;
    let (appended, phase) = shared
        .transition(|inner, now| {
            let Phase::Registration(e) = &inner.phase else {
                return Err(wrong_phase("open voting", inner.phase.name()));
            };
            let registered: Vec<[u8; 32]> = e.credentials().copied().collect();
            let precincts = e.manifest().precincts().len();
            let stands = shared.config.registrar.standing(&registered)?;
            if stands.len() != registered.len() {
                tracing::error!(
                    asked = registered.len(),
                    answered = stands.len(),
                    "the registrar answered for a different number of credentials"
                );
                return Err(ApiError::internal());
            }
            let withdrawn: Vec<[u8; 32]> = registered
                .into_iter()
                .zip(stands)
                .filter_map(|(c, stands)| (!stands).then_some(c))
                .collect();
            if !withdrawn.is_empty() {
                shared.journal_withdrawn(&withdrawn)?;
            }
            let r = step(inner, |p| p.open(now, &withdrawn))?;
            let mut book = shared.book();
            for c in &withdrawn {
                if let Some(p) = inner.precinct_of.remove(c) {
                    book.unregistered(precincts, p);
                }
            }
            Ok(r)
        })
        .await?;
    Ok(done(shared, phase, &appended))
}

/// `POST /election/close`: closes voting (at or after the scheduled end).
pub(crate) async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    simple(state, headers, Phase::close).await
}

/// `POST /election/tally`: publishes the encrypted tally.
pub(crate) async fn tally(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    simple(state, headers, |p, _| p.tally()).await
}

/// `POST /election/results`: combines the partial decryptions and publishes the results.
pub(crate) async fn publish_results(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    simple(state, headers, |p, _| p.decrypt()).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialsBody {
    /// One trustee's `partial_decryption` payloads (spec/record.md §R11), hex, in order.
    payloads: Vec<String>,
}

/// `POST /election/partials`: one trustee's partial decryptions of the tally.
pub(crate) async fn partials(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PartialsBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    state.election.shared.config.admin.check(&headers)?;
    let payloads = json_body(body)?
        .payloads
        .iter()
        .map(|p| from_hex("payloads", p))
        .collect::<Result<Vec<_>, _>>()?;
    accept_partials(&state, payloads).await
}

/// Verifies and appends one trustee's partial decryptions (authorised by the caller).
pub(crate) async fn accept_partials(
    state: &AppState,
    payloads: Vec<Vec<u8>>,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    let (appended, phase) = shared
        .transition(|inner, _| match &mut inner.phase {
            Phase::Tallied(e) => {
                let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
                Ok((
                    e.accept_partial_payloads(&refs, &mut rand::rng())?,
                    "tallied",
                ))
            }
            other => Err(wrong_phase("accept partial decryptions", other.name())),
        })
        .await?;
    Ok(done(shared, phase, &appended))
}

/// Why a credential's e-vote is annulled (spec/record.md §R9).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// The voter also voted on paper (only under `evote-annulled`).
    PaperVote,
    /// A decision of the commission or a court.
    Decision,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Annulment {
    /// The public credential, hex.
    credential: String,
    reason: Reason,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconciliationBody {
    /// Credentials whose e-vote no longer counts; may be empty.
    annulled: Vec<Object<Annulment>>,
}

/// `POST /election/reconciliation`: after the close and before the tally,
/// the commission's list of e-voters who also voted on paper (or whose
/// e-vote a decision annuls); it lands on the board (spec/record.md §R9)
/// and their ballots are left out of the tally.
pub(crate) async fn reconcile(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ReconciliationBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    shared.config.admin.check(&headers)?;
    let mut list = Vec::new();
    for (k, Object(a)) in json_body(body)?.annulled.iter().enumerate() {
        let field = format!("annulled[{k}].credential");
        let c = from_hex32(&field, &a.credential)?;
        let element = Element::decode(&c).map_err(|_| {
            ApiError::bad_request(
                "invalid_credential",
                format!("Field {field} is not a valid credential (a ristretto255 element)."),
            )
        })?;
        let reason = match a.reason {
            Reason::PaperVote => AnnulReason::PaperVote,
            Reason::Decision => AnnulReason::Decision,
        };
        list.push((element, reason));
    }
    let appended = apply_reconciliation(shared, list).await?;
    Ok(done(shared, "closed", &appended))
}

/// Puts a reconciliation on the board through the engine (spec/record.md
/// §R9): after the close, before the tally, once. Shared by `POST
/// /election/reconciliation` and the registry's
/// `POST /registration/admin/reconciliation/apply`.
pub(crate) async fn apply_reconciliation(
    shared: &Shared,
    list: Vec<(Element, AnnulReason)>,
) -> Result<Vec<Appended>, ApiError> {
    let (appended, ()) = shared
        .transition(|inner, _| match &mut inner.phase {
            Phase::Closed(e) => Ok((e.reconcile(list)?, ())),
            other => Err(wrong_phase("reconcile", other.name())),
        })
        .await?;
    Ok(appended)
}
