//! `POST /registration/receipt` (spec/registration.md §G6.1): a logged-in
//! voter asks for their ballot's receipt code by SMS or e-mail, to their
//! own application's phone or address. The message names the election and
//! the receipt code (spec/receipt-code.md), never anything of the ballot's
//! content, and only a cast ballot on the board gets one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use urna_election::receipt_code::receipt_code;
use urna_registry::notify::{Channel, Message};

use super::board::ElectionBoard;
use super::{RegistrationService, api, blocking, body, channel_of, lang_of, mask, mask_email};
use crate::error::ApiError;
use crate::json::{Json, JsonRejection};

/// Receipt messages per voter in any hour (§G6.1): enough for a voter who
/// re-votes a few times, too few to use the server as a message cannon.
pub(super) const PER_VOTER_PER_HOUR: usize = 5;

/// When each voter's receipt messages were sent (unix seconds), on this
/// server.
#[derive(Debug, Default)]
pub(super) struct Sent(Mutex<HashMap<String, Vec<i64>>>);

impl Sent {
    /// Counts one message for `voter` at `now`, or refuses when the voter
    /// had [`PER_VOTER_PER_HOUR`] in the last hour.
    fn take(&self, voter: &str, now: i64) -> Result<(), ApiError> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let times = map.entry(voter.to_string()).or_default();
        times.retain(|t| now - t < 3600);
        if times.len() >= PER_VOTER_PER_HOUR {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "receipt_rate_limited",
                "Too many receipt messages in the last hour; try again later.",
            ));
        }
        times.push(now);
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReceiptBody {
    /// The ballot's tracking code, 64 hex digits.
    tracking: String,
    /// `sms` (the default) or `email`.
    channel: Option<String>,
    /// The message's language, `ru` or `en`.
    lang: Option<String>,
}

fn tracking_of(hex_code: &str) -> Result<[u8; 32], ApiError> {
    let mut t = [0u8; 32];
    let lower = hex_code.len() == 64 && !hex_code.bytes().any(|b| b.is_ascii_uppercase());
    match hex::decode_to_slice(hex_code, &mut t) {
        Ok(()) if lower => Ok(t),
        _ => Err(ApiError::bad_request(
            "invalid_tracking_code",
            "A tracking code is 64 lower-case hex digits.",
        )),
    }
}

/// `POST /registration/receipt`.
pub(super) async fn send(
    State(s): State<RegistrationService>,
    State(board): State<Arc<dyn ElectionBoard>>,
    headers: HeaderMap,
    b: Result<Json<ReceiptBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(b)?;
    let tracking = tracking_of(&b.tracking)?;
    let channel = channel_of(b.channel.as_deref())?;
    let lang = lang_of(b.lang.as_deref())?;
    if !s.0.notifier.supports(channel) {
        return Err(ApiError::bad_request(
            "channel_unavailable",
            "This server does not send messages by e-mail; ask for an SMS.",
        ));
    }
    blocking(move || {
        let voter = s.session(&headers)?;
        if board.cast_ballot(&tracking).is_none() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_tracking_code",
                "No cast ballot with this tracking code is on the board.",
            ));
        }
        let i = &s.0;
        let contact = i.registry.contact(&voter).map_err(api)?;
        let (to, shown) = match (channel, &contact.email) {
            (Channel::Email, Some(e)) => (e.clone(), mask_email(e)),
            (Channel::Email, None) => {
                return Err(ApiError::bad_request(
                    "no_email",
                    "Your application has no e-mail address; ask for an SMS.",
                ));
            }
            (Channel::Sms, _) => (contact.phone.clone(), mask(&contact.phone)),
        };
        i.receipts_sent.take(&voter, i.clock.now().unix())?;
        let (lang, title) = i.message_title(lang);
        let msg = Message::receipt(channel, &to, title, &receipt_code(&tracking), lang);
        i.notifier.send(&msg).map_err(|e| {
            tracing::error!(error = %e, "sending a receipt message failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "notifier_failed",
                "The message could not be sent; try again later.",
            )
        })?;
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({ "sent_to": shown, "channel": channel })),
        )
            .into_response())
    })
    .await
}
