//! The election lifecycle as a chain of types, one per phase (as rustls
//! and `urna_crypto::dkg` do):
//!
//! ```text
//! Election<Setup> → <KeyCeremony> → <Registration> → <Voting> → <Closed> → <Tallied> → <Decrypted>
//! ```
//!
//! Each transition consumes the previous phase and returns the next one
//! together with the board entries to append, in order. Illegal sequences
//! do not compile: there is no way to cast a ballot on an `Election<Closed>`
//! or to publish results before the tally. A transition that fails (too
//! early, too few trustees) gives the unchanged election back in [`Stuck`].
//!
//! **Board order is the order of calls.** The server must append the
//! returned entries in exactly the order the calls returned them, and must
//! treat a failed append as fatal (the engine has already counted the
//! entry). Everything the re-vote policy decides follows from that order
//! (spec/record.md §R6.3).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rand_core::CryptoRng;
use urna_board::{Entry, EntryKind};
use urna_crypto::ballot::{Ballot, BallotCheck};
use urna_crypto::batch::{verify_batch, verify_one};
use urna_crypto::dkg::{
    CeremonyOutcome, CeremonyRecord, Complaint, Round1Message, Round2Message, verify_ceremony,
};
use urna_crypto::elgamal::{Ciphertext, PublicKey};
use urna_crypto::encoding::Element;
use urna_crypto::threshold::PartialDecryption;
use urna_crypto::{Fingerprint, PeerError};

use crate::error::{ElectionError, Misuse, Refusal};
use crate::manifest::{Manifest, ManifestError, PaperPolicy};
use crate::record::{
    AnnulReason, AuditedBallot, BallotHeader, CeremonyMessage, CredentialChunk, ManifestChunk,
    PartialChunk, ReconciliationChunk, ResultRecord, ResultsChunk, TallyChunk, TallyRecord,
    VotingClosed, VotingOpened, check_chunk_sequence, tracking_code,
};
use crate::rules::{
    BallotBox, CredentialBytes, TallyAccumulator, ballot_ciphertexts, check_application_window,
    check_voting_window, decrypt_tally, results, verify_trustee_partials,
};
use crate::time::Timestamp;

mod state;
pub use state::StateError;

/// An election in phase `S`.
#[derive(Debug)]
pub struct Election<S> {
    manifest: Arc<Manifest>,
    state: S,
}

/// A transition that did not happen: the election, unchanged, and why.
#[derive(Debug)]
pub struct Stuck<S> {
    /// The election as it was.
    pub election: Election<S>,
    /// Why the transition failed.
    pub error: ElectionError,
}

/// The result of a transition from `P` to `N`: the new phase and the
/// entries to append, or the old phase back.
pub type Step<N, P> = Result<(Election<N>, Vec<Entry>), Box<Stuck<P>>>;

fn stuck<S>(election: Election<S>, error: impl Into<ElectionError>) -> Box<Stuck<S>> {
    Box::new(Stuck {
        election,
        error: error.into(),
    })
}

fn entries(kind: EntryKind, payloads: Vec<Vec<u8>>) -> Result<Vec<Entry>, ElectionError> {
    payloads
        .iter()
        .map(|p| Entry::new(kind, p).map_err(ElectionError::from))
        .collect()
}

impl<S> Election<S> {
    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

/// The election's keys, known from the end of the key ceremony on.
#[derive(Debug, Clone)]
pub struct ElectionKeys {
    /// The public result of the ceremony (qualified trustees, `K_j`).
    pub outcome: CeremonyOutcome,
    /// The joint key K.
    pub key: PublicKey,
    /// `F_election = Fingerprint::election(manifest_hash, K)` (spec/crypto.md §3.5).
    pub fingerprint: Fingerprint,
}

// ---- Setup -----------------------------------------------------------------------

/// Phase 0: a validated manifest, not yet published.
#[derive(Debug)]
pub struct Setup;

impl Election<Setup> {
    /// Parses and validates manifest bytes (spec/record.md §R2).
    pub fn new(manifest_bytes: &[u8]) -> Result<Self, ManifestError> {
        Ok(Self::from_manifest(Manifest::from_bytes(manifest_bytes)?))
    }

    /// From an already parsed manifest.
    pub fn from_manifest(manifest: Manifest) -> Self {
        Election {
            manifest: Arc::new(manifest),
            state: Setup,
        }
    }

