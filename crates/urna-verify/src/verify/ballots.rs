//! Cast ballots (spec/record.md §R6): window, replays, header and
//! credential, batch verification on the thread pool, the re-vote policy
//! and the running sums.

use super::*;

/// Batches decoded and verified at once beyond the one being collected:
/// enough to keep every core busy while the sequential checks run,
/// few enough to bound memory (a batch is a few MiB).
pub(super) const MAX_INFLIGHT: usize = 2;

/// The credential and header checks of a ballot, done from its bytes.
#[derive(Debug)]
pub(super) enum Pre {
    /// Passed: the credential's district.
    Ok(usize),
    UnknownCredential(String),
    Header(String),
    /// No valid manifest: nothing to check against (reported elsewhere).
    NoManifest,
    /// Too short to hold a credential and header (decoding will fail).
    Undecodable,
}

/// A ballot waiting in a batch.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) index: u64,
    pub(super) offset: u64,
    /// Its payload in the batch buffer.
    pub(super) start: usize,
    pub(super) len: usize,
    pub(super) pre: Pre,
}

/// Ballots collected for one job: payloads back to back in one buffer.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) buf: Vec<u8>,
    pub(super) items: Vec<Item>,
}

/// What a job found for one ballot.
#[derive(Debug)]
pub(super) enum Outcome {
    Decode(String),
    /// Decoded, but the credential or header check failed: not verified.
    Skipped,
    NoContext,
    Proof(String),
    /// Valid: its option ciphertexts, flattened, at this range of
    /// [`Done::points`].
    Ok(std::ops::Range<usize>),
}

/// A finished job.
#[derive(Debug)]
pub(super) struct Done {
    pub(super) batch: Batch,
    pub(super) outcomes: Vec<Outcome>,
    pub(super) points: Vec<(RistrettoPoint, RistrettoPoint)>,
}

/// What ballot jobs share.
#[derive(Debug)]
pub(super) struct Ctx {
    pub(super) key: Element,
    pub(super) fp: Fingerprint,
    /// Ballot style shapes per district.
    pub(super) shapes: Vec<Vec<ContestShape>>,
}

/// Decodes (crypto.md §7.3) and batch-verifies (§7.4) a batch of ballots;
/// runs on the thread pool.
pub(super) fn run_job(ctx: Option<&Ctx>, batch: Batch) -> Done {
    let decoded: Vec<Result<Ballot, PeerError>> = batch
        .items
        .par_iter()
        .map(|it| Ballot::decode_deferred(&batch.buf[it.start..it.start + it.len]))
        .collect();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(decoded.len());
    let mut to_verify: Vec<(usize, &Ballot, usize)> = Vec::with_capacity(decoded.len());
    for (i, (item, d)) in batch.items.iter().zip(&decoded).enumerate() {
        match (d, &item.pre, ctx) {
            (Err(e), _, _) => outcomes.push(Outcome::Decode(e.to_string())),
            (Ok(_), Pre::Ok(_), None) => outcomes.push(Outcome::NoContext),
            (Ok(b), Pre::Ok(district), Some(_)) => {
                outcomes.push(Outcome::Skipped);
                to_verify.push((i, b, *district));
            }
            (Ok(_), _, _) => outcomes.push(Outcome::Skipped),
        }
    }
    let mut points = Vec::new();
    if let Some(ctx) = ctx {
        let empty: &[ContestShape] = &[];
        let checks: Vec<_> = to_verify
            .iter()
            .map(|&(i, b, district)| {
                let item = &batch.items[i];
                // The signature covers the payload but its last 64 bytes:
                // checked against the stored bytes, never a re-encoding.
                let signed = &batch.buf[item.start..item.start + item.len.saturating_sub(64)];
                let shapes = ctx.shapes.get(district).map_or(empty, Vec::as_slice);
                b.statement(&ctx.key, &ctx.fp, shapes)
                    .with_signed_bytes(signed)
            })
            .collect();
        let mut rng = rand::rng();
        let mut bad = match verify_batch(&checks, Some(&ctx.key), &mut rng) {
            Ok(()) => Vec::new(),
            Err(list) => list,
        }
        .into_iter()
        .peekable();
        drop(checks);
        for (n, &(i, b, _)) in to_verify.iter().enumerate() {
            if bad.peek().is_some_and(|x| x.index == n) {
                if let Some(x) = bad.next() {
                    outcomes[i] = Outcome::Proof(x.error.to_string());
                }
                continue;
            }
            let from = points.len();
            for c in &b.contests {
                for ct in &c.ciphertexts {
                    points.push((*ct.alpha.point(), *ct.beta.point()));
                }
                // An implied derived option is not decoded (§7.1): its
                // points follow from the sent ones.
                if c.ciphertexts.len() < usize::from(c.shape.options)
                    && let Some(d) = c.derived_points()
                {
                    points.push(d);
                }
            }
            outcomes[i] = Outcome::Ok(from..points.len());
        }
    }
    drop(to_verify);
    drop(decoded);
    Done {
        batch,
        outcomes,
        points,
    }
}

