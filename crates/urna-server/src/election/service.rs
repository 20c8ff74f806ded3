//! The election service: the engine behind one lock that serialises every
//! state transition, the board it appends to, the injected clock, and the
//! server-side bookkeeping (receipts, turnout counters).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::Poll;

use tokio::sync::mpsc;
use urna_board::Entry;
use urna_election::{ElectionKeys, Manifest, Timestamp};
use urna_store::{Appended, BoardStore, StoreError};

use super::auth::{AdminRegistrar, AdminToken, Registrar};
use super::batch::{self, Submission};
use super::clock::{Clock, SystemClock};
use super::errors::{database_unavailable, halted};
use super::journal::{Journal, JournalError, Record};
use super::phase::Phase;
use super::recover::Recovery;
use super::resume::{ResumeError, ResumeReport};
use super::turnout::TurnoutBook;
use super::tz::Zone;
use crate::error::ApiError;

/// Entries queued at the board's writer, not yet known to be durable.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Result<Vec<Appended>, StoreError>> + Send>>;

/// Default of [`ElectionConfig::snapshot_every`]: a restart then replays
/// at most about 25,000 ballots (a few seconds on two cores), and a
/// snapshot of a 1,000,000-voter election (~300 MB) is written about
/// every 10 s at 2,500 ballots/s.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 25_000;

/// How the election service is configured at server start.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    /// Where *now* comes from.
    pub clock: Arc<dyn Clock>,
    /// The admin's bearer token.
    pub admin: AdminToken,
    /// Who may register credentials.
    pub registrar: Arc<dyn Registrar>,
    /// Most ballots verified in one batch.
    pub max_batch: usize,
    /// How long the verifier waits for more ballots after the first one.
    pub batch_window: std::time::Duration,
    /// Several servers on one database (crate::cluster): this server's
    /// journal holds only the registrations it acknowledged itself, so a
    /// sealed credential missing from it (registered through another
    /// server) replays with its precinct unknown instead of refusing the
    /// start (docs/decisions/0017-cluster-sequencer.md).
    pub partial_journal: bool,
    /// Board entries between two snapshots of the election state during
    /// voting (spec/api.md §A6.3); 0: none. A restart replays at most
    /// about this many entries after the latest snapshot.
    pub snapshot_every: u64,
    /// Whether a restart may start from the latest snapshot (spec/api.md
    /// §A6.3); `false` replays the whole board (`urna bench restart`
    /// measures both).
    pub resume_from_snapshot: bool,
}

impl ElectionConfig {
    /// The system clock, admin endpoints protected by `admin` (disabled
    /// when empty), credentials registered by the admin.
    pub fn new(admin: AdminToken) -> Self {
        ElectionConfig {
            clock: Arc::new(SystemClock),
            registrar: Arc::new(AdminRegistrar(admin.clone())),
            admin,
            max_batch: 64,
            batch_window: std::time::Duration::from_millis(3),
            partial_journal: false,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            resume_from_snapshot: true,
        }
    }

    /// The same with another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl Default for ElectionConfig {
    fn default() -> Self {
        Self::new(AdminToken::disabled())
    }
}

/// The engine and what changes with it (behind the lock).
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) phase: Phase,
    /// Credential → precinct index (server-side, for turnout only).
    pub(crate) precinct_of: HashMap<[u8; 32], usize>,
}