    /// Publishes the manifest: its entries open the board (spec/record.md §R2).
    pub fn publish(self) -> Step<KeyCeremony, Setup> {
        let payloads = match ManifestChunk::payloads(self.manifest.bytes()) {
            Ok(p) => p,
            Err(e) => return Err(stuck(self, e)),
        };
        match entries(EntryKind::ElectionManifest, payloads) {
            Ok(e) => Ok((
                Election {
                    manifest: self.manifest,
                    state: KeyCeremony::default(),
                },
                e,
            )),
            Err(err) => Err(stuck(self, err)),
        }
    }
}

// ---- KeyCeremony --------------------------------------------------------------------

/// Phase 1: collecting the trustees' DKG messages (spec/crypto.md §8,
/// spec/record.md §R3).
#[derive(Debug, Default)]
pub struct KeyCeremony {
    round1: BTreeMap<u16, Round1Message>,
    round2: BTreeMap<u16, Round2Message>,
    complaints: BTreeMap<(u16, u16), Complaint>,
}

impl Election<KeyCeremony> {
    /// The fingerprint the ceremony's proofs are bound to (spec/crypto.md §3.5).
    pub fn ceremony_fingerprint(&self) -> Fingerprint {
        Fingerprint::ceremony(self.manifest.hash())
    }

    /// Accepts one ceremony message (a `trustee_ceremony` payload sent by a
    /// trustee) and returns the entry to append. Shapes and indices are
    /// checked here; proofs and shares when the ceremony is finished.
    pub fn accept(&mut self, payload: &[u8]) -> Result<Entry, ElectionError> {
        let msg = CeremonyMessage::decode(payload)?;
        let params = self.manifest.trustees();
        let in_range = |j: u16| -> Result<(), ElectionError> {
            if j == 0 || j > params.n {
                return Err(PeerError::BadTrusteeIndex(j).into());
            }
            Ok(())
        };
        match msg {
            CeremonyMessage::Round1(m) => {
                if m.params != params {
                    return Err(Refusal::CeremonyMismatch(format!(
                        "n = {}, t = {} but the manifest says n = {}, t = {}",
                        m.params.n, m.params.t, params.n, params.t
                    ))
                    .into());
                }
                m.check_shape()?;
                in_range(m.trustee)?;
                insert_once(&mut self.state.round1, m.trustee, m.clone(), m.trustee)?;
            }
            CeremonyMessage::Round2(m) => {
                m.check_shape()?;
                in_range(m.dealer)?;
                insert_once(&mut self.state.round2, m.dealer, m.clone(), m.dealer)?;
            }
            CeremonyMessage::Complaint(c) => {
                c.check_shape()?;
                in_range(c.dealer)?;
                in_range(c.complainer)?;
                insert_once(
                    &mut self.state.complaints,
                    (c.dealer, c.complainer),
                    c,
                    c.complainer,
                )?;
            }
            CeremonyMessage::JointKey(_) => {
                return Err(Refusal::CeremonyMismatch(
                    "the joint key is computed by the engine, not sent".into(),
                )
                .into());
            }
        }
        Ok(Entry::new(EntryKind::TrusteeCeremony, payload)?)
    }

    /// Runs the public ceremony checks (spec/crypto.md §8.6–§8.7) on what was
    /// accepted and publishes the joint key (spec/record.md §R3).
    pub fn finish<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Step<Registration, KeyCeremony> {
        let record = CeremonyRecord {
            params: self.manifest.trustees(),
            manifest_hash: *self.manifest.hash(),
            round1: self.state.round1.values().cloned().collect(),
            round2: self.state.round2.values().cloned().collect(),
            complaints: self.state.complaints.values().cloned().collect(),
        };
        let outcome = match verify_ceremony(&record, None, rng) {
            Ok(o) => o,
            Err(e) => return Err(stuck(self, e)),
        };
        let key = match outcome.public_key() {
            Ok(k) => k,
            Err(e) => return Err(stuck(self, e)),
        };
        let entry = match Entry::new(
            EntryKind::TrusteeCeremony,
            &CeremonyMessage::JointKey(outcome.joint_key).encode(),
        ) {
            Ok(e) => e,
            Err(e) => return Err(stuck(self, e)),
        };
        let fingerprint = outcome.election_fingerprint();
        let n = self.manifest.districts().len();
        Ok((
            Election {
                manifest: self.manifest,
                state: Registration {
                    keys: Arc::new(ElectionKeys {
                        outcome,
                        key,
                        fingerprint,
                    }),
                    district_of: HashMap::new(),
                    lists: vec![Vec::new(); n],
                },
            },
            vec![entry],
        ))
    }
}

fn insert_once<K: Ord, V: PartialEq>(
    map: &mut BTreeMap<K, V>,
    k: K,
    v: V,
    sender: u16,
) -> Result<(), ElectionError> {
    match map.get(&k) {
        Some(old) if *old == v => Err(Refusal::DuplicateMessage.into()),
        Some(_) => Err(Refusal::Equivocation(sender).into()),
        None => {
            map.insert(k, v);
            Ok(())
        }
    }
}

// ---- Registration -----------------------------------------------------------------------

/// Phase 2: the joint key exists; voters' public credentials are registered
/// per district during the application window.
#[derive(Debug)]
pub struct Registration {
    keys: Arc<ElectionKeys>,
    district_of: HashMap<CredentialBytes, usize>,
    lists: Vec<Vec<Element>>,
}

impl Election<Registration> {
    /// Joint key, fingerprint and ceremony outcome.
    pub fn keys(&self) -> &ElectionKeys {
        &self.state.keys
    }

