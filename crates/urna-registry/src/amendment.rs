//! Registry amendments: signed, versioned lists of changes, each chained
//! by hash to the previous version (as Estonia's IVXV does with its voter
//! list amendments). spec/registration.md §G3.
//!
//! Version 0 is the registry as imported; its hash is
//! [`base_hash`] over the imported files. Version `v ≥ 1` carries the hash
//! of version `v − 1`, so the whole history is fixed by the latest hash,
//! and the commission signs each version with its Ed25519 key. Every
//! screening decision records the version in force.
//!
//! Byte layout (all integers big-endian; `str` is `u16 length ‖ UTF-8`;
//! `date` is the 10 ASCII bytes `YYYY-MM-DD`):
//!
//! ```text
//! "URNA-REGISTRY-AMENDMENT" 0x01      domain and layout version (24 bytes)
//! u64 version ‖ [32] previous hash ‖ i64 time ‖ u32 n ‖ n changes
//! change = 0x01 add:    str voter_id ‖ str region ‖ str full_name ‖ date birth
//!                       ‖ [32] document hash ‖ str phone ‖ u8 has_email ‖ [str email]
//!                       ‖ str precinct ‖ date account_created
//!        | 0x02 remove: str voter_id ‖ str reason
//! hash = SHA-256(bytes); signature = Ed25519(commission key, bytes)
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use urna_election::Timestamp;

use crate::RegistryError;
use crate::date::Date;
use crate::import::{VoterRecord, check_email, check_text, is_voter_id, normalize_phone};
use crate::secret::DocHash;

const DOMAIN: &[u8; 24] = b"URNA-REGISTRY-AMENDMENT\x01";
const BASE_DOMAIN: &[u8] = b"URNA-REGISTRY-BASE\x01";

/// One change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A voter added (or re-added after a removal).
    Add(VoterRecord),
    /// A voter removed, with the reason (e.g. a court decision, death, move).
    Remove {
        /// The registry id.
        voter_id: String,
        /// Why, for the record.
        reason: String,
    },
}

/// A version of the amendments, before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amendment {
    /// 1, 2, …
    pub version: u64,
    /// Hash of version `version − 1` ([`base_hash`] for version 1).
    pub previous: [u8; 32],
    /// When the commission made it (informative).
    pub time: Timestamp,
    /// The changes, applied in order.
    pub changes: Vec<Change>,
}

/// An amendment as published: the exact bytes and the commission's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAmendment {
    /// The encoded amendment.
    pub bytes: Vec<u8>,
    /// Ed25519 signature over `bytes`.
    pub signature: [u8; 64],
}

fn invalid(m: impl Into<String>) -> RegistryError {
    RegistryError::refused("invalid_amendment", m)
}

impl Amendment {
    /// The canonical bytes.
    pub fn encode(&self) -> Result<Vec<u8>, RegistryError> {
        let mut w = Vec::with_capacity(64 + 128 * self.changes.len());
        w.extend_from_slice(DOMAIN);
        w.extend_from_slice(&self.version.to_be_bytes());
        w.extend_from_slice(&self.previous);
        w.extend_from_slice(&self.time.unix().to_be_bytes());
        let n = u32::try_from(self.changes.len()).map_err(|_| invalid("too many changes"))?;
        w.extend_from_slice(&n.to_be_bytes());
        for c in &self.changes {
            match c {
                Change::Add(r) => {
                    w.push(1);
                    for s in [&r.voter_id, &r.region, &r.full_name] {
                        put_str(&mut w, s)?;
                    }
                    w.extend_from_slice(r.birth_date.to_string().as_bytes());
                    w.extend_from_slice(&r.doc_hash.0);
                    put_str(&mut w, &r.phone)?;
                    match &r.email {
                        Some(e) => {
                            w.push(1);
                            put_str(&mut w, e)?;
                        }
                        None => w.push(0),
                    }
                    put_str(&mut w, &r.precinct)?;
                    w.extend_from_slice(r.account_created.to_string().as_bytes());
                }
                Change::Remove { voter_id, reason } => {
                    w.push(2);
                    put_str(&mut w, voter_id)?;
                    put_str(&mut w, reason)?;
                }
            }
        }
        Ok(w)
    }

