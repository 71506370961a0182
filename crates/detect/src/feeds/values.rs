//! The values a feed may carry, checked and normalised. Every value comes from shared content,
//! so each is held to a character set that no output format gives a meaning to (no quotes,
//! separators, whitespace or control characters); what does not fit is refused, not escaped.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The shortest prefixes a feed accepts: a shorter one blocks a large part of the Internet and
/// is more likely a mistake than intelligence.
pub const MIN_PREFIX_V4: u8 = 8;
pub const MIN_PREFIX_V6: u8 = 16;

/// An IPv4 or IPv6 address or network, with the host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Net {
    /// IPv4 sorts before IPv6 because `V4 < V6`.
    pub family: Family,
    /// IPv4 addresses sit in the low 32 bits.
    pub addr: u128,
    pub prefix: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn width(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not of the value's syntax.
    Invalid,
    /// Valid, but blocking it would block far more than one threat (a top-level domain, a /4).
    TooBroad,
}

impl Net {
    /// An address (`198.51.100.7`, `2001:db8::1`) or a CIDR block (`198.51.100.0/24`).
    pub fn parse(text: &str, family: Option<Family>) -> Result<Net, Refusal> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let (found, bits) = match addr.parse::<IpAddr>().map_err(|_| Refusal::Invalid)? {
            IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
            IpAddr::V6(a) => (Family::V6, u128::from(a)),
        };
        if family.is_some_and(|f| f != found) {
            return Err(Refusal::Invalid);
        }
        let width = found.width();
        let prefix = match prefix {
            None => width,
            Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or(Refusal::Invalid)?,
            Some(_) => return Err(Refusal::Invalid),
        };
        let minimum = match found {
            Family::V4 => MIN_PREFIX_V4,
            Family::V6 => MIN_PREFIX_V6,
        };
        if prefix < minimum {
            return Err(Refusal::TooBroad);
        }
        // At most 120 host bits remain after the minimum prefix, so the shifts stay in range.
        let host_bits = u32::from(width - prefix);
        let addr = (bits >> host_bits) << host_bits;
        Ok(Net {
            family: found,
            addr,
            prefix,
        })
    }

    pub fn is_host(self) -> bool {
        self.prefix == self.family.width()
    }

    /// Whether every address of `self` lies in `other`.
    pub fn within(self, other: Net) -> bool {
        if self.family != other.family || self.prefix < other.prefix {
            return false;
        }
        let host_bits = u32::from(other.family.width() - other.prefix);
        if host_bits >= 128 {
            return true;
        }
        self.addr >> host_bits == other.addr >> host_bits
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            // The low 32 bits hold the address; the cast drops only zero bits.
            Family::V4 => write!(f, "{}", Ipv4Addr::from(self.addr as u32))?,
            Family::V6 => write!(f, "{}", Ipv6Addr::from(self.addr))?,
        }
        if !self.is_host() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// A DNS name of at least two labels, lower-cased, without the trailing dot. Labels hold
/// letters, digits, `-` and `_` only (internationalised names must be given as `xn--` A-labels).
pub fn domain(text: &str) -> Result<String, Refusal> {
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() || name.len() > 253 {
        return Err(Refusal::Invalid);
    }
    let mut labels = 0;
    for label in name.split('.') {
        let fits = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !fits {
            return Err(Refusal::Invalid);
        }
        labels += 1;
    }
    if labels < 2 {
        return Err(Refusal::TooBroad);
    }
    Ok(name.to_ascii_lowercase())
}