    /// Registers a voter's public credential (made on the voter's device) in
    /// a district, during the application window.
    pub fn register(
        &mut self,
        district: &str,
        credential: Element,
        now: Timestamp,
    ) -> Result<(), ElectionError> {
        check_application_window(self.manifest.schedule(), now)?;
        self.restore(district, credential)
    }

    /// Registers a credential that was accepted in the application window
    /// before a restart (the server's journal, or a sealed list read back
    /// from the board): every check of [`register`](Self::register) but
    /// the clock, which belongs to the moment it was first accepted.
    pub fn restore(&mut self, district: &str, credential: Element) -> Result<(), ElectionError> {
        let d = self
            .manifest
            .district_index(district)
            .ok_or_else(|| Misuse::UnknownDistrict(district.to_string()))?;
        if credential.is_identity() {
            return Err(PeerError::IdentityElement.into());
        }
        if self.state.district_of.contains_key(credential.as_bytes()) {
            return Err(Refusal::DuplicateCredential.into());
        }
        self.state.district_of.insert(*credential.as_bytes(), d);
        self.state.lists[d].push(credential);
        Ok(())
    }

    /// Number of registered credentials.
    pub fn registered(&self) -> usize {
        self.state.district_of.len()
    }

    /// The registered credentials, in no particular order: what the caller
    /// asks its registry about before [`open_without`](Self::open_without).
    pub fn credentials(&self) -> impl Iterator<Item = &CredentialBytes> {
        self.state.district_of.keys()
    }

    /// Seals the credential lists and opens voting at `now`, which must be
    /// inside the voting window. Entries: every district's list in
    /// district order (spec/record.md §R4), then `voting_opened` (§R5).
    pub fn open(self, now: Timestamp) -> Step<Voting, Registration> {
        self.open_without(now, &[])
    }

