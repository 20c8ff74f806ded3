//! Board payloads: the canonical bytes inside each board entry, specified
//! in spec/record.md (§R1 conventions … §R12 results).
//!
//! Every payload starts with a version byte (`0x01`); decoding is strict
//! (spec/crypto.md §2.3): unknown version, truncation, trailing bytes,
//! non-canonical elements or scalars, bad identifiers and unsorted lists are
//! all rejected, so each value has exactly one encoding and a verifier can
//! recompute a payload and compare bytes.

pub mod commission;
pub mod observers;

use sha2::{Digest, Sha256};
use urna_board::MAX_PAYLOAD_LEN;
use urna_crypto::ballot::{Ballot, BallotSecrets};
use urna_crypto::dkg::{Complaint, Round1Message, Round2Message};
use urna_crypto::elgamal::{Ciphertext, SecretScalar};
use urna_crypto::encoding::{Element, Reader, Writer};
use urna_crypto::threshold::PartialDecryption;

use crate::error::{Misuse, RecordError};
use crate::manifest::{PaperPolicy, is_identifier};
use crate::time::Timestamp;

/// The version byte of every payload defined here (spec/record.md §R1.1).
pub const PAYLOAD_VERSION: u8 = 1;

/// The tracking code of a ballot: SHA-256 of its ballot bytes, which are
/// exactly the payload of its `ballot` board entry (spec/record.md §R6.2).
pub fn tracking_code(ballot_bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(ballot_bytes).into()
}

fn version(r: &mut Reader<'_>) -> Result<(), RecordError> {
    let v = r.u8()?;
    if v != PAYLOAD_VERSION {
        return Err(urna_crypto::PeerError::UnknownVersion(v).into());
    }
    Ok(())
}

/// Writes an identifier: `u8 len ‖ ASCII` (spec/record.md §R1.2).
fn put_id(w: &mut Writer, id: &str) -> Result<(), Misuse> {
    if !is_identifier(id) {
        return Err(Misuse::Unencodable(format!("`{id}` is not an identifier")));
    }
    // is_identifier bounds the length to 64.
    w.u8(id.len() as u8).raw(id.as_bytes());
    Ok(())
}

fn get_id(r: &mut Reader<'_>, field: &'static str) -> Result<String, RecordError> {
    let n = r.u8()?;
    let b = r.take(n.into())?;
    match std::str::from_utf8(b) {
        Ok(s) if is_identifier(s) => Ok(s.to_string()),
        _ => Err(RecordError::BadIdentifier { field }),
    }
}

fn bounded(field: &'static str, v: u64, min: u64, max: u64) -> Result<u64, RecordError> {
    if v < min || v > max {
        return Err(urna_crypto::PeerError::OutOfBounds {
            field,
            value: v,
            min,
            max,
        }
        .into());
    }
    Ok(v)
}

/// Chunk position: `u32 index ‖ u32 count`, `index < count`, `count ≥ 1`
/// (spec/record.md §R1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPos {
    /// 0-based index of this chunk.
    pub index: u32,
    /// How many chunks the object has.
    pub count: u32,
}

