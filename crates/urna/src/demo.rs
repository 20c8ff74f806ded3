//! `urna demo`: one whole referendum, from the key ceremony to the checked
//! result, on the embedded default (SQLite in a temporary folder).
//!
//! The election engine (`urna-election`) decides, the durable board
//! (`urna-store`) records; the demo plays everyone else: trustees running
//! the DKG, voters' devices encrypting and signing in parallel (some re-vote,
//! some audit a ballot first, some send broken or forged ballots that must be
//! refused), the commission closing, and t trustees decrypting the tally.
//! At the end the board is exported as an election record and the
//! independent verifier (`urna-verify`, which shares no code with the
//! engine) re-checks everything. Going through the HTTP server instead of
//! calling the engine in-process is the next step of issue 4.

use std::time::Instant;

use anyhow::{Context, anyhow, bail, ensure};
use rand::RngExt;
use rayon::prelude::*;
use urna_board::{BoardSigningKey, Entry, verify_checkpoint, verify_inclusion};
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, BallotSecrets};
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Qualified, Trustee};
use urna_crypto::elgamal::{KeyPair, PublicKey};
use urna_crypto::threshold::KeyShare;
use urna_election::record::{AuditedBallot, CeremonyMessage, ResultScope};
use urna_election::rules::tally_items;
use urna_election::{Election, Manifest, Stuck, Timestamp, ballot_header, verify_admitted};
use urna_store::BoardStore;

use crate::bench::progress;

/// Options of `urna demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOpts {
    /// Number of simulated voters.
    #[arg(long, default_value_t = 10_000)]
    pub voters: usize,
    /// Number of regions (each with two districts).
    #[arg(long, default_value_t = 2)]
    pub regions: u16,
    /// Trustees in the key ceremony.
    #[arg(long, default_value_t = 5)]
    pub trustees: u16,
    /// Trustees needed to decrypt (exactly this many decrypt).
    #[arg(long, default_value_t = 3)]
    pub threshold: u16,
    /// Keep the election's folder (SQLite board) here instead of a temporary one.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
}

const MIN_REVOTE_INTERVAL: u64 = 60;

/// The demo's manifest: a 2020-style yes/no question, `regions` regions of
/// two districts each, re-voting allowed (last ballot counts, as in 2021).
fn manifest_text(opts: &DemoOpts, id: &str) -> String {
    let mut m = format!(
        "id = \"{id}\"\nkind = \"referendum\"\ntitle = {{ en = \"Demo referendum on the constitutional amendments\" }}\n\n\
         [schedule]\ntime_zone = \"Europe/Moscow\"\napplications_open = 2026-06-05T00:00:00+03:00\n\
         applications_close = 2026-06-21T14:00:00+03:00\nvoting_opens = 2026-06-25T08:00:00+03:00\n\
         voting_closes = 2026-06-30T20:00:00+03:00\n\n[revote]\npolicy = \"last-counts\"\nmin_interval_seconds = {MIN_REVOTE_INTERVAL}\n\n\
         [reconciliation]\npaper_after_evote = \"evote-stands\"\n\n[trustees]\nn = {}\nt = {}\n",
        opts.trustees, opts.threshold
    );
    for r in 1..=opts.regions {
        m.push_str(&format!(
            "\n[[regions]]\nid = \"r{r}\"\nname = \"Region {r}\"\n"
        ));
        for d in 1..=2 {
            m.push_str(&format!(
                "\n[[regions.districts]]\nid = \"r{r}-d{d}\"\nname = \"Region {r}, district {d}\"\nprecincts = [{{ id = \"p{r}-{d}-1\", name = \"Precinct {r}-{d}-1\" }}]\n"
            ));
        }
    }
    m.push_str(
        "\n[[contests]]\nid = \"amendments\"\nkind = \"question\"\ntitle = \"Do you approve the amendments to the Constitution?\"\nmin = 1\nmax = 1\noptions = [\n  { id = \"yes\", name = \"Yes\" },\n  { id = \"no\", name = \"No\" },\n]\n",
    );
    m
}

fn stuck<S>(what: &str) -> impl FnOnce(Box<Stuck<S>>) -> anyhow::Error + '_ {
    move |s| anyhow!("{what}: {}", s.error)
}