    /// [`open`](Self::open), leaving `withdrawn` out of the sealed lists:
    /// registered credentials whose application no longer stands (withdrawn
    /// or revoked before the open, spec/registration.md §G4), which the
    /// caller learnt from its registry. They are neither sealed nor counted
    /// in `voting_opened` (spec/record.md §R4), so their ballots are refused
    /// as `unknown_credential`. A credential that is not registered, or is
    /// listed twice, is a misuse; a failed open leaves every list as it was.
    pub fn open_without(
        self,
        now: Timestamp,
        withdrawn: &[CredentialBytes],
    ) -> Step<Voting, Registration> {
        let sched = self.manifest.schedule();
        if now < sched.voting_opens {
            let at = sched.voting_opens;
            return Err(stuck(
                self,
                Misuse::TooEarly {
                    action: "opening the vote",
                    at,
                    now,
                },
            ));
        }
        if now >= sched.voting_closes {
            let until = sched.voting_closes;
            return Err(stuck(
                self,
                Misuse::TooLate {
                    action: "opening the vote",
                    until,
                    now,
                },
            ));
        }
        let mut left_out = HashSet::with_capacity(withdrawn.len());
        for c in withdrawn {
            if !self.state.district_of.contains_key(c) || !left_out.insert(*c) {
                let e = Misuse::NotRegistered(hex::encode(c));
                return Err(stuck(self, e));
            }
        }
        // The sealed lists are built aside, so a failed open changes nothing.
        let lists: Vec<Vec<Element>> = self
            .state
            .lists
            .iter()
            .map(|l| {
                let mut l: Vec<Element> = l
                    .iter()
                    .filter(|c| !left_out.contains(c.as_bytes()))
                    .copied()
                    .collect();
                l.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                l
            })
            .collect();
        let mut out = Vec::new();
        for (d, list) in lists.iter().enumerate() {
            let id = &self.manifest.districts()[d].id;
            match CredentialChunk::payloads(id, list)
                .map_err(ElectionError::from)
                .and_then(|p| entries(EntryKind::CredentialList, p))
            {
                Ok(mut e) => out.append(&mut e),
                Err(err) => return Err(stuck(self, err)),
            }
        }
        let sealed: usize = lists.iter().map(Vec::len).sum();
        let opened = VotingOpened {
            manifest_hash: *self.manifest.hash(),
            time: now,
            credentials: sealed as u64,
        };
        match Entry::new(EntryKind::VotingOpened, &opened.encode()) {
            Ok(e) => out.push(e),
            Err(err) => return Err(stuck(self, err)),
        }
        let mut district_of = self.state.district_of;
        district_of.retain(|c, _| !left_out.contains(c));
        let eligible = lists.iter().map(|l| l.len() as u64).collect();
        let n = self.manifest.districts().len();
        let acc = TallyAccumulator::new(&self.manifest);
        Ok((
            Election {
                state: Voting {
                    keys: self.state.keys,
                    sealed: Arc::new(district_of),
                    ballot_box: BallotBox::new(self.manifest.revote()),
                    acc,
                    current: HashMap::new(),
                    eligible,
                    voted: vec![0; n],
                    ballots: 0,
                    audited: 0,
                },
                manifest: self.manifest,
            },
            out,
        ))
    }
}

// ---- Voting -------------------------------------------------------------------------------

/// Phase 3: ballots and audits are accepted in the voting window.
#[derive(Debug)]
pub struct Voting {
    keys: Arc<ElectionKeys>,
    sealed: Arc<HashMap<CredentialBytes, usize>>,
    ballot_box: BallotBox,
    acc: TallyAccumulator,
    /// Per credential: district and the compressed option ciphertexts of
    /// its counted ballot, to subtract when superseded or annulled.
    current: HashMap<CredentialBytes, Counted>,
    eligible: Vec<u64>,
    voted: Vec<u64>,
    ballots: u64,
    audited: u64,
}

/// A ballot that passed the cheap checks (window, decoding, sealed
/// credential, header and style, replay, re-vote policy) and awaits proof
/// verification, alone ([`Admitted::verify`]) or batched with others
/// ([`verify_admitted`]).
#[derive(Debug)]
pub struct Admitted {
    bytes: Vec<u8>,
    ballot: Ballot,
    tracking: [u8; 32],
    district: usize,
    manifest: Arc<Manifest>,
    keys: Arc<ElectionKeys>,
}

/// A ballot whose proofs and signature verified; only this can be recorded.
#[derive(Debug)]
pub struct Verified(Admitted);

impl Admitted {
    /// The tracking code (spec/record.md §R6.2).
    pub fn tracking_code(&self) -> &[u8; 32] {
        &self.tracking
    }
    /// The ballot's credential.
    pub fn credential(&self) -> &Element {
        &self.ballot.credential
    }
    /// Index of the credential's district.
    pub fn district(&self) -> usize {
        self.district
    }
    /// The statement for `urna_crypto::batch` (spec/crypto.md §7.4).
    pub fn check(&self) -> BallotCheck<'_> {
        let shapes = &self.manifest.styles()[self.district].shapes;
        let signed = &self.bytes[..self.bytes.len().saturating_sub(64)];
        self.ballot
            .statement(self.keys.key.element(), &self.keys.fingerprint, shapes)
            .with_signed_bytes(signed)
    }
    /// Takes the ballot as verified without verifying it here: only for
    /// a server sequencing for several servers on one database, whose peer
    /// (authenticated by the cluster secret) verified these very bytes'
    /// proofs before forwarding them (docs/decisions/0017-cluster-sequencer.md).
    /// The board's verifier re-checks every ballot all the same.
    pub fn vouched(self) -> Verified {
        Verified(self)
    }
    /// Verifies this ballot alone.
    pub fn verify<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Result<Verified, ElectionError> {
        verify_one(&self.check(), Some(self.keys.key.element()), rng)?;
        Ok(Verified(self))
    }
}

impl Verified {
    /// The tracking code.
    pub fn tracking_code(&self) -> &[u8; 32] {
        &self.0.tracking
    }
}

/// Verifies many admitted ballots in one batch (spec/crypto.md §6.1); a
/// failing batch names each bad ballot. Results are in input order.
pub fn verify_admitted<R: CryptoRng + ?Sized>(
    admitted: Vec<Admitted>,
    rng: &mut R,
) -> Vec<Result<Verified, ElectionError>> {
    let Some(first) = admitted.first() else {
        return Vec::new();
    };
    let key = *first.keys.key.element();
    let bad = {
        let checks: Vec<BallotCheck<'_>> = admitted.iter().map(Admitted::check).collect();
        verify_batch(&checks, Some(&key), rng)
            .err()
            .unwrap_or_default()
    };
    let mut errors: HashMap<usize, PeerError> =
        bad.into_iter().map(|b| (b.index, b.error)).collect();
    admitted
        .into_iter()
        .enumerate()
        .map(|(i, a)| match errors.remove(&i) {
            Some(e) => Err(e.into()),
            None => Ok(Verified(a)),
        })
        .collect()
}