impl ChunkPos {
    fn put(&self, w: &mut Writer) {
        w.u32(self.index).u32(self.count);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, RecordError> {
        let index = r.u32()?;
        let count = r.u32()?;
        bounded("chunk count", count.into(), 1, u32::MAX.into())?;
        bounded("chunk index", index.into(), 0, u64::from(count) - 1)?;
        Ok(ChunkPos { index, count })
    }
}

/// Checks that chunk positions, in board order, are exactly `0, 1, …,
/// count−1` with one `count` (spec/record.md §R1.3).
pub fn check_chunk_sequence(positions: &[ChunkPos]) -> Result<(), RecordError> {
    let Some(first) = positions.first() else {
        return Err(RecordError::Chunks("no chunk".into()));
    };
    if positions.len() as u64 != u64::from(first.count) {
        return Err(RecordError::Chunks(format!(
            "{} chunks present, {} announced",
            positions.len(),
            first.count
        )));
    }
    for (i, p) in positions.iter().enumerate() {
        if p.count != first.count || u64::from(p.index) != i as u64 {
            return Err(RecordError::Chunks(format!(
                "chunk {i} is marked {}/{}",
                p.index, p.count
            )));
        }
    }
    Ok(())
}

/// Groups encoded records greedily, in order, so that `prefix + records`
/// of each group fits one payload; always at least one (maybe empty) group
/// (spec/record.md §R1.3).
fn pack(prefix: usize, records: Vec<Vec<u8>>) -> Result<Vec<Vec<Vec<u8>>>, Misuse> {
    let room = MAX_PAYLOAD_LEN - prefix;
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut used = 0usize;
    for rec in records {
        if rec.len() > room {
            return Err(Misuse::Unencodable(format!(
                "a record of {} bytes cannot fit a board entry",
                rec.len()
            )));
        }
        if used + rec.len() > room
            && let Some(last) = groups.last()
            && !last.is_empty()
        {
            groups.push(Vec::new());
            used = 0;
        }
        used += rec.len();
        if let Some(last) = groups.last_mut() {
            last.push(rec);
        }
    }
    Ok(groups)
}

/// Packs `records` greedily into board-sized chunks and frames each as
/// `header || chunk position || u32 count || records` (spec/record.md §R1.3).
fn chunk_payloads(
    prefix: usize,
    records: Vec<Vec<u8>>,
    header: impl Fn(&mut Writer) -> Result<(), Misuse>,
) -> Result<Vec<Vec<u8>>, Misuse> {
    let groups = pack(prefix, records)?;
    let count = count32(groups.len())?;
    groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let mut w = Writer::with_capacity(prefix + g.iter().map(Vec::len).sum::<usize>());
            header(&mut w)?;
            ChunkPos {
                index: i as u32,
                count,
            }
            .put(&mut w);
            w.u32(count32(g.len())?);
            for rec in g {
                w.raw(&rec);
            }
            Ok(w.finish())
        })
        .collect()
}

fn count32(n: usize) -> Result<u32, Misuse> {
    u32::try_from(n).map_err(|_| Misuse::Unencodable("more than 2^32 − 1 items".into()))
}

// ---- §R2 manifest --------------------------------------------------------------

/// Prefix of a manifest chunk: version, u16 index, u16 count.
const MANIFEST_PREFIX: usize = 5;

/// One `election_manifest` entry: a slice of the manifest bytes
/// (spec/record.md §R2). The manifest is the concatenation of all chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestChunk {
    /// 0-based index.
    pub index: u16,
    /// Number of chunks.
    pub count: u16,
    /// The bytes of this chunk (non-empty).
    pub bytes: Vec<u8>,
}

impl ManifestChunk {
    /// Splits manifest bytes into payloads, as few as possible, each full but the last.
    pub fn payloads(manifest: &[u8]) -> Result<Vec<Vec<u8>>, Misuse> {
        let room = MAX_PAYLOAD_LEN - MANIFEST_PREFIX;
        let parts: Vec<&[u8]> = manifest.chunks(room).collect();
        if parts.is_empty() {
            return Err(Misuse::Unencodable("an empty manifest".into()));
        }
        let count = u16::try_from(parts.len())
            .map_err(|_| Misuse::Unencodable("manifest larger than 65535 entries".into()))?;
        Ok(parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mut w = Writer::with_capacity(MANIFEST_PREFIX + part.len());
                w.u8(PAYLOAD_VERSION).u16(i as u16).u16(count).raw(part);
                w.finish()
            })
            .collect())
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let index = r.u16()?;
        let count = r.u16()?;
        bounded("chunk count", count.into(), 1, u16::MAX.into())?;
        bounded("chunk index", index.into(), 0, u64::from(count) - 1)?;
        let bytes = r.take(r.remaining())?.to_vec();
        if bytes.is_empty() {
            return Err(RecordError::Chunks("empty manifest chunk".into()));
        }
        Ok(ManifestChunk {
            index,
            count,
            bytes,
        })
    }

    /// Joins the chunks (in board order) into the manifest bytes, checking the sequence.
    pub fn join(chunks: &[ManifestChunk]) -> Result<Vec<u8>, RecordError> {
        let pos: Vec<ChunkPos> = chunks
            .iter()
            .map(|c| ChunkPos {
                index: c.index.into(),
                count: c.count.into(),
            })
            .collect();
        check_chunk_sequence(&pos)?;
        Ok(chunks
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect())
    }
}

