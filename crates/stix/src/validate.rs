//! The rules STIX 2.1 makes mandatory. Each check pushes a [`Violation`] naming the property
//! and the rule; validation never stops at the first problem.

use serde_json::{Map, Value};

use crate::{parse_id, Timestamp, Violation};

/// Checks one object given as its parsed JSON map.
pub(crate) fn object(map: &Map<String, Value>, out: &mut Vec<Violation>) {
    let type_name = match map.get("type") {
        Some(Value::String(t)) if crate::id::is_type_name(t) => Some(t.as_str()),
        Some(Value::String(t)) => {
            out.push(Violation::new(
                "type",
                format!("`{t}` is not a valid type name (3-250 characters of a-z, 0-9, hyphen)"),
            ));
            None
        }
        Some(_) => {
            out.push(Violation::new("type", "must be a string"));
            None
        }
        None => {
            out.push(Violation::new("type", "is required"));
            None
        }
    };
    match map.get("id") {
        Some(Value::String(id)) => match parse_id(id) {
            Ok((prefix, _)) => {
                if let Some(t) = type_name {
                    if prefix != t {
                        out.push(Violation::new(
                            "id",
                            format!("the id's type prefix `{prefix}` does not match type `{t}`"),
                        ));
                    }
                }
            }
            Err(e) => out.push(Violation::new("id", e.to_string())),
        },
        Some(_) => out.push(Violation::new("id", "must be a string")),
        None => out.push(Violation::new("id", "is required")),
    }
    match map.get("spec_version") {
        Some(Value::String(v)) if v == crate::SPEC_VERSION => {}
        Some(v) => out.push(Violation::new(
            "spec_version",
            format!("must be \"2.1\", found {v}"),
        )),
        None => {}
    }
    let created = timestamp(map, "created", out);
    let modified = timestamp(map, "modified", out);
    if let (Some(c), Some(m)) = (created, modified) {
        if m < c {
            out.push(Violation::new(
                "modified",
                "must be later than or equal to `created`",
            ));
        }
    }
    for (key, value) in map {
        if key.ends_with("_ref") {
            reference(key, value, out);
        } else if key.ends_with("_refs") {
            match value {
                Value::Array(items) => items.iter().for_each(|item| reference(key, item, out)),
                _ => out.push(Violation::new(
                    key.as_str(),
                    "must be a list of identifiers",
                )),
            }
        }
    }
}

fn timestamp(map: &Map<String, Value>, key: &str, out: &mut Vec<Violation>) -> Option<Timestamp> {
    match map.get(key)? {
        Value::String(text) => match Timestamp::parse(text) {
            Ok(t) => Some(t),
            Err(e) => {
                out.push(Violation::new(key, e.to_string()));
                None
            }
        },
        _ => {
            out.push(Violation::new(key, "must be a timestamp string"));
            None
        }
    }
}

fn reference(key: &str, value: &Value, out: &mut Vec<Violation>) {
    match value {
        Value::String(id) => {
            if let Err(e) = parse_id(id) {
                out.push(Violation::new(key, e.to_string()));
            }
        }
        _ => out.push(Violation::new(key, "must be an identifier string")),
    }
}
