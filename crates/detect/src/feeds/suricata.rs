//! Suricata rules.
//!
//! - addresses and networks: one rule per indicator over the list of its addresses, matching
//!   traffic in either direction;
//! - domains: `dns.query` with `dotprefix` and `endswith`, so the name and its subdomains match
//!   and `notevil.example` does not;
//! - URLs: clear-text HTTP only (`http.host` and `http.uri.raw`, each matched whole with
//!   `bsize`); the path of an HTTPS URL is not visible to an IDS, so those are skipped;
//! - file hashes: one rule per algorithm reading a list file next to the rules
//!   (`kawal-md5.txt`, `kawal-sha1.txt`, `kawal-sha256.txt`), which the `hash` feed with that
//!   algorithm provides. Suricata has no SHA-512 list.
//!
//! `sid`s are derived from the indicator id and what the rule matches, so a rule keeps its sid
//! from one feed to the next; `rev` is the indicator's `modified` in Unix seconds, so it grows
//! with every new version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use stix::Timestamp;

use super::values::{Family, HashAlgorithm};
use super::{Blockable, Entry, Indicator, Options, RuleAction, Skip, Written};

/// Rule ids are drawn from `[SID_BASE, SID_BASE + SID_SPAN)`, clear of the ranges reserved for
/// local rules (1000000-1999999) and published rule sets.
pub const SID_BASE: u32 = 3_000_000_000;
pub const SID_SPAN: u32 = 1_000_000_000;

/// A rule before its sid is fixed.
struct Draft {
    /// What the sid is derived from; also the order of the output.
    key: String,
    rev: u32,
    /// Header and options up to `sid`, which is appended.
    text: String,
    indicators: BTreeSet<String>,
}

