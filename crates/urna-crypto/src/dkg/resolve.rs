//! The public side of the ceremony (spec §8.2, §8.5–§8.7): deterministic
//! functions of the published messages that every trustee and every
//! verifier runs. None of them needs a secret.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::traits::Identity;
use rand_core::CryptoRng;

use crate::batch::{Accumulator, Verify, verify_batch, verify_one};
use crate::elgamal::PublicKey;
use crate::encoding::Element;
use crate::error::{Error, PeerError, ProofKind};
use crate::group::mul_g;
use crate::proof::dleq::DleqStatement;
use crate::transcript::Fingerprint;

use super::messages::{Complaint, Round1Message, Round2Message, SealedShare};
use super::{
    CeremonyParams, coefficient_context, complaint_context, feldman_eval, share_key_context,
};

/// What a trustee did wrong (spec §8.6). Every kind disqualifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// Published no round 1 message.
    MissingRound1,
    /// Its round 1 message has the wrong parameters or shape, or a proof fails.
    InvalidRound1(PeerError),
    /// Published two different messages in the same round (1 or 2).
    Equivocation {
        /// The round.
        round: u8,
    },
    /// Published no round 2 message.
    MissingRound2,
    /// Its round 2 message does not seal exactly one share to each other participant.
    InvalidRound2(PeerError),
    /// A complaint showed that the share it sealed to `complainer` is bad.
    BadShare {
        /// The recipient who complained.
        complainer: u16,
        /// What is wrong with the share ([`PeerError::UnreadableShare`] or [`PeerError::BadShare`]).
        evidence: PeerError,
    },
    /// It complained about `dealer` and the complaint does not hold up: the
    /// DLEQ proof is invalid, the indices are wrong, or the share is fine
    /// ([`PeerError::UnfoundedComplaint`]).
    FalseComplaint {
        /// The accused dealer.
        dealer: u16,
        /// Why the complaint was rejected.
        reason: PeerError,
    },
}

/// One trustee's misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The trustee at fault.
    pub trustee: u16,
    /// What it did.
    pub misbehaviour: Misbehaviour,
}

impl Fault {
    fn new(trustee: u16, misbehaviour: Misbehaviour) -> Self {
        Fault {
            trustee,
            misbehaviour,
        }
    }
}

/// The verdict on one complaint (spec §8.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplaintVerdict {
    /// The share is bad: the dealer is disqualified. Carries what is wrong.
    Upheld(PeerError),
    /// The complaint does not hold up: the complainer is disqualified. Carries why.
    Rejected(PeerError),
}

/// The result of round 1 (spec §8.2): the participants `P` whose messages
/// are valid, and who was left out.
#[derive(Debug, Clone)]
pub struct Round1Outcome {
    /// The ceremony parameters.
    pub params: CeremonyParams,
    /// The manifest hash the ceremony is bound to.
    pub manifest_hash: [u8; 32],
    /// `Fingerprint::ceremony(manifest_hash)`.
    pub fingerprint: Fingerprint,
    /// The valid round 1 messages, by trustee: the participants `P`.
    pub accepted: BTreeMap<u16, Round1Message>,
    /// Trustees left out in round 1, sorted by trustee.
    pub faults: Vec<Fault>,
}

/// Everything published in a key ceremony: the input of [`verify_ceremony`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CeremonyRecord {
    /// `n` and `t`.
    pub params: CeremonyParams,
    /// The hash of the election manifest (spec §3.5).
    #[serde(with = "hex32")]
    pub manifest_hash: [u8; 32],
    /// All round 1 messages.
    pub round1: Vec<Round1Message>,
    /// All round 2 messages.
    pub round2: Vec<Round2Message>,
    /// All complaints.
    pub complaints: Vec<Complaint>,
}

