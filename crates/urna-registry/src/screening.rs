//! Screening an application against the registry (sans-IO), by the
//! rules of spec/registration.md §G4 in their order.
//!
//! The store gathers the [`Facts`] inside a transaction and calls
//! [`screen`]; the decision and its reason code are recorded with the
//! amendment version in force. Rules are checked in a fixed order so that
//! the same application always gets the same reason, the first that
//! applies:
//!
//! 1. `outside_application_window`
//! 2. `not_in_registry` (no active registry entry with this document)
//! 3. `region_not_participating`
//! 4. `personal_data_mismatch` (full name or birth date differ)
//! 5. `account_created_after_cutoff`
//! 6. `duplicate_application` (the voter already has an approved application)
//! 7. `phone_blocklisted`
//! 8. `phone_overused` (more than K approved applicants would share the phone)

use std::collections::BTreeSet;

use urna_election::{Manifest, Timestamp};

use crate::RegistryError;
use crate::config::RegistrationConfig;
use crate::date::Date;
use crate::import::{VoterRecord, check_email, check_text, normalize_name, normalize_phone};
use crate::secret::{CommissionSecret, DocHash};

/// Why an application was refused. The codes are stable: voters see them,
/// and the report counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Reason {
    /// Before the window opened or after it closed.
    OutsideApplicationWindow,
    /// No active registry entry with this document.
    NotInRegistry,
    /// The voter's region does not take part in online voting.
    RegionNotParticipating,
    /// Name or birth date do not match the registry.
    PersonalDataMismatch,
    /// The portal account was created after the cutoff date.
    AccountCreatedAfterCutoff,
    /// The voter already has an approved application.
    DuplicateApplication,
    /// The phone is on the blocklist.
    PhoneBlocklisted,
    /// The phone is already used by K approved applicants.
    PhoneOverused,
}

impl Reason {
    /// Every reason, in rule order.
    pub const ALL: [Reason; 8] = [
        Reason::OutsideApplicationWindow,
        Reason::NotInRegistry,
        Reason::RegionNotParticipating,
        Reason::PersonalDataMismatch,
        Reason::AccountCreatedAfterCutoff,
        Reason::DuplicateApplication,
        Reason::PhoneBlocklisted,
        Reason::PhoneOverused,
    ];

    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::OutsideApplicationWindow => "outside_application_window",
            Reason::NotInRegistry => "not_in_registry",
            Reason::RegionNotParticipating => "region_not_participating",
            Reason::PersonalDataMismatch => "personal_data_mismatch",
            Reason::AccountCreatedAfterCutoff => "account_created_after_cutoff",
            Reason::DuplicateApplication => "duplicate_application",
            Reason::PhoneBlocklisted => "phone_blocklisted",
            Reason::PhoneOverused => "phone_overused",
        }
    }

    /// The reason of a code.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A sentence for the voter.
    pub fn message(self) -> &'static str {
        match self {
            Reason::OutsideApplicationWindow => {
                "Applications for online voting are not accepted at this time."
            }
            Reason::NotInRegistry => "No voter with this identity document is in the registry.",
            Reason::RegionNotParticipating => "Your region does not take part in online voting.",
            Reason::PersonalDataMismatch => {
                "The name or birth date does not match the voter registry."
            }
            Reason::AccountCreatedAfterCutoff => {
                "Your portal account was created after the cutoff date for this vote."
            }
            Reason::DuplicateApplication => "You have already applied for online voting.",
            Reason::PhoneBlocklisted => "This phone number cannot be used for online voting.",
            Reason::PhoneOverused => {
                "This phone number is already used by the maximum number of applicants."
            }
        }
    }
}

/// The outcome of screening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The voter may vote online.
    Approved,
    /// Refused, with the first rule that applied.
    Refused(Reason),
}

impl Decision {
    /// `approved`, or the reason's code.
    pub fn code(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Refused(r) => r.code(),
        }
    }
}

/// What a voter submits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    /// Full name as typed.
    pub full_name: String,
    /// Birth date.
    pub birth_date: Date,
    /// Keyed hash of the document number typed.
    pub doc_hash: DocHash,
    /// Phone for one-time codes, normalised.
    pub phone: String,
    /// E-mail, if given.
    pub email: Option<String>,
}