/// Shared by the handlers and the verifier task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: BoardStore,
    pub(crate) config: ElectionConfig,
    pub(crate) inner: tokio::sync::Mutex<Inner>,
    /// The phase's name as the last transition left it, readable without
    /// the engine lock (a ballot's phase check, spec/api.md §A4).
    phase_name: Mutex<&'static str>,
    halted: AtomicBool,
    pub(crate) manifest: OnceLock<Arc<Manifest>>,
    pub(crate) keys: OnceLock<ElectionKeys>,
    /// The manifest's time zone, for labels of the hourly turnout.
    zone: OnceLock<Zone>,
    /// Tracking code → board index, for `GET /receipt/{tracking}`.
    receipts: Mutex<HashMap<[u8; 32], u64>>,
    pub(crate) turnout: Mutex<TurnoutBook>,
    /// Ceremony entries on the board: index and payload (for trustees).
    ceremony: Mutex<Vec<(u64, Vec<u8>)>>,
    /// What must survive a restart but is not on the board (§A6.2);
    /// `None`: this server keeps it in memory only.
    pub(crate) journal: Option<Arc<Journal>>,
    /// Proof batches verified, and ballots in them.
    pub(crate) batches: AtomicU64,
    pub(crate) batched: AtomicU64,
    /// Ballot batches queued at the board whose receipts and turnout are
    /// not yet noted (a snapshot waits for 0, spec/api.md §A6.3).
    pub(crate) in_flight: AtomicU64,
    /// A snapshot is being taken; the board size of the last one.
    pub(crate) snapshotting: AtomicBool,
    pub(crate) snapshot_size: AtomicU64,
    /// Board index of the last observer list (spec/record.md §R16).
    observers_at: Mutex<Option<u64>>,
    /// Board size the engine has read or written (see `catch_up`).
    pub(crate) applied: AtomicU64,
    /// Waiting for the board's database (spec/api.md §A10.3).
    pub(crate) recovery: Recovery,
}

/// Counts a ballot batch in flight until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(pub(crate) Arc<Shared>);

impl InFlight {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub(crate) fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    pub(crate) fn check_running(&self) -> Result<(), ApiError> {
        if self.halted.load(Ordering::SeqCst) {
            return Err(halted());
        }
        if self.recovery.active() {
            return Err(database_unavailable());
        }
        Ok(())
    }

    /// The phase's name, without waiting for the engine lock: the phase of
    /// the last transition (one under way may change it).
    pub(crate) fn phase_name(&self) -> &'static str {
        *self
            .phase_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes the phase after a change; call with the engine lock held.
    pub(crate) fn note_phase(&self, inner: &Inner) {
        *self
            .phase_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = inner.phase.name();
    }

    /// Appends the engine's entries in order and waits until they are
    /// durable; a failure is fatal. Call with the engine lock held so that
    /// nothing interleaves.
    pub(crate) async fn append(&self, entries: Vec<Entry>) -> Result<Vec<Appended>, ApiError> {
        let pending = self.enqueue(entries).await;
        self.durable(pending).await
    }

