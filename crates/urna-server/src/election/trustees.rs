//! Trustees through the server (spec/api.md §A5, spec/trustee.md §T5):
//! each trustee, on its own machine, posts its own ceremony messages and
//! partial decryptions and fetches the others' from here.
//!
//! Authentication is a per-trustee bearer token that the admin hands to
//! each trustee out of band: `HMAC-SHA256(admin token, label ‖ M ‖ j)`.
//! It is derived, not stored, so it survives restarts and needs no
//! table; it is bound to this election's manifest hash M and to the
//! trustee index j, so a trustee's token is worth nothing for another
//! index or another election, and it reveals nothing about the admin
//! token. The token only decides who may *post* as trustee j; what
//! counts is still checked by the engine (the ceremony's proofs and
//! sealed shares, the partial decryptions' DLEQ proofs against K_j).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use urna_election::ElectionError;
use urna_election::record::{CeremonyMessage, PartialChunk};

use super::body::json_body;
use super::errors::from_hex;
use zeroize::Zeroizing;

use super::auth::Secret;
use crate::AppState;
use crate::error::ApiError;
use crate::json::{Json, JsonRejection};

/// Domain label of trustee tokens.
const LABEL: &[u8] = b"urna/v1/trustee-token";

/// HMAC-SHA256 (RFC 2104). The padded keys (the admin token) are wiped.
fn hmac(key: &[u8], msg: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new([0u8; 64]);
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| Zeroizing::new(k.iter().map(|x| x ^ b).collect::<Vec<u8>>());
    let inner = Sha256::new()
        .chain_update(pad(0x36).as_slice())
        .chain_update(msg)
        .finalize();
    Zeroizing::new(
        Sha256::new()
            .chain_update(pad(0x5c).as_slice())
            .chain_update(inner)
            .finalize()
            .into(),
    )
}

/// Trustee j's token for the election with manifest hash `m`.
pub(crate) fn token(admin: &str, m: &[u8; 32], j: u16) -> Secret {
    let mut msg = Vec::with_capacity(LABEL.len() + 34);
    msg.extend_from_slice(LABEL);
    msg.extend_from_slice(m);
    msg.extend_from_slice(&j.to_be_bytes());
    Secret::new(hex::encode(*hmac(admin.as_bytes(), &msg)))
}

fn unknown_trustee(j: u16, n: u16) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_trustee",
        format!("Trustee {j} is not one of this election's trustees (1 to {n})."),
    )
}

fn no_manifest() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_manifest",
        "No election manifest has been published on this server.",
    )
}

fn trustee_index(p: Result<Path<u16>, PathRejection>) -> Result<u16, ApiError> {
    p.map(|Path(j)| j).map_err(|_| {
        ApiError::bad_request(
            "invalid_parameter",
            "The trustee index in the path must be a number from 1 to 64.",
        )
    })
}

/// The manifest hash and `n`, and `j` checked against `1..=n`.
fn election_of(state: &AppState, j: u16) -> Result<[u8; 32], ApiError> {
    let m = state
        .election
        .shared
        .manifest
        .get()
        .ok_or_else(no_manifest)?;
    let n = m.trustees().n;
    if j == 0 || j > n {
        return Err(unknown_trustee(j, n));
    }
    Ok(*m.hash())
}

/// Checks `Authorization: Bearer <trustee j's token>`.
fn authorize(state: &AppState, headers: &HeaderMap, j: u16) -> Result<(), ApiError> {
    let admin = &state.election.shared.config.admin;
    let Some(secret) = admin.secret() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "This server was started without an admin token, so no trustee token exists.",
        ));
    };
    let m = election_of(state, j)?;
    let expected = token(secret, &m, j);
    if super::auth::bearer_is(headers, expected.expose()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("This endpoint needs trustee {j}'s bearer token (Authorization: Bearer ...)."),
        ))
    }
}

fn not_yours(what: &str, sender: u16, j: u16) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_your_message",
        format!("This {what} is trustee {sender}'s, but the token is trustee {j}'s."),
    )
}

