//! Reading the official voter registry: one CSV file per region
//! (spec/registration.md §G2).
//!
//! The header must be exactly
//! `voter_id,full_name,birth_date,document_number,phone,email,precinct,account_created`
//! (UTF-8, comma-separated, RFC 4180 quoting, an optional byte-order mark).
//! Every row is checked here, before any storage: a bad row stops the whole
//! import with the file, the line and a stable code ([`ImportError`]). The
//! document number leaves this module only as its keyed hash.

use std::collections::HashMap;
use std::io::Read;

use urna_election::Manifest;
use zeroize::Zeroize;

use crate::date::Date;
use crate::error::ImportError;
use crate::secret::{CommissionSecret, DocHash};

/// The registry columns, in order.
pub const HEADER: [&str; 8] = [
    "voter_id",
    "full_name",
    "birth_date",
    "document_number",
    "phone",
    "email",
    "precinct",
    "account_created",
];

/// One voter of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterRecord {
    /// The registry's id, unique across regions.
    pub voter_id: String,
    /// Region id (of the manifest).
    pub region: String,
    /// Full name as written in the registry.
    pub full_name: String,
    /// Birth date.
    pub birth_date: Date,
    /// Keyed hash of the identity document number.
    pub doc_hash: DocHash,
    /// Phone, normalised (`+` and digits).
    pub phone: String,
    /// E-mail, if any.
    pub email: Option<String>,
    /// Precinct id (of the manifest), in `region`.
    pub precinct: String,
    /// When the voter's portal account was created.
    pub account_created: Date,
}

/// Where precincts are: precinct id → (district id, region id), from the manifest.
#[derive(Debug, Clone, Default)]
pub struct Geography {
    precincts: HashMap<String, (String, String)>,
    regions: Vec<String>,
    districts: Vec<String>,
}

impl Geography {
    /// The geography of a manifest.
    pub fn of(manifest: &Manifest) -> Self {
        let districts = manifest.districts();
        let regions = manifest.regions();
        let precincts = manifest
            .precincts()
            .iter()
            .map(|p| {
                let d = &districts[p.district];
                (p.id.clone(), (d.id.clone(), regions[d.region].id.clone()))
            })
            .collect();
        Geography {
            precincts,
            regions: regions.iter().map(|r| r.id.clone()).collect(),
            districts: districts.iter().map(|d| d.id.clone()).collect(),
        }
    }

    /// Whether the manifest has this region.
    pub fn has_region(&self, region: &str) -> bool {
        self.regions.iter().any(|r| r == region)
    }

    /// The district and region of a precinct.
    pub fn locate(&self, precinct: &str) -> Option<(&str, &str)> {
        self.precincts
            .get(precinct)
            .map(|(d, r)| (d.as_str(), r.as_str()))
    }

    /// District ids in manifest order.
    pub fn districts(&self) -> &[String] {
        &self.districts
    }
}

/// A phone number as stored and compared: `+` and 10 to 15 digits.
/// Russian national forms (`8 (999) 123-45-67`) become `+7…`.
pub fn normalize_phone(text: &str) -> Option<String> {
    let t = text.trim();
    let plus = t.starts_with('+');
    let rest = if plus { &t[1..] } else { t };
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return None,
        }
    }
    if !plus && digits.len() == 11 && digits.starts_with('8') {
        digits.replace_range(..1, "7");
    }
    (10..=15)
        .contains(&digits.len())
        .then(|| format!("+{digits}"))
}

/// A name as compared: lower case, `ё` as `е`, single spaces.
pub fn normalize_name(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .map(|c| if c == 'ё' { 'е' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a free-text field: not empty, at most `max` bytes, no control characters.
pub fn check_text(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if text.len() > max {
        return Err(format!("{what} is longer than {max} bytes"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("{what} contains a control character"));
    }
    Ok(())
}

/// Checks an e-mail address (the shape only; delivery proves the rest).
pub fn check_email(text: &str) -> Result<(), String> {
    let mut parts = text.split('@');
    let ok = matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
    ) && text.len() <= 254
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!("`{text}` is not an e-mail address"))
    }
}

/// Whether `s` is a registry voter id: 1–64 of `A-Z a-z 0-9 . _ -`.
pub fn is_voter_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Reads a region's registry file row by row, checking each one.
///
/// Yields `(line, record)`; the first error ends the iteration. Duplicate
/// voter ids and document numbers within the file are found here (with
/// the line of the first occurrence); duplicates against other regions are
/// found by the store.
pub struct RowReader<'a, R: Read> {
    file: String,
    region: String,
    geography: &'a Geography,
    secret: &'a CommissionSecret,
    csv: csv::Reader<R>,
    record: csv::StringRecord,
    seen_ids: HashMap<String, u64>,
    seen_docs: HashMap<DocHash, u64>,
    started: bool,
    done: bool,
}

