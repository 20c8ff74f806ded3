//! `urna serve --postgres URL`: the board in PostgreSQL, shared by
//! several servers, one of which sequences at a time (spec/api.md §A9,
//! docs/decisions/0017-cluster-sequencer.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use urna_server::cluster::{ClusterConfig, Node, Opening};
use urna_store::{BoardStore, PostgresBackend, PostgresOptions, StoreOptions};

use super::ServeOpts;

/// Options of several servers on one PostgreSQL database.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterOpts {
    /// Keep the board (and the sequencer lease) in this PostgreSQL
    /// database (`postgres://user@host:port/db`) instead of `DATA/board.db`;
    /// any number of `urna serve` may share it, one sequencing at a time.
    /// DATA then holds the board key and admin token (the same files on
    /// every server) and this server's journal.
    #[arg(long, value_name = "URL", requires = "cluster_secret_file")]
    pub postgres: Option<String>,
    /// Use (and create) this schema of the database (a-z, 0-9, _).
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub postgres_schema: Option<String>,
    /// File holding the secret the servers share (first line, at least 32
    /// characters) authenticating the ballots they forward to the sequencer.
    #[arg(long, value_name = "FILE", requires = "postgres")]
    pub cluster_secret_file: Option<PathBuf>,
    /// The base URL where the other servers reach this one [default:
    /// `http://LISTEN-ADDRESS`].
    #[arg(long, value_name = "URL", requires = "postgres")]
    pub advertise: Option<String>,
    /// Seconds a sequencer lease lasts without renewal: how long a dead
    /// sequencer holds the board before another server takes it over.
    #[arg(long, value_name = "SECONDS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub lease_ttl: u64,
}

fn secret(path: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let line = zeroize::Zeroizing::new(text.lines().next().unwrap_or("").trim().to_owned());
    if line.len() < 32 {
        bail!(
            "{} must hold the cluster secret: at least 32 characters on its first line",
            path.display()
        );
    }
    Ok(line)
}

/// Runs one server of the cluster until Ctrl-C.
pub fn run(opts: &ServeOpts, url: &str) -> anyhow::Result<()> {
    let c = &opts.cluster;
    if opts.registration.registration.is_some() {
        bail!("--registration is not served with --postgres yet (one server per registry)");
    }
    if opts.observers.observers.is_some() {
        bail!("--observers is not served with --postgres yet");
    }
    let secret_path = c
        .cluster_secret_file
        .as_deref()
        .ok_or_else(|| anyhow!("--postgres needs --cluster-secret-file"))?;
    let secret = secret(secret_path)?;
    let token_file = super::prepare_folder(opts)?;
    let key = super::board_key(&opts.data.join("board.key"), opts.origin.as_deref())?;
    let admin = super::admin_token(token_file.as_deref())?;
    let mut pg = PostgresOptions::default();
    pg.schema.clone_from(&c.postgres_schema);
    let web = opts
        .web
        .join("index.html")
        .is_file()
        .then(|| opts.web.clone());
    let limits = opts.limits.limits();
    let data = opts.data.clone();
    let open = {
        let (url, pg, key) = (url.to_owned(), pg.clone(), key.clone());
        Arc::new(move |opening: Opening| {
            let mut pg = pg.clone();
            // A replica's store can never append: no lease has this epoch.
            pg.lease_epoch = Some(match opening {
                Opening::Sequencer(epoch) => epoch,
                Opening::Replica => i64::MIN,
            });
            let backend = PostgresBackend::open(&url, &pg).map_err(|e| e.to_string())?;
            let store = BoardStore::open(backend, key.clone(), StoreOptions::default())
                .map_err(|e| format!("opening the board: {e}"))?;
            let journal = match opening {
                Opening::Sequencer(_) => data.join("server.journal"),
                Opening::Replica => {
                    let p = data.join("replica.journal");
                    let _ = std::fs::remove_file(&p);
                    p
                }
            };
            let mut config = urna_server::ElectionConfig::new(admin.clone());
            config.partial_journal = true;
            if opening == Opening::Replica {
                // Only the sequencer stores snapshots (a replica never appends).
                config.snapshot_every = 0;
            }
            let (mut state, _) = urna_server::AppState::builder(store, config)
                .resume(&journal)
                .map_err(|e| format!("the board does not replay: {e}"))?;
            if let Some(dir) = &web {
                state = state.with_web(dir.clone());
            }
            Ok(state.with_limits(limits))
        })
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("listening on {}", opts.listen))?;
        let addr = listener.local_addr()?;
        let advertise = c
            .advertise
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let node = Node::new(ClusterConfig {
            url: url.to_owned(),
            postgres: pg,
            secret,
            advertise: advertise.clone(),
            lease_ttl: Duration::from_secs(c.lease_ttl),
            open,
        });
        node.start()?;
        eprintln!(
            "urna: cluster server {} for board {} (key {}) on PostgreSQL; advertised as {advertise}",
            node.holder(),
            key.name(),
            key.verifier_key()
        );
        eprintln!("urna: serving on http://{addr}");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        urna_server::limits::serve(listener, node.router(), limits, shutdown).await?;
        Ok(())
    })
}