/// The public result of a completed ceremony (spec §8.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CeremonyOutcome {
    /// The ceremony parameters.
    pub params: CeremonyParams,
    /// The manifest hash the ceremony is bound to.
    pub manifest_hash: [u8; 32],
    /// The qualified trustees `Q`, increasing; `|Q| ≥ t`.
    pub qualified: Vec<u16>,
    /// Every misbehaviour found, sorted by trustee (stable within a trustee).
    pub faults: Vec<Fault>,
    /// `A_k = Σ_{i∈Q} C_{i,k}` for `k = 0..t−1`: commitments to the joint polynomial.
    pub joint_commitments: Vec<Element>,
    /// The joint key `K = A_0 = Σ_{i∈Q} C_{i,0}`.
    pub joint_key: Element,
    /// `K_j = Σ_k j^k·A_k = s_j·G` for every `j ∈ Q`.
    pub verification_keys: BTreeMap<u16, Element>,
}

impl CeremonyOutcome {
    /// The election fingerprint, binding the manifest and the joint key (spec §3.5).
    pub fn election_fingerprint(&self) -> Fingerprint {
        Fingerprint::election(&self.manifest_hash, &self.joint_key)
    }

    /// The joint key as an ElGamal encryption key.
    pub fn public_key(&self) -> Result<PublicKey, PeerError> {
        PublicKey::new(self.joint_key)
    }

    /// `K_j`, if `j` is qualified.
    pub fn verification_key(&self, j: u16) -> Option<&Element> {
        self.verification_keys.get(&j)
    }

    /// Whether trustee `j` is qualified.
    pub fn is_qualified(&self, j: u16) -> bool {
        self.verification_keys.contains_key(&j)
    }
}

/// Keeps one message per sender. Byte-identical repeats merge; different
/// messages from one sender are equivocation and drop the sender.
fn one_per_sender<'a, T: PartialEq>(
    items: impl IntoIterator<Item = (u16, &'a T)>,
) -> (BTreeMap<u16, &'a T>, BTreeSet<u16>) {
    let mut unique: BTreeMap<u16, &T> = BTreeMap::new();
    let mut equivocators = BTreeSet::new();
    for (sender, m) in items {
        if equivocators.contains(&sender) {
            continue;
        }
        match unique.get(&sender) {
            None => {
                unique.insert(sender, m);
            }
            Some(prev) if *prev == m => {}
            Some(_) => {
                unique.remove(&sender);
                equivocators.insert(sender);
            }
        }
    }
    (unique, equivocators)
}

/// A round 1 message with what it must be checked against.
struct Round1Check<'a> {
    msg: &'a Round1Message,
    params: &'a CeremonyParams,
    fp: &'a Fingerprint,
}

impl Verify for Round1Check<'_> {
    fn accumulate(&self, acc: &mut Accumulator) -> Result<(), PeerError> {
        let (m, p) = (self.msg, self.params);
        if m.params.n != p.n {
            return Err(PeerError::ShapeMismatch {
                what: "n",
                expected: p.n.into(),
                found: m.params.n.into(),
            });
        }
        if m.params.t != p.t {
            return Err(PeerError::ShapeMismatch {
                what: "t",
                expected: p.t.into(),
                found: m.params.t.into(),
            });
        }
        m.check_shape()?;
        // Every check that can fail outright is above: only equations follow.
        let ctx = share_key_context(p, m.trustee);
        m.share_key_proof
            .statement(self.fp, &ctx, &m.share_key)
            .accumulate(acc)?;
        for (k, c) in (0u16..).zip(&m.coefficients) {
            let ctx = coefficient_context(p, m.trustee, k);
            c.proof
                .statement(self.fp, &ctx, &c.commitment)
                .accumulate(acc)?;
        }
        Ok(())
    }
    fn failure(&self) -> PeerError {
        PeerError::InvalidProof(ProofKind::Schnorr)
    }
    fn terms_hint(&self) -> usize {
        2 * (self.msg.coefficients.len() + 1)
    }
}

