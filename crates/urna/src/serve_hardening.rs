//! `urna serve` options against clients that hold the server
//! (spec/api.md §A8) and strangers that fill the cosignature slots
//! (spec/board.md §B10.3).

use std::time::Duration;

use urna_server::limits::Limits;

/// Connection and read limits of `urna serve` (spec/api.md §A8).
#[derive(Debug, Clone, clap::Args)]
pub struct LimitOpts {
    /// Seconds a connection may take to send a whole request head; also
    /// how long an idle keep-alive connection is kept.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a request body may pause between two pieces.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Open connections in all; more are answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Open connections from one client IP address; more are answered
    /// 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_address: u64,
}

impl LimitOpts {
    /// The server's limits.
    pub fn limits(&self) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(self.header_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_connections_per_address: usize::try_from(self.max_connections_per_address)
                .unwrap_or(usize::MAX),
        }
    }
}

/// Whose cosignatures `urna serve` accepts (spec/board.md §B10.3).
#[derive(Debug, Clone, clap::Args)]
pub struct ObserverOpts {
    /// File of observer verifier keys (type 0x04, one per line, `#`
    /// comments): accept and serve only their cosignatures, and publish
    /// the list on the board (spec/record.md §R16). Without it any
    /// observer may cosign.
    #[arg(long, value_name = "FILE")]
    pub observers: Option<std::path::PathBuf>,
}

impl ObserverOpts {
    /// Applies the list to `state` and publishes it unless the board's
    /// last list (`on_board`) is the same.
    pub async fn apply(
        &self,
        state: &urna_server::AppState,
        on_board: Option<&urna_election::record::observers::ObserverList>,
    ) -> anyhow::Result<()> {
        let Some(path) = &self.observers else {
            return Ok(());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let list = urna_server::observers::parse_file(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let at = state
            .publish_observers(&list, on_board)
            .await
            .map_err(|e| anyhow::anyhow!("publishing the observer list: {e:?}"))?;
        match at {
            Some(i) => eprintln!(
                "urna: {} observer(s) may cosign; list published at board entry {i}",
                list.keys.len()
            ),
            None => eprintln!(
                "urna: {} observer(s) may cosign (the list on the board)",
                list.keys.len()
            ),
        }
        Ok(())
    }
}
