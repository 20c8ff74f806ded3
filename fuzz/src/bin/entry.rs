//! cargo-afl target: see urna_fuzz::entry.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::entry(data));
}
