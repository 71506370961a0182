//! Suricata EVE JSON: one event per line, its kind in `event_type`, the connection in
//! `src_ip`, `src_port`, `dest_ip`, `dest_port`, `proto`, `app_proto`, the details in an
//! object named after the kind.
//!
//! | `event_type` | objects |
//! |---|---|
//! | `dns` | `network-traffic`; `domain-name` for the query name, resolving to the answers' addresses and names (EVE versions 2 and 3, `answers` or `grouped`) |
//! | `http` | `network-traffic` with `http-request-ext`; `url`; `domain-name` of the host |
//! | `tls` | `network-traffic`; `domain-name` for the SNI; `x509-certificate` (SHA-1 fingerprint, serial, subject, issuer, validity) |
//! | `flow` | `network-traffic` with start, end, bytes and packets |
//! | `fileinfo` | `file` (hashes, name, size); the HTTP request it came in, if logged |
//! | `alert` | `network-traffic`, and what the alert's application-layer metadata gives as above; the `alert` object itself stays in `unmapped` |
//!
//! Suricata writes offsets without a colon (`+0000`) and certificate validity without a
//! zone; the latter is UTC.

use stix::Timestamp;

use super::draft::{Answer, CertificateDraft, Draft, FileDraft, HttpRequest, Resolution};
use super::{
    optional_time, require_time, values, FieldRef, NormaliseError, Normalised, RawRecord, Record,
    Source,
};
use crate::event::{clip, time, PayloadError};

/// The EVE event types that have a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EveType {
    Dns,
    Http,
    Tls,
    Flow,
    Fileinfo,
    Alert,
}

impl EveType {
    pub fn from_name(name: &str) -> Option<EveType> {
        Some(match name {
            "dns" => EveType::Dns,
            "http" => EveType::Http,
            "tls" => EveType::Tls,
            "flow" => EveType::Flow,
            "fileinfo" => EveType::Fileinfo,
            "alert" => EveType::Alert,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            EveType::Dns => "dns",
            EveType::Http => "http",
            EveType::Tls => "tls",
            EveType::Flow => "flow",
            EveType::Fileinfo => "fileinfo",
            EveType::Alert => "alert",
        }
    }
}

/// Normalises one EVE line.
pub fn eve_line(line: &str) -> Result<Normalised, NormaliseError> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err(PayloadError::Empty.into());
    }
    let mut record = RawRecord::parse(trimmed)?;
    let kind = match record.lookup("event_type") {
        None => return Err(NormaliseError::MissingField("event_type".to_owned())),
        Some(FieldRef::Text(name)) => EveType::from_name(&name).ok_or_else(|| {
            NormaliseError::Unsupported(format!("suricata event type `{}`", clip(&name)))
        })?,
        Some(other) => {
            return Err(NormaliseError::BadValue {
                field: "event_type".to_owned(),
                value: other.shown(),
                expected: "an event type name",
            })
        }
    };
    record.consume("event_type");
    let at = require_time(&mut record, "timestamp")?;
    let mut draft = Draft::default();
    connection(&mut record, &mut draft)?;
    match kind {
        EveType::Dns => app_layer(&mut record, &mut draft, "dns", dns),
        EveType::Http => app_layer(&mut record, &mut draft, "http", http),
        EveType::Tls => app_layer(&mut record, &mut draft, "tls", tls),
        EveType::Flow => app_layer(&mut record, &mut draft, "flow", flow),
        EveType::Fileinfo => {
            app_layer(&mut record, &mut draft, "fileinfo", fileinfo);
            app_layer(&mut record, &mut draft, "http", http);
        }
        EveType::Alert => {
            // Alerts carry the flow and application-layer records of their transaction
            // when Suricata is configured to add them.
            app_layer(&mut record, &mut draft, "flow", flow);
            app_layer(&mut record, &mut draft, "dns", dns);
            app_layer(&mut record, &mut draft, "http", http);
            app_layer(&mut record, &mut draft, "tls", tls);
            app_layer(&mut record, &mut draft, "fileinfo", fileinfo);
        }
    }
    if draft.is_empty() {
        return Err(NormaliseError::NoObservables);
    }
    Ok(Normalised {
        at,
        source: Source::Suricata(kind),
        objects: draft.into_objects(),
        unmapped: record.into_unmapped(),
    })
}

