//! TEST-ONLY helper for `tests/it/crash.rs`; not a tool for users.
//!
//! Opens the board at `DB` (a SQLite file, or a `postgres://` URL and the
//! schema to use), then appends from `THREADS` threads until
//! killed, printing one line per acknowledgement and per checkpoint it was
//! handed, flushed before the next append:
//!
//! ```text
//! R <size at open>
//! A <index> <leaf hash hex> <cycle> <thread> <seq>
//! C <size> <signed note text, hex>
//! ```
//!
//! The test kills it with SIGKILL mid-stream and checks that everything it
//! printed survived. Entry payloads are a function of `(cycle, thread, seq)`
//! (see [`payload`]) so the test can rebuild the exact bytes.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

use urna_board::{BoardSigningKey, Entry, EntryKind};
use urna_store::{BoardStore, PostgresBackend, PostgresOptions, StoreOptions};

/// Origin and secret of the test board key.
const ORIGIN: &str = "crash.urna.example/test";
const SECRET: [u8; 32] = [42; 32];

/// Payload of entry `(cycle, thread, seq)`: a text header, then filler of
/// a length that varies with `seq` (100 to 1123 bytes in all).
fn payload(cycle: u64, thread: u64, seq: u64) -> Vec<u8> {
    let mut p = format!("crash cycle {cycle} thread {thread} seq {seq};").into_bytes();
    let fill = 100 + (seq * 37 % 1024) as usize;
    p.extend((0..fill).map(|i| (i as u64 ^ seq ^ (thread << 3)) as u8));
    p
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(cycle), Some(threads), Some(db)) = (
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3),
    ) else {
        eprintln!("usage: urna-store-crash-writer CYCLE THREADS (FILE | URL SCHEMA) (test-only)");
        return std::process::ExitCode::from(2);
    };
    let schema = args.get(4);
    let result = (|| -> Result<(), String> {
        let key = BoardSigningKey::from_secret_bytes(ORIGIN, &SECRET).map_err(|e| e.to_string())?;
        let store = match schema {
            Some(schema) => {
                let backend = PostgresBackend::open(db, &PostgresOptions::with_schema(schema))
                    .map_err(|e| e.to_string())?;
                BoardStore::open(backend, key, StoreOptions::default())
            }
            None => BoardStore::open_sqlite(db, key),
        }
        .map_err(|e| e.to_string())?;
        let out = Mutex::new(std::io::stdout());
        let say = |line: String| -> Result<(), String> {
            let out = out.lock().map_err(|e| e.to_string())?;
            let mut out = out.lock();
            out.write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| e.to_string())
        };
        say(format!("R {}\n", store.size()))?;
        // Each checkpoint is printed once, by the first thread handed it.
        let printed = Mutex::new(HashSet::new());
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let store = store.clone();
                    let say = &say;
                    let printed = &printed;
                    s.spawn(move || -> Result<(), String> {
                        for seq in 0.. {
                            let entry = Entry::new(EntryKind::Ballot, &payload(cycle, t, seq))
                                .map_err(|e| e.to_string())?;
                            let ack = store.append(entry).map_err(|e| e.to_string())?;
                            let size = ack.checkpoint.size();
                            let new = printed.lock().map_err(|e| e.to_string())?.insert(size);
                            if new {
                                say(format!("C {size} {}\n", hex::encode(ack.checkpoint.text())))?;
                            }
                            say(format!(
                                "A {} {} {cycle} {t} {seq}\n",
                                ack.index,
                                hex::encode(ack.leaf_hash)
                            ))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .map_err(|_| "a writer thread panicked".to_owned())?
            })
        })
    })();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("urna-store-crash-writer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
