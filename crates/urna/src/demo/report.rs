//! The published results, as fetched over HTTP: checked against what the
//! devices chose, and printed.

use anyhow::{Context, ensure};
use serde::Deserialize;
use urna_election::Manifest;

/// `GET /election/results`.
#[derive(Debug, Deserialize)]
pub struct Results {
    results: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    scope: String,
    id: Option<String>,
    contest: String,
    ballots: u64,
    options: Vec<String>,
    counts: Vec<u64>,
}

/// Every district's published counts must be the devices' choices
/// (`expected[d] = [yes, no]`), and the total their sum.
pub fn check(r: &Results, districts: &[String], expected: &[[u64; 2]]) -> anyhow::Result<()> {
    let mut seen = vec![false; districts.len()];
    for row in &r.results {
        ensure!(
            row.contest == "amendments" && row.options == ["yes", "no"],
            "unexpected result row {row:?}"
        );
        ensure!(
            row.counts.iter().sum::<u64>() == row.ballots,
            "result row {row:?}: counts do not add up to the ballots"
        );
        if row.scope == "district" {
            let id = row.id.as_deref().context("a district row without id")?;
            let i = districts
                .iter()
                .position(|d| d == id)
                .with_context(|| format!("results for an unknown district {id}"))?;
            ensure!(
                row.counts == expected[i],
                "district {id}: decrypted {:?}, the devices cast {:?}",
                row.counts,
                expected[i]
            );
            seen[i] = true;
        }
    }
    ensure!(seen.iter().all(|s| *s), "some districts have no results");
    let total: [u64; 2] = expected
        .iter()
        .fold([0, 0], |a, e| [a[0] + e[0], a[1] + e[1]]);
    let row = r
        .results
        .iter()
        .find(|row| row.scope == "total")
        .context("no total in the results")?;
    ensure!(
        row.counts == total,
        "total: decrypted {:?}, the devices cast {total:?}",
        row.counts
    );
    Ok(())
}

/// The results table: regions and the total.
pub fn print(m: &Manifest, r: &Results, turnout: u64) {
    println!(
        "\n  {}",
        m.contests().first().map_or("", |c| c.title.as_str())
    );
    println!("  {:<12} {:>10} {:>10} {:>10}", "", "Yes", "No", "ballots");
    for row in &r.results {
        let name = match (row.scope.as_str(), &row.id) {
            ("region", Some(id)) => id.clone(),
            ("total", _) => "total".to_string(),
            _ => continue,
        };
        let (y, n) = (
            row.counts.first().copied().unwrap_or(0),
            row.counts.get(1).copied().unwrap_or(0),
        );
        println!("  {name:<12} {y:>10} {n:>10} {:>10}", row.ballots);
        if row.scope == "total" && row.ballots > 0 {
            println!(
                "  {:<12} {:>9.1}% {:>9.1}%   ({turnout} voters took part online)",
                "",
                100.0 * y as f64 / row.ballots as f64,
                100.0 * n as f64 / row.ballots as f64
            );
        }
    }
}
