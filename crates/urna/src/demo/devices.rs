//! The voters' devices: each fetches its district's ballot style over
//! HTTP, then encrypts, proves and signs its ballots. Some voters audit a
//! ballot first (Benaloh), some change their mind later, and a few send
//! broken, forged or replayed ballots, each with the refusal the server
//! must answer.

use std::sync::Arc;

use anyhow::ensure;
use rand::RngExt;
use rayon::prelude::*;
use ureq::http::StatusCode;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::PublicKey;
use urna_election::record::AuditedBallot;

use super::http_client::Api;
use super::par::concurrent;

/// What a device needs to make a ballot (`GET /election/style/{district}`).
#[derive(Debug, Clone)]
pub struct Style {
    header: Vec<u8>,
    shapes: Vec<ContestShape>,
    key: PublicKey,
    fingerprint: Fingerprint,
}

impl Style {
    /// Parses the server's answer.
    pub fn parse(body: &[u8]) -> anyhow::Result<Self> {
        let s = urna_server::election::BallotStyle::from_json(body)?;
        Ok(Style {
            header: s.header,
            shapes: s.shapes,
            key: s.key,
            fingerprint: s.fingerprint,
        })
    }

    /// An encrypted, proven, signed yes/no ballot (`yes` is 1 or 0), and
    /// the secrets that would open it.
    pub fn encrypt(
        &self,
        cred: &CredentialKey,
        yes: u64,
        rng: &mut rand::rngs::ThreadRng,
    ) -> anyhow::Result<(Vec<u8>, urna_crypto::ballot::BallotSecrets)> {
        let (b, secrets) = Ballot::encrypt(
            &self.key,
            &self.fingerprint,
            cred,
            &self.header,
            &self.shapes,
            &[vec![yes, 1 - yes]],
            rng,
        )?;
        Ok((b.encode()?, secrets))
    }

    /// Bytes from the end of a ballot to the scalar `z_0` of its last range
    /// proof: the last contest's sum proof, or in an exact contest (a yes/no
    /// one) its last option proof (spec/crypto.md §6.4, §7.3).
    fn last_proof_z0_from_end(&self) -> usize {
        let k = self.shapes.last().map_or(1, |s| {
            if s.is_exact() {
                s.option_max as usize + 1
            } else {
                (s.max - s.min + 1) as usize
            }
        });
        64 + 128 * k - 96
    }
}

/// What the server must answer to a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Accepted with a receipt; the ballot carries this choice (1 = yes).
    Accept(u64),
    /// Refused with this status and code.
    Refuse(StatusCode, &'static str),
}

/// One POST of a ballot.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The ballot bytes.
    pub bytes: Vec<u8>,
    /// The expected answer.
    pub expect: Expect,
}

/// One voter's device.
#[derive(Debug)]
pub struct Device {
    /// Index of the district (in manifest order).
    pub district: usize,
    /// A Benaloh audit sent before voting: the payload and the ballot bytes.
    pub audit: Option<(Vec<u8>, Vec<u8>)>,
    /// Sent in order at the opening hours.
    pub now: Vec<Submission>,
    /// Sent in order later, after the re-vote interval.
    pub later: Vec<Submission>,
    /// The choice the last accepted ballot carries.
    pub final_choice: u64,
}

