//! The trustee's side of the ceremony, one type per protocol state
//! (spec §8.2–§8.6). Each step consumes the state it leaves, so a trustee
//! cannot deal twice, deal before seeing round 1, or use a share before the
//! complaints are settled.

use std::collections::BTreeMap;

use curve25519_dalek::scalar::Scalar;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::elgamal::{KeyPair, SecretScalar};
use crate::encoding::Element;
use crate::error::{Error, UsageError};
use crate::group::mul_g;
use crate::proof::dleq::{DleqProof, DleqStatement};
use crate::proof::schnorr::SchnorrProof;
use crate::threshold::KeyShare;
use crate::transcript::Fingerprint;

use super::messages::{Coefficient, Complaint, Round1Message, Round2Message, SealedShare};
use super::resolve::{
    CeremonyOutcome, Round1Outcome, check_round1, index_round2, resolve_complaints,
};
use super::{
    CeremonyParams, Polynomial, coefficient_context, complaint_context, feldman_eval,
    share_key_context,
};

/// What every state carries.
#[derive(Debug)]
struct Common {
    params: CeremonyParams,
    index: u16,
    manifest_hash: [u8; 32],
    fp: Fingerprint,
    share_key: KeyPair,
}

/// A trustee before the ceremony (spec §8.1).
#[derive(Debug)]
pub struct Trustee {
    common: Common,
}

impl Trustee {
    /// Trustee `index` (`1..=n`) of a ceremony bound to `manifest_hash`.
    /// `share_key` is the key pair other dealers seal shares to; use a fresh
    /// one per ceremony.
    pub fn new(
        params: CeremonyParams,
        index: u16,
        manifest_hash: &[u8; 32],
        share_key: KeyPair,
    ) -> Result<Self, UsageError> {
        params.validate()?;
        if !params.contains(index) {
            return Err(UsageError::NotAParticipant(index));
        }
        Ok(Trustee {
            common: Common {
                params,
                index,
                manifest_hash: *manifest_hash,
                fp: Fingerprint::ceremony(manifest_hash),
                share_key,
            },
        })
    }

    /// Round 1 (spec §8.2): draws the polynomial `f_i`, commits to its
    /// coefficients and proves knowledge of each and of the share key.
    /// Publish the message.
    pub fn start<R: CryptoRng + ?Sized>(self, rng: &mut R) -> (Round1, Round1Message) {
        let c = self.common;
        let poly = Polynomial::random(c.params.t, rng);
        let share_key = *c.share_key.public().element();
        let share_key_proof = SchnorrProof::prove(
            &c.fp,
            &share_key_context(&c.params, c.index),
            c.share_key.secret(),
            &share_key,
            rng,
        );
        let coefficients = (0u16..)
            .zip(&poly.coefficients)
            .map(|(k, a)| {
                let commitment = a.public();
                let ctx = coefficient_context(&c.params, c.index, k);
                Coefficient {
                    commitment,
                    proof: SchnorrProof::prove(&c.fp, &ctx, a, &commitment, rng),
                }
            })
            .collect();
        let msg = Round1Message {
            trustee: c.index,
            params: c.params,
            share_key,
            share_key_proof,
            coefficients,
        };
        (
            Round1 {
                common: c,
                poly,
                own: msg.clone(),
            },
            msg,
        )
    }
}

/// Committed; waiting for everyone's round 1 message.
#[derive(Debug)]
pub struct Round1 {
    common: Common,
    poly: Polynomial,
    own: Round1Message,
}

impl Round1 {
    /// Rebuilds the state after round 1 from what the trustee kept in its
    /// own (encrypted) storage: the share key pair, the coefficients
    /// `a_{i,0..t−1}` of its polynomial (see [`Round1::secret_parts`]) and
    /// the round 1 message it published.
    ///
    /// Fails unless the message is this trustee's (`index`, `params`), names
    /// the share key's public key and commits to exactly these coefficients
    /// (`C_{i,k} = a_{i,k}·G`); the proofs are checked by [`Round1::deal`].
    /// The coefficients are zeroized when the state is dropped or dealt.
    pub fn from_parts(
        params: CeremonyParams,
        index: u16,
        manifest_hash: &[u8; 32],
        share_key: KeyPair,
        coefficients: Vec<SecretScalar>,
        own: Round1Message,
    ) -> Result<Self, UsageError> {
        let Trustee { common } = Trustee::new(params, index, manifest_hash, share_key)?;
        let mismatch = |what: &str| {
            Err(UsageError::Parameters(format!(
                "stored round 1 state: {what} does not match the round 1 message"
            )))
        };
        if own.trustee != index || own.params != params {
            return mismatch("trustee index or parameters");
        }
        if own.share_key != *common.share_key.public().element() {
            return mismatch("share key");
        }
        if coefficients.len() != usize::from(params.t)
            || own.coefficients.len() != coefficients.len()
        {
            return mismatch("number of coefficients");
        }
        for (a, c) in coefficients.iter().zip(&own.coefficients) {
            if a.expose() == &Scalar::ZERO || a.public() != c.commitment {
                return mismatch("a coefficient");
            }
        }
        Ok(Round1 {
            common,
            poly: Polynomial { coefficients },
            own,
        })
    }

