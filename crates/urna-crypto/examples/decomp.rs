use curve25519_dalek::ristretto::RistrettoPoint;
use std::time::Instant;
fn main() {
    let pts: Vec<_> = (0..20000)
        .map(|_| RistrettoPoint::random(&mut rand::rng()).compress())
        .collect();
    let t = Instant::now();
    let mut n = 0;
    for p in &pts {
        if p.decompress().is_some() {
            n += 1;
        }
    }
    println!(
        "decompress {:.2} us ({n})",
        t.elapsed().as_secs_f64() * 1e6 / pts.len() as f64
    );
    let dp: Vec<_> = pts.iter().map(|p| p.decompress().unwrap()).collect();
    let t = Instant::now();
    for p in &dp {
        std::hint::black_box(p.compress());
    }
    println!(
        "compress {:.2} us",
        t.elapsed().as_secs_f64() * 1e6 / pts.len() as f64
    );
}
