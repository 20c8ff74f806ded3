use std::time::Instant;
use urna_crypto::Fingerprint;
use urna_crypto::ballot::{Ballot, ContestShape};
use urna_crypto::batch::verify_batch;
use urna_crypto::credential::CredentialKey;
use urna_crypto::elgamal::KeyPair;

fn main() {
    let mut rng = rand::rng();
    let kp = KeyPair::generate(&mut rng);
    let fp = Fingerprint::election(&[7; 32], kp.public().element());
    let shapes = [ContestShape::choose(2, 1, 1)];
    let n = 20000;
    let t = Instant::now();
    let bytes: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let cred = CredentialKey::generate(&mut rand::rng());
            let (b, _) = Ballot::encrypt(
                kp.public(),
                &fp,
                &cred,
                b"hdr",
                &shapes,
                &[vec![(i % 2) as u64, 1 - (i % 2) as u64]],
                &mut rand::rng(),
            )
            .unwrap();
            b.encode().unwrap()
        })
        .collect();
    println!(
        "encrypt {:.1} us/ballot, {} bytes",
        t.elapsed().as_secs_f64() * 1e6 / n as f64,
        bytes[0].len()
    );
    let t = Instant::now();
    let ballots: Vec<Ballot> = bytes.iter().map(|b| Ballot::decode(b).unwrap()).collect();
    let dec = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("decode {dec:.1} us/ballot (1 core)");
    let checks: Vec<_> = ballots
        .iter()
        .map(|b| b.statement(kp.public().element(), &fp, &shapes))
        .collect();
    let t = Instant::now();
    verify_batch(&checks, Some(kp.public().element()), &mut rng).unwrap();
    let e = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "batch verify {e:.1} us/ballot wall ({} threads) = {:.1} us/ballot/core",
        rayon::current_num_threads(),
        e * rayon::current_num_threads() as f64
    );
    let t = Instant::now();
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| verify_batch(&checks, Some(kp.public().element()), &mut rand::rng()).unwrap());
    println!(
        "batch verify 1 thread {:.1} us/ballot",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