/// What recording a ballot produced.
#[derive(Debug)]
pub struct Cast {
    /// The entry to append (kind `ballot` or `audited_ballot`).
    pub entry: Entry,
    /// The tracking code (spec/record.md §R6.2).
    pub tracking: [u8; 32],
    /// The credential's previous ballot, which no longer counts.
    pub superseded: Option<[u8; 32]>,
}

/// Turnout of one district (counts only; no partial results, ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistrictTurnout {
    /// Sealed credentials.
    pub eligible: u64,
    /// Credentials with at least one ballot.
    pub voted: u64,
}

impl Election<Voting> {
    /// Joint key, fingerprint and ceremony outcome.
    pub fn keys(&self) -> &ElectionKeys {
        &self.state.keys
    }

    /// The district index of a sealed credential.
    pub fn district_of(&self, credential: &Element) -> Option<usize> {
        self.state.sealed.get(credential.as_bytes()).copied()
    }

    /// Decodes the ballot, finds the credential's district, checks the
    /// header against it and the election (spec/record.md §R6.1).
    fn identify(
        &self,
        ballot_bytes: &[u8],
        now: Timestamp,
    ) -> Result<(Ballot, usize), ElectionError> {
        check_voting_window(self.manifest.schedule(), now)?;
        self.identify_on_board(ballot_bytes)
    }

    /// [`identify`](Self::identify) without the clock: for entries read
    /// back from the board, whose position between `voting_opened` and
    /// `voting_closed` is what places them in the window (spec/record.md §R6.3).
    fn identify_on_board(&self, ballot_bytes: &[u8]) -> Result<(Ballot, usize), ElectionError> {
        let ballot = Ballot::decode(ballot_bytes)?;
        let district = self
            .district_of(&ballot.credential)
            .ok_or(Refusal::UnknownCredential)?;
        let header = BallotHeader::decode(&ballot.header)?;
        if header.election != self.manifest.id_hash() {
            return Err(Refusal::WrongElection.into());
        }
        let expected = &self.manifest.districts()[district].id;
        if &header.district != expected {
            return Err(Refusal::WrongBallotStyle {
                expected: expected.clone(),
                found: header.district,
            }
            .into());
        }
        Ok((ballot, district))
    }

    /// The cheap checks of a submitted ballot (spec/record.md §R6.3), in
    /// the order: window, decoding, credential, header, replay and policy.
    pub fn admit(&self, ballot_bytes: Vec<u8>, now: Timestamp) -> Result<Admitted, ElectionError> {
        let (ballot, district) = self.identify(&ballot_bytes, now)?;
        let tracking = tracking_code(&ballot_bytes);
        self.state
            .ballot_box
            .check(ballot.credential.as_bytes(), &tracking, now)?;
        Ok(Admitted {
            bytes: ballot_bytes,
            ballot,
            tracking,
            district,
            manifest: self.manifest.clone(),
            keys: self.state.keys.clone(),
        })
    }

    /// Records a verified ballot at `now` (the server's clock) and returns
    /// its entry. The window, replay and re-vote checks are repeated here,
    /// because other ballots may have been recorded since `admit`.
    pub fn record(&mut self, verified: Verified, now: Timestamp) -> Result<Cast, ElectionError> {
        check_voting_window(self.manifest.schedule(), now)?;
        self.record_inner(verified, now, false)
    }

    /// The cheap checks of a `ballot` entry read back from the board on a
    /// restart: decoding, credential, header and style — but not the
    /// clock, and not replays or the re-vote policy, which
    /// [`record_replayed`](Self::record_replayed) checks in board order.
    pub fn readmit(&self, ballot_bytes: Vec<u8>) -> Result<Admitted, ElectionError> {
        let (ballot, district) = self.identify_on_board(&ballot_bytes)?;
        let tracking = tracking_code(&ballot_bytes);
        Ok(Admitted {
            bytes: ballot_bytes,
            ballot,
            tracking,
            district,
            manifest: self.manifest.clone(),
            keys: self.state.keys.clone(),
        })
    }

    /// Records a verified ballot read back from the board, in board order.
    /// What the board can show is checked (replays, audited ballots, a
    /// second ballot under `forbidden`, spec/record.md §R6.3); the voting
    /// window and the re-vote interval are not, because the clock that
    /// decided them is not on the board. `at` is the server's best
    /// knowledge of when the ballot was accepted: it becomes the
    /// credential's last ballot time for the re-vote interval from now on.
    pub fn record_replayed(
        &mut self,
        verified: Verified,
        at: Timestamp,
    ) -> Result<Cast, ElectionError> {
        self.record_inner(verified, at, true)
    }

