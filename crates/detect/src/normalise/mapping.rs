//! Mappings an operator configures for sources Kawal has no built-in normaliser for: which
//! field of a JSON or `key=value` event is which cyber-observable property.
//!
//! ```toml
//! name = "edge-firewall"
//!
//! [timestamp]
//! field = "ts"
//! format = "%d/%b/%Y:%H:%M:%S %z"   # or rfc3339, epoch_seconds, epoch_millis, epoch_micros, auto
//!
//! [fields]
//! src_ip = "network-traffic:src_ref.value"
//! dst_ip = "network-traffic:dst_ref.value"
//! dst_port = "network-traffic:dst_port"
//! query = "domain-name:value"
//! "file.sha256" = "file:hashes.'SHA-256'"
//! ```
//!
//! Targets are written as STIX object paths, as in patterns. The configuration is checked
//! when it is loaded: unknown keys, paths that are not supported targets, two fields for one
//! single-valued target and bad time formats are refused with the field and the reason.
//! Field names may reach into nested JSON objects with dots (`source.ip`) when the event has
//! no field of that literal name.
//!
//! An event may lack any mapped field. A mapped field that is present but cannot be read as
//! its target (an address that is not one, a port above 65535) refuses the event: such
//! values usually mean the mapping names the wrong field, which the operator should hear of.
//! Without a `[timestamp]` section, events take the time the caller gives, such as the
//! syslog header's or the time of receipt.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use stix::Timestamp;

use super::draft::{CertificateDraft, Draft, FileDraft, HttpRequest};
use super::{read_time, values, FieldRef, Fields, NormaliseError, Normalised, Record, Source};
use crate::event::time::{self, EpochUnit, TimeError, TimeFormat, TimeFormatError};
use crate::event::{clip, Payload};

/// A mapping as written by the operator (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    pub name: String,
    #[serde(default)]
    pub timestamp: Option<TimestampConfig>,
    /// Event field → STIX object path.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampConfig {
    pub field: String,
    /// `auto` (RFC 3339 text or epoch seconds), `rfc3339`, `epoch_seconds`, `epoch_millis`,
    /// `epoch_micros`, or a `strptime`-style format (see [`TimeFormat`]).
    #[serde(default = "auto")]
    pub format: String,
}

fn auto() -> String {
    "auto".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("mapping configuration: {0}")]
    Toml(String),
    #[error("mapping name `{0}`: use 1 to 64 letters, digits, `-`, `_` or `.`")]
    Name(String),
    #[error("mapping `{mapping}`: no field is mapped")]
    NoFields { mapping: String },
    #[error("mapping `{mapping}`: field `{field}`: `{path}` is not an object path: {reason}")]
    Path {
        mapping: String,
        field: String,
        path: String,
        reason: String,
    },
    #[error(
        "mapping `{mapping}`: field `{field}`: `{path}` is not a target a mapping can fill; \
         targets are {}", TARGETS.join(", ")
    )]
    UnsupportedTarget {
        mapping: String,
        field: String,
        path: String,
    },
    #[error("mapping `{mapping}`: fields `{first}` and `{second}` both fill `{path}`, which takes one value")]
    SameTarget {
        mapping: String,
        first: String,
        second: String,
        path: String,
    },
    #[error("mapping `{mapping}`: an empty field name")]
    EmptyField { mapping: String },
    #[error("mapping `{mapping}`: {source}")]
    TimeFormat {
        mapping: String,
        source: TimeFormatError,
    },
}

/// The targets a mapping can fill, as listed in errors.
const TARGETS: [&str; 28] = [
    "ipv4-addr:value",
    "ipv6-addr:value",
    "domain-name:value",
    "url:value",
    "email-addr:value",
    "network-traffic:src_ref.value",
    "network-traffic:dst_ref.value",
    "network-traffic:src_port",
    "network-traffic:dst_port",
    "network-traffic:protocols",
    "network-traffic:start",
    "network-traffic:end",
    "network-traffic:src_byte_count",
    "network-traffic:dst_byte_count",
    "network-traffic:src_packets",
    "network-traffic:dst_packets",
    "network-traffic:extensions.'http-request-ext'.request_method",
    "network-traffic:extensions.'http-request-ext'.request_value",
    "network-traffic:extensions.'http-request-ext'.request_version",
    "network-traffic:extensions.'http-request-ext'.request_header.<name>",
    "file:name",
    "file:size",
    "file:mime_type",
    "file:hashes.<MD5|SHA-1|SHA-256|SHA-512>",
    "x509-certificate:hashes.<MD5|SHA-1|SHA-256|SHA-512>",
    "x509-certificate:serial_number",
    "x509-certificate:subject",
    "x509-certificate:issuer",
];

