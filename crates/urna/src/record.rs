//! `urna export` and `urna verify`: the election record as a folder
//! (spec/export.md), and the independent verifier run on it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use urna_store::BoardStore;
use urna_verify::{Options, RecordWriter, Report};

/// Options of `urna verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyOpts {
    /// The exported election record (a folder, spec/export.md).
    pub record: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `urna export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportOpts {
    /// The election's data folder (as given to `urna serve --data`).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the record.
    #[arg(long)]
    pub out: PathBuf,
}

/// Streams the whole board into a record folder, page by page, ending with
/// the latest signed checkpoint. Returns the number of entries written.
pub fn export_store(store: &BoardStore, out: &Path) -> anyhow::Result<u64> {
    let latest = store.latest_checkpoint();
    let size = latest.size();
    let mut writer = RecordWriter::create(out, store.verifier_key())
        .with_context(|| format!("creating the record in {}", out.display()))?;
    let mut next = 0;
    while next < size {
        let page = store.entries(next, size)?;
        let Some(last) = page.last() else { break };
        next = last.index + 1;
        for e in &page {
            writer.append(&e.entry)?;
        }
    }
    writer.finish(latest.note())?;
    Ok(size)
}

/// `urna export`.
pub fn export(opts: &ExportOpts) -> anyhow::Result<()> {
    let key = crate::serve::board_key(&opts.data.join("board.key"), None)?;
    let store = BoardStore::open_sqlite(opts.data.join("board.db"), key)
        .with_context(|| format!("opening the board in {}", opts.data.display()))?;
    let n = export_store(&store, &opts.out)?;
    println!("exported {n} entries to {}", opts.out.display());
    Ok(())
}

/// Verifies a record with a progress bar; the report, printed.
pub fn verify_record(path: &Path, quiet: bool) -> Report {
    let total = std::fs::metadata(path.join("entries.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    let pb = crate::bench::progress(total, "verifying record", quiet);
    let mut progress = |p: urna_verify::Progress| pb.set_position(p.bytes);
    let report = urna_verify::verify(
        path,
        Options {
            progress: Some(&mut progress),
            ..Options::default()
        },
    );
    pb.finish_and_clear();
    report
}

/// `urna verify`: exit 0 valid, 1 invalid, 2 unusable input.
pub fn verify(opts: &VerifyOpts) -> ExitCode {
    let report = verify_record(&opts.record, opts.json);
    if opts.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(2))
}
