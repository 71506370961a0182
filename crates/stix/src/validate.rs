//! The rules STIX 2.1 makes mandatory. Each check pushes a [`Violation`] naming the property
//! and the rule; validation never stops at the first problem.
//!
//! Layout: this module holds the rules every object shares (type, id, property names, the
//! common properties, markings, extensions, references); `domain` holds the per-type rules of
//! SDOs, SROs and meta objects, `observable` those of SCOs, `check` the typed property
//! checks they are written with, and `syntax` the string syntaxes STIX takes from other
//! standards (URIs, domain names, media types). Only MUST-level rules are enforced; SHOULDs
//! and open vocabularies (`-ov`) never reject an object.

mod check;
mod domain;
mod observable;
mod syntax;

use serde_json::{Map, Value};

use crate::types::{category, Category};
use crate::{parse_id, vocab, Violation};
use check::{Scope, Target};

/// Checks one object given as its parsed JSON map.
pub(crate) fn object(map: &Map<String, Value>, out: &mut Vec<Violation>) {
    let mut found = Vec::new();
    all_rules(map, &mut found);
    // Several rules can trip over one fault (a null `description` is both null and not a
    // string); the first, most general, verdict per property is the one worth reading.
    let mut named = std::collections::HashSet::new();
    found.retain(|v| named.insert(v.property.clone()));
    out.append(&mut found);
}

fn all_rules(map: &Map<String, Value>, out: &mut Vec<Violation>) {
    let scope = Scope::top(map);
    let type_name = type_name(&scope, out);
    let id = object_id(&scope, type_name, out);
    if type_name == Some("bundle") {
        scope.violation(
            out,
            "type",
            "a bundle is a wrapper and must not appear as an object inside a bundle or envelope",
        );
        return;
    }
    let family = type_name.and_then(|t| family(t, &scope));
    property_names(&scope, out);
    spec_version(&scope, family, out);
    created_and_modified(&scope, type_name, family, out);
    common_properties(&scope, id, out);
    references(&scope, type_name, out);
    match (type_name, family) {
        (Some(t), Some(Category::Observable)) => observable::check(t, &scope, out),
        (Some(t), Some(_)) => domain::check(t, &scope, out),
        _ => {}
    }
}

fn type_name<'m>(scope: &Scope<'m>, out: &mut Vec<Violation>) -> Option<&'m str> {
    match scope.get("type") {
        Some(Value::String(t)) if crate::id::is_type_name(t) => Some(t.as_str()),
        Some(Value::String(t)) => {
            out.push(Violation::new(
                "type",
                format!("`{t}` is not a valid type name (3-250 characters of a-z, 0-9, hyphen)"),
            ));
            None
        }
        Some(_) => {
            out.push(Violation::new("type", "must be a string"));
            None
        }
        None => {
            out.push(Violation::new("type", "is required"));
            None
        }
    }
}

fn object_id<'m>(
    scope: &Scope<'m>,
    type_name: Option<&str>,
    out: &mut Vec<Violation>,
) -> Option<&'m str> {
    match scope.get("id") {
        Some(Value::String(id)) => match parse_id(id) {
            Ok((prefix, _)) => {
                if let Some(t) = type_name {
                    if prefix != t {
                        out.push(Violation::new(
                            "id",
                            format!("the id's type prefix `{prefix}` does not match type `{t}`"),
                        ));
                    }
                }
                Some(id.as_str())
            }
            Err(e) => {
                out.push(Violation::new("id", e.to_string()));
                None
            }
        },
        Some(_) => {
            out.push(Violation::new("id", "must be a string"));
            None
        }
        None => {
            out.push(Violation::new("id", "is required"));
            None
        }
    }
}

/// The family an object's common-property rules come from. A custom type has none, unless an
/// extension definition it carries declares it a new SDO, SRO or SCO (§7.3), which binds it
/// to that family's common properties.
fn family(type_name: &str, scope: &Scope<'_>) -> Option<Category> {
    if let Some(known) = category(type_name) {
        return Some(known);
    }
    let Some(Value::Object(extensions)) = scope.get("extensions") else {
        return None;
    };
    extensions
        .values()
        .filter_map(|ext| ext.get("extension_type").and_then(Value::as_str))
        .find_map(|kind| match kind {
            "new-sdo" => Some(Category::DomainObject),
            "new-sro" => Some(Category::Relationship),
            "new-sco" => Some(Category::Observable),
            _ => None,
        })
}

