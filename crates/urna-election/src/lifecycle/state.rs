//! The voting phase's state as bytes, for a server that snapshots it and
//! resumes from the snapshot plus the board's tail instead of replaying
//! every ballot (spec/api.md §A6.3). The engine owns the encoding because
//! it owns the state; the server frames it (format number, board size and
//! root, hash of the bytes) and decides when to trust it.
//!
//! Nothing here is read by a verifier: the board alone is the record. A
//! state that does not decode, or whose parts disagree, is refused and the
//! caller replays the board instead.
//!
//! Encoding (big-endian, every list sorted by its 32-byte key so that one
//! state has one encoding):
//!
//! ```text
//! u8 version (1) ‖ manifest hash [32] ‖ u32 districts n
//! n × (u64 eligible ‖ u64 voted ‖ u64 counted ballots)
//! sums: per district, per contest of its style, per option: Σα [32] ‖ Σβ [32]
//! u64 ballots ‖ u64 audited
//! u64 S ‖ S × (credential [32] ‖ u32 district ‖ u8 has_ballot
//!              [‖ i64 last time ‖ tracking [32] ‖ k × ciphertext [64]])
//!        (k = the options of the district's style, all contests)
//! u64 A ‖ A × audited tracking code [32]
//! u64 T ‖ T × tracking code [32] of every ballot and audited ballot
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use urna_crypto::encoding::Element;

use super::{BallotBox, Counted, Election, Registration, TallyAccumulator, Voting};
use crate::time::Timestamp;

const VERSION: u8 = 1;

/// Why a voting state could not be restored: the caller replays the board.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("voting state: {0}")]
pub struct StateError(pub String);

fn bad(m: impl Into<String>) -> StateError {
    StateError(m.into())
}

/// Options of a district's style, all contests.
fn options(manifest: &crate::Manifest, district: usize) -> usize {
    manifest.styles()[district]
        .shapes
        .iter()
        .map(|s| usize::from(s.options))
        .sum()
}

impl Election<Voting> {
    /// Whether the credential has a ballot on the board.
    pub fn has_voted(&self, credential: &[u8; 32]) -> bool {
        self.state.ballot_box.last.contains_key(credential)
    }

    /// The whole voting state as bytes (the module's encoding).
    pub fn export_state(&self) -> Vec<u8> {
        let s = &self.state;
        let n = self.manifest.districts().len();
        let mut out = Vec::with_capacity(64 + s.sealed.len() * 40 + s.current.len() * 200);
        out.push(VERSION);
        out.extend_from_slice(self.manifest.hash());
        out.extend_from_slice(&(n as u32).to_be_bytes());
        for d in 0..n {
            out.extend_from_slice(&s.eligible[d].to_be_bytes());
            out.extend_from_slice(&s.voted[d].to_be_bytes());
            out.extend_from_slice(&s.acc.ballots[d].to_be_bytes());
        }
        for (a, b) in s.acc.sums.iter().flatten().flatten() {
            out.extend_from_slice(Element::from_point(*a).as_bytes());
            out.extend_from_slice(Element::from_point(*b).as_bytes());
        }
        out.extend_from_slice(&s.ballots.to_be_bytes());
        out.extend_from_slice(&s.audited.to_be_bytes());
        let mut sealed: Vec<(&[u8; 32], &usize)> = s.sealed.iter().collect();
        sealed.sort_unstable_by_key(|(c, _)| **c);
        out.extend_from_slice(&(sealed.len() as u64).to_be_bytes());
        for (c, d) in sealed {
            out.extend_from_slice(c);
            out.extend_from_slice(&(*d as u32).to_be_bytes());
            match (s.ballot_box.last.get(c), s.current.get(c)) {
                (Some((at, tracking)), Some((_, cts))) => {
                    out.push(1);
                    out.extend_from_slice(&at.unix().to_be_bytes());
                    out.extend_from_slice(tracking);
                    for ct in cts.iter() {
                        out.extend_from_slice(ct);
                    }
                }
                _ => out.push(0),
            }
        }
        for set in [&s.ballot_box.audited, &s.ballot_box.seen] {
            let mut v: Vec<&[u8; 32]> = set.iter().collect();
            v.sort_unstable();
            out.extend_from_slice(&(v.len() as u64).to_be_bytes());
            for t in v {
                out.extend_from_slice(t);
            }
        }
        out
    }
}

