//! Receipt codes: the short, grouped, checksummed form of a tracking code
//! that a voter can write down or dictate (spec/receipt-code.md). The
//! server writes them into the receipt messages it sends (registration.md
//! §G6.1); devices read them back (§C3, in the web app).

/// Crockford's base32 alphabet (spec/receipt-code.md §C1).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols carrying bits of the tracking code: 15 × 5 = 75 bits (§C2).
const DATA: usize = 15;

/// The receipt code of a tracking code: 16 symbols in four groups of four, joined by `-` (§C2).
pub fn receipt_code(tracking: &[u8; 32]) -> String {
    // §C2 steps 1–2: the first 75 bits, most significant first, in
    // groups of 5.
    let mut digits = [0u8; DATA + 1];
    for (i, d) in digits.iter_mut().take(DATA).enumerate() {
        let mut v = 0u8;
        for bit in i * 5..i * 5 + 5 {
            v = (v << 1) | ((tracking[bit / 8] >> (7 - bit % 8)) & 1);
        }
        *d = v;
    }
    digits[DATA] = luhn32(&digits[..DATA]);
    let mut out = String::with_capacity(19);
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(*d)]));
    }
    out
}

/// §C2 step 3: the Luhn mod 32 check value, from the last symbol back
/// with factors 2, 1, 2, …
fn luhn32(digits: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (k, d) in digits.iter().rev().enumerate() {
        let f = if k % 2 == 0 { 2 } else { 1 };
        let p = f * u32::from(*d);
        sum += p / 32 + p % 32;
    }
    // The result is below 32, so the cast keeps every bit.
    ((32 - sum % 32) % 32) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// spec/receipt-code.md §C4, the vectors the web app also passes.
    #[test]
    fn spec_vectors() {
        let mut t = [0u8; 32];
        hex::decode_to_slice(
            "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
            &mut t,
        )
        .unwrap();
        assert_eq!(receipt_code(&t), "R3ZY-W093-8NKR-KAYF");
        assert_eq!(receipt_code(&[0; 32]), "0000-0000-0000-0000");
        assert_eq!(receipt_code(&[0xff; 32]), "ZZZZ-ZZZZ-ZZZZ-ZZZF");
    }

    /// Only the first 75 bits count: bit 75 onwards changes nothing, bit
    /// 74 changes the code.
    #[test]
    fn only_75_bits() {
        let mut t = [0u8; 32];
        t[9] = 0b0001_1111; // bits 75..80
        t[31] = 0xff;
        assert_eq!(receipt_code(&t), "0000-0000-0000-0000");
        t[9] = 0b0010_0000; // bit 74
        assert_ne!(receipt_code(&t), "0000-0000-0000-0000");
    }
}
