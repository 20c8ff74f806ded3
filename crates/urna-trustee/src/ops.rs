//! The trustee's steps on files, what each `urna trustee` command calls
//! (spec/trustee.md §T5). Each step opens the store, checks its phase,
//! computes, and replaces the store atomically **before** returning the
//! payloads to publish; run again, a step that already happened returns the
//! payloads it stored instead of making new ones (a dealer must never send
//! two different round 2 messages: that is equivocation, spec §8.3).

use std::fmt;
use std::path::Path;

use rand_core::CryptoRng;
use urna_crypto::dkg::{
    CeremonyParams, Complaint, Round1, Round1Message, Round2, Round2Message, Trustee,
};
use urna_crypto::elgamal::{KeyPair, SecretScalar};
use urna_crypto::threshold::KeyShare;
use urna_crypto::{Element, Fingerprint};
use urna_election::Manifest;
use urna_election::record::{
    CeremonyMessage, PartialChunk, TallyChunk, TallyRecord, check_chunk_sequence,
};
use urna_election::rules::{tally_items, verify_trustee_partials};

use crate::error::{Result, TrusteeError};
use crate::state::{Step, TrusteeState};
use crate::store::{self, KdfParams, Passphrase, Unlocked};

fn load(path: &Path, pass: &Passphrase) -> Result<(Unlocked, TrusteeState)> {
    let (unlocked, plain) = store::open(path, pass)?;
    let state = TrusteeState::decode(&plain)?;
    Ok((unlocked, state))
}

fn key_pair(secret: SecretScalar) -> Result<KeyPair> {
    KeyPair::from_secret(secret).map_err(|e| TrusteeError::BadState(format!("share key: {e}")))
}

fn wrong_phase(step: &'static str, needs: &'static str, state: &TrusteeState) -> TrusteeError {
    TrusteeError::WrongPhase {
        step,
        needs,
        actual: state.step.name(),
    }
}

/// Reads the ceremony payloads (spec/record.md §R3) and keeps those with
/// the wanted tag; other tags are skipped (a folder may hold the whole ceremony).
fn ceremony_messages(payloads: &[Vec<u8>]) -> Result<Vec<CeremonyMessage>> {
    payloads
        .iter()
        .enumerate()
        .map(|(k, p)| {
            CeremonyMessage::decode(p)
                .map_err(|e| TrusteeError::Input(format!("ceremony payload {}: {e}", k + 1)))
        })
        .collect()
}

/// `init` (spec §8.2): creates the store at `path` under `pass` and returns
/// the round 1 payload to publish. `params`, if given, must equal the
/// manifest's `[trustees]`.
pub fn init<R: CryptoRng + ?Sized>(
    path: &Path,
    pass: &Passphrase,
    kdf: KdfParams,
    manifest_bytes: &[u8],
    index: u16,
    params: Option<CeremonyParams>,
    rng: &mut R,
) -> Result<Vec<u8>> {
    let manifest = Manifest::from_bytes(manifest_bytes)
        .map_err(|e| TrusteeError::Input(format!("manifest: {e}")))?;
    let from_manifest = manifest.trustees();
    if let Some(p) = params
        && p != from_manifest
    {
        return Err(TrusteeError::Input(format!(
            "n = {}, t = {} given, but the manifest's [trustees] says n = {}, t = {}",
            p.n, p.t, from_manifest.n, from_manifest.t
        )));
    }
    if path.exists() {
        return Err(TrusteeError::AlreadyExists(path.to_path_buf()));
    }
    let trustee = Trustee::new(
        from_manifest,
        index,
        manifest.hash(),
        KeyPair::generate(rng),
    )?;
    let (r1, msg) = trustee.start(rng);
    let (key, coefs) = r1.secret_parts();
    let state = TrusteeState {
        params: from_manifest,
        index,
        manifest_hash: *manifest.hash(),
        election_id: manifest.id().to_string(),
        step: Step::Committed {
            share_key: key.secret().clone(),
            coefficients: coefs.to_vec(),
            round1: msg.clone(),
        },
    };
    store::create(path, pass, kdf, &state.encode()?, rng)?;
    Ok(CeremonyMessage::Round1(msg).encode())
}

