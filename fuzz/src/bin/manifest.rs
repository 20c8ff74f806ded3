//! cargo-afl target: see urna_fuzz::manifest.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::manifest(data));
}