    /// Queues the entries at the board's writer, in order, and returns
    /// without waiting for durability: once this returns, anything queued
    /// later lands after them. Call with the engine lock held.
    pub(crate) async fn enqueue(&self, entries: Vec<Entry>) -> Pending {
        let store = self.store.clone();
        let mut fut: Pending = Box::pin(async move {
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            let started = std::time::Instant::now();
            let r = store.append_ordered_async(entries).await;
            crate::metrics::board_appended(started);
            r
        });
        // One poll runs `append_ordered_async` up to its first wait, i.e.
        // after every entry has been queued (the queueing is synchronous).
        let mut early = None;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = fut.as_mut().poll(cx) {
                early = Some(r);
            }
            Poll::Ready(())
        })
        .await;
        match early {
            Some(r) => Box::pin(std::future::ready(r)),
            None => fut,
        }
    }

    /// Waits for queued entries to be durable; a failure halts the election.
    pub(crate) async fn durable(&self, pending: Pending) -> Result<Vec<Appended>, ApiError> {
        match pending.await {
            Ok(a) => {
                self.note_times(&a);
                if let Some(last) = a.last() {
                    self.applied.fetch_max(last.index + 1, Ordering::SeqCst);
                }
                Ok(a)
            }
            // spec/api.md §A10.3: a database server comes back; the
            // engine is rebuilt from what it holds.
            Err(e) if self.store.reconnects() => {
                tracing::error!(error = %e, "board append failed after the engine counted; waiting for the database");
                self.recovery.start();
                Err(database_unavailable())
            }
            Err(e) => {
                self.halted.store(true, Ordering::SeqCst);
                tracing::error!(error = %e, "board append failed after the engine counted; halting the election");
                Err(halted())
            }
        }
    }

    /// Notes when these entries became durable (§A6.2). A failure costs
    /// only precision after a restart, never a ballot: it is logged.
    fn note_times(&self, appended: &[Appended]) {
        let Some(j) = &self.journal else { return };
        let time = self.now().unix();
        let mut k = 0;
        while k < appended.len() {
            // Runs of consecutive indices.
            let first = appended[k].index;
            let mut n = 1;
            while k + n < appended.len() && appended[k + n].index == first + n as u64 {
                n += 1;
            }
            let r = Record::Times {
                first,
                count: n as u64,
                time,
            };
            if let Err(e) = j.write(&r) {
                tracing::error!(error = %e, "could not note acceptance times in the journal");
            }
            k += n;
        }
    }

    /// Writes a registration to the journal; call with the engine lock
    /// held. Returns the sequence number to [`sync_journal`](Self::sync_journal).
    pub(crate) fn journal_registration(
        &self,
        credential: [u8; 32],
        district: usize,
        precinct: usize,
    ) -> Result<u64, ApiError> {
        let Some(j) = &self.journal else { return Ok(0) };
        let r = Record::Registration {
            credential,
            district: u32::try_from(district).map_err(|_| ApiError::internal())?,
            precinct: u32::try_from(precinct).map_err(|_| ApiError::internal())?,
        };
        j.write(&r).map_err(|e| self.journal_failed(&e))
    }

    /// Writes the credentials left out of the sealed lists to the journal
    /// and waits until they are on disk; call with the engine lock held,
    /// before the sealed lists are appended (spec/api.md §A6.2). Blocking,
    /// like the open it belongs to.
    pub(crate) fn journal_withdrawn(&self, credentials: &[[u8; 32]]) -> Result<(), ApiError> {
        let Some(j) = &self.journal else {
            return Ok(());
        };
        let mut seq = 0;
        for c in credentials {
            seq = j
                .write(&Record::Withdrawn { credential: *c })
                .map_err(|e| self.journal_failed(&e))?;
        }
        j.sync(seq).map_err(|e| self.journal_failed(&e))
    }

    /// Waits until journal records up to `seq` are on disk.
    pub(crate) async fn sync_journal(&self, seq: u64) -> Result<(), ApiError> {
        let Some(j) = self.journal.clone() else {
            return Ok(());
        };
        let r = tokio::task::spawn_blocking(move || j.sync(seq)).await;
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.journal_failed(&e)),
            Err(e) => {
                tracing::error!(error = %e, "journal sync task failed");
                self.halted.store(true, Ordering::SeqCst);
                Err(halted())
            }
        }
    }

    /// The engine counted something the journal could not keep: as for a
    /// failed board append (§A1 Halt), the election stops changing.
    fn journal_failed(&self, e: &JournalError) -> ApiError {
        self.halted.store(true, Ordering::SeqCst);
        tracing::error!(error = %e, "server journal write failed after the engine counted; halting the election");
        halted()
    }

    pub(crate) fn remember(&self, tracking: [u8; 32], index: u64) {
        self.receipts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tracking, index);
    }

    /// A copy of the receipts index (for a snapshot).
    pub(crate) fn receipts_snapshot(&self) -> HashMap<[u8; 32], u64> {
        self.receipts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the receipts index (resuming from a snapshot).
    pub(crate) fn set_receipts(&self, receipts: HashMap<[u8; 32], u64>) {
        *self.receipts.lock().unwrap_or_else(PoisonError::into_inner) = receipts;
    }

    /// Forgets what a replay noted (receipts, turnout, ceremony log), before
    /// replaying the board again from the start.
    pub(crate) fn reset_replayed(&self) {
        self.set_receipts(HashMap::new());
        *self.book() = TurnoutBook::default();
        self.ceremony
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.set_observers_at(None);
    }

    /// The board index of the last observer list, if any.
    pub(crate) fn observers_at(&self) -> Option<u64> {
        *self
            .observers_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes the board index of an observer list.
    pub(crate) fn set_observers_at(&self, index: Option<u64>) {
        *self
            .observers_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = index;
    }

    pub(crate) fn receipt_index(&self, tracking: &[u8; 32]) -> Option<u64> {
        self.receipts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tracking)
            .copied()
    }

    /// The manifest's time zone (read once).
    pub(crate) fn zone(&self, manifest: &Manifest) -> &Zone {
        self.zone
            .get_or_init(|| Zone::load(&manifest.schedule().time_zone))
    }

    /// Notes a `trustee_ceremony` entry once it is on the board.
    pub(crate) fn log_ceremony(&self, index: u64, payload: Vec<u8>) {
        self.ceremony
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, payload));
    }

    /// The ceremony entries so far, in board order (they are noted after
    /// the engine lock is released, so concurrent posts may note out of order).
    pub(crate) fn ceremony_log(&self) -> Vec<(u64, Vec<u8>)> {
        let mut log = self
            .ceremony
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        log.sort_unstable_by_key(|(i, _)| *i);
        log
    }

    /// Forgets what a replay of the board fills in again (receipts,
    /// turnout, ceremony log); call with the engine lock held, before one.
    pub(crate) fn forget_derived(&self) {
        self.receipts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        *self.book() = TurnoutBook::default();
        self.ceremony
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn book(&self) -> std::sync::MutexGuard<'_, TurnoutBook> {
        self.turnout.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a transition of the engine under the lock and appends its
    /// entries before anyone else can change the engine.
    pub(crate) async fn transition<T>(
        &self,
        f: impl FnOnce(&mut Inner, Timestamp) -> Result<(Vec<Entry>, T), ApiError>,
    ) -> Result<(Vec<Appended>, T), ApiError> {
        self.check_running()?;
        let mut inner = self.inner.lock().await;
        self.check_running()?;
        let now = self.now();
        let r = f(&mut inner, now);
        self.note_phase(&inner);
        let (entries, value) = r?;
        let appended = self.append(entries).await?;
        drop(inner);
        Ok((appended, value))
    }

    /// Appends entries that are not election state (complaints, answers,
    /// precinct list hashes: spec/record.md §R13–§R15) under the engine
    /// lock, so they never fall inside a chunked object, once the
    /// manifest is on the board. `f` sees the phase's name and may refuse.
    pub(crate) async fn append_notice<T>(
        &self,
        f: impl FnOnce(&'static str) -> Result<(Vec<Entry>, T), ApiError>,
    ) -> Result<(Vec<Appended>, T), ApiError> {
        self.transition(|inner, _| {
            if matches!(inner.phase, super::phase::Phase::Empty) {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "no_manifest",
                    "The election manifest is not on the board yet.",
                ));
            }
            f(inner.phase.name())
        })
        .await
    }
}

