//! The election commission and the trustees, over HTTP with the admin's
//! bearer token: manifest, key ceremony, credential registration, open,
//! close, tally, partial decryptions, results (spec/api.md §A3).

use std::sync::Arc;

use anyhow::{Context, ensure};
use serde::Deserialize;
use serde_json::{Value, json};
use urna_crypto::Fingerprint;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::CeremonyParams;
use urna_election::record::{PartialChunk, TallyChunk};
use urna_election::rules::tally_items;

use super::http_client::{Api, parse_ok};
use super::par::concurrent;
use super::{Shares, key_ceremony};

/// An admin answer (spec/api.md §A1.2).
#[derive(Debug, Deserialize)]
pub struct Admin {
    /// The phase after the action.
    pub phase: String,
    /// Board indices appended.
    pub entries: Vec<u64>,
    /// Tree size after.
    pub tree_size: u64,
}

/// `POST path` as the admin; must succeed.
pub async fn admin(api: &Api, path: &str, body: Option<&Value>) -> anyhow::Result<Admin> {
    let a: Admin = api.post_ok(path, true, body).await?;
    // Every appended entry must lie inside the tree the server reports.
    if let Some(last) = a.entries.last() {
        ensure!(
            *last < a.tree_size,
            "POST {path}: entry {last} is outside the reported tree of size {}",
            a.tree_size
        );
    }
    Ok(a)
}

/// Publishes the manifest (TOML body).
pub async fn publish_manifest(api: &Api, toml: &str) -> anyhow::Result<Admin> {
    let r = api
        .send(
            ureq::http::Method::POST,
            "/election/manifest",
            true,
            Some(("application/toml", toml.as_bytes().to_vec())),
        )
        .await?;
    parse_ok("POST", "/election/manifest", r)
}

/// Runs the key ceremony among `params.n` trustees (each its own state, as
/// on their own machines); every message is POSTed, then the commission
/// asks the server to check the ceremony and publish the joint key.
pub fn ceremony(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    params: CeremonyParams,
    manifest_hash: &[u8; 32],
) -> anyhow::Result<(Fingerprint, Shares)> {
    let mut rng = rand::rng();
    let (_, fingerprint, shares) = key_ceremony(
        params,
        manifest_hash,
        &mut |msg| {
            let body = json!({ "message": hex::encode(msg.encode()) });
            rt.block_on(admin(api, "/election/ceremony", Some(&body)))
                .map(|_| ())
        },
        &mut rng,
    )?;
    let done = rt.block_on(admin(api, "/election/ceremony/finish", None))?;
    ensure!(
        done.phase == "registration",
        "after the ceremony the election is in phase {}",
        done.phase
    );
    Ok((fingerprint, shares))
}

/// Makes `n` voters' credentials, as their devices would, and registers
/// the public parts, every voter in their district's first precinct.
pub fn register_new_voters(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    m: &urna_election::Manifest,
    n: usize,
    concurrency: usize,
    quiet: bool,
) -> anyhow::Result<Vec<CredentialKey>> {
    use rayon::prelude::*;
    let creds: Vec<CredentialKey> = (0..n)
        .into_par_iter()
        .map(|_| CredentialKey::generate(&mut rand::rng()))
        .collect();
    let places: Vec<(String, String)> = m
        .districts()
        .iter()
        .map(|d| {
            let p = d
                .precincts
                .first()
                .map_or("", |&p| m.precincts()[p].id.as_str());
            (d.id.clone(), p.to_owned())
        })
        .collect();
    let pb = crate::bench::progress(n as u64, "registering", quiet);
    rt.block_on(register(api, &creds, places, concurrency, pb.clone()))?;
    pb.finish_and_clear();
    Ok(creds)
}

/// Registers every voter's public credential in its district's first precinct.
pub async fn register(
    api: &Api,
    creds: &[CredentialKey],
    places: Vec<(String, String)>,
    concurrency: usize,
    pb: indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let publics: Arc<Vec<String>> = Arc::new(creds.iter().map(|c| c.public().to_hex()).collect());
    let places = Arc::new(places);
    let api = api.clone();
    concurrent(publics.len(), concurrency, move |v| {
        let (api, publics, places, pb) = (
            api.clone(),
            Arc::clone(&publics),
            Arc::clone(&places),
            pb.clone(),
        );
        async move {
            let (district, precinct) = &places[v % places.len()];
            let body =
                json!({ "district": district, "precinct": precinct, "credential": publics[v] });
            let r = api
                .post_json("/election/credentials", true, Some(&body))
                .await?;
            ensure!(
                r.status.as_u16() == 201,
                "registering voter {v}: {} {}",
                r.status,
                r.text()
            );
            pb.inc(1);
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// After the close: the commission publishes the encrypted tally, exactly
/// `t` trustees fetch it, decrypt their part with proofs and send it, and
/// the commission publishes the results.
pub fn tally_and_decrypt(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    fingerprint: &Fingerprint,
    shares: &Shares,
    t: u16,
) -> anyhow::Result<()> {
    rt.block_on(admin(api, "/election/tally", None))?;
    #[derive(Deserialize)]
    struct Tally {
        payloads: Vec<String>,
    }
    let tally: Tally = rt.block_on(api.get_ok("/election/tally"))?;
    let mut records = Vec::new();
    for p in &tally.payloads {
        let bytes = hex::decode(p).context("the tally payload is not hex")?;
        records.extend(TallyChunk::decode(&bytes)?.records);
    }
    let items = tally_items(&records);
    for (_, share) in shares.iter().take(usize::from(t)) {
        let partials = share.partial_decrypt_batch(fingerprint, &items, &mut rand::rng());
        let payloads = PartialChunk::payloads(share.index(), &partials)?;
        let body = json!({ "payloads": payloads.iter().map(hex::encode).collect::<Vec<_>>() });
        rt.block_on(admin(api, "/election/partials", Some(&body)))
            .with_context(|| format!("trustee {}'s partial decryptions", share.index()))?;
    }
    let done = rt.block_on(admin(api, "/election/results", None))?;
    ensure!(
        done.phase == "decrypted",
        "after the results the election is in phase {}",
        done.phase
    );
    Ok(())
}
