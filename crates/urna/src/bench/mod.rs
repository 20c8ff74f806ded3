//! `urna bench`: the figures a user needs to size hardware, like `openssl speed`.

pub mod board;
pub mod cast;
pub mod cpu;
pub mod crypto;
pub mod registry;
pub mod report;
pub mod restart;
pub mod verify;

use std::time::{Duration, Instant};

/// Runs `f` repeatedly for about `budget` (at least `min` times) and
/// returns the mean time per call in microseconds.
pub fn time_per_call(budget: Duration, min: u32, mut f: impl FnMut()) -> f64 {
    f(); // warm caches and lazily built tables
    let start = Instant::now();
    let mut n = 0u32;
    while n < min || start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// A progress bar on stderr, hidden when stderr is not a terminal or under `--json`.
pub fn progress(len: u64, msg: &'static str, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>24} [{bar:32}] {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg);
    pb
}