/// The election half of the server's state.
#[derive(Debug, Clone)]
pub struct ElectionService {
    pub(crate) shared: Arc<Shared>,
    verifier: Arc<OnceLock<mpsc::Sender<Submission>>>,
}

impl ElectionService {
    /// A service appending to `store`, with no election yet, keeping
    /// what is not on the board in memory only (tests, the demo): it
    /// cannot be resumed after a restart. `urna serve` uses [`resume`](Self::resume).
    pub fn new(store: BoardStore, config: ElectionConfig) -> Self {
        Self::build(store, config, None)
    }

    fn build(store: BoardStore, config: ElectionConfig, journal: Option<Arc<Journal>>) -> Self {
        ElectionService {
            shared: Arc::new_cyclic(|me| Shared {
                store,
                config,
                inner: tokio::sync::Mutex::new(Inner::default()),
                phase_name: Mutex::new(Phase::Empty.name()),
                halted: AtomicBool::new(false),
                manifest: OnceLock::new(),
                keys: OnceLock::new(),
                zone: OnceLock::new(),
                receipts: Mutex::new(HashMap::new()),
                turnout: Mutex::new(TurnoutBook::default()),
                ceremony: Mutex::new(Vec::new()),
                journal,
                batches: AtomicU64::new(0),
                batched: AtomicU64::new(0),
                in_flight: AtomicU64::new(0),
                snapshotting: AtomicBool::new(false),
                snapshot_size: AtomicU64::new(0),
                observers_at: Mutex::new(None),
                applied: AtomicU64::new(0),
                recovery: Recovery::new(me.clone()),
            }),
            verifier: Arc::new(OnceLock::new()),
        }
    }

