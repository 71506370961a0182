use std::fmt;

use serde_json::{Map, Value};

use crate::{validate, Timestamp, Tlp};

/// A validated STIX object: its exact text plus the common properties the exchange uses.
#[derive(Debug, Clone)]
pub struct Object {
    raw: Box<str>,
    pub id: String,
    pub type_name: String,
    pub spec_version: String,
    pub created: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    pub revoked: bool,
    pub created_by_ref: Option<String>,
    pub object_marking_refs: Vec<String>,
    /// An indicator's `pattern_type` and `pattern`, which ingest checks further.
    pub pattern: Option<(String, String)>,
}

impl Object {
    /// The JSON text exactly as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The TAXII version of the object: `modified`, else `created`. Objects with neither
    /// (most cyber-observables) are versioned by the server's `date_added`.
    pub fn version(&self) -> Option<Timestamp> {
        self.modified.or(self.created)
    }

    /// The most restrictive TLP among the object-level markings, if any is a TLP marking.
    pub fn tlp(&self) -> Option<Tlp> {
        Tlp::of_markings(self.object_marking_refs.iter().map(String::as_str))
    }
}

/// One broken rule: which property, and what the rule is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub property: String,
    pub rule: String,
}

impl Violation {
    pub fn new(property: impl Into<String>, rule: impl Into<String>) -> Self {
        Violation {
            property: property.into(),
            rule: rule.into(),
        }
    }
}

/// Why an object was refused: every violation found, and the object's id when it had a
/// usable one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub id: Option<String>,
    pub violations: Vec<Violation>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id.as_deref().unwrap_or("object without a valid id");
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{id}: property `{}`: {}", v.property, v.rule)?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

/// Parses and validates one object from its exact JSON text.
pub fn parse_object(raw: &str) -> Result<Object, Rejection> {
    let value: Value = serde_json::from_str(raw).map_err(|e| Rejection {
        id: None,
        violations: vec![Violation::new("(object)", format!("not valid JSON: {e}"))],
    })?;
    let Value::Object(map) = value else {
        return Err(Rejection {
            id: None,
            violations: vec![Violation::new(
                "(object)",
                "a STIX object must be a JSON object",
            )],
        });
    };
    let mut violations = Vec::new();
    validate::object(&map, &mut violations);
    let id = map.get("id").and_then(Value::as_str);
    let usable_id = id
        .filter(|id| crate::parse_id(id).is_ok())
        .map(str::to_owned);
    if !violations.is_empty() {
        return Err(Rejection {
            id: usable_id,
            violations,
        });
    }
    Ok(Object {
        raw: raw.into(),
        id: usable_id.unwrap_or_default(),
        type_name: str_prop(&map, "type").unwrap_or_default(),
        spec_version: str_prop(&map, "spec_version")
            .unwrap_or_else(|| crate::SPEC_VERSION.to_owned()),
        created: timestamp_prop(&map, "created"),
        modified: timestamp_prop(&map, "modified"),
        revoked: map.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        created_by_ref: str_prop(&map, "created_by_ref"),
        pattern: str_prop(&map, "pattern_type").zip(str_prop(&map, "pattern")),
        object_marking_refs: map
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn str_prop(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn timestamp_prop(map: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    map.get(key)
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse(t).ok())
}