    fn record_inner(
        &mut self,
        verified: Verified,
        now: Timestamp,
        replayed: bool,
    ) -> Result<Cast, ElectionError> {
        let a = verified.0;
        if !Arc::ptr_eq(&a.keys, &self.state.keys) {
            return Err(Refusal::WrongElection.into());
        }
        let cred = *a.ballot.credential.as_bytes();
        let entry = Entry::new(EntryKind::Ballot, &a.bytes)?;
        let rec = if replayed {
            self.state
                .ballot_box
                .record_replayed(&cred, &a.tracking, now)?
        } else {
            self.state.ballot_box.record(&cred, &a.tracking, now)?
        };
        let cts = ballot_ciphertexts(&a.ballot);
        if let Some((d, old)) = self.state.current.remove(&cred) {
            self.state.acc.remove(d, &expand(&self.manifest, d, &old));
        } else {
            self.state.voted[a.district] += 1;
        }
        self.state.acc.add(a.district, &cts);
        self.state
            .current
            .insert(cred, (a.district, compress(&cts)));
        self.state.ballots += 1;
        Ok(Cast {
            entry,
            tracking: a.tracking,
            superseded: rec.superseded,
        })
    }

    /// [`admit`](Self::admit), verify alone, [`record`](Self::record).
    pub fn cast<R: CryptoRng + ?Sized>(
        &mut self,
        ballot_bytes: Vec<u8>,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Cast, ElectionError> {
        let v = self.admit(ballot_bytes, now)?.verify(rng)?;
        self.record(v, now)
    }

    /// A Benaloh audit (spec/crypto.md §7.5, spec/record.md §R7): the
    /// ballot must be one the credential could cast (window, credential,
    /// header, proofs, signature) and its revealed values must re-encrypt
    /// to its ciphertexts. It is spoiled: never counted, never castable.
    pub fn audit<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &[u8],
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Cast, ElectionError> {
        check_voting_window(self.manifest.schedule(), now)?;
        self.audit_inner(payload, rng)
    }

    /// An `audited_ballot` entry read back from the board on a restart:
    /// every check of [`audit`](Self::audit) but the clock.
    pub fn replay_audit<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &[u8],
        rng: &mut R,
    ) -> Result<Cast, ElectionError> {
        self.audit_inner(payload, rng)
    }

    fn audit_inner<R: CryptoRng + ?Sized>(
        &mut self,
        payload: &[u8],
        rng: &mut R,
    ) -> Result<Cast, ElectionError> {
        let audited = AuditedBallot::decode(payload)?;
        let (ballot, district) = self.identify_on_board(&audited.ballot_bytes)?;
        let tracking = tracking_code(&audited.ballot_bytes);
        let shapes = &self.manifest.styles()[district].shapes;
        let key = &self.state.keys.key;
        verify_one(
            &ballot.statement(key.element(), &self.state.keys.fingerprint, shapes),
            Some(key.element()),
            rng,
        )?;
        ballot.check_audit(key, &audited.secrets)?;
        let entry = Entry::new(EntryKind::AuditedBallot, payload)?;
        self.state.ballot_box.record_audit(&tracking)?;
        self.state.audited += 1;
        Ok(Cast {
            entry,
            tracking,
            superseded: None,
        })
    }

    /// Turnout per district, in district order.
    pub fn turnout(&self) -> Vec<DistrictTurnout> {
        self.state
            .eligible
            .iter()
            .zip(&self.state.voted)
            .map(|(&eligible, &voted)| DistrictTurnout { eligible, voted })
            .collect()
    }

    /// Closes voting at `now` ≥ `voting_closes`: the `voting_closed` entry
    /// (spec/record.md §R8). No method accepts ballots after this.
    pub fn close(self, now: Timestamp) -> Step<Closed, Voting> {
        let at = self.manifest.schedule().voting_closes;
        if now < at {
            return Err(stuck(
                self,
                Misuse::TooEarly {
                    action: "closing the vote",
                    at,
                    now,
                },
            ));
        }
        let closed = VotingClosed {
            manifest_hash: *self.manifest.hash(),
            time: now,
            ballots: self.state.ballots,
            audited: self.state.audited,
        };
        let entry = match Entry::new(EntryKind::VotingClosed, &closed.encode()) {
            Ok(e) => e,
            Err(err) => return Err(stuck(self, err)),
        };
        let s = self.state;
        Ok((
            Election {
                manifest: self.manifest,
                state: Closed {
                    keys: s.keys,
                    acc: s.acc,
                    current: s.current,
                    reconciled: false,
                },
            },
            vec![entry],
        ))
    }
}

