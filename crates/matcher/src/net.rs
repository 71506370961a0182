//! IP addresses and CIDR blocks, IPv4 and IPv6, for ISSUBSET and ISSUPERSET.

use std::net::IpAddr;

/// An address with a prefix length; a plain address is a full-length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Net {
    pub v6: bool,
    /// IPv4 addresses sit in the low 32 bits.
    pub addr: u128,
    pub prefix: u8,
}

impl Net {
    pub fn parse(text: &str) -> Option<Net> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let (v6, bits, max) = match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (true, u128::from(a), 128),
        };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        Some(Net {
            v6,
            addr: bits,
            prefix,
        })
    }

    fn width(self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    /// The address with the bits beyond `prefix` cleared.
    pub fn masked(self, prefix: u8) -> u128 {
        let width = self.width();
        if prefix == 0 {
            return 0;
        }
        let host_bits = u32::from(width - prefix.min(width));
        (self.addr >> host_bits) << host_bits
    }

    /// Whether every address of `self` lies in `container`.
    pub fn within(self, container: Net) -> bool {
        self.v6 == container.v6
            && self.prefix >= container.prefix
            && self.masked(container.prefix) == container.masked(container.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        let net = |s| Net::parse(s).unwrap();
        assert!(net("198.51.100.7").within(net("198.51.100.0/24")));
        assert!(net("198.51.100.0/25").within(net("198.51.100.0/24")));
        assert!(!net("198.51.100.0/23").within(net("198.51.100.0/24")));
        assert!(!net("198.51.101.1").within(net("198.51.100.0/24")));
        assert!(net("2001:db8::1").within(net("2001:db8::/32")));
        assert!(!net("2001:db8::1").within(net("198.51.100.0/24")));
        assert!(net("10.0.0.1").within(net("0.0.0.0/0")));
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("10.0.0/8").is_none());
        assert!(Net::parse("10.0.0.0/").is_none());
    }
}
