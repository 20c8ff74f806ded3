//! CPU time of this process's threads, grouped by thread name, from
//! `/proc/self/task/*/stat` (Linux). On a shared machine wall-clock rates
//! move with the neighbours' load; CPU seconds per operation do much less.

use std::collections::BTreeMap;

/// Clock ticks per second of `/proc` times (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds (user + system) per thread group: `urna-server`,
/// `urna-clients`, and `other` (main thread, rayon, the board writer).
/// Empty where `/proc` is not readable.
pub fn by_group() -> BTreeMap<&'static str, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..."; comm may hold spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After the comm: state is field 3 of stat(5); utime and stime are 14 and 15.
        let (Some(u), Some(s)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        let secs = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / TICKS;
        let group = if comm.starts_with("urna-server") {
            "urna-server"
        } else if comm.starts_with("urna-clients") {
            "urna-clients"
        } else {
            "other"
        };
        *out.entry(group).or_insert(0.0) += secs;
    }
    out
}

/// The CPU seconds spent by each group between two readings.
pub fn delta(
    before: &BTreeMap<&'static str, f64>,
    after: &BTreeMap<&'static str, f64>,
) -> BTreeMap<&'static str, f64> {
    after
        .iter()
        .map(|(k, v)| (*k, v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}