// ---- §R3 key ceremony ----------------------------------------------------------

/// One `trustee_ceremony` entry (spec/record.md §R3): a tag and the
/// urna-crypto encoding of the message (spec/crypto.md §8.8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum CeremonyMessage {
    /// Tag 1: round 1 (§8.8.1).
    Round1(Round1Message),
    /// Tag 2: round 2 (§8.8.2).
    Round2(Round2Message),
    /// Tag 3: a complaint (§8.8.3).
    Complaint(Complaint),
    /// Tag 4: the joint key the engine computed from the messages before
    /// it; a verifier recomputes it (`joint_key_mismatch` otherwise).
    JointKey(Element),
}

impl CeremonyMessage {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, body) = match self {
            CeremonyMessage::Round1(m) => (1u8, m.encode()),
            CeremonyMessage::Round2(m) => (2, m.encode()),
            CeremonyMessage::Complaint(m) => (3, m.encode()),
            CeremonyMessage::JointKey(k) => (4, k.as_bytes().to_vec()),
        };
        let mut v = Vec::with_capacity(2 + body.len());
        v.push(PAYLOAD_VERSION);
        v.push(tag);
        v.extend_from_slice(&body);
        v
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let tag = r.u8()?;
        let body = r.take(r.remaining())?;
        Ok(match tag {
            1 => CeremonyMessage::Round1(Round1Message::decode(body)?),
            2 => CeremonyMessage::Round2(Round2Message::decode(body)?),
            3 => CeremonyMessage::Complaint(Complaint::decode(body)?),
            4 => {
                let mut r = Reader::new(body);
                let k = r.element_non_identity()?;
                r.finish()?;
                CeremonyMessage::JointKey(k)
            }
            value => {
                return Err(RecordError::UnknownTag {
                    field: "ceremony message tag",
                    value,
                });
            }
        })
    }
}

// ---- §R4 sealed credential list ------------------------------------------------

/// One `credential_list` entry: a chunk of one district's sealed list of
/// public credentials, sorted strictly increasing by encoding (spec/record.md §R4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialChunk {
    /// The district.
    pub district: String,
    /// Position among the district's chunks.
    pub pos: ChunkPos,
    /// Credentials (not the identity), strictly increasing.
    pub credentials: Vec<Element>,
}

impl CredentialChunk {
    /// Payloads of a district's whole list; `credentials` must be sorted
    /// strictly increasing (the caller sorts; duplicates are a bug).
    pub fn payloads(district: &str, credentials: &[Element]) -> Result<Vec<Vec<u8>>, Misuse> {
        if credentials
            .windows(2)
            .any(|w| w[0].as_bytes() >= w[1].as_bytes())
        {
            return Err(Misuse::Unencodable(
                "credentials must be strictly increasing".into(),
            ));
        }
        let prefix = 1 + 1 + district.len() + 8 + 4;
        let recs = credentials.iter().map(|c| c.as_bytes().to_vec()).collect();
        chunk_payloads(prefix, recs, |w| {
            w.u8(PAYLOAD_VERSION);
            put_id(w, district)?;
            Ok(())
        })
    }

