//! Protection feeds: what sensors can enforce, generated from STIX indicators.
//!
//! [`generate`] takes the indicators an organisation may use and the instant of generation,
//! and writes one feed: plain blocklists (addresses and networks, domains, URLs, file hashes),
//! Suricata rules, a DNS RPZ zone or an nftables set. Only the parts of patterns that mean
//! "block this value" become entries ([`extract`]); every other part, and every indicator that
//! is revoked, expired or not yet valid, is counted under its [`Skip`] reason.
//!
//! Output is a function of its inputs alone and sorted, so that the same indicators give the
//! same bytes (caches and diffs rely on it). Values come from shared content: each is checked
//! against a character set that no output format gives a meaning to ([`values`]), and refused
//! otherwise; the free text that feeds repeat (indicator names) is escaped where it appears.

pub mod extract;
mod nftables;
mod plain;
mod rpz;
mod suricata;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use pattern::Pattern;
use serde_json::Value;
use stix::{Timestamp, Tlp};

pub use extract::{blockable_values, Blockable, Extraction, Window};
pub use values::{HashAlgorithm, Net, UnknownHashAlgorithm, Url};

/// An indicator as feeds need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub id: String,
    pub name: Option<String>,
    /// The version: `modified`, else `created`.
    pub modified: Timestamp,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub revoked: bool,
    /// The TLP that governs it where it was read.
    pub tlp: Tlp,
    pub pattern: IndicatorPattern,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IndicatorPattern {
    Stix(Pattern),
    /// A pattern in another language (Snort, YARA, Sigma, …); feeds do not translate those.
    Other {
        pattern_type: String,
    },
}

/// Why a stored object could not be read as an indicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndicatorError {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("a `{0}`, not an indicator")]
    NotAnIndicator(String),
    #[error("{id}: property `{property}` is missing or not valid")]
    Property { id: String, property: &'static str },
    #[error("{id}: the pattern does not parse: {message}")]
    Pattern { id: String, message: String },
}

impl Indicator {
    /// Reads a STIX 2.1 indicator from its JSON text.
    pub fn from_json(raw: &str, tlp: Tlp) -> Result<Indicator, IndicatorError> {
        let value: Value =
            serde_json::from_str(raw).map_err(|e| IndicatorError::NotJson(e.to_string()))?;
        let text = |key: &str| value.get(key).and_then(Value::as_str);
        match text("type") {
            Some("indicator") => {}
            other => {
                return Err(IndicatorError::NotAnIndicator(
                    other.unwrap_or("(no type)").to_owned(),
                ))
            }
        }
        let id = text("id").unwrap_or_default().to_owned();
        let missing = |property| IndicatorError::Property {
            id: id.clone(),
            property,
        };
        if stix::parse_id(&id).is_err() {
            return Err(missing("id"));
        }
        let timestamp = |key: &'static str| match text(key) {
            None => Ok(None),
            Some(t) => Timestamp::parse(t).map(Some).map_err(|_| missing(key)),
        };
        let modified = timestamp("modified")?
            .or(timestamp("created")?)
            .ok_or_else(|| missing("modified"))?;
        let pattern_type = text("pattern_type").ok_or_else(|| missing("pattern_type"))?;
        let pattern_text = text("pattern").ok_or_else(|| missing("pattern"))?;
        let pattern = if pattern_type == "stix" {
            IndicatorPattern::Stix(pattern::parse(pattern_text).map_err(|d| {
                IndicatorError::Pattern {
                    id: id.clone(),
                    message: d.to_string(),
                }
            })?)
        } else {
            IndicatorPattern::Other {
                pattern_type: pattern_type.to_owned(),
            }
        };
        Ok(Indicator {
            name: text("name").map(str::to_owned),
            modified,
            valid_from: timestamp("valid_from")?,
            valid_until: timestamp("valid_until")?,
            revoked: value.get("revoked").and_then(Value::as_bool) == Some(true),
            tlp,
            pattern,
            id,
        })
    }
}

/// The feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Ip,
    Domain,
    Url,
    Hash,
    Suricata,
    Rpz,
    Nftables,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Ip,
        Format::Domain,
        Format::Url,
        Format::Hash,
        Format::Suricata,
        Format::Rpz,
        Format::Nftables,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ip => "ip",
            Format::Domain => "domain",
            Format::Url => "url",
            Format::Hash => "hash",
            Format::Suricata => "suricata",
            Format::Rpz => "rpz",
            Format::Nftables => "nftables",
        }
    }

    /// The media type to serve it with: RFC 4027 registers `text/dns` for zone files; the
    /// others have none of their own.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Rpz => "text/dns; charset=utf-8",
            _ => "text/plain; charset=utf-8",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a feed format; expected ip, domain, url, hash, suricata, rpz or nftables")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// What Suricata does on a match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RuleAction {
    #[default]
    Alert,
    /// Only effective when Suricata runs inline (IPS mode).
    Drop,
}