/// Round 1, public (spec §8.2): checks every message (parameters, shape,
/// all `t + 1` Schnorr proofs, batch-verified) and returns the participants
/// `P`. Fails if fewer than `t` remain.
pub fn check_round1<R: CryptoRng + ?Sized>(
    params: CeremonyParams,
    manifest_hash: &[u8; 32],
    messages: &[Round1Message],
    rng: &mut R,
) -> Result<Round1Outcome, Error> {
    params.validate()?;
    let fp = Fingerprint::ceremony(manifest_hash);
    let (unique, equivocators) = one_per_sender(messages.iter().map(|m| (m.trustee, m)));
    let mut faults: Vec<Fault> = equivocators
        .iter()
        .map(|&i| Fault::new(i, Misbehaviour::Equivocation { round: 1 }))
        .collect();
    let candidates: Vec<(u16, &Round1Message)> = unique.into_iter().collect();
    let checks: Vec<Round1Check<'_>> = candidates
        .iter()
        .map(|(_, msg)| Round1Check {
            msg,
            params: &params,
            fp: &fp,
        })
        .collect();
    let mut bad = BTreeSet::new();
    if let Err(items) = verify_batch(&checks, None, rng) {
        for b in items {
            let i = candidates[b.index].0;
            bad.insert(i);
            faults.push(Fault::new(i, Misbehaviour::InvalidRound1(b.error)));
        }
    }
    let accepted: BTreeMap<u16, Round1Message> = candidates
        .iter()
        .filter(|(i, _)| !bad.contains(i))
        .map(|(i, m)| (*i, (*m).clone()))
        .collect();
    for i in 1..=params.n {
        if !accepted.contains_key(&i) && !bad.contains(&i) && !equivocators.contains(&i) {
            faults.push(Fault::new(i, Misbehaviour::MissingRound1));
        }
    }
    faults.sort_by_key(|f| f.trustee);
    if accepted.len() < usize::from(params.t) {
        return Err(PeerError::TooFewQualified {
            qualified: accepted.len(),
            threshold: params.t,
        }
        .into());
    }
    Ok(Round1Outcome {
        params,
        manifest_hash: *manifest_hash,
        fingerprint: fp,
        accepted,
        faults,
    })
}

/// Round 2, public structure (spec §8.3): one message per participant that
/// seals exactly one share to every other participant. Messages from
/// non-participants are ignored. Returns the well-formed messages by dealer
/// and the faults.
pub(crate) fn index_round2<'a>(
    r1: &Round1Outcome,
    messages: &'a [Round2Message],
) -> (BTreeMap<u16, &'a Round2Message>, Vec<Fault>) {
    let relevant = messages
        .iter()
        .filter(|m| r1.accepted.contains_key(&m.dealer))
        .map(|m| (m.dealer, m));
    let (unique, equivocators) = one_per_sender(relevant);
    let mut faults: Vec<Fault> = equivocators
        .iter()
        .map(|&i| Fault::new(i, Misbehaviour::Equivocation { round: 2 }))
        .collect();
    let mut valid = BTreeMap::new();
    for (dealer, m) in unique {
        match check_recipients(r1, m) {
            Ok(()) => {
                valid.insert(dealer, m);
            }
            Err(e) => faults.push(Fault::new(dealer, Misbehaviour::InvalidRound2(e))),
        }
    }
    for &i in r1.accepted.keys() {
        if !valid.contains_key(&i)
            && !equivocators.contains(&i)
            && !faults.iter().any(|f| f.trustee == i)
        {
            faults.push(Fault::new(i, Misbehaviour::MissingRound2));
        }
    }
    (valid, faults)
}

