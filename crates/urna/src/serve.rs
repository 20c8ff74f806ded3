//! `urna serve`: the board's public read API and the election API
//! (spec/api.md) over HTTP, from a data directory.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use urna_board::BoardSigningKey;
use urna_store::BoardStore;

/// Options of `urna serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeOpts {
    /// Data directory: holds `board.db` and the board key `board.key`
    /// (created on first use, readable by the owner only).
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Board origin (`<host>/<election-id>`, spec/board.md §B6.2), needed
    /// when the key is created; must match the key's name afterwards.
    #[arg(long)]
    pub origin: Option<String>,
    /// File holding the admin bearer token (first line) for the election
    /// admin endpoints (spec/api.md §A1.1); without it they are disabled.
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// Built web app to serve at `/` (voter pages, receipt check, turnout,
    /// results); build it with `npm --prefix web ci && npm --prefix web run build`.
    /// Not served when the directory has no `index.html`.
    #[arg(long, default_value = "web/dist")]
    pub web: PathBuf,
}

/// Reads the admin token: the first line of the file, which must not be empty.
fn admin_token(path: Option<&Path>) -> anyhow::Result<urna_server::election::AdminToken> {
    let Some(path) = path else {
        return Ok(urna_server::election::AdminToken::disabled());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        bail!("{} holds no admin token", path.display());
    }
    Ok(urna_server::election::AdminToken::new(token))
}

/// Reads the board key, or creates it on first use. The file holds the
/// origin and the 32-byte Ed25519 secret in hex, one per line.
pub(crate) fn board_key(path: &Path, origin: Option<&str>) -> anyhow::Result<BoardSigningKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut lines = text.lines();
            let (Some(name), Some(secret), None) = (lines.next(), lines.next(), lines.next())
            else {
                bail!("{} is not a board key file", path.display());
            };
            let secret: [u8; 32] = hex::decode(secret)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow!("{} holds a malformed secret", path.display()))?;
            if let Some(o) = origin
                && o != name
            {
                bail!(
                    "the board key in {} is for origin {name}, not {o}",
                    path.display()
                );
            }
            Ok(BoardSigningKey::from_secret_bytes(name, &secret)?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let origin = origin.ok_or_else(|| {
                anyhow!(
                    "no board key in {}: give --origin to create one",
                    path.display()
                )
            })?;
            let key = BoardSigningKey::generate(origin, &mut rand::rng())?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            writeln!(file, "{origin}\n{}", hex::encode(*key.to_secret_bytes()))?;
            file.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Runs the server until Ctrl-C.
pub fn run(opts: &ServeOpts) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data)
        .with_context(|| format!("creating {}", opts.data.display()))?;
    let key = board_key(&opts.data.join("board.key"), opts.origin.as_deref())?;
    let admin = admin_token(opts.admin_token_file.as_deref())?;
    let store = BoardStore::open_sqlite(opts.data.join("board.db"), key)
        .with_context(|| format!("opening the board in {}", opts.data.display()))?;
    let config = urna_server::ElectionConfig::new(admin);
    // Continue whatever election the board holds (spec/api.md §A6); a
    // board that does not replay exactly is a refusal to start.
    let (mut state, report) =
        urna_server::AppState::resume(store, config, &opts.data.join("server.journal"))
            .map_err(|e| anyhow!("refusing to start on {}: {e}", opts.data.display()))?;
    if opts.web.join("index.html").is_file() {
        eprintln!("urna: web app from {}", opts.web.display());
        state = state.with_web(opts.web.clone());
    } else {
        eprintln!(
            "urna: no web app ({} has no index.html)",
            opts.web.display()
        );
    }
    let store = state.store().clone();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("listening on {}", opts.listen))?;
        eprintln!(
            "urna: serving board {} (size {}) on http://{}\nurna: board key {}\nurna: election phase {} ({} ballots and audits replayed, {} registrations pending{})",
            store.origin(),
            store.size(),
            listener.local_addr()?,
            store.verifier_key(),
            report.phase,
            report.ballots,
            report.pending_registrations,
            if report.untimed > 0 {
                format!(", {} without a journalled time", report.untimed)
            } else {
                String::new()
            }
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        urna_server::serve(listener, state, shutdown).await?;
        Ok(())
    })
}
