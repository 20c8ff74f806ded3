//! `urna registry`: the election commission's registration tools on a
//! registry database (SQLite file, or PostgreSQL with `--postgres-url`):
//! import a region's voter registry, record paper votes, export signed
//! precinct lists, reconcile, report. spec/registration.md.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use urna_election::{Manifest, Timestamp};
use urna_registry::amendment::{Amendment, Change};
use urna_registry::import::RowReader;
use urna_registry::lists::{ListKind, ListSet};
use urna_registry::store::PostgresOptions;
use urna_registry::{CommissionSecret, Geography, Registry, synthetic};

/// Where the registry is.
#[derive(Debug, Clone, clap::Args)]
pub struct DbOpts {
    /// The SQLite registry database (created if missing).
    #[arg(long, required_unless_present = "postgres_url")]
    pub db: Option<PathBuf>,
    /// A PostgreSQL URL instead of `--db`.
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// The election manifest (TOML).
    #[arg(long)]
    pub manifest: PathBuf,
}

/// `urna registry …`
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RegistryCmd {
    /// Import one region's registry CSV (all or nothing).
    Import {
        #[command(flatten)]
        db: DbOpts,
        /// File holding the commission secret, 64 hex digits.
        #[arg(long)]
        secret_file: PathBuf,
        /// Region id of the manifest.
        #[arg(long)]
        region: String,
        /// The CSV file.
        file: PathBuf,
    },
    /// Write a synthetic registry CSV for trying things out.
    Generate {
        /// The election manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// Region id of the manifest.
        #[arg(long)]
        region: String,
        /// Voters.
        #[arg(long, default_value_t = 1000)]
        rows: u64,
        /// Output CSV.
        #[arg(long)]
        out: PathBuf,
    },
    /// Record a precinct's list of voters who voted on paper.
    Paper {
        #[command(flatten)]
        db: DbOpts,
        /// Precinct id.
        #[arg(long)]
        precinct: String,
        /// CSV with the single column `voter_id`.
        file: PathBuf,
    },
    /// Export signed per-precinct lists and print the hash for the board.
    Lists {
        #[command(flatten)]
        db: DbOpts,
        /// `approved-online` or `voted-online`.
        #[arg(long)]
        kind: String,
        /// File holding the commission's Ed25519 seed, 64 hex digits.
        #[arg(long)]
        key_file: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make the next signed amendment (spec/registration.md §G3) from a
    /// CSV of voters to add (the import format) and a CSV of removals
    /// (`voter_id,reason`), write it as a file for
    /// `POST /registration/admin/amendments`, and with `--apply` apply it
    /// to this registry too. Nothing is written if any row is refused.
    Amend {
        #[command(flatten)]
        db: DbOpts,
        /// File holding the commission secret (hashes the added voters'
        /// document numbers), 64 hex digits.
        #[arg(long)]
        secret_file: PathBuf,
        /// File holding the commission's Ed25519 seed, 64 hex digits.
        #[arg(long)]
        key_file: PathBuf,
        /// Voters to add, in the registry CSV format of `import`.
        #[arg(long, requires = "region")]
        adds: Option<PathBuf>,
        /// Region of the added voters.
        #[arg(long)]
        region: Option<String>,
        /// Voters to remove: CSV `voter_id,reason` with that header.
        #[arg(long)]
        removals: Option<PathBuf>,
        /// The signed amendment file to write.
        #[arg(long)]
        out: PathBuf,
        /// Also apply it to the registry given by `--db`/`--postgres-url`.
        #[arg(long)]
        apply: bool,
    },
    /// Voters who voted online and on paper.
    Reconcile {
        #[command(flatten)]
        db: DbOpts,
        /// File holding the commission secret, 64 hex digits: the
        /// registry keeps credentials sealed under a key derived from it
        /// (spec/registration.md §G4), needed when there are double votes.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Decisions per day, region and outcome.
    Report {
        #[command(flatten)]
        db: DbOpts,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp::from_unix(secs)
}

fn manifest(path: &Path) -> anyhow::Result<Manifest> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Manifest::from_bytes(&bytes).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn open(db: &DbOpts) -> anyhow::Result<(Registry, Manifest)> {
    let m = manifest(&db.manifest)?;
    let reg = match (&db.postgres_url, &db.db) {
        (Some(url), _) => Registry::open_postgres(url, &PostgresOptions::default()),
        (None, Some(path)) => Registry::open_sqlite(path),
        (None, None) => return Err(anyhow!("give --db or --postgres-url")),
    }
    .map_err(|e| anyhow!("{e}"))?;
    Ok((reg, m))
}

fn read_secret(path: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(zeroize::Zeroizing::new(text))
}

/// Runs a `urna registry` command.
pub fn run(cmd: &RegistryCmd) -> anyhow::Result<()> {
    match cmd {
        RegistryCmd::Import {
            db,
            secret_file,
            region,
            file,
        } => {
            let (reg, m) = open(db)?;
            let secret = CommissionSecret::from_hex(&read_secret(secret_file)?)
                .map_err(|e| anyhow!("{e}"))?;
            let name = file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            let input = BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
            );
            let t = std::time::Instant::now();
            let s = reg
                .import_csv(&name, region, &Geography::of(&m), &secret, input, now())
                .map_err(|e| anyhow!("{e}"))?;
            let (v, h) = reg.head().map_err(|e| anyhow!("{e}"))?;
            println!(
                "imported {} voters of region {} from {name} in {:.1} s\nfile sha256 {}\nregistry version {v}, hash {}",
                s.rows,
                s.region,
                t.elapsed().as_secs_f64(),
                hex::encode(s.sha256),
                hex::encode(h)
            );
        }
        RegistryCmd::Generate {
            manifest: path,
            region,
            rows,
            out,
        } => {
            let m = manifest(path)?;
            let r = m
                .regions()
                .iter()
                .find(|r| &r.id == region)
                .ok_or_else(|| anyhow!("no region `{region}` in the manifest"))?;
            let precincts: Vec<String> = r
                .districts
                .iter()
                .flat_map(|&d| m.districts()[d].precincts.iter())
                .map(|&p| m.precincts()[p].id.clone())
                .collect();
            let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
            synthetic::write_registry_csv(&mut w, region, *rows, &precincts, 2020)?;
            std::io::Write::flush(&mut w)?;
            println!(
                "wrote {rows} synthetic voters of {region} to {}",
                out.display()
            );
        }
        RegistryCmd::Paper { db, precinct, file } => {
            let (reg, m) = open(db)?;
            let name = file.display().to_string();
            let input = std::fs::File::open(file).with_context(|| format!("opening {name}"))?;
            let n = reg
                .import_paper_votes(&name, precinct, &Geography::of(&m), input)
                .map_err(|e| anyhow!("{e}"))?;
            println!("recorded {n} paper votes of precinct {precinct}");
        }
        RegistryCmd::Lists {
            db,
            kind,
            key_file,
            out,
        } => {
            let (reg, m) = open(db)?;
            let kind = match kind.as_str() {
                "approved-online" => ListKind::ApprovedOnline,
                "voted-online" => ListKind::VotedOnline,
                other => return Err(anyhow!("--kind `{other}`: approved-online or voted-online")),
            };
            let key = urna_registry::secret::signing_key_from_hex(&read_secret(key_file)?)
                .map_err(|e| anyhow!("{e}"))?;
            let precincts: Vec<String> = m.precincts().iter().map(|p| p.id.clone()).collect();
            let rows = reg.list_rows(kind).map_err(|e| anyhow!("{e}"))?;
            let set =
                ListSet::build(m.id(), kind, &precincts, rows, &key).map_err(|e| anyhow!("{e}"))?;
            set.write_to(out).map_err(|e| anyhow!("{e}"))?;
            let total: u64 = set.counts.iter().map(|(_, n)| n).sum();
            println!(
                "{}: {total} voters in {} precinct files under {}\nlist hash (for the board) {}\ncommission key {}",
                kind.name(),
                set.files.len(),
                out.display(),
                hex::encode(set.hash()),
                hex::encode(key.verifying_key().as_bytes())
            );
        }
        RegistryCmd::Amend {
            db,
            secret_file,
            key_file,
            adds,
            region,
            removals,
            out,
            apply,
        } => amend(
            db,
            &AmendFiles {
                secret_file,
                key_file,
                adds: adds.as_deref().zip(region.as_deref()),
                removals: removals.as_deref(),
                out,
                apply: *apply,
            },
        )?,
        RegistryCmd::Reconcile { db, secret_file } => {
            let (mut reg, m) = open(db)?;
            if let Some(f) = secret_file {
                let secret =
                    CommissionSecret::from_hex(&read_secret(f)?).map_err(|e| anyhow!("{e}"))?;
                reg = reg.with_credential_key(secret.credential_key());
            }
            let both = reg.double_votes().map_err(|e| anyhow!("{e}"))?;
            println!(
                "{} voters voted online and on paper (policy {:?})",
                both.len(),
                m.paper_policy()
            );
            for d in &both {
                println!(
                    "  {}  precinct {}  credential {}",
                    d.voter_id,
                    d.precinct,
                    hex::encode(d.credential)
                );
            }
        }
        RegistryCmd::Report { db, json } => {
            let (reg, _) = open(db)?;
            let rows = reg.report().map_err(|e| anyhow!("{e}"))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in &rows {
                    let region = if r.region.is_empty() { "-" } else { &r.region };
                    println!("{}  {:<8} {:<30} {}", r.day, region, r.outcome, r.count);
                }
            }
        }
    }
    Ok(())
}

struct AmendFiles<'a> {
    secret_file: &'a Path,
    key_file: &'a Path,
    adds: Option<(&'a Path, &'a str)>,
    removals: Option<&'a Path>,
    out: &'a Path,
    apply: bool,
}

