//! The string syntaxes STIX 2.1 takes from other standards: URIs (RFC 3986), domain names
//! (RFC 1034 host names and their internationalized form, RFC 5890-5892) and media types
//! (RFC 6838). They follow the checks the OASIS STIX validator makes of URLs, domain names
//! and artifact MIME types; where they fall short of those, the check says so.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

// ---- URIs (RFC 3986) ------------------------------------------------------------------------

/// An absolute URI, RFC 3986 §3: `scheme ":" hier-part [ "?" query ] [ "#" fragment ]`.
/// Characters outside the URI alphabet (spaces, controls, non-ASCII) must be percent-encoded,
/// and a `%` must start a percent-encoding. A relative reference is not a URL on its own.
pub(crate) fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (hier_part, query) = match rest.split_once('?') {
        Some((hier_part, query)) => (hier_part, Some(query)),
        None => (rest, None),
    };
    // Query and fragment share one grammar: `*( pchar / "/" / "?" )`.
    let tail = |part: Option<&str>| {
        part.is_none_or(|p| encoded(p, |b| is_pchar(b) || b == b'/' || b == b'?'))
    };
    is_scheme(scheme) && is_hier_part(hier_part) && tail(query) && tail(fragment)
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
fn is_scheme(scheme: &str) -> bool {
    scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `"//" authority path-abempty / path-absolute / path-rootless / path-empty`. Once the
/// authority is split off, every path form is segments of pchars separated by slashes.
fn is_hier_part(hier_part: &str) -> bool {
    let path = |p: &str| encoded(p, |b| is_pchar(b) || b == b'/');
    match hier_part.strip_prefix("//") {
        Some(after) => {
            let (authority, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
            is_authority(authority) && path(rest)
        }
        None => path(hier_part),
    }
}

/// `[ userinfo "@" ] host [ ":" port ]`
fn is_authority(authority: &str) -> bool {
    let (userinfo, host_port) = match authority.split_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let userinfo_ok =
        userinfo.is_none_or(|u| encoded(u, |b| is_unreserved(b) || is_sub_delim(b) || b == b':'));
    let (host_ok, port) = match host_port.strip_prefix('[') {
        Some(literal) => match literal.split_once(']') {
            Some((address, rest)) => (is_ip_literal(address), rest),
            None => (false, ""),
        },
        // A reg-name has no colon, so the first one starts the port. IPv4 addresses are
        // reg-names as far as syntax goes.
        None => {
            let end = host_port.find(':').unwrap_or(host_port.len());
            let (host, rest) = host_port.split_at(end);
            (encoded(host, |b| is_unreserved(b) || is_sub_delim(b)), rest)
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    userinfo_ok && host_ok && port_ok
}

/// Inside `[...]`: an IPv6 address or `"v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
fn is_ip_literal(address: &str) -> bool {
    match address.strip_prefix(['v', 'V']) {
        Some(future) => future.split_once('.').is_some_and(|(version, rest)| {
            !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_hexdigit())
                && !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| is_unreserved(b) || is_sub_delim(b) || b == b':')
        }),
        None => address.parse::<Ipv6Addr>().is_ok(),
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// `unreserved / pct-encoded / sub-delims / ":" / "@"`, less the percent-encoding, which
/// [`encoded`] handles.
fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'@'
}

/// Every byte is `allowed` or part of a percent-encoding (`%` and two hex digits).
fn encoded(text: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        let ok = if b == b'%' {
            bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
                && bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
        } else {
            allowed(b)
        };
        if !ok {
            return false;
        }
    }
    true
}

// ---- Domain names (RFC 1034, IDNA2008) --------------------------------------------------------

/// A domain name as IDNA2008 (RFC 5891 §4) registers it: dot-separated labels, each either
/// an ASCII host-name label (letters, digits, hyphens; any case), an A-label (`xn--` and the
/// canonical Punycode of a valid U-label) or a U-label (the Unicode form). A label is at
/// most 63 octets and the name at most 253 in its ASCII form; one trailing dot is allowed.
pub(crate) fn is_domain_name(text: &str) -> bool {
    // UTS 46 reads the ideographic, fullwidth and halfwidth full stops as dots too.
    let mut labels: Vec<&str> = text
        .split(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'])
        .collect();
    if labels.len() > 1 && labels.last() == Some(&"") {
        labels.pop();
    }
    let mut ascii_len = labels.len().saturating_sub(1);
    for label in labels {
        match ascii_label_len(label) {
            Some(len) => ascii_len += len,
            None => return false,
        }
    }
    ascii_len <= 253
}

/// The length of a valid label in its ASCII form, or `None` when the label is not valid.
fn ascii_label_len(label: &str) -> Option<usize> {
    let len = if label.is_ascii() {
        let lower = label.to_ascii_lowercase();
        match lower.strip_prefix("xn--") {
            Some(encoded) => {
                // RFC 5891 §5.3: an A-label must decode to a valid U-label and be the
                // canonical encoding of it.
                if encoded.is_empty() || encoded.ends_with('-') {
                    return None;
                }
                let decoded = punycode::decode(encoded)?;
                if punycode::encode(&decoded)? != encoded || !is_u_label(&decoded) {
                    return None;
                }
            }
            None if !is_host_name_label(&lower) => return None,
            None => {}
        }
        lower.len()
    } else {
        let chars: Vec<char> = label.chars().collect();
        if !is_u_label(&chars) {
            return None;
        }
        "xn--".len() + punycode::encode(&chars)?.len()
    };
    (len <= 63).then_some(len)
}

/// RFC 1034 §3.5 as relaxed by RFC 1123 §2.1: letters, digits and hyphens, not starting or
/// ending with a hyphen, and (RFC 5891 §4.2.3.1) no `--` in the third and fourth positions,
/// which is reserved for A-labels. Lowercase input expected.
fn is_host_name_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && hyphens_ok(&label.chars().collect::<Vec<_>>())
}

fn hyphens_ok(label: &[char]) -> bool {
    label.first() != Some(&'-')
        && label.last() != Some(&'-')
        && label.get(2..4) != Some(&['-', '-'])
}

/// IDNA2008 derives the code points a U-label may hold from Unicode properties (RFC 5892):
/// letters, marks and decimal digits (upper and title case excluded), less whatever
/// normalization or case folding would change. This class is that derivation from the
/// general categories, less the compatibility blocks and characters that NFKC folds away.
/// Not modelled: the contextual rules for joiners and middle dots (those characters are
/// refused outright) and the requirement that a label be in Normalization Form C.
const U_LABEL_CHARS: &str = concat!(
    r"[[\p{Ll}\p{Lo}\p{Lm}\p{Mn}\p{Mc}\p{Nd}\-]--[",
    r"\x{AA}\x{BA}\x{132}\x{133}\x{13F}\x{140}\x{149}\x{17F}\x{1C4}-\x{1CC}\x{1F1}-\x{1F3}",
    r"\x{2B0}-\x{2B8}\x{2E0}-\x{2E4}\x{340}\x{341}\x{343}\x{344}\x{374}\x{37A}\x{587}",
    r"\x{675}-\x{678}\x{E33}\x{EB3}\x{10FC}\x{1D2C}-\x{1D6A}\x{1D78}\x{1D9B}-\x{1DBF}",
    r"\x{1E9A}\x{1E9B}\x{2070}-\x{209F}\x{2100}-\x{214F}\x{2C7C}\x{2C7D}\x{2D6F}",
    r"\x{3131}-\x{318E}\x{A69C}\x{A69D}\x{A770}\x{A7F2}-\x{A7F4}\x{A7F8}\x{A7F9}",
    r"\x{AB5C}-\x{AB5F}",
    // CJK compatibility ideographs, less the twelve unified ideographs in their block.
    r"\x{F900}-\x{FA0D}\x{FA10}\x{FA12}\x{FA15}-\x{FA1E}\x{FA20}\x{FA22}\x{FA25}\x{FA26}",
    r"\x{FA2A}-\x{FAFF}",
    // Presentation forms, half- and fullwidth forms, mathematical alphanumerics.
    r"\x{FB00}-\x{FB1D}\x{FB1F}-\x{FDFF}\x{FE70}-\x{FEFF}\x{FF00}-\x{FFEF}",
    r"\x{1D400}-\x{1D7FF}\x{1EE00}-\x{1EEFF}\x{2F800}-\x{2FA1F}",
    r"]]"
);

static U_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    // A label must not start with a combining mark (RFC 5891 §4.2.3.2).
    Regex::new(&format!(r"^[{U_LABEL_CHARS}--\p{{M}}]{U_LABEL_CHARS}*$"))
        .expect("the U-label character class is a valid regex")
});

