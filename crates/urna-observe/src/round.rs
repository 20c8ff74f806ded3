//! One look at the board (spec/board.md §B11.1), one function per rule:
//! the served checkpoint verifies; it is held to the last one accepted
//! (same size, same root; smaller, checked against what was seen; larger,
//! consistent); the new entries hash to its root; it is cosigned and the
//! cosignature submitted; the view is shared and compared with the peers'
//! (§B12).
//!
//! Every step answers `anyhow::Result<Result<T, Alarm>>`: `Err` for a
//! transient fault (retried next round), `Ok(Err)` for an alarm.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use urna_board::{
    EntryKind, ObserverSigningKey, SignedNote, cosign_checkpoint, verify_consistency,
};

use crate::alarm::Alarm;
use crate::gossip;
use crate::mirror::Served;
use crate::observer::{Identity, State};

/// A step's answer: a transient fault, an alarm, or its value.
type Look<T> = anyhow::Result<Result<T, Alarm>>;

/// What holding the served checkpoint to the last accepted one decided.
enum Held {
    /// It is larger and consistent: mirror its new entries.
    Grows,
    /// Nothing new to mirror (the same checkpoint, or a stale one):
    /// only compare with the peers.
    Unchanged,
}

/// One look at the board: `Err` for a transient fault, `Ok(Err)` for an
/// alarm.
pub(crate) fn round(st: &mut State, me: &Identity) -> Look<()> {
    let served = match fetch_checkpoint(st)? {
        Ok(s) => s,
        Err(alarm) => return Ok(Err(alarm)),
    };
    let prev = st.last.clone();
    if let Some(p) = &prev {
        match hold_to_last(st, p, &served)? {
            Ok(Held::Grows) => {}
            Ok(Held::Unchanged) => return Ok(gossip::peer_round(st, &me.name, &me.peers)),
            Err(alarm) => return Ok(Err(alarm)),
        }
    }
    if let Err(alarm) = mirror_new_entries(st, prev.as_ref(), &served)? {
        return Ok(Err(alarm));
    }
    let own = match cosign_and_submit(st, me.key.as_ref(), &served)? {
        Ok(own) => own,
        Err(alarm) => return Ok(Err(alarm)),
    };
    share(st, me, &served, own)?;
    Ok(gossip::peer_round(st, &me.name, &me.peers))
}

/// The latest checkpoint, verified with the pinned board key (§B7.5): a
/// served note that parses but does not verify is an alarm.
fn fetch_checkpoint(st: &State) -> Look<Served> {
    let text = st.remote.checkpoint_text()?;
    match st.remote.check(text.clone()) {
        Ok(s) => Ok(Ok(s)),
        Err(e) if SignedNote::parse(text.as_bytes()).is_ok() => Ok(Err(Alarm::new(format!(
            "the board served a checkpoint that does not verify: {e:#}"
        ))
        .with("served", text))),
        Err(e) => Err(e),
    }
}

/// Holds the served checkpoint to the last one accepted (§B11.1): the same
/// size with another root is an alarm (equivocation); a smaller size is
/// checked against what was seen (§B12.2) and otherwise ignored (a stale
/// cache); a larger one must come with a consistency proof from the last
/// one (§B4.5), else the board rewrote its history.
fn hold_to_last(st: &State, last: &Served, served: &Served) -> Look<Held> {
    let (cp, pc) = (&served.checkpoint, &last.checkpoint);
    if cp.size() == pc.size() {
        if cp.root() != pc.root() {
            return Ok(Err(Alarm::new(format!(
                "the board signed two different roots for size {} (equivocation)",
                cp.size()
            ))
            .with("seen before", last.text.clone())
            .with("served now", served.text.clone())));
        }
        return Ok(Ok(Held::Unchanged));
    }
    if cp.size() < pc.size() {
        // Older than what we hold: stale, or another history.
        if let Some(a) = gossip::compare(st, served, "served now")? {
            return Ok(Err(a));
        }
        eprintln!(
            "urna observe: warning: the board served size {} after {}; keeping {}",
            cp.size(),
            pc.size(),
            pc.size()
        );
        return Ok(Ok(Held::Unchanged));
    }
    let proof = st.remote.consistency(pc.size(), cp.size())?;
    if let Err(e) = verify_consistency(pc.size(), cp.size(), &proof, pc.root(), cp.root()) {
        return Ok(Err(Alarm::new(format!(
            "checkpoint {} is not consistent with checkpoint {} seen before ({e}): the board rewrote its history",
            cp.size(),
            pc.size()
        ))
        .with("seen before", last.text.clone())
        .with("served now", served.text.clone())));
    }
    Ok(Ok(Held::Grows))
}

