//! `urna bench crypto`: per-operation figures of the cryptographic core,
//! and, with the cargo feature `compare-elastic-elgamal`, `elastic-elgamal`
//! verifying its own equivalent choice proof in the same run, for comparison
//! (a feature so that the comparison's dependencies stay out of the election
//! binary).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use rayon::prelude::*;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::batch::{verify_batch, verify_one};
use urna_crypto::credential::CredentialKey;
use urna_crypto::dlog::DlogTable;
use urna_crypto::elgamal::KeyPair;
use urna_crypto::{Element, Fingerprint, Scalar};

use super::report::Report;
use super::{progress, time_per_call};

/// Options of `urna bench crypto`.
#[derive(Debug, Clone, clap::Args)]
pub struct CryptoBench {
    /// Ballots in the batch-verification run.
    #[arg(long, default_value_t = 20_000)]
    pub ballots: usize,
    /// Upper bound for the discrete-log figure.
    #[arg(long, default_value_t = 10_000_000)]
    pub dlog_bound: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const BUDGET: Duration = Duration::from_millis(600);

/// Makes `n` distinct signed yes/no ballots in parallel, returns their encodings.
pub fn make_ballots(
    kp: &KeyPair,
    fp: &Fingerprint,
    shapes: &[ContestShape],
    n: usize,
    quiet: bool,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let pb = progress(n as u64, "encrypting ballots", quiet);
    let out = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = rand::rng();
            let cred = CredentialKey::generate(&mut rng);
            let yes = (i % 3 != 0) as u64;
            let (b, _) = Ballot::encrypt(
                kp.public(),
                fp,
                &cred,
                b"bench",
                shapes,
                &[vec![yes, 1 - yes]],
                &mut rng,
            )?;
            pb.inc(1);
            b.encode()
        })
        .collect::<Result<Vec<_>, urna_crypto::UsageError>>()?;
    pb.finish_and_clear();
    Ok(out)
}

/// Runs the bench and returns the report.
pub fn run(opts: &CryptoBench) -> anyhow::Result<Report> {
    let quiet = opts.json;
    let mut rng = rand::rng();
    let kp = KeyPair::generate(&mut rng);
    let key = *kp.public().element();
    let fp = Fingerprint::election(&[1; 32], &key);
    let mut report = Report::new(
        "crypto",
        serde_json::json!({ "ballots": opts.ballots, "dlog_bound": opts.dlog_bound }),
    );
    encryption(&mut report, &kp, &fp, &mut rng)?;
    let bytes = make_ballots(&kp, &fp, &yes_no(), opts.ballots, quiet)?;
    let per_core_1t = verification(&mut report, &bytes, &key, &fp, &mut rng)?;
    from_bytes(&mut report, &bytes, &key, &fp, &mut rng)?;
    compare_elastic_elgamal(&mut report, per_core_1t);
    threshold(&mut report, &mut rng)?;
    dlog(&mut report, opts.dlog_bound)?;
    Ok(report)
}

/// The reference ballot: `{options 2, option_max 1, min 1, max 1}`.
fn yes_no() -> [ContestShape; 1] {
    [ContestShape::choose(2, 1, 1)]
}

