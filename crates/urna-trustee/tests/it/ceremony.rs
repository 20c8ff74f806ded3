//! A whole 5-trustee (t = 3) ceremony through the functions the
//! `urna trustee` commands call, with every store on disk, then a tally
//! encrypted under the joint key decrypted by trustees 2, 4 and 5 from
//! their stores.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use urna_crypto::dkg::CeremonyParams;
use urna_crypto::dlog::DlogTable;
use urna_crypto::elgamal::{Ciphertext, PublicKey};
use urna_crypto::threshold::{PartialDecryption, combine_batch};
use urna_election::Manifest;
use urna_election::record::{PartialChunk, TallyChunk, TallyRecord};
use urna_trustee::ops::{self, Expect};
use urna_trustee::payloads;
use urna_trustee::{KdfParams, Passphrase, TrusteeError, Zeroizing};

const MANIFEST: &str = include_str!("../../../../examples/moscow-2020-constitution.toml");

fn pass(i: u16) -> Passphrase {
    Passphrase::new(Zeroizing::new(
        format!("correct horse battery {i}").into_bytes(),
    ))
    .unwrap()
}

fn store_path(dir: &Path, i: u16) -> PathBuf {
    dir.join(format!("trustee-{i}.key"))
}

/// Runs the ceremony; returns the manifest and the joint key.
fn ceremony(dir: &Path, rng: &mut ChaCha20Rng) -> (Manifest, PublicKey) {
    let manifest = Manifest::from_bytes(MANIFEST.as_bytes()).unwrap();
    assert_eq!(manifest.trustees(), CeremonyParams { n: 5, t: 3 });
    let n = 5u16;
    // Round 1, through a payload file as the command writes it.
    let mut round1_files = Vec::new();
    for i in 1..=n {
        let params = (i == 1).then_some(CeremonyParams { n: 5, t: 3 });
        let p = ops::init(
            &store_path(dir, i),
            &pass(i),
            KdfParams::INSECURE_FAST,
            MANIFEST.as_bytes(),
            i,
            params,
            rng,
        )
        .unwrap();
        let f = dir.join(format!("round1-{i}.msg"));
        std::fs::write(
            &f,
            payloads::encode(payloads::KIND_TRUSTEE_CEREMONY, &[p]).unwrap(),
        )
        .unwrap();
        round1_files.push(f);
    }
    // init never overwrites a store.
    assert!(matches!(
        ops::init(
            &store_path(dir, 1),
            &pass(1),
            KdfParams::INSECURE_FAST,
            MANIFEST.as_bytes(),
            1,
            None,
            rng
        ),
        Err(TrusteeError::AlreadyExists(_))
    ));
    let round1 = payloads::read_inputs(&round1_files, payloads::KIND_TRUSTEE_CEREMONY).unwrap();
    assert_eq!(round1.len(), 5);
    // Round 2; dealing twice returns the same message (no equivocation).
    let mut round2 = Vec::new();
    for i in 1..=n {
        let m = ops::deal(&store_path(dir, i), &pass(i), &round1, rng).unwrap();
        assert_eq!(
            ops::deal(&store_path(dir, i), &pass(i), &round1, rng).unwrap(),
            m
        );
        round2.push(m);
    }
    // Receive: honest dealers, no complaints.
    let mut complaints = Vec::new();
    for i in 1..=n {
        let c = ops::receive(&store_path(dir, i), &pass(i), &round2, rng).unwrap();
        assert!(c.is_empty(), "trustee {i} complained");
        complaints.extend(c);
    }
    // Finish: everyone agrees on K.
    let mut reports = Vec::new();
    for i in 1..=n {
        reports.push(ops::finish(&store_path(dir, i), &pass(i), &complaints, rng).unwrap());
    }
    let k = reports[0].joint_key;
    for r in &reports {
        assert_eq!(r.joint_key, k);
        assert_eq!(r.qualified, vec![1, 2, 3, 4, 5]);
        assert!(r.faults.is_empty());
    }
    let info = ops::show(&store_path(dir, 3), &pass(3)).unwrap();
    assert_eq!(info.phase, "finished");
    assert_eq!(info.index, 3);
    assert_eq!(info.outcome.unwrap().1, reports[2].verification_key);
    // A finished store refuses the earlier steps.
    assert!(matches!(
        ops::deal(&store_path(dir, 3), &pass(3), &round1, rng),
        Err(TrusteeError::WrongPhase { .. })
    ));
    (manifest, PublicKey::new(k).unwrap())
}

