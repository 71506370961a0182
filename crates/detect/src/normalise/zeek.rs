//! Zeek logs: `conn`, `dns`, `http`, `ssl`, `files` and `x509`, in Zeek's TSV form or as
//! JSON lines.
//!
//! A TSV log describes itself in `#` headers: `#separator` (written as `\x09`), then, each
//! separated by it, `#set_separator`, `#empty_field`, `#unset_field`, `#path` (the log type),
//! `#fields` and `#types`. [`ZeekTsv`] keeps the layout they give and reads the data lines
//! under it. Values escape separators and unprintable bytes as `\xHH`; the unset value
//! (`-`) and the empty value (`(empty)`) both mean "no value". Headers Zeek may add later
//! are ignored: they are not events.
//!
//! A JSON line names its log type in `_path` when Zeek is configured to write it; otherwise
//! the caller says which log the line came from. Field names are the same dotted names as
//! in TSV (`id.orig_h`).
//!
//! What each log gives:
//!
//! | log | objects |
//! |---|---|
//! | `conn` | `network-traffic` (addresses, ports, `proto` and `service`, start, end from `duration`, bytes and packets) |
//! | `dns` | `network-traffic`; `domain-name` for `query`, resolving to the `answers` that are addresses or names |
//! | `http` | `network-traffic` with `http-request-ext` (method, URI, version, Host, User-Agent, Referer headers); `url`; `domain-name` or address of `host` |
//! | `ssl` | `network-traffic`; `domain-name` for `server_name`; `x509-certificate` for the server's certificate (`cert_chain_fps`, `subject`, `issuer`) |
//! | `files` | `file` (hashes, name, size, MIME type); the transferring hosts |
//! | `x509` | `x509-certificate` (fingerprint, serial, subject, issuer, validity, algorithms, SANs); `domain-name` for each SAN DNS name that is not a wildcard |

use std::borrow::Cow;

use serde_json::{Map, Number, Value};
use stix::Timestamp;

use super::draft::{Answer, CertificateDraft, Draft, FileDraft, HttpRequest, Resolution};
use super::{
    optional_time, require_time, values, FieldRef, Fields, NormaliseError, Normalised, RawRecord,
    Record, Source,
};
use crate::event::{clip, PayloadError};

/// The Zeek logs that have a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZeekLog {
    Conn,
    Dns,
    Http,
    Ssl,
    Files,
    X509,
}

impl ZeekLog {
    /// The log named by a `#path` header or `_path` field.
    pub fn from_path(path: &str) -> Option<ZeekLog> {
        Some(match path {
            "conn" => ZeekLog::Conn,
            "dns" => ZeekLog::Dns,
            "http" => ZeekLog::Http,
            "ssl" => ZeekLog::Ssl,
            "files" => ZeekLog::Files,
            "x509" => ZeekLog::X509,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ZeekLog::Conn => "conn",
            ZeekLog::Dns => "dns",
            ZeekLog::Http => "http",
            ZeekLog::Ssl => "ssl",
            ZeekLog::Files => "files",
            ZeekLog::X509 => "x509",
        }
    }
}

/// How a TSV log lays out its lines, from its headers.
#[derive(Debug, Clone)]
struct Layout {
    separator: String,
    set_separator: String,
    empty_field: String,
    unset_field: String,
    path: Option<String>,
    fields: Vec<String>,
    types: Vec<String>,
    index: hashbrown::HashMap<String, usize>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            separator: "\t".to_owned(),
            set_separator: ",".to_owned(),
            empty_field: "(empty)".to_owned(),
            unset_field: "-".to_owned(),
            path: None,
            fields: Vec::new(),
            types: Vec::new(),
            index: hashbrown::HashMap::new(),
        }
    }
}

/// A reader of one Zeek TSV log stream: headers update its layout, data lines are
/// normalised under it.
#[derive(Debug, Clone, Default)]
pub struct ZeekTsv {
    layout: Layout,
    /// The log type when the stream has no `#path` header.
    default_log: Option<ZeekLog>,
}

