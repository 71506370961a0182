//! A DNS response policy zone (RPZ): each listed domain and its subdomains (`*.`) rewritten to
//! NXDOMAIN (`CNAME .`) or NODATA (`CNAME *.`). Owner names are relative, so the file serves
//! under whatever zone name the resolver gives it; domains hold only name characters
//! ([`super::values::domain`]), so no owner name needs escaping.

use std::fmt::Write;

use stix::Timestamp;

use super::{grouped, Blockable, Entry, Options, RpzPolicy, Skip, Written};

/// Room left for the policy zone's own name, which the owner names are relative to: a full
/// name may not exceed 253 characters.
pub const ZONE_NAME_ROOM: usize = 60;

pub fn zone(entries: &[Entry<'_>], options: &Options, now: Timestamp) -> Written {
    let mut written = Written::default();
    let groups = grouped(entries.iter().filter_map(|e| match &e.value {
        Blockable::Domain(name) => Some((name.as_str(), e.indicator)),
        _ => None,
    }));
    let target = match options.policy {
        RpzPolicy::Nxdomain => ".",
        RpzPolicy::Nodata => "*.",
    };
    // The serial is the instant of generation: it grows whenever the zone is regenerated, and
    // a feed is regenerated only when its indicators change (or one expires).
    let serial = u32::try_from(now.as_micros().div_euclid(1_000_000).max(1)).unwrap_or(u32::MAX);
    let _ = write!(
        written.body,
        "$TTL 300\n\
         @ IN SOA localhost. hostmaster.localhost. {serial} 3600 600 604800 300\n\
         @ IN NS localhost.\n"
    );
    for (name, ids) in groups {
        if "*.".len() + name.len() + ZONE_NAME_ROOM > 253 {
            written.skipped.push(Skip::NameTooLong);
            continue;
        }
        let comment = if options.comments {
            let ids: Vec<&str> = ids.iter().copied().collect();
            format!(" ; {}", ids.join(" "))
        } else {
            String::new()
        };
        // Writing to a String cannot fail.
        let _ = writeln!(written.body, "{name} CNAME {target}{comment}");
        let _ = writeln!(written.body, "*.{name} CNAME {target}");
        written.entries += 2;
        written
            .indicators
            .extend(ids.into_iter().map(str::to_owned));
    }
    written
}