impl Verifier {
    /// The credential and header checks of record.md §R6.1, from the
    /// ballot's bytes (crypto.md §7.3: version, credential, `u32` header
    /// length, header), so that they run before the ballot is decoded.
    /// Reported only if the ballot then decodes ([`Verifier::apply_pre`]).
    pub(super) fn precheck(&self, ballot: &[u8]) -> Pre {
        let Some(cred) = ballot.get(1..33) else {
            return Pre::Undecodable;
        };
        let Some(len) = ballot
            .get(33..37)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return Pre::Undecodable;
        };
        let Some(header) = ballot.get(37..37 + len as usize) else {
            return Pre::Undecodable;
        };
        let Some(c) = <&[u8; 32]>::try_from(cred)
            .ok()
            .and_then(|k| self.creds.get(k).map(|(_, c)| c))
        else {
            return Pre::UnknownCredential(format!("unknown_credential {}", hex::encode(cred)));
        };
        let district = c.district as usize;
        let Some(m) = self.manifest.as_ref() else {
            return Pre::NoManifest;
        };
        if self.expected_headers.get(district).map(Vec::as_slice) == Some(header) {
            return Pre::Ok(district);
        }
        // Not the one canonical header: say what is wrong with it.
        let mut r = Reader::new(header);
        let parsed = (|| -> Result<(Vec<u8>, String), String> {
            read_version(&mut r)?;
            let eh = r.take(32).map_err(pe)?.to_vec();
            let d = read_id(&mut r)?;
            r.finish().map_err(pe)?;
            Ok((eh, d))
        })();
        match parsed {
            Err(e) => Pre::Header(e),
            Ok((eh, _)) if eh != self.election_hash => Pre::Header("wrong_election".into()),
            Ok((_, d)) => Pre::Header(format!(
                "wrong_ballot_style: header district {d}, credential of {}",
                m.districts[district].id
            )),
        }
    }

    /// Counts and reports the outcome of [`Verifier::precheck`] for a
    /// ballot that decoded; its district if it passed.
    pub(super) fn apply_pre(&mut self, index: u64, pre: &Pre) -> Option<usize> {
        self.checks.checked("ballot.credential", 1);
        if let Pre::UnknownCredential(msg) = pre {
            self.checks
                .fail("ballot.credential", Some(index), msg.clone());
            return None;
        }
        self.checks.checked("ballot.header", 1);
        match pre {
            Pre::Ok(d) => Some(*d),
            Pre::Header(msg) => {
                self.checks.fail("ballot.header", Some(index), msg.clone());
                None
            }
            // A decoded ballot always has a credential and a header.
            Pre::Undecodable => {
                self.checks
                    .fail("ballot.header", Some(index), "unparsable header");
                None
            }
            Pre::NoManifest | Pre::UnknownCredential(_) => None,
        }
    }

    /// spec/record.md §R6.3, §R7: a ballot or audited ballot lies between
    /// `voting_opened` and `voting_closed` (check `ballot.window`).
    pub(super) fn in_window(&mut self, index: u64, what: &str) -> bool {
        self.checks.checked("ballot.window", 1);
        if !self.opened || self.closed {
            let when = if self.closed {
                "after voting_closed"
            } else {
                "before voting_opened"
            };
            self.checks
                .fail("ballot.window", Some(index), format!("{what} {when}"));
            return false;
        }
        true
    }

    // §R6
    pub(super) fn ballot(&mut self, index: u64, offset: u64, payload: &[u8], code: &[u8; 32]) {
        self.summary.ballots += 1;
        if !self.in_window(index, "ballot") {
            return;
        }
        self.ballot_entries += 1;
        self.checks.checked("ballot.replay", 1);
        if self.audited_codes.contains(code) {
            self.checks.fail(
                "ballot.replay",
                Some(index),
                "audited_ballot: the ballot of an audit was cast",
            );
            return;
        }
        if self.replayed(offset, payload, code) {
            self.checks.fail(
                "ballot.replay",
                Some(index),
                format!("replayed_ballot {}", hex::encode(code)),
            );
            return;
        }
        let pre = self.precheck(payload);
        let start = self.batch.buf.len();
        self.batch.buf.extend_from_slice(payload);
        self.batch.items.push(Item {
            index,
            offset,
            start,
            len: payload.len(),
            pre,
        });
        if self.batch.items.len() >= self.batch_size {
            self.submit();
        }
    }

    /// Hands the collected ballots to the thread pool, and applies the
    /// outcomes of finished batches (in order) while too many are out.
    pub(super) fn submit(&mut self) {
        if self.batch.items.is_empty() {
            return;
        }
        if self.ctx.is_none()
            && let (Some(m), Some(key), Some(fp)) = (&self.manifest, self.joint_key, self.fp)
        {
            self.ctx = Some(Arc::new(Ctx {
                key,
                fp,
                shapes: m.districts.iter().map(|d| d.shapes.clone()).collect(),
            }));
        }
        let batch = std::mem::take(&mut self.batch);
        let ctx = self.ctx.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rayon::spawn(move || {
            let done = run_job(ctx.as_deref(), batch);
            let _ = tx.send(done);
        });
        self.inflight.push_back(rx);
        while self.inflight.len() > MAX_INFLIGHT {
            self.apply_front();
        }
        // Apply what is already done without waiting.
        while let Some(front) = self.inflight.front() {
            match front.try_recv() {
                Ok(done) => {
                    self.inflight.pop_front();
                    self.apply(done);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.apply_front(),
            }
        }
    }

    /// Waits for the oldest batch and applies it.
    pub(super) fn apply_front(&mut self) {
        let Some(rx) = self.inflight.pop_front() else {
            return;
        };
        match rx.recv() {
            Ok(done) => self.apply(done),
            // Only a panic in the job drops its sender; nothing to name.
            Err(_) => self.checks.fail(
                "ballot.proofs",
                None,
                "a batch of ballots could not be verified (internal fault)",
            ),
        }
    }

    /// Verifies every collected ballot and applies every outcome: before
    /// any entry whose checks depend on which ballots count.
    pub(super) fn flush_ballots(&mut self) {
        self.submit();
        while !self.inflight.is_empty() {
            self.apply_front();
        }
    }

    /// Applies one batch's outcomes in board order: reports, re-vote
    /// policy, sums.
    pub(super) fn apply(&mut self, done: Done) {
        let Done {
            batch,
            outcomes,
            points,
        } = done;
        let revote = self.manifest.as_ref().map(|m| m.revote);
        for (item, outcome) in batch.items.iter().zip(outcomes) {
            self.checks.checked("ballot.decode", 1);
            if let Outcome::Decode(e) = &outcome {
                self.checks
                    .fail("ballot.decode", Some(item.index), e.clone());
                continue;
            }
            let Some(district) = self.apply_pre(item.index, &item.pre) else {
                continue;
            };
            let range = match outcome {
                Outcome::Decode(_) | Outcome::Skipped => continue,
                Outcome::NoContext => {
                    self.checks.fail(
                        "ballot.proofs",
                        Some(item.index),
                        "no manifest or joint key",
                    );
                    continue;
                }
                Outcome::Proof(e) => {
                    self.checks.checked("ballot.proofs", 1);
                    self.checks.fail("ballot.proofs", Some(item.index), e);
                    continue;
                }
                Outcome::Ok(range) => range,
            };
            self.checks.checked("ballot.proofs", 1);
            self.checks.checked("revote", 1);
            let bytes = &batch.buf[item.start..item.start + item.len];
            let Some(key) = bytes.get(1..33).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
                continue;
            };
            let Some((slot, old)) = self.creds.get(&key) else {
                continue;
            };
            let mut cred = Cred {
                ballots: old.ballots.saturating_add(1),
                ..old
            };
            let previous = cred.counted;
            if cred.ballots > 1 && revote == Some(Revote::Forbidden) {
                self.creds.put(slot, &key, &old, &cred);
                self.checks.fail(
                    "revote",
                    Some(item.index),
                    format!(
                        "revote_forbidden: second ballot of credential {}",
                        hex::encode(key)
                    ),
                );
                continue;
            }
            cred.counted = Some(item.offset);
            self.creds.put(slot, &key, &old, &cred);
            if let Some(off) = previous {
                self.subtract_at(off, item.index);
            } else {
                self.counted[district] += 1;
            }
            if let Some(sums) = self.sums.get_mut(district) {
                for (s, p) in sums.iter_mut().zip(&points[range]) {
                    s.0 += p.0;
                    s.1 += p.1;
                }
            }
        }
    }

    /// Removes the counted ballot stored at `offset` from the sums.
    pub(super) fn subtract_at(&mut self, offset: u64, at: u64) {
        let bytes = self
            .random
            .as_mut()
            .ok_or_else(|| "entries.bin not open".to_owned())
            .and_then(|r| r.read_at(offset).map_err(|e| e.to_string()));
        let ballot = bytes.and_then(|b| {
            let e = Entry::from_bytes(b).map_err(|e| e.to_string())?;
            Ballot::decode(e.payload()).map_err(pe)
        });
        match ballot {
            Ok(b) => {
                if let Some((_, c)) = self.creds.get(b.credential.as_bytes()) {
                    let d = c.district as usize;
                    if let Some(sums) = self.sums.get_mut(d) {
                        let cts = b.contests.iter().flat_map(|c| &c.ciphertexts);
                        for (s, ct) in sums.iter_mut().zip(cts) {
                            s.0 -= ct.alpha.point();
                            s.1 -= ct.beta.point();
                        }
                    }
                }
            }
            Err(e) => self.checks.fail(
                "revote",
                Some(at),
                format!("re-reading the superseded ballot: {e}"),
            ),
        }
    }

    /// record.md §R6.3: whether a ballot in the window repeats the
    /// tracking code of an earlier one. A replay repeats the credential
    /// too, so codes are compared per credential: the first ballot's by
    /// re-reading it, later ones' kept (only credentials that re-vote).
    /// Remembers this ballot's code when it is not a replay.
    pub(super) fn replayed(&mut self, offset: u64, payload: &[u8], code: &[u8; 32]) -> bool {
        let Some(key) = payload
            .get(1..33)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
        else {
            return !self.other_codes.insert(*code);
        };
        let Some((slot, cred)) = self.creds.get(&key) else {
            return !self.other_codes.insert(*code);
        };
        let Some(first) = cred.first else {
            let new = Cred {
                first: Some(offset),
                ..cred
            };
            self.creds.put(slot, &key, &cred, &new);
            return false;
        };
        if !self.more_codes.contains_key(&key) {
            let first_code = self.code_at(first);
            self.more_codes.insert(key, vec![first_code]);
        }
        let codes = self.more_codes.entry(key).or_default();
        if codes.contains(code) {
            return true;
        }
        codes.push(*code);
        false
    }

    /// Whether `code` is that of a ballot in the window (for an audited
    /// ballot, record.md §R7), `payload` being that ballot's bytes.
    pub(super) fn was_cast(&mut self, payload: &[u8], code: &[u8; 32]) -> bool {
        let cred = payload
            .get(1..33)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .and_then(|k| self.creds.get(&k).map(|(_, c)| (k, c)));
        let Some((key, cred)) = cred else {
            return self.other_codes.contains(code);
        };
        if let Some(codes) = self.more_codes.get(&key) {
            return codes.contains(code);
        }
        cred.first.is_some_and(|first| self.code_at(first) == *code)
    }

    /// The tracking code (record.md §R6.2) of the ballot entry at `offset`;
    /// zeros if it cannot be re-read (then reported under `ballot.replay`).
    fn code_at(&mut self, offset: u64) -> [u8; 32] {
        let bytes = self
            .random
            .as_mut()
            .ok_or_else(|| "entries.bin not open".to_owned())
            .and_then(|r| r.read_at(offset).map_err(|e| e.to_string()));
        match bytes.and_then(|b| {
            Entry::parse_ref(&b)
                .map(|(_, p)| Sha256::digest(p).into())
                .map_err(|e| e.to_string())
        }) {
            Ok(code) => code,
            Err(e) => {
                let msg = format!("re-reading an earlier ballot: {e}");
                self.checks.fail("ballot.replay", None, msg);
                [0; 32]
            }
        }
    }
}
