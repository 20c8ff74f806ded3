//! `urna serve`'s logs (spec/api.md §A10.2): tracing-subscriber on
//! standard error, as text or one JSON object per line, filtered by
//! `RUST_LOG` (default `info`). What is logged is the server's business:
//! one line per request (route template, status, error code, latency) and
//! faults; no line holds a voter's identity, credential or ballot.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for a log collector).
    Json,
}

/// Installs the process's subscriber; a second call changes nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // Only a subscriber already installed (a test, an embedding) gets here.
    drop(result);
}
