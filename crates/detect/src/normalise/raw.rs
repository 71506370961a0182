//! A JSON event read in place. Its fields stay slices of the line until a normaliser reads
//! one, and what no normaliser took is written back as the line wrote it: an event costs a
//! scan of its text and the copies of the few values mapped, where a `serde_json::Map`
//! allocated every key, value and nested object, only to give most of them back as
//! `unmapped`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use super::{FieldRef, Fields, Record};
use crate::event::{json_object, PayloadError};

/// One JSON object's fields, in the order the event wrote them.
pub(crate) struct RawRecord<'a> {
    fields: Vec<RawField<'a>>,
    /// The object as written, while none of its fields is taken.
    text: &'a str,
}

struct RawField<'a> {
    /// Borrowed exactly when the event wrote the name without escapes.
    name: Cow<'a, str>,
    value: Slot<'a>,
}

enum Slot<'a> {
    /// As the event wrote it: valid JSON.
    Raw(&'a str),
    /// What the normalisers left of a nested object or list, as JSON text.
    Rest(String),
    Taken,
}

impl<'a> RawRecord<'a> {
    /// Reads text that must be one JSON object.
    pub fn parse(text: &'a str) -> Result<RawRecord<'a>, PayloadError> {
        if !text.trim_start().starts_with('{') {
            // Not an object: the general reader says what it is, or where it breaks.
            json_object(text)?;
        }
        let Entries(fields) =
            serde_json::from_str(text).map_err(|e| PayloadError::from_json(&e))?;
        Ok(RawRecord { fields, text })
    }

    /// The last field of that name: a repeated name means its last value, as in
    /// `serde_json`'s maps.
    fn find(&self, name: &str) -> Option<usize> {
        self.fields.iter().rposition(|f| f.name == name)
    }

    /// What no normaliser took, as JSON text: the object's own text while nothing is taken;
    /// `None` once everything is.
    fn remainder(&self) -> Option<Cow<'a, str>> {
        if self.fields.iter().all(|f| matches!(f.value, Slot::Taken)) {
            None
        } else if self.fields.iter().all(|f| matches!(f.value, Slot::Raw(_))) {
            Some(Cow::Borrowed(self.text))
        } else {
            Some(Cow::Owned(self.to_json()))
        }
    }

    /// The names of the fields not taken.
    pub fn names(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| !matches!(f.value, Slot::Taken))
            .map(|f| f.name.clone().into_owned())
            .collect()
    }

    /// Takes a nested object out, to map its fields; [`RawRecord::put_back`] returns what
    /// is left of it.
    pub fn nested(&mut self, name: &str) -> Option<RawRecord<'a>> {
        let i = self.find(name)?;
        let Slot::Raw(text) = self.fields[i].value else {
            return None;
        };
        if !text.starts_with('{') {
            return None;
        }
        let nested = RawRecord::parse(text).ok()?;
        self.consume(name);
        Some(nested)
    }

    pub fn put_back(&mut self, name: &str, rest: RawRecord<'a>) {
        let (Some(i), Some(rest)) = (self.find(name), rest.remainder()) else {
            return;
        };
        self.fields[i].value = match rest {
            Cow::Borrowed(text) => Slot::Raw(text),
            Cow::Owned(text) => Slot::Rest(text),
        };
    }

    /// Maps each object of the list `name`; the list stays, with what is left of its items,
    /// unless every item was entirely taken.
    pub fn each_object(&mut self, name: &str, mut map: impl FnMut(&mut RawRecord<'a>)) {
        let Some(i) = self.find(name) else { return };
        let Slot::Raw(text) = self.fields[i].value else {
            return;
        };
        let Ok(items) = serde_json::from_str::<Vec<&'a RawValue>>(text) else {
            return;
        };
        let mut rest: Vec<Cow<'a, str>> = Vec::new();
        for item in items {
            let text = item.get();
            match text.starts_with('{').then(|| RawRecord::parse(text)) {
                Some(Ok(mut object)) => {
                    map(&mut object);
                    rest.extend(object.remainder());
                }
                _ => rest.push(Cow::Borrowed(text)),
            }
        }
        self.fields[i].value = if rest.is_empty() {
            Slot::Taken
        } else {
            Slot::Rest(format!("[{}]", rest.join(",")))
        };
    }

    /// The fields not taken, as a JSON object's text.
    fn to_json(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        out.push('{');
        for field in &self.fields {
            let value = match &field.value {
                Slot::Raw(text) => text,
                Slot::Rest(text) => text.as_str(),
                Slot::Taken => continue,
            };
            if out.len() > 1 {
                out.push(',');
            }
            match &field.name {
                Cow::Borrowed(name) => {
                    out.push('"');
                    out.push_str(name);
                    out.push('"');
                }
                Cow::Owned(name) => out.push_str(&Value::from(name.as_str()).to_string()),
            }
            out.push(':');
            out.push_str(value);
        }
        out.push('}');
        out
    }
}

