//! cargo-afl target: see urna_fuzz::tile.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::tile(data));
}