/// Fetches every device's ballot style over HTTP, one GET per device as
/// a browser would, and checks that all devices of a district got the
/// same answer (the first device of each district fetches first; the
/// others compare as they go, so a million answers are not kept).
/// Returns one parsed style per district.
pub async fn fetch_styles(
    api: &Api,
    districts: &[String],
    voters: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Arc<Style>>> {
    async fn get(api: &Api, district: &str) -> anyhow::Result<Vec<u8>> {
        let path = format!("/election/style/{district}");
        let r = api.get(&path).await?;
        ensure!(
            r.status.is_success(),
            "GET {path}: {} {}",
            r.status,
            r.text()
        );
        Ok(r.body)
    }
    let ids: Arc<Vec<String>> = Arc::new(districts.to_vec());
    let n = ids.len();
    let firsts: Vec<Vec<u8>> = {
        let (api, ids) = (api.clone(), Arc::clone(&ids));
        concurrent(n, concurrency, move |d| {
            let (api, ids) = (api.clone(), Arc::clone(&ids));
            async move { get(&api, &ids[d]).await }
        })
        .await?
    };
    let reference = Arc::new(firsts.clone());
    let (api, ids2) = (api.clone(), Arc::clone(&ids));
    concurrent(voters.saturating_sub(n), concurrency, move |i| {
        let (api, ids, reference) = (api.clone(), Arc::clone(&ids2), Arc::clone(&reference));
        async move {
            let d = (n + i) % n;
            let body = get(&api, &ids[d]).await?;
            ensure!(
                body == reference[d],
                "two devices of district {} got different ballot styles",
                ids[d]
            );
            Ok(())
        }
    })
    .await?;
    firsts
        .iter()
        .map(|b| Ok(Arc::new(Style::parse(b)?)))
        .collect()
}

/// Every device prepares its submissions (in parallel, off the network).
pub fn prepare(
    creds: &[CredentialKey],
    styles: &[Arc<Style>],
    pb: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Device>> {
    let districts = styles.len();
    creds
        .par_iter()
        .enumerate()
        .map(|(v, cred)| {
            let d = prepare_one(v, cred, v % districts, &styles[v % districts]);
            pb.inc(1);
            d
        })
        .collect()
}

fn prepare_one(
    v: usize,
    cred: &CredentialKey,
    district: usize,
    style: &Style,
) -> anyhow::Result<Device> {
    use StatusCode as S;
    let mut rng = rand::rng();
    // About 1 in 50 challenges a ballot first (Benaloh), then casts a new one.
    let audit = if v % 50 == 7 {
        let (bytes, secrets) = style.encrypt(cred, rng.random_range(0..2), &mut rng)?;
        Some((AuditedBallot::encode(&bytes, &secrets)?, bytes))
    } else {
        None
    };
    let first = u64::from(rng.random_bool(0.6));
    let (ballot, _) = style.encrypt(cred, first, &mut rng)?;
    let mut now = vec![Submission {
        bytes: ballot.clone(),
        expect: Expect::Accept(first),
    }];
    let mut later = Vec::new();
    let mut final_choice = first;
    // About 1 in 200 changes their mind at once: too soon for the policy.
    if v % 200 == 13 {
        let (b, _) = style.encrypt(cred, 1 - first, &mut rng)?;
        now.push(Submission {
            bytes: b,
            expect: Expect::Refuse(S::TOO_MANY_REQUESTS, "revote_too_soon"),
        });
    }
    // About 1 in 200 sends a ballot with a broken proof, one signed by a
    // stranger's credential, and a replay of their first ballot.
    if v % 200 == 11 {
        let mut broken = ballot.clone();
        let at = broken.len() - style.last_proof_z0_from_end();
        // The lowest bit of a little-endian scalar: still canonical, wrong.
        broken[at] ^= 1;
        later.push(Submission {
            bytes: broken,
            expect: Expect::Refuse(S::BAD_REQUEST, "invalid_proof"),
        });
        let stranger = CredentialKey::generate(&mut rng);
        let (b, _) = style.encrypt(&stranger, 1, &mut rng)?;
        later.push(Submission {
            bytes: b,
            expect: Expect::Refuse(S::FORBIDDEN, "unknown_credential"),
        });
        later.push(Submission {
            bytes: ballot,
            expect: Expect::Refuse(S::CONFLICT, "replayed_ballot"),
        });
    }
    // About 1 in 500 tries to cast the ballot it audited: its nonces are public.
    if v % 500 == 7
        && let Some((_, audited)) = &audit
    {
        later.push(Submission {
            bytes: audited.clone(),
            expect: Expect::Refuse(S::CONFLICT, "audited_ballot"),
        });
    }
    // About 1 in 20 changes their mind later: the last ballot counts.
    if v % 20 == 3 {
        let (b, _) = style.encrypt(cred, 1 - first, &mut rng)?;
        later.push(Submission {
            bytes: b,
            expect: Expect::Accept(1 - first),
        });
        final_choice = 1 - first;
    }
    Ok(Device {
        district,
        audit,
        now,
        later,
        final_choice,
    })
}
