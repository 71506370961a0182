//! Decoding only what a hunt's patterns read.
//!
//! When no comparison follows a reference, a comparison on `t:k…` reads nothing of an event
//! but the objects of type `t`, and of those only `type` and the property `k`. Objects of other
//! types are not decoded at all, and the other properties of the objects decoded are skipped
//! by the JSON parser without being built, which is most of the cost of decoding.

use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::archive::Record;

/// The top-level properties of an object to keep; `None`: the whole object.
type Kept = Option<Vec<String>>;

/// Per object type, what to keep of its objects.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    types: Vec<(Box<[u8]>, Kept)>,
}

impl Projection {
    /// Adds what a comparison on `object_type` reads: the property `key`, or everything.
    pub fn read(&mut self, object_type: &str, key: Option<&str>) {
        let position = self
            .types
            .iter()
            .position(|(t, _)| **t == *object_type.as_bytes());
        let entry = match position {
            Some(i) => &mut self.types[i].1,
            None => {
                // Not even the id: nothing follows a reference, so nothing resolves one.
                self.types
                    .push((object_type.as_bytes().into(), Some(vec!["type".to_owned()])));
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
            let Some((_, keys)) = self.types.iter().find(|(t, _)| **t == *object.object_type)
            else {
                continue;
            };
            objects.push(match keys {
                None => serde_json::from_slice(object.json)?,
                Some(keys) => {
                    let mut parser = serde_json::Deserializer::from_slice(object.json);
                    let value = Keep(keys).deserialize(&mut parser)?;
                    parser.end()?;
                    value
                }
            });
        }
        Ok(objects)
    }
}

/// An object with only the named properties.
struct Keep<'k>(&'k [String]);

impl<'de> DeserializeSeed<'de> for Keep<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Keep<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(wanted) = map.next_key_seed(Wanted(self.0))? {
            match wanted {
                Some(i) => {
                    let value: Value = map.next_value()?;
                    // As `serde_json` does for a repeated key: the last one wins.
                    kept.insert(self.0[i].clone(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}

/// A key, as the index of the wanted property it names.
struct Wanted<'k>(&'k [String]);

impl<'de> DeserializeSeed<'de> for Wanted<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Wanted<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|k| k == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