/// Encryption, one core: what a voter's device (native) spends.
fn encryption(
    report: &mut Report,
    kp: &KeyPair,
    fp: &Fingerprint,
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<()> {
    let yes_no = yes_no();
    let three_of_ten = [ContestShape::choose(10, 1, 3)];
    let cred = CredentialKey::generate(&mut *rng);
    let mut err = None;
    let enc_yn = time_per_call(BUDGET, 20, || {
        if let Err(e) = Ballot::encrypt(
            kp.public(),
            fp,
            &cred,
            b"b",
            &yes_no,
            &[vec![1, 0]],
            &mut *rng,
        ) {
            err = Some(e);
        }
    });
    let enc_310 = time_per_call(BUDGET, 10, || {
        let sel = vec![1, 0, 1, 0, 0, 0, 1, 0, 0, 0];
        if let Err(e) = Ballot::encrypt(
            kp.public(),
            fp,
            &cred,
            b"b",
            &three_of_ten,
            &[sel],
            &mut *rng,
        ) {
            err = Some(e);
        }
    });
    if let Some(e) = err {
        return Err(anyhow!(e)).context("encrypting a ballot");
    }
    report.add(
        "encrypt_yes_no_us",
        "encrypt+prove+sign yes/no ballot (1 core)",
        enc_yn,
        "us",
    );
    report.add(
        "encrypt_3_of_10_us",
        "encrypt+prove+sign 1..3-of-10 ballot (1 core)",
        enc_310,
        "us",
    );
    Ok(())
}

/// Verification of yes/no ballots (v2): option 0 proven 0/1, option 1
/// derived, credential signature. Returns the batched time per ballot per
/// core (µs), the figure compared with other implementations.
fn verification(
    report: &mut Report,
    bytes: &[Vec<u8>],
    key: &Element,
    fp: &Fingerprint,
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<f64> {
    let yes_no = yes_no();
    let one = Ballot::decode(&bytes[0])?;
    let decode_us = time_per_call(BUDGET, 100, || {
        std::hint::black_box(Ballot::decode(&bytes[0]).is_ok());
    });
    report.add(
        "decode_ballot_us",
        "decode yes/no ballot, canonical checks (1 core)",
        decode_us,
        "us",
    );
    let single = time_per_call(BUDGET, 100, || {
        std::hint::black_box(
            verify_one(&one.statement(key, fp, &yes_no), Some(key), &mut *rng).is_ok(),
        );
    });
    report.add(
        "verify_ballot_single_us",
        "verify one yes/no ballot alone (1 core)",
        single,
        "us",
    );

    let ballots: Vec<Ballot> = bytes
        .par_iter()
        .map(|b| Ballot::decode(b))
        .collect::<Result<_, _>>()?;
    let checks: Vec<_> = ballots
        .iter()
        .map(|b| b.statement(key, fp, &yes_no))
        .collect();
    let n = ballots.len().max(1) as f64;
    verify_batch(&checks, Some(key), &mut *rng)
        .map_err(|bad| anyhow!("{} ballots failed", bad.len()))?;
    let t = Instant::now();
    let ok = verify_batch(&checks, Some(key), &mut *rng).is_ok();
    let wall = t.elapsed().as_secs_f64() * 1e6 / n;
    if !ok {
        return Err(anyhow!("batch verification failed on honest ballots"));
    }
    let t = Instant::now();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(|| verify_batch(&checks, Some(key), &mut rand::rng()).is_ok());
    let per_core_1t = t.elapsed().as_secs_f64() * 1e6 / n;
    if !one_thread {
        return Err(anyhow!("batch verification failed on honest ballots"));
    }
    report.add(
        "verify_batched_wall_us",
        "verify yes/no, batched, wall time per ballot (all cores)",
        wall,
        "us",
    );
    report.add(
        "verify_batched_per_core_us",
        "verify yes/no, batched, per ballot per core (1 thread)",
        per_core_1t,
        "us",
    );
    Ok(per_core_1t)
}

/// From bytes, as a verifier reading the board does: decode + batch verify.
fn from_bytes(
    report: &mut Report,
    bytes: &[Vec<u8>],
    key: &Element,
    fp: &Fingerprint,
    rng: &mut rand::rngs::ThreadRng,
) -> anyhow::Result<()> {
    let yes_no = yes_no();
    let n = bytes.len().max(1) as f64;
    let decode_verify = |rng: &mut rand::rngs::ThreadRng| -> anyhow::Result<f64> {
        let t = Instant::now();
        let decoded: Vec<Ballot> = bytes
            .par_iter()
            .map(|b| Ballot::decode(b))
            .collect::<Result<_, _>>()?;
        let checks: Vec<_> = decoded
            .iter()
            .map(|b| b.statement(key, fp, &yes_no))
            .collect();
        verify_batch(&checks, Some(key), rng)
            .map_err(|bad| anyhow!("{} honest ballots failed", bad.len()))?;
        Ok(t.elapsed().as_secs_f64() * 1e6 / n)
    };
    let total_wall = decode_verify(&mut *rng)?;
    let total_1t = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(|| decode_verify(&mut rand::rng()))?;
    report.add(
        "decode_verify_wall_us",
        "decode+verify yes/no from bytes, wall per ballot (all cores)",
        total_wall,
        "us",
    );
    report.add(
        "decode_verify_per_core_us",
        "decode+verify yes/no from bytes, per ballot per core (1 thread)",
        total_1t,
        "us",
    );
    report.add(
        "ballots_per_second",
        "yes/no ballots verified from bytes per second (all cores)",
        1e6 / total_wall,
        "/s",
    );
    Ok(())
}

/// Threshold decryption: 5 trustees, any 3 decrypt.
fn threshold(report: &mut Report, rng: &mut rand::rngs::ThreadRng) -> anyhow::Result<()> {
    let params = urna_crypto::dkg::CeremonyParams::new(5, 3)?;
    let (tkey, tfp, shares) =
        crate::demo::key_ceremony(params, &[2; 32], &mut |_| Ok(()), &mut *rng)?;
    let (ct, _) = tkey.encrypt(1234, &mut *rng);
    let share = &shares[0].1;
    let partial_us = time_per_call(BUDGET, 50, || {
        std::hint::black_box(share.partial_decrypt(&tfp, b"bench", &ct, &mut *rng));
    });
    report.add(
        "partial_decrypt_us",
        "partial decryption with DLEQ proof, per ciphertext (1 core)",
        partial_us,
        "us",
    );
    let items: Vec<(Vec<u8>, urna_crypto::elgamal::Ciphertext)> = (0..1000u32)
        .map(|i| {
            (
                i.to_be_bytes().to_vec(),
                tkey.encrypt(u64::from(i), &mut *rng).0,
            )
        })
        .collect();
    let partials = share.partial_decrypt_batch(&tfp, &items, &mut *rng);
    let t = Instant::now();
    urna_crypto::threshold::verify_partials(
        &tfp,
        share.verification_key(),
        &items,
        &partials,
        &mut *rng,
    )
    .map_err(|bad| anyhow!("{} honest partial decryptions failed", bad.len()))?;
    report.add(
        "verify_partial_batched_us",
        "verify partial decryptions, batched, wall per item (all cores)",
        t.elapsed().as_secs_f64() * 1e6 / items.len() as f64,
        "us",
    );
    let three: Vec<_> = shares
        .iter()
        .take(3)
        .map(|(_, s)| s.partial_decrypt(&tfp, b"bench", &ct, &mut *rng))
        .collect();
    let small = DlogTable::new(10_000);
    let mut combine_err = None;
    let combine_us = time_per_call(BUDGET, 50, || {
        match urna_crypto::threshold::combine(3, &ct, &three, &small) {
            Ok(1234) => {}
            other => combine_err = Some(format!("{other:?}")),
        }
    });
    if let Some(e) = combine_err {
        return Err(anyhow!("combine returned {e}"));
    }
    report.add(
        "combine_3_of_5_us",
        "combine 3 of 5 partial decryptions + dlog (≤10^4), per ciphertext",
        combine_us,
        "us",
    );
    Ok(())
}

/// Discrete log for the tally.
fn dlog(report: &mut Report, bound: u64) -> anyhow::Result<()> {
    let t = Instant::now();
    let table = DlogTable::new(bound);
    report.add(
        "dlog_table_ms",
        "dlog table for the bound (built once per tally)",
        t.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    let target = Element::from_point(urna_crypto::group::mul_h(&Scalar::from(bound)));
    let mut dlog_err = None;
    let solve = time_per_call(BUDGET, 3, || {
        if table.solve(&target).ok() != Some(bound) {
            dlog_err = Some(());
        }
    });
    if dlog_err.is_some() {
        return Err(anyhow!("dlog returned a wrong value"));
    }
    report.add(
        "dlog_solve_worst_us",
        "dlog of the bound itself (worst case)",
        solve,
        "us",
    );
    Ok(())
}

/// elastic-elgamal verifying its own single-choice proof over 2 options
/// (0/1 ring proofs + sum exactly 1; it has no signature and no batching),
/// and urna's batched per-core figure against it.
#[cfg(feature = "compare-elastic-elgamal")]
fn compare_elastic_elgamal(report: &mut Report, per_core_1t: f64) {
    let elastic = elastic_single_choice_us(BUDGET);
    report.add(
        "elastic_verify_choice_us",
        "elastic-elgamal 0.3 verify 1-of-2 choice (1 core)",
        elastic,
        "us",
    );
    report.add(
        "speedup_vs_elastic",
        "urna batched per core vs elastic-elgamal (x faster)",
        elastic / per_core_1t,
        "x",
    );
}

#[cfg(not(feature = "compare-elastic-elgamal"))]
fn compare_elastic_elgamal(report: &mut Report, _per_core_1t: f64) {
    // Says how to turn the comparison on.
    report.note(
        "the comparison with elastic-elgamal is off in this build; run \
         `cargo run --release -p urna --features compare-elastic-elgamal -- bench crypto` \
         to include it",
    );
}

#[cfg(feature = "compare-elastic-elgamal")]
fn elastic_single_choice_us(budget: Duration) -> f64 {
    use elastic_elgamal::app::{ChoiceParams, EncryptedChoice};
    use elastic_elgamal::group::Ristretto;
    use rand_chacha_03::rand_core::SeedableRng;
    let mut seed = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    let mut rng = rand_chacha_03::ChaCha20Rng::from_seed(seed);
    let keys = elastic_elgamal::Keypair::<Ristretto>::generate(&mut rng);
    let params = ChoiceParams::single(keys.public().clone(), 2);
    let choices: Vec<_> = (0..64)
        .map(|i| EncryptedChoice::single(&params, i % 2, &mut rng))
        .collect();
    let mut i = 0;
    time_per_call(budget, 50, || {
        std::hint::black_box(choices[i % choices.len()].verify(&params).is_ok());
        i += 1;
    })
}
