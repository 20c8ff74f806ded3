//! The `urna` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;

#[derive(Debug, Parser)]
#[command(name = "urna", version, about = "End-to-end verifiable remote voting")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure what a user needs to size hardware.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// Cryptographic core: encryption, proofs, batch verification, dlog.
    Crypto(bench::crypto::CryptoBench),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench {
            what: BenchWhat::Crypto(opts),
        } => bench::crypto::run(&opts).and_then(|r| r.print(opts.json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("urna: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