fn check_recipients(r1: &Round1Outcome, m: &Round2Message) -> Result<(), PeerError> {
    m.check_shape()?;
    let expected: Vec<u16> = r1
        .accepted
        .keys()
        .copied()
        .filter(|&j| j != m.dealer)
        .collect();
    let found: Vec<u16> = m.shares.iter().map(|s| s.recipient).collect();
    if expected == found {
        return Ok(());
    }
    match found.iter().find(|j| !expected.contains(j)) {
        Some(&j) => Err(PeerError::BadTrusteeIndex(j)),
        None => Err(PeerError::ShapeMismatch {
            what: "sealed shares",
            expected: expected.len() as u64,
            found: found.len() as u64,
        }),
    }
}

/// Judges one complaint from public data alone (spec §8.5):
///
/// 1. the indices agree: complaint, sealed share and round 1 messages name
///    the same dealer `i` and complainer `j`, `i ≠ j`;
/// 2. the DLEQ proof verifies: base `E`, public `X_j`, image `S`,
///    context `complaint_context(i, j)`, ceremony fingerprint;
/// 3. open the sealed share with `S`; if it does not open or is not a
///    canonical scalar, the complaint is **upheld**;
/// 4. if `σ·G ≠ Σ_k j^k·C_{i,k}` the complaint is **upheld**;
///    otherwise it is **rejected** as unfounded.
///
/// Failing 1 or 2 rejects the complaint.
pub fn judge_complaint<R: CryptoRng + ?Sized>(
    fp: &Fingerprint,
    dealer: &Round1Message,
    complainer: &Round1Message,
    sealed: &SealedShare,
    complaint: &Complaint,
    rng: &mut R,
) -> ComplaintVerdict {
    let (i, j) = (complaint.dealer, complaint.complainer);
    if let Err(e) = complaint.check_shape() {
        return ComplaintVerdict::Rejected(e);
    }
    for (named, want) in [
        (dealer.trustee, i),
        (sealed.dealer, i),
        (complainer.trustee, j),
        (sealed.recipient, j),
    ] {
        if named != want {
            return ComplaintVerdict::Rejected(PeerError::BadTrusteeIndex(named));
        }
    }
    let ctx = complaint_context(i, j);
    let st = DleqStatement {
        base: sealed.ephemeral,
        public: complainer.share_key,
        image: complaint.shared_secret,
    };
    if let Err(e) = verify_one(&complaint.proof.statement(fp, &ctx, &st), None, rng) {
        return ComplaintVerdict::Rejected(e);
    }
    match sealed.open_with_shared_secret(fp, &complainer.share_key, &complaint.shared_secret) {
        Err(e) => ComplaintVerdict::Upheld(e),
        Ok(share) => {
            // The share is now public: vartime arithmetic is fine.
            let got = Element::from_point(mul_g(share.expose()));
            let want = Element::from_point(feldman_eval(&dealer.commitments(), j));
            if got == want {
                ComplaintVerdict::Rejected(PeerError::UnfoundedComplaint {
                    dealer: i,
                    complainer: j,
                })
            } else {
                ComplaintVerdict::Upheld(PeerError::BadShare { dealer: i })
            }
        }
    }
}