    /// Strict decoding: identifiers, canonical non-identity elements,
    /// strictly increasing within the chunk.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let district = get_id(&mut r, "district")?;
        let pos = ChunkPos::get(&mut r)?;
        let n = r.u32()?;
        // Bounded by the payload: each credential takes 32 bytes.
        bounded("credentials", n.into(), 0, (r.remaining() / 32) as u64)?;
        let mut credentials: Vec<Element> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let c = r.element_non_identity()?;
            if credentials
                .last()
                .is_some_and(|p| p.as_bytes() >= c.as_bytes())
            {
                return Err(RecordError::NotCanonicalOrder {
                    field: "credentials",
                });
            }
            credentials.push(c);
        }
        r.finish()?;
        Ok(CredentialChunk {
            district,
            pos,
            credentials,
        })
    }
}

// ---- §R5 / §R8 voting opened and closed -----------------------------------------

/// The `voting_opened` marker (spec/record.md §R5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VotingOpened {
    /// The manifest hash M.
    pub manifest_hash: [u8; 32],
    /// The server's clock when it opened (informative; board order decides).
    pub time: Timestamp,
    /// Number of sealed credentials in all districts.
    pub credentials: u64,
}

impl VotingOpened {
    /// Payload bytes (49).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(49);
        w.u8(PAYLOAD_VERSION)
            .raw(&self.manifest_hash)
            .u64(self.time.unix() as u64)
            .u64(self.credentials);
        w.finish()
    }
    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let mut manifest_hash = [0u8; 32];
        manifest_hash.copy_from_slice(r.take(32)?);
        let time = Timestamp::from_unix(r.u64()? as i64);
        let credentials = r.u64()?;
        r.finish()?;
        Ok(VotingOpened {
            manifest_hash,
            time,
            credentials,
        })
    }
}

/// The `voting_closed` marker (spec/record.md §R8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VotingClosed {
    /// The manifest hash M.
    pub manifest_hash: [u8; 32],
    /// The server's clock when it closed (informative).
    pub time: Timestamp,
    /// Number of `ballot` entries between the opened and closed markers.
    pub ballots: u64,
    /// Number of `audited_ballot` entries between them.
    pub audited: u64,
}

impl VotingClosed {
    /// Payload bytes (57).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(57);
        w.u8(PAYLOAD_VERSION)
            .raw(&self.manifest_hash)
            .u64(self.time.unix() as u64)
            .u64(self.ballots)
            .u64(self.audited);
        w.finish()
    }
    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let mut manifest_hash = [0u8; 32];
        manifest_hash.copy_from_slice(r.take(32)?);
        let time = Timestamp::from_unix(r.u64()? as i64);
        let ballots = r.u64()?;
        let audited = r.u64()?;
        r.finish()?;
        Ok(VotingClosed {
            manifest_hash,
            time,
            ballots,
            audited,
        })
    }
}

// ---- §R6 ballot header -----------------------------------------------------------

/// What goes in `Ballot::header` (spec/record.md §R6.1): which election and
/// which district's ballot style. The verifier checks that the district is
/// the one the credential was sealed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotHeader {
    /// SHA-256 of the election id.
    pub election: [u8; 32],
    /// The district whose style the ballot follows.
    pub district: String,
}

impl BallotHeader {
    /// Encoded length for a district id: `1 + 32 + 1 + len`.
    pub fn encoded_len(district: &str) -> usize {
        34 + district.len()
    }
    /// Header bytes, to pass to `Ballot::encrypt`.
    pub fn encode(&self) -> Result<Vec<u8>, Misuse> {
        let mut w = Writer::with_capacity(Self::encoded_len(&self.district));
        w.u8(PAYLOAD_VERSION).raw(&self.election);
        put_id(&mut w, &self.district)?;
        Ok(w.finish())
    }
    /// Strict decoding.
    pub fn decode(header: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(header);
        version(&mut r)?;
        let mut election = [0u8; 32];
        election.copy_from_slice(r.take(32)?);
        let district = get_id(&mut r, "district")?;
        r.finish()?;
        Ok(BallotHeader { election, district })
    }
}

// ---- §R7 audited ballot ----------------------------------------------------------

