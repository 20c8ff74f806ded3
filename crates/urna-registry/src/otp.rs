//! One-time-code login (sans-IO): the policy, code and token generation,
//! and the checks the store runs inside its transaction (spec/registration.md §G6).
//!
//! A code is random, uniform over `digits` decimal digits, and stored only
//! as an HMAC under the commission secret (a 6-digit code has 20 bits: an
//! unkeyed hash is no protection). It expires after `ttl_seconds`, allows
//! `max_attempts` wrong guesses and is then dead; issuing is limited per
//! voter and per address (the phone or e-mail it is sent to, and the
//! client's network address) over a sliding hour. A correct code gives a
//! session: a random 256-bit token, stored as its SHA-256, bound to the
//! voter, expiring after `session_ttl_seconds`.

use std::fmt;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::RegistryError;
use crate::secret::ct_eq32;

/// Login policy (`[otp]` of the registration config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpPolicy {
    /// Digits of a code, 6 to 9.
    pub digits: u8,
    /// Seconds a code is valid.
    pub ttl_seconds: u64,
    /// Wrong guesses allowed per code.
    pub max_attempts: u32,
    /// Codes issued per voter per hour.
    pub per_voter_per_hour: u32,
    /// Codes issued per delivery address, and per client address, per hour;
    /// also identity checks (code requests and logins) per client address.
    pub per_address_per_hour: u32,
    /// Identity checks (code requests and logins) per document number per
    /// hour, counted before the registry is consulted, so that wrong birth
    /// dates for a known document cannot be tried without limit.
    pub per_document_per_hour: u32,
    /// Seconds a session lasts.
    pub session_ttl_seconds: u64,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        OtpPolicy {
            digits: 6,
            ttl_seconds: 300,
            max_attempts: 5,
            per_voter_per_hour: 5,
            per_address_per_hour: 20,
            per_document_per_hour: 10,
            session_ttl_seconds: 900,
        }
    }
}

impl OtpPolicy {
    /// `Err(field: problem)` if a value is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(6..=9).contains(&self.digits) {
            return Err(format!("digits: {} is outside 6..=9", self.digits));
        }
        if !(30..=3600).contains(&self.ttl_seconds) {
            return Err(format!(
                "ttl_seconds: {} is outside 30..=3600",
                self.ttl_seconds
            ));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(format!(
                "max_attempts: {} is outside 1..=10",
                self.max_attempts
            ));
        }
        if self.per_voter_per_hour == 0
            || self.per_address_per_hour == 0
            || self.per_document_per_hour == 0
        {
            return Err(
                "per_voter_per_hour, per_address_per_hour and per_document_per_hour must be at least 1"
                    .into(),
            );
        }
        if !(60..=86_400).contains(&self.session_ttl_seconds) {
            return Err(format!(
                "session_ttl_seconds: {} is outside 60..=86400",
                self.session_ttl_seconds
            ));
        }
        Ok(())
    }
}

/// A fresh code of `digits` digits, uniform (no modulo bias).
pub fn generate_code(digits: u8) -> Zeroizing<String> {
    let bound = 10u64.pow(u32::from(digits.clamp(6, 9)));
    let n: u64 = rand::random_range(0..bound);
    Zeroizing::new(format!(
        "{n:0width$}",
        width = usize::from(digits.clamp(6, 9))
    ))
}

/// A session token handed to the voter's browser. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionToken([u8; 32]);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

impl SessionToken {
    /// A fresh random token.
    pub fn random() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        SessionToken(b)
    }

    /// From the 64 hex digits the client sends back.
    pub fn from_hex(text: &str) -> Result<Self, RegistryError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(text, &mut b).map_err(|_| session_invalid())?;
        Ok(SessionToken(b))
    }

    /// The hex form for the client.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    /// What the store keeps: SHA-256 of the token (a 256-bit random value
    /// needs no key), so a database dump gives no usable session.
    pub fn stored_hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }
}

pub(crate) fn session_invalid() -> RegistryError {
    RegistryError::refused(
        "session_invalid",
        "the session is unknown or has expired; log in again",
    )
}

/// A code as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredCode {
    /// Keyed hash of the code.
    pub hash: [u8; 32],
    /// Unix seconds after which it is dead.
    pub expires: i64,
    /// Wrong guesses so far.
    pub attempts: u32,
}

/// What to do with a submitted code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// Correct: delete the code, open a session.
    Accept,
    /// Wrong: count the attempt (the refusal must change this counter, or
    /// the attempt limit would mean nothing).
    Wrong {
        /// Guesses left after this one.
        left: u32,
    },
    /// Expired or out of attempts: delete the code.
    Dead(&'static str),
}