/// The manifest's tally records, each option encrypting `counts`.
fn tally(m: &Manifest, key: &PublicKey, rng: &mut ChaCha20Rng) -> (Vec<TallyRecord>, Vec<u64>) {
    let mut records = Vec::new();
    let mut expected = Vec::new();
    let mut v = 3u64;
    for style in m.styles() {
        for &c in &style.contests {
            let contest = &m.contests()[c];
            let sums: Vec<Ciphertext> = (0..contest.options.len())
                .map(|_| {
                    v = (v * 7 + 1) % 50;
                    expected.push(v);
                    // A sum of v encryptions of 1, as a tally is.
                    let mut acc = Ciphertext::zero();
                    for _ in 0..v {
                        acc = acc.add(&key.encrypt(1, rng).0);
                    }
                    acc
                })
                .collect();
            records.push(TallyRecord {
                district: m.districts()[style.district].id.clone(),
                contest: contest.id.clone(),
                ballots: 100,
                sums,
            });
        }
    }
    (records, expected)
}

#[test]
fn five_trustees_then_three_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2026);
    let (manifest, key) = ceremony(dir.path(), &mut rng);
    let (records, expected) = tally(&manifest, &key, &mut rng);
    let tally_payloads = TallyChunk::payloads(&records).unwrap();
    let fp = urna_crypto::Fingerprint::election(manifest.hash(), key.element());

    let mut per_trustee: Vec<Vec<PartialDecryption>> = Vec::new();
    for (k, i) in [2u16, 4, 5].into_iter().enumerate() {
        // Alternate the two ways of naming the election.
        let expect = if k % 2 == 0 {
            Expect {
                fingerprint: Some(fp.0),
                manifest: None,
            }
        } else {
            Expect {
                fingerprint: None,
                manifest: Some(&manifest),
            }
        };
        let out = ops::decrypt(
            &store_path(dir.path(), i),
            &pass(i),
            &tally_payloads,
            &expect,
            &mut rng,
        )
        .unwrap();
        let partials: Vec<PartialDecryption> = out
            .iter()
            .flat_map(|p| PartialChunk::decode(p).unwrap().partials)
            .collect();
        assert!(partials.iter().all(|p| p.trustee == i));
        per_trustee.push(partials);
    }
    let cts: Vec<Ciphertext> = records.iter().flat_map(|r| r.sums.clone()).collect();
    let refs: Vec<&[PartialDecryption]> = per_trustee.iter().map(Vec::as_slice).collect();
    let got = combine_batch(3, &cts, &refs, &DlogTable::new(100)).unwrap();
    assert_eq!(got, expected);
    // Two trustees are not enough.
    assert!(combine_batch(3, &cts, &refs[..2], &DlogTable::new(100)).is_err());

    // Another election's fingerprint or manifest: refused, store unchanged.
    let before = std::fs::read(store_path(dir.path(), 2)).unwrap();
    let wrong = Expect {
        fingerprint: Some([0u8; 32]),
        manifest: None,
    };
    assert!(matches!(
        ops::decrypt(
            &store_path(dir.path(), 2),
            &pass(2),
            &tally_payloads,
            &wrong,
            &mut rng
        ),
        Err(TrusteeError::Refused(_))
    ));
    let other =
        Manifest::from_bytes(MANIFEST.replacen("id = \"", "id = \"other-", 1).as_bytes()).unwrap();
    let wrong = Expect {
        fingerprint: None,
        manifest: Some(&other),
    };
    assert!(matches!(
        ops::decrypt(
            &store_path(dir.path(), 2),
            &pass(2),
            &tally_payloads,
            &wrong,
            &mut rng
        ),
        Err(TrusteeError::Refused(_))
    ));
    // A tally that is not the manifest's shape: refused.
    let short = TallyChunk::payloads(&records[1..]).unwrap();
    let by_manifest = Expect {
        fingerprint: None,
        manifest: Some(&manifest),
    };
    assert!(matches!(
        ops::decrypt(
            &store_path(dir.path(), 2),
            &pass(2),
            &short,
            &by_manifest,
            &mut rng
        ),
        Err(TrusteeError::Refused(_))
    ));
    // Not naming the election at all: refused.
    assert!(
        ops::decrypt(
            &store_path(dir.path(), 2),
            &pass(2),
            &tally_payloads,
            &Expect::default(),
            &mut rng
        )
        .is_err()
    );
    assert_eq!(std::fs::read(store_path(dir.path(), 2)).unwrap(), before);
}