/// Decodes Zeek's `\xHH` escapes (and `\\`), which stand for bytes that would be confused
/// with separators or are not printable.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'x') {
                let hex = b
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok());
                if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            } else if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn is_container(zeek_type: &str) -> bool {
    zeek_type.starts_with("set[")
        || zeek_type.starts_with("vector[")
        || zeek_type.starts_with("table[")
}

impl ZeekTsv {
    pub fn new() -> Self {
        ZeekTsv::default()
    }

    /// A reader for a stream known to hold one log type, used when it has no `#path`.
    pub fn for_log(log: ZeekLog) -> Self {
        ZeekTsv {
            default_log: Some(log),
            ..ZeekTsv::default()
        }
    }

    /// Reads one line: `Ok(None)` for a header, the event for a data line.
    pub fn line(&mut self, line: &str) -> Result<Option<Normalised>, NormaliseError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            self.header(line)?;
            return Ok(None);
        }
        if line.is_empty() {
            return Err(NormaliseError::Payload(PayloadError::Empty));
        }
        let layout = &self.layout;
        if layout.fields.is_empty() {
            return Err(NormaliseError::NoHeader);
        }
        let log = match &layout.path {
            Some(path) => ZeekLog::from_path(path)
                .ok_or_else(|| NormaliseError::Unsupported(format!("zeek log `{}`", clip(path))))?,
            None => self
                .default_log
                .ok_or_else(|| NormaliseError::MissingField("#path".to_owned()))?,
        };
        // A one-byte separator (Zeek's tab) is found by `memchr`, many times faster than a
        // substring search.
        let values: Vec<&str> = match layout.separator.as_bytes() {
            [byte] if byte.is_ascii() => line.split(char::from(*byte)).collect(),
            _ => line.split(layout.separator.as_str()).collect(),
        };
        if values.len() != layout.fields.len() {
            return Err(NormaliseError::FieldCount {
                expected: layout.fields.len(),
                found: values.len(),
            });
        }
        let used = vec![false; values.len()];
        let record = TsvRecord {
            layout,
            values,
            used,
        };
        normalise(log, record).map(Some)
    }

    fn header(&mut self, line: &str) -> Result<(), NormaliseError> {
        let bad = |reason| NormaliseError::BadHeader {
            header: clip(line),
            reason,
        };
        if let Some(value) = line.strip_prefix("#separator ") {
            let separator = unescape(value);
            if separator.is_empty() {
                return Err(bad("the separator is empty"));
            }
            self.layout.separator = separator.into_owned();
            return Ok(());
        }
        let mut parts = line.split(self.layout.separator.as_str());
        let name = parts.next().unwrap_or_default();
        let mut single = || -> Result<String, NormaliseError> {
            match (parts.next(), parts.next()) {
                (Some(v), None) => Ok(unescape(v).into_owned()),
                _ => Err(bad("expected exactly one value")),
            }
        };
        match name {
            "#set_separator" => {
                let value = single()?;
                if value.is_empty() {
                    return Err(bad("the set separator is empty"));
                }
                self.layout.set_separator = value;
            }
            "#empty_field" => self.layout.empty_field = single()?,
            "#unset_field" => self.layout.unset_field = single()?,
            "#path" => self.layout.path = Some(single()?),
            "#fields" => {
                let fields: Vec<String> = parts.map(|f| unescape(f).into_owned()).collect();
                if fields.is_empty() {
                    return Err(bad("no field names"));
                }
                self.layout.index = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.clone(), i))
                    .collect();
                if self.layout.index.len() != fields.len() {
                    return Err(bad("a field name appears twice"));
                }
                self.layout.fields = fields;
                self.layout.types.clear();
            }
            "#types" => {
                let types: Vec<String> = parts.map(str::to_owned).collect();
                if !self.layout.fields.is_empty() && types.len() != self.layout.fields.len() {
                    return Err(bad("the number of types differs from the number of fields"));
                }
                self.layout.types = types;
            }
            _ => {}
        }
        Ok(())
    }
}