/// Property names (§11.1), and the ban on null and on empty lists standing in for an
/// omitted property.
fn property_names(scope: &Scope<'_>, out: &mut Vec<Violation>) {
    for (key, value) in scope.map {
        if key != "id" && !check::is_property_name(key) {
            scope.violation(
                out,
                key,
                "property names must be 3 to 250 characters of a-z, 0-9 and underscore, \
                 starting with a letter",
            );
        }
        match value {
            Value::Null => scope.violation(out, key, "must not be null; omit the property instead"),
            Value::Array(items) if items.is_empty() => scope.violation(
                out,
                key,
                "must not be an empty list; omit the property instead",
            ),
            _ => {}
        }
    }
}

fn spec_version(scope: &Scope<'_>, family: Option<Category>, out: &mut Vec<Violation>) {
    match scope.get("spec_version") {
        Some(Value::String(v)) if v == crate::SPEC_VERSION => {}
        Some(v) => out.push(Violation::new(
            "spec_version",
            format!("must be \"2.1\", found {v}"),
        )),
        // SCOs may omit it (it then defaults to 2.1); every other object must carry it.
        None if matches!(
            family,
            Some(Category::DomainObject | Category::Relationship | Category::Meta)
        ) =>
        {
            out.push(Violation::new("spec_version", "is required"));
        }
        None => {}
    }
}

fn created_and_modified(
    scope: &Scope<'_>,
    type_name: Option<&str>,
    family: Option<Category>,
    out: &mut Vec<Violation>,
) {
    let versioned = matches!(
        family,
        Some(Category::DomainObject | Category::Relationship | Category::Meta)
    );
    if versioned {
        scope.required(out, &["created"]);
        // Marking definitions are never versioned, so they have no `modified`.
        if type_name != Some("marking-definition") {
            scope.required(out, &["modified"]);
        }
    }
    let created = scope.timestamp(out, "created");
    let modified = scope.timestamp(out, "modified");
    scope.ordered(out, ("created", created), ("modified", modified), false);
    if versioned {
        for key in ["created", "modified"] {
            let text = scope.get(key).and_then(Value::as_str).unwrap_or_default();
            // Only judge precision once the timestamp itself parsed.
            let parsed = crate::Timestamp::parse(text).is_ok();
            let fraction = text
                .get(19..text.len().saturating_sub(1))
                .unwrap_or_default();
            if parsed && fraction.len() < 4 {
                scope.violation(out, key, "must be precise to at least the millisecond");
            }
        }
    }
}

/// The common properties whose meaning is fixed for every object that carries them.
fn common_properties(scope: &Scope<'_>, id: Option<&str>, out: &mut Vec<Violation>) {
    scope.booleans(out, &["revoked", "defanged"]);
    scope.string_lists(out, &["labels"]);
    scope.integer(out, "confidence", 0, 100);
    if let Some(lang) = scope.string(out, "lang") {
        if !check::is_language_tag(lang) {
            scope.violation(
                out,
                "lang",
                "must be an RFC 5646 language tag such as \"en\"",
            );
        }
    }
    for reference in scope.objects(out, "external_references") {
        external_reference(&reference, out);
    }
    for phase in scope.objects(out, "kill_chain_phases") {
        phase.required(out, &["kill_chain_name", "phase_name"]);
        phase.strings(out, &["kill_chain_name", "phase_name"]);
    }
    markings(scope, id, out);
    extensions(scope, out);
}

