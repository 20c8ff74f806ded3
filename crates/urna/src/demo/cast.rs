//! Casting over HTTP: the devices POST their audits and ballots in
//! parallel, check each answer against what the server must say, and
//! verify every receipt; meanwhile an observer watches the live turnout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, anyhow, bail, ensure};
use serde::Deserialize;
use serde_json::json;
use urna_board::EntryKind;

use super::devices::{Device, Expect, Submission};
use super::http_client::{Api, Reply};
use super::par::concurrent;
use super::receipts::{Receipt, ReceiptChecker};

/// What casting produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Ballots accepted with a verified receipt.
    pub accepted: u64,
    /// Audited ballots spoiled with a verified receipt.
    pub audited: u64,
    /// Refusals, by code (each the expected one).
    pub refused: Vec<(String, u64)>,
    /// Some accepted receipts' tracking codes and payloads, to fetch again later.
    pub sample: Vec<(String, EntryKind, Vec<u8>)>,
}

/// Shared by the device tasks.
#[derive(Debug, Default)]
struct Tally {
    accepted: AtomicU64,
    audited: AtomicU64,
    refused: Mutex<Vec<(String, u64)>>,
    sample: Mutex<Vec<(String, EntryKind, Vec<u8>)>>,
}

impl Tally {
    fn refusal(&self, code: &str) {
        let mut r = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        match r.iter_mut().find(|(c, _)| c == code) {
            Some((_, n)) => *n += 1,
            None => r.push((code.to_owned(), 1)),
        }
    }

    fn keep(&self, tracking: &str, kind: EntryKind, payload: &[u8], i: usize) {
        // A deterministic sample of about 1 in 97 receipts, re-fetched after the results.
        if i.is_multiple_of(97) {
            self.sample
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((tracking.to_owned(), kind, payload.to_vec()));
        }
    }
}

/// The devices and what they need, shared by the device tasks.
#[derive(Debug)]
struct Ctx {
    api: Api,
    receipts: ReceiptChecker,
    devices: Vec<Device>,
    tally: Tally,
    pb: indicatif::ProgressBar,
}

impl Ctx {
    /// Judges one answer; an accepted ballot's receipt is verified.
    fn judge(
        &self,
        r: &Reply,
        kind: EntryKind,
        payload: &[u8],
        ballot: &[u8],
        expect: Expect,
        i: usize,
    ) -> anyhow::Result<()> {
        match expect {
            Expect::Accept(_) => {
                if !r.status.is_success() {
                    bail!(
                        "a valid {} was refused: {} {}",
                        kind.name(),
                        r.status,
                        r.text()
                    );
                }
                let receipt: Receipt = serde_json::from_slice(&r.body)
                    .context("the receipt is not the expected JSON")?;
                self.receipts.check(&receipt, kind, payload, ballot)?;
                self.tally.keep(&receipt.tracking, kind, payload, i);
            }
            Expect::Refuse(status, code) => {
                let got = r.error_code();
                if r.status != status || got.as_deref() != Some(code) {
                    bail!(
                        "expected {status} `{code}`, the server answered {} {}",
                        r.status,
                        r.text()
                    );
                }
                self.tally.refusal(code);
            }
        }
        self.pb.inc(1);
        Ok(())
    }
}

/// Submissions in all (audits and ballots), for the progress bar.
pub fn total(devices: &[Device]) -> u64 {
    devices
        .iter()
        .map(|d| (d.now.len() + d.later.len() + usize::from(d.audit.is_some())) as u64)
        .sum()
}

/// The devices, ready to cast.
#[derive(Debug)]
pub struct Casting {
    ctx: Arc<Ctx>,
}

impl Casting {
    /// Devices ready to cast; `pb` counts their submissions.
    pub fn new(
        api: Api,
        receipts: ReceiptChecker,
        devices: Vec<Device>,
        pb: indicatif::ProgressBar,
    ) -> Self {
        Casting {
            ctx: Arc::new(Ctx {
                api,
                receipts,
                devices,
                tally: Tally::default(),
                pb,
            }),
        }
    }

    /// The devices.
    pub fn devices(&self) -> &[Device] {
        &self.ctx.devices
    }