    /// The secrets to keep (encrypted) until [`Round1::deal`]: the share key
    /// pair and the polynomial's coefficients `a_{i,0..t−1}`. Rebuild with
    /// [`Round1::from_parts`].
    pub fn secret_parts(&self) -> (&KeyPair, &[SecretScalar]) {
        (&self.common.share_key, &self.poly.coefficients)
    }

    /// This trustee's round 1 message.
    pub fn message(&self) -> &Round1Message {
        &self.own
    }

    /// Round 2 (spec §8.3): given all published round 1 messages (this
    /// trustee's own included), determines the participants `P` exactly as
    /// [`check_round1`] does and seals `f_i(j)` to every other participant.
    /// Publish the message. The coefficients are erased when this returns.
    pub fn deal<R: CryptoRng + ?Sized>(
        self,
        round1: &[Round1Message],
        rng: &mut R,
    ) -> Result<(Round2, Round2Message), Error> {
        let c = self.common;
        let r1 = check_round1(c.params, &c.manifest_hash, round1, rng)?;
        if r1.accepted.get(&c.index) != Some(&self.own) {
            return Err(UsageError::NotAParticipant(c.index).into());
        }
        let mut shares = Vec::with_capacity(r1.accepted.len().saturating_sub(1));
        for (&j, m) in &r1.accepted {
            if j == c.index {
                continue;
            }
            let share = self.poly.eval(j);
            shares.push(SealedShare::seal(
                &c.fp,
                c.index,
                j,
                &m.share_key,
                &share,
                rng,
            )?);
        }
        let own_share = self.poly.eval(c.index);
        let msg = Round2Message {
            dealer: c.index,
            shares,
        };
        Ok((
            Round2 {
                common: c,
                r1,
                own_share,
            },
            msg,
        ))
    }
}

/// Dealt; waiting for everyone's round 2 message.
#[derive(Debug)]
pub struct Round2 {
    common: Common,
    r1: Round1Outcome,
    own_share: SecretScalar,
}

impl Round2 {
    /// Rebuilds the state after round 2 from what the trustee kept in its
    /// own (encrypted) storage: the share key pair, its own share
    /// `σ_{i,i} = f_i(i)` (see [`Round2::secret_parts`]) and every round 1
    /// message it dealt to (the same list as was passed to [`Round1::deal`]).
    ///
    /// Re-runs [`check_round1`] on `round1`; fails if it fails, if this
    /// trustee is not a participant, if its accepted message names another
    /// share key, or if `σ_{i,i}·G ≠ Σ_k i^k·C_{i,k}`.
    pub fn from_parts<R: CryptoRng + ?Sized>(
        params: CeremonyParams,
        index: u16,
        manifest_hash: &[u8; 32],
        share_key: KeyPair,
        own_share: SecretScalar,
        round1: &[Round1Message],
        rng: &mut R,
    ) -> Result<Self, Error> {
        let Trustee { common } = Trustee::new(params, index, manifest_hash, share_key)?;
        let r1 = check_round1(params, manifest_hash, round1, rng)?;
        let Some(own) = r1.accepted.get(&index) else {
            return Err(UsageError::NotAParticipant(index).into());
        };
        if own.share_key != *common.share_key.public().element() {
            return Err(UsageError::Parameters(
                "stored round 2 state: the share key is not the one of this trustee's round 1 message"
                    .into(),
            )
            .into());
        }
        let got = own_share.public();
        let want = Element::from_point(feldman_eval(&own.commitments(), index));
        if !bool::from(got.as_bytes().ct_eq(want.as_bytes())) {
            return Err(UsageError::Parameters(
                "stored round 2 state: the own share does not match this trustee's commitments"
                    .into(),
            )
            .into());
        }
        Ok(Round2 {
            common,
            r1,
            own_share,
        })
    }

    /// The secrets to keep (encrypted) until [`Round2::receive`] and
    /// [`Round3::finish`]: the share key pair and the own share
    /// `σ_{i,i} = f_i(i)`. Rebuild with [`Round2::from_parts`].
    pub fn secret_parts(&self) -> (&KeyPair, &SecretScalar) {
        (&self.common.share_key, &self.own_share)
    }

    /// The participants and faults of round 1.
    pub fn round1(&self) -> &Round1Outcome {
        &self.r1
    }