/// What the resolver answers for a listed name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RpzPolicy {
    /// `CNAME .`: the name does not exist.
    #[default]
    Nxdomain,
    /// `CNAME *.`: the name exists but has no records of the asked type.
    Nodata,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {option}; expected {expected}")]
pub struct BadOption {
    pub option: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl FromStr for RuleAction {
    type Err = BadOption;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "alert" => Ok(RuleAction::Alert),
            "drop" => Ok(RuleAction::Drop),
            _ => Err(BadOption {
                option: "action",
                value: s.to_owned(),
                expected: "alert or drop",
            }),
        }
    }
}

impl FromStr for RpzPolicy {
    type Err = BadOption;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nxdomain" => Ok(RpzPolicy::Nxdomain),
            "nodata" => Ok(RpzPolicy::Nodata),
            _ => Err(BadOption {
                option: "policy",
                value: s.to_owned(),
                expected: "nxdomain or nodata",
            }),
        }
    }
}

/// How a feed is written. Options that do not apply to a format are ignored by it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// Name the indicators behind each line (plain lists, RPZ, nftables).
    pub comments: bool,
    /// The `hash` list of one algorithm only: one bare hash per line, as Suricata's
    /// `filemd5`/`filesha1`/`filesha256` lists want.
    pub algorithm: Option<HashAlgorithm>,
    pub action: RuleAction,
    pub policy: RpzPolicy,
    /// Leave out indicators above this TLP, for a feed meant for a wider audience.
    pub max_tlp: Option<Tlp>,
}

/// Why an indicator, or a part of its pattern, is not in a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    Revoked,
    Expired,
    NotYetValid,
    AboveTlp,
    InvalidId,
    NotStixPattern,
    /// An AND of observations: several objects must be seen.
    ObservationAnd,
    FollowedBy,
    /// WITHIN or REPEATS.
    Qualifier,
    /// An AND inside one observation: the value alone is not enough.
    ComparisonAnd,
    Negated,
    /// An operator that does not name values (LIKE, MATCHES, `<`, `!=`, EXISTS, …).
    Operator,
    /// A property no feed enforces (`file:name`, `email-addr:value`, …).
    Property,
    InvalidIp,
    InvalidDomain,
    InvalidUrl,
    InvalidHash,
    /// A network shorter than /8 (IPv4) or /16 (IPv6), or a one-label domain.
    TooBroad,
    /// A START/STOP window that does not hold the instant of generation.
    OutsideWindow,
    /// Suricata sees URL paths only in clear-text HTTP.
    UrlNotHttp,
    /// Suricata has no file list for this hash algorithm.
    HashAlgorithm,
    /// A domain too long to be an owner name in a policy zone.
    NameTooLong,
}

impl Skip {
    pub const ALL: [Skip; 22] = [
        Skip::Revoked,
        Skip::Expired,
        Skip::NotYetValid,
        Skip::AboveTlp,
        Skip::InvalidId,
        Skip::NotStixPattern,
        Skip::ObservationAnd,
        Skip::FollowedBy,
        Skip::Qualifier,
        Skip::ComparisonAnd,
        Skip::Negated,
        Skip::Operator,
        Skip::Property,
        Skip::InvalidIp,
        Skip::InvalidDomain,
        Skip::InvalidUrl,
        Skip::InvalidHash,
        Skip::TooBroad,
        Skip::OutsideWindow,
        Skip::UrlNotHttp,
        Skip::HashAlgorithm,
        Skip::NameTooLong,
    ];

    /// A stable key, for headers and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Revoked => "revoked",
            Skip::Expired => "expired",
            Skip::NotYetValid => "not-yet-valid",
            Skip::AboveTlp => "above-tlp",
            Skip::InvalidId => "invalid-id",
            Skip::NotStixPattern => "not-stix-pattern",
            Skip::ObservationAnd => "observation-and",
            Skip::FollowedBy => "followedby",
            Skip::Qualifier => "qualifier",
            Skip::ComparisonAnd => "comparison-and",
            Skip::Negated => "negated",
            Skip::Operator => "operator",
            Skip::Property => "property",
            Skip::InvalidIp => "invalid-ip",
            Skip::InvalidDomain => "invalid-domain",
            Skip::InvalidUrl => "invalid-url",
            Skip::InvalidHash => "invalid-hash",
            Skip::TooBroad => "too-broad",
            Skip::OutsideWindow => "outside-window",
            Skip::UrlNotHttp => "url-not-http",
            Skip::HashAlgorithm => "hash-algorithm",
            Skip::NameTooLong => "name-too-long",
        }
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A generated feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub body: String,
    /// Lines, rules, records or set elements written.
    pub entries: usize,
    /// Indicators that contributed at least one entry.
    pub indicators: usize,
    pub skipped: BTreeMap<Skip, usize>,
    /// The next instant at which the same indicators give a different feed (an indicator or a
    /// START/STOP window begins or ends); `None` when time alone changes nothing.
    pub changes_at: Option<Timestamp>,
}