    /// Every device that audits sends its Benaloh challenge.
    pub async fn audits(&self, concurrency: usize) -> anyhow::Result<()> {
        let who: Arc<Vec<usize>> = Arc::new(
            (0..self.ctx.devices.len())
                .filter(|&v| self.ctx.devices[v].audit.is_some())
                .collect(),
        );
        let ctx = Arc::clone(&self.ctx);
        concurrent(who.len(), concurrency, move |i| {
            let (ctx, who) = (Arc::clone(&ctx), Arc::clone(&who));
            async move {
                let v = who[i];
                let Some((payload, ballot)) = &ctx.devices[v].audit else {
                    return Ok(());
                };
                let body = json!({ "audit": hex::encode(payload) });
                let r = ctx
                    .api
                    .post_json("/election/audits", false, Some(&body))
                    .await?;
                let kind = EntryKind::AuditedBallot;
                ctx.judge(&r, kind, payload, ballot, Expect::Accept(0), v)
                    .with_context(|| format!("voter {v}'s audit"))?;
                ctx.tally.audited.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        })
        .await?;
        Ok(())
    }

    /// Every device sends its submissions of one round in order (`later`
    /// picks the round), each after the previous one's answer.
    pub async fn round(&self, later: bool, concurrency: usize) -> anyhow::Result<()> {
        let ctx = Arc::clone(&self.ctx);
        concurrent(ctx.devices.len(), concurrency, move |v| {
            let ctx = Arc::clone(&ctx);
            async move {
                let d = &ctx.devices[v];
                let subs: &[Submission] = if later { &d.later } else { &d.now };
                for s in subs {
                    let body = json!({ "ballot": hex::encode(&s.bytes) });
                    let r = ctx
                        .api
                        .post_json("/election/ballots", false, Some(&body))
                        .await?;
                    ctx.judge(&r, EntryKind::Ballot, &s.bytes, &s.bytes, s.expect, v)
                        .with_context(|| format!("voter {v}'s ballot"))?;
                    if let Expect::Accept(_) = s.expect {
                        ctx.tally.accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            }
        })
        .await?;
        Ok(())
    }

    /// What happened.
    pub fn outcome(&self) -> Outcome {
        let tally = &self.ctx.tally;
        let mut refused = tally
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        refused.sort();
        let sample =
            std::mem::take(&mut *tally.sample.lock().unwrap_or_else(PoisonError::into_inner));
        Outcome {
            accepted: tally.accepted.load(Ordering::Relaxed),
            audited: tally.audited.load(Ordering::Relaxed),
            refused,
            sample,
        }
    }
}

/// `GET /election/turnout`, the parts the demo reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Turnout {
    /// Registered credentials.
    pub eligible: u64,
    /// Credentials with a ballot.
    pub voted: u64,
    /// Accepted ballots, re-votes included.
    pub ballots: u64,
    /// Audited (spoiled) ballots.
    pub audited: u64,
}

/// Fetches the turnout and checks that it carries counts only.
pub async fn turnout(api: &Api) -> anyhow::Result<Turnout> {
    let r = api.get("/election/turnout").await?;
    ensure!(
        r.status.is_success(),
        "GET /election/turnout: {} {}",
        r.status,
        r.text()
    );
    let text = r.text();
    for leak in ["\"yes\"", "\"no\"", "\"counts\"", "\"results\""] {
        ensure!(
            !text.contains(leak),
            "the live turnout leaks {leak}: {text}"
        );
    }
    serde_json::from_slice(&r.body).context("GET /election/turnout: not the expected JSON")
}

/// Watches the live turnout until `stop` fires, showing it on the progress
/// bar; returns how many times it was read. It must never go down.
pub async fn watch_turnout(
    api: Api,
    pb: indicatif::ProgressBar,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<u64> {
    let mut reads = 0u64;
    let mut last = 0u64;
    loop {
        let t = turnout(&api).await?;
        reads += 1;
        if t.voted < last {
            return Err(anyhow!(
                "the live turnout went down from {last} to {}",
                t.voted
            ));
        }
        last = t.voted;
        let pct = if t.eligible > 0 {
            100.0 * t.voted as f64 / t.eligible as f64
        } else {
            0.0
        };
        pb.set_message(format!("casting, turnout {pct:5.1}%"));
        tokio::select! {
            _ = &mut stop => return Ok(reads),
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}