/// A URL with a scheme and a host, as written, together with the parts rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Url {
    /// The URL as given (its characters are checked, its spelling is kept).
    pub text: String,
    /// Lower-cased.
    pub scheme: String,
    /// Lower-cased; an IPv6 address without its brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Path and query as written, `/` when empty; the fragment is never sent, so it is dropped.
    pub path_and_query: String,
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, Refusal> {
        // Printable ASCII without the space: a URL on the wire is exactly that, and it keeps
        // every line-oriented format intact.
        if text.is_empty() || text.len() > 4096 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Refusal::Invalid);
        }
        let (scheme, rest) = text.split_once("://").ok_or(Refusal::Invalid)?;
        let scheme_fits = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_fits {
            return Err(Refusal::Invalid);
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = split_port(host_port)?;
        let host = match Net::parse(host, None) {
            Ok(net) if net.is_host() => host.to_ascii_lowercase(),
            _ => domain(host).map_err(|_| Refusal::Invalid)?,
        };
        let without_fragment = tail.split('#').next().unwrap_or("");
        let path_and_query = if without_fragment.starts_with('/') {
            without_fragment.to_owned()
        } else {
            format!("/{without_fragment}")
        };
        Ok(Url {
            text: text.to_owned(),
            scheme: scheme.to_ascii_lowercase(),
            host,
            port,
            path_and_query,
        })
    }
}

fn split_port(host_port: &str) -> Result<(&str, Option<u16>), Refusal> {
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(Refusal::Invalid)?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(Refusal::Invalid);
        }
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or(Refusal::Invalid)?)),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().map_err(|_| Refusal::Invalid)?)
        }
        Some(_) => return Err(Refusal::Invalid),
    };
    Ok((host, port))
}

