//! What an event must contain, as bytes, for a pattern to match it.
//!
//! The archive keeps each event's objects as the compact JSON `serde_json` writes, so a value
//! the pattern compares for equality appears in the event's bytes exactly as JSON encodes it.
//! A comparison expression is reduced to clauses, each a set of needles one of which must be
//! present (a conjunction of disjunctions):
//!
//! - every comparison needs an object of its type: the bytes `"type":"<type>"`;
//! - `=` and `IN` with strings need one of the values, quoted: `"198.51.100.7"` (the archive's
//!   filters can answer for it, unless it is an identifier or a timestamp);
//! - `LIKE` needs its longest run of plain characters, when that run is ASCII, at least three
//!   characters long, and free of `K`, `;` and `` ` ``. LIKE compares the NFC form of the
//!   value, and NFC turns a few other characters into exactly these three (U+212A KELVIN
//!   SIGN into `K`, U+037E into `;`, U+1FEF into `` ` ``); no other ASCII character can come
//!   out of NFC from something else, so the run is then in the stored bytes too;
//! - `ISSUBSET` an IPv4 block of at least /8 needs its whole leading octets at the start of a
//!   value: `"203.0.113.` (IPv4 text has one spelling; IPv6 text has several and gives none);
//! - `AND` needs the clauses of all its parts, `OR` one needle of each part's most selective
//!   clause.
//!
//! Negated comparisons, orderings, `MATCHES`, `ISSUBSET`/`ISSUPERSET`, `EXISTS`, numbers and
//! comparisons on `_hex`/`_bin` properties (compared as the bytes they decode to) add only their
//! type's needle. A needle missing from an event proves the pattern cannot match it; a needle
//! present proves nothing, and the event is evaluated in full.

use matcher::{CmpExpr, Net, ObsExpr, Op, Prepared};
use pattern::{Literal, PathStep};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Needle {
    /// A string value, compared whole.
    Value(String),
    /// A value compared whole that the filters leave out, an identifier (`id`, `*_ref`,
    /// `*_refs`) or a timestamp: found in the records' bytes only.
    Unkeyed(String),
    /// An object type.
    Type(String),
    /// A run of characters inside a string value.
    Contains(String),
    /// The start of a string value.
    Prefix(String),
}

fn json_string(text: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

impl Needle {
    /// The bytes to look for in an event's JSON.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Needle::Value(v) | Needle::Unkeyed(v) => json_string(v).into_bytes(),
            Needle::Type(t) => format!("\"type\":{}", json_string(t)).into_bytes(),
            Needle::Prefix(start) => {
                let quoted = json_string(start);
                quoted
                    .get(..quoted.len().saturating_sub(1))
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec()
            }
            Needle::Contains(run) => {
                let quoted = json_string(run);
                quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec()
            }
        }
    }

    /// The string value the archive's filters can answer for, if any: a whole value is a
    /// filter key, and so is a type (it is a string value of the object); a run inside a value
    /// is not.
    pub fn filter_value(&self) -> Option<&str> {
        match self {
            Needle::Value(v) | Needle::Type(v) => Some(v),
            Needle::Unkeyed(_) | Needle::Contains(_) | Needle::Prefix(_) => None,
        }
    }

    /// Lower is more selective: specific values first, then runs, then types.
    fn rank(&self) -> u8 {
        match self {
            Needle::Value(_) => 0,
            Needle::Unkeyed(_) | Needle::Contains(_) | Needle::Prefix(_) => 1,
            Needle::Type(_) => 2,
        }
    }
}

/// Needles one of which must be present.
pub type Clause = Vec<Needle>;

fn clause_rank(clause: &Clause) -> (u8, usize) {
    (
        clause.iter().map(Needle::rank).max().unwrap_or(u8::MAX),
        clause.len(),
    )
}

/// The clause that lets the fewest events through.
pub fn most_selective(clauses: &[Clause]) -> Option<&Clause> {
    clauses.iter().min_by_key(|c| clause_rank(c))
}

fn reads_binary(steps: &[PathStep]) -> bool {
    steps
        .iter()
        .any(|s| matches!(s, PathStep::Key(k) if k.ends_with("_hex") || k.ends_with("_bin")))
}