/// What a mapped field fills.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Address,
    Domain,
    Url,
    Email,
    SrcAddress,
    DstAddress,
    SrcPort,
    DstPort,
    Protocols,
    Start,
    End,
    SrcBytes,
    DstBytes,
    SrcPackets,
    DstPackets,
    HttpMethod,
    HttpRequestValue,
    HttpVersion,
    HttpHeader(String),
    FileName,
    FileSize,
    FileMimeType,
    FileHash(&'static str, usize),
    CertificateHash(&'static str, usize),
    CertificateSerial,
    CertificateSubject,
    CertificateIssuer,
}

impl Target {
    /// Whether several fields may fill it (each giving one more object).
    fn repeatable(&self) -> bool {
        matches!(
            self,
            Target::Address | Target::Domain | Target::Url | Target::Email
        )
    }

    fn from_path(object_type: &str, steps: &[String]) -> Option<Target> {
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        Some(match (object_type, steps.as_slice()) {
            ("ipv4-addr" | "ipv6-addr", ["value"]) => Target::Address,
            ("domain-name", ["value"]) => Target::Domain,
            ("url", ["value"]) => Target::Url,
            ("email-addr", ["value"]) => Target::Email,
            ("network-traffic", path) => match path {
                ["src_ref", "value"] => Target::SrcAddress,
                ["dst_ref", "value"] => Target::DstAddress,
                ["src_port"] => Target::SrcPort,
                ["dst_port"] => Target::DstPort,
                ["protocols"] => Target::Protocols,
                ["start"] => Target::Start,
                ["end"] => Target::End,
                ["src_byte_count"] => Target::SrcBytes,
                ["dst_byte_count"] => Target::DstBytes,
                ["src_packets"] => Target::SrcPackets,
                ["dst_packets"] => Target::DstPackets,
                ["extensions", "http-request-ext", "request_method"] => Target::HttpMethod,
                ["extensions", "http-request-ext", "request_value"] => Target::HttpRequestValue,
                ["extensions", "http-request-ext", "request_version"] => Target::HttpVersion,
                ["extensions", "http-request-ext", "request_header", name] => {
                    Target::HttpHeader((*name).to_owned())
                }
                _ => return None,
            },
            ("file", ["name"]) => Target::FileName,
            ("file", ["size"]) => Target::FileSize,
            ("file", ["mime_type"]) => Target::FileMimeType,
            ("file", ["hashes", algorithm]) => {
                let (name, len) = values::hash_algorithm(algorithm)?;
                Target::FileHash(name, len)
            }
            ("x509-certificate", ["hashes", algorithm]) => {
                let (name, len) = values::hash_algorithm(algorithm)?;
                Target::CertificateHash(name, len)
            }
            ("x509-certificate", ["serial_number"]) => Target::CertificateSerial,
            ("x509-certificate", ["subject"]) => Target::CertificateSubject,
            ("x509-certificate", ["issuer"]) => Target::CertificateIssuer,
            _ => return None,
        })
    }

    /// What a value must be, as said in errors.
    fn expected(&self) -> &'static str {
        match self {
            Target::Address | Target::SrcAddress | Target::DstAddress => "an IP address",
            Target::Domain => "a domain name",
            Target::Url => "a URL with its scheme",
            Target::Email => "an email address",
            Target::SrcPort | Target::DstPort => "a port number",
            Target::Protocols => "a protocol name or list of names",
            Target::Start | Target::End => "a timestamp (RFC 3339 or seconds since the epoch)",
            Target::SrcBytes
            | Target::DstBytes
            | Target::SrcPackets
            | Target::DstPackets
            | Target::FileSize => "a non-negative integer",
            Target::FileHash(..) | Target::CertificateHash(..) => {
                "a hash of the algorithm's length in hex"
            }
            Target::CertificateSerial => "a serial number in hex",
            _ => "text",
        }
    }
}