fn amend(db: &DbOpts, f: &AmendFiles<'_>) -> anyhow::Result<()> {
    let (reg, m) = open(db)?;
    let geography = Geography::of(&m);
    let secret =
        CommissionSecret::from_hex(&read_secret(f.secret_file)?).map_err(|e| anyhow!("{e}"))?;
    let key = urna_registry::secret::signing_key_from_hex(&read_secret(f.key_file)?)
        .map_err(|e| anyhow!("{e}"))?;
    let mut changes = Vec::new();
    if let Some((path, region)) = f.adds {
        if !geography.has_region(region) {
            return Err(anyhow!(
                "--region `{region}` is not a region of the manifest"
            ));
        }
        let input =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let name = path.display().to_string();
        for row in RowReader::new(&name, region, &geography, &secret, BufReader::new(input)) {
            let (_, record) = row.map_err(|e| anyhow!("{e}"))?;
            changes.push(Change::Add(record));
        }
    }
    if let Some(path) = f.removals {
        changes.extend(read_removals(path)?);
    }
    if changes.is_empty() {
        return Err(anyhow!(
            "nothing to amend: give --adds/--region or --removals"
        ));
    }
    let (version, previous) = reg.head().map_err(|e| anyhow!("{e}"))?;
    let signed = Amendment {
        version: version + 1,
        previous,
        time: now(),
        changes,
    }
    .sign(&key)
    .map_err(|e| anyhow!("{e}"))?;
    if f.apply {
        reg.apply_amendment(&signed, &key.verifying_key(), &geography, now())
            .map_err(|e| anyhow!("{e}"))?;
    }
    std::fs::write(f.out, signed.to_file())
        .with_context(|| format!("writing {}", f.out.display()))?;
    let n = Amendment::decode(&signed.bytes)
        .map_err(|e| anyhow!("{e}"))?
        .changes
        .len();
    println!(
        "amendment version {} ({n} changes) chained to {}\nhash {}\nwritten to {}{}",
        version + 1,
        hex::encode(previous),
        hex::encode(signed.hash()),
        f.out.display(),
        if f.apply {
            "; applied to the registry"
        } else {
            ""
        }
    );
    Ok(())
}

/// The removals CSV: header `voter_id,reason`, then one row per voter;
/// errors name the file and line.
fn read_removals(path: &Path) -> anyhow::Result<Vec<Change>> {
    let name = path.display().to_string();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .with_context(|| format!("opening {name}"))?;
    let mut out = Vec::new();
    for (i, row) in csv.records().enumerate() {
        let line = i + 1;
        let row = row.map_err(|e| anyhow!("{name}:{line}: {e}"))?;
        let fields: Vec<&str> = row.iter().collect();
        if line == 1 {
            if fields != ["voter_id", "reason"] {
                return Err(anyhow!("{name}:1: the header must be `voter_id,reason`"));
            }
            continue;
        }
        match fields.as_slice() {
            [id, reason] if !id.is_empty() && !reason.trim().is_empty() => {
                out.push(Change::Remove {
                    voter_id: (*id).to_string(),
                    reason: (*reason).to_string(),
                })
            }
            _ => {
                return Err(anyhow!(
                    "{name}:{line}: expected a voter id and a non-empty reason"
                ));
            }
        }
    }
    Ok(out)
}
