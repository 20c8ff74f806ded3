//! `urna demo`: one whole referendum, from key ceremony to checked result,
//! in this process.
//!
//! Until the election engine, the HTTP server and the verifier land (issues
//! 4 and 6), the demo drives the cryptographic core and the board directly:
//! a t-of-n key ceremony, credentials for every voter, ballots encrypted and
//! signed on "devices" in parallel, server-side batch verification that
//! refuses invalid ballots, re-votes (the last one counts), Benaloh audits,
//! the close, the homomorphic tally, partial decryptions by exactly t
//! trustees with proofs, and at the end an independent re-check of the whole
//! board that recomputes everything from the entries alone.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, anyhow, bail, ensure};
use rand::RngExt;
use rayon::prelude::*;
use urna_board::{
    BoardSigningKey, Checkpoint, Entry, EntryKind, MemoryTree, sign_checkpoint, verify_checkpoint,
    verify_inclusion,
};
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, BallotSecrets, ContestShape};
use urna_crypto::batch::verify_batch;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{
    CeremonyParams, CeremonyRecord, Complaint, Qualified, Round1Message, Round2Message, Trustee,
    verify_ceremony,
};
use urna_crypto::dlog::DlogTable;
use urna_crypto::elgamal::{Ciphertext, KeyPair, PublicKey, SecretScalar};
use urna_crypto::threshold::{KeyShare, PartialDecryption, combine_batch, verify_partials};

use crate::bench::progress;

/// Options of `urna demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoOpts {
    /// Number of simulated voters.
    #[arg(long, default_value_t = 10_000)]
    pub voters: usize,
    /// Number of regions.
    #[arg(long, default_value_t = 2)]
    pub regions: u16,
    /// Trustees in the key ceremony.
    #[arg(long, default_value_t = 5)]
    pub trustees: u16,
    /// Trustees needed to decrypt.
    #[arg(long, default_value_t = 3)]
    pub threshold: u16,
}

const QUESTION: &str = "Do you approve the amendments to the Constitution?";
const OPTIONS: [&str; 2] = ["Yes", "No"];

/// The board as the demo keeps it: entries in order and the Merkle tree.
struct Board {
    entries: Vec<Entry>,
    tree: MemoryTree,
}

impl Board {
    fn append(&mut self, kind: EntryKind, payload: &[u8]) -> anyhow::Result<u64> {
        let entry = Entry::new(kind, payload)?;
        self.tree.push(entry.leaf_hash())?;
        self.entries.push(entry);
        Ok(self.tree.size() - 1)
    }
}

/// Header of a demo ballot: the voter's region (u16, big-endian). The
/// election engine (issue 4) replaces this with the ballot style id.
fn header(region: u16) -> [u8; 2] {
    region.to_be_bytes()
}

/// A submission as a device sends it.
struct Submission {
    /// 1 for "Yes", as the device encrypted it (the server never sees it).
    choice: u64,
    bytes: Vec<u8>,
    /// Set for deliberately broken submissions, which must be refused.
    expect_refusal: bool,
}

/// One voter's device: what it submitted, an audited ballot if any, and the
/// choice its last valid ballot carries (known to the simulation only).
struct Device {
    subs: Vec<Submission>,
    audit: Option<(Vec<u8>, BallotSecrets)>,
    final_choice: u64,
    region: u16,
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
    ensure!(
        opts.regions >= 1 && opts.regions <= 100,
        "--regions must be 1..=100"
    );
    let params =
        CeremonyParams::new(opts.trustees, opts.threshold).context("--trustees and --threshold")?;
    let mut rng = rand::rng();
    let mut timer = Timer {
        phases: Vec::new(),
        start: Instant::now(),
    };
    let mut board = Board {
        entries: Vec::new(),
        tree: MemoryTree::new(),
    };
    let election_id: u32 = rng.random();
    let origin = format!("urna.example/demo-{election_id:08x}");
    let board_key = BoardSigningKey::generate(&origin, &mut rng)?;
    println!("urna demo: referendum {origin}");
    println!(
        "  {} voters in {} regions, {} trustees (any {} decrypt), re-vote policy: last ballot counts",
        opts.voters, opts.regions, opts.trustees, opts.threshold
    );

