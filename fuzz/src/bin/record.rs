//! cargo-afl target: see urna_fuzz::record.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::record(data));
}
