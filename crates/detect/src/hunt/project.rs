//! Decoding only what a hunt's patterns read.
//!
//! When no comparison follows a reference, a comparison on `t:k…` reads nothing of an event
//! but the objects of type `t`, and of those only `type` and the property `k`. Objects of other
//! types are not decoded at all, and the other properties of the objects decoded are stepped
//! over without being built or checked, which is most of the cost of decoding.

use serde::de;
use serde_json::{Map, Value};

use crate::archive::Record;

/// The top-level properties of an object to keep; `None`: the whole object.
type Kept = Option<Vec<String>>;

/// Per object type, what to keep of its objects.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    types: Vec<(Box<str>, Kept)>,
}

impl Projection {
    /// Adds what a comparison on `object_type` reads: the property `key`, or everything.
    pub fn read(&mut self, object_type: &str, key: Option<&str>) {
        let position = self.types.iter().position(|(t, _)| **t == *object_type);
        let entry = match position {
            Some(i) => &mut self.types[i].1,
            None => {
                // Not even the id: nothing follows a reference, so nothing resolves one. The
                // type is the record's, not read from the object's text.
                self.types.push((object_type.into(), Some(Vec::new())));
                let last = self.types.len() - 1;
                &mut self.types[last].1
            }
        };
        match (entry.as_mut(), key) {
            (Some(keys), Some(key)) => {
                if !keys.iter().any(|k| k == key) {
                    keys.push(key.to_owned());
                }
            }
            (Some(_), None) => *entry = None,
            (None, _) => {}
        }
    }

    /// Decodes the objects of the record the projection reads, each with only the properties
    /// it reads.
    pub fn decode(&self, record: &Record<'_>) -> Result<Vec<Value>, serde_json::Error> {
        let mut objects = Vec::new();
        for object in record.objects() {
            let Some((object_type, keys)) = self
                .types
                .iter()
                .find(|(t, _)| *t.as_bytes() == *object.object_type)
            else {
                continue;
            };
            objects.push(match keys {
                None => serde_json::from_slice(object.json)?,
                Some(keys) => {
                    let mut kept = keep(object.json, keys)?;
                    kept.insert("type".to_owned(), Value::from(&**object_type));
                    Value::Object(kept)
                }
            });
        }
        Ok(objects)
    }
}

/// The named top-level properties of the object whose JSON text is `json`. The other
/// properties are stepped over without being decoded or checked: they come from the archive,
/// whose records were written as JSON from maps, so with each key once, and checked against
/// their block's CRC when read. Reading stops at the last property wanted. The properties kept
/// are decoded, and checked, by `serde_json`.
fn keep(json: &[u8], wanted: &[String]) -> Result<Map<String, Value>, serde_json::Error> {
    let mut text = Text { bytes: json, at: 0 };
    let mut kept = Map::new();
    text.expect(b'{')?;
    if wanted.is_empty() {
        return Ok(kept);
    }
    if text.peek() == Some(b'}') {
        text.at += 1;
    } else {
        loop {
            let (key, escaped) = text.string()?;
            text.expect(b':')?;
            let value = text.value()?;
            let name = if escaped {
                let key: String = serde_json::from_slice(key)?;
                wanted.iter().find(|w| **w == key)
            } else {
                let key = &key[1..key.len() - 1];
                wanted.iter().find(|w| w.as_bytes() == key)
            };
            if let Some(name) = name {
                kept.insert(name.clone(), serde_json::from_slice(value)?);
                if kept.len() == wanted.len() {
                    return Ok(kept);
                }
            }
            match text.next()? {
                b',' => {}
                b'}' => break,
                other => return Err(text.unexpected(other, "`,` or `}`")),
            }
        }
    }
    text.skip_space();
    if text.at != json.len() {
        return Err(de::Error::custom(format!(
            "trailing characters at byte {}",
            text.at
        )));
    }
    Ok(kept)
}

