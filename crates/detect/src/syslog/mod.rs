//! Syslog messages: RFC 5424 and the older BSD form that RFC 3164 describes, and the ways
//! they arrive (see [`framing`]).
//!
//! RFC 5424 is parsed strictly, as its ABNF says:
//!
//! ```text
//! SYSLOG-MSG = "<" PRIVAL ">" VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
//!              SP STRUCTURED-DATA [SP MSG]
//! STRUCTURED-DATA = "-" / 1*( "[" SD-ID *( SP PARAM-NAME "=" DQUOTE PARAM-VALUE DQUOTE ) "]" )
//! ```
//!
//! where each header field is `-` or printable ASCII up to its length limit, and `"`, `\` and
//! `]` are escaped with `\` inside PARAM-VALUE.
//!
//! RFC 3164 only describes what devices were seen to send, `<PRI>Mmm dd hh:mm:ss HOST
//! TAG[PID]: MSG`, and many send less. As RFC 3164 §4.3.3 asks of a relay, a message whose
//! header cannot be read keeps everything after the PRI as its MSG and has no timestamp, so
//! the caller stamps it with the time it was received. The timestamp carries no year: it is
//! the year of the reference time given, or the year before when that would put the message
//! more than a month in the future (a December message read in January). It carries no
//! zone either and is taken as UTC. An RFC 3339 timestamp in its place is also accepted, as
//! rsyslog and syslog-ng write one.

pub mod framing;

use std::borrow::Cow;

use stix::Timestamp;

use crate::event::{clip, time};

pub use framing::{FrameDecoder, Framing, FramingError};

/// Which of the two formats a message was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogFormat {
    Rfc5424,
    Rfc3164,
}

/// One structured-data element: `[id name="value" …]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement<'a> {
    pub id: &'a str,
    pub params: Vec<(&'a str, Cow<'a, str>)>,
}

/// A parsed message; text fields borrow from the bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    pub format: SyslogFormat,
    pub facility: u8,
    pub severity: u8,
    /// `None` when the sender gave none (RFC 5424 `-`, or an unreadable RFC 3164 header).
    pub timestamp: Option<Timestamp>,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    pub structured_data: Vec<SdElement<'a>>,
    /// The MSG part, without the byte order mark RFC 5424 puts before UTF-8 text; invalid
    /// UTF-8 sequences are replaced rather than refused, since the header was readable.
    pub msg: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syslog, byte {at}: {kind}")]
