//! The sequencer lease of several servers on one PostgreSQL database
//! (docs/decisions/0017-cluster-sequencer.md): one row, `cluster_lease`,
//! holding an epoch (the fencing token), the holder, the address where
//! it takes forwarded ballots, and an expiry on the database's clock.
//!
//! A server takes the lease only once it has expired, which bumps the
//! epoch; the holder renews it well before expiry. The store of the
//! holder appends under its epoch ([`crate::PostgresOptions::lease_epoch`]):
//! every batch reads the row under a share lock and is refused unless the
//! epoch is still its own, so a holder that was paused past its expiry
//! and taken over can never append again. Only the database's clock is
//! used (`now()`), never the servers'.

use std::fmt;
use std::time::Duration;

use postgres::{Client, NoTls};

use crate::error::BackendError;
use crate::postgres::{PostgresOptions, create_schema, session_config};

/// Who holds the lease, as the database says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The fencing token: bumped by every takeover.
    pub epoch: i64,
    /// The holder's id (random per server start).
    pub holder: String,
    /// Where the holder takes forwarded ballots and admin calls.
    pub address: String,
    /// Whether the lease is still live (not expired) on the database's clock.
    pub live: bool,
}

const ACQUIRE: &str = "UPDATE cluster_lease SET epoch = epoch + 1, holder = $1, address = $2, \
     expires_at = now() + $3 * interval '1 millisecond' \
     WHERE one AND expires_at < now() RETURNING epoch";
const RENEW: &str = "UPDATE cluster_lease SET expires_at = now() + $3 * interval '1 millisecond' \
     WHERE one AND epoch = $1 AND holder = $2";
const RELEASE: &str = "UPDATE cluster_lease SET expires_at = '-infinity' \
     WHERE one AND epoch = $1 AND holder = $2";
const CURRENT: &str =
    "SELECT epoch, holder, address, expires_at > now() FROM cluster_lease WHERE one";
const HEAD: &str = "SELECT size FROM board_head WHERE one";

/// A session on the lease row (its own connection).
pub struct Lease {
    client: Client,
    holder: String,
    ttl: Duration,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("holder", &self.holder)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn err(context: &'static str) -> impl FnOnce(postgres::Error) -> BackendError {
    move |e| BackendError::new(context, e)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Lease {
    /// Connects to the board's database (creating the tables if missing)
    /// as `holder`, whose leases last `ttl`.
    pub fn connect(
        url: &str,
        opts: &PostgresOptions,
        holder: &str,
        ttl: Duration,
    ) -> Result<Lease, BackendError> {
        let mut config = session_config(url, opts)?;
        config.application_name("urna-cluster-lease");
        let mut client = config
            .connect(NoTls)
            .map_err(err("connecting to PostgreSQL"))?;
        create_schema(&mut client)?;
        // A takeover waits for the batch in flight of the old holder (its
        // share lock), never forever: the caller retries.
        client
            .batch_execute("SET lock_timeout = '2s'")
            .map_err(err("setting lock_timeout"))?;
        Ok(Lease {
            client,
            holder: holder.to_owned(),
            ttl,
        })
    }

    /// This session's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes the lease if it has expired, advertising `address`; returns
    /// the new epoch, or `None` while another server holds it.
    pub fn try_acquire(&mut self, address: &str) -> Result<Option<i64>, BackendError> {
        let row = self
            .client
            .query_opt(ACQUIRE, &[&self.holder, &address, &millis(self.ttl)])
            .map_err(err("taking the sequencer lease"))?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Extends the lease of `epoch`; `false` if it is no longer ours (taken
    /// over: the caller must stop sequencing at once).
    pub fn renew(&mut self, epoch: i64) -> Result<bool, BackendError> {
        let n = self
            .client
            .execute(RENEW, &[&epoch, &self.holder, &millis(self.ttl)])
            .map_err(err("renewing the sequencer lease"))?;
        Ok(n == 1)
    }

    /// Gives up the lease of `epoch` (a clean shutdown), so that another
    /// server takes over without waiting for the expiry.
    pub fn release(&mut self, epoch: i64) -> Result<(), BackendError> {
        self.client
            .execute(RELEASE, &[&epoch, &self.holder])
            .map_err(err("releasing the sequencer lease"))?;
        Ok(())
    }

    /// The lease row.
    pub fn current(&mut self) -> Result<LeaseHolder, BackendError> {
        let r = self
            .client
            .query_one(CURRENT, &[])
            .map_err(err("reading the sequencer lease"))?;
        Ok(LeaseHolder {
            epoch: r.get(0),
            holder: r.get(1),
            address: r.get(2),
            live: r.get(3),
        })
    }

    /// The stored board size (`board_head`), which every batch advances:
    /// a follower compares it with its view of the board.
    pub fn board_size(&mut self) -> Result<u64, BackendError> {
        let size: i64 = self
            .client
            .query_one(HEAD, &[])
            .map_err(err("reading the board head"))?
            .get(0);
        u64::try_from(size).map_err(|e| BackendError::new("negative board size", e))
    }

    /// Whether the session's connection is gone (reconnect then).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}