    // 1. Manifest. Until urna-election lands its hash is SHA-256 of this text.
    let manifest = format!(
        "id = \"{origin}\"\nkind = \"referendum\"\nquestion = \"{QUESTION}\"\noptions = [\"Yes\", \"No\"]\nregions = {}\ntrustees = {}\nthreshold = {}\nrevote = \"last-counts\"\n",
        opts.regions, opts.trustees, opts.threshold
    );
    let manifest_hash: [u8; 32] = sha256(manifest.as_bytes());
    board.append(EntryKind::ElectionManifest, manifest.as_bytes())?;
    let shapes = [ContestShape::choose(2, 1, 1)];

    // 2. Key ceremony: every message lands on the board.
    let (key, fp, shares) = key_ceremony(
        params,
        &manifest_hash,
        &mut |tag, msg| {
            board
                .append(EntryKind::TrusteeCeremony, &tagged(tag, msg))
                .map(|_| ())
        },
        &mut rng,
    )?;
    timer.lap("key ceremony");
    println!(
        "  key ceremony: joint key {}…, fingerprint {}…",
        &key.element().to_hex()[..16],
        &fp.to_hex()[..16]
    );

    // 3. Registration: credentials made on the voters' devices; only public parts are sealed.
    let creds: Vec<CredentialKey> = (0..opts.voters)
        .into_par_iter()
        .map(|_| CredentialKey::generate(&mut rand::rng()))
        .collect();
    let region_of = |v: usize| (v % usize::from(opts.regions)) as u16;
    for chunk in creds.chunks(1500).enumerate() {
        let (_, list) = chunk;
        let mut payload = Vec::with_capacity(list.len() * 34);
        for (k, c) in list.iter().enumerate() {
            payload.extend_from_slice(&region_of(chunk.0 * 1500 + k).to_be_bytes());
            payload.extend_from_slice(c.public().as_bytes());
        }
        board.append(EntryKind::CredentialList, &payload)?;
    }
    let sealed: HashMap<[u8; 32], u16> = creds
        .iter()
        .enumerate()
        .map(|(v, c)| (*c.public().as_bytes(), region_of(v)))
        .collect();
    timer.lap("registration");