fn is_u_label(label: &[char]) -> bool {
    let text: String = label.iter().collect();
    hyphens_ok(label) && U_LABEL.is_match(&text) && bidi_ok(label)
}

/// The bidirectional classes the Bidi rule distinguishes among the characters a U-label
/// may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    LeftToRight,
    RightToLeft,
    EuropeanNumber,
    ArabicNumber,
    Hyphen,
    NonSpacingMark,
}

/// Letters of the right-to-left scripts still in use, and non-spacing marks.
static RIGHT_TO_LEFT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^[\p{Arabic}\p{Hebrew}\p{Syriac}\p{Thaana}\p{Nko}\p{Samaritan}\p{Mandaic}",
        r"\p{Adlam}\p{Hanifi_Rohingya}\p{Mende_Kikakui}\p{Yezidi}]$",
    ))
    .expect("the right-to-left class is a valid regex")
});
static NON_SPACING_MARK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\p{Mn}$").expect("the mark class is a valid regex"));

fn direction(c: char) -> Direction {
    let mut buffer = [0; 4];
    let text = &*c.encode_utf8(&mut buffer);
    match c {
        '0'..='9' | '\u{6F0}'..='\u{6F9}' => Direction::EuropeanNumber,
        '\u{660}'..='\u{669}' => Direction::ArabicNumber,
        '-' => Direction::Hyphen,
        _ if NON_SPACING_MARK.is_match(text) => Direction::NonSpacingMark,
        _ if RIGHT_TO_LEFT.is_match(text) => Direction::RightToLeft,
        _ => Direction::LeftToRight,
    }
}