pub struct SyslogError {
    /// Byte offset in the message where the problem is.
    pub at: usize,
    pub kind: SyslogErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyslogErrorKind {
    #[error("the message is empty")]
    Empty,
    #[error("a message must start with `<PRI>`")]
    MissingPri,
    #[error("PRI must be 1 to 3 digits closed by `>`")]
    BadPri,
    #[error("PRI {0} is above 191 (facility 23, severity 7)")]
    PriOutOfRange(u32),
    #[error("PRI has a leading zero")]
    PriLeadingZero,
    #[error("RFC 5424 version {0} is not supported (only 1 is)")]
    Version(String),
    #[error("the header ends before {0}")]
    Truncated(&'static str),
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{0} holds a character that is not printable ASCII")]
    NotPrintable(&'static str),
    #[error("{0}")]
    Timestamp(time::TimeError),
    #[error("expected a space after {0}")]
    MissingSpace(&'static str),
    #[error("{0} is empty (`-` stands for no value)")]
    EmptyField(&'static str),
    #[error("structured data must be `-` or start with `[`")]
    StructuredData,
    #[error("a structured-data element ends before its closing `]`")]
    UnclosedElement,
    #[error("a structured-data name must be 1 to 32 printable characters other than `=`, space, `]` and `\"`")]
    SdName,
    #[error("expected `=\"` after the parameter name `{0}`")]
    ParamSyntax(String),
    #[error("the value of parameter `{0}` has no closing quote")]
    UnclosedValue(String),
    #[error("the value of parameter `{0}` is not UTF-8")]
    ValueNotUtf8(String),
}

fn err(at: usize, kind: SyslogErrorKind) -> SyslogError {
    SyslogError { at, kind }
}

/// Parses one message, RFC 5424 when a version follows the PRI, RFC 3164 otherwise.
/// `reference` is the time the message was received: it gives an RFC 3164 timestamp its year.
pub fn parse(bytes: &[u8], reference: Timestamp) -> Result<SyslogMessage<'_>, SyslogError> {
    if bytes.is_empty() {
        return Err(err(0, SyslogErrorKind::Empty));
    }
    let (pri, mut at) = pri(bytes)?;
    let (facility, severity) = ((pri / 8) as u8, (pri % 8) as u8);
    let version_digits = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if version_digits > 0 && bytes.get(at + version_digits) == Some(&b' ') {
        let version = &bytes[at..at + version_digits];
        if version != b"1" {
            return Err(err(
                at,
                SyslogErrorKind::Version(String::from_utf8_lossy(version).into_owned()),
            ));
        }
        at += version_digits + 1;
        return rfc5424(bytes, at, facility, severity);
    }
    Ok(rfc3164(bytes, at, facility, severity, reference))
}

fn pri(bytes: &[u8]) -> Result<(u32, usize), SyslogError> {
    if bytes.first() != Some(&b'<') {
        return Err(err(0, SyslogErrorKind::MissingPri));
    }
    let digits = bytes[1..]
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=3).contains(&digits) || bytes.get(1 + digits) != Some(&b'>') {
        return Err(err(1, SyslogErrorKind::BadPri));
    }
    if digits > 1 && bytes[1] == b'0' {
        return Err(err(1, SyslogErrorKind::PriLeadingZero));
    }
    let value = bytes[1..1 + digits]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    if value > 191 {
        return Err(err(1, SyslogErrorKind::PriOutOfRange(value)));
    }
    Ok((value, digits + 2))
}

/// Reads a header field up to the next space: `None` for the NILVALUE `-`.
fn header_field<'a>(
    bytes: &'a [u8],
    at: &mut usize,
    name: &'static str,
    max: usize,
) -> Result<Option<&'a str>, SyslogError> {
    let start = *at;
    let len = bytes[start..].iter().take_while(|b| **b != b' ').count();
    if len == 0 {
        let kind = if start == bytes.len() {
            SyslogErrorKind::Truncated(name)
        } else {
            SyslogErrorKind::EmptyField(name)
        };
        return Err(err(start, kind));
    }
    let field = &bytes[start..start + len];
    if let Some(bad) = field.iter().position(|b| !(33..=126).contains(b)) {
        return Err(err(start + bad, SyslogErrorKind::NotPrintable(name)));
    }
    if len > max {
        return Err(err(start, SyslogErrorKind::TooLong { field: name, max }));
    }
    *at = start + len;
    // Printable ASCII, checked above.
    let text =
        std::str::from_utf8(field).map_err(|_| err(start, SyslogErrorKind::NotPrintable(name)))?;
    Ok((text != "-").then_some(text))
}

/// Steps over the space between the fields `previous` and `next`.
fn space_between(
    bytes: &[u8],
    at: &mut usize,
    previous: &'static str,
    next: &'static str,
) -> Result<(), SyslogError> {
    match bytes.get(*at) {
        Some(b' ') => {
            *at += 1;
            Ok(())
        }
        None => Err(err(*at, SyslogErrorKind::Truncated(next))),
        Some(_) => Err(err(*at, SyslogErrorKind::MissingSpace(previous))),
    }
}

fn rfc5424(
    bytes: &[u8],
    mut at: usize,
    facility: u8,
    severity: u8,
) -> Result<SyslogMessage<'_>, SyslogError> {
    let timestamp_at = at;
    let timestamp = header_field(bytes, &mut at, "TIMESTAMP", 64)?
        .map(|t| time::rfc3339(t).map_err(|e| err(timestamp_at, SyslogErrorKind::Timestamp(e))))
        .transpose()?;
    space_between(bytes, &mut at, "TIMESTAMP", "HOSTNAME")?;
    let hostname = header_field(bytes, &mut at, "HOSTNAME", 255)?;
    space_between(bytes, &mut at, "HOSTNAME", "APP-NAME")?;
    let app_name = header_field(bytes, &mut at, "APP-NAME", 48)?;
    space_between(bytes, &mut at, "APP-NAME", "PROCID")?;
    let proc_id = header_field(bytes, &mut at, "PROCID", 128)?;
    space_between(bytes, &mut at, "PROCID", "MSGID")?;
    let msg_id = header_field(bytes, &mut at, "MSGID", 32)?;
    space_between(bytes, &mut at, "MSGID", "STRUCTURED-DATA")?;
    let structured_data = structured_data(bytes, &mut at)?;
    let msg = match bytes.get(at) {
        None => Cow::Borrowed(""),
        Some(b' ') => message_text(&bytes[at + 1..]),
        Some(_) => return Err(err(at, SyslogErrorKind::MissingSpace("STRUCTURED-DATA"))),
    };
    Ok(SyslogMessage {
        format: SyslogFormat::Rfc5424,
        facility,
        severity,
        timestamp,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data,
        msg,
    })
}

