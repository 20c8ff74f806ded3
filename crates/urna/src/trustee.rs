//! `urna trustee …`: what a trustee runs on its own offline machine
//! (spec/trustee.md). Thin glue over `urna-trustee`: arguments, the
//! passphrase, reading and writing payload files.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use urna_crypto::dkg::CeremonyParams;
use urna_election::Manifest;
use urna_trustee::Zeroizing;
use urna_trustee::ops::{self, Expect};
use urna_trustee::payloads::{
    self, KIND_ADMIN_ACTION, KIND_PARTIAL_DECRYPTION, KIND_TRUSTEE_CEREMONY,
};
use urna_trustee::store::INSECURE_FAST_KDF_ENV;
use urna_trustee::{KdfParams, Passphrase};

#[path = "trustee_remote.rs"]
mod remote;
use remote::{Remote, ServerOpts};

/// The environment variable holding the passphrase.
const PASSPHRASE_ENV: &str = "URNA_TRUSTEE_PASSPHRASE";

/// `urna trustee` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TrusteeCmd {
    /// Create the encrypted key store and the round 1 message (spec §8.2).
    Init(InitOpts),
    /// Seal shares to the other participants: the round 2 message (spec §8.3).
    Deal(DealOpts),
    /// Check the shares received; write complaints (usually none) (spec §8.4–§8.5).
    Receive(ReceiveOpts),
    /// Settle the ceremony and store the key share (spec §8.6).
    Finish(FinishOpts),
    /// Partially decrypt the published encrypted tally, with proofs (spec §9.1).
    Decrypt(DecryptOpts),
    /// Print the store's public information.
    Show(ShowOpts),
}

/// Where the passphrase comes from: `URNA_TRUSTEE_PASSPHRASE` or a file
/// (never a command-line argument, which other users can see).
#[derive(Debug, clap::Args)]
pub struct PassOpts {
    /// Read the passphrase from this file (first line; otherwise the
    /// URNA_TRUSTEE_PASSPHRASE environment variable).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

/// `init`.
#[derive(Debug, clap::Args)]
pub struct InitOpts {
    /// The election manifest (TOML); with --server, taken from the server
    /// (and, if given too, required to be the same bytes).
    #[arg(long, required_unless_present = "server")]
    manifest: Option<PathBuf>,
    /// This trustee's index, 1..=n.
    #[arg(long)]
    index: u16,
    /// Number of trustees (default: the manifest's [trustees] n).
    #[arg(long)]
    n: Option<u16>,
    /// Threshold (default: the manifest's [trustees] t).
    #[arg(long)]
    t: Option<u16>,
    /// The key store to create (never overwritten).
    #[arg(long)]
    store: PathBuf,
    /// Where to write the round 1 payload.
    #[arg(long, default_value = "round1.msg")]
    out: PathBuf,
    #[command(flatten)]
    server: ServerOpts,
    #[command(flatten)]
    pass: PassOpts,
}

/// `deal`.
#[derive(Debug, clap::Args)]
pub struct DealOpts {
    /// The key store.
    #[arg(long)]
    store: PathBuf,
    /// Every published round 1 payload (files or folders; this trustee's own included).
    #[arg(long, num_args = 1.., required_unless_present = "server")]
    round1: Vec<PathBuf>,
    /// Where to write the round 2 payload.
    #[arg(long, default_value = "round2.msg")]
    out: PathBuf,
    #[command(flatten)]
    server: ServerOpts,
    #[command(flatten)]
    pass: PassOpts,
}

/// `receive`.
#[derive(Debug, clap::Args)]
pub struct ReceiveOpts {
    /// The key store.
    #[arg(long)]
    store: PathBuf,
    /// Every published round 2 payload (files or folders).
    #[arg(long, num_args = 1.., required_unless_present = "server")]
    round2: Vec<PathBuf>,
    /// Where to write this trustee's complaints (an empty list when all shares are good).
    #[arg(long, default_value = "complaints.msg")]
    out: PathBuf,
    #[command(flatten)]
    server: ServerOpts,
    #[command(flatten)]
    pass: PassOpts,
}

/// `finish`.
#[derive(Debug, clap::Args)]
pub struct FinishOpts {
    /// The key store.
    #[arg(long)]
    store: PathBuf,
    /// Every published complaint file (files or folders; may be empty lists).
    #[arg(long, num_args = 0..)]
    complaints: Vec<PathBuf>,
    #[command(flatten)]
    server: ServerOpts,
    #[command(flatten)]
    pass: PassOpts,
}

/// `decrypt`.
#[derive(Debug, clap::Args)]
pub struct DecryptOpts {
    /// The key store.
    #[arg(long)]
    store: PathBuf,
    /// The encrypted tally payload(s) (spec/record.md §R10), in chunk order.
    #[arg(long, num_args = 1.., required_unless_present = "server")]
    tally: Vec<PathBuf>,
    /// The election manifest: its hash must be the store's and the tally must have its shape.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// The published election fingerprint (64 hex digits).
    #[arg(long)]
    fingerprint: Option<String>,
    /// Where to write the partial decryption payloads (spec/record.md §R11).
    #[arg(long, default_value = "partials.msg")]
    out: PathBuf,
    #[command(flatten)]
    server: ServerOpts,
    #[command(flatten)]
    pass: PassOpts,
}

/// `show`.
#[derive(Debug, clap::Args)]
pub struct ShowOpts {
    /// The key store.
    #[arg(long)]
    store: PathBuf,
    #[command(flatten)]
    pass: PassOpts,
}

fn passphrase(opts: &PassOpts) -> anyhow::Result<Passphrase> {
    let mut bytes = Zeroizing::new(Vec::new());
    if let Some(path) = &opts.passphrase_file {
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("reading the passphrase file {}", path.display()))?;
        // The first line: drop one trailing "\n" or "\r\n".
        if let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            bytes.truncate(end);
        }
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    } else if let Some(v) = std::env::var_os(PASSPHRASE_ENV) {
        let s = Zeroizing::new(
            v.into_string()
                .map_err(|_| anyhow::anyhow!("{PASSPHRASE_ENV} is not valid UTF-8"))?,
        );
        bytes.extend_from_slice(s.as_bytes());
    } else {
        bail!("no passphrase: set {PASSPHRASE_ENV} or pass --passphrase-file FILE");
    }
    Ok(Passphrase::new(bytes)?)
}

