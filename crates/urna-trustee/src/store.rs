//! The encrypted key store file (spec/trustee.md §T2).
//!
//! ```text
//! header (55 bytes, the AEAD's associated data)
//!   0  8  magic "URNA-TKS"
//!   8  1  format version = 1
//!   9  1  kdf = 1 (Argon2id, version 0x13)
//!  10  4  m_cost (KiB)   14 4 t_cost   18 4 p_cost      (u32, big-endian)
//!  22 16  salt
//!  38  1  aead = 1 (ChaCha20-Poly1305, RFC 8439)
//!  39 12  nonce (random, fresh for every write)
//!  51  4  L = length of ciphertext ‖ tag (u32)
//! body
//!  55  L  ciphertext ‖ tag
//! trailer
//!  55+L 32  SHA-256 of bytes [0, 55+L)   (integrity only: tells corruption from a wrong passphrase)
//! ```
//!
//! key = Argon2id(passphrase, salt, m_cost, t_cost, p_cost) → 32 bytes.
//! Writes are atomic: a temporary file in the same folder, fsync, rename,
//! fsync of the folder. A crash before the rename leaves the old store.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce, Tag};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Result, TrusteeError, io};

/// The store's magic bytes.
pub const MAGIC: &[u8; 8] = b"URNA-TKS";
/// The store format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Header length (the associated data).
pub const HEADER_LEN: usize = 55;
const TRAILER_LEN: usize = 32;
const TAG_LEN: usize = 16;
const KDF_ARGON2ID: u8 = 1;
const AEAD_CHACHA20POLY1305: u8 = 1;
/// Upper bounds accepted when reading a header (a hostile header must not
/// make the reader allocate or compute without limit).
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 16;
const MAX_BODY: u32 = 64 * 1024 * 1024;

/// The name of the environment variable that selects [`KdfParams::INSECURE_FAST`]
/// in debug builds (tests only; refused by release builds).
pub const INSECURE_FAST_KDF_ENV: &str = "URNA_TRUSTEE_INSECURE_FAST_KDF_FOR_TESTS";

/// Argon2id cost parameters, stored in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The default for new stores: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };
    /// **INSECURE — tests only.** 256 KiB, 1 pass: a passphrase under these
    /// parameters can be guessed quickly by anyone holding the file.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(TrusteeError::BadHeader(m));
        if !(1..=MAX_P_COST).contains(&self.p_cost) {
            return bad(format!(
                "argon2 p_cost {} outside 1..={MAX_P_COST}",
                self.p_cost
            ));
        }
        if !(1..=MAX_T_COST).contains(&self.t_cost) {
            return bad(format!(
                "argon2 t_cost {} outside 1..={MAX_T_COST}",
                self.t_cost
            ));
        }
        let min_m = 8 * self.p_cost;
        if !(min_m..=MAX_M_COST_KIB).contains(&self.m_cost_kib) {
            return bad(format!(
                "argon2 m_cost {} KiB outside {min_m}..={MAX_M_COST_KIB}",
                self.m_cost_kib
            ));
        }
        Ok(())
    }

    /// Whether these are at least the default costs.
    pub fn is_weak(&self) -> bool {
        self.m_cost_kib < Self::DEFAULT.m_cost_kib || self.t_cost < Self::DEFAULT.t_cost
    }
}

/// A passphrase, zeroized on drop and never printed.
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// Wraps the bytes; refuses an empty passphrase.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Result<Self> {
        if bytes.is_empty() {
            return Err(TrusteeError::Passphrase("empty".into()));
        }
        Ok(Passphrase(bytes))
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// The header fields other than the nonce and the body length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreHeader {
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// Argon2id salt.
    pub salt: [u8; 16],
}

