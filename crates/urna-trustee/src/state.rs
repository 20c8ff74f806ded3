//! The trustee's state, the plaintext inside the encrypted store
//! (spec/trustee.md §T3). Secrets are [`SecretScalar`]s (zeroized on drop);
//! the encoding is built in a [`Zeroizing`] buffer of the final size.

use urna_crypto::Element;
use urna_crypto::dkg::{CeremonyParams, Complaint, Round1Message, Round2Message};
use urna_crypto::elgamal::SecretScalar;
use urna_crypto::encoding::{Reader, decode_scalar};
use zeroize::Zeroizing;

use crate::error::{Result, TrusteeError};

/// Version of the plaintext state encoding.
pub const STATE_VERSION: u8 = 1;

/// Where the trustee is in the ceremony, with what it must keep.
#[derive(Debug)]
pub enum Step {
    /// After `init`: round 1 published (spec §8.2).
    Committed {
        /// The share-encryption secret `x_i`.
        share_key: SecretScalar,
        /// The polynomial `a_{i,0..t−1}`.
        coefficients: Vec<SecretScalar>,
        /// The round 1 message published.
        round1: Round1Message,
    },
    /// After `deal`: round 2 published (spec §8.3); the coefficients are erased.
    Dealt {
        /// `x_i`.
        share_key: SecretScalar,
        /// `σ_{i,i} = f_i(i)`.
        own_share: SecretScalar,
        /// The round 1 messages dealt to.
        round1: Vec<Round1Message>,
        /// The round 2 message published.
        round2: Round2Message,
    },
    /// After `receive`: shares checked, complaints published (spec §8.4–§8.5).
    Received {
        /// `x_i`.
        share_key: SecretScalar,
        /// `σ_{i,i}`.
        own_share: SecretScalar,
        /// The round 1 messages.
        round1: Vec<Round1Message>,
        /// The round 2 messages received.
        round2: Vec<Round2Message>,
        /// The complaints this trustee published (usually none).
        complaints: Vec<Complaint>,
    },
    /// After `finish`: the key share (spec §8.6); everything else is erased.
    Finished {
        /// `s_j`.
        key_share: SecretScalar,
        /// `K_j = s_j·G`.
        verification_key: Element,
        /// `K`.
        joint_key: Element,
        /// `Q`.
        qualified: Vec<u16>,
    },
}

impl Step {
    /// The phase name, as `show` prints it.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Committed { .. } => "committed",
            Step::Dealt { .. } => "dealt",
            Step::Received { .. } => "received",
            Step::Finished { .. } => "finished",
        }
    }

    fn tag(&self) -> u8 {
        match self {
            Step::Committed { .. } => 1,
            Step::Dealt { .. } => 2,
            Step::Received { .. } => 3,
            Step::Finished { .. } => 4,
        }
    }
}

/// Everything in a store.
#[derive(Debug)]
pub struct TrusteeState {
    /// n, t.
    pub params: CeremonyParams,
    /// This trustee's index `1..=n`.
    pub index: u16,
    /// The manifest hash M (spec/record.md §R2.2).
    pub manifest_hash: [u8; 32],
    /// The election id from the manifest (informative).
    pub election_id: String,
    /// The phase and its secrets.
    pub step: Step,
}

fn list_len<T>(items: &[T], enc: impl Fn(&T) -> usize) -> usize {
    4 + items.iter().map(|m| 4 + enc(m)).sum::<usize>()
}

