//! `urna demo`: one whole referendum, from the key ceremony to the checked
//! result, through the real HTTP server on the embedded default (SQLite in
//! a temporary folder).
//!
//! The server is urna-server's router on a loopback TCP socket; the demo
//! plays everyone else, over HTTP only: the commission (admin token) and
//! the trustees running the DKG, voters' devices fetching their ballot
//! style, encrypting and signing, casting in parallel (some re-vote, some
//! audit a ballot first, some send broken, forged or replayed ballots
//! that must be refused with the right code) and checking every receipt,
//! an observer watching the live turnout, and t trustees decrypting the
//! tally. At the end the board is exported as an election record and the
//! independent verifier (`urna-verify`) re-checks everything.

mod cast;
pub(crate) mod commission;
pub(crate) mod devices;
pub mod http_client;
pub mod par;
pub(crate) mod receipts;
mod report;
pub mod server;

use std::time::Instant;

use anyhow::{Context, bail, ensure};
use rand::RngExt;
use serde_json::json;
use ureq::http::StatusCode;
use urna_crypto::Fingerprint;
use urna_crypto::credential::CredentialKey;
use urna_crypto::dkg::{CeremonyParams, Qualified, Trustee};
use urna_crypto::elgamal::{KeyPair, PublicKey};
use urna_crypto::threshold::KeyShare;
use urna_election::Manifest;
use urna_election::record::CeremonyMessage;

use crate::bench::progress;
use cast::{Casting, turnout, watch_turnout};
use http_client::Api;
use receipts::{Receipt, ReceiptChecker};
use server::LocalServer;

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
    /// Devices sending at the same time (HTTP connections).
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// The election's folder (board, board key, exported record), kept
    /// for `urna verify` and `urna serve --data` [default: a new
    /// `urna-demo-*` folder in the system's temporary folder].
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
}

const MIN_REVOTE_INTERVAL: u64 = 60;