/// The file hash algorithms feeds carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl HashAlgorithm {
    pub const ALL: [HashAlgorithm; 4] = [
        HashAlgorithm::Md5,
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha512,
    ];

    /// The algorithm a STIX `hashes` key names, compared as the STIX pattern validator does:
    /// upper-cased, hyphens dropped.
    pub fn of_key(key: &str) -> Option<HashAlgorithm> {
        let normalised: String = key
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match normalised.as_str() {
            "MD5" => Some(HashAlgorithm::Md5),
            "SHA1" => Some(HashAlgorithm::Sha1),
            "SHA256" => Some(HashAlgorithm::Sha256),
            "SHA512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// The name in the STIX hash algorithm vocabulary.
    pub fn stix_name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "MD5",
            HashAlgorithm::Sha1 => "SHA-1",
            HashAlgorithm::Sha256 => "SHA-256",
            HashAlgorithm::Sha512 => "SHA-512",
        }
    }

    /// The lower-case name used in URLs and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_digits(self) -> usize {
        match self {
            HashAlgorithm::Md5 => 32,
            HashAlgorithm::Sha1 => 40,
            HashAlgorithm::Sha256 => 64,
            HashAlgorithm::Sha512 => 128,
        }
    }

    /// The hash in lower-case hex, if `text` is one of this algorithm's form.
    pub fn digest(self, text: &str) -> Result<String, Refusal> {
        if text.len() == self.hex_digits() && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(text.to_ascii_lowercase())
        } else {
            Err(Refusal::Invalid)
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a hash algorithm; expected md5, sha1, sha256 or sha512")]
pub struct UnknownHashAlgorithm(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownHashAlgorithm;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgorithm::of_key(s).ok_or_else(|| UnknownHashAlgorithm(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Net {
        Net::parse(text, None).unwrap()
    }

    #[test]
    fn networks_are_normalised_and_checked() {
        assert_eq!(net("198.51.100.7").to_string(), "198.51.100.7");
        assert_eq!(net("198.51.100.7/32").to_string(), "198.51.100.7");
        assert_eq!(net("198.51.100.77/24").to_string(), "198.51.100.0/24");
        assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("2001:DB8::1").to_string(), "2001:db8::1");
        assert_eq!(net("2001:db8:1::5/48").to_string(), "2001:db8:1::/48");
        assert_eq!(Net::parse("0.0.0.0/0", None), Err(Refusal::TooBroad));
        assert_eq!(Net::parse("64.0.0.0/2", None), Err(Refusal::TooBroad));
        assert_eq!(Net::parse("2000::/3", None), Err(Refusal::TooBroad));
        for bad in [
            "198.51.100.0/33",
            "198.51.100.0/",
            "198.51.100/24",
            "198.51.100.0/+8",
            "1.2.3.4\n",
            "evil.example",
            "1.2.3.4 ",
        ] {
            assert_eq!(Net::parse(bad, None), Err(Refusal::Invalid), "{bad:?}");
        }
        assert_eq!(
            Net::parse("2001:db8::1", Some(Family::V4)),
            Err(Refusal::Invalid)
        );
        assert!(net("198.51.100.7").within(net("198.51.100.0/24")));
        assert!(!net("198.51.101.7").within(net("198.51.100.0/24")));
        assert!(!net("198.51.100.0/23").within(net("198.51.100.0/24")));
        assert!(net("2001:db8::1").within(net("2001:db8::/32")));
        assert!(net("198.51.100.0/24") < net("2001:db8::1"));
    }

    #[test]
    fn domains_allow_only_name_characters() {
        assert_eq!(domain("Evil.Example.").unwrap(), "evil.example");
        assert_eq!(
            domain("_dmarc.evil.example").unwrap(),
            "_dmarc.evil.example"
        );
        assert_eq!(
            domain("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(domain("example"), Err(Refusal::TooBroad));
        for bad in [
            "",
            ".",
            "evil..example",
            "evil.example\nnext.example",
            "evil\".example",
            "evil;.example",
            "evil example.com",
            "-evil.example",
            "bücher.example",
            "*.evil.example",
            "evil.example/path",
        ] {
            assert_eq!(domain(bad), Err(Refusal::Invalid), "{bad:?}");
        }
        assert_eq!(
            domain(&format!("{}.example", "a".repeat(64))),
            Err(Refusal::Invalid)
        );
    }

    #[test]
    fn urls_are_split_for_rules() {
        let url = Url::parse("http://User@Evil.Example:8080/a/b?x=1;y=\"2\"#top").unwrap();
        assert_eq!(url.scheme, "http");
        assert_eq!(url.host, "evil.example");
        assert_eq!(url.port, Some(8080));
        assert_eq!(url.path_and_query, "/a/b?x=1;y=\"2\"");
        let bare = Url::parse("HTTPS://evil.example").unwrap();
        assert_eq!(
            (bare.scheme.as_str(), bare.path_and_query.as_str()),
            ("https", "/")
        );
        let v6 = Url::parse("http://[2001:db8::1]:81/x").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", Some(81)));
        for bad in [
            "evil.example/path",
            "http://evil.example/a b",
            "http://evil.example/\nX-Injected: 1",
            "http:///path",
            "http://evil.example:99999/",
            "http://evil.example:8o/",
            "1http://evil.example/",
            "http://[2001:db8::1/",
            "http://bücher.example/",
        ] {
            assert_eq!(Url::parse(bad), Err(Refusal::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn hashes_by_algorithm() {
        assert_eq!(
            HashAlgorithm::of_key("SHA-256"),
            Some(HashAlgorithm::Sha256)
        );
        assert_eq!(HashAlgorithm::of_key("sha1"), Some(HashAlgorithm::Sha1));
        assert_eq!(HashAlgorithm::of_key("SSDEEP"), None);
        assert_eq!(
            HashAlgorithm::Md5.digest("D41D8CD98F00B204E9800998ECF8427E"),
            Ok("d41d8cd98f00b204e9800998ecf8427e".to_owned())
        );
        assert_eq!(
            HashAlgorithm::Md5.digest("d41d8cd98f00b204e9800998ecf8427"),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            HashAlgorithm::Sha1.digest("d41d8cd98f00b204e9800998ecf8427e"),
            Err(Refusal::Invalid)
        );
        assert_eq!("sha256".parse::<HashAlgorithm>(), Ok(HashAlgorithm::Sha256));
        assert!("crc32".parse::<HashAlgorithm>().is_err());
    }
}