fn connection(record: &mut RawRecord<'_>, draft: &mut Draft) -> Result<(), NormaliseError> {
    let address = |f: &FieldRef<'_>| f.text().and_then(values::ip);
    let flow = &mut draft.flow;
    // Events outside a connection (some alerts on decoder anomalies) have no addresses.
    if record.lookup("src_ip").is_some() || record.lookup("dest_ip").is_some() {
        flow.src = Some(record.require("src_ip", "an IP address", address)?);
        flow.dst = Some(record.require("dest_ip", "an IP address", address)?);
    }
    flow.src_port = record.take("src_port", |f| f.port());
    flow.dst_port = record.take("dest_port", |f| f.port());
    if let Some(proto) = record.take("proto", |f| f.text().map(str::to_ascii_lowercase)) {
        flow.protocols.push(proto);
    }
    let app = record.take("app_proto", |f| {
        let name = f.text()?.to_ascii_lowercase();
        (!matches!(name.as_str(), "failed" | "unknown" | "")).then_some(name)
    });
    flow.protocols.extend(app);
    Ok(())
}

/// Maps the nested object `name` with `map`; what it leaves goes back under `name`.
fn app_layer(
    record: &mut RawRecord<'_>,
    draft: &mut Draft,
    name: &str,
    map: fn(&mut RawRecord<'_>, &mut Draft),
) {
    if let Some(mut nested) = record.nested(name) {
        map(&mut nested, draft);
        record.put_back(name, nested);
    }
}

fn answer(rrtype: &str, data: &str) -> Option<Answer> {
    match rrtype {
        "A" | "AAAA" => values::ip(data).map(Answer::Address),
        "CNAME" | "NS" | "MX" | "PTR" => values::domain(data).map(Answer::Name),
        _ => None,
    }
}

fn dns(record: &mut RawRecord<'_>, draft: &mut Draft) {
    draft.flow.protocols.push("dns".to_owned());
    let mut name = record.take("rrname", |f| f.text().and_then(values::domain));
    if name.is_none() {
        // EVE version 3 lists the questions.
        record.each_object("queries", |query| {
            if let Some(found) = query.take("rrname", |f| f.text().and_then(values::domain)) {
                name.get_or_insert(found);
            }
        });
    }
    let Some(name) = name else { return };
    let mut answers = Vec::new();
    // An answer is taken whole (its name, type and data) when its data is understood; its
    // TTL and anything else stay.
    record.each_object("answers", |item| {
        let rrtype = item
            .lookup("rrtype")
            .and_then(|f| f.text().map(str::to_owned));
        let found = rrtype
            .as_deref()
            .and_then(|t| item.take("rdata", |f| f.text().and_then(|d| answer(t, d))));
        if let Some(found) = found {
            answers.push(found);
            item.consume("rrtype");
            item.consume("rrname");
        }
    });
    // Version 2 may write the answers twice, as a list and grouped by type: the grouped
    // form is read only when the list gave nothing, and taken when it is understood.
    if let Some(mut grouped) = record.nested("grouped") {
        let from_list = !answers.is_empty();
        let types = grouped.names();
        for rrtype in types {
            let data: Vec<String> = grouped
                .lookup(&rrtype)
                .map(|f| f.items().into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            let mapped: Vec<Answer> = data.iter().filter_map(|d| answer(&rrtype, d)).collect();
            if !mapped.is_empty() && mapped.len() == data.len() {
                grouped.consume(&rrtype);
            }
            if !from_list {
                answers.extend(mapped);
            }
        }
        record.put_back("grouped", grouped);
    }
    draft.resolutions.push(Resolution { name, answers });
}

fn http(record: &mut RawRecord<'_>, draft: &mut Draft) {
    draft.flow.protocols.push("http".to_owned());
    let host = record.take("hostname", |f| f.text().map(str::to_owned));
    let port = record.take("http_port", |f| f.port());
    let target = record.text("url");
    let authority = match (&host, port) {
        (Some(h), Some(p)) => Some(format!("{h}:{p}")),
        (Some(h), None) => Some(h.clone()),
        _ => None,
    };
    if let (Some(authority), Some(target)) = (&authority, &target) {
        draft
            .urls
            .extend(values::http_url("http", authority, target));
    }
    if let Some(host) = &host {
        match values::ip(host) {
            Some(ip) => draft.addresses.push(ip),
            None => draft.domains.extend(values::domain(host)),
        }
    }
    let mut request = HttpRequest {
        method: record.text("http_method"),
        target,
        version: record.take("protocol", |f| f.text().map(str::to_ascii_lowercase)),
        headers: Vec::new(),
    };
    if let Some(authority) = authority {
        request.header("Host", authority);
    }
    if let Some(agent) = record.text("http_user_agent") {
        request.header("User-Agent", agent);
    }
    if let Some(referrer) = record.text("http_refer") {
        request.header("Referer", referrer);
    }
    draft.flow.http = Some(request);
}

/// A certificate validity as Suricata writes it: RFC 3339 without a zone, in UTC.
fn validity(field: &FieldRef<'_>) -> Option<Timestamp> {
    let text = field.text()?;
    let has_zone =
        text.ends_with('Z') || text.get(19..).is_some_and(|rest| rest.contains(['+', '-']));
    if has_zone {
        time::rfc3339(text).ok()
    } else {
        time::rfc3339(&format!("{text}Z")).ok()
    }
}

fn tls(record: &mut RawRecord<'_>, draft: &mut Draft) {
    draft.flow.protocols.push("tls".to_owned());
    if let Some(name) = record.take("sni", |f| f.text().and_then(values::domain)) {
        draft.domains.push(name);
    }
    let hashes: Vec<(&'static str, String)> = record
        .take("fingerprint", |f| {
            f.text().and_then(|t| values::hash(40, t))
        })
        .map(|h| ("SHA-1", h))
        .into_iter()
        .collect();
    let serial_number = record.take("serial", |f| f.text().and_then(values::serial));
    if hashes.is_empty() && serial_number.is_none() {
        return;
    }
    draft.certificates.push(CertificateDraft {
        hashes,
        serial_number,
        subject: record.text("subject"),
        issuer: record.text("issuerdn"),
        not_before: record.take("notbefore", validity),
        not_after: record.take("notafter", validity),
        ..CertificateDraft::default()
    });
}

fn flow(record: &mut RawRecord<'_>, draft: &mut Draft) {
    let flow = &mut draft.flow;
    flow.start = optional_time(record, "start");
    flow.end = optional_time(record, "end");
    flow.src_bytes = record.u64("bytes_toserver");
    flow.dst_bytes = record.u64("bytes_toclient");
    flow.src_packets = record.u64("pkts_toserver");
    flow.dst_packets = record.u64("pkts_toclient");
}

fn fileinfo(record: &mut RawRecord<'_>, draft: &mut Draft) {
    let hashes = [
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
    .collect();
    // Suricata names an HTTP file by its URL path; the file's name is its last segment.
    let name = record.take("filename", |f| {
        let path = f.text()?;
        let last = path.rsplit(['/', '\\']).next().unwrap_or(path);
        (!last.is_empty()).then(|| last.to_owned())
    });
    draft.files.push(FileDraft {
        hashes,
        name,
        size: record.u64("size"),
        mime_type: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_without_zone_is_utc() {
        let f = FieldRef::Text("2024-01-01T00:00:00".into());
        assert_eq!(
            validity(&f).map(|t| t.to_string()),
            Some("2024-01-01T00:00:00.000000Z".to_owned())
        );
        let f = FieldRef::Text("2024-01-01T00:00:00+0100".into());
        assert_eq!(
            validity(&f).map(|t| t.to_string()),
            Some("2023-12-31T23:00:00.000000Z".to_owned())
        );
        assert_eq!(validity(&FieldRef::Text("soon".into())), None);
    }

    #[test]
    fn event_type_errors() {
        assert_eq!(
            eve_line(r#"{"timestamp":"2020-06-05T14:39:59Z"}"#)
                .unwrap_err()
                .to_string(),
            "missing field `event_type`"
        );
        assert_eq!(
            eve_line(r#"{"event_type":"stats","timestamp":"2020-06-05T14:39:59Z"}"#)
                .unwrap_err()
                .to_string(),
            "no mapping for suricata event type `stats`"
        );
        assert_eq!(
            eve_line(r#"{"event_type":7}"#).unwrap_err().to_string(),
            "field `event_type`: `7` is not an event type name"
        );
    }
}