fn message_text(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    String::from_utf8_lossy(bytes)
}

fn sd_name<'a>(bytes: &'a [u8], at: &mut usize) -> Result<&'a str, SyslogError> {
    let start = *at;
    let len = bytes[start..]
        .iter()
        .take_while(|b| (33..=126).contains(*b) && !matches!(b, b'=' | b']' | b'"'))
        .count();
    if !(1..=32).contains(&len) {
        return Err(err(start, SyslogErrorKind::SdName));
    }
    *at = start + len;
    std::str::from_utf8(&bytes[start..start + len]).map_err(|_| err(start, SyslogErrorKind::SdName))
}

fn structured_data<'a>(bytes: &'a [u8], at: &mut usize) -> Result<Vec<SdElement<'a>>, SyslogError> {
    match bytes.get(*at) {
        Some(b'-') => {
            *at += 1;
            return Ok(Vec::new());
        }
        Some(b'[') => {}
        None => return Err(err(*at, SyslogErrorKind::Truncated("STRUCTURED-DATA"))),
        Some(_) => return Err(err(*at, SyslogErrorKind::StructuredData)),
    }
    let mut elements = Vec::new();
    while bytes.get(*at) == Some(&b'[') {
        *at += 1;
        let id = sd_name(bytes, at)?;
        let mut params = Vec::new();
        loop {
            match bytes.get(*at) {
                Some(b']') => {
                    *at += 1;
                    break;
                }
                Some(b' ') => {
                    *at += 1;
                    let name = sd_name(bytes, at)?;
                    if bytes.get(*at..*at + 2) != Some(b"=\"") {
                        return Err(err(*at, SyslogErrorKind::ParamSyntax(name.to_owned())));
                    }
                    *at += 2;
                    let value = param_value(bytes, at, name)?;
                    params.push((name, value));
                }
                None => return Err(err(*at, SyslogErrorKind::UnclosedElement)),
                Some(_) => return Err(err(*at, SyslogErrorKind::UnclosedElement)),
            }
        }
        elements.push(SdElement { id, params });
    }
    Ok(elements)
}

/// Reads PARAM-VALUE up to its closing quote. `\"`, `\\` and `\]` stand for the character;
/// a backslash before anything else is kept, as RFC 5424 §6.3.3 says.
fn param_value<'a>(
    bytes: &'a [u8],
    at: &mut usize,
    name: &str,
) -> Result<Cow<'a, str>, SyslogError> {
    let start = *at;
    let mut i = start;
    let mut unescaped: Option<Vec<u8>> = None;
    let mut plain_from = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let value = match unescaped {
                    Some(mut v) => {
                        v.extend_from_slice(&bytes[plain_from..i]);
                        Cow::Owned(
                            String::from_utf8(v).map_err(|_| {
                                err(start, SyslogErrorKind::ValueNotUtf8(clip(name)))
                            })?,
                        )
                    }
                    None => Cow::Borrowed(
                        std::str::from_utf8(&bytes[start..i])
                            .map_err(|_| err(start, SyslogErrorKind::ValueNotUtf8(clip(name))))?,
                    ),
                };
                *at = i + 1;
                return Ok(value);
            }
            b'\\' if matches!(bytes.get(i + 1), Some(b'"' | b'\\' | b']')) => {
                let v = unescaped.get_or_insert_with(Vec::new);
                v.extend_from_slice(&bytes[plain_from..i]);
                v.push(bytes[i + 1]);
                i += 2;
                plain_from = i;
            }
            _ => i += 1,
        }
    }
    Err(err(start, SyslogErrorKind::UnclosedValue(clip(name))))
}

