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
    /// The election record: an exported folder (spec/export.md), or the
    /// URL of a running `urna serve` (http[s]://host:port), read through
    /// its public board API while it is verified.
    pub record: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// With a URL: the board's verifier key (text or a file holding it);
    /// without it the key the server serves is trusted on first use.
    #[arg(long)]
    pub board_key: Option<String>,
    /// With a URL: keep the downloaded record in this folder (default: a
    /// temporary folder, removed afterwards).
    #[arg(long)]
    pub mirror: Option<PathBuf>,
    /// With an https:// URL: also trust the CA certificates in this PEM
    /// file (a private CA), besides Mozilla's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// An observer you trust (its cosigning verifier key, text or a file
    /// holding it; repeatable): the final checkpoint must carry a valid
    /// cosignature by each (spec/export.md §X3.1).
    #[arg(long = "observer", value_name = "KEY")]
    pub observers: Vec<String>,
}

/// The `--observer` keys: type-0x04 cosigning keys (board.md §B7.2), each
/// given as its text or as a file holding it.
fn trusted_observers(opts: &VerifyOpts) -> anyhow::Result<Vec<urna_board::VerifierKey>> {
    opts.observers
        .iter()
        .map(|given| {
            let text = match std::fs::read_to_string(given) {
                Ok(t) => t,
                Err(_) => given.clone(),
            };
            let line = text.strip_suffix('\n').unwrap_or(&text);
            let key = urna_board::VerifierKey::parse(line)
                .with_context(|| format!("--observer {given}: not a verifier key"))?;
            anyhow::ensure!(
                key.signature_type() == urna_board::SignatureType::CosignatureV1,
                "--observer {given}: not an observer's cosigning key (signature type 0x04)"
            );
            Ok(key)
        })
        .collect()
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

/// Streams the whole board into a record folder, page by page, then the
/// checkpoints of its history (spec/export.md §X1.1) and the latest
/// signed checkpoint, each with the observers' cosignatures the board
/// holds for it. Returns the number of entries written.
pub fn export_store(store: &BoardStore, out: &Path) -> anyhow::Result<u64> {
    let latest = store.latest_checkpoint();
    let size = latest.size();
    let mut writer = RecordWriter::create(out, store.verifier_key())
        .with_context(|| format!("creating the record in {}", out.display()))?;
    // spec/record.md §R16: the last observer list on the board says whose
    // cosignatures count (board.md §B10.3); no other is exported.
    let mut observers: Option<Vec<urna_board::VerifierKey>> = None;
    let mut next = 0;
    while next < size {
        let page = store.entries(next, size)?;
        let Some(last) = page.last() else { break };
        next = last.index + 1;
        for e in &page {
            writer.append(&e.entry)?;
            if let Some(list) = observer_list(&e.entry) {
                observers = Some(list);
            }
        }
    }
    let cosigned = |cp: &urna_store::SignedCheckpoint| -> anyhow::Result<urna_board::SignedNote> {
        let mut note = cp.note().clone();
        for sig in store.cosignatures(cp.size()) {
            let listed = observers.as_ref().is_none_or(|keys| {
                keys.iter()
                    .any(|k| k.name() == sig.name() && k.key_id() == sig.key_id())
            });
            if listed {
                note.add_signature(sig)
                    .context("adding a stored cosignature")?;
            }
        }
        Ok(note)
    };
    for s in store.history_sizes()? {
        let cp = store.checkpoint(s)?;
        writer.add_checkpoint(s, &cosigned(&cp)?)?;
    }
    writer.finish(&cosigned(&latest)?)?;
    Ok(size)
}

/// The keys of an observer list entry (record.md §R16), if `entry` is one.
fn observer_list(entry: &urna_board::Entry) -> Option<Vec<urna_board::VerifierKey>> {
    if entry.kind() != urna_board::EntryKind::AdminAction {
        return None;
    }
    urna_election::record::observers::ObserverList::decode(entry.payload())
        .ok()
        .map(|l| l.keys)
}

/// `urna export`.
pub fn export(opts: &ExportOpts) -> anyhow::Result<()> {
    // Checked first: opening the board would create an empty one, and the
    // board key's own message speaks of `urna serve --origin`.
    let (db, key) = (opts.data.join("board.db"), opts.data.join("board.key"));
    for f in [&db, &key] {
        anyhow::ensure!(
            f.is_file(),
            "{} is not an election's data folder: it has no {} (give the folder of `urna serve --data` or `urna demo --data`)",
            opts.data.display(),
            f.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
    }
    let key = crate::serve::board_key(&key, None)?;
    let store = BoardStore::open_sqlite(opts.data.join("board.db"), key)
        .with_context(|| format!("opening the board in {}", opts.data.display()))?;
    let n = export_store(&store, &opts.out)?;
    println!("exported {n} entries to {}", opts.out.display());
    Ok(())
}

/// Verifies a record with a progress bar; the report, printed.
pub fn verify_record(path: &Path, quiet: bool) -> Report {
    verify_record_with(path, quiet, Vec::new())
}

/// [`verify_record`] with observers the user trusts.
pub fn verify_record_with(
    path: &Path,
    quiet: bool,
    observers: Vec<urna_board::VerifierKey>,
) -> Report {
    let total = std::fs::metadata(path.join("entries.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    let pb = crate::bench::progress(total, "verifying record", quiet);
    let mut progress = |p: urna_verify::Progress| pb.set_position(p.bytes);
    let report = urna_verify::verify(
        path,
        Options {
            progress: Some(&mut progress),
            observers,
            ..Options::default()
        },
    );
    pb.finish_and_clear();
    report
}

/// `urna verify`: exit 0 valid, 1 invalid, 2 unusable input.
pub fn verify(opts: &VerifyOpts) -> ExitCode {
    let observers = match trusted_observers(opts) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("urna verify: unusable input: {e:#}");
            return ExitCode::from(2);
        }
    };
    let report = if opts.record.starts_with("http://") || opts.record.starts_with("https://") {
        match verify_url(opts, observers) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("urna verify: unusable input: {e:#}");
                return ExitCode::from(2);
            }
        }
    } else {
        let path = Path::new(&opts.record);
        // One clear error, not a report of checks that read nothing.
        if !path.is_dir() {
            let what = if path.exists() {
                "is not a folder"
            } else {
                "does not exist"
            };
            eprintln!(
                "urna verify: unusable input: {} {what} (give an exported record folder, see `urna export`, or an http(s):// URL)",
                path.display()
            );
            return ExitCode::from(2);
        }
        verify_record_with(path, opts.json, observers)
    };
    if opts.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(2))
}