fn external_reference(reference: &Scope<'_>, out: &mut Vec<Violation>) {
    reference.required(out, &["source_name"]);
    let source = reference.string(out, "source_name");
    reference.strings(out, &["description"]);
    reference.uri(out, "url");
    let external_id = reference.string(out, "external_id");
    reference.at_least_one(out, &["description", "url", "external_id"]);
    reference.hashes(out, "hashes", true);
    // CVE and CAPEC entries are the ones the specification gives an identifier format.
    let format = match source {
        Some("cve") => Some(("CVE-YYYY-NNNN", is_cve_id as fn(&str) -> bool)),
        Some("capec") => Some(("CAPEC-N", is_capec_id as fn(&str) -> bool)),
        _ => None,
    };
    if let Some((shape, valid)) = format {
        match external_id {
            None if !reference.has("external_id") => reference.violation(
                out,
                "external_id",
                format!(
                    "is required when `source_name` is \"{}\"",
                    source.unwrap_or_default()
                ),
            ),
            Some(x) if !valid(x) => {
                reference.violation(out, "external_id", format!("must have the form {shape}"))
            }
            _ => {}
        }
    }
}

fn is_cve_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, number)) = rest.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    year.len() == 4
        && digits(year)
        && digits(number)
        && number.len() >= 4
        && (number.len() == 4 || !number.starts_with('0'))
}

fn is_capec_id(id: &str) -> bool {
    id.strip_prefix("CAPEC-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Object markings and granular markings (§7.2.2, §7.2.3).
fn markings(scope: &Scope<'_>, id: Option<&str>, out: &mut Vec<Violation>) {
    let self_marking = |value: Option<&str>| id.is_some() && value == id;
    if let Some(refs) = scope.get("object_marking_refs").and_then(Value::as_array) {
        for (i, marking) in refs.iter().enumerate() {
            if self_marking(marking.as_str()) {
                out.push(Violation::new(
                    format!("object_marking_refs[{i}]"),
                    "a marking definition must not mark itself",
                ));
            }
        }
    }
    for marking in scope.objects(out, "granular_markings") {
        marking.required(out, &["selectors"]);
        for (i, selector) in marking
            .list(out, "selectors")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let path = format!("{}[{i}]", marking.path("selectors"));
            match selector.as_str() {
                None => out.push(Violation::new(path, "must be a string")),
                Some(s) if !selector_resolves(scope.map, s) => out.push(Violation::new(
                    path,
                    format!(
                        "selector `{s}` does not select a property or list item of this object"
                    ),
                )),
                Some(_) => {}
            }
        }
        match (marking.has("marking_ref"), marking.has("lang")) {
            (true, true) => marking.violation(
                out,
                "lang",
                "a granular marking has either `marking_ref` or `lang`, not both",
            ),
            (false, false) => marking.violation(
                out,
                "marking_ref",
                "one of `marking_ref` or `lang` must be present",
            ),
            _ => {}
        }
        marking.reference(out, "marking_ref", Target::Types(&["marking-definition"]));
        if self_marking(marking.get("marking_ref").and_then(Value::as_str)) {
            marking.violation(
                out,
                "marking_ref",
                "a marking definition must not mark itself",
            );
        }
        if let Some(lang) = marking.string(out, "lang") {
            if !check::is_language_tag(lang) {
                marking.violation(
                    out,
                    "lang",
                    "must be an RFC 5646 language tag such as \"en\"",
                );
            }
        }
    }
}

/// Follows a granular-marking selector (`description`, `external_references.[1].url`)
/// through the object; it must land on something present.
fn selector_resolves(map: &Map<String, Value>, selector: &str) -> bool {
    let mut segments = selector.split('.');
    let Some(mut current) = segments.next().and_then(|first| map.get(first)) else {
        return false;
    };
    for segment in segments {
        let next = match segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(index) => index
                .parse::<usize>()
                .ok()
                .and_then(|i| current.as_array()?.get(i)),
            None => current.as_object().and_then(|m| m.get(segment)),
        };
        match next {
            Some(value) => current = value,
            None => return false,
        }
    }
    true
}

