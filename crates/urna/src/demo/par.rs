//! Bounded concurrency for many simulated clients: `concurrency` workers
//! take the next index until all are done, like that many browsers.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow};
use tokio::task::JoinSet;

/// Runs `f(i)` for every `i < n`, at most `concurrency` at once, and returns
/// the results in index order; the first error stops everything.
pub async fn concurrent<T, F, Fut>(n: usize, concurrency: usize, f: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let (f, next) = (Arc::clone(&f), Arc::clone(&next));
        set.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(done);
                }
                done.push((i, f(i).await?));
            }
        });
    }
    let mut out: Vec<Option<T>> = std::iter::repeat_with(|| None).take(n).collect();
    while let Some(joined) = set.join_next().await {
        // Dropping `set` on an early return aborts the other workers.
        for (i, v) in joined.context("a client task failed")?? {
            out[i] = Some(v);
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| anyhow!("client {i} never ran")))
        .collect()
}