/// Checks a submitted code's hash against the stored one (constant time).
pub fn check_code(
    stored: &StoredCode,
    given: &[u8; 32],
    now: i64,
    policy: &OtpPolicy,
) -> CodeCheck {
    if now >= stored.expires {
        return CodeCheck::Dead("otp_expired");
    }
    if stored.attempts >= policy.max_attempts {
        return CodeCheck::Dead("otp_attempts_exhausted");
    }
    if ct_eq32(&stored.hash, given) {
        CodeCheck::Accept
    } else {
        CodeCheck::Wrong {
            left: policy.max_attempts - stored.attempts - 1,
        }
    }
}

/// The refusal for a [`CodeCheck`] other than `Accept`.
pub fn refusal(check: CodeCheck) -> Option<RegistryError> {
    match check {
        CodeCheck::Accept => None,
        CodeCheck::Wrong { left } => Some(RegistryError::refused(
            "otp_wrong_code",
            format!("the code is wrong; {left} attempt(s) left"),
        )),
        CodeCheck::Dead("otp_expired") => Some(RegistryError::refused(
            "otp_expired",
            "the code has expired; ask for a new one",
        )),
        CodeCheck::Dead(code) => Some(RegistryError::refused(
            code,
            "too many wrong codes; ask for a new one",
        )),
    }
}

/// Which rate limit an event counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Codes per voter.
    Voter,
    /// Codes per delivery address (phone, e-mail).
    Delivery,
    /// Codes per client network address.
    Client,
    /// Identity checks per document number (keyed hash, never the number).
    Document,
    /// Identity checks per client network address.
    ClientCheck,
}

impl Limit {
    /// The key kind stored.
    pub fn kind(self) -> &'static str {
        match self {
            Limit::Voter => "voter",
            Limit::Delivery => "delivery",
            Limit::Client => "client",
            Limit::Document => "document",
            Limit::ClientCheck => "client-check",
        }
    }

    /// The limit per hour under `policy`.
    pub fn per_hour(self, policy: &OtpPolicy) -> u32 {
        match self {
            Limit::Voter => policy.per_voter_per_hour,
            Limit::Delivery | Limit::Client | Limit::ClientCheck => policy.per_address_per_hour,
            Limit::Document => policy.per_document_per_hour,
        }
    }
}

/// `Err(otp_rate_limited)` if `recent` events in the last hour reach the limit.
pub fn check_rate(limit: Limit, recent: u64, policy: &OtpPolicy) -> Result<(), RegistryError> {
    if recent >= u64::from(limit.per_hour(policy)) {
        let message = match limit {
            Limit::Voter => "too many codes requested for this voter in the last hour; try later",
            Limit::Delivery => {
                "too many codes requested for this phone or e-mail in the last hour; try later"
            }
            Limit::Client => {
                "too many codes requested for this network address in the last hour; try later"
            }
            // The same sentence for a known and an unknown document: the
            // refusal comes before the registry is read (§G6).
            Limit::Document | Limit::ClientCheck => {
                "too many login attempts for this document or network address in the last hour; try later"
            }
        };
        return Err(RegistryError::refused("otp_rate_limited", message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_fixed_width_and_vary() {
        let codes: std::collections::BTreeSet<String> =
            (0..50).map(|_| generate_code(6).to_string()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.len() > 40);
        assert_eq!(generate_code(9).len(), 9);
    }

    #[test]
    fn code_checks() {
        let p = OtpPolicy::default();
        let s = StoredCode {
            hash: [7; 32],
            expires: 100,
            attempts: 0,
        };
        assert_eq!(check_code(&s, &[7; 32], 99, &p), CodeCheck::Accept);
        assert_eq!(
            check_code(&s, &[7; 32], 100, &p),
            CodeCheck::Dead("otp_expired")
        );
        assert_eq!(
            check_code(&s, &[8; 32], 50, &p),
            CodeCheck::Wrong { left: 4 }
        );
        let tired = StoredCode { attempts: 5, ..s };
        assert_eq!(
            check_code(&tired, &[7; 32], 50, &p),
            CodeCheck::Dead("otp_attempts_exhausted")
        );
        assert_eq!(
            refusal(CodeCheck::Wrong { left: 1 }).unwrap().code(),
            "otp_wrong_code"
        );
    }

    #[test]
    fn rate_limits() {
        let p = OtpPolicy::default();
        assert!(check_rate(Limit::Voter, 4, &p).is_ok());
        assert_eq!(
            check_rate(Limit::Voter, 5, &p).unwrap_err().code(),
            "otp_rate_limited"
        );
        assert!(check_rate(Limit::Client, 19, &p).is_ok());
        assert!(check_rate(Limit::Client, 20, &p).is_err());
    }

    #[test]
    fn session_tokens() {
        let t = SessionToken::random();
        let back = SessionToken::from_hex(&t.to_hex()).unwrap();
        assert_eq!(t.stored_hash(), back.stored_hash());
        assert_eq!(
            SessionToken::from_hex("00").unwrap_err().code(),
            "session_invalid"
        );
    }
}
