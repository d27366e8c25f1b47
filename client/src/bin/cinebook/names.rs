//! Names as people type them: cities and movies by id, by name ignoring case and accents, or by
//! a unique prefix; seat labels and booking codes ignoring case.

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// `text` lower-cased, without accents and surrounding blanks: `Zürich` and `zurich` fold alike.
pub fn fold(text: &str) -> String {
    text.trim()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// What a typed name matched.
#[derive(Debug, PartialEq, Eq)]
pub enum Match<T> {
    /// Exactly one item: by id, by whole name, or by a prefix no other name has.
    One(T),
    /// Nothing.
    None,
    /// A prefix of several names (listed).
    Several(Vec<String>),
}

/// The item `text` names among `items`: an id, a whole name (folded), else a unique prefix.
pub fn pick<T>(
    items: Vec<T>,
    text: &str,
    id: impl Fn(&T) -> u64,
    name: impl Fn(&T) -> &str,
) -> Match<T> {
    let wanted = fold(text);
    let number = text.trim().parse::<u64>().ok();
    let mut prefixed = Vec::new();
    for item in items {
        let folded = fold(name(&item));
        if Some(id(&item)) == number || folded == wanted {
            return Match::One(item);
        }
        if !wanted.is_empty() && folded.starts_with(&wanted) {
            prefixed.push(item);
        }
    }
    match prefixed.len() {
        0 => Match::None,
        1 => prefixed.pop().map_or(Match::None, Match::One),
        _ => Match::Several(prefixed.iter().map(|i| name(i).to_owned()).collect()),
    }
}

/// A booking code as the server spells it: upper case (`6rdd-jfnw` is `6RDD-JFNW`).
pub fn booking_code(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

/// The screen's label for each typed one, matched ignoring case (an exact match wins, so a
/// layout with both `a1` and `A1` still gets what was typed). Unknown labels are the error.
pub fn seat_labels(typed: &[String], labels: &[&str]) -> Result<Vec<String>, Vec<String>> {
    let mut unknown = Vec::new();
    let mut found = Vec::with_capacity(typed.len());
    for text in typed {
        let text = text.trim();
        let exact = labels.iter().find(|l| **l == text);
        match exact.or_else(|| labels.iter().find(|l| l.eq_ignore_ascii_case(text))) {
            Some(label) => found.push((*label).to_owned()),
            None => unknown.push(text.to_owned()),
        }
    }
    if unknown.is_empty() {
        Ok(found)
    } else {
        Err(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cities() -> Vec<(u64, &'static str)> {
        vec![(1, "Zürich"), (2, "Bern"), (3, "Basel"), (4, "Genève")]
    }

    fn pick_city(text: &str) -> Match<(u64, &'static str)> {
        pick(cities(), text, |c| c.0, |c| c.1)
    }

    #[test]
    fn names_match_ignoring_case_and_accents_or_by_unique_prefix() {
        assert_eq!(pick_city("zurich"), Match::One((1, "Zürich")));
        assert_eq!(pick_city("ZÜRICH"), Match::One((1, "Zürich")));
        assert_eq!(pick_city("geneve"), Match::One((4, "Genève")));
        assert_eq!(pick_city("ber"), Match::One((2, "Bern")));
        assert_eq!(pick_city("3"), Match::One((3, "Basel")));
        assert_eq!(
            pick_city("b"),
            Match::Several(vec!["Bern".into(), "Basel".into()])
        );
        assert_eq!(pick_city("paris"), Match::None);
        assert_eq!(pick_city(" "), Match::None);
    }

    #[test]
    fn a_whole_name_wins_over_a_longer_one_it_prefixes() {
        let movies = vec![(1, "Up"), (2, "Upgrade")];
        assert_eq!(pick(movies, "up", |m| m.0, |m| m.1), Match::One((1, "Up")));
    }

    #[test]
    fn seat_labels_and_codes_ignore_case() {
        let labels = ["A5", "A6", "b1", "B1"];
        let typed = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            seat_labels(&typed(&["a5", " A6 "]), &labels),
            Ok(vec!["A5".into(), "A6".into()])
        );
        assert_eq!(seat_labels(&typed(&["b1"]), &labels), Ok(vec!["b1".into()]));
        assert_eq!(
            seat_labels(&typed(&["a5", "z9"]), &labels),
            Err(vec!["z9".into()])
        );
        assert_eq!(booking_code(" 6rdd-jfnw "), "6RDD-JFNW");
    }
}