/// Fetches the new entries (§B8.3), appends them to the mirror and
/// recomputes the root (§B11.1): the root of the mirrored entries must be
/// the signed root, which checks every entry's inclusion and that the
/// entries served are the ones the signature covers. Then the checkpoint
/// is accepted: kept in the mirror (written only after its entries,
/// §B11.2) and remembered.
fn mirror_new_entries(st: &mut State, prev: Option<&Served>, served: &Served) -> Look<()> {
    let cp = &served.checkpoint;
    let from = st.mirror.frontier.size();
    let (mut ballots, mut audited) = (0u64, 0u64);
    let mirror = &mut st.mirror;
    st.remote.entries(from, cp.size(), |e| {
        match e.get(1..3).map(|t| u16::from_be_bytes([t[0], t[1]])) {
            Some(t) if t == EntryKind::Ballot.tag() => ballots += 1,
            Some(t) if t == EntryKind::AuditedBallot.tag() => audited += 1,
            _ => {}
        }
        mirror.append(e)
    })?;
    st.mirror.flush()?;
    if st.mirror.frontier.root() != *cp.root() {
        let mut a = Alarm::new(format!(
            "the entries served for sizes {from}..{} do not hash to the signed root (root of the mirrored entries {})",
            cp.size(),
            hex::encode(st.mirror.frontier.root())
        ));
        if let Some(p) = prev {
            a = a.with("seen before", p.text.clone());
        }
        return Ok(Err(a.with("served now", served.text.clone())));
    }
    st.ballots += ballots;
    st.audited += audited;
    eprintln!(
        "urna observe: size {} (+{}): {} ballots (+{}), {} audited",
        cp.size(),
        cp.size() - from,
        st.ballots,
        ballots,
        st.audited
    );
    st.mirror.keep_checkpoint(cp.size(), &served.text, true)?;
    st.seen.insert(cp.size(), (*cp.root(), served.text.clone()));
    st.last = Some(served.clone());
    Ok(Ok(()))
}

/// Cosigns the accepted checkpoint (§B7.4) and submits the cosignature
/// (§B10.2). A board that answers 409 to a cosignature of the checkpoint
/// it just served contradicts itself: an alarm. Other refusals and
/// transport faults are warnings. Returns the note with this observer's
/// cosignature (the served note when it does not cosign).
fn cosign_and_submit(
    st: &State,
    key: Option<&ObserverSigningKey>,
    served: &Served,
) -> Look<SignedNote> {
    let mut own = served.note.clone();
    let Some(k) = key else {
        return Ok(Ok(own));
    };
    let sig = cosign_checkpoint(k, &served.checkpoint, now_secs())
        .map_err(|e| anyhow!("cosigning: {e}"))?;
    own.add_signature(sig)
        .map_err(|e| anyhow!("adding the cosignature: {e}"))?;
    match st.remote.submit_cosignature(&k.verifier_key(), &own) {
        Ok(r) if r.status == 200 => {}
        Ok(r) => {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            if r.status == 409 {
                // The board denies the checkpoint it just served us.
                return Ok(Err(Alarm::new(format!(
                    "the board refused a cosignature of its own checkpoint as not the one it holds: {body}"
                ))
                .with("served now", served.text.clone())));
            }
            eprintln!(
                "urna observe: warning: the board refused the cosignature: HTTP {}: {body}",
                r.status
            );
        }
        Err(e) => eprintln!("urna observe: warning: submitting the cosignature: {e:#}"),
    }
    Ok(Ok(own))
}

/// Shares the accepted checkpoint with the other observers (§B12.1): in
/// the `--peers` folder and at `--listen`.
fn share(st: &State, me: &Identity, served: &Served, own: SignedNote) -> anyhow::Result<()> {
    let cp = &served.checkpoint;
    let own = own.to_text();
    for p in &me.peers {
        p.publish(&me.name, &own)?;
    }
    let (ballots, audited) = (st.ballots, st.audited);
    gossip::update(&st.status, |s| {
        s.size = Some(cp.size());
        s.root = Some(hex::encode(cp.root()));
        s.ballots = ballots;
        s.audited = audited;
        s.note = Some(own);
    });
    Ok(())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
