//! cargo-afl target: see urna_fuzz::amendment.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::amendment(data));
}
