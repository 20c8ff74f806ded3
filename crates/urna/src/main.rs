//! The `urna` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod demo;
mod logs;
mod record;
mod registry;
mod serve;
mod trustee;

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
    /// Check an exported election record; exit 0 valid, 1 invalid, 2 unusable.
    Verify(record::VerifyOpts),
    /// Export an election's board as a record folder for `urna verify`.
    Export(record::ExportOpts),
    /// Mirror a running board live: check every checkpoint and entry, cosign, alarm on forks.
    Observe(urna_observe::ObserveOpts),
    /// Serve the board's public read API over HTTP.
    Serve(Box<serve::ServeOpts>),
    /// A trustee's offline steps: key store, key ceremony, partial decryption.
    #[command(subcommand)]
    Trustee(trustee::TrusteeCmd),
    /// The commission's voter-registration tools (spec/registration.md).
    #[command(subcommand)]
    Registry(registry::RegistryCmd),
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
    /// Voter registry: CSV import (1,000,000 rows by default), screening.
    Registry(bench::registry::RegistryBench),
    /// Casting end to end over HTTP: accepted ballots/s and latency.
    Cast(bench::cast::CastBench),
    /// Independent verifier: ballots/s and peak memory on a generated record.
    Verify(bench::verify::VerifyBench),
    /// Restart of `urna serve` on a big board: time to accepting ballots
    /// again, from a snapshot and by a full replay.
    Restart(bench::restart::RestartBench),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(opts) => return record::verify(&opts),
        Command::Observe(opts) => return urna_observe::run(&opts),
        Command::Export(opts) => record::export(&opts),
        Command::Demo(opts) => demo::run(&opts),
        Command::Serve(opts) => serve::run(&opts),
        Command::Trustee(cmd) => trustee::run(&cmd),
        Command::Registry(cmd) => registry::run(&cmd),
        Command::Bench {
            what: BenchWhat::Crypto(opts),
        } => bench::crypto::run(&opts).and_then(|r| r.print(opts.json)),
        Command::Bench {
            what: BenchWhat::Board(opts),
        } => bench::board::run(&opts).and_then(|r| r.print(opts.json)),
        Command::Bench {
            what: BenchWhat::Registry(opts),
        } => bench::registry::run(&opts).and_then(|r| r.print(opts.json)),
        Command::Bench {
            what: BenchWhat::Cast(opts),
        } => bench::cast::run(&opts).and_then(|r| r.print(opts.json)),
        Command::Bench {
            what: BenchWhat::Verify(opts),
        } => bench::verify::run(&opts).and_then(|r| r.print(opts.json)),
        Command::Bench {
            what: BenchWhat::Restart(opts),
        } => bench::restart::run(&opts).and_then(|r| r.print(opts.json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("urna: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