/// The `extensions` dictionary (§7.3): keys are extension-definition ids or the names of
/// predefined extensions, values are objects, and an extension-definition entry must say
/// which kind of extension it is.
fn extensions(scope: &Scope<'_>, out: &mut Vec<Violation>) {
    let Some(extensions) = scope.dictionary(out, "extensions") else {
        return;
    };
    for key in extensions.map.keys() {
        let by_definition = key.starts_with("extension-definition--");
        if by_definition {
            match parse_id(key) {
                Ok(_) => {}
                Err(e) => extensions.violation(out, key, e.to_string()),
            }
        } else if !is_predefined_extension_name(key) {
            extensions.violation(
                out,
                key,
                "an extensions key must be the id of an extension definition \
                 (`extension-definition--<UUID>`) or the name of a predefined extension \
                 (`<name>-ext`, such as `archive-ext` or `tcp-ext`)",
            );
        }
        let Some(extension) = extensions.object(out, key) else {
            continue;
        };
        if by_definition {
            extension.required(out, &["extension_type"]);
        }
        extension.enumerated(out, "extension_type", vocab::EXTENSION_TYPE);
    }
}

/// The shape of predefined extension names (`archive-ext`, `windows-pebinary-ext`): lowercase
/// words of letters and digits joined by single hyphens, the first starting with a letter,
/// ending in `-ext`. Names of that shape outside the STIX list are the STIX 2.0 style of
/// custom extension, still accepted as such.
fn is_predefined_extension_name(key: &str) -> bool {
    let Some(name) = key.strip_suffix("-ext") else {
        return false;
    };
    name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Reference properties. Those the specification defines must hold identifiers of the types
/// it names. Custom `_ref`/`_refs` properties must hold identifiers too, except that an empty
/// string reads as "no reference": MITRE ATT&CK publishes `x_mitre_data_source_ref: ""`.
fn references(scope: &Scope<'_>, type_name: Option<&str>, out: &mut Vec<Violation>) {
    let defined = type_name.map(reference_properties).unwrap_or_default();
    for (key, value) in scope.map {
        if !(key.ends_with("_ref") || key.ends_with("_refs")) {
            continue;
        }
        let target = match key.as_str() {
            "created_by_ref" => Some(Target::Types(&["identity"])),
            "object_marking_refs" => Some(Target::Types(&["marking-definition"])),
            _ => defined.iter().find(|(k, _)| k == key).map(|(_, t)| *t),
        };
        if let Some(target) = target {
            scope.reference_property(out, key, target);
            continue;
        }
        let indexed = key.ends_with("_refs");
        let items: &[Value] = match (value, indexed) {
            (Value::Array(items), true) => items,
            (Value::String(_), false) => std::slice::from_ref(value),
            (_, true) => {
                scope.violation(out, key, "must be a list of identifiers");
                continue;
            }
            (_, false) => {
                scope.violation(out, key, "must be an identifier string");
                continue;
            }
        };
        for (i, item) in items.iter().enumerate() {
            if item.as_str() == Some("") {
                continue;
            }
            let path = if indexed {
                format!("{key}[{i}]")
            } else {
                key.clone()
            };
            check::reference(out, path, item, Target::AnyObject);
        }
    }
}

/// The reference properties STIX 2.1 defines on each type, with what they may point at.
fn reference_properties(type_name: &str) -> &'static [(&'static str, Target)] {
    const SOFTWARE: Target = Target::Types(&["software"]);
    const EMAIL_ADDR: Target = Target::Types(&["email-addr"]);
    const ARTIFACT: Target = Target::Types(&["artifact"]);
    const USER_ACCOUNT: Target = Target::Types(&["user-account"]);
    const ADDRESS: Target = Target::Types(&["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"]);
    const TRAFFIC: Target = Target::Types(&["network-traffic"]);
    const PROCESS: Target = Target::Types(&["process"]);
    const IP_RESOLUTION: &[(&str, Target)] = &[
        ("resolves_to_refs", Target::Types(&["mac-addr"])),
        ("belongs_to_refs", Target::Types(&["autonomous-system"])),
    ];
    match type_name {
        "grouping" | "note" | "opinion" | "report" => &[("object_refs", Target::AnyObject)],
        "observed-data" => &[("object_refs", Target::ObservableOrRelationship)],
        "malware" => &[
            ("operating_system_refs", SOFTWARE),
            ("sample_refs", Target::Types(&["artifact", "file"])),
        ],
        "malware-analysis" => &[
            ("host_vm_ref", SOFTWARE),
            ("operating_system_ref", SOFTWARE),
            ("installed_software_refs", SOFTWARE),
            ("analysis_sco_refs", Target::Observable),
            (
                "sample_ref",
                Target::Types(&["file", "network-traffic", "artifact"]),
            ),
        ],
        "relationship" => &[
            ("source_ref", Target::DomainOrObservable),
            ("target_ref", Target::DomainOrObservable),
        ],
        "sighting" => &[
            ("sighting_of_ref", Target::DomainObject),
            ("observed_data_refs", Target::Types(&["observed-data"])),
            (
                "where_sighted_refs",
                Target::Types(&["identity", "location"]),
            ),
        ],
        "language-content" => &[("object_ref", Target::AnyObject)],
        "directory" => &[("contains_refs", Target::Types(&["file", "directory"]))],
        "domain-name" => &[(
            "resolves_to_refs",
            Target::Types(&["ipv4-addr", "ipv6-addr", "domain-name"]),
        )],
        "email-addr" => &[("belongs_to_ref", USER_ACCOUNT)],
        "email-message" => &[
            ("from_ref", EMAIL_ADDR),
            ("sender_ref", EMAIL_ADDR),
            ("to_refs", EMAIL_ADDR),
            ("cc_refs", EMAIL_ADDR),
            ("bcc_refs", EMAIL_ADDR),
            ("raw_email_ref", ARTIFACT),
        ],
        "file" => &[
            ("parent_directory_ref", Target::Types(&["directory"])),
            ("contains_refs", Target::Observable),
            ("content_ref", ARTIFACT),
        ],
        "ipv4-addr" | "ipv6-addr" => IP_RESOLUTION,
        "network-traffic" => &[
            ("src_ref", ADDRESS),
            ("dst_ref", ADDRESS),
            ("src_payload_ref", ARTIFACT),
            ("dst_payload_ref", ARTIFACT),
            ("encapsulates_refs", TRAFFIC),
            ("encapsulated_by_ref", TRAFFIC),
        ],
        "process" => &[
            ("opened_connection_refs", TRAFFIC),
            ("creator_user_ref", USER_ACCOUNT),
            ("image_ref", Target::Types(&["file"])),
            ("parent_ref", PROCESS),
            ("child_refs", PROCESS),
        ],
        "windows-registry-key" => &[("creator_user_ref", USER_ACCOUNT)],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_and_capec_ids() {
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(is_cve_id("CVE-1999-0001"));
        assert!(!is_cve_id("CVE-2021-0044228"));
        assert!(!is_cve_id("CVE-21-4422"));
        assert!(!is_cve_id("cve-2021-44228"));
        assert!(is_capec_id("CAPEC-66"));
        assert!(!is_capec_id("CAPEC-"));
    }

    #[test]
    fn extension_names() {
        for good in [
            "archive-ext",
            "windows-pebinary-ext",
            "x-acme-ext",
            "tcp-ext",
            "a2-ext",
        ] {
            assert!(is_predefined_extension_name(good), "{good}");
        }
        for bad in [
            "foo", "-ext", "ext", "2x-ext", "Tcp-ext", "x--y-ext", "x_y-ext", "tcp-ext-",
        ] {
            assert!(!is_predefined_extension_name(bad), "{bad}");
        }
    }

    #[test]
    fn selectors() {
        let map: Map<String, Value> = serde_json::from_str(
            r#"{"description":"d","external_references":[{"source_name":"a","url":"u"}]}"#,
        )
        .unwrap();
        assert!(selector_resolves(&map, "description"));
        assert!(selector_resolves(&map, "external_references.[0].url"));
        assert!(!selector_resolves(&map, "external_references.[1]"));
        assert!(!selector_resolves(
            &map,
            "external_references.[0].description"
        ));
        assert!(!selector_resolves(&map, "name"));
    }
}
