//! The `registration.toml` file: the screening rules and login policy of
//! one election (spec/registration.md §G1; `[notify]` of §G6).
//!
//! It is a file of its own rather than a table of the manifest so that the
//! manifest format, its hash and the test vectors stay as they are; its
//! SHA-256 ([`RegistrationConfig::hash`]) is what a board entry can cite.
//! The application window is the manifest's (`schedule.applications_*`).
//!
//! ```toml
//! participating_regions = ["msk", "nnov"]
//! account_cutoff = "2020-06-01"       # accounts created after this day are refused
//! max_applicants_per_phone = 3        # K: a phone used by more applicants is refused
//! phone_blocklist = ["+79990000000"]
//! report_utc_offset_minutes = 180     # the report's days are Moscow days
//!
//! [otp]                               # every key optional; defaults shown
//! digits = 6
//! ttl_seconds = 300
//! max_attempts = 5
//! per_voter_per_hour = 5
//! per_address_per_hour = 20
//! per_document_per_hour = 10
//! session_ttl_seconds = 900
//!
//! [notify.sms]                        # optional: the SMS gateway webhook
//! url = "http://127.0.0.1:9001/sms"
//! token_file = "/etc/urna/sms.token"  # optional: its bearer token (first line)
//!
//! [notify.email]                      # optional: codes by e-mail too
//! url = "http://127.0.0.1:9002/mail"
//! token_file = "/etc/urna/mail.token"
//! subject = "Код для входа"           # optional
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::RegistryError;
use crate::date::Date;
use crate::import::normalize_phone;
use crate::otp::OtpPolicy;

/// The registration rules of one election, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// Regions whose voters may apply (ids of the manifest).
    pub participating_regions: BTreeSet<String>,
    /// Last day on which a portal account may have been created.
    pub account_cutoff: Date,
    /// K: at most this many applicants share one phone.
    pub max_applicants_per_phone: u32,
    /// Phones (normalised, `+` and digits) that may not be used.
    pub phone_blocklist: BTreeSet<String>,
    /// Offset of the report's days from UTC, minutes east.
    pub report_utc_offset_minutes: i32,
    /// One-time-code login.
    pub otp: OtpPolicy,
    /// Where one-time codes are sent (`[notify]`).
    pub notify: NotifyConfig,
    hash: [u8; 32],
}

/// The gateways of `[notify]`; both optional (`urna serve --outbox` or
/// `--notify-webhook` may give the SMS one instead).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The SMS gateway.
    pub sms: Option<GatewayConfig>,
    /// The e-mail gateway.
    pub email: Option<GatewayConfig>,
}

/// One gateway webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `http://host[:port]/path`.
    pub url: String,
    /// A file whose first line is the gateway's bearer token (kept out of
    /// this file, which is published).
    pub token_file: Option<std::path::PathBuf>,
    /// The e-mail subject.
    pub subject: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    participating_regions: Vec<String>,
    account_cutoff: String,
    max_applicants_per_phone: u32,
    #[serde(default)]
    phone_blocklist: Vec<String>,
    #[serde(default)]
    report_utc_offset_minutes: i32,
    #[serde(default)]
    otp: OtpPolicy,
    #[serde(default)]
    notify: NotifyConfig,
}

fn invalid(message: String) -> RegistryError {
    RegistryError::refused("invalid_registration_config", message)
}

impl RegistrationConfig {
    /// Parses and validates `registration.toml` bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RegistryError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| invalid(format!("registration config is not UTF-8: {e}")))?;
        let raw: Raw = toml::from_str(text)
            .map_err(|e| invalid(format!("registration config: {}", e.message())))?;
        if raw.participating_regions.is_empty() {
            return Err(invalid(
                "participating_regions: at least one region is needed".into(),
            ));
        }
        let account_cutoff = Date::parse(&raw.account_cutoff)
            .map_err(|e| invalid(format!("account_cutoff: {e}")))?;
        if raw.max_applicants_per_phone == 0 {
            return Err(invalid(
                "max_applicants_per_phone: must be at least 1".into(),
            ));
        }
        if !(-14 * 60..=14 * 60).contains(&raw.report_utc_offset_minutes) {
            return Err(invalid(
                "report_utc_offset_minutes: must be within ±840".into(),
            ));
        }
        let mut phone_blocklist = BTreeSet::new();
        for (i, p) in raw.phone_blocklist.iter().enumerate() {
            let n = normalize_phone(p).ok_or_else(|| {
                invalid(format!("phone_blocklist[{i}]: `{p}` is not a phone number"))
            })?;
            phone_blocklist.insert(n);
        }
        raw.otp
            .validate()
            .map_err(|m| invalid(format!("otp.{m}")))?;
        for (name, g) in [("sms", &raw.notify.sms), ("email", &raw.notify.email)] {
            if let Some(g) = g {
                crate::notify::Webhook::new(&g.url, None)
                    .map_err(|e| invalid(format!("notify.{name}.url: {e}")))?;
                if name == "sms" && g.subject.is_some() {
                    return Err(invalid("notify.sms.subject: an SMS has no subject".into()));
                }
            }
        }
        Ok(RegistrationConfig {
            participating_regions: raw.participating_regions.into_iter().collect(),
            account_cutoff,
            max_applicants_per_phone: raw.max_applicants_per_phone,
            phone_blocklist,
            report_utc_offset_minutes: raw.report_utc_offset_minutes,
            otp: raw.otp,
            notify: raw.notify,
            hash: Sha256::digest(bytes).into(),
        })
    }

    /// SHA-256 of the exact bytes parsed.
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults() {
        let c = RegistrationConfig::from_bytes(
            b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 3\nphone_blocklist = [\"8 (999) 000-00-00\"]\n",
        )
        .unwrap();
        assert!(c.phone_blocklist.contains("+79990000000"));
        assert_eq!(c.otp, OtpPolicy::default());
    }

    #[test]
    fn notify_gateways() {
        let base = "participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 3\n";
        let c = RegistrationConfig::from_bytes(
            format!("{base}[notify.email]\nurl = \"http://127.0.0.1:9/mail\"\nsubject = \"Код\"\n")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(c.notify.sms, None);
        let e = c.notify.email.unwrap();
        assert_eq!(
            (e.url.as_str(), e.subject.as_deref()),
            ("http://127.0.0.1:9/mail", Some("Код"))
        );
        for (tail, needle) in [
            ("[notify.email]\nurl = \"https://x/\"\n", "notify.email.url"),
            (
                "[notify.sms]\nurl = \"http://x/\"\nsubject = \"s\"\n",
                "notify.sms.subject",
            ),
            ("[notify.fax]\nurl = \"http://x/\"\n", "unknown field"),
        ] {
            let e = RegistrationConfig::from_bytes(format!("{base}{tail}").as_bytes()).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn refuses_precisely() {
        for (text, needle) in [
            (
                "participating_regions = []\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 3",
                "participating_regions",
            ),
            (
                "participating_regions = [\"a\"]\naccount_cutoff = \"2020-06-31\"\nmax_applicants_per_phone = 3",
                "account_cutoff",
            ),
            (
                "participating_regions = [\"a\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 0",
                "max_applicants_per_phone",
            ),
            (
                "participating_regions = [\"a\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 1\nfoo = 1",
                "unknown field",
            ),
            (
                "participating_regions = [\"a\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 1\n[otp]\ndigits = 3",
                "otp.digits",
            ),
        ] {
            let e = RegistrationConfig::from_bytes(text.as_bytes()).unwrap_err();
            assert_eq!(e.code(), "invalid_registration_config");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