impl Application {
    /// Checks and normalises the typed fields; the document number is
    /// hashed at once and never kept.
    pub fn new(
        secret: &CommissionSecret,
        full_name: &str,
        birth_date: &str,
        document_number: &str,
        phone: &str,
        email: Option<&str>,
    ) -> Result<Self, RegistryError> {
        let bad = |field: &str, m: String| {
            RegistryError::refused("invalid_application", format!("{field}: {m}"))
        };
        check_text("full_name", full_name, 256).map_err(|m| bad("full_name", m))?;
        let birth_date = Date::parse(birth_date.trim()).map_err(|m| bad("birth_date", m))?;
        let doc = crate::secret::normalize_document(document_number);
        if doc.is_empty() || doc.len() > 32 || !doc.chars().all(char::is_alphanumeric) {
            return Err(bad(
                "document_number",
                "must be 1–32 letters or digits".into(),
            ));
        }
        let phone = normalize_phone(phone)
            .ok_or_else(|| bad("phone", format!("`{phone}` is not a phone number")))?;
        let email = match email.map(str::trim) {
            None | Some("") => None,
            Some(e) => {
                check_email(e).map_err(|m| bad("email", m))?;
                Some(e.to_string())
            }
        };
        Ok(Application {
            full_name: full_name.trim().to_string(),
            birth_date,
            doc_hash: secret.doc_hash(&doc),
            phone,
            email,
        })
    }
}

/// The rules of one election: the config and the manifest's window.
#[derive(Clone, Debug)]
pub struct Rules {
    /// The registration config.
    pub config: RegistrationConfig,
    /// `[open, close)` of applications.
    pub window: (Timestamp, Timestamp),
}

impl Rules {
    /// Combines a config with the manifest it is for; every participating
    /// region must be one of the manifest's.
    pub fn new(config: RegistrationConfig, manifest: &Manifest) -> Result<Self, RegistryError> {
        let known: BTreeSet<&str> = manifest.regions().iter().map(|r| r.id.as_str()).collect();
        if let Some(r) = config
            .participating_regions
            .iter()
            .find(|r| !known.contains(r.as_str()))
        {
            return Err(RegistryError::refused(
                "invalid_registration_config",
                format!("participating_regions: `{r}` is not a region of the manifest"),
            ));
        }
        let s = manifest.schedule();
        Ok(Rules {
            config,
            window: (s.applications_open, s.applications_close),
        })
    }
}

/// What the store knows at the moment of the decision.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    /// The active registry entry with the application's document hash.
    pub record: Option<&'a VoterRecord>,
    /// Whether that voter already has an approved application.
    pub already_approved: bool,
    /// Approved applicants, other than this voter, using the application's phone.
    pub phone_applicants: u64,
}

/// Screens an application (the order of the rules is in the module docs).
pub fn screen(rules: &Rules, app: &Application, facts: &Facts<'_>, now: Timestamp) -> Decision {
    use Decision::Refused;
    let c = &rules.config;
    if !(rules.window.0 <= now && now < rules.window.1) {
        return Refused(Reason::OutsideApplicationWindow);
    }
    let Some(record) = facts.record else {
        return Refused(Reason::NotInRegistry);
    };
    if !c.participating_regions.contains(&record.region) {
        return Refused(Reason::RegionNotParticipating);
    }
    if normalize_name(&record.full_name) != normalize_name(&app.full_name)
        || record.birth_date != app.birth_date
    {
        return Refused(Reason::PersonalDataMismatch);
    }
    if record.account_created > c.account_cutoff {
        return Refused(Reason::AccountCreatedAfterCutoff);
    }
    if facts.already_approved {
        return Refused(Reason::DuplicateApplication);
    }
    if c.phone_blocklist.contains(&app.phone) {
        return Refused(Reason::PhoneBlocklisted);
    }
    if facts.phone_applicants >= u64::from(c.max_applicants_per_phone) {
        return Refused(Reason::PhoneOverused);
    }
    Decision::Approved
}
