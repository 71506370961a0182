//! Plain blocklists: one value per line, sorted, each value once. With comments, the line
//! ends in `# ` and the ids of the indicators behind it; indicator ids are checked STIX ids,
//! so a comment never carries free text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{grouped, Blockable, Entry, Options, Written};

fn lines<K: std::fmt::Display>(groups: BTreeMap<K, BTreeSet<&str>>, comments: bool) -> Written {
    let mut written = Written::default();
    for (value, ids) in groups {
        // Writing to a String cannot fail.
        let _ = write!(written.body, "{value}");
        if comments {
            written.body.push_str(" #");
            for id in &ids {
                written.body.push(' ');
                written.body.push_str(id);
            }
        }
        written.body.push('\n');
        written.entries += 1;
        written
            .indicators
            .extend(ids.into_iter().map(str::to_owned));
    }
    written
}

/// Addresses and networks, IPv4 first, in numeric order.
pub fn ip(entries: &[Entry<'_>], options: &Options) -> Written {
    let groups = grouped(entries.iter().filter_map(|e| match &e.value {
        Blockable::Ip(net) => Some((*net, e.indicator)),
        _ => None,
    }));
    lines(groups, options.comments)
}

pub fn domain(entries: &[Entry<'_>], options: &Options) -> Written {
    let groups = grouped(entries.iter().filter_map(|e| match &e.value {
        Blockable::Domain(name) => Some((name.as_str(), e.indicator)),
        _ => None,
    }));
    lines(groups, options.comments)
}

pub fn url(entries: &[Entry<'_>], options: &Options) -> Written {
    let groups = grouped(entries.iter().filter_map(|e| match &e.value {
        Blockable::Url(url) => Some((url.text.as_str(), e.indicator)),
        _ => None,
    }));
    lines(groups, options.comments)
}

/// File hashes. With an algorithm chosen, bare hashes of that algorithm (the form Suricata's
/// hash lists read); otherwise `<algorithm> <hash>`, grouped by algorithm.
pub fn hash(entries: &[Entry<'_>], options: &Options) -> Written {
    let groups = grouped(entries.iter().filter_map(|e| match &e.value {
        Blockable::Hash(algorithm, hex) if options.algorithm.is_none_or(|a| a == *algorithm) => {
            Some(((*algorithm, hex.as_str()), e.indicator))
        }
        _ => None,
    }));
    let labelled: BTreeMap<String, BTreeSet<&str>> = groups
        .into_iter()
        .map(|((algorithm, hex), ids)| match options.algorithm {
            Some(_) => (hex.to_owned(), ids),
            None => (format!("{algorithm} {hex}"), ids),
        })
        .collect();
    lines(labelled, options.comments)
}