/// `deal` (spec §8.3): from every published round 1 payload (this
/// trustee's own included), seals a share to every other participant and
/// returns the round 2 payload. The polynomial is erased from the store.
pub fn deal<R: CryptoRng + ?Sized>(
    path: &Path,
    pass: &Passphrase,
    round1_payloads: &[Vec<u8>],
    rng: &mut R,
) -> Result<Vec<u8>> {
    let (unlocked, state) = load(path, pass)?;
    let TrusteeState {
        params,
        index,
        manifest_hash,
        election_id,
        step,
    } = state;
    let (share_key, coefficients, own) = match step {
        Step::Committed {
            share_key,
            coefficients,
            round1,
        } => (share_key, coefficients, round1),
        Step::Dealt { round2, .. } => return Ok(CeremonyMessage::Round2(round2).encode()),
        other => {
            return Err(TrusteeError::WrongPhase {
                step: "deal",
                needs: "committed",
                actual: other.name(),
            });
        }
    };
    let round1: Vec<Round1Message> = ceremony_messages(round1_payloads)?
        .into_iter()
        .filter_map(|m| match m {
            CeremonyMessage::Round1(m) => Some(m),
            _ => None,
        })
        .collect();
    if !round1.contains(&own) {
        return Err(TrusteeError::Input(format!(
            "this trustee's own round 1 message (trustee {index}) is not among the {} round 1 messages given",
            round1.len()
        )));
    }
    let r1 = Round1::from_parts(
        params,
        index,
        &manifest_hash,
        key_pair(share_key)?,
        coefficients,
        own,
    )?;
    let (r2, msg) = r1.deal(&round1, rng)?;
    let (key, own_share) = r2.secret_parts();
    let next = TrusteeState {
        params,
        index,
        manifest_hash,
        election_id,
        step: Step::Dealt {
            share_key: key.secret().clone(),
            own_share: own_share.clone(),
            round1,
            round2: msg.clone(),
        },
    };
    unlocked.save(&next.encode()?, rng)?;
    Ok(CeremonyMessage::Round2(msg).encode())
}

/// `receive` (spec §8.4–§8.5): opens and checks the shares sealed to this
/// trustee in the published round 2 payloads and returns one complaint
/// payload per bad share (none when all are good).
pub fn receive<R: CryptoRng + ?Sized>(
    path: &Path,
    pass: &Passphrase,
    round2_payloads: &[Vec<u8>],
    rng: &mut R,
) -> Result<Vec<Vec<u8>>> {
    let (unlocked, state) = load(path, pass)?;
    let TrusteeState {
        params,
        index,
        manifest_hash,
        election_id,
        step,
    } = state;
    let (share_key, own_share, round1, own_round2) = match step {
        Step::Dealt {
            share_key,
            own_share,
            round1,
            round2,
        } => (share_key, own_share, round1, round2),
        Step::Received { complaints, .. } => {
            return Ok(complaints
                .into_iter()
                .map(|c| CeremonyMessage::Complaint(c).encode())
                .collect());
        }
        other => {
            return Err(TrusteeError::WrongPhase {
                step: "receive",
                needs: "dealt",
                actual: other.name(),
            });
        }
    };
    let mut round2: Vec<Round2Message> = ceremony_messages(round2_payloads)?
        .into_iter()
        .filter_map(|m| match m {
            CeremonyMessage::Round2(m) => Some(m),
            _ => None,
        })
        .collect();
    // This trustee's own round 2 message decides whether it is itself
    // qualified (spec §8.3): always include it.
    if !round2.contains(&own_round2) {
        round2.push(own_round2);
    }
    let r2 = Round2::from_parts(
        params,
        index,
        &manifest_hash,
        key_pair(share_key)?,
        own_share,
        &round1,
        rng,
    )?;
    let (key, own) = r2.secret_parts();
    let (share_key, own_share) = (key.secret().clone(), own.clone());
    let (_, complaints) = r2.receive(&round2, rng);
    let next = TrusteeState {
        params,
        index,
        manifest_hash,
        election_id,
        step: Step::Received {
            share_key,
            own_share,
            round1,
            round2,
            complaints: complaints.clone(),
        },
    };
    unlocked.save(&next.encode()?, rng)?;
    Ok(complaints
        .into_iter()
        .map(|c| CeremonyMessage::Complaint(c).encode())
        .collect())
}

/// What `finish` reports: the public outcome of the ceremony.
#[derive(Debug, Clone)]
pub struct FinishReport {
    /// This trustee.
    pub index: u16,
    /// `K`.
    pub joint_key: Element,
    /// `K_j`.
    pub verification_key: Element,
    /// `F_election(M, K)`.
    pub fingerprint: Fingerprint,
    /// `Q`.
    pub qualified: Vec<u16>,
    /// Each disqualified trustee and why (empty in an honest ceremony).
    pub faults: Vec<String>,
}

impl fmt::Display for FinishReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "joint key:            {}", self.joint_key.to_hex())?;
        writeln!(
            f,
            "verification key K_{}: {}",
            self.index,
            self.verification_key.to_hex()
        )?;
        writeln!(f, "election fingerprint: {}", self.fingerprint.to_hex())?;
        write!(f, "qualified trustees:   {:?}", self.qualified)?;
        for fault in &self.faults {
            write!(f, "\nfault: {fault}")?;
        }
        Ok(())
    }
}