const MONTH_ABBREVIATIONS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Longest time an RFC 3164 message may seem to come from the future before it is taken
/// to be from the previous year.
const FUTURE_SLACK_MICROS: i64 = 31 * 86_400 * 1_000_000;

/// Reads `Mmm dd hh:mm:ss` (the day space-padded) in the year that puts it nearest before
/// `reference`.
fn bsd_timestamp(b: &[u8], reference: Timestamp) -> Option<Timestamp> {
    if b.len() != 15 || b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    let month = MONTH_ABBREVIATIONS.iter().position(|m| **m == b[0..3])? as u32 + 1;
    let two = |i: usize, pad_ok: bool| -> Option<u32> {
        let high = match b[i] {
            b' ' if pad_ok => 0,
            d @ b'0'..=b'9' => u32::from(d - b'0'),
            _ => return None,
        };
        let low = b[i + 1];
        low.is_ascii_digit()
            .then(|| high * 10 + u32::from(low - b'0'))
    };
    let (day, hour, minute, second) = (
        two(4, true)?,
        two(7, false)?,
        two(10, false)?,
        two(13, false)?,
    );
    let year = reference.year();
    let this_year = Timestamp::from_civil((year, month, day), (hour, minute, second), 0);
    match this_year {
        Some(t) if t.as_micros() - reference.as_micros() <= FUTURE_SLACK_MICROS => Some(t),
        // Also Feb 29 seen in a year that has none: it was last year's, or no date at all.
        _ => Timestamp::from_civil((year - 1, month, day), (hour, minute, second), 0),
    }
}

