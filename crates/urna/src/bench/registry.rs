//! `urna bench registry`: importing a region's voter registry (CSV, keyed
//! document hashes, one transaction) and screening applications, on SQLite
//! (and PostgreSQL with `--postgres-url`).

use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, anyhow};
use urna_election::{Manifest, Timestamp};
use urna_registry::screening::{Application, Decision, Rules};
use urna_registry::store::PostgresOptions;
use urna_registry::{CommissionSecret, Geography, RegistrationConfig, Registry, synthetic};

use super::report::Report;

/// The 2020 manifest (Moscow and Nizhny Novgorod) gives the precincts.
const MANIFEST: &[u8] = include_bytes!("../../../../examples/moscow-2020-constitution.toml");

const CONFIG: &[u8] = b"participating_regions = [\"msk\"]\naccount_cutoff = \"2020-06-01\"\nmax_applicants_per_phone = 3\nreport_utc_offset_minutes = 180\n";

/// Options of `urna bench registry`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryBench {
    /// Voters in the imported registry file.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Applications screened (each one a durable transaction).
    #[arg(long, default_value_t = 2_000)]
    pub applications: u64,
    /// Directory for the CSV file and the database (default: a temporary
    /// directory, removed afterwards). It should be on the disk the
    /// registry will use.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also measure PostgreSQL at this URL (a fresh schema, dropped after).
    #[arg(long)]
    pub postgres_url: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the bench.
pub fn run(opts: &RegistryBench) -> anyhow::Result<Report> {
    let manifest = Manifest::from_bytes(MANIFEST).map_err(|e| anyhow!("manifest: {e}"))?;
    let geography = Geography::of(&manifest);
    let config = RegistrationConfig::from_bytes(CONFIG).map_err(|e| anyhow!("{e}"))?;
    let rules = Rules::new(config, &manifest).map_err(|e| anyhow!("{e}"))?;
    let secret = CommissionSecret::random();
    let tmp = tempfile::tempdir()?;
    let dir = opts.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let precincts: Vec<String> = manifest.regions()[0]
        .districts
        .iter()
        .flat_map(|&d| manifest.districts()[d].precincts.iter())
        .map(|&p| manifest.precincts()[p].id.clone())
        .collect();

    let mut report = Report::new(
        "registry",
        serde_json::json!({ "rows": opts.rows, "applications": opts.applications }),
    );
    let csv = dir.join("registry-msk.csv");
    {
        let mut w = BufWriter::new(std::fs::File::create(&csv)?);
        synthetic::write_registry_csv(&mut w, "msk", opts.rows, &precincts, 2020)?;
        std::io::Write::flush(&mut w)?;
    }
    let bytes = std::fs::metadata(&csv)?.len();
    report.add(
        "csv_mib",
        "registry file size",
        bytes as f64 / (1024.0 * 1024.0),
        "MiB",
    );

    let now = Timestamp::parse_rfc3339("2020-06-10T12:00:00+03:00").map_err(|e| anyhow!(e))?;
    let db = dir.join("registry.db");
    let _ = std::fs::remove_file(&db);
    let sqlite = Registry::open_sqlite(&db).map_err(|e| anyhow!("{e}"))?;
    measure(
        &mut report,
        "sqlite",
        &sqlite,
        opts,
        &csv,
        &geography,
        &secret,
        &rules,
        &precincts,
        now,
    )?;
    let db_bytes = std::fs::metadata(&db)?.len();
    report.add(
        "sqlite_db_mib",
        "sqlite: database size after import",
        db_bytes as f64 / (1024.0 * 1024.0),
        "MiB",
    );

    if let Some(url) = &opts.postgres_url {
        let schema = format!("urna_bench_{}", std::process::id());
        let pg = Registry::open_postgres(url, &PostgresOptions::with_schema(&schema))
            .map_err(|e| anyhow!("{e}"))?;
        let r = measure(
            &mut report,
            "postgres",
            &pg,
            opts,
            &csv,
            &geography,
            &secret,
            &rules,
            &precincts,
            now,
        );
        drop(pg);
        let dropped = urna_registry::store::drop_postgres_schema(url, &schema);
        r?;
        dropped.map_err(|e| anyhow!("{e}"))?;
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn measure(
    report: &mut Report,
    name: &str,
    reg: &Registry,
    opts: &RegistryBench,
    csv: &std::path::Path,
    geography: &Geography,
    secret: &CommissionSecret,
    rules: &Rules,
    precincts: &[String],
    now: Timestamp,
) -> anyhow::Result<()> {
    let input = BufReader::with_capacity(1 << 20, std::fs::File::open(csv)?);
    let t = Instant::now();
    let summary = reg
        .import_csv("registry-msk.csv", "msk", geography, secret, input, now)
        .map_err(|e| anyhow!("{e}"))?;
    let secs = t.elapsed().as_secs_f64();
    if summary.rows != opts.rows {
        return Err(anyhow!("imported {} rows of {}", summary.rows, opts.rows));
    }
    report.add(
        &format!("{name}_import_s"),
        &format!("{name}: import {} voters (one transaction)", opts.rows),
        secs,
        "s",
    );
    report.add(
        &format!("{name}_import_rows_per_s"),
        &format!("{name}: import rate"),
        opts.rows as f64 / secs.max(1e-9),
        "rows/s",
    );

    // Applications from voters spread over the file, each with its own
    // phone: all approved, each a committed (durable) transaction.
    let n = opts.applications.min(opts.rows);
    let step = (opts.rows / n.max(1)).max(1);
    let apps: Vec<Application> = (0..n)
        .map(|k| {
            let v = synthetic::voter("msk", k * step, precincts, 2020);
            Application::new(secret, &v[1], &v[2], &v[3], &v[4], None)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("{e}"))?;
    let t = Instant::now();
    for a in &apps {
        let (d, _) = reg.apply(rules, a, now).map_err(|e| anyhow!("{e}"))?;
        // Synthetic accounts may be created after the cutoff; anything
        // else means the bench is measuring the wrong path.
        if !matches!(
            d,
            Decision::Approved
                | Decision::Refused(urna_registry::screening::Reason::AccountCreatedAfterCutoff)
        ) {
            return Err(anyhow!("unexpected decision {}", d.code()));
        }
    }
    let secs = t.elapsed().as_secs_f64();
    report.add(
        &format!("{name}_applications_per_s"),
        &format!("{name}: applications screened and recorded (durable, 1 client)"),
        n as f64 / secs.max(1e-9),
        "/s",
    );
    let count = reg.voter_count().context("counting voters")?;
    if count != opts.rows {
        return Err(anyhow!(
            "{count} voters in the registry, {} imported",
            opts.rows
        ));
    }
    Ok(())
}
