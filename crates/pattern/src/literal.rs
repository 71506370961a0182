//! The shapes of `t'…'`, `h'…'` and `b'…'` literals, and decoding of all literal text.

use stix::Timestamp;

use crate::diagnostic::{Diagnostic, Quoted};
use crate::lexer::Tok;

pub(crate) fn prefixed_name(tok: Tok) -> &'static str {
    match tok {
        Tok::Timestamp => "timestamp",
        Tok::Hex => "hex",
        _ => "binary",
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const TIMESTAMP_SHAPE: &str = "t'YYYY-MM-DDTHH:MM:SS[.fraction]Z'";

/// The grammar's `TimestampLiteral`, and a date that exists.
///
/// `body` is the text between the quotes; `at` its offset in the pattern.
pub(crate) fn check_timestamp(body: &str, at: usize) -> Result<(), Diagnostic> {
    let b = body.as_bytes();
    let whole = at - 2..at + body.len() + 1;
    let malformed = |offset: usize, len: usize, what: &str| {
        // A fixed-width field can end inside a multi-byte character: mark all of it.
        let mut end = offset + len;
        while !body.is_char_boundary(end) {
            end += 1;
        }
        Diagnostic::new(
            at + offset..at + end,
            format!("malformed timestamp literal {}", Quoted(&body_text(body))),
        )
        .with_label(what.to_owned())
        .with_hint(format!(
            "timestamps are written {TIMESTAMP_SHAPE}, in UTC, e.g. t'2016-06-01T01:30:00.123Z'"
        ))
    };
    // Fields and separators at their fixed offsets; the first mismatch is reported where it is.
    const LAYOUT: [(usize, usize, &str); 11] = [
        (0, 4, "year"),
        (4, 1, "-"),
        (5, 2, "month"),
        (7, 1, "-"),
        (8, 2, "day"),
        (10, 1, "T"),
        (11, 2, "hour"),
        (13, 1, ":"),
        (14, 2, "minute"),
        (16, 1, ":"),
        (17, 2, "second"),
    ];
    let mut fields = [0u32; 6];
    let mut field = 0;
    for (offset, len, name) in LAYOUT {
        let Some(part) = b.get(offset..offset + len) else {
            let what = if len == 1 && name.len() == 1 {
                format!("`{name}`")
            } else {
                format!("the {name}")
            };
            return Err(malformed(
                b.len(),
                0,
                &format!("the timestamp ends before {what}"),
            ));
        };
        if len == 1 && name.len() == 1 {
            if part != name.as_bytes() {
                return Err(malformed(offset, 1, &format!("expected `{name}`")));
            }
        } else {
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(malformed(
                    offset,
                    len,
                    &format!("the {name} must be {len} digits"),
                ));
            }
            fields[field] = part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
            field += 1;
        }
    }
    let rest = &b[19..];
    let fraction_len = match rest.first() {
        Some(b'.') => {
            let digits = rest[1..].iter().take_while(|d| d.is_ascii_digit()).count();
            if digits == 0 {
                return Err(malformed(19, 1, "a `.` must be followed by digits"));
            }
            digits + 1
        }
        _ => 0,
    };
    match &rest[fraction_len..] {
        b"Z" => {}
        [] => return Err(malformed(19 + fraction_len, 0, "expected `Z`")),
        other => {
            let label = if other[0] == b'+' || other[0] == b'-' || other[0] == b'z' {
                "timestamps are in UTC and end with `Z`"
            } else {
                "expected `Z` to end the timestamp"
            };
            return Err(malformed(19 + fraction_len, other.len(), label));
        }
    }
    let [year, month, day, hour, minute, second] = fields;
    let range = |offset: usize, name: &str, bounds: &str| {
        Diagnostic::new(
            at + offset..at + offset + 2,
            format!(
                "invalid {name} `{}` in a timestamp literal",
                &body[offset..offset + 2]
            ),
        )
        .with_label(format!("the {name} must be {bounds}"))
    };
    if !(1..=12).contains(&month) {
        return Err(range(5, "month", "01 to 12"));
    }
    if !(1..=31).contains(&day) {
        return Err(range(8, "day", "01 to 31"));
    }
    if hour > 23 {
        return Err(range(11, "hour", "00 to 23"));
    }
    if minute > 59 {
        return Err(range(14, "minute", "00 to 59"));
    }
    if second > 60 {
        return Err(range(17, "second", "00 to 60"));
    }
    // The grammar lets every month have 31 days; a date that does not exist has no instant
    // to compare with, so it is refused here.
    let last = days_in_month(year, month);
    if day > last {
        let month_name = MONTHS[(month - 1) as usize];
        return Err(
            Diagnostic::new(whole, format!("{month_name} {year} has no day {day}"))
                .with_label(format!("{month_name} {year} has {last} days")),
        );
    }
    Ok(())
}

