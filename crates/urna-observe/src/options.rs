//! The options of `urna observe`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Options of `urna observe`.
///
/// Exit codes: 0 stopped as asked (`--until-size`, `--duration`) with
/// nothing wrong; 1 an ALARM (the board contradicted itself or another
/// observer's view, or rewrote its history while the observer was down)
/// or entries that fail their checks; 2 unusable input or local state (no
/// board at the URL, a bad key, a mirror folder whose files were altered).
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit codes: 0 stopped as asked with nothing wrong; 1 ALARM (inconsistent or \
split view, history rewritten while the observer was down) or entries failing their checks; \
2 unusable input or local state (no board, a bad key, a mirror whose files were altered)."
)]
pub struct ObserveOpts {
    /// The board: the URL of a running `urna serve` (http[s]://host:port).
    pub url: String,
    /// Also trust the CA certificates in this PEM file (a private CA) for
    /// https:// URLs (the board's and the peers'), besides Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// The observer's Ed25519 key file (made on first use, mode 0600): it
    /// cosigns every checkpoint the observer accepted. Without it the
    /// observer only checks.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The observer's name, for a new key (a C2SP key name: no spaces, no `+`).
    #[arg(long, default_value = "observer.urna.example")]
    pub name: String,
    /// Seconds between two looks at the board.
    #[arg(long, default_value_t = 2.0)]
    pub interval: f64,
    /// The board's verifier key (text or file); by default the one the
    /// board serves first is trusted and then held to.
    #[arg(long)]
    pub board_key: Option<String>,
    /// The mirror folder (record layout, spec/export.md); default: a
    /// temporary folder. If it already holds a mirror, the observer
    /// resumes it: re-checks it (its entries must hash to the root of the
    /// last checkpoint accepted, else exit 2), requires the board's
    /// checkpoint to be consistent with that one (else ALARM, exit 1) and
    /// fetches only the entries after it.
    #[arg(long)]
    pub mirror: Option<PathBuf>,
    /// A folder shared with other observers on this machine: each writes
    /// its latest checkpoint there and checks the others' against its own.
    #[arg(long)]
    pub peers: Option<PathBuf>,
    /// Serve this observer's latest accepted checkpoint at
    /// `GET /observer/checkpoint` (and `GET /observer/status`, JSON) on
    /// this address, for other observers' `--peer`.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Another observer's `--listen` URL (repeatable): its checkpoint is
    /// fetched every round and held to this observer's view.
    #[arg(long = "peer")]
    pub peer: Vec<String>,
    /// Stop, with exit 0 if all was well, once the board has this many entries.
    #[arg(long)]
    pub until_size: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
}