    /// Strictly decodes and checks every field.
    pub fn decode(bytes: &[u8]) -> Result<Self, RegistryError> {
        let mut r = Reader(bytes);
        if r.take(DOMAIN.len())? != DOMAIN {
            return Err(invalid("not an amendment (wrong domain or layout version)"));
        }
        let version = u64::from_be_bytes(r.array()?);
        let previous = r.array()?;
        let time = Timestamp::from_unix(i64::from_be_bytes(r.array()?));
        let n = u32::from_be_bytes(r.array()?);
        let mut changes = Vec::new();
        for i in 0..n {
            let change = match r.take(1)?[0] {
                1 => {
                    let voter_id = r.str()?;
                    let region = r.str()?;
                    let full_name = r.str()?;
                    let birth_date = r.date()?;
                    let doc_hash = DocHash(r.array()?);
                    let phone = r.str()?;
                    let email = match r.take(1)?[0] {
                        0 => None,
                        1 => Some(r.str()?),
                        _ => return Err(invalid(format!("change {i}: bad e-mail flag"))),
                    };
                    let precinct = r.str()?;
                    let account_created = r.date()?;
                    let rec = VoterRecord {
                        voter_id,
                        region,
                        full_name,
                        birth_date,
                        doc_hash,
                        phone,
                        email,
                        precinct,
                        account_created,
                    };
                    check_record(&rec).map_err(|m| invalid(format!("change {i}: {m}")))?;
                    Change::Add(rec)
                }
                2 => {
                    let voter_id = r.str()?;
                    let reason = r.str()?;
                    if !is_voter_id(&voter_id) {
                        return Err(invalid(format!("change {i}: bad voter_id")));
                    }
                    check_text("reason", &reason, 1024)
                        .map_err(|m| invalid(format!("change {i}: {m}")))?;
                    Change::Remove { voter_id, reason }
                }
                t => return Err(invalid(format!("change {i}: unknown tag {t}"))),
            };
            changes.push(change);
        }
        if !r.0.is_empty() {
            return Err(invalid("trailing bytes"));
        }
        if version == 0 {
            return Err(invalid(
                "version 0 is the imported registry; amendments start at 1",
            ));
        }
        Ok(Amendment {
            version,
            previous,
            time,
            changes,
        })
    }

    /// Encodes and signs with the commission key.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedAmendment, RegistryError> {
        let bytes = self.encode()?;
        let signature = key.sign(&bytes).to_bytes();
        Ok(SignedAmendment { bytes, signature })
    }
}

impl SignedAmendment {
    /// The signed amendment file (spec/registration.md §G3): the bytes,
    /// then the 64-byte signature.
    pub fn to_file(&self) -> Vec<u8> {
        let mut f = self.bytes.clone();
        f.extend_from_slice(&self.signature);
        f
    }

    /// Reads a signed amendment file; the signature is checked by
    /// [`SignedAmendment::verify`].
    pub fn from_file(file: &[u8]) -> Result<Self, RegistryError> {
        let Some(split) = file.len().checked_sub(64) else {
            return Err(invalid(format!(
                "a signed amendment file is the amendment then a 64-byte signature; {} bytes given",
                file.len()
            )));
        };
        let (bytes, sig) = file.split_at(split);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig);
        Ok(SignedAmendment {
            bytes: bytes.to_vec(),
            signature,
        })
    }

    /// SHA-256 of the bytes: what the next version chains to.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    /// Checks the signature (strictly) and decodes.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Amendment, RegistryError> {
        let sig = Signature::from_bytes(&self.signature);
        key.verify_strict(&self.bytes, &sig).map_err(|_| {
            RegistryError::refused(
                "invalid_signature",
                "the amendment is not signed by the commission key",
            )
        })?;
        Amendment::decode(&self.bytes)
    }
}