/// `finish` (spec §8.6): settles the ceremony from every published
/// complaint payload (an empty list when there were none) and stores this
/// trustee's key share `s_j`; every other secret is erased from the store.
pub fn finish<R: CryptoRng + ?Sized>(
    path: &Path,
    pass: &Passphrase,
    complaint_payloads: &[Vec<u8>],
    rng: &mut R,
) -> Result<FinishReport> {
    let (unlocked, state) = load(path, pass)?;
    let TrusteeState {
        params,
        index,
        manifest_hash,
        election_id,
        step,
    } = state;
    let (share_key, own_share, round1, round2, own_complaints) = match step {
        Step::Received {
            share_key,
            own_share,
            round1,
            round2,
            complaints,
        } => (share_key, own_share, round1, round2, complaints),
        Step::Finished {
            verification_key,
            joint_key,
            qualified,
            ..
        } => {
            return Ok(FinishReport {
                index,
                joint_key,
                verification_key,
                fingerprint: Fingerprint::election(&manifest_hash, &joint_key),
                qualified,
                faults: Vec::new(),
            });
        }
        other => {
            return Err(TrusteeError::WrongPhase {
                step: "finish",
                needs: "received",
                actual: other.name(),
            });
        }
    };
    let mut complaints: Vec<Complaint> = ceremony_messages(complaint_payloads)?
        .into_iter()
        .filter_map(|m| match m {
            CeremonyMessage::Complaint(c) => Some(c),
            _ => None,
        })
        .collect();
    // This trustee's own complaints are part of the record (spec §8.6).
    for c in own_complaints {
        if !complaints.contains(&c) {
            complaints.push(c);
        }
    }
    let r2 = Round2::from_parts(
        params,
        index,
        &manifest_hash,
        key_pair(share_key)?,
        own_share,
        &round1,
        rng,
    )?;
    let (r3, _) = r2.receive(&round2, rng);
    let (outcome, share) = r3.finish(&complaints, rng)?.into_parts();
    let report = FinishReport {
        index,
        joint_key: outcome.joint_key,
        verification_key: *share.verification_key(),
        fingerprint: outcome.election_fingerprint(),
        qualified: outcome.qualified.clone(),
        faults: outcome
            .faults
            .iter()
            .map(|f| format!("trustee {}: {:?}", f.trustee, f.misbehaviour))
            .collect(),
    };
    let next = TrusteeState {
        params,
        index,
        manifest_hash,
        election_id,
        step: Step::Finished {
            key_share: share.secret().clone(),
            verification_key: *share.verification_key(),
            joint_key: outcome.joint_key,
            qualified: outcome.qualified,
        },
    };
    unlocked.save(&next.encode()?, rng)?;
    Ok(report)
}

/// What the trustee checks the tally against before decrypting.
#[derive(Debug, Default)]
pub struct Expect<'a> {
    /// The election fingerprint `F_election` as published (32 bytes).
    pub fingerprint: Option<[u8; 32]>,
    /// The manifest: its hash must be the store's, and the tally must
    /// have exactly the manifest's shape (spec/record.md §R10 tally order).
    pub manifest: Option<&'a Manifest>,
}

fn check_shape(m: &Manifest, records: &[TallyRecord]) -> Result<()> {
    let mut want = Vec::new();
    for style in m.styles() {
        let district = &m.districts()[style.district].id;
        for &c in &style.contests {
            let contest = &m.contests()[c];
            want.push((
                district.as_str(),
                contest.id.as_str(),
                contest.options.len(),
            ));
        }
    }
    let got: Vec<(&str, &str, usize)> = records
        .iter()
        .map(|r| (r.district.as_str(), r.contest.as_str(), r.sums.len()))
        .collect();
    if got != want {
        let at = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        return Err(TrusteeError::Refused(format!(
            "the tally does not have the manifest's shape: {} records, expected {}; first difference at record {}",
            got.len(),
            want.len(),
            at + 1
        )));
    }
    Ok(())
}

