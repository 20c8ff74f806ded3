//! Who may do what: the admin bearer token (replaced by signed admin
//! actions in a later issue) and the [`Registrar`] seam through which
//! credentials are registered (registration proper comes with issue 5).

use std::fmt;

use axum::http::{HeaderMap, StatusCode, header};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// A bearer secret (the admin token, a derived trustee token): wiped
/// from memory when dropped, compared in constant time ([`bearer_is`]),
/// never printed.
#[derive(Clone)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    pub(crate) fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }

    /// The secret itself, for deriving or sending (never for logs).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The admin's bearer token, given at server start; `None` disables
/// every admin endpoint.
#[derive(Clone, Default)]
pub struct AdminToken(Option<Secret>);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never log the token.
        f.write_str(if self.0.is_some() {
            "AdminToken(set)"
        } else {
            "AdminToken(none)"
        })
    }
}

impl AdminToken {
    /// A token; an empty string disables admin endpoints. The string is
    /// taken over and wiped when the last copy of the token is dropped.
    pub fn new(token: impl Into<String>) -> Self {
        let t = Secret::new(token.into());
        AdminToken((!t.expose().is_empty()).then_some(t))
    }

    /// No admin endpoint can be used.
    pub fn disabled() -> Self {
        AdminToken(None)
    }

    /// The token, to derive trustee tokens from (never logged or sent).
    pub(crate) fn secret(&self) -> Option<&str> {
        self.0.as_ref().map(Secret::expose)
    }

    /// Checks `Authorization: Bearer <token>`.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.0 else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "This server was started without an admin token; admin endpoints are disabled.",
            ));
        };
        if bearer_is(headers, expected.expose()) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "This endpoint needs the admin's bearer token (Authorization: Bearer ...).",
            ))
        }
    }
}

/// Whether the request carries `Authorization: Bearer <expected>`. The
/// comparison is constant-time in the token's bytes, so response timing
/// says nothing about how much of a guessed token was right.
pub(crate) fn bearer_is(headers: &HeaderMap, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

/// Decides whether a request may register a voter's public credential.
/// Issue 4 uses [`AdminRegistrar`]; voter registration with screening and
/// one-time codes plugs in here later without touching the handlers.
pub trait Registrar: Send + Sync + fmt::Debug + 'static {
    /// `Ok` if the request (its headers) may register a credential.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError>;

    /// `Ok` if the request may register this credential in this district
    /// and precinct; called once the body is read, before the engine. A
    /// voter registrar binds the credential to the logged-in voter and
    /// their precinct here. The default only looks at the headers.
    fn authorize_credential(
        &self,
        headers: &HeaderMap,
        request: &CredentialRequest<'_>,
    ) -> Result<(), ApiError> {
        let _ = request;
        self.authorize(headers)
    }

    /// `Ok` if a ballot signed by this credential may be cast; called before
    /// the ballot is verified. A voter registrar refuses the credential of
    /// a withdrawn or revoked application here (spec/registration.md §G4):
    /// that voter votes on paper; and in the same registry transaction
    /// reserves the credential, so a withdrawal cannot slip in before the
    /// ballot is on the board ([`ballots_recorded`](Self::ballots_recorded)
    /// or [`ballot_refused`](Self::ballot_refused) end the reservation).
    /// The default accepts every credential.
    fn authorize_ballot(&self, credential: &[u8; 32]) -> Result<(), ApiError> {
        let _ = credential;
        Ok(())
    }

    /// For each registered credential, whether its application still
    /// stands; asked once at the open, under the engine lock, and only
    /// those that stand are sealed (spec/record.md §R4). A voter registrar
    /// answers `false` for a withdrawn or revoked application. The answer
    /// must have one entry per credential; the default says all stand.
    fn standing(&self, credentials: &[[u8; 32]]) -> Result<Vec<bool>, ApiError> {
        Ok(vec![true; credentials.len()])
    }

    /// Told that a ballot of this credential, which
    /// [`authorize_ballot`](Self::authorize_ballot) let through, was refused
    /// and is not on the board, so that a registrar that reserved the
    /// credential there (withdrawal waits while a ballot is being cast,
    /// spec/registration.md §G4) gives the reservation back. Not called when
    /// the outcome is unknown (an internal error): the reservation then
    /// stays, which only keeps the application from being withdrawn. The
    /// default does nothing.
    fn ballot_refused(&self, credential: &[u8; 32]) {
        let _ = credential;
    }

    /// Credentials reserved by ballots whose outcome a stopped server never
    /// learnt (a crash, a failed append): asked once before a restart's
    /// replay. The default has none.
    fn unsettled(&self) -> Result<Vec<[u8; 32]>, ApiError> {
        Ok(Vec::new())
    }

    /// After a restart's replay, which of the [`unsettled`](Self::unsettled)
    /// credentials have a ballot on the board (`on_board`: they voted
    /// online) and which do not (their reservation is given back). The
    /// default does nothing.
    fn settle(&self, on_board: &[[u8; 32]], not_on_board: &[[u8; 32]]) -> Result<(), ApiError> {
        let _ = (on_board, not_on_board);
        Ok(())
    }

    /// Told, once they are durable on the board, the credentials whose
    /// ballots were just recorded (first votes and re-votes), so a
    /// registrar can mark those voters as having voted online: their
    /// applications can no longer be withdrawn and they appear in the
    /// precinct's voted-online list. The ballots stand whatever happens
    /// here; the default does nothing.
    fn ballots_recorded(&self, credentials: &[[u8; 32]]) {
        let _ = credentials;
    }
}

/// What `POST /election/credentials` asks to register.
#[derive(Debug, Clone, Copy)]
pub struct CredentialRequest<'a> {
    /// District id.
    pub district: &'a str,
    /// Precinct id.
    pub precinct: &'a str,
    /// The public credential (encoded element).
    pub credential: &'a [u8; 32],
}

/// Registration by the admin only (test voters).
#[derive(Debug, Clone)]
pub struct AdminRegistrar(pub AdminToken);

impl Registrar for AdminRegistrar {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        self.0.check(headers)
    }
}
