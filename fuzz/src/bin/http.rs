//! cargo-afl target: see urna_fuzz::http.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::http(data));
}