    /// A service that continues the election on `store` (spec/api.md §A6):
    /// the board is replayed through the engine in order, with the
    /// server journal at `journal` (created if absent) for what is not on
    /// the board. Any entry that does not replay exactly refuses the start.
    /// The replay blocks: inside a runtime, call it from `spawn_blocking`.
    pub fn resume(
        store: BoardStore,
        config: ElectionConfig,
        journal: &std::path::Path,
    ) -> Result<(Self, ResumeReport), ResumeError> {
        let (journal, records) = Journal::open(journal).map_err(|e| ResumeError {
            index: None,
            message: e.to_string(),
        })?;
        let service = Self::build(store, config, Some(Arc::new(journal)));
        let size = service.shared.store.size();
        let (inner, report) = super::resume::replay(&service.shared, records)?;
        service.shared.applied.store(size, Ordering::SeqCst);
        // Nobody else can hold the lock yet: the service is not shared.
        match service.shared.inner.try_lock() {
            Ok(mut g) => {
                *g = inner;
                service.shared.note_phase(&g);
            }
            Err(_) => {
                return Err(ResumeError {
                    index: None,
                    message: "the engine was in use during the replay".into(),
                });
            }
        }
        Ok((service, report))
    }

    /// Takes a snapshot of the election state now (spec/api.md §A6.3)
    /// and stores it; `Ok(None)` outside the voting phase. The server
    /// also takes them by itself every [`ElectionConfig::snapshot_every`]
    /// entries.
    pub async fn snapshot_now(&self) -> Result<Option<super::SnapshotTaken>, String> {
        super::snapshot::take(&self.shared).await
    }

    /// For a follower that does not append (another process sequences the
    /// board on the same database): applies the entries appended since
    /// this service resumed or last caught up, through the same replay as
    /// a restart (spec/api.md §A6.3), so that it can take over with only
    /// the last few entries to read. Receipts and turnout follow. What
    /// is not on the board (registrations' precincts, acceptance times)
    /// comes from the journal only at [`resume`](Self::resume): ballots
    /// caught up here count as accepted now. Returns the board size
    /// applied. Blocks (it waits for the engine lock and verifies the new
    /// ballots): from async code, call it inside `spawn_blocking`.
    pub fn catch_up(&self) -> Result<u64, ResumeError> {
        let mut inner = self.shared.inner.blocking_lock();
        let from = self.shared.applied.load(Ordering::SeqCst);
        let r = super::resume::catch_up(&self.shared, &mut inner, from);
        self.shared.note_phase(&inner);
        let applied = r?;
        self.shared.applied.store(applied, Ordering::SeqCst);
        Ok(applied)
    }

    /// The board size this service's engine has applied.
    pub fn applied(&self) -> u64 {
        self.shared.applied.load(Ordering::SeqCst)
    }

    /// The batching verifier's queue, started on first use (inside the runtime).
    pub(crate) fn verifier(&self) -> &mpsc::Sender<Submission> {
        self.verifier.get_or_init(|| {
            let (tx, rx) = mpsc::channel(4 * self.shared.config.max_batch.max(1));
            tokio::spawn(batch::run(Arc::clone(&self.shared), rx));
            tx
        })
    }
}
