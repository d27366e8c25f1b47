//! Booking codes: short, unambiguous, read aloud at a box office.

/// Letters and digits a cashier cannot confuse: no 0/O, 1/I/L, 5/S, 8/B, 2/Z, U/V.
const ALPHABET: &[u8] = b"34679ACDEFGHJKMNPQRTWXY";
const CODE_CHARS: usize = 8;

/// A booking code such as `K7QX-3MPA` from 64 bits of entropy supplied by the caller (the state
/// machine reads no randomness itself). 23^8 ≈ 7.8e10 codes; the database's primary key catches a collision.
pub fn booking_code(entropy: u64) -> String {
    let mut left = entropy;
    let mut out = String::with_capacity(CODE_CHARS + 1);
    for i in 0..CODE_CHARS {
        if i == CODE_CHARS / 2 {
            out.push('-');
        }
        let base = ALPHABET.len() as u64;
        out.push(char::from(ALPHABET[(left % base) as usize]));
        left /= base;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_and_unambiguous() {
        let code = booking_code(0xDEAD_BEEF_CAFE_F00D);
        assert_eq!(code.len(), 9);
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        assert_ne!(booking_code(1), booking_code(2));
    }
}