/// The Bidi rule (RFC 5893 §2) for a label holding right-to-left characters or Arabic-Indic
/// digits: it starts with a right-to-left letter, holds no left-to-right character, ends
/// (before any non-spacing marks) with a right-to-left letter or a digit, and does not mix
/// European and Arabic-Indic digits. Labels without such characters are not concerned.
fn bidi_ok(label: &[char]) -> bool {
    use Direction::*;
    let directions: Vec<Direction> = label.iter().map(|&c| direction(c)).collect();
    if !directions
        .iter()
        .any(|d| matches!(d, RightToLeft | ArabicNumber))
    {
        return true;
    }
    let last = directions.iter().rev().find(|d| **d != NonSpacingMark);
    directions.first() == Some(&RightToLeft)
        && !directions.contains(&LeftToRight)
        && matches!(last, Some(RightToLeft | EuropeanNumber | ArabicNumber))
        && !(directions.contains(&EuropeanNumber) && directions.contains(&ArabicNumber))
}

/// Punycode (RFC 3492), the encoding of A-labels.
mod punycode {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    const INITIAL_BIAS: u32 = 72;
    const INITIAL_N: u32 = 128;

    fn adapt(delta: u32, points: u32, first: bool) -> u32 {
        let mut delta = if first { delta / DAMP } else { delta / 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
    }

    fn threshold(k: u32, bias: u32) -> u32 {
        k.saturating_sub(bias).clamp(T_MIN, T_MAX)
    }

    fn digit(d: u32) -> char {
        // d < 36 always: 0-25 are a-z, 26-35 are 0-9.
        char::from(if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        })
    }