/// One value to write, with the indicator it comes from.
pub(crate) struct Entry<'a> {
    pub value: Blockable,
    pub indicator: &'a Indicator,
}

/// What a format writer reports besides its text.
#[derive(Default)]
pub(crate) struct Written {
    pub body: String,
    pub entries: usize,
    pub indicators: BTreeSet<String>,
    pub skipped: Vec<Skip>,
}

/// Writes `format` from the indicators as they stand at `now`.
///
/// Several versions of one indicator (it may be read from several collections) count once: the
/// newest governs, and at equal versions a revoked copy wins.
pub fn generate(
    format: Format,
    options: &Options,
    indicators: &[Indicator],
    now: Timestamp,
) -> Feed {
    let mut newest: BTreeMap<&str, &Indicator> = BTreeMap::new();
    for indicator in indicators {
        let replace = newest.get(indicator.id.as_str()).is_none_or(|known| {
            (indicator.modified, indicator.revoked) > (known.modified, known.revoked)
        });
        if replace {
            newest.insert(&indicator.id, indicator);
        }
    }
    let mut skipped: BTreeMap<Skip, usize> = BTreeMap::new();
    let mut skip = |reason: Skip| *skipped.entry(reason).or_default() += 1;
    let mut changes_at: Option<Timestamp> = None;
    let mut change = |at: Option<Timestamp>| {
        if let Some(at) = at.filter(|at| *at > now) {
            changes_at = Some(changes_at.map_or(at, |c| c.min(at)));
        }
    };
    let mut entries = Vec::new();
    for indicator in newest.into_values() {
        if stix::parse_id(&indicator.id).is_err() {
            skip(Skip::InvalidId);
            continue;
        }
        if indicator.revoked {
            skip(Skip::Revoked);
            continue;
        }
        change(indicator.valid_from);
        change(indicator.valid_until);
        if indicator.valid_until.is_some_and(|until| until <= now) {
            skip(Skip::Expired);
            continue;
        }
        if indicator.valid_from.is_some_and(|from| from > now) {
            skip(Skip::NotYetValid);
            continue;
        }
        if options.max_tlp.is_some_and(|max| indicator.tlp > max) {
            skip(Skip::AboveTlp);
            continue;
        }
        let pattern = match &indicator.pattern {
            IndicatorPattern::Stix(pattern) => pattern,
            IndicatorPattern::Other { .. } => {
                skip(Skip::NotStixPattern);
                continue;
            }
        };
        let extraction = blockable_values(pattern);
        extraction.skipped.into_iter().for_each(&mut skip);
        for (value, window) in extraction.values {
            change(window.start);
            change(window.stop);
            if window.contains(now) {
                entries.push(Entry { value, indicator });
            } else {
                skip(Skip::OutsideWindow);
            }
        }
    }
    let written = match format {
        Format::Ip => plain::ip(&entries, options),
        Format::Domain => plain::domain(&entries, options),
        Format::Url => plain::url(&entries, options),
        Format::Hash => plain::hash(&entries, options),
        Format::Suricata => suricata::rules(&entries, options),
        Format::Rpz => rpz::zone(&entries, options, now),
        Format::Nftables => nftables::sets(&entries, options),
    };
    written.skipped.iter().copied().for_each(&mut skip);
    Feed {
        body: written.body,
        entries: written.entries,
        indicators: written.indicators.len(),
        skipped,
        changes_at,
    }
}

/// Groups values with the ids of the indicators behind each, both sorted.
pub(crate) fn grouped<'a, K: Ord>(
    entries: impl IntoIterator<Item = (K, &'a Indicator)>,
) -> BTreeMap<K, BTreeSet<&'a str>> {
    let mut groups: BTreeMap<K, BTreeSet<&'a str>> = BTreeMap::new();
    for (key, indicator) in entries {
        groups.entry(key).or_default().insert(&indicator.id);
    }
    groups
}

#[cfg(test)]
mod tests;
