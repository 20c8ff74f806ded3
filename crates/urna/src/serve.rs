//! `urna serve`: the board's public read API and the election API
//! (spec/api.md) over HTTP, from a data directory; with `--registration`
//! also voter registration (spec/registration.md §G9).

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use urna_board::BoardSigningKey;
use urna_election::Manifest;
use urna_registry::notify::{Channels, Notifier, Outbox, Webhook};
use urna_registry::screening::Rules;
use urna_registry::store::PostgresOptions;
use urna_registry::{CommissionSecret, RegistrationConfig, Registry};
use urna_server::registration::RegistrationService;
use urna_store::BoardStore;

#[path = "serve_cluster.rs"]
mod cluster;
#[path = "serve_hardening.rs"]
mod hardening;

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
    /// Board origin (`<host>/<election-id>`, spec/board.md §B6.2), used
    /// when the key is created [default then: `localhost/<folder name>`];
    /// must match the key's name afterwards.
    #[arg(long)]
    pub origin: Option<String>,
    /// File holding the admin bearer token (first line) for the election
    /// admin endpoints (spec/api.md §A1.1) [default: `DATA/admin.token`,
    /// created with the folder]; without a token they are disabled.
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
    /// Built web app to serve at `/` (voter pages, receipt check, turnout,
    /// results); build it with `npm --prefix web ci && npm --prefix web run build`.
    /// Not served when the directory has no `index.html`.
    #[arg(long, default_value = "web/dist")]
    pub web: PathBuf,
    #[command(flatten)]
    pub registration: RegistrationOpts,
    #[command(flatten)]
    pub limits: hardening::LimitOpts,
    #[command(flatten)]
    pub observers: hardening::ObserverOpts,
    /// Log lines on standard error: `text`, or `json` (one object per
    /// line); `RUST_LOG` filters them (default `info`: one line per request).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: crate::logs::LogFormat,
    #[command(flatten)]
    pub cluster: cluster::ClusterOpts,
}

/// Voter registration options of `urna serve` (spec/registration.md §G9).
#[derive(Debug, Clone, clap::Args)]
pub struct RegistrationOpts {
    /// The `registration.toml` (screening rules, login policy): serve the
    /// `/registration/` endpoints, and let logged-in approved voters
    /// register their device credential (instead of the admin).
    #[arg(long, requires = "manifest")]
    pub registration: Option<PathBuf>,
    /// The election manifest (TOML) the registry screens against; the
    /// same file that is published with `POST /election/manifest`.
    #[arg(long, requires = "registration")]
    pub manifest: Option<PathBuf>,
    /// The SQLite registry database [default: DATA/registry.db].
    #[arg(long, requires = "registration")]
    pub registry_db: Option<PathBuf>,
    /// A PostgreSQL URL for the registry instead of `--registry-db`.
    #[arg(long, requires = "registration", conflicts_with = "registry_db")]
    pub registry_postgres_url: Option<String>,
    /// The commission secret keying document hashes, 64 hex digits
    /// [default: DATA/registry.secret, created on first use]. The same file
    /// as `urna registry import --secret-file`.
    #[arg(long, requires = "registration")]
    pub registry_secret: Option<PathBuf>,
    /// Development notifier: append one-time-code messages as JSON lines
    /// to this file.
    #[arg(long, requires = "registration", conflicts_with = "notify_webhook")]
    pub outbox: Option<PathBuf>,
    /// SMS gateway webhook (`http://host:port/path`) for one-time codes
    /// (instead of `[notify.sms]` of the registration config).
    #[arg(long, requires = "registration")]
    pub notify_webhook: Option<String>,
    /// File holding the webhook's bearer token (first line).
    #[arg(long, requires = "notify_webhook")]
    pub notify_token_file: Option<PathBuf>,
    /// File holding the commission's Ed25519 seed (64 hex digits) that
    /// signs the precinct lists of `POST /registration/admin/lists` and
    /// checks the amendments of `POST /registration/admin/amendments`.
    #[arg(long, requires = "registration")]
    pub commission_key: Option<PathBuf>,
}

/// Reads the admin token: the first line of the file, which must not be empty.
fn admin_token(path: Option<&Path>) -> anyhow::Result<urna_server::election::AdminToken> {
    let Some(path) = path else {
        return Ok(urna_server::election::AdminToken::disabled());
    };
    // The file's text holds the token too: wiped like it (issue 12).
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        bail!("{} holds no admin token", path.display());
    }
    Ok(urna_server::election::AdminToken::new(token))
}