/// `urna verify URL`: the record is read from the server's public API
/// (board.md §B6–§B8) into a mirror folder by one thread while the
/// verifier reads that folder's `entries.bin` behind it, so memory stays
/// bounded and downloading overlaps checking. The final checkpoint is the
/// latest one when the run starts; later entries are not covered.
fn verify_url(
    opts: &VerifyOpts,
    observers: Vec<urna_board::VerifierKey>,
) -> anyhow::Result<Report> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    if let Some(ca) = &opts.ca_cert {
        urna_observe::http::trust_ca_file(ca)?;
    }
    let remote = urna_observe::mirror::Remote::connect(&opts.record, opts.board_key.as_deref())?;
    if !remote.pinned && !opts.json {
        eprintln!(
            "urna verify: trusting the board key served by {} ({}); pin it with --board-key",
            remote.base, remote.key
        );
    }
    let latest = remote.checkpoint_text()?;
    // The size to fetch: from the note if it parses (the verifier reports
    // a bad signature as a failed check, not as unusable input).
    let size = urna_board::SignedNote::parse(latest.as_bytes())
        .ok()
        .and_then(|n| urna_board::Checkpoint::parse(n.text()).ok())
        .map(|c| c.size())
        .ok_or_else(|| anyhow::anyhow!("the latest checkpoint does not parse"))?;
    let tmp;
    let dir = match &opts.mirror {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            tmp.path().join("record")
        }
    };
    let mut mirror = urna_observe::mirror::Mirror::create(&dir, &remote.key)?;
    mirror.keep_checkpoint(size, &latest, true)?;
    let finished = Arc::new(AtomicBool::new(false));
    let entries = urna_verify::FollowReader::open(&mirror.entries_path(), Arc::clone(&finished))?;
    let reread = mirror.entries_path();
    let fetch_done = Arc::clone(&finished);
    let fetcher_remote = remote.clone();
    let fetcher = std::thread::spawn(move || -> anyhow::Result<()> {
        let r = fetcher_remote
            .entries(0, size, |e| mirror.append(e))
            .and_then(|()| mirror.flush());
        // Whatever happened, let the verifier reach the end of what is there.
        let _ = mirror.flush();
        fetch_done.store(true, Ordering::Release);
        r
    });
    let pb = crate::bench::progress(size, "verifying (entries)", opts.json);
    let mut progress = |p: urna_verify::Progress| pb.set_position(p.entries);
    let final_text = latest.clone().into_bytes();
    let source = urna_verify::Source {
        name: opts.record.clone(),
        board_key: remote.key.to_string(),
        checkpoints: Vec::new(),
        entries: Box::new(entries),
        total_bytes: None,
        reread,
        final_checkpoint: Box::new(move || Ok(final_text)),
    };
    let report = urna_verify::verify_source(
        source,
        Options {
            progress: Some(&mut progress),
            observers,
            ..Options::default()
        },
    );
    pb.finish_and_clear();
    match fetcher.join() {
        Ok(Ok(())) => Ok(report),
        Ok(Err(e)) => Err(e.context(format!("reading the board from {} stopped", remote.base))),
        Err(_) => Err(anyhow::anyhow!("the download thread failed")),
    }
}
