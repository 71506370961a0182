//! Which parts of a STIX pattern mean "block this value".
//!
//! A blocklist entry stands for a pattern part that matches exactly when one observed object
//! carries that value: `[ipv4-addr:value = '…']`, `ISSUBSET '…/n'`, `IN (…)`, and ORs of such
//! parts, which are the union of their values. A part that needs more than one value seen
//! together (AND, FOLLOWEDBY), seen repeatedly or within a time span (REPEATS, WITHIN), or that
//! describes values rather than naming them (LIKE, MATCHES, NOT, `<`) cannot be enforced by a
//! list, and is skipped with its reason. START/STOP bounds when a value applies, which a feed
//! generated at a given instant can honour.

use pattern::{
    Comparison, ComparisonExpr, ComparisonKind, Literal, ObservationExpr, ObservationKind,
    Operator, PathStep, Pattern, QualifierKind, Value,
};
use stix::Timestamp;

use super::values::{domain, Family, HashAlgorithm, Net, Refusal, Url};
use super::Skip;

/// A value to block.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Blockable {
    Ip(Net),
    Domain(String),
    Url(Url),
    Hash(HashAlgorithm, String),
}

/// When a value applies, from START/STOP qualifiers: `[start, stop)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub start: Option<Timestamp>,
    pub stop: Option<Timestamp>,
}

impl Window {
    fn narrowed(self, start: Timestamp, stop: Timestamp) -> Window {
        Window {
            start: Some(self.start.map_or(start, |s| s.max(start))),
            stop: Some(self.stop.map_or(stop, |s| s.min(stop))),
        }
    }

    pub fn contains(self, at: Timestamp) -> bool {
        self.start.is_none_or(|s| s <= at) && self.stop.is_none_or(|s| at < s)
    }
}

/// What a pattern yields: its blockable values and the reasons its other parts were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extraction {
    pub values: Vec<(Blockable, Window)>,
    pub skipped: Vec<Skip>,
}

pub fn blockable_values(pattern: &Pattern) -> Extraction {
    let mut out = Extraction::default();
    observation(&pattern.expr, Window::default(), &mut out);
    out
}

fn observation(expr: &ObservationExpr, window: Window, out: &mut Extraction) {
    match &expr.kind {
        ObservationKind::Observation(c) => comparison(c, window, out),
        ObservationKind::Group(inner) => observation(inner, window, out),
        ObservationKind::Or(items) => items.iter().for_each(|i| observation(i, window, out)),
        ObservationKind::And(_) => out.skipped.push(Skip::ObservationAnd),
        ObservationKind::FollowedBy(_) => out.skipped.push(Skip::FollowedBy),
        ObservationKind::Qualified { expr, qualifier } => match &qualifier.kind {
            QualifierKind::StartStop { start, stop } => {
                observation(expr, window.narrowed(start.value, stop.value), out)
            }
            QualifierKind::Within(_) | QualifierKind::Repeats(_) => {
                out.skipped.push(Skip::Qualifier)
            }
        },
    }
}

fn comparison(expr: &ComparisonExpr, window: Window, out: &mut Extraction) {
    match &expr.kind {
        ComparisonKind::Test(test) => match values(test) {
            Ok(values) => out.values.extend(values.into_iter().map(|v| (v, window))),
            Err(skip) => out.skipped.push(skip),
        },
        ComparisonKind::Group(inner) => comparison(inner, window, out),
        ComparisonKind::Or(items) => items.iter().for_each(|i| comparison(i, window, out)),
        ComparisonKind::And(items) => {
            // Hashes of one file identify that file each on its own; listing every one of them
            // blocks the same file (barring a hash collision) as requiring them all.
            let mut hashes = Vec::new();
            for item in items {
                match single_test(item).map(|t| (t, values(t))) {
                    Some((t, Ok(values))) if is_file_hash(t) => hashes.extend(values),
                    Some((t, Err(skip))) if is_file_hash(t) => return out.skipped.push(skip),
                    _ => return out.skipped.push(Skip::ComparisonAnd),
                }
            }
            out.values.extend(hashes.into_iter().map(|v| (v, window)));
        }
    }
}

fn single_test(expr: &ComparisonExpr) -> Option<&Comparison> {
    match &expr.kind {
        ComparisonKind::Test(t) => Some(t),
        ComparisonKind::Group(inner) => single_test(inner),
        _ => None,
    }
}

fn is_file_hash(test: &Comparison) -> bool {
    matches!(property(test), Some(Property::Hash(_))) && test.operator.value == Operator::Eq
}

