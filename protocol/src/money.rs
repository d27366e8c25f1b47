//! [`Money`] for people: `12.50 CHF`, `1200 JPY`, `1.250 KWD`, with the currency's own number of
//! minor-unit digits (ISO 4217), never the raw minor units.

use std::fmt;

use crate::types::Money;

/// Currencies whose minor unit is not a hundredth: (code, digits after the point).
const MINOR_UNIT_DIGITS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
];

/// Digits after the decimal point of `currency` (2 unless listed).
pub fn minor_unit_digits(currency: &str) -> u32 {
    MINOR_UNIT_DIGITS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(currency))
        .map_or(2, |(_, digits)| *digits)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let abs = self.amount_minor.unsigned_abs();
        let digits = minor_unit_digits(&self.currency);
        let scale = 10u64.pow(digits);
        if digits == 0 {
            write!(f, "{sign}{abs} {}", self.currency)
        } else {
            let (whole, fraction) = (abs / scale, abs % scale);
            let width = digits as usize;
            write!(f, "{sign}{whole}.{fraction:0width$} {}", self.currency)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount_minor: i64, currency: &str) -> String {
        Money {
            amount_minor,
            currency: currency.into(),
        }
        .to_string()
    }

    #[test]
    fn amounts_print_in_the_currency_not_in_minor_units() {
        assert_eq!(money(1_250, "CHF"), "12.50 CHF");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(-1_200, "EUR"), "-12.00 EUR");
        assert_eq!(money(1_200, "JPY"), "1200 JPY");
        assert_eq!(money(1_250, "KWD"), "1.250 KWD");
        assert_eq!(money(i64::MIN, "EUR"), "-92233720368547758.08 EUR");
    }
}
