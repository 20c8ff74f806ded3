//! Lists for precinct commissions, as files for a storage medium
//! (sans-IO: the bytes; [`ListSet::write_to`] and [`verify_dir`] do the files), spec/registration.md §G7.
//!
//! Two kinds, one CSV file per precinct of the manifest (a precinct with
//! nobody on the list still gets its file, so "nobody" is a signed
//! statement, not a missing file):
//!
//! * `approved-online`, before voting: voters approved for online voting
//!   whose device registered a credential, to strike from the paper list;
//! * `voted-online`, after the close: voters whose ballot is on the board.
//!
//! Each file is `voter_id,full_name,birth_date` sorted by voter id. The
//! folder holds `<kind>/<precinct>.csv`, `SHA256SUMS` (the `sha256sum`
//! format, so `sha256sum -c SHA256SUMS` checks the files) and
//! `SHA256SUMS.sig`: the commission's Ed25519 signature, hex, over
//!
//! ```text
//! "urna-precinct-lists/v1\n" ‖ election id ‖ "\n" ‖ kind ‖ "\n" ‖ SHA256SUMS bytes
//! ```
//!
//! The list hash, SHA-256 of `SHA256SUMS`, is what goes on the board, so
//! observers can compare the medium handed over with the published hash.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::RegistryError;
use crate::date::Date;

/// Which list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Before voting: approved for online voting (strike from paper lists).
    ApprovedOnline,
    /// After the close: cast an online ballot.
    VotedOnline,
}

impl ListKind {
    /// The folder and the name in the signature.
    pub fn name(self) -> &'static str {
        match self {
            ListKind::ApprovedOnline => "approved-online",
            ListKind::VotedOnline => "voted-online",
        }
    }
}

/// One voter on a list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListRow {
    /// Precinct id.
    pub precinct: String,
    /// Registry id.
    pub voter_id: String,
    /// Full name.
    pub full_name: String,
    /// Birth date.
    pub birth_date: Date,
}

/// The files of one list kind, signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSet {
    /// Which list.
    pub kind: ListKind,
    /// `(relative path, bytes)`, in precinct order.
    pub files: Vec<(String, Vec<u8>)>,
    /// The `SHA256SUMS` bytes.
    pub sums: Vec<u8>,
    /// The commission's signature.
    pub signature: [u8; 64],
    /// Voters per precinct, in precinct order.
    pub counts: Vec<(String, u64)>,
}

fn signed_bytes(election: &str, kind: ListKind, sums: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64 + sums.len());
    m.extend_from_slice(b"urna-precinct-lists/v1\n");
    m.extend_from_slice(election.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(kind.name().as_bytes());
    m.push(b'\n');
    m.extend_from_slice(sums);
    m
}

fn io(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::storage("precinct lists", e)
}

impl ListSet {
    /// Builds the files for every precinct in `precincts` (manifest order)
    /// from `rows`, and signs them. A row of a precinct not in the list is
    /// refused.
    pub fn build(
        election: &str,
        kind: ListKind,
        precincts: &[String],
        rows: Vec<ListRow>,
        key: &SigningKey,
    ) -> Result<ListSet, RegistryError> {
        let mut by: BTreeMap<&str, Vec<&ListRow>> =
            precincts.iter().map(|p| (p.as_str(), Vec::new())).collect();
        for r in &rows {
            by.get_mut(r.precinct.as_str())
                .ok_or_else(|| {
                    RegistryError::refused(
                        "unknown_precinct",
                        format!("precinct `{}` is not in the manifest", r.precinct),
                    )
                })?
                .push(r);
        }
        let mut files = Vec::with_capacity(precincts.len());
        let mut sums = String::new();
        let mut counts = Vec::with_capacity(precincts.len());
        for p in precincts {
            let mut list = by.remove(p.as_str()).unwrap_or_default();
            list.sort_by(|a, b| a.voter_id.cmp(&b.voter_id));
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["voter_id", "full_name", "birth_date"])
                .map_err(io)?;
            for r in &list {
                w.write_record([
                    r.voter_id.as_str(),
                    r.full_name.as_str(),
                    &r.birth_date.to_string(),
                ])
                .map_err(io)?;
            }
            let bytes = w.into_inner().map_err(io)?;
            let path = format!("{}/{p}.csv", kind.name());
            sums.push_str(&format!(
                "{}  {path}\n",
                hex::encode(Sha256::digest(&bytes))
            ));
            counts.push((p.clone(), list.len() as u64));
            files.push((path, bytes));
        }
        let sums = sums.into_bytes();
        let signature = key.sign(&signed_bytes(election, kind, &sums)).to_bytes();
        Ok(ListSet {
            kind,
            files,
            sums,
            signature,
            counts,
        })
    }

    /// SHA-256 of `SHA256SUMS`: the hash recorded on the board.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(&self.sums).into()
    }

    /// Writes the folder (files, `SHA256SUMS`, `SHA256SUMS.sig`).
    pub fn write_to(&self, dir: &Path) -> Result<(), RegistryError> {
        std::fs::create_dir_all(dir.join(self.kind.name())).map_err(io)?;
        for (path, bytes) in &self.files {
            std::fs::write(dir.join(path), bytes).map_err(io)?;
        }
        std::fs::write(dir.join("SHA256SUMS"), &self.sums).map_err(io)?;
        std::fs::write(
            dir.join("SHA256SUMS.sig"),
            format!("{}\n", hex::encode(self.signature)),
        )
        .map_err(io)
    }
}

