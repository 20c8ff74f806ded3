//! # urna-election
//!
//! The election engine of urna, with no I/O (sans-IO, like rustls): it
//! takes bytes, values and the caller's notion of *now*, and returns values
//! and the board entries to append. No files, sockets, clocks or databases.
//!
//! * [`manifest`]: the TOML election manifest, validated, with ballot
//!   styles derived per district; its hash is SHA-256 of the exact bytes.
//! * [`record`]: the canonical payload of every board entry kind
//!   (spec/record.md §R1–§R12), strict decoding, and the tracking code.
//! * [`rules`]: the voting window, the re-vote policy applied by board
//!   order, which ballots count, homomorphic sums, decryption and results.
//! * [`lifecycle`]: the type-state `Election<Setup> → … → Election<Decrypted>`
//!   that the server drives.
//! * [`error`]: errors with stable codes, refusals (a peer's fault) apart
//!   from misuse (the caller's).
//!
//! A casting round trip, as the server does it:
//!
//! ```text
//! let admitted = election.admit(bytes, now)?;           // cheap checks
//! let verified = verify_admitted(batch, &mut rng);      // one batch of proofs
//! let cast = election.record(verified, now)?;           // policy, sums
//! board.append(cast.entry)                               // in this order
//! ```

pub mod error;
pub mod lifecycle;
pub mod manifest;
pub mod receipt_code;
pub mod record;
pub mod rules;
pub mod time;

pub use error::{ElectionError, Misuse, RecordError, Refusal};
pub use lifecycle::{
    Admitted, Cast, Closed, Decrypted, DistrictTurnout, Election, ElectionKeys, KeyCeremony,
    Registration, Setup, Step, Stuck, Tallied, Verified, Voting, verify_admitted,
};
pub use manifest::{Manifest, ManifestError, OptionOrder, PaperPolicy, RevotePolicy};
pub use record::tracking_code;
pub use time::Timestamp;

/// The header bytes a voter's device puts in `Ballot::header` for a
/// district's ballot (spec/record.md §R6.1).
pub fn ballot_header(manifest: &Manifest, district: &str) -> Result<Vec<u8>, ElectionError> {
    if manifest.district_index(district).is_none() {
        return Err(Misuse::UnknownDistrict(district.to_string()).into());
    }
    Ok(record::BallotHeader {
        election: manifest.id_hash(),
        district: district.to_string(),
    }
    .encode()?)
}
