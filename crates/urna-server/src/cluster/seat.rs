//! The thread that keeps this server's seat: it takes the lease when it
//! has expired and opens the election as sequencer, renews it, steps
//! down when it lost it (or its election halted), and otherwise follows
//! the holder and refreshes the replica when the board grew.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use urna_store::Lease;

use super::{Node, Opening, Seat};
use crate::AppState;

/// How often the thread looks at the lease.
const TICK: Duration = Duration::from_millis(250);
/// Least time between two replica openings.
const REPLICA_EVERY: Duration = Duration::from_millis(1000);

type Opened = JoinHandle<Result<AppState, String>>;

struct Keeper<'a> {
    node: &'a Node,
    lease: Option<Lease>,
    /// The sequencer state being opened, under the lease of this epoch.
    opening: Option<(i64, Opened)>,
    replica_job: Option<Opened>,
    replica_at: Option<Instant>,
    /// The last successful renewal (or acquisition).
    renewed: Instant,
}

pub(super) fn run(node: &Node) {
    node.update(|v| v.seat = Some(Seat::Starting));
    let mut k = Keeper {
        node,
        lease: None,
        opening: None,
        replica_job: None,
        replica_at: None,
        renewed: Instant::now(),
    };
    loop {
        k.tick();
        std::thread::sleep(TICK);
    }
}

fn spawn_open(node: &Node, opening: Opening) -> Option<Opened> {
    let open = std::sync::Arc::clone(&node.inner.config.open);
    std::thread::Builder::new()
        .name("urna-cluster-open".into())
        .spawn(move || open(opening))
        .map_err(|e| tracing::error!(error = %e, "cannot start a thread"))
        .ok()
}

/// Drops a state on its own thread: dropping a store joins its writer.
fn drop_later(state: AppState) {
    let _ = std::thread::Builder::new()
        .name("urna-cluster-drop".into())
        .spawn(move || drop(state));
}