/// An `audited_ballot` entry (spec/record.md §R7): the ballot bytes and,
/// for every contest and option in ballot order, the revealed value and
/// nonce (spec/crypto.md §7.5).
#[derive(Debug, Clone)]
pub struct AuditedBallot {
    /// The ballot bytes (spec/crypto.md §7.3).
    pub ballot_bytes: Vec<u8>,
    /// The decoded ballot.
    pub ballot: Ballot,
    /// Revealed values and nonces.
    pub secrets: BallotSecrets,
}

impl AuditedBallot {
    /// Payload bytes from the ballot bytes and the device's secrets.
    pub fn encode(ballot_bytes: &[u8], secrets: &BallotSecrets) -> Result<Vec<u8>, Misuse> {
        let len = u32::try_from(ballot_bytes.len())
            .map_err(|_| Misuse::Unencodable("ballot too long".into()))?;
        let mut w = Writer::with_capacity(5 + ballot_bytes.len() + 33 * 8);
        w.u8(PAYLOAD_VERSION).u32(len).raw(ballot_bytes);
        if secrets.selections.len() != secrets.nonces.len() {
            return Err(Misuse::Unencodable(
                "selections and nonces differ in shape".into(),
            ));
        }
        for (sel, nonces) in secrets.selections.iter().zip(&secrets.nonces) {
            if sel.len() != nonces.len() {
                return Err(Misuse::Unencodable(
                    "selections and nonces differ in shape".into(),
                ));
            }
            for (&v, r) in sel.iter().zip(nonces) {
                let v = u8::try_from(v)
                    .map_err(|_| Misuse::Unencodable(format!("selection {v} exceeds 255")))?;
                w.u8(v).scalar(r.expose());
            }
        }
        Ok(w.finish())
    }

    /// Strict decoding; the number of revealed pairs follows from the
    /// decoded ballot. Does not check the audit itself (`Ballot::check_audit`).
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let len = r.u32()?;
        let ballot_bytes = r.take(len as usize)?.to_vec();
        let ballot = Ballot::decode(&ballot_bytes)?;
        let mut selections = Vec::with_capacity(ballot.contests.len());
        let mut nonces = Vec::with_capacity(ballot.contests.len());
        for c in &ballot.contests {
            let mut sel = Vec::with_capacity(c.ciphertexts.len());
            let mut non = Vec::with_capacity(c.ciphertexts.len());
            for _ in &c.ciphertexts {
                let v = r.u8()?;
                bounded("revealed value", v.into(), 0, c.shape.option_max.into())?;
                sel.push(u64::from(v));
                non.push(SecretScalar::new(r.scalar()?));
            }
            selections.push(sel);
            nonces.push(non);
        }
        r.finish()?;
        Ok(AuditedBallot {
            ballot_bytes,
            ballot,
            secrets: BallotSecrets { selections, nonces },
        })
    }
}

// ---- §R9 reconciliation ------------------------------------------------------------

/// Why an e-vote is annulled (spec/record.md §R9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnnulReason {
    /// 1: the voter also voted on paper (only under `evote-annulled`).
    PaperVote,
    /// 2: annulled by a decision of the commission or a court.
    Decision,
    /// 3: the voter also voted on paper and, under `evote-stands`, the
    /// e-vote stands: listed so that observers see every double vote,
    /// never annulled (spec/record.md §R9).
    PaperVoteStands,
}

impl AnnulReason {
    /// The byte.
    pub fn tag(self) -> u8 {
        match self {
            AnnulReason::PaperVote => 1,
            AnnulReason::Decision => 2,
            AnnulReason::PaperVoteStands => 3,
        }
    }
    fn from_tag(b: u8) -> Result<Self, RecordError> {
        match b {
            1 => Ok(AnnulReason::PaperVote),
            2 => Ok(AnnulReason::Decision),
            3 => Ok(AnnulReason::PaperVoteStands),
            value => Err(RecordError::UnknownTag {
                field: "annulment reason",
                value,
            }),
        }
    }
}

