//! The encrypted key store: a wrong passphrase, a changed byte anywhere,
//! a truncated file and a crash before the rename all fail precisely and
//! change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use urna_trustee::ops;
use urna_trustee::store::{self, HEADER_LEN};
use urna_trustee::{KdfParams, Passphrase, TrusteeError, Zeroizing};

const MANIFEST: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");

fn pass(s: &str) -> Passphrase {
    Passphrase::new(Zeroizing::new(s.as_bytes().to_vec())).unwrap()
}

/// A fresh store of trustee 2 (committed) in a temp dir.
fn fresh(rng: &mut ChaCha20Rng) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.key");
    ops::init(
        &path,
        &pass("right"),
        KdfParams::INSECURE_FAST,
        MANIFEST.as_bytes(),
        2,
        None,
        rng,
    )
    .unwrap();
    (dir, path)
}

#[test]
fn wrong_passphrase_is_named_and_changes_nothing() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (_dir, path) = fresh(&mut rng);
    let before = std::fs::read(&path).unwrap();
    let err = ops::show(&path, &pass("wrong")).unwrap_err();
    assert!(matches!(err, TrusteeError::WrongPassphrase), "{err}");
    assert!(err.to_string().contains("wrong passphrase"));
    assert!(matches!(
        ops::deal(&path, &pass("wrong"), &[], &mut rng),
        Err(TrusteeError::WrongPassphrase)
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let info = ops::show(&path, &pass("right")).unwrap();
    assert_eq!((info.index, info.phase), (2, "committed"));
    assert!(Passphrase::new(Zeroizing::new(Vec::new())).is_err());
}

#[test]
fn every_changed_byte_is_detected() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let (_dir, path) = fresh(&mut rng);
    let good = std::fs::read(&path).unwrap();
    let p = pass("right");
    let mut seen_corrupted = false;
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let err = store::open_bytes(&path, &bad, &p).unwrap_err();
        match err {
            TrusteeError::NotAStore => assert!(at < 8, "byte {at}"),
            TrusteeError::UnsupportedVersion(_) => assert_eq!(at, 8),
            TrusteeError::BadHeader(_) => assert!(at < HEADER_LEN, "byte {at}"),
            TrusteeError::Truncated { .. } | TrusteeError::TrailingBytes(_) => {
                assert!((51..55).contains(&at), "byte {at}")
            }
            TrusteeError::Corrupted => seen_corrupted = true,
            other => panic!("byte {at}: unexpected {other}"),
        }
    }
    assert!(seen_corrupted);
    // A forger who also fixes the checksum still fails authentication.
    let mut forged = good.clone();
    forged[HEADER_LEN + 3] ^= 0x80;
    let n = forged.len();
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&forged[..n - 32]);
    forged[n - 32..].copy_from_slice(&sum);
    assert!(matches!(
        store::open_bytes(&path, &forged, &p),
        Err(TrusteeError::WrongPassphrase)
    ));
    // Same for a lowered KDF cost in the header (the AAD).
    let mut forged = good.clone();
    forged[17] ^= 0x01; // t_cost
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&forged[..n - 32]);
    forged[n - 32..].copy_from_slice(&sum);
    assert!(store::open_bytes(&path, &forged, &p).is_err());
    // Nothing was written.
    assert_eq!(std::fs::read(&path).unwrap(), good);
    assert!(store::open_bytes(&path, &good, &p).is_ok());
}

#[test]
fn truncated_and_extended_stores_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (_dir, path) = fresh(&mut rng);
    let good = std::fs::read(&path).unwrap();
    let p = pass("right");
    for len in [0, 4, 8, 30, HEADER_LEN, HEADER_LEN + 40, good.len() - 1] {
        let err = store::open_bytes(&path, &good[..len], &p).unwrap_err();
        assert!(
            matches!(
                err,
                TrusteeError::Truncated { .. } | TrusteeError::NotAStore
            ),
            "length {len}: {err}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(
        store::open_bytes(&path, &longer, &p),
        Err(TrusteeError::TrailingBytes(1))
    ));
    // And on disk, through a command.
    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    assert!(matches!(
        ops::show(&path, &p),
        Err(TrusteeError::Truncated { .. })
    ));
}

#[test]
fn a_crash_before_the_rename_keeps_the_old_store() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (dir, path) = fresh(&mut rng);
    let p = pass("right");
    let old = std::fs::read(&path).unwrap();
    let (unlocked, plain) = store::open(&path, &p).unwrap();
    let mut changed = plain.to_vec();
    changed[0] = 0xee;
    // Written and fsynced under a temporary name, then the process "dies"
    // before the rename.
    let staged = unlocked.stage(&changed, &mut rng).unwrap();
    let tmp = staged.temp_path().to_path_buf();
    assert!(tmp.exists());
    assert_eq!(tmp.parent(), path.parent());
    std::mem::forget(staged);
    assert_eq!(std::fs::read(&path).unwrap(), old);
    let info = ops::show(&path, &p).unwrap();
    assert_eq!(info.phase, "committed");
    // The leftover temporary file is ignored; a later write succeeds.
    assert!(tmp.exists());
    // Dropping a staged write without committing removes the temporary file.
    let staged = unlocked.stage(&changed, &mut rng).unwrap();
    let tmp2 = staged.temp_path().to_path_buf();
    drop(staged);
    assert!(!tmp2.exists());
    assert_eq!(std::fs::read(&path).unwrap(), old);
    // A committed write replaces the file, under the same passphrase.
    unlocked.save(&plain, &mut rng).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), old, "fresh nonce");
    assert!(ops::show(&path, &p).is_ok());
    drop(dir);
}

#[test]
fn default_kdf_parameters_are_stored_in_the_header() {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.key");
    store::create(&path, &pass("p"), KdfParams::DEFAULT, b"x", &mut rng).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"URNA-TKS");
    assert_eq!(&bytes[10..14], &(64u32 * 1024).to_be_bytes());
    assert_eq!(&bytes[14..18], &3u32.to_be_bytes());
    assert_eq!(&bytes[18..22], &1u32.to_be_bytes());
    let (unlocked, plain) = store::open(&path, &pass("p")).unwrap();
    assert_eq!(plain.as_slice(), b"x");
    assert_eq!(unlocked.header().kdf, KdfParams::DEFAULT);
    assert!(!KdfParams::DEFAULT.is_weak());
    assert!(KdfParams::INSECURE_FAST.is_weak());
}