impl<R: Read> std::fmt::Debug for RowReader<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowReader")
            .field("file", &self.file)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl<'a, R: Read> RowReader<'a, R> {
    /// A reader of `input`, named `file` in errors, for `region`.
    pub fn new(
        file: &str,
        region: &str,
        geography: &'a Geography,
        secret: &'a CommissionSecret,
        input: R,
    ) -> Self {
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        RowReader {
            file: file.to_string(),
            region: region.to_string(),
            geography,
            secret,
            csv,
            record: csv::StringRecord::new(),
            seen_ids: HashMap::new(),
            seen_docs: HashMap::new(),
            started: false,
            done: false,
        }
    }

    fn error(&self, line: u64, code: &'static str, message: impl Into<String>) -> ImportError {
        ImportError {
            file: self.file.clone(),
            line,
            code,
            message: message.into(),
        }
    }

    fn read(&mut self) -> Result<Option<u64>, ImportError> {
        match self.csv.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(self.record.position().map_or(0, |p| p.line()))),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let msg = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "the line is not valid UTF-8".to_string(),
                    _ => format!("unreadable CSV: {e}"),
                };
                Err(self.error(line, "invalid_csv", msg))
            }
        }
    }

    fn header(&mut self) -> Result<(), ImportError> {
        if !self.geography.has_region(&self.region) {
            return Err(self.error(
                0,
                "unknown_region",
                format!("region `{}` is not in the manifest", self.region),
            ));
        }
        let Some(line) = self.read()? else {
            return Err(self.error(0, "empty_file", "the file is empty (no header)"));
        };
        let got: Vec<&str> = self
            .record
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == 0 {
                    f.trim_start_matches('\u{feff}')
                } else {
                    f
                }
            })
            .collect();
        if got != HEADER {
            return Err(self.error(
                line,
                "invalid_header",
                format!(
                    "the header is `{}`, expected `{}`",
                    got.join(","),
                    HEADER.join(",")
                ),
            ));
        }
        Ok(())
    }

    fn row(&mut self, line: u64) -> Result<VoterRecord, ImportError> {
        let r = &self.record;
        if r.len() != HEADER.len() {
            return Err(self.error(
                line,
                "wrong_field_count",
                format!("{} fields, expected {}", r.len(), HEADER.len()),
            ));
        }
        let f = |i: usize| r.get(i).unwrap_or("");
        let voter_id = f(0).trim();
        if !is_voter_id(voter_id) {
            return Err(self.error(
                line,
                "invalid_voter_id",
                format!("voter_id `{voter_id}` is not 1–64 of A-Z a-z 0-9 . _ -"),
            ));
        }
        let full_name = f(1).trim();
        check_text("full_name", full_name, 256)
            .map_err(|m| self.error(line, "invalid_full_name", m))?;
        let birth_date = Date::parse(f(2).trim())
            .map_err(|m| self.error(line, "invalid_birth_date", format!("birth_date: {m}")))?;
        let mut doc = crate::secret::normalize_document(f(3));
        let doc_ok = !doc.is_empty() && doc.len() <= 32 && doc.chars().all(char::is_alphanumeric);
        let doc_hash = self.secret.doc_hash(&doc);
        doc.zeroize();
        if !doc_ok {
            // The number itself is not echoed: error messages end up in logs.
            return Err(self.error(
                line,
                "invalid_document_number",
                "document_number must be 1–32 letters or digits (spaces and dashes ignored)",
            ));
        }
        let phone = normalize_phone(f(4)).ok_or_else(|| {
            self.error(
                line,
                "invalid_phone",
                format!("phone `{}` is not a phone number", f(4)),
            )
        })?;
        let email = match f(5).trim() {
            "" => None,
            e => {
                check_email(e).map_err(|m| self.error(line, "invalid_email", m))?;
                Some(e.to_string())
            }
        };
        let precinct = f(6).trim();
        match self.geography.locate(precinct) {
            Some((_, region)) if region == self.region => {}
            Some((_, region)) => {
                return Err(self.error(
                    line,
                    "precinct_outside_region",
                    format!(
                        "precinct `{precinct}` is in region `{region}`, not `{}`",
                        self.region
                    ),
                ));
            }
            None => {
                return Err(self.error(
                    line,
                    "unknown_precinct",
                    format!("precinct `{precinct}` is not in the manifest"),
                ));
            }
        }
        let account_created = Date::parse(f(7).trim()).map_err(|m| {
            self.error(
                line,
                "invalid_account_created",
                format!("account_created: {m}"),
            )
        })?;
        if let Some(first) = self.seen_ids.get(voter_id) {
            return Err(self.error(
                line,
                "duplicate_voter",
                format!("voter_id `{voter_id}` is already on line {first}"),
            ));
        }
        if let Some(first) = self.seen_docs.get(&doc_hash) {
            return Err(self.error(
                line,
                "duplicate_document",
                format!("the document number is already on line {first}"),
            ));
        }
        let record = VoterRecord {
            voter_id: voter_id.to_string(),
            region: self.region.clone(),
            full_name: full_name.to_string(),
            birth_date,
            doc_hash,
            phone,
            email,
            precinct: precinct.to_string(),
            account_created,
        };
        self.seen_ids.insert(record.voter_id.clone(), line);
        self.seen_docs.insert(doc_hash, line);
        Ok(record)
    }

    /// The input (after the rows were read: for the file's hash).
    pub fn input(&self) -> &R {
        self.csv.get_ref()
    }

    /// The file name given at creation.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The region being imported.
    pub fn region(&self) -> &str {
        &self.region
    }
}

impl<R: Read> Iterator for RowReader<'_, R> {
    type Item = Result<(u64, VoterRecord), ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = (|| {
            if !self.started {
                self.started = true;
                self.header()?;
            }
            loop {
                let Some(line) = self.read()? else {
                    return Ok(None);
                };
                // Blank lines (a trailing newline pair) are skipped.
                if self.record.len() == 1 && self.record.get(0).is_some_and(|f| f.trim().is_empty())
                {
                    continue;
                }
                return self.row(line).map(|r| Some((line, r)));
            }
        })();
        match step {
            Ok(Some(x)) => Some(Ok(x)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