    // 4. Voting on devices: first ballots, audits, re-votes and broken ones.
    let n = opts.voters;
    let pb = progress(n as u64, "voters encrypting", false);
    let devices: Vec<Device> = (0..n)
        .into_par_iter()
        .map(|v| -> anyhow::Result<Device> {
            let mut rng = rand::rng();
            let region = region_of(v);
            let cast = |choice: u64, rng: &mut rand::rngs::ThreadRng| {
                Ballot::encrypt(
                    &key,
                    &fp,
                    &creds[v],
                    &header(region),
                    &shapes,
                    &[vec![choice, 1 - choice]],
                    rng,
                )
            };
            let mut subs = Vec::new();
            // About 1 in 50 voters audits a ballot first (Benaloh challenge).
            let audit = if v % 50 == 7 {
                let (b, secrets) = cast(rng.random_range(0..2), &mut rng)?;
                Some((b.encode()?, secrets))
            } else {
                None
            };
            let first: u64 = u64::from(rng.random_bool(0.62));
            let (b, _) = cast(first, &mut rng)?;
            subs.push(Submission {
                choice: first,
                bytes: b.encode()?,
                expect_refusal: false,
            });
            // About 1 in 20 changes their mind later.
            if v % 20 == 3 {
                let (b, _) = cast(1 - first, &mut rng)?;
                subs.push(Submission {
                    choice: 1 - first,
                    bytes: b.encode()?,
                    expect_refusal: false,
                });
            }
            // About 1 in 200 submissions is broken in transit or forged.
            if v % 200 == 11 {
                let mut bytes = b.encode()?;
                let i = rng.random_range(40..bytes.len() - 64);
                bytes[i] ^= 1;
                subs.push(Submission {
                    choice: first,
                    bytes,
                    expect_refusal: true,
                });
                let stranger = CredentialKey::generate(&mut rng);
                let (b, _) = Ballot::encrypt(
                    &key,
                    &fp,
                    &stranger,
                    &header(region),
                    &shapes,
                    &[vec![1, 0]],
                    &mut rng,
                )?;
                subs.push(Submission {
                    choice: 1,
                    bytes: b.encode()?,
                    expect_refusal: true,
                });
            }
            pb.inc(1);
            let last = subs
                .iter()
                .rev()
                .find(|s| !s.expect_refusal)
                .map_or(first, |s| s.choice);
            Ok(Device {
                subs,
                audit,
                final_choice: last,
                region,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    pb.finish_and_clear();
    timer.lap("voters encrypt (devices)");

    // 5. The server: audits first, then submissions in arrival order, batch-verified.
    let mut audited = 0usize;
    for d in &devices {
        if let Some((bytes, secrets)) = &d.audit {
            let ballot = Ballot::decode(bytes)?;
            ballot
                .check_audit(&key, secrets)
                .map_err(|e| anyhow!("audit failed: {e}"))?;
            board.append(EntryKind::AuditedBallot, &audit_payload(bytes, secrets))?;
            audited += 1;
        }
    }
    // First ballots of everyone, then the re-votes and the broken ones, as they would arrive.
    let mut arrivals: Vec<&Submission> = devices.iter().filter_map(|d| d.subs.first()).collect();
    arrivals.extend(devices.iter().flat_map(|d| d.subs.iter().skip(1)));
    let pb = progress(arrivals.len() as u64, "server verifying", false);
    let (mut accepted, mut refused, mut wrongly) = (0usize, 0usize, 0usize);
    let mut receipts: Vec<(u64, [u8; 32])> = Vec::new();
    for batch in arrivals.chunks(2048) {
        let verdicts = server_check(batch, &sealed, &key, &fp, &shapes, &mut rng);
        for (sub, verdict) in batch.iter().zip(verdicts) {
            match (verdict, sub.expect_refusal) {
                (Ok(()), false) => {
                    let index = board.append(EntryKind::Ballot, &sub.bytes)?;
                    accepted += 1;
                    if receipts.len() < 64 {
                        receipts.push((index, sha256(&sub.bytes)));
                    }
                }
                (Err(_), true) => refused += 1,
                _ => wrongly += 1,
            }
        }
        pb.inc(batch.len() as u64);
    }
    pb.finish_and_clear();
    if wrongly > 0 {
        bail!(
            "{wrongly} submissions were judged wrongly (accepted when broken, or refused when valid)"
        );
    }
    timer.lap("server verifies + appends");
    println!(
        "  casting: {accepted} ballots accepted ({} re-votes), {refused} invalid submissions refused, {audited} audited ballots spoiled",
        accepted.saturating_sub(n)
    );

    // 6. Close.
    board.append(
        EntryKind::VotingClosed,
        format!("closed at board size {}", board.tree.size()).as_bytes(),
    )?;
    let close_size = board.tree.size();

    // 7. Tally: counted ballots (last per credential), sums, exactly t trustees decrypt.
    let counted = counted_ballots(&board.entries)?;
    let sums = region_sums(&counted, opts.regions)?;
    let turnout = counted.len() as u64;
    let items = tally_items(&sums);
    let chosen: Vec<&(Qualified, KeyShare)> =
        shares.iter().take(usize::from(opts.threshold)).collect();
    let mut partials: Vec<Vec<PartialDecryption>> = Vec::new();
    for (_, share) in &chosen {
        let p = share.partial_decrypt_batch(&fp, &items, &mut rng);
        let mut payload = Vec::new();
        for d in &p {
            payload.extend_from_slice(&d.encode());
        }
        board.append(EntryKind::PartialDecryption, &payload)?;
        partials.push(p);
    }
    let table = DlogTable::new(turnout);
    let cts: Vec<Ciphertext> = items.iter().map(|(_, c)| *c).collect();
    let per: Vec<&[PartialDecryption]> = partials.iter().map(Vec::as_slice).collect();
    let counts = combine_batch(opts.threshold, &cts, &per, &table)?;
    let results = results_payload(&counts);
    board.append(EntryKind::Results, &results)?;
    timer.lap("tally (close to results)");

    // Expected counts, known only to the simulation, to show the result is right.
    let mut expected = vec![0u64; usize::from(opts.regions) * 2];
    for d in &devices {
        expected[usize::from(d.region) * 2 + usize::from(d.final_choice == 0)] += 1;
    }
    ensure!(
        counts == expected,
        "decrypted tally {counts:?} differs from the ballots cast {expected:?}"
    );

    // 8. Sign the final checkpoint and re-check the whole board from its entries alone.
    let checkpoint = Checkpoint::new(&origin, board.tree.size(), board.tree.root())?;
    let note = sign_checkpoint(&board_key, &checkpoint)?;
    let report = recheck(&board, &note, &board_key, close_size, &receipts, &mut rng)?;
    timer.lap("re-check of the whole board");

    print_results(opts, &counts, turnout);
    println!("\n  phase                          seconds");
    for (name, secs) in &timer.phases {
        println!("  {name:<30} {secs:>7.2}");
    }
    println!("\n  re-check: {report}");
    println!(
        "  board: {} entries, root {}",
        board.tree.size(),
        hex::encode(board.tree.root())
    );
    println!("demo: PASSED");
    Ok(())
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

/// Each trustee's ceremony state and key share.
pub type Shares = Vec<(Qualified, KeyShare)>;

// Ceremony entries carry a one-byte message tag before the message (demo
// format; the election engine of issue 4 defines the real payloads).
const TAG_ROUND1: u8 = 1;
const TAG_ROUND2: u8 = 2;
const TAG_COMPLAINT: u8 = 3;

fn tagged(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 1);
    v.push(tag);
    v.extend_from_slice(body);
    v
}

/// Runs an honest key ceremony among `params.n` local trustees; `publish`
/// receives every message (tag, encoding) in the order it is published.
pub fn key_ceremony(
    params: CeremonyParams,
    manifest_hash: &[u8; 32],
    publish: &mut dyn FnMut(u8, &[u8]) -> anyhow::Result<()>,
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<(PublicKey, Fingerprint, Shares)> {
    let mut round1 = Vec::new();
    let mut msgs1 = Vec::new();
    for i in 1..=params.n {
        let t = Trustee::new(params, i, manifest_hash, KeyPair::generate(rng))?;
        let (r1, m1) = t.start(rng);
        publish(TAG_ROUND1, &m1.encode())?;
        round1.push(r1);
        msgs1.push(m1);
    }
    let mut round2 = Vec::new();
    let mut msgs2 = Vec::new();
    for r1 in round1 {
        let (r2, m2) = r1.deal(&msgs1, rng)?;
        publish(TAG_ROUND2, &m2.encode())?;
        round2.push(r2);
        msgs2.push(m2);
    }
    let mut round3 = Vec::new();
    let mut complaints = Vec::new();
    for r2 in round2 {
        let (r3, c) = r2.receive(&msgs2, rng);
        for complaint in &c {
            publish(TAG_COMPLAINT, &complaint.encode())?;
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
    ensure!(
        shares
            .iter()
            .all(|(q, _)| q.outcome().joint_key == outcome.joint_key),
        "trustees disagree on the joint key"
    );
    Ok((
        outcome.public_key()?,
        outcome.election_fingerprint(),
        shares,
    ))
}

/// What the server checks before appending: the credential is sealed, the
/// header names the credential's region, and every proof and signature
/// verifies (one batch for the whole arrival batch).
fn server_check(
    batch: &[&Submission],
    sealed: &HashMap<[u8; 32], u16>,
    key: &PublicKey,
    fp: &Fingerprint,
    shapes: &[ContestShape],
    rng: &mut rand::rngs::ThreadRng,
) -> Vec<Result<(), String>> {
    let decoded: Vec<Result<Ballot, String>> = batch
        .par_iter()
        .map(|s| {
            let b = Ballot::decode(&s.bytes).map_err(|e| format!("malformed ballot: {e}"))?;
            match sealed.get(b.credential.as_bytes()) {
                None => Err("credential is not in the sealed list".to_string()),
                Some(r) if b.header != header(*r) => {
                    Err("ballot style of another region".to_string())
                }
                Some(_) => Ok(b),
            }
        })
        .collect();
    let ok: Vec<(usize, &Ballot)> = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.as_ref().ok().map(|b| (i, b)))
        .collect();
    let checks: Vec<_> = ok
        .iter()
        .map(|(_, b)| b.statement(key.element(), fp, shapes))
        .collect();
    let mut verdicts: Vec<Result<(), String>> = decoded
        .iter()
        .map(|d| d.as_ref().map(|_| ()).map_err(Clone::clone))
        .collect();
    if let Err(bad) = verify_batch(&checks, Some(key.element()), rng) {
        for b in bad {
            verdicts[ok[b.index].0] = Err(format!("proof check failed: {}", b.error));
        }
    }
    verdicts
}

fn audit_payload(ballot: &[u8], secrets: &BallotSecrets) -> Vec<u8> {
    let mut p = Vec::with_capacity(ballot.len() + 100);
    p.extend_from_slice(&(ballot.len() as u32).to_be_bytes());
    p.extend_from_slice(ballot);
    for (sel, nonces) in secrets.selections.iter().zip(&secrets.nonces) {
        for (v, r) in sel.iter().zip(nonces) {
            p.extend_from_slice(&v.to_be_bytes());
            p.extend_from_slice(r.expose().as_bytes());
        }
    }
    p
}

/// A counted ballot: the last one of its credential, in board order.
struct Counted {
    region: u16,
    ballot: Ballot,
}

fn counted_ballots(entries: &[Entry]) -> anyhow::Result<Vec<Counted>> {
    let mut last: HashMap<[u8; 32], usize> = HashMap::new();
    let ballots: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind() == EntryKind::Ballot)
        .collect();
    for (i, e) in ballots.iter().enumerate() {
        let cred: [u8; 32] = e
            .payload()
            .get(1..33)
            .and_then(|s| s.try_into().ok())
            .context("short ballot")?;
        last.insert(cred, i);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.par_iter()
        .map(|&i| {
            let ballot = Ballot::decode(ballots[i].payload())?;
            let region = u16::from_be_bytes(
                ballot
                    .header
                    .get(..2)
                    .and_then(|h| h.try_into().ok())
                    .context("header")?,
            );
            Ok(Counted { region, ballot })
        })
        .collect()
}

fn region_sums(counted: &[Counted], regions: u16) -> anyhow::Result<Vec<[Ciphertext; 2]>> {
    let mut out = Vec::new();
    for r in 0..regions {
        let mine: Vec<&Counted> = counted.iter().filter(|c| c.region == r).collect();
        let yes = Ciphertext::sum(mine.iter().map(|c| &c.ballot.contests[0].ciphertexts[0]));
        let no = Ciphertext::sum(mine.iter().map(|c| &c.ballot.contests[0].ciphertexts[1]));
        out.push([yes, no]);
    }
    Ok(out)
}

fn tally_items(sums: &[[Ciphertext; 2]]) -> Vec<(Vec<u8>, Ciphertext)> {
    sums.iter()
        .enumerate()
        .flat_map(|(r, pair)| {
            pair.iter()
                .enumerate()
                .map(move |(o, c)| (format!("region:{r}/option:{o}").into_bytes(), *c))
        })
        .collect()
}

fn results_payload(counts: &[u64]) -> Vec<u8> {
    counts.iter().flat_map(|c| c.to_be_bytes()).collect()
}

fn print_results(opts: &DemoOpts, counts: &[u64], turnout: u64) {
    println!("\n  {QUESTION}");
    println!(
        "  {:<10} {:>10} {:>10} {:>8}",
        "region", OPTIONS[0], OPTIONS[1], "turnout"
    );
    let mut total = [0u64; 2];
    for r in 0..usize::from(opts.regions) {
        let (y, n) = (counts[r * 2], counts[r * 2 + 1]);
        total[0] += y;
        total[1] += n;
        println!(
            "  {:<10} {:>10} {:>10} {:>8}",
            format!("region {}", r + 1),
            y,
            n,
            y + n
        );
    }
    let pct = |x: u64| {
        if turnout == 0 {
            0.0
        } else {
            100.0 * x as f64 / turnout as f64
        }
    };
    println!(
        "  {:<10} {:>10} {:>10} {:>8}   (yes {:.1}%, no {:.1}%)",
        "total",
        total[0],
        total[1],
        turnout,
        pct(total[0]),
        pct(total[1])
    );
}

/// Re-checks the board from its entries alone, as an observer would: the
/// signed checkpoint, receipts, the key ceremony, every ballot and audit,
/// the re-vote rule, the sums, every partial decryption, the results.
fn recheck(
    board: &Board,
    note: &urna_board::SignedNote,
    board_key: &BoardSigningKey,
    close_size: u64,
    receipts: &[(u64, [u8; 32])],
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<String> {
    let entries = &board.entries;
    // Checkpoint: signature, and the tree rebuilt from the entries matches it.
    let verified = verify_checkpoint(note, &board_key.verifier_key(), &[])?;
    let tree = MemoryTree::from_leaves(entries.iter().map(Entry::leaf_hash))?;
    ensure!(
        verified.checkpoint.size() == tree.size() && verified.checkpoint.root() == &tree.root(),
        "checkpoint does not match the entries"
    );
    for (index, tracking) in receipts {
        let e = entries
            .get(*index as usize)
            .context("receipt beyond the board")?;
        ensure!(
            &sha256(e.payload()) == tracking,
            "receipt {index}: tracking code differs"
        );
        let proof = tree.inclusion_proof(*index, tree.size())?;
        verify_inclusion(&e.leaf_hash(), *index, tree.size(), &proof, &tree.root())?;
    }
    // Manifest and key ceremony.
    let manifest = entries
        .first()
        .filter(|e| e.kind() == EntryKind::ElectionManifest)
        .context("no manifest")?;
    let text = std::str::from_utf8(manifest.payload())?;
    let field = |name: &str| -> anyhow::Result<u16> {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.trim().strip_prefix('='))
            })
            .context("manifest field missing")?
            .trim()
            .parse()
            .context("manifest field")
    };
    let params = CeremonyParams::new(field("trustees")?, field("threshold")?)?;
    let regions = field("regions")?;
    let mut record = CeremonyRecord {
        params,
        manifest_hash: sha256(manifest.payload()),
        round1: Vec::new(),
        round2: Vec::new(),
        complaints: Vec::new(),
    };
    for e in entries
        .iter()
        .filter(|e| e.kind() == EntryKind::TrusteeCeremony)
    {
        match e.payload().split_first() {
            Some((&TAG_ROUND1, m)) => record.round1.push(Round1Message::decode(m)?),
            Some((&TAG_ROUND2, m)) => record.round2.push(Round2Message::decode(m)?),
            Some((&TAG_COMPLAINT, m)) => record.complaints.push(Complaint::decode(m)?),
            _ => bail!("unknown ceremony message"),
        }
    }
    let outcome = verify_ceremony(&record, None, rng)?;
    let key = outcome.public_key()?;
    let fp = outcome.election_fingerprint();
    // Sealed credentials.
    let mut sealed: HashMap<[u8; 32], u16> = HashMap::new();
    for e in entries
        .iter()
        .filter(|e| e.kind() == EntryKind::CredentialList)
    {
        for rec in e.payload().chunks(34) {
            let (r, c) = rec.split_at(2);
            sealed.insert(c.try_into()?, u16::from_be_bytes(r.try_into()?));
        }
    }
    // Every ballot before the close: sealed credential, its region's style, proofs.
    let ballots: Vec<(usize, &Entry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind() == EntryKind::Ballot)
        .collect();
    ensure!(
        ballots.iter().all(|(i, _)| (*i as u64) < close_size),
        "a ballot after the close"
    );
    let decoded: Vec<Ballot> = ballots
        .par_iter()
        .map(|(_, e)| Ballot::decode(e.payload()))
        .collect::<Result<_, _>>()?;
    for b in &decoded {
        let r = sealed
            .get(b.credential.as_bytes())
            .context("ballot from an unknown credential")?;
        ensure!(b.header == header(*r), "ballot with another region's style");
    }
    let shapes = [ContestShape::choose(2, 1, 1)];
    let checks: Vec<_> = decoded
        .iter()
        .map(|b| b.statement(key.element(), &fp, &shapes))
        .collect();
    if let Err(bad) = verify_batch(&checks, Some(key.element()), rng) {
        bail!(
            "{} ballots fail verification, first at entry {}",
            bad.len(),
            ballots[bad[0].index].0
        );
    }
    // Audits decrypt to what was revealed and are never counted.
    let mut audits = 0;
    for e in entries
        .iter()
        .filter(|e| e.kind() == EntryKind::AuditedBallot)
    {
        let (ballot, secrets) = parse_audit(e.payload())?;
        ballot
            .check_audit(&key, &secrets)
            .map_err(|err| anyhow!("audit: {err}"))?;
        audits += 1;
    }
    // Re-vote rule, sums, partial decryptions, combination, results.
    let counted = counted_ballots(entries)?;
    let items = tally_items(&region_sums(&counted, regions)?);
    let mut partials = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.kind() == EntryKind::PartialDecryption)
    {
        let list: Vec<PartialDecryption> = e
            .payload()
            .chunks(PartialDecryption::ENCODED_LEN)
            .map(PartialDecryption::decode)
            .collect::<Result<_, _>>()?;
        let trustee = list
            .first()
            .context("empty partial decryption entry")?
            .trustee;
        ensure!(
            list.iter().all(|p| p.trustee == trustee),
            "mixed trustees in one entry"
        );
        let vk = outcome
            .verification_key(trustee)
            .context("partial decryption by an unqualified trustee")?;
        verify_partials(&fp, vk, &items, &list, rng)
            .map_err(|bad| anyhow!("trustee {trustee}: {} bad partial decryptions", bad.len()))?;
        partials.push(list);
    }
    let cts: Vec<Ciphertext> = items.iter().map(|(_, c)| *c).collect();
    let per: Vec<&[PartialDecryption]> = partials.iter().map(Vec::as_slice).collect();
    let counts = combine_batch(params.t, &cts, &per, &DlogTable::new(counted.len() as u64))?;
    let published = entries
        .iter()
        .rev()
        .find(|e| e.kind() == EntryKind::Results)
        .context("no results")?;
    ensure!(
        published.payload() == results_payload(&counts).as_slice(),
        "published results differ from the recomputed tally"
    );
    Ok(format!(
        "checkpoint signature and tree ok, {} receipts included, key ceremony ok ({} qualified), {} ballots verified, {} audits ok, {} counted, {} partial decryptions verified, results match",
        receipts.len(),
        outcome.qualified.len(),
        decoded.len(),
        audits,
        counted.len(),
        partials.len() * items.len(),
    ))
}

fn parse_audit(p: &[u8]) -> anyhow::Result<(Ballot, BallotSecrets)> {
    let (len, rest) = p.split_at_checked(4).context("short audit")?;
    let len = u32::from_be_bytes(len.try_into()?) as usize;
    let (bytes, mut rest) = rest.split_at_checked(len).context("short audit")?;
    let ballot = Ballot::decode(bytes)?;
    let mut secrets = BallotSecrets {
        selections: Vec::new(),
        nonces: Vec::new(),
    };
    for c in &ballot.contests {
        let (mut sel, mut nonces) = (Vec::new(), Vec::new());
        for _ in &c.ciphertexts {
            let (v, r);
            (v, rest) = rest.split_at_checked(8).context("short audit")?;
            (r, rest) = rest.split_at_checked(32).context("short audit")?;
            sel.push(u64::from_be_bytes(v.try_into()?));
            nonces.push(SecretScalar::new(urna_crypto::encoding::decode_scalar(
                r.try_into()?,
            )?));
        }
        secrets.selections.push(sel);
        secrets.nonces.push(nonces);
    }
    ensure!(rest.is_empty(), "trailing bytes in audit");
    Ok((ballot, secrets))
}
