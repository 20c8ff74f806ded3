//! Losing the board's database and getting it back (spec/api.md §A10.3).
//!
//! On a database server (PostgreSQL) a failed commit is a lost connection
//! far more often than a lost disk, and the server cannot tell whether a
//! COMMIT that got no answer took effect. So the ballots of that batch are
//! answered 503 `database_unavailable` (never acknowledged), every request
//! that would change the election is refused with the same code, and a
//! task waits for the database: it restarts the board's writer on a new
//! session ([`urna_store::BoardStore::restart_writer`], which reads the
//! board back exactly as committed) and rebuilds the engine by replaying
//! that board with the journal (spec/api.md §A6), so that the engine counts
//! exactly what is on the board. Then ballots are accepted again, without a
//! restart. An embedded SQLite board still halts for good (§A1 Halt): its
//! failed commit is a failed disk.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::resume::{ResumeError, ResumeReport, replay};
use super::service::Shared;
use crate::metrics;

/// Whether the election waits for its database, and the way back to it.
#[derive(Debug)]
pub(crate) struct Recovery {
    me: Weak<Shared>,
    active: AtomicBool,
}

/// First wait before trying the database again, and the longest one.
const FIRST_WAIT: Duration = Duration::from_millis(200);
const LONGEST_WAIT: Duration = Duration::from_secs(2);

impl Recovery {
    pub(crate) fn new(me: Weak<Shared>) -> Self {
        Recovery {
            me,
            active: AtomicBool::new(false),
        }
    }

    /// Whether requests that change the election are refused for now.
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    /// The board's writer lost its database: refuse changes until the
    /// database is back and the engine rebuilt from it. Idempotent.
    pub(crate) fn start(&self) {
        if self.active.swap(true, Ordering::SeqCst) {
            return;
        }
        metrics::database_unavailable(true);
        tracing::error!("lost the board's database: refusing changes until it answers again");
        let Some(shared) = self.me.upgrade() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(recover(shared));
            }
            Err(_) => tracing::error!("no runtime to recover the database in"),
        }
    }
}

async fn recover(shared: Arc<Shared>) {
    let mut wait = FIRST_WAIT;
    loop {
        // Also lets the batches in flight fail before the writer restarts.
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LONGEST_WAIT);
        let store = shared.store.clone();
        match tokio::task::spawn_blocking(move || store.restart_writer()).await {
            Ok(Ok(restarted)) => {
                if restarted {
                    metrics::writer_restarted();
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, code = e.code(), "the board's database is still unreachable");
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "the writer restart task failed");
                continue;
            }
        }
        match rebuild(&shared).await {
            Ok(report) => {
                tracing::info!(
                    entries = report.entries,
                    ballots = report.ballots,
                    phase = report.phase,
                    "the board's database is back; the engine is rebuilt from the board"
                );
                break;
            }
            // A read that failed (the database went away again) is tried
            // again; the board cannot change meanwhile.
            Err(e) => tracing::warn!(error = %e, "rebuilding the engine from the board failed"),
        }
    }
    shared.recovery.active.store(false, Ordering::SeqCst);
    metrics::database_unavailable(false);
}

/// Replays the board into a fresh engine under the engine lock.
async fn rebuild(shared: &Arc<Shared>) -> Result<ResumeReport, ResumeError> {
    let mut guard = shared.inner.lock().await;
    let sh = Arc::clone(shared);
    let replayed = tokio::task::spawn_blocking(move || {
        let records = match &sh.journal {
            Some(j) => j.records().map_err(|e| ResumeError {
                index: None,
                message: e.to_string(),
            })?,
            None => Vec::new(),
        };
        sh.forget_derived();
        replay(&sh, records)
    })
    .await
    .map_err(|e| ResumeError {
        index: None,
        message: format!("the replay task failed: {e}"),
    })?;
    let (inner, report) = replayed?;
    *guard = inner;
    shared.note_phase(&guard);
    Ok(report)
}