fn rfc3164(
    bytes: &[u8],
    start: usize,
    facility: u8,
    severity: u8,
    reference: Timestamp,
) -> SyslogMessage<'_> {
    let mut message = SyslogMessage {
        format: SyslogFormat::Rfc3164,
        facility,
        severity,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: Vec::new(),
        msg: message_text(&bytes[start..]),
    };
    let rest = &bytes[start..];
    let (timestamp, after) =
        if let Some(t) = rest.get(..15).and_then(|b| bsd_timestamp(b, reference)) {
            (t, 15)
        } else {
            let token = rest.iter().take_while(|b| **b != b' ').count();
            match std::str::from_utf8(&rest[..token]).ok().map(time::rfc3339) {
                Some(Ok(t)) => (t, token),
                _ => return message,
            }
        };
    if rest.get(after) != Some(&b' ') {
        return message;
    }
    message.timestamp = Some(timestamp);
    let mut at = start + after + 1;
    let token_len = |at: usize| bytes[at..].iter().take_while(|b| **b != b' ').count();
    let printable = |s: &[u8]| !s.is_empty() && s.iter().all(|b| (33..=126).contains(b));
    let first = &bytes[at..at + token_len(at)];
    // A first word that ends with `:` or holds `[` is the TAG: the host was left out.
    let is_tag = first.ends_with(b":") || first.contains(&b'[');
    if printable(first) && !is_tag && bytes.get(at + first.len()) == Some(&b' ') {
        message.hostname = std::str::from_utf8(first).ok();
        at += first.len() + 1;
    }
    let tag_end = bytes[at..]
        .iter()
        .take(64)
        .position(|b| matches!(b, b':' | b'[' | b' '));
    if let Some(len) = tag_end.filter(|len| (1..=48).contains(len)) {
        let tag = &bytes[at..at + len];
        if printable(tag) {
            let mut after_tag = at + len;
            let mut proc_id = None;
            if bytes[after_tag] == b'[' {
                if let Some(close) = bytes[after_tag..].iter().take(130).position(|b| *b == b']') {
                    proc_id = std::str::from_utf8(&bytes[after_tag + 1..after_tag + close])
                        .ok()
                        .filter(|p| printable(p.as_bytes()));
                    after_tag += close + 1;
                }
            }
            if bytes.get(after_tag) == Some(&b':') && (proc_id.is_some() || bytes[at + len] == b':')
            {
                message.app_name = std::str::from_utf8(tag).ok();
                message.proc_id = proc_id;
                after_tag += 1;
                if bytes.get(after_tag) == Some(&b' ') {
                    after_tag += 1;
                }
                at = after_tag;
            }
        }
    }
    message.msg = message_text(&bytes[at..]);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Timestamp {
        time::rfc3339("2024-03-10T12:00:00Z").unwrap()
    }

    fn parsed(text: &str) -> SyslogMessage<'_> {
        parse(text.as_bytes(), reference()).unwrap()
    }

    fn error(text: &str) -> (usize, String) {
        let e = parse(text.as_bytes(), reference()).unwrap_err();
        (e.at, e.kind.to_string())
    }

    #[test]
    fn rfc5424_examples() {
        // RFC 5424 §6.5, examples 1 and 3 (the BOM of example 1 removed from MSG).
        let m = parsed(
            "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
        );
        assert_eq!(
            (m.format, m.facility, m.severity),
            (SyslogFormat::Rfc5424, 4, 2)
        );
        assert_eq!(
            m.timestamp.unwrap().to_string(),
            "2003-10-11T22:14:15.003000Z"
        );
        assert_eq!(m.hostname, Some("mymachine.example.com"));
        assert_eq!(
            (m.app_name, m.proc_id, m.msg_id),
            (Some("su"), None, Some("ID47"))
        );
        assert_eq!(m.msg, "'su root' failed for lonvick on /dev/pts/8");

        let m = parsed(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#,
        );
        assert_eq!(m.structured_data.len(), 2);
        assert_eq!(m.structured_data[0].id, "exampleSDID@32473");
        assert_eq!(
            m.structured_data[0].params,
            vec![
                ("iut", Cow::Borrowed("3")),
                ("eventSource", Cow::Borrowed("Application")),
                ("eventID", Cow::Borrowed("1011"))
            ]
        );
        assert_eq!(
            m.structured_data[1].params,
            vec![("class", Cow::Borrowed("high"))]
        );
        assert_eq!(m.msg, "");
    }

    #[test]
    fn rfc5424_escapes_offsets_and_nil_values() {
        let m =
            parsed(r#"<13>1 2003-08-24T05:14:15.000003-07:00 - - - - [a x="q\"b\]c\\d\e"] msg"#);
        assert_eq!(
            m.timestamp.unwrap().to_string(),
            "2003-08-24T12:14:15.000003Z"
        );
        assert_eq!(
            (m.hostname, m.app_name, m.proc_id, m.msg_id),
            (None, None, None, None)
        );
        assert_eq!(m.structured_data[0].params[0].1, "q\"b]c\\d\\e");
        assert_eq!(m.msg, "msg");
        let m = parsed("<13>1 - host app 12 - -");
        assert_eq!((m.timestamp, m.proc_id), (None, Some("12")));
    }

    #[test]
    fn rfc5424_errors() {
        let cases: [(&str, usize, &str); 14] = [
            ("", 0, "the message is empty"),
            ("34>1 -", 0, "a message must start with `<PRI>`"),
            ("<>1 -", 1, "PRI must be 1 to 3 digits closed by `>`"),
            ("<1234>1 -", 1, "PRI must be 1 to 3 digits closed by `>`"),
            (
                "<192>1 -",
                1,
                "PRI 192 is above 191 (facility 23, severity 7)",
            ),
            ("<034>1 -", 1, "PRI has a leading zero"),
            (
                "<34>2 - - - - - -",
                4,
                "RFC 5424 version 2 is not supported (only 1 is)",
            ),
            ("<34>1 - host", 12, "the header ends before APP-NAME"),
            (
                "<34>1 - host app  - - -",
                17,
                "PROCID is empty (`-` stands for no value)",
            ),
            (
                "<34>1 - host app - 0123456789abcdef0123456789abcdefX -",
                19,
                "MSGID is longer than 32 characters",
            ),
            (
                "<34>1 - host app - - x",
                21,
                "structured data must be `-` or start with `[`",
            ),
            (
                "<34>1 - host app - - [id a=1]",
                26,
                "expected `=\"` after the parameter name `a`",
            ),
            (
                "<34>1 - host app - - [id a=\"1]",
                28,
                "the value of parameter `a` has no closing quote",
            ),
            (
                "<34>1 - host app - - [id a=\"1\"",
                30,
                "a structured-data element ends before its closing `]`",
            ),
        ];
        for (text, at, message) in cases {
            assert_eq!(error(text), (at, message.to_owned()), "{text}");
        }
        let (at, message) = error("<34>1 2003-10-11T22:14:15 host app - - -");
        assert_eq!(at, 6);
        assert!(message.starts_with("`2003-10-11T22:14:15` is not an RFC 3339 date-time"));
        assert_eq!(
            error("<34>1 - h\u{e9}st app - - -"),
            (
                9,
                "HOSTNAME holds a character that is not printable ASCII".to_owned()
            )
        );
        assert_eq!(error("<34>1 - host app - - [=x]"), (22, "a structured-data name must be 1 to 32 printable characters other than `=`, space, `]` and `\"`".to_owned()));
        assert_eq!(
            error("<34>1 - host app - - -msg"),
            (22, "expected a space after STRUCTURED-DATA".to_owned())
        );
    }

    #[test]
    fn rfc3164_examples() {
        // RFC 3164 §5.4, examples 1 and 3.
        let m =
            parsed("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!(
            (m.format, m.facility, m.severity),
            (SyslogFormat::Rfc3164, 4, 2)
        );
        assert_eq!(
            m.timestamp.unwrap().to_string(),
            "2023-10-11T22:14:15.000000Z"
        );
        assert_eq!(
            (m.hostname, m.app_name, m.proc_id),
            (Some("mymachine"), Some("su"), None)
        );
        assert_eq!(m.msg, "'su root' failed for lonvick on /dev/pts/8");

        let m = parsed("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
        assert_eq!(
            m.timestamp.unwrap().to_string(),
            "2024-02-05T17:32:18.000000Z"
        );
        assert_eq!((m.hostname, m.app_name), (Some("10.0.0.99"), None));
        assert_eq!(m.msg, "Use the BFG!");
    }

    #[test]
    fn rfc3164_variants() {
        let m = parsed("<86>Mar 10 11:59:59 gw sshd[4123]: Accepted publickey for root");
        assert_eq!((m.app_name, m.proc_id), (Some("sshd"), Some("4123")));
        assert_eq!(m.msg, "Accepted publickey for root");

        // No host: the first word is the tag.
        let m = parsed("<86>Mar 10 11:59:59 sshd[4123]: hello");
        assert_eq!(
            (m.hostname, m.app_name, m.proc_id),
            (None, Some("sshd"), Some("4123"))
        );

        // An RFC 3339 timestamp in place of the BSD one.
        let m = parsed("<86>2024-03-10T11:59:59.5+01:00 gw app: x=1");
        assert_eq!(
            m.timestamp.unwrap().to_string(),
            "2024-03-10T10:59:59.500000Z"
        );
        assert_eq!(
            (m.hostname, m.app_name, &*m.msg),
            (Some("gw"), Some("app"), "x=1")
        );

        // Within a month ahead is clock skew; further ahead is last year.
        assert_eq!(
            parsed("<86>Apr  1 00:00:00 gw x").timestamp.unwrap().year(),
            2024
        );
        assert_eq!(
            parsed("<86>Dec 31 23:59:59 gw x").timestamp.unwrap().year(),
            2023
        );

        // An unreadable header: everything after PRI is the message, with no timestamp.
        let m = parsed("<86>hello world");
        assert_eq!(
            (m.timestamp, m.hostname, &*m.msg),
            (None, None, "hello world")
        );
        let m = parsed("<86>Foo 10 11:59:59 gw x");
        assert_eq!((m.timestamp, &*m.msg), (None, "Foo 10 11:59:59 gw x"));
        let m = parsed("<86>");
        assert_eq!((m.timestamp, &*m.msg), (None, ""));
    }
}
