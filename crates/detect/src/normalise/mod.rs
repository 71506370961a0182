//! Events normalised to STIX 2.1 cyber-observables, which the `matcher` evaluates indicators
//! against.
//!
//! Each normaliser turns one event into a [`Normalised`]: its time, its cyber-observables
//! (with deterministic ids, STIX 2.1 §2.9) and the fields no observable took, kept in
//! `unmapped` beside the objects rather than in a custom property on them, so that the
//! objects stay exactly what partners would compute for the same observation and the
//! original detail (Zeek `uid`, alert signature, …) travels with the alerts the event raises
//! (the archive keeps the objects only). In Zeek and Suricata events a field whose value is
//! malformed is left in `unmapped` too, unless the event cannot be understood without it (its
//! time, a connection's addresses): then the event is refused with a [`NormaliseError`]
//! naming the field. Operator mappings are stricter: a mapped field that cannot be read
//! refuses the event, since it usually means the mapping names the wrong field. An event is
//! never dropped silently: it is either normalised or refused with a reason.
//!
//! Sources:
//! - `zeek`: `conn`, `dns`, `http`, `ssl`, `files` and `x509` logs, TSV or JSON lines;
//! - `suricata`: EVE JSON `dns`, `http`, `tls`, `flow`, `fileinfo` and `alert` events;
//! - `mapping`: JSON or `key=value` events mapped by an operator's configuration.

mod draft;
pub mod mapping;
mod raw;
pub mod suricata;
mod values;
pub mod zeek;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use matcher::Observation;
use serde_json::{Map, Number, Value};
use stix::Timestamp;

use crate::event::{clip, time::TimeError, PayloadError};

pub use mapping::{Mapping, MappingConfig, MappingError};
pub(crate) use raw::RawRecord;
pub use suricata::EveType;
pub use zeek::{ZeekLog, ZeekTsv};

/// Where a normalised event came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Zeek(ZeekLog),
    Suricata(EveType),
    /// An operator's mapping, by its name.
    Mapping(Arc<str>),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Zeek(log) => write!(f, "zeek.{}", log.name()),
            Source::Suricata(t) => write!(f, "suricata.{}", t.name()),
            Source::Mapping(name) => write!(f, "mapping.{name}"),
        }
    }
}

/// One event as cyber-observables.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalised {
    pub at: Timestamp,
    pub source: Source,
    pub objects: Vec<Value>,
    /// The event's fields that no object took, under their names in the event.
    pub unmapped: Fields,
}

/// An event's fields that no object took, as a JSON object's text (empty when there are
/// none): written once for every event, read back only for the few events that raise an
/// alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(String);

impl Fields {
    pub fn from_map(map: Map<String, Value>) -> Fields {
        if map.is_empty() {
            return Fields::default();
        }
        Fields(Value::Object(map).to_string())
    }

    pub fn to_map(&self) -> Map<String, Value> {
        if self.0.is_empty() {
            return Map::new();
        }
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

impl Normalised {
    /// The event as the matcher sees it: its objects, observed once at its time.
    pub fn observation(&self) -> Observation {
        Observation::of_objects(self.objects.clone(), self.at)
    }
}

/// Why an event was not normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormaliseError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("missing field `{0}`")]
    MissingField(String),
    #[error("field `{field}`: `{value}` is not {expected}")]
    BadValue {
        field: String,
        value: String,
        expected: &'static str,
    },
    #[error("field `{field}`: {source}")]
    BadTime { field: String, source: TimeError },
    #[error("zeek: a data line before the `#fields` header")]
    NoHeader,
    #[error("zeek: the line has {found} fields where `#fields` names {expected}")]
    FieldCount { expected: usize, found: usize },
    #[error("zeek: header `{header}`: {reason}")]
    BadHeader {
        header: String,
        reason: &'static str,
    },
    #[error("no mapping for {0}")]
    Unsupported(String),
    #[error("the event holds no cyber-observable")]
    NoObservables,
}

impl NormaliseError {
    /// A stable label for counting refusals by kind.
    pub fn reason(&self) -> &'static str {
        match self {
            NormaliseError::Payload(PayloadError::Empty) => "empty",
            NormaliseError::Payload(PayloadError::Json { .. } | PayloadError::NotAnObject(_)) => {
                "json"
            }
            NormaliseError::Payload(PayloadError::KeyValue(_)) => "key_value",
            NormaliseError::MissingField(_) => "missing_field",
            NormaliseError::BadValue { .. } => "bad_value",
            NormaliseError::BadTime { .. } => "bad_time",
            NormaliseError::NoHeader => "no_header",
            NormaliseError::FieldCount { .. } => "field_count",
            NormaliseError::BadHeader { .. } => "bad_header",
            NormaliseError::Unsupported(_) => "unsupported",
            NormaliseError::NoObservables => "no_observables",
        }
    }
}

