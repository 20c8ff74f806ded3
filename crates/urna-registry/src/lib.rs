//! # urna-registry
//!
//! Voter registration for online voting, as election commissions ran it
//! around the 2020 vote: the official voter registry imported per region,
//! signed amendments chained by hash, applications screened by rules with
//! stable reason codes, one-time-code login, and the sealed list of public
//! credentials for the board.
//!
//! The rules are sans-IO ([`screening`], [`amendment`], [`otp`],
//! [`import`]'s row parser): values in, decisions out, the caller's *now*.
//! [`store::Registry`] runs them inside database transactions on one of
//! two backends with the same behaviour: SQLite (embedded default) and
//! PostgreSQL, one store module per section of spec/registration.md
//! (see [`store`]). Every refusal carries a stable snake_case code
//! ([`RegistryError::code`], [`screening::Reason::code`]) and changes
//! nothing.
//!
//! Identity never reaches the board: the board gets the sealed credential
//! lists and hashes of lists; names, phones and document numbers stay
//! here, and document numbers only as keyed hashes ([`secret`]). Public
//! credentials, which every ballot on the board carries, are kept only
//! tagged and sealed under a key that is not in the database
//! ([`CredentialKey`]), so a copy of the database does not tell whose
//! ballots are whose (spec/registration.md §G4 "Credentials at rest",
//! docs/threat-model.md).

pub mod amendment;
pub mod config;
pub mod date;
mod error;
pub mod import;
pub mod lists;
pub mod notify;
pub mod otp;
pub mod screening;
pub mod secret;
pub mod store;
pub mod synthetic;

pub use config::{GatewayConfig, NotifyConfig, RegistrationConfig};
pub use date::Date;
pub use error::{ImportError, RegistryError};
pub use import::{Geography, VoterRecord};
pub use secret::{CommissionSecret, CredentialKey, DocHash};
pub use store::Registry;