/// One TSV data line under its layout.
struct TsvRecord<'a> {
    layout: &'a Layout,
    values: Vec<&'a str>,
    used: Vec<bool>,
}

impl TsvRecord<'_> {
    fn zeek_type(&self, i: usize) -> &str {
        self.layout.types.get(i).map_or("string", String::as_str)
    }
}

impl Record for TsvRecord<'_> {
    fn lookup(&self, name: &str) -> Option<FieldRef<'_>> {
        let &i = self.layout.index.get(name)?;
        let raw = self.values[i];
        if raw == self.layout.unset_field || raw == self.layout.empty_field {
            return None;
        }
        if is_container(self.zeek_type(i)) {
            let items = raw
                .split(self.layout.set_separator.as_str())
                .map(unescape)
                .collect();
            return Some(FieldRef::List(items));
        }
        Some(FieldRef::Text(unescape(raw)))
    }

    fn consume(&mut self, name: &str) {
        if let Some(&i) = self.layout.index.get(name) {
            self.used[i] = true;
        }
    }

    fn into_unmapped(self) -> Fields {
        let mut out = Map::new();
        for (i, raw) in self.values.iter().enumerate() {
            if self.used[i] || *raw == self.layout.unset_field {
                continue;
            }
            let zeek_type = self.zeek_type(i);
            let empty = *raw == self.layout.empty_field;
            let value = if is_container(zeek_type) {
                let items = if empty {
                    Vec::new()
                } else {
                    raw.split(self.layout.set_separator.as_str())
                        .map(|item| Value::String(unescape(item).into_owned()))
                        .collect()
                };
                Value::Array(items)
            } else if empty {
                Value::String(String::new())
            } else {
                typed(zeek_type, raw)
            };
            out.insert(self.layout.fields[i].clone(), value);
        }
        Fields::from_map(out)
    }
}

/// A TSV value as JSON, typed as the `#types` header says, as Zeek's JSON writer would.
fn typed(zeek_type: &str, raw: &str) -> Value {
    let number = match zeek_type {
        "count" | "port" => raw.parse::<u64>().ok().map(Number::from),
        "int" => raw.parse::<i64>().ok().map(Number::from),
        "double" | "time" | "interval" => raw.parse::<f64>().ok().and_then(Number::from_f64),
        "bool" => {
            return match raw {
                "T" => Value::Bool(true),
                "F" => Value::Bool(false),
                _ => Value::String(raw.to_owned()),
            }
        }
        _ => None,
    };
    match number {
        Some(n) => Value::Number(n),
        None => Value::String(unescape(raw).into_owned()),
    }
}

/// Normalises one Zeek JSON line; `log` says which log it is when the line has no `_path`.
pub fn json_line(line: &str, log: Option<ZeekLog>) -> Result<Normalised, NormaliseError> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err(PayloadError::Empty.into());
    }
    let mut record = RawRecord::parse(trimmed)?;
    let path = record
        .lookup("_path")
        .and_then(|f| f.text().map(str::to_owned));
    let log = match path {
        Some(path) => {
            let found = ZeekLog::from_path(&path).ok_or_else(|| {
                NormaliseError::Unsupported(format!("zeek log `{}`", clip(&path)))
            })?;
            record.consume("_path");
            found
        }
        None => log.ok_or_else(|| NormaliseError::MissingField("_path".to_owned()))?,
    };
    normalise(log, record)
}

fn normalise<R: Record>(log: ZeekLog, mut record: R) -> Result<Normalised, NormaliseError> {
    let at = require_time(&mut record, "ts")?;
    let mut draft = Draft::default();
    match log {
        ZeekLog::Conn => conn(&mut record, &mut draft, at)?,
        ZeekLog::Dns => dns(&mut record, &mut draft)?,
        ZeekLog::Http => http(&mut record, &mut draft)?,
        ZeekLog::Ssl => ssl(&mut record, &mut draft)?,
        ZeekLog::Files => files(&mut record, &mut draft),
        ZeekLog::X509 => x509(&mut record, &mut draft),
    }
    if draft.is_empty() {
        return Err(NormaliseError::NoObservables);
    }
    Ok(Normalised {
        at,
        source: Source::Zeek(log),
        objects: draft.into_objects(),
        unmapped: record.into_unmapped(),
    })
}

