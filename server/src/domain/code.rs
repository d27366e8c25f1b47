//! Booking codes: unambiguous, read aloud at a box office, long enough never to collide.
//!
//! A code is 16 characters of a 23-letter alphabet in four groups of four, such as
//! `K7QX-3MPA-WH4C-9RTE` (19 characters with the dashes; the store's column is 32 wide and a
//! 32-column receipt printer fits `CINEBOOK  ` and the code on one line).
//!
//! # Why 16 characters
//! With `N` possible codes and `n` bookings, the chance that any two of them share a code is
//! `P ≈ 1 − e^(−n²/2N)`, about `n²/2N` while small (the birthday bound). The old 8 characters
//! gave `N = 23^8 ≈ 7.8e10`: `P ≈ 40 %` at 280,000 bookings and 50 % at `1.18·√N ≈ 330,000`.
//! Now `N = 23^16 ≈ 6.1e21` (72.4 bits): at `n = 10^8` bookings `P ≈ 10^16 / 1.2e22 ≈ 8e-7`,
//! and the chance that one new booking hits one of `10^8` existing codes is
//! `10^8 / N ≈ 1.6e-14`.
//! A collision is still handled, never shown to a customer: [`super::ShowState::begin_sale`]
//! takes the next candidate when a code is in use on the show, and the database's unique key
//! refuses a code another show uses (the node then retries the sale with a fresh code).
//!
//! Codes come from a [`CodeGenerator`], which the caller passes in: the state machine reads no
//! randomness itself. [`RandomCodes`] is the node's; [`SeededCodes`] repeats its sequence for a
//! seed, which lets a test force a collision.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Letters and digits a cashier cannot confuse: no 0/O, 1/I/L, 5/S, 8/B, 2/Z, U/V.
pub const ALPHABET: &[u8] = b"34679ACDEFGHJKMNPQRTWXY";
/// Characters of a code, without the dashes.
pub const CODE_CHARS: usize = 16;
/// Characters per dash-separated group.
pub const GROUP_CHARS: usize = 4;
/// Characters of a code with its dashes (19); at most the store's `widths::BOOKING_CODE` (32).
pub const CODE_WIDTH: usize = CODE_CHARS + CODE_CHARS / GROUP_CHARS - 1;

/// A booking code from 128 bits of entropy supplied by the caller (72.4 of them are used).
pub fn booking_code(entropy: u128) -> String {
    let base = ALPHABET.len() as u128;
    let mut left = entropy;
    let mut out = String::with_capacity(CODE_WIDTH);
    for i in 0..CODE_CHARS {
        if i > 0 && i % GROUP_CHARS == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[(left % base) as usize]));
        left /= base;
    }
    debug_assert_eq!(out.len(), CODE_WIDTH);
    out
}

/// A source of candidate booking codes.
pub trait CodeGenerator {
    /// The next candidate code (the caller checks it is free).
    fn next_code(&mut self) -> String;
}

/// Codes from the thread's cryptographically seeded generator (the node's).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomCodes;

impl CodeGenerator for RandomCodes {
    fn next_code(&mut self) -> String {
        booking_code(rand::rng().random())
    }
}

/// Codes from a seeded generator: the same seed gives the same sequence (tests, benchmarks).
#[derive(Debug, Clone)]
pub struct SeededCodes {
    rng: StdRng,
}

impl SeededCodes {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }
}

impl CodeGenerator for SeededCodes {
    fn next_code(&mut self) -> String {
        booking_code(self.rng.random())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_and_unambiguous() {
        let code = booking_code(0xDEAD_BEEF_CAFE_F00D_0123_4567_89AB_CDEF);
        assert_eq!(code.len(), CODE_WIDTH);
        assert_eq!(code.matches('-').count(), 3);
        assert!(code
            .split('-')
            .all(|g| g.len() == GROUP_CHARS && g.bytes().all(|b| ALPHABET.contains(&b))));
        assert_ne!(booking_code(1), booking_code(2));
        // The top of the entropy reaches the code (it is more than 64 bits).
        assert_ne!(booking_code(1), booking_code(1 | (1 << 70)));
    }

    #[test]
    fn a_seed_repeats_its_sequence() {
        let (mut a, mut b) = (SeededCodes::new(7), SeededCodes::new(7));
        assert_eq!(a.next_code(), b.next_code());
        assert_ne!(a.next_code(), SeededCodes::new(8).next_code());
        assert_ne!(RandomCodes.next_code(), RandomCodes.next_code());
    }
}