/// `POST /election/trustees/{j}/token` (admin): trustee j's token.
pub(crate) async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    j: Result<Path<u16>, PathRejection>,
) -> Result<Response, ApiError> {
    let admin = &state.election.shared.config.admin;
    admin.check(&headers)?;
    let j = trustee_index(j)?;
    let m = election_of(&state, j)?;
    let Some(secret) = admin.secret() else {
        return Err(ApiError::internal());
    };
    let token = token(secret, &m, j);
    Ok(Json(json!({ "trustee": j, "token": token.expose() })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    /// A `trustee_ceremony` payload (spec/record.md §R3), hex.
    message: String,
}

/// `POST /election/trustees/{j}/ceremony`: trustee j's own ceremony message.
pub(crate) async fn ceremony(
    State(state): State<AppState>,
    headers: HeaderMap,
    j: Result<Path<u16>, PathRejection>,
    body: Result<Json<MessageBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let j = trustee_index(j)?;
    authorize(&state, &headers, j)?;
    let payload = from_hex("message", &json_body(body)?.message)?;
    let msg = CeremonyMessage::decode(&payload).map_err(ElectionError::from)?;
    let sender = match &msg {
        CeremonyMessage::Round1(m) => Some(m.trustee),
        CeremonyMessage::Round2(m) => Some(m.dealer),
        CeremonyMessage::Complaint(c) => Some(c.complainer),
        // The engine refuses it with its own code.
        CeremonyMessage::JointKey(_) => None,
    };
    if let Some(s) = sender
        && s != j
    {
        return Err(not_yours("ceremony message", s, j));
    }
    super::admin::accept_ceremony(&state, payload).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialsBody {
    /// Trustee j's `partial_decryption` payloads (spec/record.md §R11), hex, in order.
    payloads: Vec<String>,
}

/// `POST /election/trustees/{j}/partials`: trustee j's partial decryptions.
pub(crate) async fn partials(
    State(state): State<AppState>,
    headers: HeaderMap,
    j: Result<Path<u16>, PathRejection>,
    body: Result<Json<PartialsBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let j = trustee_index(j)?;
    authorize(&state, &headers, j)?;
    let payloads = json_body(body)?
        .payloads
        .iter()
        .map(|p| from_hex("payloads", p))
        .collect::<Result<Vec<_>, _>>()?;
    for p in &payloads {
        let c = PartialChunk::decode(p).map_err(ElectionError::from)?;
        if c.trustee != j {
            return Err(not_yours("partial decryption", c.trustee, j));
        }
    }
    super::admin::accept_partials(&state, payloads).await
}

/// `GET /election/ceremony`: every ceremony message on the board so far,
/// in board order, and the joint key once published: what a trustee's
/// machine reads between its steps.
pub(crate) async fn messages(State(state): State<AppState>) -> Result<Response, ApiError> {
    let shared = &state.election.shared;
    let m = shared.manifest.get().ok_or_else(no_manifest)?;
    let phase = shared.inner.lock().await.phase.name();
    let log = shared.ceremony_log();
    let messages: Vec<_> = log
        .iter()
        .map(|(i, p)| json!({ "index": i, "payload": hex::encode(p) }))
        .collect();
    let p = m.trustees();
    Ok(Json(json!({
        "phase": phase,
        "n": p.n,
        "t": p.t,
        "manifest_hash": hex::encode(m.hash()),
        "messages": messages,
        "joint_key": shared.keys.get().map(|k| k.key.element().to_hex()),
        "fingerprint": shared.keys.get().map(|k| k.fingerprint.to_hex()),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_sha256_vector() {
        assert_eq!(
            hex::encode(hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let m = [1u8; 32];
        let t = |admin, m, j| token(admin, m, j).expose().to_string();
        assert_ne!(t("a", &m, 1), t("a", &m, 2));
        assert_ne!(t("a", &m, 1), t("b", &m, 1));
        assert_ne!(t("a", &m, 1), t("a", &[2u8; 32], 1));
    }

    /// Tokens never reach a log through `Debug`.
    #[test]
    fn tokens_do_not_print() {
        let tok = token("admin-secret", &[1u8; 32], 1);
        let shown = format!("{tok:?}");
        assert!(!shown.contains(tok.expose()), "{shown}");
        let admin = super::super::AdminToken::new("admin-secret");
        assert!(!format!("{admin:?}").contains("admin-secret"));
    }
}