fn body_text(body: &str) -> String {
    format!("t'{body}'")
}

/// The instant of a timestamp that passed [`check_timestamp`]. A leap second (`:60`) is read
/// as the first instant of the next minute, as POSIX time does.
pub(crate) fn timestamp_value(body: &str) -> Option<Timestamp> {
    if body.get(17..19) == Some("60") {
        let mut text = body.to_owned();
        text.replace_range(17..19, "59");
        let t = Timestamp::parse(&text).ok()?;
        Some(Timestamp::from_micros(t.as_micros() + 1_000_000))
    } else {
        Timestamp::parse(body).ok()
    }
}

/// Prints a timestamp in the shortest form: no fraction when it is whole, trailing zeros
/// of the fraction dropped.
pub(crate) fn timestamp_text(t: Timestamp) -> String {
    // `Timestamp`'s Display has exactly six fractional digits before `Z`.
    let full = t.to_string();
    let Some(dot) = full.rfind('.') else {
        return full;
    };
    let fraction = full[dot + 1..full.len() - 1].trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}Z", &full[..dot])
    } else {
        format!("{}.{fraction}Z", &full[..dot])
    }
}

pub(crate) fn check_hex(body: &str, at: usize) -> Result<(), Diagnostic> {
    if let Some((i, c)) = body.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(Diagnostic::new(
            at + i..at + i + c.len_utf8(),
            format!("`{c}` is not a hex digit"),
        )
        .with_label("hex literals hold pairs of digits 0-9, a-f, A-F"));
    }
    if body.len() % 2 != 0 {
        return Err(Diagnostic::new(
            at - 2..at + body.len() + 1,
            "hex literal with an odd number of digits",
        )
        .with_label(format!("{} digits", body.len()))
        .with_hint("each byte is two hex digits: write a leading 0, e.g. h'0f'"));
    }
    Ok(())
}

fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d.wrapping_sub(b'A').wrapping_add(10),
    }
}