/// The connection's endpoints, from the `id` record every connection-based log has.
fn endpoints<R: Record>(record: &mut R, draft: &mut Draft) -> Result<(), NormaliseError> {
    let address = |f: &FieldRef<'_>| f.text().and_then(values::ip);
    draft.flow.src = Some(record.require("id.orig_h", "an IP address", address)?);
    draft.flow.dst = Some(record.require("id.resp_h", "an IP address", address)?);
    draft.flow.src_port = record.take("id.orig_p", |f| f.port());
    draft.flow.dst_port = record.take("id.resp_p", |f| f.port());
    Ok(())
}

fn lowercase_items(field: &FieldRef<'_>) -> Option<Vec<String>> {
    let items: Vec<String> = field
        .items()
        .iter()
        .flat_map(|i| i.split(','))
        .map(|i| i.trim().to_ascii_lowercase())
        .filter(|i| !i.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

fn conn<R: Record>(record: &mut R, draft: &mut Draft, at: Timestamp) -> Result<(), NormaliseError> {
    endpoints(record, draft)?;
    let flow = &mut draft.flow;
    flow.protocols
        .extend(record.take("proto", lowercase_items).unwrap_or_default());
    // Zeek calls TLS `ssl`; the other sources and indicators say `tls`.
    let services = record.take("service", lowercase_items).unwrap_or_default();
    flow.protocols.extend(
        services
            .into_iter()
            .map(|s| if s == "ssl" { "tls".to_owned() } else { s }),
    );
    flow.start = Some(at);
    flow.end = record.take("duration", |f| {
        let seconds: f64 = match f {
            FieldRef::Text(t) => t.parse().ok()?,
            FieldRef::Number(n) => n.as_f64()?,
            _ => return None,
        };
        let micros = (seconds * 1e6).round();
        (micros.is_finite() && (0.0..1e17).contains(&micros))
            .then(|| Timestamp::from_micros(at.as_micros().saturating_add(micros as i64)))
    });
    flow.src_bytes = record.u64("orig_bytes");
    flow.dst_bytes = record.u64("resp_bytes");
    flow.src_packets = record.u64("orig_pkts");
    flow.dst_packets = record.u64("resp_pkts");
    Ok(())
}

/// Takes a list field whose items `read` maps; the field stays unmapped unless every item
/// was understood, so that nothing of it is lost.
fn each_item<R: Record, T>(
    record: &mut R,
    name: &str,
    mut read: impl FnMut(&str) -> Option<T>,
) -> Vec<T> {
    let (mapped, complete) = match record.lookup(name) {
        Some(field) => {
            let items = field.items();
            let mapped: Vec<T> = items.iter().filter_map(|i| read(i)).collect();
            let complete = mapped.len() == items.len();
            (mapped, complete)
        }
        None => (Vec::new(), false),
    };
    if complete {
        record.consume(name);
    }
    mapped
}

fn dns<R: Record>(record: &mut R, draft: &mut Draft) -> Result<(), NormaliseError> {
    endpoints(record, draft)?;
    draft
        .flow
        .protocols
        .extend(record.take("proto", lowercase_items).unwrap_or_default());
    draft.flow.protocols.push("dns".to_owned());
    if let Some(name) = record.take("query", |f| f.text().and_then(values::domain)) {
        let answers = each_item(record, "answers", |a| match values::ip(a) {
            Some(ip) => Some(Answer::Address(ip)),
            None => values::domain(a).map(Answer::Name),
        });
        draft.resolutions.push(Resolution { name, answers });
    }
    Ok(())
}

fn http<R: Record>(record: &mut R, draft: &mut Draft) -> Result<(), NormaliseError> {
    endpoints(record, draft)?;
    draft
        .flow
        .protocols
        .extend(["tcp".to_owned(), "http".to_owned()]);
    let mut request = HttpRequest {
        method: record.text("method"),
        version: record.take("version", |f| f.text().map(|v| format!("http/{v}"))),
        ..HttpRequest::default()
    };
    let host = record.text("host");
    let target = record
        .lookup("uri")
        .and_then(|f| f.text().map(str::to_owned));
    if let (Some(host), Some(target)) = (&host, &target) {
        if let Some(url) = values::http_url("http", host, target) {
            draft.urls.push(url);
        }
    }
    if target.is_some() {
        record.consume("uri");
    }
    request.target = target;
    if let Some(host) = host {
        let name = values::host_of(&host);
        match values::ip(name) {
            Some(ip) => draft.addresses.push(ip),
            None => draft.domains.extend(values::domain(name)),
        }
        request.header("Host", host);
    }
    if let Some(agent) = record.text("user_agent") {
        request.header("User-Agent", agent);
    }
    if let Some(referrer) = record.text("referrer") {
        request.header("Referer", referrer);
    }
    draft.flow.http = Some(request);
    Ok(())
}

/// A certificate fingerprint's algorithm, from its length: Zeek hashes with the algorithm
/// its configuration names (SHA-256 unless changed).
fn fingerprint(text: &str) -> Option<(&'static str, String)> {
    [("SHA-256", 64), ("SHA-1", 40), ("MD5", 32)]
        .into_iter()
        .find_map(|(algorithm, len)| values::hash(len, text).map(|h| (algorithm, h)))
}

fn ssl<R: Record>(record: &mut R, draft: &mut Draft) -> Result<(), NormaliseError> {
    endpoints(record, draft)?;
    let datagram = record
        .lookup("version")
        .and_then(|f| f.text().map(|v| v.starts_with("DTLS")))
        .unwrap_or(false);
    draft
        .flow
        .protocols
        .push(if datagram { "udp" } else { "tcp" }.to_owned());
    draft.flow.protocols.push("tls".to_owned());
    if let Some(name) = record.take("server_name", |f| f.text().and_then(values::domain)) {
        draft.domains.push(name);
    }
    // The first fingerprint of the chain is the server's own certificate. The field stays
    // unmapped when the chain holds more, so that the others are not lost.
    let chain = record.lookup("cert_chain_fps").map(|f| {
        let items = f.items();
        (items.len(), items.first().and_then(|i| fingerprint(i)))
    });
    let server_fingerprint = match chain {
        Some((len, Some(hash))) => {
            if len == 1 {
                record.consume("cert_chain_fps");
            }
            Some(hash)
        }
        _ => None,
    };
    if let Some(hash) = server_fingerprint {
        draft.certificates.push(CertificateDraft {
            hashes: vec![hash],
            subject: record.text("subject"),
            issuer: record.text("issuer"),
            ..CertificateDraft::default()
        });
    }
    Ok(())
}

fn file_hashes<R: Record>(record: &mut R) -> Vec<(&'static str, String)> {
    [
        ("md5", "MD5", 32),
        ("sha1", "SHA-1", 40),
        ("sha256", "SHA-256", 64),
    ]
    .into_iter()
    .filter_map(|(field, algorithm, len)| {
        record
            .take(field, |f| f.text().and_then(|t| values::hash(len, t)))
            .map(|h| (algorithm, h))
    })
    .collect()
}

fn files<R: Record>(record: &mut R, draft: &mut Draft) {
    let has_conn_id = record.lookup("id.orig_h").is_some() && record.lookup("id.resp_h").is_some();
    if has_conn_id {
        let address = |f: &FieldRef<'_>| f.text().and_then(values::ip);
        draft.flow.src = record.take("id.orig_h", address);
        draft.flow.dst = record.take("id.resp_h", address);
        draft.flow.src_port = record.take("id.orig_p", |f| f.port());
        draft.flow.dst_port = record.take("id.resp_p", |f| f.port());
    }
    for hosts in ["tx_hosts", "rx_hosts"] {
        let found = each_item(record, hosts, values::ip);
        draft.addresses.extend(found);
    }
    let file = FileDraft {
        hashes: file_hashes(record),
        name: record.text("filename"),
        size: record.u64("total_bytes"),
        mime_type: record.text("mime_type"),
    };
    draft.files.push(file);
}

fn x509<R: Record>(record: &mut R, draft: &mut Draft) {
    let mut certificate = CertificateDraft {
        hashes: record
            .take("fingerprint", |f| f.text().and_then(fingerprint))
            .into_iter()
            .collect(),
        serial_number: record.take("certificate.serial", |f| f.text().and_then(values::serial)),
        subject: record.text("certificate.subject"),
        issuer: record.text("certificate.issuer"),
        version: record.text("certificate.version"),
        signature_algorithm: record.text("certificate.sig_alg"),
        subject_public_key_algorithm: record.text("certificate.key_alg"),
        not_before: optional_time(record, "certificate.not_valid_before"),
        not_after: optional_time(record, "certificate.not_valid_after"),
        subject_alternative_name: None,
    };
    let mut san = Vec::new();
    for (field, prefix) in [
        ("san.dns", "DNS"),
        ("san.uri", "URI"),
        ("san.email", "email"),
        ("san.ip", "IP Address"),
    ] {
        let names = each_item(record, field, |item| Some(item.to_owned()));
        if field == "san.dns" {
            draft.domains.extend(
                names
                    .iter()
                    .filter(|n| !n.starts_with("*."))
                    .filter_map(|n| values::domain(n)),
            );
        }
        san.extend(names.into_iter().map(|n| format!("{prefix}:{n}")));
    }
    if !san.is_empty() {
        certificate.subject_alternative_name = Some(san.join(", "));
    }
    draft.certificates.push(certificate);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_bytes() {
        assert_eq!(unescape("a\\x09b"), "a\tb");
        assert_eq!(unescape("\\x5c\\\\x"), "\\\\x");
        assert_eq!(unescape("\\xzz"), "\\xzz");
        assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn headers_set_the_layout() {
        let mut tsv = ZeekTsv::new();
        for line in [
            "#separator \\x7c",
            "#set_separator|;",
            "#empty_field|EMPTY",
            "#unset_field|NONE",
            "#path|conn",
            "#fields|ts|id.orig_h|id.orig_p|id.resp_h|id.resp_p|proto|tunnel_parents",
            "#types|time|addr|port|addr|port|enum|set[string]",
        ] {
            assert_eq!(tsv.line(line).unwrap(), None, "{line}");
        }
        let event = tsv
            .line("1591367999.5|10.0.0.1|NONE|192.0.2.1|53|udp|a;b")
            .unwrap()
            .unwrap();
        assert_eq!(event.at.to_string(), "2020-06-05T14:39:59.500000Z");
        assert_eq!(
            event.unmapped.to_map()["tunnel_parents"],
            serde_json::json!(["a", "b"])
        );
        assert!(!event.unmapped.to_map().contains_key("id.orig_p"));
    }

    #[test]
    fn header_errors() {
        let mut tsv = ZeekTsv::new();
        assert_eq!(
            tsv.line("#fields\tts\tts").unwrap_err().to_string(),
            "zeek: header `#fields\tts\tts`: a field name appears twice"
        );
        tsv.line("#fields\tts\tuid").unwrap();
        assert_eq!(
            tsv.line("#types\ttime").unwrap_err().to_string(),
            "zeek: header `#types\ttime`: the number of types differs from the number of fields"
        );
        assert_eq!(
            tsv.line("#path\ta\tb").unwrap_err().to_string(),
            "zeek: header `#path\ta\tb`: expected exactly one value"
        );
        assert_eq!(
            tsv.line("1.0\tC1").unwrap_err().to_string(),
            "missing field `#path`"
        );
        assert_eq!(
            ZeekTsv::new().line("1.0\tC1").unwrap_err(),
            NormaliseError::NoHeader
        );
    }
}
