//! Observations: what patterns are matched against. One observation is one `observed-data`
//! (its time interval, how many times it was seen, and its cyber-observable objects), in either
//! STIX 2.1 form: `object_refs` to SCOs elsewhere in the bundle, or the deprecated embedded
//! `objects` dictionary.

use std::collections::HashMap;

use serde_json::{Map, Value};
use stix::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum ObservationError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("expected a STIX bundle, an array of bundles or of objects, or a single object")]
    Shape,
    #[error("{id}: property `{property}`: {rule}")]
    Invalid {
        id: String,
        property: &'static str,
        rule: String,
    },
}

#[derive(Debug, Clone)]
pub struct Observation {
    /// The observed-data id, if the observation came from one.
    pub id: Option<String>,
    pub first_observed: Timestamp,
    pub last_observed: Timestamp,
    /// How many times this was seen (STIX `number_observed`, at least 1).
    pub number_observed: u64,
    objects: Vec<Value>,
    refs: Refs,
}

/// How a reference made inside an observation finds its object.
#[derive(Debug, Clone)]
enum Refs {
    /// By the objects' ids, searched: a sensor event holds a handful of objects, and a map
    /// per event would cost more than the searches.
    Ids,
    /// Reference target (SCO id, or key in the deprecated `objects` form) → index in
    /// `objects`.
    Keys(HashMap<String, usize>),
}

/// Up to this many objects, references are resolved by searching the objects' ids.
const SEARCHED: usize = 16;

impl Observation {
    /// An observation of the given objects at one instant, seen once: how a sensor event
    /// without an observed-data wrapper is matched.
    pub fn of_objects(objects: Vec<Value>, at: Timestamp) -> Observation {
        let refs = if objects.len() <= SEARCHED {
            Refs::Ids
        } else {
            Refs::Keys(
                objects
                    .iter()
                    .enumerate()
                    .filter_map(|(i, o)| id_of(o).map(|id| (id.to_owned(), i)))
                    .collect(),
            )
        };
        Observation {
            id: None,
            first_observed: at,
            last_observed: at,
            number_observed: 1,
            objects,
            refs,
        }
    }

    pub fn objects(&self) -> &[Value] {
        &self.objects
    }

    /// Resolves a reference made inside this observation; references resolve only within it.
    pub fn resolve(&self, reference: &str) -> Option<&Value> {
        match &self.refs {
            // The last of equal ids, as a map built in order would keep.
            Refs::Ids => self
                .objects
                .iter()
                .rev()
                .find(|o| id_of(o) == Some(reference)),
            Refs::Keys(keys) => keys.get(reference).map(|&i| &self.objects[i]),
        }
    }
}

fn id_of(object: &Value) -> Option<&str> {
    object.get("id").and_then(Value::as_str)
}

fn str_prop<'a>(
    o: &'a Map<String, Value>,
    key: &'static str,
    id: &str,
) -> Result<&'a str, ObservationError> {
    o.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ObservationError::Invalid {
            id: id.to_owned(),
            property: key,
            rule: "is required and must be a string".to_owned(),
        })
}

fn time_prop(
    o: &Map<String, Value>,
    key: &'static str,
    id: &str,
) -> Result<Timestamp, ObservationError> {
    Timestamp::parse(str_prop(o, key, id)?).map_err(|e| ObservationError::Invalid {
        id: id.to_owned(),
        property: key,
        rule: e.to_string(),
    })
}

/// Reads observations from JSON: a bundle (or TAXII envelope), a JSON array of bundles, an
/// array of objects, or one object. SCOs not referenced by any observed-data become one
/// observation at `default_time` when there is no observed-data at all.
pub fn observations_from_json(
    value: &Value,
    default_time: Timestamp,
) -> Result<Vec<Observation>, ObservationError> {
    let mut objects: Vec<&Value> = Vec::new();
    collect_objects(value, &mut objects, 0)?;
    let mut scos: HashMap<&str, &Value> = HashMap::new();
    let mut observed = Vec::new();
    for object in &objects {
        match object.get("type").and_then(Value::as_str) {
            Some("observed-data") => observed.push(*object),
            Some(_) => {
                if let Some(id) = object.get("id").and_then(Value::as_str) {
                    scos.insert(id, object);
                }
            }
            None => {}
        }
    }
    if observed.is_empty() {
        let group: Vec<Value> = objects
            .into_iter()
            .filter(|o| o.get("type").is_some())
            .cloned()
            .collect();
        return Ok(if group.is_empty() {
            Vec::new()
        } else {
            vec![Observation::of_objects(group, default_time)]
        });
    }
    observed
        .into_iter()
        .map(|o| observation(o, &scos))
        .collect()
}

fn collect_objects<'a>(
    value: &'a Value,
    out: &mut Vec<&'a Value>,
    depth: usize,
) -> Result<(), ObservationError> {
    match value {
        Value::Array(items) if depth == 0 => items
            .iter()
            .try_for_each(|item| collect_objects(item, out, depth + 1)),
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("bundle")
                || (map.get("type").is_none() && map.contains_key("objects"))
            {
                match map.get("objects") {
                    Some(Value::Array(items)) => out.extend(items.iter()),
                    None | Some(Value::Null) => {}
                    Some(_) => return Err(ObservationError::Shape),
                }
            } else {
                out.push(value);
            }
            Ok(())
        }
        _ => Err(ObservationError::Shape),
    }
}

fn observation(
    observed: &Value,
    scos: &HashMap<&str, &Value>,
) -> Result<Observation, ObservationError> {
    let map = observed.as_object().ok_or(ObservationError::Shape)?;
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("observed-data")
        .to_owned();
    let first_observed = time_prop(map, "first_observed", &id)?;
    let last_observed = time_prop(map, "last_observed", &id)?;
    if last_observed < first_observed {
        return Err(ObservationError::Invalid {
            id,
            property: "last_observed",
            rule: "must not be earlier than `first_observed`".to_owned(),
        });
    }
    let number_observed = map
        .get("number_observed")
        .and_then(Value::as_u64)
        .filter(|n| *n >= 1)
        .ok_or_else(|| ObservationError::Invalid {
            id: id.clone(),
            property: "number_observed",
            rule: "must be an integer of at least 1".to_owned(),
        })?;
    let mut objects = Vec::new();
    let mut by_ref = HashMap::new();
    match (map.get("object_refs"), map.get("objects")) {
        (Some(Value::Array(refs)), _) => {
            for r in refs.iter().filter_map(Value::as_str) {
                if let Some(sco) = scos.get(r) {
                    by_ref.insert(r.to_owned(), objects.len());
                    objects.push((*sco).clone());
                }
            }
        }
        (_, Some(Value::Object(embedded))) => {
            for (key, sco) in embedded {
                by_ref.insert(key.clone(), objects.len());
                objects.push(sco.clone());
            }
        }
        _ => {
            return Err(ObservationError::Invalid {
                id,
                property: "object_refs",
                rule: "an observed-data needs `object_refs` (or the deprecated `objects`)"
                    .to_owned(),
            });
        }
    }
    Ok(Observation {
        id: Some(id),
        first_observed,
        last_observed,
        number_observed,
        objects,
        refs: Refs::Keys(by_ref),
    })
}

/// Parses JSON text into observations; see [`observations_from_json`].
pub fn observations_from_str(
    text: &str,
    default_time: Timestamp,
) -> Result<Vec<Observation>, ObservationError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ObservationError::Json(e.to_string()))?;
    observations_from_json(&value, default_time)
}
