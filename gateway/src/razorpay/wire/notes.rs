//! Razorpay's `notes`: a JSON object of short strings, sent as `[]` when empty.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Key-value notes in the order given. Read from an object (values that are numbers or booleans
/// become their text) or from an empty array; written as an object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Notes(pub Vec<(String, String)>);

impl Serialize for Notes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

struct NotesVisitor;

impl<'de> Visitor<'de> for NotesVisitor {
    type Value = Notes;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an object of notes or an empty array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Notes, A::Error> {
        let mut notes = Vec::new();
        while let Some((key, value)) = access.next_entry::<String, serde_json::Value>()? {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            notes.push((key, text));
        }
        Ok(Notes(notes))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Notes, A::Error> {
        match access.next_element::<serde_json::Value>()? {
            None => Ok(Notes::default()),
            Some(_) => Err(de::Error::custom("notes as a non-empty array")),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Notes, E> {
        Ok(Notes::default())
    }
}

impl<'de> Deserialize<'de> for Notes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Notes, D::Error> {
        deserializer.deserialize_any(NotesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_read_objects_and_empty_arrays() {
        let notes: Notes = serde_json::from_str(r#"{"show":"12","n":3}"#).unwrap_or_default();
        assert_eq!(
            notes.0,
            vec![("show".into(), "12".into()), ("n".into(), "3".into())]
        );
        let empty: Result<Notes, _> = serde_json::from_str("[]");
        assert_eq!(empty.ok(), Some(Notes::default()));
        let bad: Result<Notes, _> = serde_json::from_str(r#"["x"]"#);
        assert!(bad.is_err());
        assert_eq!(
            serde_json::to_string(&notes).ok().as_deref(),
            Some(r#"{"show":"12","n":"3"}"#)
        );
    }
}