/// Checks a list folder as a precinct commission or an observer would:
/// the signature over `SHA256SUMS`, then every file's hash. Returns the
/// list hash to compare with the board.
pub fn verify_dir(
    dir: &Path,
    election: &str,
    kind: ListKind,
    key: &VerifyingKey,
) -> Result<[u8; 32], RegistryError> {
    let bad = |m: String| RegistryError::refused("invalid_list", m);
    let sums =
        std::fs::read(dir.join("SHA256SUMS")).map_err(|e| bad(format!("SHA256SUMS: {e}")))?;
    let sig_hex = std::fs::read_to_string(dir.join("SHA256SUMS.sig"))
        .map_err(|e| bad(format!("SHA256SUMS.sig: {e}")))?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(sig_hex.trim(), &mut sig)
        .map_err(|_| bad("SHA256SUMS.sig is not 128 hex digits".into()))?;
    key.verify_strict(
        &signed_bytes(election, kind, &sums),
        &Signature::from_bytes(&sig),
    )
    .map_err(|_| {
        RegistryError::refused(
            "invalid_signature",
            "SHA256SUMS is not signed by the commission key for this election and list",
        )
    })?;
    let text = std::str::from_utf8(&sums).map_err(|_| bad("SHA256SUMS is not UTF-8".into()))?;
    for (i, line) in text.lines().enumerate() {
        let (h, path) = line
            .split_once("  ")
            .ok_or_else(|| bad(format!("SHA256SUMS:{}: not `hash  path`", i + 1)))?;
        if path.contains("..") || path.starts_with('/') {
            return Err(bad(format!(
                "SHA256SUMS:{}: path `{path}` leaves the folder",
                i + 1
            )));
        }
        let bytes = std::fs::read(dir.join(path)).map_err(|e| bad(format!("{path}: {e}")))?;
        if hex::encode(Sha256::digest(&bytes)) != h {
            return Err(RegistryError::refused(
                "list_hash_mismatch",
                format!("{path} does not match its hash in SHA256SUMS"),
            ));
        }
    }
    Ok(Sha256::digest(&sums).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: &str, id: &str, name: &str) -> ListRow {
        ListRow {
            precinct: p.into(),
            voter_id: id.into(),
            full_name: name.into(),
            birth_date: Date::parse("1980-01-02").unwrap(),
        }
    }

    #[test]
    fn build_write_verify_and_tamper() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let precincts = vec![
            "uik-1".to_string(),
            "uik-2".to_string(),
            "uik-3".to_string(),
        ];
        let set = ListSet::build(
            "ru-2020",
            ListKind::ApprovedOnline,
            &precincts,
            vec![
                row("uik-2", "b", "Петров, Пётр"),
                row("uik-1", "z", "Я"),
                row("uik-2", "a", "Иванов"),
            ],
            &key,
        )
        .unwrap();
        assert_eq!(
            set.counts,
            vec![
                ("uik-1".into(), 1),
                ("uik-2".into(), 2),
                ("uik-3".into(), 0)
            ]
        );
        let uik2 = String::from_utf8(set.files[1].1.clone()).unwrap();
        assert_eq!(
            uik2,
            "voter_id,full_name,birth_date\na,Иванов,1980-01-02\nb,\"Петров, Пётр\",1980-01-02\n"
        );
        assert_eq!(set.files[2].1, b"voter_id,full_name,birth_date\n");

        let dir = tempfile::tempdir().unwrap();
        set.write_to(dir.path()).unwrap();
        let vk = key.verifying_key();
        assert_eq!(
            verify_dir(dir.path(), "ru-2020", ListKind::ApprovedOnline, &vk).unwrap(),
            set.hash()
        );
        // The signature binds the election and the kind.
        assert_eq!(
            verify_dir(dir.path(), "ru-2021", ListKind::ApprovedOnline, &vk)
                .unwrap_err()
                .code(),
            "invalid_signature"
        );
        assert_eq!(
            verify_dir(dir.path(), "ru-2020", ListKind::VotedOnline, &vk)
                .unwrap_err()
                .code(),
            "invalid_signature"
        );
        // A file changed on the medium is found.
        std::fs::write(
            dir.path().join("approved-online/uik-3.csv"),
            "voter_id,full_name,birth_date\nx,X,1990-01-01\n",
        )
        .unwrap();
        assert_eq!(
            verify_dir(dir.path(), "ru-2020", ListKind::ApprovedOnline, &vk)
                .unwrap_err()
                .code(),
            "list_hash_mismatch"
        );

        let e = ListSet::build(
            "e",
            ListKind::VotedOnline,
            &precincts,
            vec![row("uik-9", "a", "A")],
            &key,
        )
        .unwrap_err();
        assert_eq!(e.code(), "unknown_precinct");
    }
}