pub fn rules(entries: &[Entry<'_>], options: &Options) -> Written {
    let action = match options.action {
        RuleAction::Alert => "alert",
        RuleAction::Drop => "drop",
    };
    let mut written = Written::default();
    let mut drafts = Vec::new();

    let mut addresses: BTreeMap<&str, (&Indicator, BTreeSet<_>)> = BTreeMap::new();
    let mut hashes: BTreeMap<HashAlgorithm, (u32, BTreeSet<String>)> = BTreeMap::new();
    let mut seen: BTreeSet<(&str, &Blockable)> = BTreeSet::new();
    for entry in entries {
        let indicator = entry.indicator;
        if !seen.insert((&indicator.id, &entry.value)) {
            continue;
        }
        match &entry.value {
            Blockable::Ip(net) => {
                addresses
                    .entry(&indicator.id)
                    .or_insert_with(|| (indicator, BTreeSet::new()))
                    .1
                    .insert(*net);
            }
            Blockable::Domain(name) => drafts.push(Draft {
                key: format!("{}/dns/{name}", indicator.id),
                rev: rev(indicator.modified),
                text: format!(
                    "{action} dns any any -> any any (msg:\"{}\"; dns.query; dotprefix; content:\"{}\"; nocase; endswith; {}",
                    message(indicator),
                    content(&format!(".{name}")),
                    metadata(indicator)
                ),
                indicators: BTreeSet::from([indicator.id.clone()]),
            }),
            Blockable::Url(url) if url.scheme == "http" => {
                let host = match super::Net::parse(&url.host, Some(Family::V6)) {
                    Ok(_) => format!("[{}]", url.host),
                    Err(_) => url.host.clone(),
                };
                let port = match url.port {
                    Some(port) if port != 80 => port.to_string(),
                    _ => "any".to_owned(),
                };
                drafts.push(Draft {
                    key: format!("{}/url/{}", indicator.id, url.text),
                    rev: rev(indicator.modified),
                    text: format!(
                        "{action} http any any -> any {port} (msg:\"{}\"; flow:established,to_server; http.host; content:\"{}\"; bsize:{}; http.uri.raw; content:\"{}\"; bsize:{}; {}",
                        message(indicator),
                        content(&host),
                        host.len(),
                        content(&url.path_and_query),
                        url.path_and_query.len(),
                        metadata(indicator)
                    ),
                    indicators: BTreeSet::from([indicator.id.clone()]),
                });
            }
            Blockable::Url(_) => written.skipped.push(Skip::UrlNotHttp),
            Blockable::Hash(HashAlgorithm::Sha512, _) => written.skipped.push(Skip::HashAlgorithm),
            Blockable::Hash(algorithm, _) => {
                let (newest, ids) = hashes.entry(*algorithm).or_default();
                *newest = (*newest).max(rev(indicator.modified));
                ids.insert(indicator.id.clone());
            }
        }
    }
    for (id, (indicator, nets)) in addresses {
        let list: Vec<String> = nets.iter().map(ToString::to_string).collect();
        drafts.push(Draft {
            key: format!("{id}/ip"),
            rev: rev(indicator.modified),
            text: format!(
                "{action} ip any any <> [{}] any (msg:\"{}\"; {}",
                list.join(","),
                message(indicator),
                metadata(indicator)
            ),
            indicators: BTreeSet::from([id.to_owned()]),
        });
    }
    for (algorithm, (newest, ids)) in hashes {
        let keyword = match algorithm {
            HashAlgorithm::Md5 => "filemd5",
            HashAlgorithm::Sha1 => "filesha1",
            _ => "filesha256",
        };
        drafts.push(Draft {
            key: format!("kawal/file/{algorithm}"),
            rev: newest,
            text: format!(
                "{action} ip any any -> any any (msg:\"Kawal file {} on the blocklist\"; {keyword}:{}; metadata:kawal_list {algorithm}; ",
                algorithm.stix_name(),
                hash_list_file(algorithm),
            ),
            indicators: ids,
        });
    }

    drafts.sort_by(|a, b| a.key.cmp(&b.key));
    let mut taken = BTreeSet::new();
    written.body.push_str(
        "# Kawal protection rules. File hash rules read kawal-<algorithm>.txt beside this file:\n\
         # the hash feed with ?algorithm=<algorithm>.\n",
    );
    for draft in drafts {
        let sid = free_sid(&draft.key, &mut taken);
        // Writing to a String cannot fail.
        let _ = writeln!(written.body, "{}sid:{sid}; rev:{};)", draft.text, draft.rev);
        written.entries += 1;
        written.indicators.extend(draft.indicators);
    }
    written
}

/// The list file a hash rule reads, relative to Suricata's rule directory.
pub fn hash_list_file(algorithm: HashAlgorithm) -> String {
    format!("kawal-{algorithm}.txt")
}

/// FNV-1a, written out so that sids never change with a library's hashing.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The sid derived from `key`, or on a collision the next free one; rules are placed in key
/// order, so the outcome is the same for the same rules.
fn free_sid(key: &str, taken: &mut BTreeSet<u32>) -> u32 {
    // The remainder is below SID_SPAN, so it fits a u32.
    let mut offset = (fnv1a(key) % u64::from(SID_SPAN)) as u32;
    while !taken.insert(SID_BASE + offset) {
        offset = (offset + 1) % SID_SPAN;
    }
    SID_BASE + offset
}

fn rev(modified: Timestamp) -> u32 {
    let seconds = modified.as_micros().div_euclid(1_000_000);
    u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
}

fn message(indicator: &Indicator) -> String {
    let name = indicator.name.as_deref().unwrap_or("indicator");
    format!("Kawal {} ({})", msg_text(name, 200), indicator.id)
}

fn metadata(indicator: &Indicator) -> String {
    // Ids and TLP names hold no `,` or `;`, which would end a metadata value.
    format!(
        "metadata:kawal_indicator {}, tlp {}; ",
        indicator.id,
        indicator.tlp.as_str()
    )
}

/// Free text for `msg`: `;`, `\` and `"` escaped as Suricata requires, control characters
/// (which would end the rule's line) replaced by spaces, at most `limit` characters.
pub(crate) fn msg_text(text: &str, limit: usize) -> String {
    let mut out = String::new();
    for c in text.chars().take(limit) {
        match c {
            ';' | '\\' | '"' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A `content` string that matches exactly `text`'s bytes: printable ASCII as itself, and the
/// characters the rule language reserves (`"`, `;`, `:`, `|`, `\`) and every other byte in the
/// `|hex|` notation.
pub(crate) fn content(text: &str) -> String {
    let mut out = String::new();
    let mut in_hex = false;
    for byte in text.bytes() {
        let literal = byte == b' '
            || (byte.is_ascii_graphic() && !matches!(byte, b'"' | b';' | b':' | b'|' | b'\\'));
        if literal {
            if in_hex {
                out.push('|');
                in_hex = false;
            }
            out.push(char::from(byte));
        } else {
            out.push_str(if in_hex { " " } else { "|" });
            in_hex = true;
            let _ = write!(out, "{byte:02X}");
        }
    }
    if in_hex {
        out.push('|');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_escapes_every_reserved_character() {
        assert_eq!(content(".evil.example"), ".evil.example");
        assert_eq!(content("/a;b"), "/a|3B|b");
        assert_eq!(content("/q?x=\"1\"|\\"), "/q?x=|22|1|22 7C 5C|");
        assert_eq!(content("a:b c"), "a|3A|b c");
        assert_eq!(content("\r\n"), "|0D 0A|");
        assert_eq!(content("é"), "|C3 A9|");
    }

    #[test]
    fn msg_text_cannot_end_the_rule() {
        assert_eq!(
            msg_text("C2 \"x\"; drop\\all\n)", 200),
            "C2 \\\"x\\\"\\; drop\\\\all )"
        );
        assert_eq!(msg_text("abcdef", 3), "abc");
    }

    #[test]
    fn sids_are_stable_and_distinct() {
        let mut taken = BTreeSet::new();
        let a = free_sid("indicator--a/ip", &mut taken);
        assert_eq!(a, free_sid("indicator--a/ip", &mut BTreeSet::new()));
        assert!((SID_BASE..SID_BASE + SID_SPAN).contains(&a));
        let again = free_sid("indicator--a/ip", &mut taken);
        assert_eq!(again, a + 1, "a collision moves to the next free sid");
    }

    #[test]
    fn rev_follows_modified() {
        let at = |t| Timestamp::parse(t).unwrap();
        assert_eq!(rev(at("2024-05-01T00:00:00Z")), 1_714_521_600);
        assert_eq!(rev(at("1960-01-01T00:00:00Z")), 1);
    }
}
