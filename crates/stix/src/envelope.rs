use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a request body or file is not a TAXII envelope or STIX bundle at all. Problems with
/// individual objects are not envelope errors: they reject only that object.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("the body must be a JSON object (a TAXII envelope or a STIX bundle)")]
    NotAnObject,
    #[error("property `objects` must be an array of STIX objects")]
    ObjectsNotArray,
    #[error("property `type` of a bundle must be \"bundle\", found {0}")]
    NotABundle(String),
}

#[derive(Deserialize)]
struct Outer<'a> {
    #[serde(borrow, default)]
    objects: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    type_name: Option<&'a RawValue>,
}

/// Splits a TAXII 2.1 envelope (`{"objects": [...]}`) or a STIX 2.1 bundle into the exact text
/// of each object, without reformatting any of them.
pub fn parse_envelope(body: &str) -> Result<Vec<&RawValue>, EnvelopeError> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return match serde_json::from_str::<serde::de::IgnoredAny>(body) {
            Err(e) => Err(EnvelopeError::Json(e.to_string())),
            Ok(_) => Err(EnvelopeError::NotAnObject),
        };
    }
    let outer: Outer<'_> =
        serde_json::from_str(body).map_err(|e| EnvelopeError::Json(e.to_string()))?;
    if let Some(type_name) = outer.type_name {
        if type_name.get() != "\"bundle\"" {
            return Err(EnvelopeError::NotABundle(type_name.get().to_owned()));
        }
    }
    match outer.objects {
        None => Ok(Vec::new()),
        Some(raw) if raw.get() == "null" => Ok(Vec::new()),
        Some(raw) => serde_json::from_str::<Vec<&RawValue>>(raw.get())
            .map_err(|_| EnvelopeError::ObjectsNotArray),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_object_text_exactly() {
        let body = r#"{"objects": [ {"b":1,  "a" : 2} , {"type":"x"} ], "more": false}"#;
        let objects = parse_envelope(body).unwrap();
        assert_eq!(objects[0].get(), r#"{"b":1,  "a" : 2}"#);
        assert_eq!(objects[1].get(), r#"{"type":"x"}"#);
    }

    #[test]
    fn explains_what_is_wrong() {
        assert!(matches!(parse_envelope("{"), Err(EnvelopeError::Json(_))));
        assert!(matches!(
            parse_envelope("[1]"),
            Err(EnvelopeError::NotAnObject)
        ));
        assert!(matches!(
            parse_envelope(r#"{"objects":{}}"#),
            Err(EnvelopeError::ObjectsNotArray)
        ));
        assert!(matches!(
            parse_envelope(r#"{"type":"indicator","objects":[]}"#),
            Err(EnvelopeError::NotABundle(_))
        ));
        assert!(
            parse_envelope(r#"{"type":"bundle","id":"bundle--1","objects":[]}"#)
                .unwrap()
                .is_empty()
        );
    }
}
