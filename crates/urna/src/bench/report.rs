//! Figures as a table for people and as JSON for machines.

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// Stable machine-readable name.
    pub name: String,
    /// What was measured, for people.
    pub what: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
}

/// A set of figures with the context needed to compare runs.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Which bench.
    pub bench: &'static str,
    /// Worker threads used for parallel figures.
    pub threads: usize,
    /// Parameters of the run.
    pub params: serde_json::Value,
    /// The figures.
    pub figures: Vec<Figure>,
    /// Remarks for the reader, such as a comparison left out of this build.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report.
    pub fn new(bench: &'static str, params: serde_json::Value) -> Self {
        Report {
            bench,
            threads: rayon::current_num_threads(),
            params,
            figures: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a remark printed after the figures.
    #[cfg_attr(feature = "compare-elastic-elgamal", allow(dead_code))]
    pub fn note(&mut self, text: &str) {
        self.notes.push(text.into());
    }

    /// Adds a figure.
    pub fn add(&mut self, name: &str, what: &str, value: f64, unit: &'static str) {
        self.figures.push(Figure {
            name: name.into(),
            what: what.into(),
            value,
            unit,
        });
    }

    /// Prints as JSON or as an aligned table.
    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        println!(
            "urna bench {} ({} threads; {})",
            self.bench, self.threads, self.params
        );
        let w = self.figures.iter().map(|f| f.what.len()).max().unwrap_or(0);
        for f in &self.figures {
            println!("  {:<w$}  {:>12} {}", f.what, fmt_value(f.value), f.unit);
        }
        for n in &self.notes {
            println!("note: {n}");
        }
        Ok(())
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