impl Keeper<'_> {
    fn ttl(&self) -> Duration {
        self.node.inner.config.lease_ttl
    }

    fn lease(&mut self) -> Option<&mut Lease> {
        if self.lease.as_ref().is_some_and(Lease::is_closed) {
            self.lease = None;
        }
        if self.lease.is_none() {
            let c = &self.node.inner.config;
            match Lease::connect(&c.url, &c.postgres, &self.node.inner.holder, c.lease_ttl) {
                Ok(l) => self.lease = Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the database for the lease");
                    eprintln!("urna: cluster: cannot reach the database for the lease: {e}");
                }
            }
        }
        self.lease.as_mut()
    }

    fn tick(&mut self) {
        match self.node.view().seat {
            Some(Seat::Sequencer { epoch, state, .. }) => self.sequence(epoch, &state),
            _ if self.opening.is_some() => self.finish_opening(),
            _ => self.follow(),
        }
    }

    /// Renews the lease; steps down if it is lost, cannot be renewed in
    /// time, or the election halted (a failed or fenced append).
    fn sequence(&mut self, epoch: i64, state: &AppState) {
        if let Err(e) = state.election.shared.check_running() {
            self.step_down(epoch, &format!("its election stopped ({})", e.message()));
            return;
        }
        if self.renewed.elapsed() < self.ttl() / 3 {
            return;
        }
        let renewed = self.lease().map(|l| l.renew(epoch));
        match renewed {
            Some(Ok(true)) => self.renewed = Instant::now(),
            Some(Ok(false)) => {
                self.step_down(epoch, "another server took the lease over");
                return;
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "renewing the lease failed");
                self.lease = None;
            }
            None => {}
        }
        if self.renewed.elapsed() >= self.ttl() {
            self.step_down(epoch, "the lease could not be renewed in time");
        }
    }

    fn step_down(&mut self, epoch: i64, why: &str) {
        eprintln!("urna: cluster: stepping down as sequencer (epoch {epoch}): {why}");
        tracing::warn!(epoch, why, "stepping down as sequencer");
        let mut old = None;
        self.node.update(|v| {
            if let Some(Seat::Sequencer { state, .. }) = v.seat.take() {
                old = Some(state);
            }
            v.seat = Some(Seat::Follower);
            v.sequencer = None;
        });
        if let Some(state) = old {
            drop_later(state);
        }
        if let Some(l) = self.lease() {
            // Only if still ours; a clean hand-over spares the others the expiry.
            let _ = l.release(epoch);
        }
    }

    /// Keeps the lease taken for the state being opened; installs it when open.
    fn finish_opening(&mut self) {
        let Some((epoch, job)) = self.opening.take() else {
            return;
        };
        if !job.is_finished() {
            if self.renewed.elapsed() >= self.ttl() / 3 {
                match self.lease().map(|l| l.renew(epoch)) {
                    Some(Ok(true)) => self.renewed = Instant::now(),
                    Some(Ok(false)) => {
                        eprintln!("urna: cluster: lost the lease while opening the election");
                        // Its store can never append (fenced): drop it when done.
                        std::thread::spawn(move || drop(job.join()));
                        return;
                    }
                    _ => {}
                }
            }
            self.opening = Some((epoch, job));
            return;
        }
        match job.join() {
            Ok(Ok(state)) => {
                let router = crate::app(state.clone());
                eprintln!(
                    "urna: cluster: sequencing board {} at size {} (lease epoch {epoch})",
                    state.store.origin(),
                    state.store.size()
                );
                let advertise = self.node.inner.config.advertise.clone();
                self.node.update(|v| {
                    v.seat = Some(Seat::Sequencer {
                        epoch,
                        state,
                        router,
                    });
                    v.sequencer = Some((advertise, epoch));
                });
            }
            Ok(Err(e)) => {
                eprintln!("urna: cluster: cannot open the election as sequencer: {e}");
                tracing::error!(error = %e, "opening the election as sequencer failed");
                self.node.update(|v| v.seat = Some(Seat::Follower));
                if let Some(l) = self.lease() {
                    let _ = l.release(epoch);
                }
            }
            Err(_) => {
                self.node.update(|v| v.seat = Some(Seat::Follower));
            }
        }
    }

    /// Follows the holder; takes the lease when it has expired.
    fn follow(&mut self) {
        let advertise = self.node.inner.config.advertise.clone();
        let Some(lease) = self.lease() else {
            self.node.update(|v| v.sequencer = None);
            return;
        };
        let current = match lease.current() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "reading the lease failed");
                self.lease = None;
                return;
            }
        };
        if !current.live {
            match lease.try_acquire(&advertise) {
                Ok(Some(epoch)) => {
                    eprintln!("urna: cluster: took the sequencer lease (epoch {epoch})");
                    crate::metrics::sequencer_changed();
                    self.renewed = Instant::now();
                    self.node.update(|v| v.sequencer = None);
                    self.opening =
                        spawn_open(self.node, Opening::Sequencer(epoch)).map(|j| (epoch, j));
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "taking the lease failed");
                    self.lease = None;
                    return;
                }
            }
        }
        let size = lease.board_size().ok();
        self.node.update(|v| {
            v.sequencer = current
                .live
                .then(|| (current.address.clone(), current.epoch));
            if !matches!(v.seat, Some(Seat::Follower)) {
                v.seat = Some(Seat::Follower);
            }
        });
        self.refresh_replica(size);
    }

    /// Opens a new replica when the board grew (at most once a second).
    fn refresh_replica(&mut self, db_size: Option<u64>) {
        if let Some(job) = self.replica_job.take() {
            if !job.is_finished() {
                self.replica_job = Some(job);
                return;
            }
            match job.join() {
                Ok(Ok(state)) => {
                    let router = crate::app(state.clone());
                    let mut old = None;
                    self.node
                        .update(|v| old = v.replica.replace((state, router)));
                    if let Some((state, _)) = old {
                        drop_later(state);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "opening the replica failed");
                    eprintln!("urna: cluster: cannot open the replica: {e}");
                }
                Err(_) => {}
            }
        }
        let have = self.node.view().replica.map(|(s, _)| s.store.size());
        let stale = have.is_none() || (db_size.is_some() && have != db_size);
        if stale && self.replica_at.is_none_or(|t| t.elapsed() >= REPLICA_EVERY) {
            self.replica_at = Some(Instant::now());
            self.replica_job = spawn_open(self.node, Opening::Replica);
        }
    }
}