/// A field's value as a record holds it.
#[derive(Debug)]
pub(crate) enum FieldRef<'r> {
    Text(Cow<'r, str>),
    Number(Number),
    List(Vec<Cow<'r, str>>),
    Other(Cow<'r, Value>),
}

impl FieldRef<'_> {
    pub fn text(&self) -> Option<&str> {
        match self {
            FieldRef::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn u64(&self) -> Option<u64> {
        match self {
            FieldRef::Text(t) => t.trim().parse().ok(),
            FieldRef::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                    .map(|f| f as u64)
            }),
            _ => None,
        }
    }

    pub fn port(&self) -> Option<u16> {
        self.u64().and_then(|p| u16::try_from(p).ok())
    }

    /// Each item of a list; a single text is a list of one.
    pub fn items(&self) -> Vec<&str> {
        match self {
            FieldRef::Text(t) => vec![&**t],
            FieldRef::List(items) => items.iter().map(|i| &**i).collect(),
            FieldRef::Other(value) => match value.as_ref() {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The value as quoted in an error.
    fn shown(&self) -> String {
        match self {
            FieldRef::Text(t) => clip(t),
            FieldRef::Number(n) => n.to_string(),
            FieldRef::List(items) => clip(&items.join(",")),
            FieldRef::Other(v) => clip(&v.to_string()),
        }
    }
}

/// An event's fields, from which normalisers take what they map; what is left is the
/// event's `unmapped` part.
pub(crate) trait Record {
    /// The field's value; `None` when absent or unset.
    fn lookup(&self, name: &str) -> Option<FieldRef<'_>>;
    /// Marks the field as mapped.
    fn consume(&mut self, name: &str);
    fn into_unmapped(self) -> Fields;

    /// Takes the field if `read` accepts its value; otherwise leaves it unmapped.
    fn take<T>(&mut self, name: &str, read: impl FnOnce(&FieldRef<'_>) -> Option<T>) -> Option<T>
    where
        Self: Sized,
    {
        let value = self.lookup(name).and_then(|v| read(&v));
        if value.is_some() {
            self.consume(name);
        }
        value
    }

    /// Takes a field the event cannot do without.
    fn require<T>(
        &mut self,
        name: &str,
        expected: &'static str,
        read: impl FnOnce(&FieldRef<'_>) -> Option<T>,
    ) -> Result<T, NormaliseError>
    where
        Self: Sized,
    {
        let Some(field) = self.lookup(name) else {
            return Err(NormaliseError::MissingField(name.to_owned()));
        };
        match read(&field) {
            Some(value) => {
                self.consume(name);
                Ok(value)
            }
            None => Err(NormaliseError::BadValue {
                field: name.to_owned(),
                value: field.shown(),
                expected,
            }),
        }
    }

    /// Takes a text field.
    fn text(&mut self, name: &str) -> Option<String>
    where
        Self: Sized,
    {
        self.take(name, |f| match f {
            FieldRef::Text(t) if !t.is_empty() => Some(t.clone().into_owned()),
            FieldRef::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    fn u64(&mut self, name: &str) -> Option<u64>
    where
        Self: Sized,
    {
        self.take(name, |f| f.u64())
    }
}

/// Reads a timestamp: RFC 3339 text, or seconds since the epoch as a number or as text.
pub(crate) fn read_time(field: &FieldRef<'_>) -> Result<Timestamp, TimeError> {
    use crate::event::time::{epoch, epoch_number, rfc3339, EpochUnit};
    match field {
        FieldRef::Number(n) => n
            .as_f64()
            .and_then(|f| epoch_number(f, EpochUnit::Seconds))
            .ok_or_else(|| TimeError::Epoch(n.to_string(), "seconds")),
        FieldRef::Text(t) if t.contains('-') && t.len() >= 20 => rfc3339(t),
        FieldRef::Text(t) => epoch(t, EpochUnit::Seconds),
        other => Err(TimeError::Rfc3339(other.shown())),
    }
}

/// Takes the event's time from a field it cannot do without.
pub(crate) fn require_time(
    record: &mut impl Record,
    name: &str,
) -> Result<Timestamp, NormaliseError> {
    let at = {
        let Some(field) = record.lookup(name) else {
            return Err(NormaliseError::MissingField(name.to_owned()));
        };
        read_time(&field).map_err(|source| NormaliseError::BadTime {
            field: name.to_owned(),
            source,
        })?
    };
    record.consume(name);
    Ok(at)
}

/// Takes an optional time field, leaving it unmapped when it cannot be read.
pub(crate) fn optional_time(record: &mut impl Record, name: &str) -> Option<Timestamp> {
    record.take(name, |f| read_time(f).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn taken_fields_leave_the_record_and_bad_ones_stay() {
        let line = json!({"port": "x", "n": 5, "s": "a", "null": null}).to_string();
        let mut r = RawRecord::parse(&line).unwrap();
        assert_eq!(r.take("port", |f| f.port()), None);
        assert_eq!(r.u64("n"), Some(5));
        assert_eq!(r.text("s"), Some("a".to_owned()));
        assert_eq!(r.text("null"), None);
        assert_eq!(
            Value::Object(r.into_unmapped().to_map()),
            json!({"port": "x", "null": null})
        );
    }

    #[test]
    fn required_fields_say_what_is_wrong() {
        let line = json!({"ip": "10.0.0.300", "ts": "yesterday"}).to_string();
        let mut r = RawRecord::parse(&line).unwrap();
        assert_eq!(
            r.require("ip", "an IP address", |f| f.text().and_then(values::ip))
                .unwrap_err()
                .to_string(),
            "field `ip`: `10.0.0.300` is not an IP address"
        );
        assert_eq!(
            r.require("gone", "an IP address", |f| f.text().and_then(values::ip))
                .unwrap_err()
                .to_string(),
            "missing field `gone`"
        );
        assert_eq!(
            require_time(&mut r, "ts").unwrap_err().to_string(),
            "field `ts`: `yesterday` is not a number of seconds since the Unix epoch"
        );
    }

    #[test]
    fn times_in_every_form() {
        for (value, micros) in [
            (json!(1591367999.305988), 1_591_367_999_305_988i64),
            (json!("1591367999.305988"), 1_591_367_999_305_988),
            (json!("2020-06-05T14:39:59.305988Z"), 1_591_367_999_305_988),
            (
                json!("2020-06-05T16:39:59.305988+0200"),
                1_591_367_999_305_988,
            ),
        ] {
            let line = json!({ "ts": value }).to_string();
            let mut r = RawRecord::parse(&line).unwrap();
            assert_eq!(require_time(&mut r, "ts").unwrap().as_micros(), micros);
        }
    }
}
