//! cargo-afl target: see urna_fuzz::note.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::note(data));
}