/// A credential's counted ballot: its district and compressed option ciphertexts.
type Counted = (usize, Box<[[u8; 64]]>);

fn compress(cts: &[Vec<Ciphertext>]) -> Box<[[u8; 64]]> {
    cts.iter()
        .flatten()
        .map(|c| {
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(c.alpha.as_bytes());
            b[32..].copy_from_slice(c.beta.as_bytes());
            b
        })
        .collect()
}

/// Decompresses stored ciphertexts into the district's contest shape. The
/// bytes came from decoded elements, so decoding cannot fail; a failure
/// would leave the element out, which the tests of the tally would catch.
fn expand(manifest: &Manifest, district: usize, flat: &[[u8; 64]]) -> Vec<Vec<Ciphertext>> {
    let mut it = flat.iter();
    manifest.styles()[district]
        .shapes
        .iter()
        .map(|s| {
            (&mut it)
                .take(usize::from(s.options))
                .filter_map(|b| {
                    let mut a = [0u8; 32];
                    let mut c = [0u8; 32];
                    a.copy_from_slice(&b[..32]);
                    c.copy_from_slice(&b[32..]);
                    Some(Ciphertext {
                        alpha: Element::decode(&a).ok()?,
                        beta: Element::decode(&c).ok()?,
                    })
                })
                .collect()
        })
        .collect()
}

// ---- Closed -------------------------------------------------------------------------------

/// Phase 4: voting is closed; reconciliation may annul e-votes.
#[derive(Debug)]
pub struct Closed {
    keys: Arc<ElectionKeys>,
    acc: TallyAccumulator,
    current: HashMap<CredentialBytes, Counted>,
    reconciled: bool,
}

impl Election<Closed> {
    /// Joint key, fingerprint and ceremony outcome.
    pub fn keys(&self) -> &ElectionKeys {
        &self.state.keys
    }

    /// Publishes the reconciliation decision once (spec/record.md §R9):
    /// the listed credentials' ballots no longer count. `PaperVote` is
    /// allowed only under `evote-annulled`, `PaperVoteStands` (listed,
    /// not annulled) only under `evote-stands`.
    pub fn reconcile(
        &mut self,
        mut annulled: Vec<(Element, AnnulReason)>,
    ) -> Result<Vec<Entry>, ElectionError> {
        if self.state.reconciled {
            return Err(Misuse::AlreadyReconciled.into());
        }
        let policy = self.manifest.paper_policy();
        annulled.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut seen = HashSet::new();
        for (c, why) in &annulled {
            let allowed = match why {
                AnnulReason::PaperVote => policy == PaperPolicy::EvoteAnnulled,
                AnnulReason::PaperVoteStands => policy == PaperPolicy::EvoteStands,
                _ => true,
            };
            if !allowed {
                return Err(Misuse::AgainstPolicy.into());
            }
            if !seen.insert(*c.as_bytes()) {
                return Err(Misuse::DuplicateAnnulment(c.to_hex()).into());
            }
            if !self.state.current.contains_key(c.as_bytes()) {
                return Err(Misuse::NothingToAnnul(c.to_hex()).into());
            }
        }
        let out = entries(
            EntryKind::Reconciliation,
            ReconciliationChunk::payloads(policy, &annulled)?,
        )?;
        for (c, why) in &annulled {
            // A double vote under `evote-stands` is listed, not annulled.
            if *why == AnnulReason::PaperVoteStands {
                continue;
            }
            if let Some((d, old)) = self.state.current.remove(c.as_bytes()) {
                self.state.acc.remove(d, &expand(&self.manifest, d, &old));
            }
        }
        self.state.reconciled = true;
        Ok(out)
    }

    /// Counted ballots per district (after any reconciliation).
    pub fn counted_per_district(&self) -> &[u64] {
        self.state.acc.ballots()
    }

    /// Publishes the encrypted tally (spec/record.md §R10).
    pub fn tally(self) -> Step<Tallied, Closed> {
        let records = self.state.acc.records(&self.manifest);
        let out = match TallyChunk::payloads(&records)
            .map_err(ElectionError::from)
            .and_then(|p| entries(EntryKind::AdminAction, p))
        {
            Ok(o) => o,
            Err(err) => return Err(stuck(self, err)),
        };
        Ok((
            Election {
                manifest: self.manifest,
                state: Tallied {
                    keys: self.state.keys,
                    records,
                    partials: BTreeMap::new(),
                },
            },
            out,
        ))
    }
}