fn put_list(out: &mut Vec<u8>, items: Vec<Vec<u8>>) -> Result<()> {
    put_u32(out, items.len())?;
    for m in items {
        put_u32(out, m.len())?;
        out.extend_from_slice(&m);
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let n = u32::try_from(n).map_err(|_| TrusteeError::BadState("list too long".into()))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn get_list<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a [u8]>> {
    let n = r.u32()? as usize;
    if n > r.remaining() / 4 {
        return Err(TrusteeError::BadState("list count exceeds the data".into()));
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.u32()? as usize;
        v.push(r.take(len)?);
    }
    Ok(v)
}

fn get_secret(r: &mut Reader<'_>) -> Result<SecretScalar> {
    let mut b = Zeroizing::new([0u8; 32]);
    b.copy_from_slice(r.take(32)?);
    Ok(SecretScalar::new(decode_scalar(&b)?))
}

impl TrusteeState {
    /// The plaintext encoding (spec/trustee.md §T3), in a zeroizing buffer
    /// allocated once at its final size.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>> {
        let id = self.election_id.as_bytes();
        let id_len = u8::try_from(id.len())
            .map_err(|_| TrusteeError::BadState("election id longer than 255 bytes".into()))?;
        // Public parts first (not secret, ordinary buffers), then one exact allocation.
        let public: Vec<Vec<u8>>;
        let lists: Vec<Vec<Vec<u8>>>;
        let size;
        match &self.step {
            Step::Committed {
                coefficients,
                round1,
                ..
            } => {
                public = vec![round1.encode()];
                lists = vec![];
                size = 32 + 2 + 32 * coefficients.len() + 4 + public[0].len();
            }
            Step::Dealt { round1, round2, .. } => {
                public = vec![round2.encode()];
                lists = vec![round1.iter().map(Round1Message::encode).collect()];
                size = 64 + list_len(&lists[0], Vec::len) + 4 + public[0].len();
            }
            Step::Received {
                round1,
                round2,
                complaints,
                ..
            } => {
                public = vec![];
                lists = vec![
                    round1.iter().map(Round1Message::encode).collect(),
                    round2.iter().map(Round2Message::encode).collect(),
                    complaints.iter().map(Complaint::encode).collect(),
                ];
                size = 64 + lists.iter().map(|l| list_len(l, Vec::len)).sum::<usize>();
            }
            Step::Finished { qualified, .. } => {
                public = vec![];
                lists = vec![];
                size = 96 + 2 + 2 * qualified.len();
            }
        }
        let mut out = Zeroizing::new(Vec::with_capacity(2 + 6 + 32 + 1 + id.len() + size));
        out.push(STATE_VERSION);
        out.push(self.step.tag());
        for v in [self.params.n, self.params.t, self.index] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&self.manifest_hash);
        out.push(id_len);
        out.extend_from_slice(id);
        let mut public = public.into_iter();
        let mut lists = lists.into_iter();
        let mut next_public = |out: &mut Vec<u8>| -> Result<()> {
            let m = public.next().unwrap_or_default();
            put_u32(out, m.len())?;
            out.extend_from_slice(&m);
            Ok(())
        };
        match &self.step {
            Step::Committed {
                share_key,
                coefficients,
                ..
            } => {
                out.extend_from_slice(share_key.expose().as_bytes());
                let t = u16::try_from(coefficients.len())
                    .map_err(|_| TrusteeError::BadState("too many coefficients".into()))?;
                out.extend_from_slice(&t.to_be_bytes());
                for a in coefficients {
                    out.extend_from_slice(a.expose().as_bytes());
                }
                next_public(&mut out)?;
            }
            Step::Dealt {
                share_key,
                own_share,
                ..
            } => {
                out.extend_from_slice(share_key.expose().as_bytes());
                out.extend_from_slice(own_share.expose().as_bytes());
                put_list(&mut out, lists.next().unwrap_or_default())?;
                next_public(&mut out)?;
            }
            Step::Received {
                share_key,
                own_share,
                ..
            } => {
                out.extend_from_slice(share_key.expose().as_bytes());
                out.extend_from_slice(own_share.expose().as_bytes());
                for l in lists.by_ref() {
                    put_list(&mut out, l)?;
                }
            }
            Step::Finished {
                key_share,
                verification_key,
                joint_key,
                qualified,
            } => {
                out.extend_from_slice(key_share.expose().as_bytes());
                out.extend_from_slice(verification_key.as_bytes());
                out.extend_from_slice(joint_key.as_bytes());
                let q = u16::try_from(qualified.len())
                    .map_err(|_| TrusteeError::BadState("too many trustees".into()))?;
                out.extend_from_slice(&q.to_be_bytes());
                for j in qualified {
                    out.extend_from_slice(&j.to_be_bytes());
                }
            }
        }
        Ok(out)
    }

    /// Strict decoding of [`TrusteeState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<TrusteeState> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != STATE_VERSION {
            return Err(TrusteeError::BadState(format!(
                "unknown state version {version}"
            )));
        }
        let tag = r.u8()?;
        let (n, t, index) = (r.u16()?, r.u16()?, r.u16()?);
        let params = CeremonyParams::new(n, t)?;
        if !params.contains(index) {
            return Err(TrusteeError::BadState(format!(
                "trustee index {index} outside 1..={n}"
            )));
        }
        let mut manifest_hash = [0u8; 32];
        manifest_hash.copy_from_slice(r.take(32)?);
        let id_len = usize::from(r.u8()?);
        let election_id = String::from_utf8(r.take(id_len)?.to_vec())
            .map_err(|_| TrusteeError::BadState("election id is not UTF-8".into()))?;
        let one = |r: &mut Reader<'_>| -> Result<Vec<u8>> {
            let len = r.u32()? as usize;
            Ok(r.take(len)?.to_vec())
        };
        let step = match tag {
            1 => {
                let share_key = get_secret(&mut r)?;
                let k = r.u16()?;
                let coefficients = (0..k)
                    .map(|_| get_secret(&mut r))
                    .collect::<Result<Vec<_>>>()?;
                let round1 = Round1Message::decode(&one(&mut r)?)?;
                Step::Committed {
                    share_key,
                    coefficients,
                    round1,
                }
            }
            2 => {
                let share_key = get_secret(&mut r)?;
                let own_share = get_secret(&mut r)?;
                let round1 = get_list(&mut r)?
                    .into_iter()
                    .map(Round1Message::decode)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let round2 = Round2Message::decode(&one(&mut r)?)?;
                Step::Dealt {
                    share_key,
                    own_share,
                    round1,
                    round2,
                }
            }
            3 => {
                let share_key = get_secret(&mut r)?;
                let own_share = get_secret(&mut r)?;
                let round1 = get_list(&mut r)?
                    .into_iter()
                    .map(Round1Message::decode)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let round2 = get_list(&mut r)?
                    .into_iter()
                    .map(Round2Message::decode)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let complaints = get_list(&mut r)?
                    .into_iter()
                    .map(Complaint::decode)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Step::Received {
                    share_key,
                    own_share,
                    round1,
                    round2,
                    complaints,
                }
            }
            4 => {
                let key_share = get_secret(&mut r)?;
                let verification_key = r.element()?;
                let joint_key = r.element()?;
                let q = r.u16()?;
                let qualified = (0..q)
                    .map(|_| r.u16())
                    .collect::<std::result::Result<_, _>>()?;
                Step::Finished {
                    key_share,
                    verification_key,
                    joint_key,
                    qualified,
                }
            }
            other => return Err(TrusteeError::BadState(format!("unknown phase tag {other}"))),
        };
        r.finish()?;
        Ok(TrusteeState {
            params,
            index,
            manifest_hash,
            election_id,
            step,
        })
    }
}