/// An unlocked store: the derived key, to write the file back under the
/// same passphrase. The key is zeroized on drop.
pub struct Unlocked {
    path: PathBuf,
    header: StoreHeader,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlocked")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

fn derive_key(pass: &Passphrase, h: &StoreHeader) -> Result<Zeroizing<[u8; 32]>> {
    h.kdf.check()?;
    let params = argon2::Params::new(h.kdf.m_cost_kib, h.kdf.t_cost, h.kdf.p_cost, Some(32))
        .map_err(|e| TrusteeError::BadHeader(format!("argon2 parameters: {e}")))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(&pass.0, &h.salt, key.as_mut_slice())
        .map_err(|e| TrusteeError::Passphrase(format!("key derivation failed: {e}")))?;
    Ok(key)
}

fn header_bytes(h: &StoreHeader, nonce: &[u8; 12], body_len: u32) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[0..8].copy_from_slice(MAGIC);
    b[8] = FORMAT_VERSION;
    b[9] = KDF_ARGON2ID;
    b[10..14].copy_from_slice(&h.kdf.m_cost_kib.to_be_bytes());
    b[14..18].copy_from_slice(&h.kdf.t_cost.to_be_bytes());
    b[18..22].copy_from_slice(&h.kdf.p_cost.to_be_bytes());
    b[22..38].copy_from_slice(&h.salt);
    b[38] = AEAD_CHACHA20POLY1305;
    b[39..51].copy_from_slice(nonce);
    b[51..55].copy_from_slice(&body_len.to_be_bytes());
    b
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(x)
}

/// Parses and checks everything that can be checked without the
/// passphrase; returns the header, the nonce and the body.
fn parse(file: &[u8]) -> Result<(StoreHeader, [u8; 12], &[u8])> {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Err(TrusteeError::NotAStore);
    }
    if file.len() < HEADER_LEN + TAG_LEN + TRAILER_LEN {
        return Err(TrusteeError::Truncated {
            len: file.len(),
            expected: HEADER_LEN + TAG_LEN + TRAILER_LEN,
        });
    }
    if file[8] != FORMAT_VERSION {
        return Err(TrusteeError::UnsupportedVersion(file[8]));
    }
    if file[9] != KDF_ARGON2ID {
        return Err(TrusteeError::BadHeader(format!(
            "unknown kdf id {}",
            file[9]
        )));
    }
    if file[38] != AEAD_CHACHA20POLY1305 {
        return Err(TrusteeError::BadHeader(format!(
            "unknown aead id {}",
            file[38]
        )));
    }
    let kdf = KdfParams {
        m_cost_kib: u32_at(file, 10),
        t_cost: u32_at(file, 14),
        p_cost: u32_at(file, 18),
    };
    let body_len = u32_at(file, 51);
    if !(TAG_LEN as u32..=MAX_BODY).contains(&body_len) {
        return Err(TrusteeError::BadHeader(format!(
            "body length {body_len} outside {TAG_LEN}..={MAX_BODY}"
        )));
    }
    let expected = HEADER_LEN + body_len as usize + TRAILER_LEN;
    if file.len() < expected {
        return Err(TrusteeError::Truncated {
            len: file.len(),
            expected,
        });
    }
    if file.len() > expected {
        return Err(TrusteeError::TrailingBytes(file.len() - expected));
    }
    let (signed, trailer) = file.split_at(expected - TRAILER_LEN);
    if Sha256::digest(signed).as_slice() != trailer {
        return Err(TrusteeError::Corrupted);
    }
    kdf.check()?;
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&file[22..38]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&file[39..51]);
    Ok((
        StoreHeader { kdf, salt },
        nonce,
        &file[HEADER_LEN..expected - TRAILER_LEN],
    ))
}