pub(crate) fn decode_hex(body: &str) -> Vec<u8> {
    body.as_bytes()
        .chunks_exact(2)
        .map(|pair| hex_value(pair[0]) << 4 | hex_value(pair[1]))
        .collect()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_value(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// The grammar's `BinaryLiteral`: one or more groups of four base64 characters, the last
/// of which may end in `=` or `==`.
pub(crate) fn check_base64(body: &str, at: usize) -> Result<(), Diagnostic> {
    let whole = at - 2..at + body.len() + 1;
    if body.is_empty() {
        return Err(Diagnostic::new(whole, "empty binary literal")
            .with_label("b'' holds no base64 group")
            .with_hint("the grammar requires at least four base64 characters, e.g. b'AA=='"));
    }
    let b = body.as_bytes();
    let padding = b.iter().rev().take_while(|&&c| c == b'=').count();
    for (i, c) in body.char_indices() {
        let in_padding = i >= b.len() - padding;
        if c == '=' && !in_padding {
            return Err(Diagnostic::new(
                at + i..at + i + 1,
                "base64 padding `=` before the end of a binary literal",
            )
            .with_label("`=` may only end the literal"));
        }
        if c != '=' && !(c.is_ascii() && base64_value(c as u8).is_some()) {
            return Err(Diagnostic::new(
                at + i..at + i + c.len_utf8(),
                format!("`{c}` is not a base64 character"),
            )
            .with_label("base64 uses A-Z, a-z, 0-9, + and /"));
        }
    }
    if b.len() % 4 != 0 {
        return Err(Diagnostic::new(
            whole,
            "base64 text must be a multiple of four characters long",
        )
        .with_label(format!("{} characters", b.len()))
        .with_hint("pad the last group with `=`, e.g. b'AQI='"));
    }
    if padding > 2 || b.len() == padding {
        return Err(Diagnostic::new(
            at + b.len() - padding..at + b.len(),
            "too much base64 padding",
        )
        .with_label("a group ends in at most `==`"));
    }
    Ok(())
}

pub(crate) fn decode_base64(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    for group in body.as_bytes().chunks_exact(4) {
        let v: Vec<u8> = group.iter().filter_map(|&c| base64_value(c)).collect();
        let n = v
            .iter()
            .chain(std::iter::repeat(&0))
            .take(4)
            .fold(0u32, |acc, &x| acc << 6 | u32::from(x));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        // Four characters give three bytes; each `=` drops one.
        out.extend_from_slice(&bytes[..v.len().saturating_sub(1)]);
    }
    out
}

pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .chain(std::iter::repeat(&0))
            .take(3)
            .fold(0u32, |acc, &x| acc << 8 | u32::from(x));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The text of a string literal without its quotes, `\'` and `\\` resolved.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(escaped) = chars.next() {
                out.push(escaped);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Where, in the raw text of a string literal, the unescaped byte `offset` came from.
pub(crate) fn raw_offset(raw: &str, offset: usize) -> usize {
    let bytes = raw.as_bytes();
    let (mut r, mut u) = (0, 0);
    while u < offset && r < bytes.len() {
        r += if bytes[r] == b'\\' { 2 } else { 1 };
        u += 1;
    }
    r.min(raw.len())
}

/// Writes a string literal with its quotes, escaping `'` and `\`.
pub(crate) fn write_string(out: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    out.write_char('\'')?;
    let mut rest = s;
    while let Some(i) = rest.find(['\'', '\\']) {
        out.write_str(&rest[..i])?;
        out.write_char('\\')?;
        out.write_str(&rest[i..i + 1])?;
        rest = &rest[i + 1..];
    }
    out.write_str(rest)?;
    out.write_char('\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for bytes in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"\xff\x00\x80"] {
            let text = encode_base64(bytes);
            if !bytes.is_empty() {
                assert!(check_base64(&text, 2).is_ok(), "{text}");
            }
            assert_eq!(decode_base64(&text), bytes, "{text}");
        }
        assert_eq!(decode_base64("dGhpcyBpcyBhIHRlc3Q="), b"this is a test");
    }

    #[test]
    fn base64_shapes() {
        for bad in ["", "====", "QQ", "QQ=", "Q===", "Q=Q=", "QQ==QQ==", "QQ!="] {
            assert!(check_base64(bad, 2).is_err(), "{bad}");
        }
        for good in ["QQ==", "QUI=", "QUJD", "QUJDQQ=="] {
            assert!(check_base64(good, 2).is_ok(), "{good}");
        }
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("ffD8"), vec![0xff, 0xd8]);
        assert!(check_hex("abc", 2).is_err());
        assert!(check_hex("zz", 2).is_err());
        assert!(check_hex("", 2).is_ok());
    }

    #[test]
    fn timestamps() {
        for good in [
            "2016-06-01T01:30:00Z",
            "2016-06-01T01:30:00.123Z",
            "2016-12-31T23:59:60Z",
            "2024-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(check_timestamp(good, 2).is_ok(), "{good}");
            assert!(timestamp_value(good).is_some(), "{good}");
        }
        for bad in [
            "2016-13-01T00:00:00Z",
            "2016-00-01T00:00:00Z",
            "2016-01-32T00:00:00Z",
            "2016-01-01T24:00:00Z",
            "2016-01-01T00:60:00Z",
            "2016-01-01T00:00:61Z",
            "2016-01-01T00:00:00",
            "2016-01-01T00:00:00.Z",
            "2016-01-01T00:00:00+01:00",
            "2016-01-01 00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "not-a-timestamp",
            "",
        ] {
            assert!(check_timestamp(bad, 2).is_err(), "{bad}");
        }
        let leap = timestamp_value("2016-12-31T23:59:60.5Z").map(timestamp_text);
        assert_eq!(leap.as_deref(), Some("2017-01-01T00:00:00.5Z"));
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\'b\\c"), r"a'b\c");
        let mut s = String::new();
        write_string(&mut s, r"a'b\c").unwrap();
        assert_eq!(s, r"'a\'b\\c'");
        assert_eq!(raw_offset(r"a\\b", 2), 3);
    }
}