    /// Opens and checks the shares sealed to this trustee (spec §8.4):
    /// `σ = f_i(j)` must open and satisfy `σ·G = Σ_k j^k·C_{i,k}`. Returns
    /// a complaint (spec §8.5) for every dealer whose share fails; publish
    /// them. Dealers whose round 2 message is missing or malformed are
    /// disqualified publicly and need no complaint.
    pub fn receive<R: CryptoRng + ?Sized>(
        self,
        round2: &[Round2Message],
        rng: &mut R,
    ) -> (Round3, Vec<Complaint>) {
        let c = self.common;
        let j = c.index;
        let (valid, _) = index_round2(&self.r1, round2);
        let mut received = BTreeMap::new();
        let mut complaints = Vec::new();
        for (&i, m) in &valid {
            if i == j {
                continue;
            }
            let (Some(sealed), Some(dealer)) = (m.share_for(j), self.r1.accepted.get(&i)) else {
                continue;
            };
            let ok = match sealed.open(&c.fp, &c.share_key) {
                Ok(share) => {
                    // σ·G in constant time; compare with the public image.
                    let got = Element::from_point(mul_g(share.expose()));
                    let want = Element::from_point(feldman_eval(&dealer.commitments(), j));
                    if bool::from(got.as_bytes().ct_eq(want.as_bytes())) {
                        received.insert(i, share);
                        true
                    } else {
                        false
                    }
                }
                Err(_) => false,
            };
            if !ok {
                complaints.push(make_complaint(&c, sealed, rng));
            }
        }
        let round2 = valid.values().map(|m| (*m).clone()).collect();
        (
            Round3 {
                common: c,
                r1: self.r1,
                round2,
                own_share: self.own_share,
                received,
            },
            complaints,
        )
    }
}

/// `S = x_j·E` and a DLEQ proof that `log_G(X_j) = log_E(S)` (spec §8.5).
fn make_complaint<R: CryptoRng + ?Sized>(
    c: &Common,
    sealed: &SealedShare,
    rng: &mut R,
) -> Complaint {
    Complaint::new(&c.fp, sealed, &c.share_key, rng)
}

impl Complaint {
    /// Complains about `sealed` as its recipient, whose share key pair is
    /// `recipient` (spec §8.5). Reveals `S = x_j·E` and proves it correct.
    /// Whether the complaint holds up is for [`super::judge_complaint`] to say.
    pub fn new<R: CryptoRng + ?Sized>(
        fp: &Fingerprint,
        sealed: &SealedShare,
        recipient: &KeyPair,
        rng: &mut R,
    ) -> Complaint {
        let shared = Element::from_point(sealed.ephemeral.point() * recipient.secret().expose());
        let st = DleqStatement {
            base: sealed.ephemeral,
            public: *recipient.public().element(),
            image: shared,
        };
        let ctx = complaint_context(sealed.dealer, sealed.recipient);
        Complaint {
            dealer: sealed.dealer,
            complainer: sealed.recipient,
            shared_secret: shared,
            proof: DleqProof::prove(fp, &ctx, recipient.secret(), &st, rng),
        }
    }
}

/// Shares received; waiting for everyone's complaints.
#[derive(Debug)]
pub struct Round3 {
    common: Common,
    r1: Round1Outcome,
    round2: Vec<Round2Message>,
    own_share: SecretScalar,
    received: BTreeMap<u16, SecretScalar>,
}

impl Round3 {
    /// Settles the ceremony (spec §8.6) from all published complaints (this
    /// trustee's own included), exactly as [`resolve_complaints`] does, and
    /// computes this trustee's secret share `s_j = Σ_{i∈Q} f_i(j)`.
    ///
    /// Fails if fewer than `t` trustees are qualified, if this trustee is not
    /// qualified, or if a qualified dealer's share is missing here (this
    /// trustee's complaint against it was not passed in).
    pub fn finish<R: CryptoRng + ?Sized>(
        self,
        complaints: &[Complaint],
        rng: &mut R,
    ) -> Result<Qualified, Error> {
        let c = self.common;
        let outcome = resolve_complaints(&self.r1, &self.round2, complaints, rng)?;
        let Some(vk) = outcome.verification_key(c.index).copied() else {
            return Err(UsageError::NotAParticipant(c.index).into());
        };
        let mut s = Zeroizing::new(Scalar::ZERO);
        for &i in &outcome.qualified {
            let share = if i == c.index {
                &self.own_share
            } else {
                self.received.get(&i).ok_or_else(|| {
                    UsageError::Parameters(format!(
                        "no valid share from qualified dealer {i}: publish this trustee's complaint"
                    ))
                })?
            };
            *s += share.expose();
        }
        let secret = SecretScalar::new(*s);
        let key_share = KeyShare::new(c.index, secret, vk)?;
        Ok(Qualified { outcome, key_share })
    }
}

/// The ceremony is over: the public outcome and this trustee's key share.
#[derive(Debug)]
pub struct Qualified {
    outcome: CeremonyOutcome,
    key_share: KeyShare,
}

impl Qualified {
    /// The public outcome (joint key, verification keys, faults).
    pub fn outcome(&self) -> &CeremonyOutcome {
        &self.outcome
    }

    /// This trustee's key share.
    pub fn key_share(&self) -> &KeyShare {
        &self.key_share
    }

    /// Splits into the outcome and the key share.
    pub fn into_parts(self) -> (CeremonyOutcome, KeyShare) {
        (self.outcome, self.key_share)
    }
}