/// The KDF costs for a new store: the default, or the insecure fast ones
/// for tests when `URNA_TRUSTEE_INSECURE_FAST_KDF_FOR_TESTS=1` in a debug build.
fn kdf_params() -> anyhow::Result<KdfParams> {
    match std::env::var(INSECURE_FAST_KDF_ENV).ok().as_deref() {
        None | Some("") | Some("0") => Ok(KdfParams::DEFAULT),
        Some(_) if cfg!(debug_assertions) => {
            eprintln!(
                "urna trustee: WARNING: {INSECURE_FAST_KDF_ENV} is set: the store's passphrase is protected by an INSECURE, fast key derivation (tests only)"
            );
            Ok(KdfParams::INSECURE_FAST)
        }
        Some(_) => bail!(
            "{INSECURE_FAST_KDF_ENV} is set, but this is a release build: refusing the insecure key derivation (it exists for tests only)"
        ),
    }
}

fn write_out(path: &Path, kind: u16, payloads: &[Vec<u8>]) -> anyhow::Result<()> {
    let bytes = payloads::encode(kind, payloads)?;
    urna_trustee::store::write_atomic(path, &bytes, &mut rand::rng())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {} ({} payload(s))", path.display(), payloads.len());
    Ok(())
}

/// This store's trustee index (to name the trustee to the server).
fn own_index(store: &Path, pass: &Passphrase) -> anyhow::Result<u16> {
    Ok(ops::show(store, pass)?.index)
}

/// Runs one `urna trustee` command.
pub fn run(cmd: &TrusteeCmd) -> anyhow::Result<()> {
    match cmd {
        TrusteeCmd::Init(o) => init(o),
        TrusteeCmd::Deal(o) => deal(o),
        TrusteeCmd::Receive(o) => receive(o),
        TrusteeCmd::Finish(o) => finish(o),
        TrusteeCmd::Decrypt(o) => decrypt(o),
        TrusteeCmd::Show(o) => show(o),
    }
}

/// `init`: the manifest (the server's, which a local copy must match),
/// the new key store (spec/trustee.md §T2) and the round 1 message
/// (spec/crypto.md §8.2).
fn init(o: &InitOpts) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let pass = passphrase(&o.pass)?;
    let server = Remote::from_opts(&o.server)?;
    let local = match &o.manifest {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let manifest = match (&server, local) {
        (Some(r), local) => {
            let published = r.manifest()?;
            if let Some(l) = local
                && l != published
            {
                bail!(
                    "the manifest given differs from the one the server publishes: refusing to take part"
                );
            }
            published
        }
        (None, Some(l)) => l,
        (None, None) => bail!("give --manifest FILE or --server URL"),
    };
    let params = match (o.n, o.t) {
        (Some(n), Some(t)) => Some(CeremonyParams::new(n, t)?),
        (None, None) => None,
        _ => bail!("give both --n and --t, or neither (the manifest's [trustees])"),
    };
    let payload = ops::init(
        &o.store,
        &pass,
        kdf_params()?,
        &manifest,
        o.index,
        params,
        &mut rng,
    )?;
    println!("created key store {}", o.store.display());
    match server {
        Some(r) => r.post_ceremony(o.index, &[payload]),
        None => write_out(&o.out, KIND_TRUSTEE_CEREMONY, &[payload]),
    }
}

