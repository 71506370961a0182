//! Warnings about patterns that are valid but probably not what their author meant.
//!
//! The validator checks neither of these, and a pattern with warnings is still a valid
//! pattern; an exchange can show them when an indicator is submitted.
//!
//! - An object type that cannot be a STIX type name, or that is one letter away from a STIX
//!   2.1 cyber-observable type (`emailaddr`, `ipv4addr`, `win-registry-key`). Other
//!   well-formed names are custom types and are left alone.
//! - A hash algorithm spelled other than the STIX vocabulary spells it (`SHA256`, `sha-256`):
//!   objects' `hashes` keys use the vocabulary's spelling, and paths are matched exactly.

use crate::ast::{Comparison, PathStep, Pattern};
use crate::diagnostic::Diagnostic;

/// The cyber-observable object types of STIX 2.1.
use stix::types::OBSERVABLE_OBJECTS as OBSERVABLE_TYPES;
/// The hashing-algorithm-ov vocabulary of STIX 2.1.
use stix::vocab::HASH_ALGORITHM as HASH_ALGORITHMS;

/// Warnings for a parsed pattern, in source order; each object type and path is reported
/// once.
pub fn lint(pattern: &Pattern) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen_types: Vec<&str> = Vec::new();
    let mut seen_paths: Vec<String> = Vec::new();
    for c in pattern.comparisons() {
        let t = c.object_type();
        if !seen_types.contains(&t) {
            seen_types.push(t);
            if let Some(w) = object_type_warning(c) {
                out.push(w);
            }
        }
        if let Some(w) = hash_name_warning(c) {
            let key = w.message.clone();
            if !seen_paths.contains(&key) {
                seen_paths.push(key);
                out.push(w);
            }
        }
    }
    out
}

/// STIX 2.1 §3.1: type names are 3 to 250 characters of a-z, 0-9 and `-`.
fn is_type_name(t: &str) -> bool {
    (3..=250).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn object_type_warning(c: &Comparison) -> Option<Diagnostic> {
    let t = c.object_type();
    if OBSERVABLE_TYPES.contains(&t) {
        return None;
    }
    let span = c.path.object_type.span;
    let suggestion = nearest_type(t);
    if let Some(known) = suggestion {
        return Some(
            Diagnostic::warning(
                span,
                format!("`{t}` is not a STIX 2.1 cyber-observable type"),
            )
            .with_label(format!("did you mean `{known}`?"))
            .with_hint("a custom object type is fine if that is what is meant"),
        );
    }
    if !is_type_name(t) {
        return Some(
            Diagnostic::warning(span, format!("`{t}` cannot be a STIX object type"))
                .with_label("type names are 3 to 250 characters of a-z, 0-9 and -")
                .with_hint("a conforming STIX object cannot have this type, so the comparison should never match"),
        );
    }
    None
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn nearest_type(t: &str) -> Option<&'static str> {
    let squashed = squash(t);
    OBSERVABLE_TYPES
        .into_iter()
        .find(|known| squash(known) == squashed)
        .or_else(|| {
            OBSERVABLE_TYPES
                .into_iter()
                .find(|known| edit_distance(&t.to_ascii_lowercase(), known) <= 1)
        })
        .or_else(|| {
            // Shortened words: `win-registry-key`, `net-traffic`, `email-msg`.
            OBSERVABLE_TYPES.into_iter().find(|known| {
                let (a, b): (Vec<&str>, Vec<&str>) =
                    (t.split('-').collect(), known.split('-').collect());
                a.len() == b.len()
                    && a.len() > 1
                    && a.iter()
                        .zip(&b)
                        .all(|(x, y)| !x.is_empty() && y.starts_with(x))
            })
        })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn hash_name_warning(c: &Comparison) -> Option<Diagnostic> {
    let hashes_at = c
        .path
        .steps
        .iter()
        .position(|s| matches!(&s.value, PathStep::Key(k) if k == "hashes"))?;
    let step = c.path.steps.get(hashes_at + 1)?;
    let PathStep::Key(name) = &step.value else {
        return None;
    };
    if HASH_ALGORITHMS.contains(&name.as_str()) {
        return None;
    }
    let canonical = HASH_ALGORITHMS
        .iter()
        .find(|known| squash(known) == squash(name))?;
    Some(
        Diagnostic::warning(
            step.span,
            format!("hash algorithm `{name}` is spelled `{canonical}` in STIX"),
        )
        .with_label(format!("write '{canonical}'"))
        .with_hint(
            "objects' hashes use the vocabulary's spelling as keys, and object paths match keys exactly",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings(text: &str) -> Vec<String> {
        let p = crate::parse(text).unwrap_or_else(|d| panic!("{}", d.render(text)));
        lint(&p).into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn object_types() {
        assert!(warnings("[file:name = 'a' AND x-acme-widget:id = 1]").is_empty());
        assert_eq!(
            warnings("[emailaddr:value = 'a'] AND [emailaddr:value = 'b']"),
            ["`emailaddr` is not a STIX 2.1 cyber-observable type"]
        );
        assert_eq!(
            warnings("[win-registry-key:key = 'a']"),
            ["`win-registry-key` is not a STIX 2.1 cyber-observable type"]
        );
        assert_eq!(
            warnings("[x_whatever:a = 1]"),
            ["`x_whatever` cannot be a STIX object type"]
        );
        assert_eq!(edit_distance("proces", "process"), 1);
    }

    #[test]
    fn hash_names() {
        assert!(warnings("[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']").is_empty());
        assert_eq!(
            warnings("[file:hashes.SHA256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']"),
            ["hash algorithm `SHA256` is spelled `SHA-256` in STIX"]
        );
        assert!(warnings("[file:hashes.'x-custom' = 'a']").is_empty());
    }
}