/// A submission as a device sends it.
struct Submission {
    /// 1 for "Yes", as the device encrypted it (the server never sees it).
    choice: u64,
    bytes: Vec<u8>,
    /// Deliberately broken or forged: the server must refuse it.
    expect_refusal: bool,
}

/// One voter's device: its submissions, an audited ballot if any, and the
/// choice its last valid ballot carries (known to the simulation only).
struct Device {
    district: usize,
    subs: Vec<Submission>,
    audit: Option<Vec<u8>>,
    final_choice: u64,
}

struct Timer {
    phases: Vec<(&'static str, f64)>,
    start: Instant,
}

impl Timer {
    fn lap(&mut self, name: &'static str) {
        self.phases.push((name, self.start.elapsed().as_secs_f64()));
        self.start = Instant::now();
    }
}

/// Runs the demo; any failed check is an error (non-zero exit).
pub fn run(opts: &DemoOpts) -> anyhow::Result<()> {
    ensure!(opts.voters >= 1, "--voters must be at least 1");
    ensure!((1..=50).contains(&opts.regions), "--regions must be 1..=50");
    let params =
        CeremonyParams::new(opts.trustees, opts.threshold).context("--trustees and --threshold")?;
    let mut rng = rand::rng();
    let mut timer = Timer {
        phases: Vec::new(),
        start: Instant::now(),
    };
    let id = format!("demo-{:08x}", rng.random::<u32>());
    let origin = format!("urna.example/{id}");
    let tmp = tempfile::tempdir()?;
    let dir = opts
        .data
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let board_key = BoardSigningKey::generate(&origin, &mut rng)?;
    let board_verifier = board_key.verifier_key();
    let store = BoardStore::open_sqlite(dir.join("board.db"), board_key)
        .with_context(|| format!("opening the board in {}", dir.display()))?;
    let append = |entries: Vec<Entry>| {
        store
            .append_ordered(entries)
            .context("appending to the board")
    };

    println!(
        "urna demo: referendum {origin}, board {}",
        dir.join("board.db").display()
    );
    println!(
        "  {} voters in {} regions, {} trustees (any {} decrypt), re-vote: last ballot counts",
        opts.voters, opts.regions, opts.trustees, opts.threshold
    );

    // Setup: the manifest goes on the board.
    let text = manifest_text(opts, &id);
    let election = Election::new(text.as_bytes()).map_err(|e| anyhow!("manifest: {e}"))?;
    let (mut election, out) = election
        .publish()
        .map_err(stuck("publishing the manifest"))?;
    append(out)?;
    let m: Manifest = election.manifest().clone();
    let schedule = m.schedule().clone();

    // Key ceremony: every trustee message goes through the engine onto the board.
    let (_, _, shares) = key_ceremony(
        params,
        m.hash(),
        &mut |msg| {
            let entry = election
                .accept(&msg.encode())
                .map_err(|e| anyhow!("ceremony: {e}"))?;
            append(vec![entry]).map(|_| ())
        },
        &mut rng,
    )?;
    let (mut election, out) = election.finish(&mut rng).map_err(stuck("key ceremony"))?;
    append(out)?;
    let keys = election.keys().clone();
    timer.lap("key ceremony");
    println!(
        "  key ceremony: joint key {}…, fingerprint {}…",
        &keys.key.element().to_hex()[..16],
        &keys.fingerprint.to_hex()[..16]
    );

    // Registration: credentials are made on the devices; only public parts are sent.
    let n = opts.voters;
    let districts = m.districts().len();
    let creds: Vec<CredentialKey> = (0..n)
        .into_par_iter()
        .map(|_| CredentialKey::generate(&mut rand::rng()))
        .collect();
    let applied = Timestamp::from_unix(schedule.applications_open.unix() + 3600);
    for (v, c) in creds.iter().enumerate() {
        election
            .register(&m.districts()[v % districts].id, *c.public(), applied)
            .map_err(|e| anyhow!("registering voter {v}: {e}"))?;
    }
    let (mut election, out) = election
        .open(schedule.voting_opens)
        .map_err(stuck("opening"))?;
    append(out)?;
    timer.lap("registration + sealed lists");

    // Devices: first ballots, audits, re-votes, broken and forged submissions.
    let pb = progress(n as u64, "voters encrypting", false);
    let devices: Vec<Device> = (0..n)
        .into_par_iter()
        .map(|v| -> anyhow::Result<Device> {
            let mut rng = rand::rng();
            let district = v % districts;
            let did = &m.districts()[district].id;
            let header = ballot_header(&m, did)?;
            let shapes = &m.style_of(did).context("style")?.shapes;
            let encrypt = |cred: &CredentialKey, yes: u64, rng: &mut rand::rngs::ThreadRng| {
                Ballot::encrypt(
                    &keys.key,
                    &keys.fingerprint,
                    cred,
                    &header,
                    shapes,
                    &[vec![yes, 1 - yes]],
                    rng,
                )
            };
            // About 1 in 50 audits a ballot first (Benaloh challenge), then casts anew.
            let audit = if v % 50 == 7 {
                let (b, secrets): (Ballot, BallotSecrets) =
                    encrypt(&creds[v], rng.random_range(0..2), &mut rng)?;
                Some(AuditedBallot::encode(&b.encode()?, &secrets)?)
            } else {
                None
            };
            let first = u64::from(rng.random_bool(0.6));
            let (b, _) = encrypt(&creds[v], first, &mut rng)?;
            let mut subs = vec![Submission {
                choice: first,
                bytes: b.encode()?,
                expect_refusal: false,
            }];
            // About 1 in 20 changes their mind later: the last ballot counts.
            if v % 20 == 3 {
                let (b2, _) = encrypt(&creds[v], 1 - first, &mut rng)?;
                subs.push(Submission {
                    choice: 1 - first,
                    bytes: b2.encode()?,
                    expect_refusal: false,
                });
            }
            // About 1 in 200 sends a corrupted copy, and a ballot signed by a stranger.
            if v % 200 == 11 {
                let mut bytes = b.encode()?;
                let i = rng.random_range(40..bytes.len() - 64);
                bytes[i] ^= 1 << rng.random_range(0..8);
                subs.push(Submission {
                    choice: first,
                    bytes,
                    expect_refusal: true,
                });
                let stranger = CredentialKey::generate(&mut rng);
                let (b3, _) = encrypt(&stranger, 1, &mut rng)?;
                subs.push(Submission {
                    choice: 1,
                    bytes: b3.encode()?,
                    expect_refusal: true,
                });
            }
            let final_choice = subs
                .iter()
                .rev()
                .find(|s| !s.expect_refusal)
                .map_or(first, |s| s.choice);
            pb.inc(1);
            Ok(Device {
                district,
                subs,
                audit,
                final_choice,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    pb.finish_and_clear();
    timer.lap("devices encrypt + prove + sign");

    // The server. Audits, then everyone's first ballot, then later submissions
    // (re-votes after the minimum interval, and the broken ones).
    let t_first = Timestamp::from_unix(schedule.voting_opens.unix() + 600);
    let t_later = t_first.plus_seconds(MIN_REVOTE_INTERVAL * 2);
    let mut audited = 0usize;
    for d in &devices {
        if let Some(payload) = &d.audit {
            let cast = election
                .audit(payload, t_first, &mut rng)
                .map_err(|e| anyhow!("audit: {e}"))?;
            append(vec![cast.entry])?;
            audited += 1;
        }
    }
    let firsts: Vec<&Submission> = devices.iter().filter_map(|d| d.subs.first()).collect();
    let laters: Vec<&Submission> = devices.iter().flat_map(|d| d.subs.iter().skip(1)).collect();
    let pb = progress(
        (firsts.len() + laters.len()) as u64,
        "server verifying",
        false,
    );
    let mut tally = Casting {
        accepted: 0,
        refused: Vec::new(),
        wrong: 0,
        receipts: Vec::new(),
    };
    for (subs, now) in [(&firsts, t_first), (&laters, t_later)] {
        for batch in subs.chunks(4096) {
            serve_batch(&mut election, batch, now, &store, &mut tally, &mut rng)?;
            pb.inc(batch.len() as u64);
        }
    }
    pb.finish_and_clear();
    ensure!(
        tally.wrong == 0,
        "{} submissions judged wrongly",
        tally.wrong
    );
    // One more ballot at the closing instant: refused by the window rule.
    let late = devices
        .first()
        .and_then(|d| d.subs.first())
        .context("no voters")?;
    let late_err = election
        .admit(late.bytes.clone(), schedule.voting_closes)
        .err()
        .context("a ballot at the close was admitted")?;
    timer.lap("server: verify, record, durable append");
    let mut codes: Vec<&str> = tally.refused.iter().map(String::as_str).collect();
    codes.sort_unstable();
    codes.dedup();
    println!(
        "  casting: {} ballots accepted ({} re-votes), {} submissions refused ({}), {audited} audited ballots spoiled, late ballot refused ({})",
        tally.accepted,
        tally.accepted.saturating_sub(n),
        tally.refused.len(),
        codes.join(", "),
        late_err.code()
    );
    let turnout: u64 = election.turnout().iter().map(|t| t.voted).sum();

    // Close, tally, exactly t trustees decrypt, results.
    let (election, out) = election
        .close(schedule.voting_closes)
        .map_err(stuck("closing"))?;
    append(out)?;
    let (mut election, out) = election.tally().map_err(stuck("tally"))?;
    append(out)?;
    let items = tally_items(election.records());
    for (_, share) in shares.iter().take(usize::from(opts.threshold)) {
        let partials = share.partial_decrypt_batch(&keys.fingerprint, &items, &mut rng);
        let out = election
            .accept_partials(share.index(), partials, &mut rng)
            .map_err(|e| anyhow!("partial decryption of trustee {}: {e}", share.index()))?;
        append(out)?;
    }
    let (election, out) = election.decrypt().map_err(stuck("decryption"))?;
    append(out)?;
    timer.lap("close → published results");

    // The results must be what the devices chose.
    let mut expected = vec![[0u64; 2]; districts];
    for d in &devices {
        expected[d.district][usize::from(d.final_choice == 0)] += 1;
    }
    for r in election.results() {
        if let ResultScope::District(id) = &r.scope {
            let i = m.district_index(id).context("district")?;
            ensure!(
                r.counts == expected[i],
                "district {id}: decrypted {:?}, cast {:?}",
                r.counts,
                expected[i]
            );
        }
    }
    print_results(&m, election.results(), turnout);

    // Receipts: inclusion in the final signed checkpoint.
    let latest = store.latest_checkpoint();
    verify_checkpoint(latest.note(), &board_verifier, &[])?;
    for (index, tracking) in &tally.receipts {
        let stored = store.entry(*index)?;
        ensure!(
            &urna_election::tracking_code(stored.entry.payload()) == tracking,
            "receipt {index}"
        );
        let proof = store.inclusion_proof(*index, latest.size())?;
        verify_inclusion(
            &stored.leaf_hash,
            *index,
            latest.size(),
            &proof,
            latest.root(),
        )?;
    }
    timer.lap("receipts checked");

    // The election record, exported and re-checked by the independent verifier.
    let record_dir = dir.join("record");
    let exported = crate::record::export_store(&store, &record_dir)?;
    let report = crate::record::verify_record(&record_dir, false);
    timer.lap("export + independent verifier");

    println!("\n  {:<40} {:>8}", "phase", "seconds");
    for (name, secs) in &timer.phases {
        println!("  {name:<40} {secs:>8.2}");
    }
    println!(
        "\n  board: {} entries, checkpoint root {}, {} receipts verified",
        latest.size(),
        hex::encode(latest.root()),
        tally.receipts.len()
    );
    println!("  record: {exported} entries in {}", record_dir.display());
    println!("\n{report}");
    if !report.is_valid() {
        bail!(
            "the verifier rejected the exported record (exit code {})",
            report.exit_code()
        );
    }
    println!("demo: PASSED");
    Ok(())
}

struct Casting {
    accepted: usize,
    refused: Vec<String>,
    wrong: usize,
    receipts: Vec<(u64, [u8; 32])>,
}

/// What the server does with a batch of concurrent submissions: cheap checks,
/// one batch verification of all proofs, the engine's policy, then one
/// ordered durable append; receipts only after that.
fn serve_batch(
    election: &mut Election<urna_election::Voting>,
    batch: &[&Submission],
    now: Timestamp,
    store: &BoardStore,
    out: &mut Casting,
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<()> {
    let mut admitted = Vec::new();
    let mut expect = Vec::new();
    for s in batch {
        match election.admit(s.bytes.clone(), now) {
            Ok(a) => {
                admitted.push(a);
                expect.push(s.expect_refusal);
            }
            Err(e) => judge(out, s.expect_refusal, e.code()),
        }
    }
    let mut entries = Vec::new();
    let mut tracking = Vec::new();
    for (verdict, refuse) in verify_admitted(admitted, rng).into_iter().zip(expect) {
        match verdict.and_then(|v| election.record(v, now)) {
            Ok(cast) => {
                if refuse {
                    out.wrong += 1;
                }
                tracking.push(cast.tracking);
                entries.push(cast.entry);
            }
            Err(e) => judge(out, refuse, e.code()),
        }
    }
    let acks = store.append_ordered(entries).context("appending ballots")?;
    out.accepted += acks.len();
    for (ack, t) in acks.iter().zip(tracking).step_by(997) {
        out.receipts.push((ack.index, t));
    }
    Ok(())
}

fn judge(out: &mut Casting, expected_refusal: bool, code: &str) {
    if expected_refusal {
        out.refused.push(code.to_string());
    } else {
        out.wrong += 1;
    }
}

/// Each trustee's ceremony state and key share.
pub type Shares = Vec<(Qualified, KeyShare)>;

/// Runs an honest key ceremony among `params.n` local trustees; `publish`
/// receives every message in the order it is published.
pub fn key_ceremony(
    params: CeremonyParams,
    manifest_hash: &[u8; 32],
    publish: &mut dyn FnMut(CeremonyMessage) -> anyhow::Result<()>,
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<(PublicKey, Fingerprint, Shares)> {
    let mut round1 = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=params.n {
        let t = Trustee::new(params, i, manifest_hash, KeyPair::generate(rng))?;
        let (r1, m1) = t.start(rng);
        publish(CeremonyMessage::Round1(m1.clone()))?;
        round1.push(r1);
        msgs1.push(m1);
    }
    let mut round2 = Vec::new();
    let mut msgs2 = Vec::new();
    for r1 in round1 {
        let (r2, m2) = r1.deal(&msgs1, rng)?;
        publish(CeremonyMessage::Round2(m2.clone()))?;
        round2.push(r2);
        msgs2.push(m2);
    }
    let mut round3 = Vec::new();
    let mut complaints = Vec::new();
    for r2 in round2 {
        let (r3, c) = r2.receive(&msgs2, rng);
        for complaint in &c {
            publish(CeremonyMessage::Complaint(*complaint))?;
        }
        complaints.extend(c);
        round3.push(r3);
    }
    ensure!(
        complaints.is_empty(),
        "honest trustees complained: {complaints:?}"
    );
    let mut shares = Vec::new();
    for r3 in round3 {
        let q = r3.finish(&complaints, rng)?;
        let share = q.key_share().clone();
        shares.push((q, share));
    }
    let outcome = shares
        .first()
        .map(|(q, _)| q.outcome().clone())
        .context("no trustee")?;
    if shares
        .iter()
        .any(|(q, _)| q.outcome().joint_key != outcome.joint_key)
    {
        bail!("trustees disagree on the joint key");
    }
    Ok((
        outcome.public_key()?,
        outcome.election_fingerprint(),
        shares,
    ))
}

fn print_results(m: &Manifest, results: &[urna_election::record::ResultRecord], turnout: u64) {
    println!(
        "\n  {}",
        m.contests().first().map_or("", |c| c.title.as_str())
    );
    println!("  {:<12} {:>10} {:>10} {:>10}", "", "Yes", "No", "ballots");
    for r in results {
        let name = match &r.scope {
            ResultScope::District(_) => continue,
            ResultScope::Region(id) => id.clone(),
            ResultScope::Total => "total".to_string(),
        };
        let (y, n) = (
            r.counts.first().copied().unwrap_or(0),
            r.counts.get(1).copied().unwrap_or(0),
        );
        println!("  {name:<12} {y:>10} {n:>10} {:>10}", r.ballots);
        if matches!(r.scope, ResultScope::Total) && r.ballots > 0 {
            println!(
                "  {:<12} {:>9.1}% {:>9.1}%   ({turnout} voters took part online)",
                "",
                100.0 * y as f64 / r.ballots as f64,
                100.0 * n as f64 / r.ballots as f64
            );
        }
    }
}