/// Whether a path ends at identifiers: its last property, whatever list indexes follow it, is
/// one the archive keeps out of its filters.
fn compares_identifiers(steps: &[PathStep]) -> bool {
    steps
        .iter()
        .rev()
        .find_map(|s| match s {
            PathStep::Key(k) => Some(crate::archive::is_identifier(k)),
            _ => None,
        })
        .unwrap_or(false)
}

/// The longest plain run of a LIKE pattern, if it is safe to look for in stored bytes (see the
/// module documentation).
fn like_run(like: &str) -> Option<String> {
    like.split(['%', '_'])
        .max_by_key(|s| s.len())
        .filter(|s| s.len() >= 3)
        .filter(|s| {
            s.bytes()
                .all(|b| b.is_ascii() && !matches!(b, b'K' | b';' | b'`'))
        })
        .map(str::to_owned)
}

/// The text every IPv4 address or block inside `net` starts with: its whole leading octets.
/// IPv4 text has one spelling (the address parser refuses leading zeros), so an address in
/// 203.0.113.0/24 is written `203.0.113.…`; IPv6 text has several, and gives no needle.
fn ipv4_prefix(net: &Net) -> Option<String> {
    if net.v6 || net.prefix < 8 {
        return None;
    }
    let octets = (net.addr as u32).to_be_bytes();
    let whole = usize::from(net.prefix / 8);
    let mut text: String = octets[..whole].iter().map(|o| format!("{o}.")).collect();
    if whole == 4 {
        // A full address: the value is exactly it, or it with a prefix length.
        text.pop();
    }
    Some(text)
}

fn comparison(expr: &CmpExpr) -> Vec<Clause> {
    match expr {
        CmpExpr::Test(test) => {
            let mut clauses = vec![vec![Needle::Type(test.object_type.clone())]];
            if test.negated || reads_binary(&test.steps) {
                return clauses;
            }
            let identifiers = compares_identifiers(&test.steps);
            let whole = |s: &String| {
                if identifiers || crate::archive::is_timestamp(s) {
                    Needle::Unkeyed(s.clone())
                } else {
                    Needle::Value(s.clone())
                }
            };
            let values = match &test.op {
                Op::Eq(Literal::String(s)) => Some(vec![whole(s)]),
                Op::In(set) if !set.is_empty() => set
                    .iter()
                    .map(|l| match l {
                        Literal::String(s) => Some(whole(s)),
                        _ => None,
                    })
                    .collect(),
                Op::Like { like, .. } => like_run(like).map(|run| vec![Needle::Contains(run)]),
                Op::IsSubset(net) => ipv4_prefix(net).map(|start| vec![Needle::Prefix(start)]),
                _ => None,
            };
            if let Some(mut values) = values {
                values.sort();
                values.dedup();
                clauses.push(values);
            }
            clauses
        }
        CmpExpr::And(parts) => {
            let mut clauses: Vec<Clause> = parts.iter().flat_map(comparison).collect();
            clauses.sort();
            clauses.dedup();
            clauses
        }
        CmpExpr::Or(parts) => {
            let mut union = Vec::new();
            for part in parts {
                match most_selective(&comparison(part)) {
                    Some(best) => union.extend(best.iter().cloned()),
                    // A part that needs nothing lets every event through.
                    None => return Vec::new(),
                }
            }
            union.sort();
            union.dedup();
            vec![union]
        }
    }
}

