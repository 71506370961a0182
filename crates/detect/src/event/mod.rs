//! What sensors send, before normalisation: a payload of named fields, either a JSON object
//! or a line of `key=value` pairs, and the timestamps written in it.

mod kv;
pub mod time;

use serde_json::{Map, Value};

pub use kv::{parse_key_values, KvError, KvErrorKind};
pub use time::{TimeError, TimeFormat, TimeFormatError};

/// Longest input text quoted back in an error: enough to recognise it, not a log line's worth.
const QUOTED: usize = 120;

/// Cuts `text` for quoting in an error message, on a character boundary.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// How a payload was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadForm {
    Json,
    KeyValue,
}

/// An event's named fields. `key=value` values are all strings; JSON values keep their type.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub form: PayloadForm,
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the payload is empty")]
    Empty,
    #[error("JSON payload, line {line} column {column}: {reason}")]
    Json {
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("a JSON payload must be an object, not {0}")]
    NotAnObject(&'static str),
    #[error(transparent)]
    KeyValue(#[from] KvError),
}

impl PayloadError {
    pub(crate) fn from_json(e: &serde_json::Error) -> Self {
        // serde_json's message ends with its own " at line L column C"; the fields say it.
        let text = e.to_string();
        let reason = match text.rfind(" at line ") {
            Some(cut) => text[..cut].to_owned(),
            None => text,
        };
        PayloadError::Json {
            line: e.line(),
            column: e.column(),
            reason,
        }
    }
}

/// Parses JSON text that must be one object.
pub(crate) fn json_object(text: &str) -> Result<Map<String, Value>, PayloadError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(PayloadError::NotAnObject(match other {
            Value::Array(_) => "an array",
            Value::String(_) => "a string",
            Value::Number(_) => "a number",
            Value::Bool(_) => "a boolean",
            _ => "null",
        })),
        Err(e) => Err(PayloadError::from_json(&e)),
    }
}

impl Payload {
    /// Reads a JSON object when the text starts with `{`, `key=value` pairs otherwise.
    pub fn parse(text: &str) -> Result<Payload, PayloadError> {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Err(PayloadError::Empty);
        }
        if trimmed.starts_with('{') {
            let fields = json_object(trimmed)?;
            return Ok(Payload {
                form: PayloadForm::Json,
                fields,
            });
        }
        let pairs = parse_key_values(trimmed)?;
        let fields = pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.into_owned())))
            .collect();
        Ok(Payload {
            form: PayloadForm::KeyValue,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_or_key_values() {
        let p = Payload::parse(r#" {"src": "10.0.0.1", "port": 53} "#).unwrap();
        assert_eq!(p.form, PayloadForm::Json);
        assert_eq!(p.fields["port"], json!(53));
        let p = Payload::parse(r#"src=10.0.0.1 dst="a b" act=block"#).unwrap();
        assert_eq!(p.form, PayloadForm::KeyValue);
        assert_eq!(p.fields["dst"], json!("a b"));
        assert_eq!(p.fields.len(), 3);
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(Payload::parse("  \n"), Err(PayloadError::Empty));
        let e = Payload::parse("{\"a\": 1,\n \"b\" 2}").unwrap_err();
        assert_eq!(e.to_string(), "JSON payload, line 2 column 6: expected `:`");
        let e = Payload::parse("[1, 2]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "key=value payload, byte 3: `[1,` has no `=` after the key"
        );
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_on_characters() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(200);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), QUOTED + 1);
        assert!(clipped.ends_with('…'));
    }
}
