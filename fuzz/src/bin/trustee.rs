//! cargo-afl target: see urna_fuzz::trustee.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::trustee(data));
}