// ---- Tallied ------------------------------------------------------------------------------

/// Phase 5: the encrypted tally is on the board; trustees decrypt it.
#[derive(Debug)]
pub struct Tallied {
    keys: Arc<ElectionKeys>,
    records: Vec<TallyRecord>,
    partials: BTreeMap<u16, Vec<PartialDecryption>>,
}

impl Election<Tallied> {
    /// Joint key, fingerprint and ceremony outcome.
    pub fn keys(&self) -> &ElectionKeys {
        &self.state.keys
    }

    /// The encrypted tally, in tally order: what trustees decrypt.
    pub fn records(&self) -> &[TallyRecord] {
        &self.state.records
    }

    /// Trustees whose partial decryptions were accepted.
    pub fn trustees(&self) -> Vec<u16> {
        self.state.partials.keys().copied().collect()
    }

    /// Accepts trustee `j`'s partial decryptions (tally order), verified
    /// against `K_j` (spec/crypto.md §9.3); returns the entries (§R11).
    pub fn accept_partials<R: CryptoRng + ?Sized>(
        &mut self,
        trustee: u16,
        partials: Vec<PartialDecryption>,
        rng: &mut R,
    ) -> Result<Vec<Entry>, ElectionError> {
        let vk = *self
            .state
            .keys
            .outcome
            .verification_key(trustee)
            .ok_or(Refusal::UnknownTrustee(trustee))?;
        if self.state.partials.contains_key(&trustee) {
            return Err(Refusal::DuplicateTrustee(trustee).into());
        }
        if let Some(p) = partials.iter().find(|p| p.trustee != trustee) {
            return Err(PeerError::BadTrusteeIndex(p.trustee).into());
        }
        verify_trustee_partials(
            &self.state.keys.fingerprint,
            &vk,
            &self.state.records,
            &partials,
            rng,
        )?;
        let out = entries(
            EntryKind::PartialDecryption,
            PartialChunk::payloads(trustee, &partials)?,
        )?;
        self.state.partials.insert(trustee, partials);
        Ok(out)
    }

    /// Accepts a trustee's `partial_decryption` payloads (all chunks, in order).
    pub fn accept_partial_payloads<R: CryptoRng + ?Sized>(
        &mut self,
        payloads: &[&[u8]],
        rng: &mut R,
    ) -> Result<Vec<Entry>, ElectionError> {
        let chunks = payloads
            .iter()
            .map(|p| PartialChunk::decode(p))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = chunks.first() else {
            return Err(crate::error::RecordError::Chunks("no chunk".into()).into());
        };
        let trustee = first.trustee;
        if chunks.iter().any(|c| c.trustee != trustee) {
            return Err(PeerError::BadTrusteeIndex(trustee).into());
        }
        check_chunk_sequence(&chunks.iter().map(|c| c.pos).collect::<Vec<_>>())?;
        let all = chunks.into_iter().flat_map(|c| c.partials).collect();
        self.accept_partials(trustee, all, rng)
    }

    /// Combines the accepted partial decryptions (at least t trustees),
    /// solves the counts and publishes the results (spec/record.md §R12).
    pub fn decrypt(self) -> Step<Decrypted, Tallied> {
        let t = self.manifest.trustees().t;
        if self.state.partials.len() < usize::from(t) {
            let have = self.state.partials.len();
            return Err(stuck(self, Misuse::NotEnoughTrustees { have, need: t }));
        }
        let per: Vec<&[PartialDecryption]> =
            self.state.partials.values().map(Vec::as_slice).collect();
        let computed =
            decrypt_tally(&self.manifest, t, &self.state.records, &per).and_then(|counts| {
                let res = results(&self.manifest, &self.state.records, &counts)?;
                let e = entries(EntryKind::Results, ResultsChunk::payloads(&res)?)?;
                Ok((res, e))
            });
        let (res, out) = match computed {
            Ok(x) => x,
            Err(err) => return Err(stuck(self, err)),
        };
        Ok((
            Election {
                manifest: self.manifest,
                state: Decrypted {
                    records: self.state.records,
                    results: res,
                },
            },
            out,
        ))
    }
}

// ---- Decrypted ------------------------------------------------------------------------------

/// Phase 6: results are published. Nothing more can happen.
#[derive(Debug)]
pub struct Decrypted {
    records: Vec<TallyRecord>,
    results: Vec<ResultRecord>,
}

impl Election<Decrypted> {
    /// The results, in the order of spec/record.md §R12.
    pub fn results(&self) -> &[ResultRecord] {
        &self.state.results
    }
    /// The encrypted tally they decrypt.
    pub fn records(&self) -> &[TallyRecord] {
        &self.state.records
    }
}
