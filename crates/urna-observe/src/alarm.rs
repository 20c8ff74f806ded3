//! An alarm: evidence that the board is not one consistent append-only
//! log (spec/board.md §B11.1): one `ALARM:` line naming the fault, then
//! the conflicting notes the board signed, in full, so anyone can check
//! them offline.

/// Evidence that the board is not one consistent append-only log.
#[derive(Debug)]
pub(crate) struct Alarm {
    pub(crate) what: String,
    evidence: Vec<(String, String)>,
}

impl Alarm {
    pub(crate) fn new(what: impl Into<String>) -> Self {
        Alarm {
            what: what.into(),
            evidence: Vec::new(),
        }
    }

    pub(crate) fn with(mut self, label: impl Into<String>, note: impl Into<String>) -> Self {
        self.evidence.push((label.into(), note.into()));
        self
    }

    pub(crate) fn log(&self) {
        eprintln!("urna observe: ALARM: {}", self.what);
        for (label, note) in &self.evidence {
            eprintln!("urna observe: evidence ({label}):");
            for line in note.lines() {
                eprintln!("    {line}");
            }
        }
    }
}
