//! One-time-code login (spec/registration.md §G6): issuing a code within
//! the rate limits, checking it, and the sessions it opens. The policy and
//! the checks themselves are [`crate::otp`]'s.

use urna_election::Timestamp;

use super::row::{Val, blob, count, get_i64, get_opt_text, get_text, need_32, text};
use super::{Delivery, Registry, Tx, not_approved, refused};
use crate::error::RegistryError;
use crate::notify::Channel;
use crate::otp::{self, CodeCheck, Limit, OtpPolicy, SessionToken, StoredCode};
use crate::secret::CommissionSecret;
use subtle::ConstantTimeEq;

impl Registry {
    /// Issues a one-time code for an approved voter, within the rate limits
    /// per voter, per delivery address and per client address. The caller
    /// sends [`Delivery::code`] through its notifier after this returns.
    pub fn request_code(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        voter_id: &str,
        client: &str,
        now: Timestamp,
    ) -> Result<Delivery, RegistryError> {
        self.request_code_via(secret, policy, voter_id, Channel::Sms, client, now)
    }

    /// [`Registry::request_code`] for a code sent through `channel`: by
    /// e-mail only when the application has an address, and the limit
    /// per delivery address counts that address (spec/registration.md §G6).
    pub fn request_code_via(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        voter_id: &str,
        channel: Channel,
        client: &str,
        now: Timestamp,
    ) -> Result<Delivery, RegistryError> {
        self.tx(|tx| {
            let Contact { phone, email } = approved_contact(tx, voter_id)?;
            let who = Approved {
                voter_id: voter_id.to_string(),
                phone,
                email,
            };
            issue(tx, secret, policy, who, channel, client, now)
        })
    }

    /// `POST /registration/codes` (spec/registration.md §G6): a code for
    /// the approved voter with this document number and birth date. The
    /// identity check is counted per document (under a keyed hash) and
    /// per client before the registry is read, and an unknown document, a
    /// wrong birth date and an unapproved voter are refused alike
    /// (`not_approved`, one sentence, the same statements run), so the
    /// endpoint neither confirms who is in the registry nor lets birth
    /// dates be tried without limit. The refused check stays counted.
    #[allow(clippy::too_many_arguments)]
    pub fn request_code_for(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        document_number: &str,
        birth_date: &str,
        channel: Channel,
        client: &str,
        now: Timestamp,
    ) -> Result<Delivery, RegistryError> {
        self.tx(|tx| {
            count_identity_check(tx, secret, policy, document_number, client, now)?;
            let Some(who) = identify(tx, secret, document_number, birth_date)? else {
                return Ok(Err(unknown_identity()));
            };
            // A refusal here (a limit, no e-mail) is decided before any
            // write of `issue`; a storage fault rolls everything back.
            match issue(tx, secret, policy, who, channel, client, now) {
                Err(e) if e.is_internal() => Err(e),
                other => Ok(other),
            }
        })?
    }

    /// `POST /registration/sessions` (spec/registration.md §G6): checks
    /// the identity as [`request_code_for`](Self::request_code_for) does
    /// (counted, refused alike), then the code as
    /// [`verify_code`](Self::verify_code).
    #[allow(clippy::too_many_arguments)]
    pub fn login(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        document_number: &str,
        birth_date: &str,
        code: &str,
        client: &str,
        now: Timestamp,
    ) -> Result<SessionToken, RegistryError> {
        self.tx(|tx| {
            count_identity_check(tx, secret, policy, document_number, client, now)?;
            let Some(who) = identify(tx, secret, document_number, birth_date)? else {
                return Ok(Err(unknown_identity()));
            };
            spend_code(tx, secret, policy, &who.voter_id, code, now)
        })?
    }

    /// Checks a code; a correct one is spent and opens a session bound to
    /// the voter. A wrong one counts as an attempt (committed, §G6).
    pub fn verify_code(
        &self,
        secret: &CommissionSecret,
        policy: &OtpPolicy,
        voter_id: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<SessionToken, RegistryError> {
        self.tx(|tx| spend_code(tx, secret, policy, voter_id, code, now))?
    }

    /// The voter of a live session (§G6).
    pub fn session_voter(
        &self,
        token: &SessionToken,
        now: Timestamp,
    ) -> Result<String, RegistryError> {
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT voter_id, expires FROM sessions WHERE token_hash = ?1",
                &[blob(&token.stored_hash())],
            )?;
            match rows.first() {
                Some(r) if get_i64(r, 1)? > now.unix() => get_text(r, 0),
                _ => Err(otp::session_invalid()),
            }
        })
    }

    /// Ends a session (idempotent).
    pub fn logout(&self, token: &SessionToken) -> Result<(), RegistryError> {
        self.tx(|tx| {
            tx.exec(
                "DELETE FROM sessions WHERE token_hash = ?1",
                &[blob(&token.stored_hash())],
            )
            .map(|_| ())
        })
    }
}