/// Settles the ceremony (spec §8.5, §8.6): checks round 2's structure,
/// judges every complaint, disqualifies every trustee at fault, and computes
/// the joint key and the verification keys of the qualified set `Q`.
///
/// Complaints are judged in the order of their encodings (identical ones
/// once), so the result does not depend on the order they are passed in.
/// A complaint against a dealer already disqualified in round 2 is not
/// judged. Fails if fewer than `t` trustees are qualified.
pub fn resolve_complaints<R: CryptoRng + ?Sized>(
    r1: &Round1Outcome,
    round2: &[Round2Message],
    complaints: &[Complaint],
    rng: &mut R,
) -> Result<CeremonyOutcome, PeerError> {
    // Faults in the order found: round 1, round 2, complaints (spec §8.6).
    let (r2, r2_faults) = index_round2(r1, round2);
    let mut faults = r1.faults.clone();
    faults.extend(r2_faults);
    let mut sorted: Vec<(Vec<u8>, &Complaint)> =
        complaints.iter().map(|c| (c.encode(), c)).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    for (_, c) in sorted {
        let false_complaint = |reason| {
            Fault::new(
                c.complainer,
                Misbehaviour::FalseComplaint {
                    dealer: c.dealer,
                    reason,
                },
            )
        };
        if let Err(e) = c.check_shape() {
            faults.push(false_complaint(e));
            continue;
        }
        let (Some(dm), Some(cm)) = (r1.accepted.get(&c.dealer), r1.accepted.get(&c.complainer))
        else {
            let who = if r1.accepted.contains_key(&c.dealer) {
                c.complainer
            } else {
                c.dealer
            };
            faults.push(false_complaint(PeerError::BadTrusteeIndex(who)));
            continue;
        };
        // A dealer without a well-formed round 2 message is out already.
        let Some(sealed) = r2.get(&c.dealer).and_then(|m| m.share_for(c.complainer)) else {
            continue;
        };
        match judge_complaint(&r1.fingerprint, dm, cm, sealed, c, rng) {
            ComplaintVerdict::Upheld(evidence) => faults.push(Fault::new(
                c.dealer,
                Misbehaviour::BadShare {
                    complainer: c.complainer,
                    evidence,
                },
            )),
            ComplaintVerdict::Rejected(reason) => faults.push(false_complaint(reason)),
        }
    }
    faults.sort_by_key(|f| f.trustee);
    let disqualified: BTreeSet<u16> = faults.iter().map(|f| f.trustee).collect();
    let qualified: Vec<u16> = r1
        .accepted
        .keys()
        .copied()
        .filter(|i| !disqualified.contains(i))
        .collect();
    let t = r1.params.t;
    if qualified.len() < usize::from(t) {
        return Err(PeerError::TooFewQualified {
            qualified: qualified.len(),
            threshold: t,
        });
    }
    // A_k = Σ_{i∈Q} C_{i,k}
    let mut sums = vec![RistrettoPoint::identity(); usize::from(t)];
    for i in &qualified {
        if let Some(m) = r1.accepted.get(i) {
            for (a, c) in sums.iter_mut().zip(&m.coefficients) {
                *a += c.commitment.point();
            }
        }
    }
    let joint_commitments: Vec<Element> = sums.into_iter().map(Element::from_point).collect();
    let joint_key = joint_commitments
        .first()
        .copied()
        .ok_or(PeerError::IdentityElement)?;
    if joint_key.is_identity() {
        return Err(PeerError::IdentityElement);
    }
    // K_j = Σ_k j^k·A_k
    let verification_keys = qualified
        .iter()
        .map(|&j| (j, Element::from_point(feldman_eval(&joint_commitments, j))))
        .collect();
    Ok(CeremonyOutcome {
        params: r1.params,
        manifest_hash: r1.manifest_hash,
        qualified,
        faults,
        joint_commitments,
        joint_key,
        verification_keys,
    })
}

/// Verifies a whole published ceremony (spec §8.7): round 1, round 2 and
/// the complaints, exactly as the trustees ran them. Returns the outcome,
/// whose `faults` name every trustee that was disqualified and why, or
/// fails if the ceremony did not produce a key or (when `claimed_joint_key`
/// is given) produced a different one.
pub fn verify_ceremony<R: CryptoRng + ?Sized>(
    record: &CeremonyRecord,
    claimed_joint_key: Option<&Element>,
    rng: &mut R,
) -> Result<CeremonyOutcome, Error> {
    let r1 = check_round1(record.params, &record.manifest_hash, &record.round1, rng)?;
    let outcome = resolve_complaints(&r1, &record.round2, &record.complaints, rng)?;
    if let Some(k) = claimed_joint_key
        && *k != outcome.joint_key
    {
        return Err(PeerError::JointKeyMismatch.into());
    }
    Ok(outcome)
}

/// Serde helper: 32 bytes as lower-case hex.
mod hex32 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("upper-case hex is not canonical"));
        }
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}