/// The demo's manifest: a 2020-style yes/no question, `regions` regions of
/// two districts each, re-voting allowed (last ballot counts, as in 2021).
pub fn manifest_text(trustees: u16, threshold: u16, regions: u16, id: &str) -> String {
    let mut m = format!(
        "id = \"{id}\"\nkind = \"referendum\"\ntitle = {{ en = \"Demo referendum on the constitutional amendments\" }}\n\n\
         [schedule]\ntime_zone = \"Europe/Moscow\"\napplications_open = 2026-06-05T00:00:00+03:00\n\
         applications_close = 2026-06-21T14:00:00+03:00\nvoting_opens = 2026-06-25T08:00:00+03:00\n\
         voting_closes = 2026-06-30T20:00:00+03:00\n\n[revote]\npolicy = \"last-counts\"\nmin_interval_seconds = {MIN_REVOTE_INTERVAL}\n\n\
         [reconciliation]\npaper_after_evote = \"evote-stands\"\n\n[trustees]\nn = {trustees}\nt = {threshold}\n"
    );
    for r in 1..=regions {
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

/// The admin token of a demo server: random, never written anywhere.
pub fn random_token() -> String {
    hex::encode(rand::rng().random::<[u8; 16]>())
}

/// A client runtime: the simulated clients' threads, apart from the server's.
pub fn client_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("urna-clients")
        .enable_all()
        .build()
        .context("starting the clients' runtime")
}

/// Accepted ballots as the server's live turnout counts them.
pub async fn turnout_ballots(api: &Api) -> anyhow::Result<u64> {
    Ok(turnout(api).await?.ballots)
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
    ensure!(opts.concurrency >= 1, "--concurrency must be at least 1");
    let params =
        CeremonyParams::new(opts.trustees, opts.threshold).context("--trustees and --threshold")?;
    let mut timer = Timer {
        phases: Vec::new(),
        start: Instant::now(),
    };
    let id = format!("demo-{:08x}", rand::rng().random::<u32>());
    let origin = format!("urna.example/{id}");
    // Kept afterwards: the record in it is for the reader to verify, and
    // `urna serve --data` shows the finished election (issue 16).
    let dir = match &opts.data {
        Some(d) => d.clone(),
        None => tempfile::Builder::new()
            .prefix("urna-demo-")
            .tempdir()
            .context("creating the demo's folder")?
            .keep(),
    };
    ensure!(
        !dir.join("board.db").exists(),
        "{} already holds an election (board.db): give --data a new folder",
        dir.display()
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = manifest_text(opts.trustees, opts.threshold, opts.regions, &id);
    // The commission's own copy, to know the districts; the server parses what it is sent.
    let m = Manifest::from_bytes(text.as_bytes()).map_err(|e| anyhow::anyhow!("manifest: {e}"))?;
    let schedule = m.schedule().clone();
    let token = random_token();
    let server = LocalServer::start_journalled(
        &dir,
        &origin,
        &token,
        schedule.applications_open.plus_seconds(3600),
    )?;
    let rt = client_runtime()?;
    let api = rt.block_on(async { Api::new(server.addr, Some(token.clone())) });
    let c = opts.concurrency;

    println!(
        "urna demo: referendum {origin}, served on http://{}, board {}",
        server.addr,
        dir.join("board.db").display()
    );
    println!(
        "  {} voters in {} regions, {} trustees (any {} decrypt), re-vote: last ballot counts",
        opts.voters, opts.regions, opts.trustees, opts.threshold
    );

    let session = Session {
        rt: &rt,
        api: &api,
        server: &server,
        concurrency: c,
    };
    let (fingerprint, shares) = session.key_ceremony(&text, &m, params)?;
    timer.lap("manifest + key ceremony");
    println!(
        "  key ceremony: fingerprint {}…",
        &fingerprint.to_hex()[..16]
    );
    let n = opts.voters;
    let creds = session.register(&m, n)?;
    timer.lap("registration + sealed lists");
    let district_ids: Vec<String> = m.districts().iter().map(|d| d.id.clone()).collect();
    let devices = session.prepare_devices(&district_ids, &creds)?;
    timer.lap("devices: style + encrypt + prove + sign");
    let checker = ReceiptChecker::new(server.board_key.clone());
    let (casting, outcome, reads) = session.cast(&checker, devices)?;
    timer.lap("casting over HTTP (receipts checked)");
    let t = session.check_turnout(&outcome, n)?;
    let revotes = outcome.accepted.saturating_sub(n as u64);
    let t_close = session.refuse_late_ballots(&casting, &schedule)?;
    // Close, tally, exactly t trustees decrypt, results.
    commission::tally_and_decrypt(&rt, &api, &fingerprint, &shares, opts.threshold)?;
    let results: report::Results = rt.block_on(api.get_ok("/election/results"))?;
    let close_to_results = t_close.elapsed().as_secs_f64();
    timer.lap("close → published results");
    check_results(&results, &district_ids, &casting)?;
    let refetched = session.refetch_receipts(&checker, &outcome)?;
    timer.lap("receipts fetched again");

    let store = server.store.clone();
    drop(rt);
    server.stop()?;

    // The election record, exported and re-checked by the independent verifier.
    let record_dir = dir.join("record");
    let exported = crate::record::export_store(&store, &record_dir)?;
    let verdict = crate::record::verify_record(&record_dir, false);
    timer.lap("export + independent verifier");

    let mut refused: Vec<String> = outcome
        .refused
        .iter()
        .map(|(c, k)| format!("{k} {c}"))
        .collect();
    if refused.is_empty() {
        refused.push("none".into());
    }
    println!(
        "  casting: {} ballots accepted ({revotes} re-votes), {} audited ballots spoiled, every receipt verified; refused as expected: {}; late ballots refused (outside_voting_window, voting_closed)",
        outcome.accepted,
        outcome.audited,
        refused.join(", ")
    );
    println!("  live turnout read {reads} times while casting");
    report::print(&m, &results, t.voted);
    println!("\n  {:<40} {:>8}", "phase", "seconds");
    for (name, secs) in &timer.phases {
        println!("  {name:<40} {secs:>8.2}");
    }
    println!(
        "\n  close → results over HTTP: {close_to_results:.2} s; {refetched} receipts fetched again and verified against the final checkpoint"
    );
    println!("  record: {exported} entries in {}", record_dir.display());
    println!(
        "  check it yourself: urna verify {}",
        crate::serve::shell_word(&record_dir)
    );
    println!(
        "  see it in a browser: urna serve --data {} (results, turnout, receipts)",
        crate::serve::shell_word(&dir)
    );
    println!("\n{verdict}");
    if !verdict.is_valid() {
        bail!(
            "the verifier rejected the exported record (exit code {})",
            verdict.exit_code()
        );
    }
    println!("demo: PASSED");
    Ok(())
}

/// The demo's parties reaching the server: the clients' runtime, the API
/// client (with the commission's token), the server and its clock.
struct Session<'a> {
    rt: &'a tokio::runtime::Runtime,
    api: &'a Api,
    server: &'a LocalServer,
    concurrency: usize,
}

impl Session<'_> {
    /// Setup: the manifest, then the key ceremony, every message over HTTP.
    fn key_ceremony(
        &self,
        text: &str,
        m: &Manifest,
        params: CeremonyParams,
    ) -> anyhow::Result<(Fingerprint, Shares)> {
        let (rt, api) = (self.rt, self.api);
        rt.block_on(commission::publish_manifest(api, text))?;
        commission::ceremony(rt, api, params, m.hash())
    }

    /// Registration: credentials are made on the devices; only public
    /// parts are sent. Then the lists are sealed and voting opens.
    fn register(&self, m: &Manifest, n: usize) -> anyhow::Result<Vec<CredentialKey>> {
        let (rt, api, c) = (self.rt, self.api, self.concurrency);
        let creds = commission::register_new_voters(rt, api, m, n, c, false)?;
        let schedule = m.schedule();
        self.server
            .clock
            .set(schedule.voting_opens.plus_seconds(600));
        rt.block_on(commission::admin(api, "/election/open", None))?;
        Ok(creds)
    }

    /// Devices: ballot style over HTTP, then encrypt + prove + sign.
    fn prepare_devices(
        &self,
        district_ids: &[String],
        creds: &[CredentialKey],
    ) -> anyhow::Result<Vec<devices::Device>> {
        let (rt, api, c) = (self.rt, self.api, self.concurrency);
        let n = creds.len();
        let styles = rt.block_on(devices::fetch_styles(api, district_ids, n, c))?;
        let pb = progress(n as u64, "devices encrypting", false);
        let devices = devices::prepare(creds, &styles, &pb)?;
        pb.finish_and_clear();
        Ok(devices)
    }

    /// Casting: audits, first ballots, then (after the re-vote interval)
    /// re-votes and the ballots that must be refused, while an observer
    /// reads the live turnout. Returns the casting, its outcome and how
    /// many times the turnout was read.
    fn cast(
        &self,
        checker: &ReceiptChecker,
        devices: Vec<devices::Device>,
    ) -> anyhow::Result<(Casting, cast::Outcome, u64)> {
        let (rt, api, c, server) = (self.rt, self.api, self.concurrency, self.server);
        let pb = progress(cast::total(&devices), "casting", false);
        let casting = Casting::new(api.clone(), checker.clone(), devices, pb.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let watcher = rt.spawn(watch_turnout(api.clone(), pb.clone(), stopped));
        let cast_result = rt.block_on(async {
            casting.audits(c).await?;
            casting.round(false, c).await?;
            server.clock.advance(MIN_REVOTE_INTERVAL * 2);
            casting.round(true, c).await
        });
        let _ = stop.send(());
        let reads = rt.block_on(watcher).context("the turnout watcher failed")?;
        pb.finish_and_clear();
        cast_result?;
        let reads = reads?;
        let outcome = casting.outcome();
        Ok((casting, outcome, reads))
    }

    /// The counts the server publishes must be what the devices did.
    fn check_turnout(&self, outcome: &cast::Outcome, n: usize) -> anyhow::Result<cast::Turnout> {
        let t = self.rt.block_on(turnout(self.api))?;
        ensure!(
            t.voted == n as u64
                && t.eligible == n as u64
                && t.ballots == outcome.accepted
                && t.audited == outcome.audited,
            "turnout {t:?} does not match {n} voters, {} ballots, {} audits",
            outcome.accepted,
            outcome.audited
        );
        Ok(t)
    }

    /// One ballot at the closing instant, and one after the close:
    /// refused; results before the tally: refused. Returns when the
    /// commission closed the election.
    fn refuse_late_ballots(
        &self,
        casting: &Casting,
        schedule: &urna_election::manifest::Schedule,
    ) -> anyhow::Result<Instant> {
        let (rt, api) = (self.rt, self.api);
        let late = casting
            .devices()
            .first()
            .and_then(|d| d.now.first())
            .context("no voters")?
            .bytes
            .clone();
        self.server.clock.set(schedule.voting_closes);
        let late_body = json!({ "ballot": hex::encode(&late) });
        let at_close = rt.block_on(api.post_json("/election/ballots", false, Some(&late_body)))?;
        expect_refusal(&at_close, StatusCode::FORBIDDEN, "outside_voting_window")?;
        let t_close = Instant::now();
        rt.block_on(commission::admin(api, "/election/close", None))?;
        let after = rt.block_on(api.post_json("/election/ballots", false, Some(&late_body)))?;
        expect_refusal(&after, StatusCode::FORBIDDEN, "voting_closed")?;
        let early = rt.block_on(api.get("/election/results"))?;
        expect_refusal(&early, StatusCode::CONFLICT, "results_not_published")?;
        Ok(t_close)
    }

    /// Receipts fetched again after the results verify against the final
    /// checkpoint; an unknown tracking code is refused. Returns how many
    /// were fetched.
    fn refetch_receipts(
        &self,
        checker: &ReceiptChecker,
        outcome: &cast::Outcome,
    ) -> anyhow::Result<usize> {
        let (rt, api) = (self.rt, self.api);
        let mut refetched = 0usize;
        for (tracking, kind, payload) in &outcome.sample {
            let r: Receipt = rt.block_on(api.get_ok(&format!("/receipt/{tracking}")))?;
            let ballot = if *kind == urna_board::EntryKind::AuditedBallot {
                urna_election::record::AuditedBallot::decode(payload)?.ballot_bytes
            } else {
                payload.clone()
            };
            checker.check(&r, *kind, payload, &ballot)?;
            refetched += 1;
        }
        let unknown = rt.block_on(api.get(&format!("/receipt/{}", "ab".repeat(32))))?;
        expect_refusal(&unknown, StatusCode::NOT_FOUND, "unknown_tracking_code")?;
        Ok(refetched)
    }
}

/// The results must be what the devices chose.
fn check_results(
    results: &report::Results,
    district_ids: &[String],
    casting: &Casting,
) -> anyhow::Result<()> {
    let mut expected = vec![[0u64; 2]; district_ids.len()];
    for d in casting.devices() {
        expected[d.district][usize::from(d.final_choice == 0)] += 1;
    }
    report::check(results, district_ids, &expected)
}

fn expect_refusal(r: &http_client::Reply, status: StatusCode, code: &str) -> anyhow::Result<()> {
    ensure!(
        r.status == status && r.error_code().as_deref() == Some(code),
        "expected {status} `{code}`, the server answered {} {}",
        r.status,
        r.text()
    );
    Ok(())
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