/// Where messages to an approved voter go: the application's phone, and
/// its e-mail address when it has one.
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// The application's phone (`+…`).
    pub phone: String,
    /// The application's e-mail address, if any.
    pub email: Option<String>,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data: kept out of debug logs.
        f.write_str("Contact(..)")
    }
}

impl Registry {
    /// The phone and e-mail address of `voter_id`'s approved application
    /// (`not_approved` without one), for the receipt message of
    /// spec/registration.md §G6.1.
    pub fn contact(&self, voter_id: &str) -> Result<Contact, RegistryError> {
        self.tx(|tx| approved_contact(tx, voter_id))
    }
}

/// The phone and e-mail address of `voter_id`'s approved application.
fn approved_contact(tx: &mut dyn Tx, voter_id: &str) -> Result<Contact, RegistryError> {
    let rows = tx.query(
        "SELECT phone, email FROM applications WHERE voter_id = ?1 AND state = 'approved'",
        &[text(voter_id)],
    )?;
    let row = rows.first().ok_or_else(not_approved)?;
    Ok(Contact {
        phone: get_text(row, 0)?,
        email: get_opt_text(row, 1)?,
    })
}

/// An approved voter and where a code can go.
struct Approved {
    voter_id: String,
    phone: String,
    email: Option<String>,
}

fn unknown_identity() -> RegistryError {
    refused(
        "not_approved",
        "there is no approved application for this document and birth date",
    )
}

/// Counts one identity check against the hourly limits per document
/// (its keyed attempt hash, never the number) and per client address,
/// before the registry is read (§G6): a document in the registry and one
/// that is not are refused alike once over the limit.
fn count_identity_check(
    tx: &mut dyn Tx,
    secret: &CommissionSecret,
    policy: &OtpPolicy,
    document_number: &str,
    client: &str,
    now: Timestamp,
) -> Result<(), RegistryError> {
    let doc = hex::encode(secret.attempt_key(document_number));
    count_events(
        tx,
        policy,
        &[(Limit::Document, &doc), (Limit::ClientCheck, client)],
        now,
    )
}

/// Checks each limit over the last hour, then records one event for each
/// (and forgets the older ones). All checks come before any write.
fn count_events(
    tx: &mut dyn Tx,
    policy: &OtpPolicy,
    keys: &[(Limit, &str)],
    now: Timestamp,
) -> Result<(), RegistryError> {
    let hour_ago = now.unix() - 3600;
    for (limit, key) in keys {
        let n = tx.query(
            "SELECT COUNT(*) FROM rate_events WHERE kind = ?1 AND key = ?2 AND time > ?3",
            &[text(limit.kind()), text(key), Val::Int(hour_ago)],
        )?;
        otp::check_rate(*limit, count(&n)?, policy)?;
    }
    for (limit, key) in keys {
        tx.exec(
            "DELETE FROM rate_events WHERE kind = ?1 AND key = ?2 AND time <= ?3",
            &[text(limit.kind()), text(key), Val::Int(hour_ago)],
        )?;
        tx.exec(
            "INSERT INTO rate_events (kind, key, time) VALUES (?1, ?2, ?3)",
            &[text(limit.kind()), text(key), Val::Int(now.unix())],
        )?;
    }
    Ok(())
}

