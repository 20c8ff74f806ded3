//! cargo-afl target: see urna_fuzz::ballot.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::ballot(data));
}