/// Reads a 32-byte secret in hex from `path`, or creates a random one there
/// (owner-only) on first use.
fn secret_file(path: &Path) -> anyhow::Result<zeroize::Zeroizing<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(zeroize::Zeroizing::new(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes[..]);
            let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(*bytes)));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating {}", path.display()))?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            Ok(text)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Opens the registry and builds the registration service.
fn registration(
    opts: &ServeOpts,
    admin: &urna_server::election::AdminToken,
) -> anyhow::Result<Option<RegistrationService>> {
    let r = &opts.registration;
    let (Some(config), Some(manifest)) = (&r.registration, &r.manifest) else {
        return Ok(None);
    };
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let m = Manifest::from_bytes(&read(manifest)?)
        .map_err(|e| anyhow!("{}: {e}", manifest.display()))?;
    let config = RegistrationConfig::from_bytes(&read(config)?)
        .map_err(|e| anyhow!("{}: {e}", config.display()))?;
    let rules = Rules::new(config, &m).map_err(|e| anyhow!("{e}"))?;
    let secret_path = r
        .registry_secret
        .clone()
        .unwrap_or_else(|| opts.data.join("registry.secret"));
    let secret = CommissionSecret::from_hex(&secret_file(&secret_path)?)
        .map_err(|e| anyhow!("{}: {e}", secret_path.display()))?;
    let registry = match &r.registry_postgres_url {
        Some(url) => Registry::open_postgres(url, &PostgresOptions::default()),
        None => Registry::open_sqlite(
            &r.registry_db
                .clone()
                .unwrap_or_else(|| opts.data.join("registry.db")),
        ),
    }
    .map_err(|e| anyhow!("opening the registry: {e}"))?;
    let first_line = |p: &Path| -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(p)
            .with_context(|| format!("reading {}", p.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string())
    };
    let gateways = rules.config.notify.clone();
    let token_of = |g: &urna_registry::GatewayConfig| -> anyhow::Result<Option<String>> {
        g.token_file.as_deref().map(first_line).transpose()
    };
    let sms: Arc<dyn Notifier> = match (&r.outbox, &r.notify_webhook, &gateways.sms) {
        (Some(path), _, _) => {
            eprintln!("urna: one-time codes go to the outbox {}", path.display());
            Arc::new(Outbox::new(path))
        }
        (None, Some(url), _) => {
            let token = r.notify_token_file.as_deref().map(first_line).transpose()?;
            Arc::new(Webhook::new(url, token).map_err(|e| anyhow!("--notify-webhook: {e}"))?)
        }
        (None, None, Some(g)) => {
            Arc::new(Webhook::new(&g.url, token_of(g)?).map_err(|e| anyhow!("[notify.sms]: {e}"))?)
        }
        (None, None, None) => bail!(
            "--registration needs a notifier: --outbox FILE, --notify-webhook URL or [notify.sms] in the registration config"
        ),
    };
    // The outbox takes both channels; otherwise e-mail needs its gateway.
    let email: Option<Arc<dyn Notifier>> = match (&r.outbox, &gateways.email) {
        (Some(_), _) => Some(Arc::clone(&sms)),
        (None, Some(g)) => Some(Arc::new(
            Webhook::email(&g.url, token_of(g)?, g.subject.as_deref())
                .map_err(|e| anyhow!("[notify.email]: {e}"))?,
        )),
        (None, None) => None,
    };
    let notifier: Arc<dyn Notifier> = Arc::new(Channels { sms, email });
    let service = RegistrationService::new(
        registry,
        rules,
        secret,
        notifier,
        &m,
        admin.clone(),
        Arc::new(urna_server::election::SystemClock),
    );
    if let Some(p) = &r.commission_key {
        let key = urna_registry::secret::signing_key_from_hex(&secret_file(p)?)
            .map_err(|e| anyhow!("{}: {e}", p.display()))?;
        service.set_list_key(key);
    }
    eprintln!(
        "urna: voter registration for {} on {} ({} voters in the registry)",
        m.id(),
        service.registry().backend_name(),
        service
            .registry()
            .voter_count()
            .map_err(|e| anyhow!("{e}"))?
    );
    Ok(Some(service))
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

/// The origin of a new folder's board without `--origin`:
/// `localhost/<folder name>`, the name reduced to the characters
/// spec/board.md §B6.2 recommends for election ids.
fn default_origin(data: &Path) -> String {
    let name = std::fs::canonicalize(data)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_default();
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("localhost/{}", if id.is_empty() { "election" } else { &id })
}

/// A new folder gets what `serve` needs: the board key (for `--origin`,
/// or a default) and an admin token in `admin.token` (owner-only), both
/// said on stderr. Returns the admin token file to use.
fn prepare_folder(opts: &ServeOpts) -> anyhow::Result<Option<PathBuf>> {
    std::fs::create_dir_all(&opts.data)
        .with_context(|| format!("creating {}", opts.data.display()))?;
    let key_path = opts.data.join("board.key");
    let token_path = opts.data.join("admin.token");
    // New: neither key nor board (a board without its key is refused below).
    if !key_path.exists() && !opts.data.join("board.db").exists() {
        let origin = opts
            .origin
            .clone()
            .unwrap_or_else(|| default_origin(&opts.data));
        board_key(&key_path, Some(&origin))?;
        eprintln!(
            "urna: new election folder {}: board key for origin {origin} in {} (keep it secret; the origin cannot change{})",
            opts.data.display(),
            key_path.display(),
            if opts.origin.is_none() {
                "; give --origin HOST/ELECTION-ID on the first start for a public board"
            } else {
                ""
            }
        );
        if opts.admin_token_file.is_none() && !token_path.exists() {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&token_path)
                .with_context(|| format!("creating {}", token_path.display()))?;
            let token: [u8; 32] = rand::RngExt::random(&mut rand::rng());
            writeln!(file, "{}", hex::encode(token))?;
            file.sync_all()?;
            eprintln!(
                "urna: admin token in {} (the commission's; keep it secret)",
                token_path.display()
            );
        }
    }
    Ok(opts
        .admin_token_file
        .clone()
        .or_else(|| token_path.is_file().then_some(token_path)))
}