/// The approved voter with this document and birth date, or `None` for an
/// unknown document, another birth date or no approved application alike:
/// one statement whatever the case, and a constant-time date comparison.
fn identify(
    tx: &mut dyn Tx,
    secret: &CommissionSecret,
    document_number: &str,
    birth_date: &str,
) -> Result<Option<Approved>, RegistryError> {
    let doc = secret.doc_hash(document_number);
    let rows = tx.query(
        "SELECT v.voter_id, v.birth_date, a.state, a.phone, a.email FROM voters v \
         LEFT JOIN applications a ON a.voter_id = v.voter_id WHERE v.doc_hash = ?1 AND v.active = 1",
        &[blob(&doc.0)],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let born: bool = get_text(r, 1)?
        .as_bytes()
        .ct_eq(birth_date.trim().as_bytes())
        .into();
    if !born || get_opt_text(r, 2)?.as_deref() != Some("approved") {
        return Ok(None);
    }
    Ok(Some(Approved {
        voter_id: get_text(r, 0)?,
        phone: get_text(r, 3)?,
        email: get_opt_text(r, 4)?,
    }))
}

/// Issues a code to an approved voter within the limits per voter, per
/// delivery address and per client (§G6); replaces any earlier code.
fn issue(
    tx: &mut dyn Tx,
    secret: &CommissionSecret,
    policy: &OtpPolicy,
    who: Approved,
    channel: Channel,
    client: &str,
    now: Timestamp,
) -> Result<Delivery, RegistryError> {
    let Approved {
        voter_id,
        phone,
        email,
    } = who;
    let address = match (channel, &email) {
        (Channel::Sms, _) => phone.as_str(),
        (Channel::Email, Some(e)) => e.as_str(),
        (Channel::Email, None) => {
            return Err(refused(
                "no_email",
                "the application gives no e-mail address: ask for the code by SMS",
            ));
        }
    };
    let keys = [
        (Limit::Voter, voter_id.as_str()),
        (Limit::Delivery, address),
        (Limit::Client, client),
    ];
    count_events(tx, policy, &keys, now)?;
    let code = otp::generate_code(policy.digits);
    let expires = now.plus_seconds(policy.ttl_seconds).unix();
    tx.exec(
        "INSERT INTO otp_codes (voter_id, code_hash, expires, attempts) VALUES (?1, ?2, ?3, 0) \
         ON CONFLICT (voter_id) DO UPDATE SET code_hash = excluded.code_hash, \
         expires = excluded.expires, attempts = 0",
        &[
            text(&voter_id),
            blob(&secret.otp_hash(&voter_id, &code)),
            Val::Int(expires),
        ],
    )?;
    Ok(Delivery {
        voter_id,
        phone,
        email,
        code,
    })
}

/// Checks a code (§G6): a correct one is spent and opens a session; a
/// wrong one counts as an attempt and a dead one is deleted, both refused
/// with the change kept (the inner `Err`, committed by the caller).
fn spend_code(
    tx: &mut dyn Tx,
    secret: &CommissionSecret,
    policy: &OtpPolicy,
    voter_id: &str,
    code: &str,
    now: Timestamp,
) -> Result<Result<SessionToken, RegistryError>, RegistryError> {
    let given = secret.otp_hash(voter_id, code.trim());
    let rows = tx.query(
        "SELECT code_hash, expires, attempts FROM otp_codes WHERE voter_id = ?1",
        &[text(voter_id)],
    )?;
    let Some(row) = rows.first() else {
        return Ok(Err(refused(
            "otp_not_requested",
            "no code was requested for this voter, or it was used",
        )));
    };
    let stored = StoredCode {
        hash: need_32(row, 0, "otp")?,
        expires: get_i64(row, 1)?,
        attempts: u32::try_from(get_i64(row, 2)?).unwrap_or(u32::MAX),
    };
    let check = otp::check_code(&stored, &given, now.unix(), policy);
    match check {
        CodeCheck::Wrong { .. } => {
            tx.exec(
                "UPDATE otp_codes SET attempts = attempts + 1 WHERE voter_id = ?1",
                &[text(voter_id)],
            )?;
            Ok(Err(refusal(check)))
        }
        CodeCheck::Dead(_) => {
            tx.exec(
                "DELETE FROM otp_codes WHERE voter_id = ?1",
                &[text(voter_id)],
            )?;
            Ok(Err(refusal(check)))
        }
        CodeCheck::Accept => {
            tx.exec(
                "DELETE FROM otp_codes WHERE voter_id = ?1",
                &[text(voter_id)],
            )?;
            let approved = tx.query(
                "SELECT COUNT(*) FROM applications WHERE voter_id = ?1 AND state = 'approved'",
                &[text(voter_id)],
            )?;
            if count(&approved)? == 0 {
                // Rolled back: the code stays, as before the attempt.
                return Err(not_approved());
            }
            let token = SessionToken::random();
            tx.exec(
                "DELETE FROM sessions WHERE expires <= ?1",
                &[Val::Int(now.unix())],
            )?;
            tx.exec(
                "INSERT INTO sessions (token_hash, voter_id, expires) VALUES (?1, ?2, ?3)",
                &[
                    blob(&token.stored_hash()),
                    text(voter_id),
                    Val::Int(now.plus_seconds(policy.session_ttl_seconds).unix()),
                ],
            )?;
            Ok(Ok(token))
        }
    }
}

fn refusal(check: CodeCheck) -> RegistryError {
    otp::refusal(check).unwrap_or_else(|| RegistryError::storage("otp", "accepted code refused"))
}
