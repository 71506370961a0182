//! nftables sets for `nft -f`: `blocklist_v4` and `blocklist_v6` in table `inet kawal`, with
//! `flags interval` so that networks are elements. The file declares the table and sets, then
//! flushes and refills them, all in the one transaction `nft -f` makes of a file, so loading a
//! newer feed replaces the older one atomically. Rules elsewhere refer to `@blocklist_v4`.
//!
//! An interval set refuses overlapping elements, so an address or network inside another
//! listed network is folded into it.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::values::{Family, Net};
use super::{grouped, Blockable, Entry, Options, Written};

pub const TABLE: &str = "inet kawal";
pub const SET_V4: &str = "blocklist_v4";
pub const SET_V6: &str = "blocklist_v6";

pub fn sets(entries: &[Entry<'_>], options: &Options) -> Written {
    let groups = grouped(entries.iter().filter_map(|e| match &e.value {
        Blockable::Ip(net) => Some((*net, e.indicator)),
        _ => None,
    }));
    // Sorted by family, then start address, then prefix: a network comes before everything it
    // holds, and CIDR blocks either nest or are disjoint, so comparing with the last kept
    // element is enough.
    let mut folded: Vec<(Net, BTreeSet<&str>)> = Vec::new();
    for (net, ids) in groups {
        match folded.last_mut() {
            Some((kept, kept_ids)) if net.within(*kept) => kept_ids.extend(ids),
            _ => folded.push((net, ids)),
        }
    }
    let mut written = Written::default();
    let count = |family| folded.iter().filter(|(n, _)| n.family == family).count();
    let _ = write!(
        written.body,
        "# Kawal blocklist: {} IPv4 and {} IPv6 elements\n\
         add table {TABLE}\n\
         add set {TABLE} {SET_V4} {{ type ipv4_addr; flags interval; }}\n\
         add set {TABLE} {SET_V6} {{ type ipv6_addr; flags interval; }}\n\
         flush set {TABLE} {SET_V4}\n\
         flush set {TABLE} {SET_V6}\n",
        count(Family::V4),
        count(Family::V6)
    );
    for (family, set) in [(Family::V4, SET_V4), (Family::V6, SET_V6)] {
        let elements: Vec<&(Net, BTreeSet<&str>)> =
            folded.iter().filter(|(n, _)| n.family == family).collect();
        if elements.is_empty() {
            // `{ }` is a syntax error; an empty set needs no element statement.
            continue;
        }
        let _ = writeln!(written.body, "add element {TABLE} {set} {{");
        for (i, (net, ids)) in elements.iter().enumerate() {
            let separator = if i + 1 < elements.len() { "," } else { "" };
            let _ = write!(written.body, "\t{net}{separator}");
            if options.comments {
                let ids: Vec<&str> = ids.iter().copied().collect();
                let _ = write!(written.body, " # {}", ids.join(" "));
            }
            written.body.push('\n');
            written.entries += 1;
            written
                .indicators
                .extend(ids.iter().map(|id| (*id).to_owned()));
        }
        written.body.push_str("}\n");
    }
    written
}