/// A value as the normalisers read it.
fn field_of<'r>(text: &'r str) -> Option<FieldRef<'r>> {
    match text.as_bytes().first()? {
        b'"' => {
            let inner = text.get(1..text.len().saturating_sub(1))?;
            if inner.contains('\\') {
                serde_json::from_str::<String>(text)
                    .ok()
                    .map(|s| FieldRef::Text(Cow::Owned(s)))
            } else {
                Some(FieldRef::Text(Cow::Borrowed(inner)))
            }
        }
        b'n' => None,
        b'-' | b'0'..=b'9' => serde_json::from_str::<Number>(text)
            .ok()
            .map(FieldRef::Number),
        _ => serde_json::from_str::<Value>(text)
            .ok()
            .map(|v| FieldRef::Other(Cow::Owned(v))),
    }
}

impl Record for RawRecord<'_> {
    fn lookup(&self, name: &str) -> Option<FieldRef<'_>> {
        match &self.fields[self.find(name)?].value {
            Slot::Raw(text) => field_of(text),
            Slot::Rest(text) => field_of(text),
            Slot::Taken => None,
        }
    }

    fn consume(&mut self, name: &str) {
        for field in self.fields.iter_mut().filter(|f| f.name == name) {
            field.value = Slot::Taken;
        }
    }

    fn into_unmapped(self) -> Fields {
        self.remainder()
            .map_or_else(Fields::default, |rest| Fields(rest.into_owned()))
    }
}

/// An object's fields, deserialised without copying.
struct Entries<'a>(Vec<RawField<'a>>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Entries<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(16);
                while let Some(Name(name)) = map.next_key()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push(RawField {
                        name,
                        value: Slot::Raw(value.get()),
                    });
                }
                Ok(Entries(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// A field's name, borrowed from the event unless it had escapes.
#[derive(Deserialize)]
struct Name<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_is_not_taken_comes_back_as_written() {
        let line = r#"{"a":1,"b":{"c":"x","d":[1,2]},"l":[{"k":1,"m":2},{"k":3},7],"e\u00e9":"\"q\"","a":2}"#;
        let mut r = RawRecord::parse(line).unwrap();
        // Names are borrowed from the line unless they had escapes.
        assert!(matches!(r.fields[0].name, Cow::Borrowed("a")));
        assert!(matches!(r.fields[3].name, Cow::Owned(_)));
        // A repeated name means its last value.
        assert_eq!(r.u64("a"), Some(2));
        let mut b = r.nested("b").unwrap();
        assert_eq!(b.text("c").as_deref(), Some("x"));
        r.put_back("b", b);
        r.each_object("l", |item| {
            item.consume("k");
        });
        assert_eq!(
            r.lookup("eé")
                .and_then(|f| f.text().map(str::to_owned))
                .as_deref(),
            Some("\"q\"")
        );
        assert_eq!(
            Value::Object(r.into_unmapped().to_map()),
            json!({"b": {"d": [1, 2]}, "l": [{"m": 2}, 7], "eé": "\"q\""})
        );
    }

    #[test]
    fn an_untouched_record_is_its_own_text() {
        let line = r#" {"x": {"y": 1}, "z": null} "#;
        let mut r = RawRecord::parse(line).unwrap();
        let x = r.nested("x").unwrap();
        r.put_back("x", x);
        assert_eq!(r.lookup("z").map(|_| ()), None);
        assert_eq!(r.into_unmapped().to_map(), json_object(line).unwrap());
    }

    #[test]
    fn not_an_object_is_refused_as_the_general_reader_refuses_it() {
        for line in ["[1]", "\"a\"", "{\"a\":", "{\"a\":1} x", "{\"a\" 1}"] {
            assert_eq!(
                RawRecord::parse(line).err(),
                json_object(line).err(),
                "{line}"
            );
        }
    }
}