/// One `reconciliation` entry: a chunk of the list of annulled credentials,
/// strictly increasing (spec/record.md §R9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationChunk {
    /// The manifest's paper-vote policy, repeated for the reader.
    pub policy: PaperPolicy,
    /// Position.
    pub pos: ChunkPos,
    /// Annulled credentials with reasons.
    pub annulled: Vec<(Element, AnnulReason)>,
}

impl ReconciliationChunk {
    /// Payloads for a whole decision; `annulled` sorted strictly increasing by credential.
    pub fn payloads(
        policy: PaperPolicy,
        annulled: &[(Element, AnnulReason)],
    ) -> Result<Vec<Vec<u8>>, Misuse> {
        if annulled
            .windows(2)
            .any(|w| w[0].0.as_bytes() >= w[1].0.as_bytes())
        {
            return Err(Misuse::Unencodable(
                "annulled credentials must be strictly increasing".into(),
            ));
        }
        let prefix = 2 + 8 + 4;
        let recs = annulled
            .iter()
            .map(|(c, why)| {
                let mut v = c.as_bytes().to_vec();
                v.push(why.tag());
                v
            })
            .collect();
        chunk_payloads(prefix, recs, |w| {
            w.u8(PAYLOAD_VERSION).u8(policy.tag());
            Ok(())
        })
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let policy = match r.u8()? {
            1 => PaperPolicy::EvoteStands,
            2 => PaperPolicy::EvoteAnnulled,
            value => {
                return Err(RecordError::UnknownTag {
                    field: "paper policy",
                    value,
                });
            }
        };
        let pos = ChunkPos::get(&mut r)?;
        let n = r.u32()?;
        bounded("annulled", n.into(), 0, (r.remaining() / 33) as u64)?;
        let mut annulled: Vec<(Element, AnnulReason)> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let c = r.element_non_identity()?;
            let why = AnnulReason::from_tag(r.u8()?)?;
            if annulled
                .last()
                .is_some_and(|(p, _)| p.as_bytes() >= c.as_bytes())
            {
                return Err(RecordError::NotCanonicalOrder {
                    field: "annulled credentials",
                });
            }
            annulled.push((c, why));
        }
        r.finish()?;
        Ok(ReconciliationChunk {
            policy,
            pos,
            annulled,
        })
    }
}

// ---- §R10 tally --------------------------------------------------------------------

/// The encrypted tally of one contest in one district (spec/record.md §R10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyRecord {
    /// The district.
    pub district: String,
    /// The contest.
    pub contest: String,
    /// How many counted ballots were summed.
    pub ballots: u64,
    /// Per option, the sum of the counted ballots' ciphertexts (α may be
    /// the identity when no ballot was summed).
    pub sums: Vec<Ciphertext>,
}

impl TallyRecord {
    fn encode(&self) -> Result<Vec<u8>, Misuse> {
        let n = u16::try_from(self.sums.len())
            .map_err(|_| Misuse::Unencodable("too many options".into()))?;
        let mut w = Writer::with_capacity(4 + 128 + 10 + 64 * self.sums.len());
        put_id(&mut w, &self.district)?;
        put_id(&mut w, &self.contest)?;
        w.u64(self.ballots).u16(n);
        for ct in &self.sums {
            // Sums are not subject to the α ≠ 0 rule (spec/crypto.md §4.5).
            w.element(&ct.alpha).element(&ct.beta);
        }
        Ok(w.finish())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, RecordError> {
        let district = get_id(r, "district")?;
        let contest = get_id(r, "contest")?;
        let ballots = r.u64()?;
        let n = bounded(
            "options",
            r.u16()?.into(),
            1,
            urna_crypto::ballot::MAX_OPTIONS,
        )?;
        let mut sums = Vec::with_capacity(n as usize);
        for _ in 0..n {
            sums.push(Ciphertext {
                alpha: r.element()?,
                beta: r.element()?,
            });
        }
        Ok(TallyRecord {
            district,
            contest,
            ballots,
            sums,
        })
    }

    /// The label that binds a partial decryption to its tally position
    /// (spec/record.md §R11.2): `id(district) ‖ id(contest) ‖ u16 option`.
    pub fn label(&self, option: u16) -> Vec<u8> {
        tally_label(&self.district, &self.contest, option)
    }
}

/// `u8 len ‖ district ‖ u8 len ‖ contest ‖ u16 option` (spec/record.md §R11.2).
pub fn tally_label(district: &str, contest: &str, option: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + district.len() + contest.len());
    v.push(district.len() as u8);
    v.extend_from_slice(district.as_bytes());
    v.push(contest.len() as u8);
    v.extend_from_slice(contest.as_bytes());
    v.extend_from_slice(&option.to_be_bytes());
    v
}