/// The hash of version 0: the imported files, as `(region, file SHA-256,
/// rows)` sorted by region.
pub fn base_hash(imports: &[(String, [u8; 32], u64)]) -> [u8; 32] {
    let mut sorted: Vec<_> = imports.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    h.update(BASE_DOMAIN);
    for (region, sha, rows) in sorted {
        h.update((region.len() as u16).to_be_bytes());
        h.update(region.as_bytes());
        h.update(sha);
        h.update(rows.to_be_bytes());
    }
    h.finalize().into()
}

/// The field checks of an imported row, for records arriving by amendment.
pub fn check_record(r: &VoterRecord) -> Result<(), String> {
    if !is_voter_id(&r.voter_id) {
        return Err(format!("voter_id `{}` is not valid", r.voter_id));
    }
    check_text("full_name", &r.full_name, 256)?;
    if normalize_phone(&r.phone).as_deref() != Some(r.phone.as_str()) {
        return Err(format!("phone `{}` is not normalised", r.phone));
    }
    if let Some(e) = &r.email {
        check_email(e)?;
    }
    if r.region.is_empty() || r.precinct.is_empty() {
        return Err("region and precinct are required".into());
    }
    Ok(())
}

fn put_str(w: &mut Vec<u8>, s: &str) -> Result<(), RegistryError> {
    let n =
        u16::try_from(s.len()).map_err(|_| invalid("a text field is longer than 65535 bytes"))?;
    w.extend_from_slice(&n.to_be_bytes());
    w.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RegistryError> {
        if self.0.len() < n {
            return Err(invalid("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RegistryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn str(&mut self) -> Result<String, RegistryError> {
        let n = u16::from_be_bytes(self.array()?);
        let b = self.take(usize::from(n))?;
        String::from_utf8(b.to_vec()).map_err(|_| invalid("a text field is not UTF-8"))
    }
    fn date(&mut self) -> Result<Date, RegistryError> {
        let b = self.take(10)?;
        let s = std::str::from_utf8(b).map_err(|_| invalid("a date is not ASCII"))?;
        Date::parse(s).map_err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> VoterRecord {
        VoterRecord {
            voter_id: id.into(),
            region: "msk".into(),
            full_name: "Иванов Иван Иванович".into(),
            birth_date: Date::parse("1980-01-02").unwrap(),
            doc_hash: DocHash([9; 32]),
            phone: "+79161234567".into(),
            email: Some("ivan@example.org".into()),
            precinct: "uik-1".into(),
            account_created: Date::parse("2015-03-04").unwrap(),
        }
    }

    #[test]
    fn round_trip_sign_verify_and_tamper() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let a = Amendment {
            version: 1,
            previous: base_hash(&[("msk".into(), [1; 32], 10)]),
            time: Timestamp::from_unix(1_592_000_000),
            changes: vec![
                Change::Add(record("v1")),
                Change::Remove {
                    voter_id: "v2".into(),
                    reason: "moved".into(),
                },
            ],
        };
        let s = a.sign(&key).unwrap();
        assert_eq!(s.verify(&key.verifying_key()).unwrap(), a);
        // Any flipped byte breaks the signature.
        for i in [0, 30, s.bytes.len() - 1] {
            let mut t = s.clone();
            t.bytes[i] ^= 1;
            assert_eq!(
                t.verify(&key.verifying_key()).unwrap_err().code(),
                "invalid_signature"
            );
        }
        let other = SigningKey::from_bytes(&[6; 32]);
        assert_eq!(
            s.verify(&other.verifying_key()).unwrap_err().code(),
            "invalid_signature"
        );
        // Strict decoding.
        let mut long = s.bytes.clone();
        long.push(0);
        assert_eq!(
            Amendment::decode(&long).unwrap_err().code(),
            "invalid_amendment"
        );
        assert!(Amendment::decode(&s.bytes[..s.bytes.len() - 1]).is_err());
    }

    #[test]
    fn base_hash_is_order_independent_and_binding() {
        let a = ("a".to_string(), [1; 32], 1);
        let b = ("b".to_string(), [2; 32], 2);
        assert_eq!(
            base_hash(&[a.clone(), b.clone()]),
            base_hash(&[b.clone(), a.clone()])
        );
        assert_ne!(
            base_hash(std::slice::from_ref(&a)),
            base_hash(&[("a".into(), [1; 32], 2)])
        );
    }
}
