//! Writes the published test vectors of spec §10 into a directory:
//!
//! ```text
//! cargo run -p urna-crypto --features insecure-deterministic-rng \
//!     --bin urna-gen-test-vectors -- spec/test-vectors
//! ```
//!
//! **INSECURE, TEST ONLY.** Every key, nonce and vote in the output comes
//! from fixed public seeds (`urna_crypto::insecure_test_rng`). The output is
//! deterministic: running it twice gives identical files.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: urna-gen-test-vectors OUTPUT_DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let files = urna_crypto::test_vectors::generate()?;
    for (name, text) in &files {
        std::fs::write(dir.join(name), text)?;
    }
    println!("wrote {} files to {}", files.len(), dir.display());
    Ok(())
}