/// A chunk of the encrypted tally, records in tally order. The board has no
/// entry kind of its own for the tally, so it is an `admin_action` entry
/// whose payload starts with the sub-tag [`ADMIN_TALLY`] (spec/record.md §R10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyChunk {
    /// Position.
    pub pos: ChunkPos,
    /// Records.
    pub records: Vec<TallyRecord>,
}

/// The byte after the version that marks an `admin_action` payload as a
/// tally chunk (spec/record.md §R10).
pub const ADMIN_TALLY: u8 = 1;

impl TallyChunk {
    /// Payloads for the whole tally, greedily packed.
    pub fn payloads(records: &[TallyRecord]) -> Result<Vec<Vec<u8>>, Misuse> {
        let prefix = 2 + 8 + 4;
        let recs = records
            .iter()
            .map(TallyRecord::encode)
            .collect::<Result<Vec<_>, _>>()?;
        chunk_payloads(prefix, recs, |w| {
            w.u8(PAYLOAD_VERSION).u8(ADMIN_TALLY);
            Ok(())
        })
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let tag = r.u8()?;
        if tag != ADMIN_TALLY {
            return Err(RecordError::UnknownTag {
                field: "admin action",
                value: tag,
            });
        }
        let pos = ChunkPos::get(&mut r)?;
        let n = r.u32()?;
        // A record is at least 1+1+1+1+8+2+64 bytes.
        bounded("records", n.into(), 0, (r.remaining() / 78) as u64)?;
        let mut records = Vec::with_capacity(n as usize);
        for _ in 0..n {
            records.push(TallyRecord::decode(&mut r)?);
        }
        r.finish()?;
        Ok(TallyChunk { pos, records })
    }
}

// ---- §R11 partial decryptions ----------------------------------------------------

/// One `partial_decryption` entry: a chunk of one trustee's partial
/// decryptions, one per tally ciphertext in tally order (spec/record.md §R11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialChunk {
    /// The trustee j (1-based).
    pub trustee: u16,
    /// Position among this trustee's chunks.
    pub pos: ChunkPos,
    /// Partial decryptions, each by `trustee`.
    pub partials: Vec<PartialDecryption>,
}

impl PartialChunk {
    /// Payloads for all of a trustee's partial decryptions.
    pub fn payloads(trustee: u16, partials: &[PartialDecryption]) -> Result<Vec<Vec<u8>>, Misuse> {
        if partials.iter().any(|p| p.trustee != trustee) {
            return Err(Misuse::Unencodable(
                "partial decryptions of another trustee".into(),
            ));
        }
        let prefix = 3 + 8 + 4;
        chunk_payloads(
            prefix,
            partials.iter().map(PartialDecryption::encode).collect(),
            |w| {
                w.u8(PAYLOAD_VERSION).u16(trustee);
                Ok(())
            },
        )
    }

