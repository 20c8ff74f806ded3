//! Typed board entries: the envelope of spec/board.md §B5.

use core::fmt;

use crate::hash::{Hash, leaf_hash};

/// Version byte of the entry envelope defined in spec/board.md §B5.1.
pub const ENTRY_VERSION: u8 = 1;

/// Length of the envelope header: version (1) + kind (2) + payload length (4).
pub const ENTRY_HEADER_LEN: usize = 7;

/// Largest accepted entry, header included: 65 535 bytes.
///
/// Chosen so that every entry fits the `uint16` length prefix of C2SP
/// tlog-tiles entry bundles (spec/board.md §B8.3): any tlog-tiles client can
/// mirror the board. Objects that can be larger (credential lists, big
/// manifests) are split into several entries by the spec of their payload.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// Largest accepted payload: [`MAX_ENTRY_LEN`] − [`ENTRY_HEADER_LEN`] = 65 528 bytes.
pub const MAX_PAYLOAD_LEN: usize = MAX_ENTRY_LEN - ENTRY_HEADER_LEN;

macro_rules! entry_kinds {
    ($( $(#[doc = $doc:literal])* $name:ident = $tag:literal, )*) => {
        /// What an entry is. The numeric tags are part of the board format
        /// and never change or get reused (spec/board.md §B5.2).
        ///
        /// Tags are grouped by election phase in blocks of 256 so each phase
        /// has room to grow; 0x0000 and 0xFF00–0xFFFF are never assigned.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[repr(u16)]
        pub enum EntryKind {
            $( $(#[doc = $doc])* $name = $tag, )*
        }

        impl EntryKind {
            /// Every assigned kind, in tag order.
            pub const ALL: &'static [EntryKind] = &[$(EntryKind::$name,)*];

            /// The stable numeric tag.
            pub const fn tag(self) -> u16 {
                self as u16
            }

            /// The kind with this tag, if assigned.
            pub const fn from_tag(tag: u16) -> Option<EntryKind> {
                match tag {
                    $( $tag => Some(EntryKind::$name), )*
                    _ => None,
                }
            }

            /// Stable name in `snake_case`, for logs and the record format.
            pub const fn name(self) -> &'static str {
                match self {
                    $( EntryKind::$name => entry_kinds!(@snake $name), )*
                }
            }
        }
    };
    (@snake ElectionManifest) => { "election_manifest" };
    (@snake TrusteeCeremony) => { "trustee_ceremony" };
    (@snake CredentialList) => { "credential_list" };
    (@snake VotingOpened) => { "voting_opened" };
    (@snake Ballot) => { "ballot" };
    (@snake AuditedBallot) => { "audited_ballot" };
    (@snake VotingClosed) => { "voting_closed" };
    (@snake Reconciliation) => { "reconciliation" };
    (@snake PartialDecryption) => { "partial_decryption" };
    (@snake Results) => { "results" };
    (@snake AdminAction) => { "admin_action" };
    (@snake Complaint) => { "complaint" };
    (@snake ComplaintAnswer) => { "complaint_answer" };
    (@snake CosignedCheckpoint) => { "cosigned_checkpoint" };
}

entry_kinds! {
    /// 0x0100 — the election manifest (regions, contests, schedule,
    /// policies). The first entry of every board.
    ElectionManifest = 0x0100,
    /// 0x0101 — one message of the trustees' key ceremony (DKG commitments,
    /// proofs, encrypted shares, complaints, the resulting joint key).
    TrusteeCeremony = 0x0101,
    /// 0x0102 — a sealed list (or one chunk of it) of public voter credentials.
    CredentialList = 0x0102,
    /// 0x0200 — voting is open; ballots before this entry are invalid.
    VotingOpened = 0x0200,
    /// 0x0201 — a cast ballot, signed with a pseudonymous credential.
    Ballot = 0x0201,
    /// 0x0202 — a spoiled ballot opened for a cast-or-audit challenge; never counted.
    AuditedBallot = 0x0202,
    /// 0x0203 — voting is closed; ballots after this entry are invalid.
    VotingClosed = 0x0203,
    /// 0x0300 — reconciliation with paper lists (which e-votes are
    /// cancelled by a paper vote, per the manifest's policy).
    Reconciliation = 0x0300,
    /// 0x0301 — one trustee's partial decryption of the tally, with proofs.
    PartialDecryption = 0x0301,
    /// 0x0302 — the decrypted results.
    Results = 0x0302,
    /// 0x0400 — a signed action of the election commission not covered by
    /// a more specific kind.
    AdminAction = 0x0400,
    /// 0x0401 — a complaint filed by an observer or voter.
    Complaint = 0x0401,
    /// 0x0402 — the commission's answer to a complaint.
    ComplaintAnswer = 0x0402,
    /// 0x0403 — a checkpoint of this board with observers' cosignatures,
    /// anchored in the log itself (a signed note, spec/board.md §B7).
    CosignedCheckpoint = 0x0403,
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why bytes are not a valid entry envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Fewer bytes than the 7-byte header.
    #[error("entry is {len} bytes, shorter than the {ENTRY_HEADER_LEN}-byte header")]
    TruncatedHeader {
        /// Bytes received.
        len: usize,
    },
    /// Version byte other than [`ENTRY_VERSION`].
    #[error("unsupported entry version {0}")]
    UnsupportedVersion(u8),
    /// Kind tag not assigned in spec/board.md §B5.2.
    #[error("unknown entry kind 0x{0:04x}")]
    UnknownKind(u16),
    /// Payload (declared or given) above [`MAX_PAYLOAD_LEN`].
    #[error("payload of {len} bytes exceeds the maximum of {MAX_PAYLOAD_LEN}")]
    PayloadTooLarge {
        /// Payload length.
        len: u64,
    },
    /// Fewer payload bytes than declared.
    #[error("payload declared as {declared} bytes but only {actual} present")]
    TruncatedPayload {
        /// `payload_len` from the header.
        declared: u32,
        /// Bytes after the header.
        actual: usize,
    },
    /// Bytes after the declared payload.
    #[error("{0} trailing bytes after the payload")]
    TrailingBytes(usize),
}

/// One board entry: the exact envelope bytes that are hashed into the log
/// and stored ("hash what you store, store what you hash").
///
/// ```text
/// version: u8 = 1 || kind: u16 BE || payload_len: u32 BE || payload
/// ```
///
/// Construction validates; afterwards [`Entry::bytes`] is the only
/// representation, so the stored bytes, the served bytes and the hashed
/// bytes cannot diverge.
// spec/board.md §B5.1
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    bytes: Vec<u8>,
    kind: EntryKind,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("kind", &self.kind)
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

impl Entry {
    /// Wraps a payload (canonical bytes defined by the payload's own spec).
    // spec/board.md §B5.1
    pub fn new(kind: EntryKind, payload: &[u8]) -> Result<Entry, EntryError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(EntryError::PayloadTooLarge {
                len: payload.len() as u64,
            });
        }
        let mut bytes = Vec::with_capacity(ENTRY_HEADER_LEN + payload.len());
        bytes.push(ENTRY_VERSION);
        bytes.extend_from_slice(&kind.tag().to_be_bytes());
        // Cannot truncate: bounded by MAX_PAYLOAD_LEN above.
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
        Ok(Entry { bytes, kind })
    }

    /// Parses stored or received envelope bytes, rejecting anything but the
    /// one canonical encoding.
    // spec/board.md §B5.1
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Entry, EntryError> {
        let (kind, _) = Entry::parse_ref(&bytes)?;
        Ok(Entry { bytes, kind })
    }

    /// Checks envelope bytes in place, without copying them, and returns the
    /// kind and the payload: for readers that stream many entries out of
    /// one buffer. Accepts exactly what [`Entry::from_bytes`] accepts.
    // spec/board.md §B5.1
    pub fn parse_ref(bytes: &[u8]) -> Result<(EntryKind, &[u8]), EntryError> {
        let Some((header, payload)) = bytes.split_first_chunk::<ENTRY_HEADER_LEN>() else {
            return Err(EntryError::TruncatedHeader { len: bytes.len() });
        };
        let [version, k0, k1, l0, l1, l2, l3] = *header;
        if version != ENTRY_VERSION {
            return Err(EntryError::UnsupportedVersion(version));
        }
        let tag = u16::from_be_bytes([k0, k1]);
        let kind = EntryKind::from_tag(tag).ok_or(EntryError::UnknownKind(tag))?;
        let declared = u32::from_be_bytes([l0, l1, l2, l3]);
        if declared as usize > MAX_PAYLOAD_LEN {
            return Err(EntryError::PayloadTooLarge {
                len: u64::from(declared),
            });
        }
        let actual = payload.len();
        if actual < declared as usize {
            return Err(EntryError::TruncatedPayload { declared, actual });
        }
        if actual > declared as usize {
            return Err(EntryError::TrailingBytes(actual - declared as usize));
        }
        Ok((kind, payload))
    }

    /// The envelope bytes: what is stored, served and hashed.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the entry, returning its envelope bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The entry's kind.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The payload, to be parsed by the spec of [`Entry::kind`].
    pub fn payload(&self) -> &[u8] {
        &self.bytes[ENTRY_HEADER_LEN..]
    }

    /// The Merkle leaf hash `SHA-256(0x00 || bytes)` (spec/board.md §B2.1).
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stable_and_round_trip() {
        // Pinned: changing any of these breaks every published board.
        let pinned: &[(EntryKind, u16, &str)] = &[
            (EntryKind::ElectionManifest, 0x0100, "election_manifest"),
            (EntryKind::TrusteeCeremony, 0x0101, "trustee_ceremony"),
            (EntryKind::CredentialList, 0x0102, "credential_list"),
            (EntryKind::VotingOpened, 0x0200, "voting_opened"),
            (EntryKind::Ballot, 0x0201, "ballot"),
            (EntryKind::AuditedBallot, 0x0202, "audited_ballot"),
            (EntryKind::VotingClosed, 0x0203, "voting_closed"),
            (EntryKind::Reconciliation, 0x0300, "reconciliation"),
            (EntryKind::PartialDecryption, 0x0301, "partial_decryption"),
            (EntryKind::Results, 0x0302, "results"),
            (EntryKind::AdminAction, 0x0400, "admin_action"),
            (EntryKind::Complaint, 0x0401, "complaint"),
            (EntryKind::ComplaintAnswer, 0x0402, "complaint_answer"),
            (EntryKind::CosignedCheckpoint, 0x0403, "cosigned_checkpoint"),
        ];
        assert_eq!(pinned.len(), EntryKind::ALL.len());
        for &(kind, tag, name) in pinned {
            assert_eq!(kind.tag(), tag);
            assert_eq!(EntryKind::from_tag(tag), Some(kind));
            assert_eq!(kind.name(), name);
        }
        assert_eq!(EntryKind::from_tag(0), None);
        assert_eq!(EntryKind::from_tag(0xff00), None);
    }

    #[test]
    fn envelope_layout() {
        let e = Entry::new(EntryKind::Ballot, b"abc").unwrap();
        assert_eq!(e.bytes(), [1, 0x02, 0x01, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(e.payload(), b"abc");
        assert_eq!(e.leaf_hash(), leaf_hash(e.bytes()));
        assert_eq!(
            Entry::parse_ref(e.bytes()),
            Ok((EntryKind::Ballot, &b"abc"[..]))
        );
        assert_eq!(
            Entry::parse_ref(&e.bytes()[..9]),
            Err(EntryError::TruncatedPayload {
                declared: 3,
                actual: 2
            })
        );
    }
}
