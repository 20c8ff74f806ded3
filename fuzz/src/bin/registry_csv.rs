//! cargo-afl target: see urna_fuzz::registry_csv.
fn main() {
    afl::fuzz!(|data: &[u8]| urna_fuzz::registry_csv(data));
}