    pub(super) fn decode(input: &str) -> Option<Vec<char>> {
        let (basic, extended) = match input.rfind('-') {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => ("", input),
        };
        if !basic.is_ascii() {
            return None;
        }
        let mut output: Vec<char> = basic.chars().collect();
        let (mut n, mut i, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
        let mut digits = extended.bytes().peekable();
        while digits.peek().is_some() {
            let old_i = i;
            let mut weight = 1u32;
            let mut k = BASE;
            loop {
                let d = match digits.next()? {
                    b @ b'a'..=b'z' => b - b'a',
                    b @ b'A'..=b'Z' => b - b'A',
                    b @ b'0'..=b'9' => b - b'0' + 26,
                    _ => return None,
                } as u32;
                i = i.checked_add(d.checked_mul(weight)?)?;
                let t = threshold(k, bias);
                if d < t {
                    break;
                }
                weight = weight.checked_mul(BASE - t)?;
                k += BASE;
            }
            let len = u32::try_from(output.len()).ok()? + 1;
            bias = adapt(i - old_i, len, old_i == 0);
            n = n.checked_add(i / len)?;
            i %= len;
            output.insert(i as usize, char::from_u32(n)?);
            i += 1;
        }
        Some(output)
    }

    pub(super) fn encode(input: &[char]) -> Option<String> {
        let mut output: String = input.iter().filter(|c| c.is_ascii()).collect();
        let basic = u32::try_from(output.len()).ok()?;
        let total = u32::try_from(input.len()).ok()?;
        if basic > 0 {
            output.push('-');
        }
        let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0u32, INITIAL_BIAS, basic);
        while handled < total {
            let m = input.iter().map(|&c| c as u32).filter(|&c| c >= n).min()?;
            delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
            n = m;
            for &c in input {
                let c = c as u32;
                if c < n {
                    delta = delta.checked_add(1)?;
                }
                if c == n {
                    let mut q = delta;
                    let mut k = BASE;
                    loop {
                        let t = threshold(k, bias);
                        if q < t {
                            break;
                        }
                        output.push(digit(t + (q - t) % (BASE - t)));
                        q = (q - t) / (BASE - t);
                        k += BASE;
                    }
                    output.push(digit(q));
                    bias = adapt(delta, handled + 1, handled == basic);
                    delta = 0;
                    handled += 1;
                }
            }
            delta = delta.checked_add(1)?;
            n += 1;
        }
        Some(output)
    }
}

// ---- Media types (RFC 6838) -----------------------------------------------------------------

/// The top-level media types registered by standards-track RFCs (RFC 6838 §4.2.7 allows no
/// others, and the `x-` prefix is gone since RFC 6838 §3.4).
const TOP_LEVEL_MEDIA_TYPES: &[&str] = &[
    "application",
    "audio",
    "example",
    "font",
    "haptics",
    "image",
    "message",
    "model",
    "multipart",
    "text",
    "video",
];