/// The clauses an event must satisfy for the pattern to match it on its own; `None` for a
/// pattern over several observations, which is evaluated on every event.
pub fn requirements(prepared: &Prepared) -> Option<Vec<Clause>> {
    match prepared.expr() {
        ObsExpr::Leaf(cmp) => Some(comparison(cmp)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(pattern: &str) -> Option<Vec<Clause>> {
        requirements(&matcher::prepare(pattern).unwrap())
    }

    fn v(s: &str) -> Needle {
        Needle::Value(s.to_owned())
    }
    fn t(s: &str) -> Needle {
        Needle::Type(s.to_owned())
    }

    #[test]
    fn equality_needs_the_value_and_the_type() {
        assert_eq!(
            of("[ipv4-addr:value = '198.51.100.7']").unwrap(),
            vec![vec![t("ipv4-addr")], vec![v("198.51.100.7")]]
        );
        assert_eq!(
            of("[domain-name:value IN ('b.example', 'a.example')]").unwrap(),
            vec![vec![t("domain-name")], vec![v("a.example"), v("b.example")]]
        );
    }

    #[test]
    fn identifiers_and_timestamps_are_looked_for_in_the_bytes_only() {
        let id = Needle::Unkeyed("ipv4-addr--1".to_owned());
        assert_eq!(
            of("[ipv4-addr:id = 'ipv4-addr--1']").unwrap(),
            vec![vec![t("ipv4-addr")], vec![id.clone()]]
        );
        assert_eq!(
            of("[domain-name:resolves_to_refs[*] = 'ipv4-addr--1']").unwrap()[1],
            vec![id.clone()]
        );
        assert_eq!(id.filter_value(), None);
        assert_eq!(id.bytes(), b"\"ipv4-addr--1\"");
        // Following a reference reaches a value again.
        assert_eq!(
            of("[network-traffic:src_ref.value = '1.2.3.4']").unwrap()[1],
            vec![v("1.2.3.4")]
        );
        let start = Needle::Unkeyed("2024-05-01T12:00:00.5Z".to_owned());
        assert_eq!(
            of("[network-traffic:start = '2024-05-01T12:00:00.5Z']").unwrap()[1],
            vec![start.clone()]
        );
        assert_eq!(start.filter_value(), None);
    }

    #[test]
    fn or_takes_one_needle_of_each_side() {
        assert_eq!(
            of("[ipv4-addr:value = '1.2.3.4' OR domain-name:value = 'x.example']").unwrap(),
            vec![vec![v("1.2.3.4"), v("x.example")]]
        );
        // A side that constrains only its type keeps the type in the union.
        assert_eq!(
            of("[ipv4-addr:value = '1.2.3.4' OR domain-name:value != 'x']").unwrap(),
            vec![vec![v("1.2.3.4"), t("domain-name")]]
        );
    }

    #[test]
    fn what_cannot_be_found_as_bytes_needs_only_its_type() {
        for pattern in [
            "[ipv4-addr:value != '1.2.3.4']",
            "[ipv4-addr:value NOT = '1.2.3.4']",
            "[network-traffic:dst_port = 443]",
            "[file:name MATCHES '^evil']",
            "[ipv4-addr:value ISSUBSET '10.0.0.0/7']",
            "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
            "[artifact:payload_bin = 'TVo=']",
            "[url:value LIKE '%Kelvin%']",
            "[url:value LIKE '%é%']",
        ] {
            assert_eq!(of(pattern).unwrap().len(), 1, "{pattern}");
        }
        assert_eq!(
            of("[url:value LIKE 'http://%/gate.php']").unwrap()[1],
            vec![Needle::Contains("/gate.php".to_owned())]
        );
    }

    #[test]
    fn ipv4_blocks_need_their_leading_octets() {
        let prefix = |p: &str| of(p).unwrap()[1][0].bytes();
        assert_eq!(
            prefix("[ipv4-addr:value ISSUBSET '203.0.113.0/24']"),
            b"\"203.0.113."
        );
        assert_eq!(
            prefix("[ipv4-addr:value ISSUBSET '203.0.112.0/20']"),
            b"\"203.0."
        );
        assert_eq!(prefix("[ipv4-addr:value ISSUBSET '10.0.0.0/8']"), b"\"10.");
        assert_eq!(
            prefix("[ipv4-addr:value ISSUBSET '192.0.2.1']"),
            b"\"192.0.2.1"
        );
        // The needle relies on IPv4 text having one spelling.
        for other_spelling in [
            "203.0.113.05",
            "203.00.113.5",
            "0203.0.113.5",
            " 203.0.113.5",
        ] {
            assert_eq!(Net::parse(other_spelling), None, "{other_spelling}");
        }
    }

    #[test]
    fn patterns_over_several_observations_have_no_requirements() {
        assert!(of("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a']").is_none());
        assert!(of("[ipv4-addr:value = '1.2.3.4'] REPEATS 2 TIMES").is_none());
    }

    #[test]
    fn needles_are_encoded_as_json_writes_them() {
        assert_eq!(v("a\"b\\c\n").bytes(), br#""a\"b\\c\n""#.to_vec());
        assert_eq!(t("file").bytes(), br#""type":"file""#.to_vec());
        assert_eq!(
            Needle::Contains("a\"b".to_owned()).bytes(),
            br#"a\"b"#.to_vec()
        );
        assert_eq!(v("é").bytes(), "\"é\"".as_bytes().to_vec());
    }
}