/// A strict reader of the encoding.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        if self.bytes.len() < n {
            return Err(bad("truncated"));
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, StateError> {
        Ok(self.arr::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, StateError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, StateError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    /// A count of items of `size` bytes each, bounded by what is left.
    fn count(&mut self, size: usize) -> Result<usize, StateError> {
        let n = self.u64()?;
        if n > (self.bytes.len() / size.max(1)) as u64 {
            return Err(bad("a count larger than the bytes left"));
        }
        Ok(n as usize)
    }
    fn point(&mut self) -> Result<curve25519_dalek::ristretto::RistrettoPoint, StateError> {
        let b = self.arr::<32>()?;
        Ok(*Element::decode(&b)
            .map_err(|e| bad(format!("a sum: {e}")))?
            .point())
    }
}

impl Election<Registration> {
    /// The voting phase this election reached, as
    /// [`Election::<Voting>::export_state`] wrote it: the keys and the
    /// manifest are this election's (replayed from the board), the rest
    /// comes from `state`. Every count is checked against the lists it
    /// counts; the ciphertexts are taken as written (they were decoded
    /// from verified ballots before they were exported).
    pub fn resume_voting(self, state: &[u8]) -> Result<Election<Voting>, StateError> {
        let m = &self.manifest;
        let mut r = Reader { bytes: state };
        if r.u8()? != VERSION {
            return Err(bad("unknown version"));
        }
        if &r.arr::<32>()? != m.hash() {
            return Err(bad("made for another manifest"));
        }
        let n = r.u32()? as usize;
        if n != m.districts().len() {
            return Err(bad("district count differs from the manifest"));
        }
        let (mut eligible, mut voted, mut counted) = (vec![0; n], vec![0; n], vec![0; n]);
        for d in 0..n {
            eligible[d] = r.u64()?;
            voted[d] = r.u64()?;
            counted[d] = r.u64()?;
        }
        let mut acc = TallyAccumulator::new(m);
        for pair in acc.sums.iter_mut().flatten().flatten() {
            *pair = (r.point()?, r.point()?);
        }
        acc.ballots = counted;
        let ballots = r.u64()?;
        let audited_n = r.u64()?;
        let sealed_n = r.count(37)?;
        let mut sealed = HashMap::with_capacity(sealed_n);
        let mut ballot_box = BallotBox::new(m.revote());
        let mut current: HashMap<[u8; 32], Counted> = HashMap::new();
        let (mut seen_eligible, mut seen_voted) = (vec![0u64; n], vec![0u64; n]);
        for _ in 0..sealed_n {
            let c = r.arr::<32>()?;
            let d = r.u32()? as usize;
            if d >= n {
                return Err(bad("a district index outside the manifest"));
            }
            if sealed.insert(c, d).is_some() {
                return Err(bad("a credential sealed twice"));
            }
            seen_eligible[d] += 1;
            match r.u8()? {
                0 => {}
                1 => {
                    let at = Timestamp::from_unix(i64::from_be_bytes(r.arr()?));
                    let tracking = r.arr::<32>()?;
                    let k = options(m, d);
                    let mut cts = Vec::with_capacity(k);
                    for _ in 0..k {
                        cts.push(r.arr::<64>()?);
                    }
                    ballot_box.last.insert(c, (at, tracking));
                    current.insert(c, (d, cts.into_boxed_slice()));
                    seen_voted[d] += 1;
                }
                _ => return Err(bad("a ballot flag other than 0 or 1")),
            }
        }
        if seen_eligible != eligible || seen_voted != voted {
            return Err(bad("the turnout counts disagree with the credentials"));
        }
        let mut sets: [HashSet<[u8; 32]>; 2] = [HashSet::new(), HashSet::new()];
        for set in &mut sets {
            let k = r.count(32)?;
            set.reserve(k);
            for _ in 0..k {
                if !set.insert(r.arr::<32>()?) {
                    return Err(bad("a tracking code listed twice"));
                }
            }
        }
        if !r.bytes.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let [audited, seen] = sets;
        if audited.len() as u64 != audited_n
            || !audited.is_subset(&seen)
            || ballot_box.last.values().any(|(_, t)| !seen.contains(t))
            || (seen.len() - audited.len()) as u64 != ballots
        {
            return Err(bad("the ballot counts disagree with the tracking codes"));
        }
        ballot_box.seen = seen;
        ballot_box.audited = audited;
        Ok(Election {
            state: Voting {
                keys: self.state.keys,
                sealed: Arc::new(sealed),
                ballot_box,
                acc,
                current,
                eligible,
                voted,
                ballots,
                audited: audited_n,
            },
            manifest: self.manifest,
        })
    }
}