    /// Strict decoding; every item must name the chunk's trustee.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let trustee = r.u16()?;
        bounded(
            "trustee",
            trustee.into(),
            1,
            urna_crypto::dkg::MAX_TRUSTEES.into(),
        )?;
        let pos = ChunkPos::get(&mut r)?;
        let n = r.u32()?;
        bounded(
            "partial decryptions",
            n.into(),
            0,
            (r.remaining() / PartialDecryption::ENCODED_LEN) as u64,
        )?;
        let mut partials = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let p = PartialDecryption::decode(r.take(PartialDecryption::ENCODED_LEN)?)?;
            if p.trustee != trustee {
                return Err(urna_crypto::PeerError::BadTrusteeIndex(p.trustee).into());
            }
            partials.push(p);
        }
        r.finish()?;
        Ok(PartialChunk {
            trustee,
            pos,
            partials,
        })
    }
}

// ---- §R12 results ------------------------------------------------------------------

/// What a result record aggregates (spec/record.md §R12).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResultScope {
    /// 0: one district.
    District(String),
    /// 1: all districts of a region (whose ballots have the contest).
    Region(String),
    /// 2: every district.
    Total,
}

/// Decrypted counts of one contest over one scope (spec/record.md §R12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRecord {
    /// The scope.
    pub scope: ResultScope,
    /// The contest.
    pub contest: String,
    /// Counted ballots that carried the contest in this scope.
    pub ballots: u64,
    /// Count per option, in option order.
    pub counts: Vec<u64>,
}

impl ResultRecord {
    fn encode(&self) -> Result<Vec<u8>, Misuse> {
        let n = u16::try_from(self.counts.len())
            .map_err(|_| Misuse::Unencodable("too many options".into()))?;
        let mut w = Writer::new();
        match &self.scope {
            ResultScope::District(id) => {
                w.u8(0);
                put_id(&mut w, id)?;
            }
            ResultScope::Region(id) => {
                w.u8(1);
                put_id(&mut w, id)?;
            }
            ResultScope::Total => {
                w.u8(2);
            }
        }
        put_id(&mut w, &self.contest)?;
        w.u64(self.ballots).u16(n);
        for &c in &self.counts {
            w.u64(c);
        }
        Ok(w.finish())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, RecordError> {
        let scope = match r.u8()? {
            0 => ResultScope::District(get_id(r, "district")?),
            1 => ResultScope::Region(get_id(r, "region")?),
            2 => ResultScope::Total,
            value => {
                return Err(RecordError::UnknownTag {
                    field: "result scope",
                    value,
                });
            }
        };
        let contest = get_id(r, "contest")?;
        let ballots = r.u64()?;
        let n = bounded(
            "options",
            r.u16()?.into(),
            1,
            urna_crypto::ballot::MAX_OPTIONS,
        )?;
        let mut counts = Vec::with_capacity(n as usize);
        for _ in 0..n {
            counts.push(r.u64()?);
        }
        Ok(ResultRecord {
            scope,
            contest,
            ballots,
            counts,
        })
    }
}

/// One `results` entry: a chunk of result records (spec/record.md §R12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsChunk {
    /// Position.
    pub pos: ChunkPos,
    /// Records.
    pub records: Vec<ResultRecord>,
}

impl ResultsChunk {
    /// Payloads for all records, greedily packed.
    pub fn payloads(records: &[ResultRecord]) -> Result<Vec<Vec<u8>>, Misuse> {
        let prefix = 1 + 8 + 4;
        let recs = records
            .iter()
            .map(ResultRecord::encode)
            .collect::<Result<Vec<_>, _>>()?;
        chunk_payloads(prefix, recs, |w| {
            w.u8(PAYLOAD_VERSION);
            Ok(())
        })
    }

    /// Strict decoding.
    pub fn decode(payload: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader::new(payload);
        version(&mut r)?;
        let pos = ChunkPos::get(&mut r)?;
        let n = r.u32()?;
        // A record is at least 1+2+8+2+8 bytes.
        bounded("records", n.into(), 0, (r.remaining() / 21) as u64)?;
        let mut records = Vec::with_capacity(n as usize);
        for _ in 0..n {
            records.push(ResultRecord::decode(&mut r)?);
        }
        r.finish()?;
        Ok(ResultsChunk { pos, records })
    }
}
