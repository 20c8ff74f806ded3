//! cargo-afl target: see urna_fuzz::dkg.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::dkg(data));
}