fn seal<R: CryptoRng + ?Sized>(
    key: &[u8; 32],
    h: &StoreHeader,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>> {
    let body_len = u32::try_from(plaintext.len() + TAG_LEN)
        .ok()
        .filter(|&l| l <= MAX_BODY)
        .ok_or_else(|| TrusteeError::BadState("state too large".into()))?;
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let header = header_bytes(h, &nonce, body_len);
    let mut buf = Zeroizing::new(plaintext.to_vec());
    let cipher = ChaCha20Poly1305::new(<&Key>::from(key));
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), &header, buf.as_mut_slice().into())
        .map_err(|_| TrusteeError::BadState("encryption failed".into()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body_len as usize + TRAILER_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(&buf);
    out.extend_from_slice(tag.as_slice());
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

/// Decrypts store bytes (as read from `path`). A wrong passphrase or any
/// changed byte is an error, never a wrong state.
pub fn open_bytes(
    path: &Path,
    file: &[u8],
    pass: &Passphrase,
) -> Result<(Unlocked, Zeroizing<Vec<u8>>)> {
    let (header, nonce, body) = parse(file)?;
    let key = derive_key(pass, &header)?;
    let (ct, tag) = body.split_at(body.len() - TAG_LEN);
    let mut buf = Zeroizing::new(ct.to_vec());
    let mut tag_bytes = [0u8; TAG_LEN];
    tag_bytes.copy_from_slice(tag);
    ChaCha20Poly1305::new(<&Key>::from(&*key))
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            &file[..HEADER_LEN],
            buf.as_mut_slice().into(),
            &Tag::from(tag_bytes),
        )
        .map_err(|_| TrusteeError::WrongPassphrase)?;
    Ok((
        Unlocked {
            path: path.to_path_buf(),
            header,
            key,
        },
        buf,
    ))
}

/// Reads and decrypts the store at `path`.
pub fn open(path: &Path, pass: &Passphrase) -> Result<(Unlocked, Zeroizing<Vec<u8>>)> {
    let file = std::fs::read(path).map_err(io(path))?;
    open_bytes(path, &file, pass)
}

/// Creates a new store at `path` (never overwrites an existing file).
pub fn create<R: CryptoRng + ?Sized>(
    path: &Path,
    pass: &Passphrase,
    kdf: KdfParams,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Unlocked> {
    if path.exists() {
        return Err(TrusteeError::AlreadyExists(path.to_path_buf()));
    }
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let header = StoreHeader { kdf, salt };
    let key = derive_key(pass, &header)?;
    let bytes = seal(&key, &header, plaintext, rng)?;
    stage(path, &bytes, rng)?.commit_new()?;
    Ok(Unlocked {
        path: path.to_path_buf(),
        header,
        key,
    })
}

impl Unlocked {
    /// The header (KDF parameters, salt).
    pub fn header(&self) -> &StoreHeader {
        &self.header
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Encrypts `plaintext` under the same key with a fresh nonce and
    /// prepares the atomic replacement; call [`Staged::commit`].
    pub fn stage<R: CryptoRng + ?Sized>(&self, plaintext: &[u8], rng: &mut R) -> Result<Staged> {
        let bytes = seal(&self.key, &self.header, plaintext, rng)?;
        stage(&self.path, &bytes, rng)
    }

    /// Replaces the store atomically with `plaintext`, encrypted.
    pub fn save<R: CryptoRng + ?Sized>(&self, plaintext: &[u8], rng: &mut R) -> Result<()> {
        self.stage(plaintext, rng)?.commit()
    }
}

/// A complete new version of a file, written and fsynced under a
/// temporary name in the same folder, not yet in place. Dropped without
/// [`Staged::commit`], the temporary file is removed and the old file is
/// untouched; after a crash, the temporary file is left and ignored.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn stage<R: CryptoRng + ?Sized>(target: &Path, bytes: &[u8], rng: &mut R) -> Result<Staged> {
    let name = target
        .file_name()
        .ok_or_else(|| TrusteeError::Input(format!("{}: not a file name", target.display())))?;
    let mut suffix = [0u8; 8];
    rng.fill_bytes(&mut suffix);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", hex::encode(suffix)));
    let tmp = folder_of(target).join(tmp_name);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    let staged = Staged {
        tmp: tmp.clone(),
        target: target.to_path_buf(),
        done: false,
    };
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    Ok(staged)
}

impl Staged {
    /// The temporary file.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Renames the temporary file over the target and fsyncs the folder.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.target).map_err(io(&self.target))?;
        self.done = true;
        sync_folder(&self.target)
    }

    /// Like [`Staged::commit`] but fails if the target exists (a hard link
    /// cannot replace a file), so that a store is never overwritten.
    fn commit_new(mut self) -> Result<()> {
        match std::fs::hard_link(&self.tmp, &self.target) {
            Ok(()) => std::fs::remove_file(&self.tmp).map_err(io(&self.tmp))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists || self.target.exists() => {
                return Err(TrusteeError::AlreadyExists(self.target.clone()));
            }
            // A file system without hard links: the target was just seen
            // absent, so a rename is the next best thing.
            Err(_) => std::fs::rename(&self.tmp, &self.target).map_err(io(&self.target))?,
        }
        self.done = true;
        sync_folder(&self.target)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn sync_folder(target: &Path) -> Result<()> {
    // Makes the rename durable. Opening a folder to fsync it works on Unix;
    // elsewhere the rename is what the platform offers.
    if cfg!(unix) {
        let dir = folder_of(target);
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))?;
    }
    Ok(())
}

/// Writes a non-secret output file atomically (same mechanism).
pub fn write_atomic<R: CryptoRng + ?Sized>(path: &Path, bytes: &[u8], rng: &mut R) -> Result<()> {
    stage(path, bytes, rng)?.commit()
}