/// Splits a STIX object path (`type:prop.'quoted prop'.sub`) into its type and steps.
fn object_path(path: &str) -> Result<(String, Vec<String>), String> {
    let (object_type, rest) = path
        .split_once(':')
        .ok_or_else(|| "expected `<object type>:<property>`".to_owned())?;
    let type_name_ok = !object_type.is_empty()
        && object_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !type_name_ok {
        return Err(format!("`{object_type}` is not an object type name"));
    }
    let mut steps = Vec::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        let step = match chars.peek() {
            Some((_, '\'')) => {
                chars.next();
                let mut step = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => step.push(c),
                        None => return Err("a quoted property has no closing quote".to_owned()),
                    }
                }
                step
            }
            Some(_) => {
                let mut step = String::new();
                while let Some(&(at, c)) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        return Err(format!(
                            "`{c}` at byte {} cannot be in an unquoted property",
                            object_type.len() + 1 + at
                        ));
                    }
                    step.push(c);
                    chars.next();
                }
                step
            }
            None => String::new(),
        };
        if step.is_empty() {
            return Err("a property name is empty".to_owned());
        }
        steps.push(step);
        match chars.next() {
            None => return Ok((object_type.to_owned(), steps)),
            Some((_, '.')) => {}
            Some((at, c)) => {
                return Err(format!(
                    "expected `.` at byte {} after a quoted property, found `{c}`",
                    object_type.len() + 1 + at
                ))
            }
        }
    }
}

#[derive(Debug, Clone)]
enum TimeSpec {
    Auto,
    Rfc3339,
    Epoch(EpochUnit),
    Format(TimeFormat),
}

impl TimeSpec {
    fn read(&self, field: &FieldRef<'_>) -> Result<Timestamp, TimeError> {
        let text_or_number = |unit: EpochUnit| match field {
            FieldRef::Number(n) => n
                .as_f64()
                .and_then(|f| time::epoch_number(f, unit))
                .ok_or_else(|| TimeError::Epoch(n.to_string(), "seconds")),
            other => time::epoch(other.text().unwrap_or_default(), unit),
        };
        match self {
            TimeSpec::Auto => read_time(field),
            TimeSpec::Rfc3339 => time::rfc3339(field.text().unwrap_or_default()),
            TimeSpec::Epoch(unit) => text_or_number(*unit),
            TimeSpec::Format(format) => match field {
                FieldRef::Number(n) => format.apply(&n.to_string()),
                other => format.apply(other.text().unwrap_or_default()),
            },
        }
    }
}

/// A checked mapping, ready to normalise events.
#[derive(Debug, Clone)]
pub struct Mapping {
    name: Arc<str>,
    timestamp: Option<(String, TimeSpec)>,
    fields: Vec<(String, Target)>,
}

impl Mapping {
    /// Reads and checks a mapping written in TOML.
    pub fn from_toml(text: &str) -> Result<Mapping, MappingError> {
        let config: MappingConfig = toml::from_str(text)
            .map_err(|e| MappingError::Toml(e.to_string().trim_end().to_owned()))?;
        Mapping::new(config)
    }