/// `deal`: the round 2 message, sealed shares to every trustee
/// (spec/crypto.md §8.3); over the server, after every round 1 (§T5).
fn deal(o: &DealOpts) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let pass = passphrase(&o.pass)?;
    let server = Remote::from_opts(&o.server)?;
    let inputs = match &server {
        // Every trustee's round 1 first: dealing to fewer would
        // leave the late ones without shares (spec §8.3).
        Some(r) => {
            r.ceremony_when(
                "not every trustee's round 1 message is on the board yet",
                |c| c.count(1) >= usize::from(c.n),
            )?
            .payloads
        }
        None => payloads::read_inputs(&o.round1, KIND_TRUSTEE_CEREMONY)?,
    };
    let payload = ops::deal(&o.store, &pass, &inputs, &mut rng)?;
    match server {
        Some(r) => r.post_ceremony(own_index(&o.store, &pass)?, &[payload]),
        None => write_out(&o.out, KIND_TRUSTEE_CEREMONY, &[payload]),
    }
}

/// `receive`: checks the shares received and publishes complaints, usually
/// none (spec/crypto.md §8.4–§8.5).
fn receive(o: &ReceiveOpts) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let pass = passphrase(&o.pass)?;
    let server = Remote::from_opts(&o.server)?;
    let inputs = match &server {
        Some(r) => {
            r.ceremony_when(
                "not every trustee's round 2 message is on the board yet",
                |c| c.count(2) >= usize::from(c.n),
            )?
            .payloads
        }
        None => payloads::read_inputs(&o.round2, KIND_TRUSTEE_CEREMONY)?,
    };
    let complaints = ops::receive(&o.store, &pass, &inputs, &mut rng)?;
    if !complaints.is_empty() {
        eprintln!(
            "urna trustee: {} share(s) failed the check: publish the complaints",
            complaints.len()
        );
    }
    match server {
        Some(r) => {
            r.post_ceremony(own_index(&o.store, &pass)?, &complaints)?;
            println!("{} complaint(s) posted", complaints.len());
            Ok(())
        }
        None => write_out(&o.out, KIND_TRUSTEE_CEREMONY, &complaints),
    }
}

/// `finish`: settles the ceremony and stores the key share (spec/crypto.md §8.6);
/// the joint key the server published must be the one computed here.
fn finish(o: &FinishOpts) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let pass = passphrase(&o.pass)?;
    let server = Remote::from_opts(&o.server)?;
    let (inputs, published) = match &server {
        // The admin closes the complaint round by finishing the
        // ceremony on the server: then every complaint is on the board.
        Some(r) => {
            let c = r.ceremony_when(
                "the ceremony is not finished on the server yet (no joint key)",
                |c| c.joint_key.is_some(),
            )?;
            (c.payloads, c.joint_key)
        }
        None => (
            payloads::read_inputs(&o.complaints, KIND_TRUSTEE_CEREMONY)?,
            None,
        ),
    };
    let report = ops::finish(&o.store, &pass, &inputs, &mut rng)?;
    println!("{report}");
    if let Some(k) = published
        && k != report.joint_key.to_hex()
    {
        bail!(
            "the joint key the server published ({k}) is not the one this trustee computed ({}): do not use this election",
            report.joint_key.to_hex()
        );
    }
    Ok(())
}

/// `decrypt`: partial decryptions of the published encrypted tally, with
/// proofs (spec/crypto.md §9.1), checked against the manifest and fingerprint.
fn decrypt(o: &DecryptOpts) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let pass = passphrase(&o.pass)?;
    let manifest = match &o.manifest {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                Manifest::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let fingerprint = match &o.fingerprint {
        Some(h) => {
            let v = hex::decode(h).context("--fingerprint: not hex")?;
            Some(
                <[u8; 32]>::try_from(v.as_slice())
                    .map_err(|_| anyhow::anyhow!("--fingerprint: need 64 hex digits"))?,
            )
        }
        None => None,
    };
    let server = Remote::from_opts(&o.server)?;
    let (inputs, manifest, fingerprint) = match &server {
        // The tally, the manifest (for the shape check) and the
        // fingerprint as the server publishes them; a fingerprint
        // given on the command line must agree.
        Some(r) => {
            let published = r.fingerprint()?;
            if let Some(f) = fingerprint
                && f != published
            {
                bail!("--fingerprint differs from the fingerprint the server publishes");
            }
            let m = Manifest::from_bytes(&r.manifest()?)
                .map_err(|e| anyhow::anyhow!("the server's manifest: {e}"))?;
            (r.tally()?, Some(m), Some(published))
        }
        None => (
            payloads::read_inputs(&o.tally, KIND_ADMIN_ACTION)?,
            manifest,
            fingerprint,
        ),
    };
    let expect = Expect {
        fingerprint,
        manifest: manifest.as_ref(),
    };
    let out = ops::decrypt(&o.store, &pass, &inputs, &expect, &mut rng)?;
    match server {
        Some(r) => r.post_partials(own_index(&o.store, &pass)?, &out),
        None => write_out(&o.out, KIND_PARTIAL_DECRYPTION, &out),
    }
}

/// `show`: the store's public information.
fn show(o: &ShowOpts) -> anyhow::Result<()> {
    let pass = passphrase(&o.pass)?;
    println!("{}", ops::show(&o.store, &pass)?);
    Ok(())
}