/// `type "/" subtype` (RFC 6838 §4.2), without parameters: a registered top-level type and a
/// subtype of 1 to 127 restricted-name characters starting with a letter or digit. The name
/// is matched case-insensitively. Whether the subtype is registered with IANA is not checked:
/// the registry changes too often to be built in.
pub(crate) fn is_media_type(text: &str) -> bool {
    let Some((top, subtype)) = text.split_once('/') else {
        return false;
    };
    TOP_LEVEL_MEDIA_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(top))
        && (1..=127).contains(&subtype.len())
        && subtype.as_bytes()[0].is_ascii_alphanumeric()
        && subtype.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        for good in [
            "https://example.com/research/index.html",
            "http://example.com",
            "http://198.51.100.7/a",
            "http://user:pw@example.com:8080/a/b;c?q=1&r=%20#top",
            "http://[2001:db8::1]:443/",
            "http://[v7.fe80::1]/",
            "urn:isbn:0451450523",
            "mailto:john@example.com",
            "file:///C:/Windows/System32",
            "x:",
            "ftp://example.com/a//b/?x?y#f/?",
        ] {
            assert!(is_uri(good), "{good}");
        }
        for bad in [
            "not a url",
            "example.com/path",
            "//example.com/",
            "http://ex ample.com/",
            "http://example.com/a b",
            "http://example.com/\n",
            "https://例え.jp/",
            "http://example.com/%zz",
            "http://example.com/%4",
            "http://a.b/p?q#f#g",
            "http://a.b/{x}",
            "http://a.b/a|b",
            "http://[2001:db8::1/",
            "http://[not-v6]/",
            "http://a.b:80x/",
            "http://a@b@c/",
            "1http://a/",
            ":a",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
    }

    #[test]
    fn punycode_round_trips() {
        // RFC 3492 §7.1 (A) and (L), and a well-known name.
        let cases = [
            ("egbpdaj6bu4bxfgehfvwxn", "ليهمابتكلموشعربي؟"),
            ("3B-ww4c5e180e575a65lsy2b", "3年B組金八先生"),
            ("bcher-kva", "bücher"),
            ("r8jz45g", "例え"),
        ];
        for (encoded, decoded) in cases {
            let chars: Vec<char> = decoded.chars().collect();
            assert_eq!(punycode::decode(encoded).unwrap(), chars, "{encoded}");
            assert_eq!(punycode::encode(&chars).unwrap(), encoded, "{decoded}");
        }
        assert_eq!(punycode::decode("99999999999"), None);
        assert_eq!(punycode::decode("a!"), None);
    }

    #[test]
    fn domain_names() {
        for good in [
            "example.com",
            "EXAMPLE.com",
            "example.com.",
            "localhost",
            "a-b.c-d.example",
            "198.51.100.7",
            "xn--bcher-kva.example",
            "XN--BCHER-KVA.example",
            "bücher.example",
            "例え.jp",
            "例え。jp",
            "xn--r8jz45g.jp",
            "правительство.рф",
            "हिन्दी.भारत",
            "مثال.إختبار",
            "xn--mgbh0fb.xn--kgbechtv",
            "שלום.example",
            "مثال١٢٣.example",
            &format!("{}.com", "a".repeat(63)),
        ] {
            assert!(is_domain_name(good), "{good}");
        }
        for bad in [
            "not a domain!",
            "",
            ".",
            "a..com",
            ".example.com",
            "example.com..",
            "-a.com",
            "a-.com",
            "ab--c.com",
            "a_b.com",
            "*.example.com",
            "exa mple.com",
            "example.com/",
            "xn--abc.com",
            "xn--.com",
            "xn--bcher-kva-.com",
            "xn---bcher-kva.com",
            "Bücher.example",
            "ａｂｃ.example",
            "\u{301}a.example",
            "a\u{200D}b.example",
            "☃.example",
            // The Bidi rule: a digit first, Latin mixed in, both kinds of Arabic digits.
            "9مثال.example",
            "aمثال.example",
            "مثالa.example",
            "مثال١۲.example",
            "١٢٣.example",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}.com", ["abcdefghi"; 26].join(".")),
        ] {
            assert!(!is_domain_name(bad), "{bad}");
        }
        // The 63-octet limit applies to the ASCII form of a U-label.
        assert!(!is_domain_name(&format!("{}.com", "ü".repeat(60))));
    }

    #[test]
    fn media_types() {
        for good in [
            "image/jpeg",
            "application/vnd.ms-excel",
            "image/svg+xml",
            "application/x-dosexec",
            "TEXT/Plain",
            "font/woff2",
        ] {
            assert!(is_media_type(good), "{good}");
        }
        for bad in [
            "not/a/mime type",
            "image",
            "image/",
            "/jpeg",
            "x-foo/bar",
            "text/plain; charset=utf-8",
            "image/.jpeg",
            "image/jp eg",
            "image/jpé",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
    }
}