    /// Checks a mapping.
    pub fn new(config: MappingConfig) -> Result<Mapping, MappingError> {
        let name = config.name;
        let name_ok = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(MappingError::Name(clip(&name)));
        }
        if config.fields.is_empty() {
            return Err(MappingError::NoFields { mapping: name });
        }
        let mut fields: Vec<(String, Target)> = Vec::with_capacity(config.fields.len());
        for (field, path) in config.fields {
            if field.is_empty() {
                return Err(MappingError::EmptyField { mapping: name });
            }
            let (object_type, steps) = object_path(&path).map_err(|reason| MappingError::Path {
                mapping: name.clone(),
                field: field.clone(),
                path: path.clone(),
                reason,
            })?;
            let target = Target::from_path(&object_type, &steps).ok_or_else(|| {
                MappingError::UnsupportedTarget {
                    mapping: name.clone(),
                    field: field.clone(),
                    path: path.clone(),
                }
            })?;
            if !target.repeatable() {
                if let Some((first, _)) = fields.iter().find(|(_, t)| *t == target) {
                    return Err(MappingError::SameTarget {
                        mapping: name.clone(),
                        first: first.clone(),
                        second: field,
                        path,
                    });
                }
            }
            fields.push((field, target));
        }
        let timestamp = match config.timestamp {
            None => None,
            Some(t) => {
                let spec = match t.format.as_str() {
                    "auto" => TimeSpec::Auto,
                    "rfc3339" => TimeSpec::Rfc3339,
                    "epoch_seconds" => TimeSpec::Epoch(EpochUnit::Seconds),
                    "epoch_millis" => TimeSpec::Epoch(EpochUnit::Millis),
                    "epoch_micros" => TimeSpec::Epoch(EpochUnit::Micros),
                    format => TimeSpec::Format(TimeFormat::parse(format).map_err(|source| {
                        MappingError::TimeFormat {
                            mapping: name.clone(),
                            source,
                        }
                    })?),
                };
                if t.field.is_empty() {
                    return Err(MappingError::EmptyField { mapping: name });
                }
                Some((t.field, spec))
            }
        };
        Ok(Mapping {
            name: name.into(),
            timestamp,
            fields,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parses a line (JSON object or `key=value` pairs) and normalises it; `received` is the
    /// event's time when the mapping reads none from it.
    pub fn normalise_line(
        &self,
        line: &str,
        received: Timestamp,
    ) -> Result<Normalised, NormaliseError> {
        self.normalise(Payload::parse(line)?, received)
    }

    pub fn normalise(
        &self,
        payload: Payload,
        received: Timestamp,
    ) -> Result<Normalised, NormaliseError> {
        let mut record = NestedRecord(payload.fields);
        let at = match &self.timestamp {
            None => received,
            Some((field, spec)) => {
                let at = {
                    let value = record
                        .lookup(field)
                        .ok_or_else(|| NormaliseError::MissingField(field.clone()))?;
                    spec.read(&value)
                        .map_err(|source| NormaliseError::BadTime {
                            field: field.clone(),
                            source,
                        })?
                };
                record.consume(field);
                at
            }
        };
        let mut draft = Draft::default();
        let mut file = FileDraft::default();
        let mut certificate = CertificateDraft::default();
        let mut http = HttpRequest::default();
        for (field, target) in &self.fields {
            let outcome = record.lookup(field).map(|value| {
                if fill(
                    target,
                    &value,
                    &mut draft,
                    &mut file,
                    &mut certificate,
                    &mut http,
                ) {
                    Ok(())
                } else {
                    Err(value.shown())
                }
            });
            match outcome {
                None => {}
                Some(Ok(())) => record.consume(field),
                Some(Err(shown)) => {
                    return Err(NormaliseError::BadValue {
                        field: field.clone(),
                        value: shown,
                        expected: target.expected(),
                    })
                }
            }
        }
        if file.name.is_some() || !file.hashes.is_empty() || file.size.is_some() {
            draft.files.push(file);
        }
        if !certificate.hashes.is_empty() || certificate.serial_number.is_some() {
            draft.certificates.push(certificate);
        }
        if http.method.is_some() || http.target.is_some() || !http.headers.is_empty() {
            draft.flow.http = Some(http);
        }
        if draft.is_empty() {
            return Err(NormaliseError::NoObservables);
        }
        Ok(Normalised {
            at,
            source: Source::Mapping(self.name.clone()),
            objects: draft.into_objects(),
            unmapped: record.into_unmapped(),
        })
    }
}

/// Puts a value where the target says; `false` when the value cannot be read as such.
fn fill(
    target: &Target,
    value: &FieldRef<'_>,
    draft: &mut Draft,
    file: &mut FileDraft,
    certificate: &mut CertificateDraft,
    http: &mut HttpRequest,
) -> bool {
    let text = || value.text().map(str::to_owned).filter(|t| !t.is_empty());
    let flow = &mut draft.flow;
    fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
        let ok = value.is_some();
        *slot = value.or(slot.take());
        ok
    }
    match target {
        Target::Address => match value.text().and_then(values::ip) {
            Some(ip) => {
                draft.addresses.push(ip);
                true
            }
            None => false,
        },
        Target::Domain => push(&mut draft.domains, value.text().and_then(values::domain)),
        Target::Url => push(&mut draft.urls, value.text().and_then(values::url)),
        Target::Email => push(&mut draft.emails, value.text().and_then(values::email)),
        Target::SrcAddress => set(&mut flow.src, value.text().and_then(values::ip)),
        Target::DstAddress => set(&mut flow.dst, value.text().and_then(values::ip)),
        Target::SrcPort => set(&mut flow.src_port, value.port()),
        Target::DstPort => set(&mut flow.dst_port, value.port()),
        Target::Protocols => {
            let names: Vec<String> = value
                .items()
                .iter()
                .flat_map(|i| i.split(','))
                .map(|p| p.trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
                .collect();
            let ok = !names.is_empty();
            flow.protocols.extend(names);
            ok
        }
        Target::Start => set(&mut flow.start, read_time(value).ok()),
        Target::End => set(&mut flow.end, read_time(value).ok()),
        Target::SrcBytes => set(&mut flow.src_bytes, value.u64()),
        Target::DstBytes => set(&mut flow.dst_bytes, value.u64()),
        Target::SrcPackets => set(&mut flow.src_packets, value.u64()),
        Target::DstPackets => set(&mut flow.dst_packets, value.u64()),
        Target::HttpMethod => set(&mut http.method, text()),
        Target::HttpRequestValue => set(&mut http.target, text()),
        Target::HttpVersion => set(&mut http.version, text().map(|v| v.to_ascii_lowercase())),
        Target::HttpHeader(name) => match text() {
            Some(v) => {
                http.header(name, v);
                true
            }
            None => false,
        },
        Target::FileName => set(&mut file.name, text()),
        Target::FileSize => set(&mut file.size, value.u64()),
        Target::FileMimeType => set(&mut file.mime_type, text()),
        Target::FileHash(algorithm, len) => {
            match value.text().and_then(|t| values::hash(*len, t)) {
                Some(h) => {
                    file.hashes.push((algorithm, h));
                    true
                }
                None => false,
            }
        }
        Target::CertificateHash(algorithm, len) => {
            match value.text().and_then(|t| values::hash(*len, t)) {
                Some(h) => {
                    certificate.hashes.push((algorithm, h));
                    true
                }
                None => false,
            }
        }
        Target::CertificateSerial => set(
            &mut certificate.serial_number,
            value.text().and_then(values::serial),
        ),
        Target::CertificateSubject => set(&mut certificate.subject, text()),
        Target::CertificateIssuer => set(&mut certificate.issuer, text()),
    }
}

fn push(list: &mut Vec<String>, value: Option<String>) -> bool {
    match value {
        Some(v) => {
            list.push(v);
            true
        }
        None => false,
    }
}

/// An event's fields where a dotted name also reaches into nested objects. A field whose
/// name has a dot is found under that name first.
struct NestedRecord(Map<String, Value>);

impl NestedRecord {
    fn value(&self, name: &str) -> Option<&Value> {
        if let Some(value) = self.0.get(name) {
            return Some(value);
        }
        let mut parts = name.split('.');
        let mut current = self.0.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    }
}

impl Record for NestedRecord {
    fn lookup(&self, name: &str) -> Option<FieldRef<'_>> {
        match self.value(name)? {
            Value::Null => None,
            Value::String(s) => Some(FieldRef::Text(s.as_str().into())),
            Value::Number(n) => Some(FieldRef::Number(n.clone())),
            other => Some(FieldRef::Other(std::borrow::Cow::Borrowed(other))),
        }
    }

    fn consume(&mut self, name: &str) {
        if self.0.remove(name).is_some() || !name.contains('.') {
            return;
        }
        let Some((parent, leaf)) = name.rsplit_once('.') else {
            return;
        };
        let mut parts = parent.split('.');
        let Some(mut current) = parts.next().and_then(|p| self.0.get_mut(p)) else {
            return;
        };
        for part in parts {
            let Some(next) = current.as_object_mut().and_then(|o| o.get_mut(part)) else {
                return;
            };
            current = next;
        }
        if let Some(object) = current.as_object_mut() {
            object.remove(leaf);
        }
    }

    fn into_unmapped(self) -> Fields {
        Fields::from_map(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths() {
        assert_eq!(
            object_path("file:hashes.'SHA-256'"),
            Ok((
                "file".to_owned(),
                vec!["hashes".to_owned(), "SHA-256".to_owned()]
            ))
        );
        assert_eq!(
            object_path(
                "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"
            )
            .map(|p| p.1.len()),
            Ok(4)
        );
        for (path, reason) in [
            ("value", "expected `<object type>:<property>`"),
            ("IPv4:value", "`IPv4` is not an object type name"),
            (
                "file:hashes.'SHA-256",
                "a quoted property has no closing quote",
            ),
            ("file:hashes..x", "a property name is empty"),
            ("file:", "a property name is empty"),
            (
                "file:na me",
                "` ` at byte 7 cannot be in an unquoted property",
            ),
            (
                "file:'a'b",
                "expected `.` at byte 8 after a quoted property, found `b`",
            ),
        ] {
            assert_eq!(object_path(path), Err(reason.to_owned()), "{path}");
        }
    }
}