/// The observable properties whose values a feed can enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Property {
    Ip(Family),
    Domain,
    Url,
    Hash(HashAlgorithm),
    /// `network-traffic:src_ref.value`/`dst_ref.value`: an address or a domain name.
    Endpoint,
}

fn property(test: &Comparison) -> Option<Property> {
    let steps: Vec<&str> = test
        .path
        .steps()
        .map(|s| match s {
            PathStep::Key(k) => Some(k.as_str()),
            PathStep::Index(_) | PathStep::AnyIndex => None,
        })
        .collect::<Option<_>>()?;
    Some(match (test.object_type(), steps.as_slice()) {
        ("ipv4-addr", ["value"]) => Property::Ip(Family::V4),
        ("ipv6-addr", ["value"]) => Property::Ip(Family::V6),
        ("domain-name", ["value"]) => Property::Domain,
        ("url", ["value"]) => Property::Url,
        ("file", ["hashes", key]) => Property::Hash(HashAlgorithm::of_key(key)?),
        ("network-traffic", ["src_ref" | "dst_ref", "value"]) => Property::Endpoint,
        _ => return None,
    })
}

/// The values one comparison blocks, or why it blocks none.
fn values(test: &Comparison) -> Result<Vec<Blockable>, Skip> {
    let property = property(test).ok_or(Skip::Property)?;
    if test.negated {
        return Err(Skip::Negated);
    }
    let literals: Vec<&Literal> = match (test.operator.value, &test.value) {
        (Operator::Eq, Some(Value::Literal(l))) => vec![&l.value],
        (Operator::In, Some(Value::Set(set))) => set.value.iter().map(|l| &l.value).collect(),
        (Operator::IsSubset, Some(Value::Literal(l)))
            if matches!(property, Property::Ip(_) | Property::Endpoint) =>
        {
            vec![&l.value]
        }
        _ => return Err(Skip::Operator),
    };
    literals
        .into_iter()
        .map(|literal| match literal {
            Literal::String(text) => value(property, text),
            _ => Err(invalid(property, Refusal::Invalid)),
        })
        .collect()
}

fn value(property: Property, text: &str) -> Result<Blockable, Skip> {
    let refused = |r| invalid(property, r);
    match property {
        Property::Ip(family) => Net::parse(text, Some(family))
            .map(Blockable::Ip)
            .map_err(refused),
        Property::Domain => domain(text).map(Blockable::Domain).map_err(refused),
        Property::Url => Url::parse(text).map(Blockable::Url).map_err(refused),
        Property::Hash(algorithm) => algorithm
            .digest(text)
            .map(|hex| Blockable::Hash(algorithm, hex))
            .map_err(refused),
        Property::Endpoint => match Net::parse(text, None) {
            Ok(net) => Ok(Blockable::Ip(net)),
            Err(Refusal::TooBroad) => Err(Skip::TooBroad),
            Err(Refusal::Invalid) => domain(text).map(Blockable::Domain).map_err(|r| match r {
                Refusal::TooBroad => Skip::TooBroad,
                Refusal::Invalid => Skip::InvalidIp,
            }),
        },
    }
}