/// JSON text being stepped through.
struct Text<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Text<'a> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8, serde_json::Error> {
        let byte = self
            .peek()
            .ok_or_else(|| de::Error::custom("the object ends early"))?;
        self.at += 1;
        Ok(byte)
    }

    fn unexpected(&self, byte: u8, expected: &str) -> serde_json::Error {
        de::Error::custom(format!(
            "expected {expected} at byte {}, found `{}`",
            self.at - 1,
            char::from(byte).escape_default()
        ))
    }

    fn expect(&mut self, wanted: u8) -> Result<(), serde_json::Error> {
        match self.next()? {
            byte if byte == wanted => Ok(()),
            other => Err(self.unexpected(other, &format!("`{}`", char::from(wanted)))),
        }
    }

    /// A string, quotes included, and whether it has escapes.
    fn string(&mut self) -> Result<(&'a [u8], bool), serde_json::Error> {
        self.expect(b'"')?;
        let start = self.at - 1;
        let mut escaped = false;
        // Byte by byte: archived strings are short, shorter than a vector search pays for.
        while let Some(&byte) = self.bytes.get(self.at) {
            self.at += 1;
            match byte {
                b'"' => return Ok((&self.bytes[start..self.at], escaped)),
                // The escaped character, whatever it is, cannot end the string.
                b'\\' => {
                    escaped = true;
                    self.at += 1;
                }
                _ => {}
            }
        }
        Err(de::Error::custom("a string is not closed"))
    }

    /// One value, stepped over; its text.
    fn value(&mut self) -> Result<&'a [u8], serde_json::Error> {
        let first = self
            .peek()
            .ok_or_else(|| de::Error::custom("a value is missing"))?;
        let start = self.at;
        match first {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.bytes.get(self.at) {
                        None => return Err(de::Error::custom("an object or list is not closed")),
                        Some(b'"') => {
                            self.string()?;
                            continue;
                        }
                        Some(b'{' | b'[') => depth += 1,
                        Some(b'}' | b']') => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while let Some(byte) = self.bytes.get(self.at) {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.at += 1;
                }
            }
        }
        Ok(&self.bytes[start..self.at])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn record_of(objects: &[Value]) -> Vec<u8> {
        let mut raw = Vec::new();
        crate::archive::format::encode_record(&mut raw, 0, 1, "test", objects, &mut |_| {});
        raw
    }

    #[test]
    fn only_the_properties_read_are_decoded() {
        let objects = [
            json!({"type": "network-traffic", "id": "network-traffic--1", "dst_port": 443,
                   "extensions": {"x": [1, 2, {"y": "z"}]}, "src_ref": "ipv4-addr--1"}),
            json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "192.0.2.1"}),
            json!({"type": "file", "id": "file--1", "name": "a\"b", "hashes": {"MD5": "00"}}),
        ];
        let raw = record_of(&objects);
        let record = crate::archive::format::records(&raw, 0)
            .next()
            .unwrap()
            .unwrap();
        let mut projection = Projection::default();
        projection.read("network-traffic", Some("dst_port"));
        projection.read("file", None);
        assert_eq!(
            projection.decode(&record).unwrap(),
            vec![
                json!({"type": "network-traffic", "dst_port": 443}),
                objects[2].clone(),
            ]
        );
    }

    /// A JSON value of every kind, with keys and strings that need escapes.
    fn json_value() -> impl Strategy<Value = Value> {
        let text = prop::sample::select(vec![
            "", "a", "dst_port", "x\"y", "b\\c", "é", "\n", "{[", "]}",
        ])
        .prop_map(str::to_owned);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text.clone(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn kept_properties_are_those_serde_json_reads(
            object in prop::collection::btree_map(
                prop::sample::select(vec!["type", "dst_port", "x\"y", "é", "b\\c", "id"]).prop_map(str::to_owned),
                json_value(),
                0..6,
            ),
            wanted in prop::collection::vec(
                prop::sample::select(vec!["type", "dst_port", "x\"y", "é", "none"]).prop_map(str::to_owned),
                0..3,
            ),
            pretty in any::<bool>(),
        ) {
            let object: Map<String, Value> = object.into_iter().collect();
            let text = if pretty {
                serde_json::to_vec_pretty(&object).unwrap()
            } else {
                serde_json::to_vec(&object).unwrap()
            };
            let read: Map<String, Value> = serde_json::from_slice(&text).unwrap();
            let expected: Map<String, Value> = read
                .into_iter()
                .filter(|(k, _)| wanted.contains(k))
                .collect();
            prop_assert_eq!(keep(&text, &wanted).unwrap(), expected);
        }

        #[test]
        fn broken_text_is_refused_not_panicked_on(bytes in prop::collection::vec(
            prop::sample::select(b"{}[]\",: \"\\a1ntrue".to_vec()), 0..40)
        ) {
            let wanted = ["a".to_owned()];
            let kept = keep(&bytes, &wanted);
            // Skipped properties are not checked, so text serde_json refuses may be read;
            // text it reads is read alike, when its keys are unique as in the archive.
            let once = bytes.windows(3).filter(|w| w == b"\"a\"").count() <= 1;
            if let (true, Ok(read)) = (once, serde_json::from_slice::<Map<String, Value>>(&bytes)) {
                let expected: Map<String, Value> =
                    read.into_iter().filter(|(k, _)| k == "a").collect();
                prop_assert_eq!(kept.ok(), Some(expected));
            }
        }
    }

    #[test]
    fn malformed_objects_say_where() {
        // Not found, so every property is stepped over.
        let wanted = ["z".to_owned()];
        for (text, error) in [
            (&b"{\"a\":1"[..], "the object ends early"),
            (b"{\"a\" 1}", "expected `:` at byte 5, found `1`"),
            (b"{\"a\":1} x", "trailing characters at byte 8"),
            (b"{\"a", "a string is not closed"),
            (b"{\"b\":[1,{\"c\":2}", "an object or list is not closed"),
        ] {
            assert_eq!(keep(text, &wanted).unwrap_err().to_string(), error);
        }
        assert_eq!(
            keep(b"{\"a\":tru}", &["a".to_owned()])
                .unwrap_err()
                .to_string(),
            "EOF while parsing a value at line 1 column 3"
        );
    }
}