/// A path as one shell word, for commands printed to be pasted.
pub(crate) fn shell_word(p: &std::path::Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What the operator does next in `phase`, as one line (docs/operator-guide.md).
fn next_step(phase: &str, base: &str, data: &Path, token: Option<&Path>) -> String {
    let auth = token.map_or_else(
        || "(no admin token: give --admin-token-file)".to_string(),
        |t| format!("-H \"Authorization: Bearer $(cat {})\"", shell_word(t)),
    );
    match phase {
        "empty" => format!(
            "publish the manifest: curl -f {auth} -H 'Content-Type: application/toml' --data-binary @manifest.toml {base}/election/manifest"
        ),
        "key_ceremony" => format!(
            "the trustees' key ceremony: each runs `urna trustee init --server {base} --index J --store trustee-J.key`, then deal, receive, finish"
        ),
        "registration" => format!(
            "register voters, then at voting_opens: curl -f -X POST {auth} {base}/election/open"
        ),
        "voting" => format!(
            "voters vote at {base}/; after voting_closes: curl -f -X POST {auth} {base}/election/close"
        ),
        "closed" => {
            format!("publish the encrypted tally: curl -f -X POST {auth} {base}/election/tally")
        }
        "tallied" => format!(
            "the trustees decrypt (`urna trustee decrypt --server {base} --store trustee-J.key`), then: curl -f -X POST {auth} {base}/election/results"
        ),
        _ => format!(
            "results at {base}/election/results; export and check the record: urna export --data {} --out record && urna verify record",
            shell_word(data)
        ),
    }
}

/// Runs the server until Ctrl-C.
pub fn run(opts: &ServeOpts) -> anyhow::Result<()> {
    crate::logs::init(opts.log_format);
    if let Some(url) = &opts.cluster.postgres {
        return cluster::run(opts, url);
    }
    let token_file = prepare_folder(opts)?;
    let key = board_key(&opts.data.join("board.key"), opts.origin.as_deref())?;
    let admin = admin_token(token_file.as_deref())?;
    let registration = registration(opts, &admin)?;
    let store = BoardStore::open_sqlite(opts.data.join("board.db"), key)
        .with_context(|| format!("opening the board in {}", opts.data.display()))?;
    let mut builder =
        urna_server::AppState::builder(store, urna_server::ElectionConfig::new(admin));
    if let Some(r) = registration {
        builder = builder.with_registration(r);
    }
    // Continue whatever election the board holds (spec/api.md §A6); a
    // board that does not replay exactly is a refusal to start.
    let (mut state, report) = builder
        .resume(&opts.data.join("server.journal"))
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
    state = state.with_limits(opts.limits.limits());
    let store = state.store().clone();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("listening on {}", opts.listen))?;
        opts.observers.apply(&state, report.observers.as_ref()).await?;
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
        eprintln!(
            "urna: next: {} (docs/operator-guide.md)",
            next_step(
                report.phase,
                &format!("http://{}", listener.local_addr()?),
                &opts.data,
                token_file.as_deref()
            )
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        urna_server::serve(listener, state, shutdown).await?;
        Ok(())
    })
}