fn invalid(property: Property, refusal: Refusal) -> Skip {
    match (refusal, property) {
        (Refusal::TooBroad, _) => Skip::TooBroad,
        (Refusal::Invalid, Property::Ip(_) | Property::Endpoint) => Skip::InvalidIp,
        (Refusal::Invalid, Property::Domain) => Skip::InvalidDomain,
        (Refusal::Invalid, Property::Url) => Skip::InvalidUrl,
        (Refusal::Invalid, Property::Hash(_)) => Skip::InvalidHash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(text: &str) -> Extraction {
        blockable_values(&pattern::parse(text).unwrap())
    }

    fn ip(text: &str) -> Blockable {
        Blockable::Ip(Net::parse(text, None).unwrap())
    }

    fn plain(values: &[Blockable]) -> Vec<(Blockable, Window)> {
        values
            .iter()
            .map(|v| (v.clone(), Window::default()))
            .collect()
    }

    #[test]
    fn single_values_and_their_unions() {
        assert_eq!(
            extract("[ipv4-addr:value = '198.51.100.7']").values,
            plain(&[ip("198.51.100.7")])
        );
        assert_eq!(
            extract("[ipv4-addr:value ISSUBSET '10.0.0.0/8']").values,
            plain(&[ip("10.0.0.0/8")])
        );
        assert_eq!(
            extract("[ipv6-addr:value IN ('2001:db8::1', '2001:db8:1::/48')]").values,
            plain(&[ip("2001:db8::1"), ip("2001:db8:1::/48")])
        );
        let union = extract(
            "[domain-name:value = 'Evil.Example' OR url:value = 'http://evil.example/x'] OR \
             ([network-traffic:dst_ref.value = '203.0.113.9'] OR [network-traffic:src_ref.value = 'c2.example'])",
        );
        assert!(union.skipped.is_empty());
        assert_eq!(
            union.values,
            plain(&[
                Blockable::Domain("evil.example".to_owned()),
                Blockable::Url(Url::parse("http://evil.example/x").unwrap()),
                ip("203.0.113.9"),
                Blockable::Domain("c2.example".to_owned()),
            ])
        );
        let hashes = extract(
            "[file:hashes.'SHA-256' = 'AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F' AND file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        );
        assert_eq!(
            hashes.values,
            plain(&[
                Blockable::Hash(
                    HashAlgorithm::Sha256,
                    "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f".to_owned()
                ),
                Blockable::Hash(
                    HashAlgorithm::Md5,
                    "d41d8cd98f00b204e9800998ecf8427e".to_owned()
                ),
            ])
        );
    }

    #[test]
    fn parts_that_are_not_one_value_are_skipped_with_their_reason() {
        let cases: &[(&str, &[Skip])] = &[
            ("[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'evil.example']", &[Skip::ObservationAnd]),
            ("[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [domain-name:value = 'evil.example']", &[Skip::FollowedBy]),
            ("[ipv4-addr:value = '198.51.100.7'] WITHIN 60 SECONDS", &[Skip::Qualifier]),
            ("[ipv4-addr:value = '198.51.100.7'] REPEATS 5 TIMES", &[Skip::Qualifier]),
            ("[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]", &[Skip::ComparisonAnd]),
            ("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:name = 'a.exe']", &[Skip::ComparisonAnd]),
            ("[domain-name:value LIKE '%.evil.example']", &[Skip::Operator]),
            ("[domain-name:value MATCHES '^evil']", &[Skip::Operator]),
            ("[ipv4-addr:value != '198.51.100.7']", &[Skip::Operator]),
            ("[domain-name:value ISSUBSET 'evil.example']", &[Skip::Operator]),
            ("[ipv4-addr:value NOT = '198.51.100.7']", &[Skip::Negated]),
            ("[file:name = 'evil.exe']", &[Skip::Property]),
            ("[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']", &[Skip::Property]),
            ("[ipv4-addr:value = '2001:db8::1']", &[Skip::InvalidIp]),
            ("[ipv4-addr:value = '0.0.0.0/0']", &[Skip::TooBroad]),
            ("[domain-name:value = 'example']", &[Skip::TooBroad]),
            ("[domain-name:value = 'evil\".example']", &[Skip::InvalidDomain]),
            ("[domain-name:value = 'evil.example\nX']", &[Skip::InvalidDomain]),
            ("[url:value = 'http://evil.example/a b']", &[Skip::InvalidUrl]),
            ("[ipv4-addr:value = 1]", &[Skip::InvalidIp]),
        ];
        for (text, skipped) in cases {
            let got = extract(text);
            assert!(got.values.is_empty(), "{text}: {:?}", got.values);
            assert_eq!(got.skipped, *skipped, "{text}");
        }
    }

    #[test]
    fn usable_parts_of_an_or_are_kept() {
        let got = extract(
            "[ipv4-addr:value = '198.51.100.7' OR file:name = 'evil.exe'] OR ([domain-name:value = 'a.example'] AND [domain-name:value = 'b.example'])",
        );
        assert_eq!(got.values, plain(&[ip("198.51.100.7")]));
        assert_eq!(got.skipped, vec![Skip::Property, Skip::ObservationAnd]);
    }

    #[test]
    fn start_stop_bounds_when_a_value_applies() {
        let got = extract(
            "([ipv4-addr:value = '198.51.100.7'] START t'2024-01-01T00:00:00Z' STOP t'2024-03-01T00:00:00Z') START t'2024-02-01T00:00:00Z' STOP t'2024-06-01T00:00:00Z'",
        );
        let at = |t: &str| Timestamp::parse(t).unwrap();
        let window = got.values[0].1;
        assert_eq!(window.start, Some(at("2024-02-01T00:00:00Z")));
        assert_eq!(window.stop, Some(at("2024-03-01T00:00:00Z")));
        assert!(!window.contains(at("2024-01-15T00:00:00Z")));
        assert!(window.contains(at("2024-02-01T00:00:00Z")));
        assert!(!window.contains(at("2024-03-01T00:00:00Z")));
    }
}
