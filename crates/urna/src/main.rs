//! The `urna` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod demo;
mod serve;

#[derive(Debug, Parser)]
#[command(name = "urna", version, about = "End-to-end verifiable remote voting")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole referendum, from key ceremony to re-checked result.
    Demo(demo::DemoOpts),
    /// Serve the board's public read API over HTTP.
    Serve(serve::ServeOpts),
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
    /// Board store: durable appends (group commit), proofs, checkpoints.
    Board(bench::board::BoardBench),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(opts) => demo::run(&opts),
        Command::Serve(opts) => serve::run(&opts),
        Command::Bench {
            what: BenchWhat::Crypto(opts),
        } => bench::crypto::run(&opts).and_then(|r| r.print(opts.json)),
        Command::Bench {
            what: BenchWhat::Board(opts),
        } => bench::board::run(&opts).and_then(|r| r.print(opts.json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("urna: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