/// `decrypt` (spec §9.1, spec/record.md §R10–§R11): the partial
/// decryptions, with proofs, of every ciphertext of the published
/// encrypted tally, as `partial_decryption` payloads. Refuses unless the
/// store is finished and `expect` names this store's election (at least
/// one of its fields must be given).
pub fn decrypt<R: CryptoRng + ?Sized>(
    path: &Path,
    pass: &Passphrase,
    tally_payloads: &[Vec<u8>],
    expect: &Expect<'_>,
    rng: &mut R,
) -> Result<Vec<Vec<u8>>> {
    if expect.fingerprint.is_none() && expect.manifest.is_none() {
        return Err(TrusteeError::Input(
            "name the election: give its fingerprint or its manifest".into(),
        ));
    }
    let (_, state) = load(path, pass)?;
    let Step::Finished {
        key_share,
        verification_key,
        joint_key,
        ..
    } = state.step
    else {
        return Err(wrong_phase("decrypt", "finished", &state));
    };
    let fp = Fingerprint::election(&state.manifest_hash, &joint_key);
    if let Some(want) = expect.fingerprint
        && want != fp.0
    {
        return Err(TrusteeError::Refused(format!(
            "election fingerprint {} given, but this store's election is {}",
            hex::encode(want),
            fp.to_hex()
        )));
    }
    if let Some(m) = expect.manifest
        && m.hash() != &state.manifest_hash
    {
        return Err(TrusteeError::Refused(format!(
            "the manifest given (hash {}) is not this store's election (manifest hash {})",
            hex::encode(m.hash()),
            hex::encode(state.manifest_hash)
        )));
    }
    let chunks = tally_payloads
        .iter()
        .enumerate()
        .map(|(k, p)| {
            TallyChunk::decode(p)
                .map_err(|e| TrusteeError::Input(format!("tally payload {}: {e}", k + 1)))
        })
        .collect::<Result<Vec<_>>>()?;
    let positions: Vec<_> = chunks.iter().map(|c| c.pos).collect();
    check_chunk_sequence(&positions).map_err(|e| TrusteeError::Input(format!("tally: {e}")))?;
    let records: Vec<TallyRecord> = chunks.into_iter().flat_map(|c| c.records).collect();
    if let Some(m) = expect.manifest {
        check_shape(m, &records)?;
    }
    let share = KeyShare::new(state.index, key_share, verification_key)?;
    let items = tally_items(&records);
    let partials = share.partial_decrypt_batch(&fp, &items, rng);
    // Self-check before anything leaves the machine.
    verify_trustee_partials(&fp, &verification_key, &records, &partials, rng).map_err(|e| {
        TrusteeError::BadState(format!("own partial decryptions do not verify: {e}"))
    })?;
    PartialChunk::payloads(state.index, &partials)
        .map_err(|e| TrusteeError::Input(format!("partial decryptions: {e}")))
}

/// What `show` prints: public information only.
#[derive(Debug, Clone)]
pub struct PublicInfo {
    /// The store's phase.
    pub phase: &'static str,
    /// This trustee.
    pub index: u16,
    /// n, t.
    pub params: CeremonyParams,
    /// The election id.
    pub election_id: String,
    /// M.
    pub manifest_hash: [u8; 32],
    /// `X_i` (before `finish`).
    pub share_key: Option<Element>,
    /// `K`, `K_j`, `F_election` (after `finish`).
    pub outcome: Option<(Element, Element, Fingerprint)>,
    /// Argon2id parameters of the file.
    pub kdf: KdfParams,
}

impl fmt::Display for PublicInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "election:             {}", self.election_id)?;
        writeln!(
            f,
            "manifest hash:        {}",
            hex::encode(self.manifest_hash)
        )?;
        writeln!(
            f,
            "trustee:              {} of n = {}, t = {}",
            self.index, self.params.n, self.params.t
        )?;
        writeln!(f, "phase:                {}", self.phase)?;
        if let Some(x) = &self.share_key {
            writeln!(f, "share key X_{}:        {}", self.index, x.to_hex())?;
        }
        if let Some((k, kj, fp)) = &self.outcome {
            writeln!(f, "joint key:            {}", k.to_hex())?;
            writeln!(f, "verification key K_{}: {}", self.index, kj.to_hex())?;
            writeln!(f, "election fingerprint: {}", fp.to_hex())?;
        }
        write!(
            f,
            "key derivation:       argon2id m = {} KiB, t = {}, p = {}{}",
            self.kdf.m_cost_kib,
            self.kdf.t_cost,
            self.kdf.p_cost,
            if self.kdf.is_weak() {
                "  (WEAK: below the default; for tests only)"
            } else {
                ""
            }
        )
    }
}

/// `show`: the store's public information (needs the passphrase: nothing
/// in the file is trusted before it is authenticated).
pub fn show(path: &Path, pass: &Passphrase) -> Result<PublicInfo> {
    let (unlocked, state) = load(path, pass)?;
    let share_key = match &state.step {
        Step::Committed { share_key, .. }
        | Step::Dealt { share_key, .. }
        | Step::Received { share_key, .. } => Some(share_key.public()),
        Step::Finished { .. } => None,
    };
    let outcome = match &state.step {
        Step::Finished {
            verification_key,
            joint_key,
            ..
        } => Some((
            *joint_key,
            *verification_key,
            Fingerprint::election(&state.manifest_hash, joint_key),
        )),
        _ => None,
    };
    Ok(PublicInfo {
        phase: state.step.name(),
        index: state.index,
        params: state.params,
        election_id: state.election_id.clone(),
        manifest_hash: state.manifest_hash,
        share_key,
        outcome,
        kdf: unlocked.header().kdf,
    })
}
