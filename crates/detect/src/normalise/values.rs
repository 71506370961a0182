//! Field values checked and put in the form indicators are written in: addresses in their
//! canonical text, domain names in lowercase without the root dot, hashes in lowercase hex.
//! Patterns compare strings exactly, so an observable written differently would not match.

use std::net::IpAddr;

/// An IP address; an IPv6 zone (`fe80::1%eth0`) is dropped, as no indicator names one.
pub(crate) fn ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let without_zone = text.split_once('%').map_or(text, |(a, _)| a);
    without_zone.parse().ok()
}

/// A DNS name as indicators write it; `None` for text that cannot be a host name (spaces,
/// slashes, an address, more than 253 characters).
pub(crate) fn domain(text: &str) -> Option<String> {
    let name = text.trim().strip_suffix('.').unwrap_or(text.trim());
    let plausible = !name.is_empty()
        && name.len() <= 253
        && !name.starts_with('.')
        && !name.contains("..")
        && name.chars().all(|c| {
            !c.is_whitespace() && !c.is_control() && !matches!(c, '/' | '@' | ':' | '\\' | '"')
        })
        && name.parse::<IpAddr>().is_err();
    plausible.then(|| name.to_lowercase())
}

/// The STIX name of a hash algorithm and the hex length of its values.
pub(crate) fn hash_algorithm(name: &str) -> Option<(&'static str, usize)> {
    let normalized: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Some(match normalized.as_str() {
        "MD5" => ("MD5", 32),
        "SHA1" => ("SHA-1", 40),
        "SHA256" => ("SHA-256", 64),
        "SHA512" => ("SHA-512", 128),
        _ => return None,
    })
}

/// A hash value in lowercase hex, with the colons of fingerprints (`36:3B:…`) removed;
/// `None` unless it has the algorithm's length.
pub(crate) fn hash(hex_len: usize, text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (digits.len() == hex_len && digits.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digits)
}

/// A certificate serial number as STIX writes it: lowercase hex pairs joined by colons.
/// Zeek writes `04A1…`, Suricata `04:A1:…`; both become `04:a1:…`, so that the same
/// certificate gets the same id from either.
pub(crate) fn serial(text: &str) -> Option<String> {
    let digits: Vec<u8> = text
        .trim()
        .bytes()
        .filter(|b| *b != b':')
        .map(|b| b.to_ascii_lowercase())
        .collect();
    if digits.is_empty() || digits.len() > 128 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let padded: Vec<u8> = if digits.len() % 2 == 1 {
        std::iter::once(b'0').chain(digits).collect()
    } else {
        digits
    };
    let pairs: Vec<&str> = padded
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .collect();
    Some(pairs.join(":"))
}

/// An email address: one `@` with text on both sides and no spaces.
pub(crate) fn email(text: &str) -> Option<String> {
    let text = text.trim();
    let text = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text);
    let (local, domain) = text.rsplit_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| text.to_owned())
}

/// A URL as written; it must name its scheme and hold no whitespace.
pub(crate) fn url(text: &str) -> Option<String> {
    let text = text.trim();
    let ok = text.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest.is_empty()
    }) && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| text.to_owned())
}

/// The URL of an HTTP request from its Host header and request target. A target that is
/// already absolute (a request to a proxy) is the URL.
pub(crate) fn http_url(scheme: &str, host: &str, target: &str) -> Option<String> {
    if let Some(absolute) = url(target) {
        return Some(absolute);
    }
    let host = host.trim();
    if host.is_empty() || !target.starts_with('/') {
        return None;
    }
    url(&format!("{scheme}://{}{target}", host.to_lowercase()))
}

/// The host part of a Host header or URL authority, without a port.
pub(crate) fn host_of(authority: &str) -> &str {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_canonical() {
        assert_eq!(
            ip("2001:DB8:0:0::1").map(|a| a.to_string()),
            Some("2001:db8::1".to_owned())
        );
        assert_eq!(
            ip("fe80::1%eth0").map(|a| a.to_string()),
            Some("fe80::1".to_owned())
        );
        assert_eq!(ip("[::1]").map(|a| a.to_string()), Some("::1".to_owned()));
        assert_eq!(ip("10.0.0.256"), None);
    }

    #[test]
    fn domains_hashes_urls() {
        assert_eq!(
            domain("WWW.Example.COM."),
            Some("www.example.com".to_owned())
        );
        assert_eq!(
            domain("_ldap._tcp.dc.example"),
            Some("_ldap._tcp.dc.example".to_owned())
        );
        for bad in ["", ".", "a b", "a/b", "10.0.0.1", "a..b", "::1"] {
            assert_eq!(domain(bad), None, "{bad}");
        }
        assert_eq!(hash_algorithm("sha256"), Some(("SHA-256", 64)));
        assert_eq!(hash_algorithm("SHA-1"), Some(("SHA-1", 40)));
        assert_eq!(hash_algorithm("crc32"), None);
        assert_eq!(
            hash(
                40,
                "36:3B:A0:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00"
            ),
            Some("363ba000112233445566778899aabbccddeeff00".to_owned())
        );
        assert_eq!(hash(32, "abc"), None);
        assert_eq!(hash(32, "zz".repeat(16).as_str()), None);
        assert_eq!(serial("04A1ff"), Some("04:a1:ff".to_owned()));
        assert_eq!(serial("4:A1:FF"), Some("04:a1:ff".to_owned()));
        assert_eq!(serial("xyz"), None);
        assert_eq!(
            email("<Alice@Example.com>"),
            Some("Alice@Example.com".to_owned())
        );
        assert_eq!(email("alice"), None);
        assert_eq!(
            url("http://a.example/x?y"),
            Some("http://a.example/x?y".to_owned())
        );
        assert_eq!(url("/x"), None);
        assert_eq!(url("http://a b"), None);
        assert_eq!(
            http_url("http", "WWW.Example.com:8080", "/a?b=1"),
            Some("http://www.example.com:8080/a?b=1".to_owned())
        );
        assert_eq!(
            http_url("http", "proxy", "http://other.example/"),
            Some("http://other.example/".to_owned())
        );
        assert_eq!(http_url("http", "", "/a"), None);
        assert_eq!(host_of("example.com:8080"), "example.com");
        assert_eq!(host_of("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(host_of("2001:db8::1"), "2001:db8::1");
    }
}
