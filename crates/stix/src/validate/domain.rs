//! Per-type rules of the STIX Domain Objects, the relationship objects and the meta objects.
//! Reference targets are in `validate::reference_properties`; this module checks what each
//! type requires and the types and ranges of its own properties.

use serde_json::{json, Value};

use super::check::{self, Scope};
use crate::tlp::{self, TlpVersion};
use crate::vocab;
use crate::Violation;

pub(super) fn check(type_name: &str, o: &Scope<'_>, out: &mut Vec<Violation>) {
    match type_name {
        "attack-pattern" => {
            o.required(out, &["name"]);
            o.strings(out, &["name", "description"]);
            o.string_lists(out, &["aliases"]);
        }
        "campaign" => {
            o.required(out, &["name"]);
            o.strings(out, &["name", "description", "objective"]);
            o.string_lists(out, &["aliases"]);
            o.time_range(out, "first_seen", "last_seen", false);
        }
        "course-of-action" | "incident" | "vulnerability" => {
            o.required(out, &["name"]);
            o.strings(out, &["name", "description"]);
        }
        "grouping" => {
            o.required(out, &["context", "object_refs"]);
            o.strings(out, &["name", "description", "context"]);
        }
        "identity" => {
            o.required(out, &["name"]);
            o.strings(
                out,
                &[
                    "name",
                    "description",
                    "identity_class",
                    "contact_information",
                ],
            );
            o.string_lists(out, &["roles", "sectors"]);
        }
        "indicator" => {
            o.required(out, &["pattern", "pattern_type", "valid_from"]);
            o.strings(
                out,
                &[
                    "name",
                    "description",
                    "pattern",
                    "pattern_type",
                    "pattern_version",
                ],
            );
            o.string_lists(out, &["indicator_types"]);
            o.time_range(out, "valid_from", "valid_until", true);
        }
        "infrastructure" => {
            o.required(out, &["name"]);
            o.strings(out, &["name", "description"]);
            o.string_lists(out, &["infrastructure_types", "aliases"]);
            o.time_range(out, "first_seen", "last_seen", false);
        }
        "intrusion-set" => {
            o.required(out, &["name"]);
            o.strings(
                out,
                &[
                    "name",
                    "description",
                    "resource_level",
                    "primary_motivation",
                ],
            );
            o.string_lists(out, &["aliases", "goals", "secondary_motivations"]);
            o.time_range(out, "first_seen", "last_seen", false);
        }
        "location" => location(o, out),
        "malware" => {
            o.required(out, &["is_family"]);
            if o.boolean(out, "is_family") == Some(true) && !o.has("name") {
                o.violation(out, "name", "is required when `is_family` is true");
            }
            o.strings(out, &["name", "description"]);
            o.string_lists(
                out,
                &[
                    "malware_types",
                    "aliases",
                    "architecture_execution_envs",
                    "implementation_languages",
                    "capabilities",
                ],
            );
            o.time_range(out, "first_seen", "last_seen", false);
        }
        "malware-analysis" => {
            o.required(out, &["product"]);
            o.at_least_one(out, &["result", "analysis_sco_refs"]);
            o.strings(
                out,
                &[
                    "product",
                    "version",
                    "configuration_version",
                    "analysis_engine_version",
                    "analysis_definition_version",
                    "result_name",
                    "result",
                ],
            );
            o.string_lists(out, &["modules"]);
            o.timestamps(out, &["submitted", "analysis_started", "analysis_ended"]);
        }
        "note" => {
            o.required(out, &["content", "object_refs"]);
            o.strings(out, &["abstract", "content"]);
            o.string_lists(out, &["authors"]);
        }
        "observed-data" => observed_data(o, out),
        "opinion" => {
            o.required(out, &["opinion", "object_refs"]);
            o.enumerated(out, "opinion", vocab::OPINION);
            o.strings(out, &["explanation"]);
            o.string_lists(out, &["authors"]);
        }
        "report" => {
            o.required(out, &["name", "published", "object_refs"]);
            o.strings(out, &["name", "description"]);
            o.string_lists(out, &["report_types"]);
            o.timestamp(out, "published");
        }
        "threat-actor" => {
            o.required(out, &["name"]);
            o.strings(
                out,
                &[
                    "name",
                    "description",
                    "sophistication",
                    "resource_level",
                    "primary_motivation",
                ],
            );
            o.string_lists(
                out,
                &[
                    "threat_actor_types",
                    "aliases",
                    "roles",
                    "goals",
                    "secondary_motivations",
                    "personal_motivations",
                ],
            );
            o.time_range(out, "first_seen", "last_seen", false);
        }
        "tool" => {
            o.required(out, &["name"]);
            o.strings(out, &["name", "description", "tool_version"]);
            o.string_lists(out, &["tool_types", "aliases"]);
        }
        "relationship" => {
            o.required(out, &["relationship_type", "source_ref", "target_ref"]);
            if let Some(kind) = o.string(out, "relationship_type") {
                let valid = !kind.is_empty()
                    && kind
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !valid {
                    o.violation(
                        out,
                        "relationship_type",
                        "must be a-z, 0-9 and hyphen only, such as \"indicates\"",
                    );
                }
            }
            o.strings(out, &["description"]);
            o.time_range(out, "start_time", "stop_time", true);
        }
        "sighting" => {
            o.required(out, &["sighting_of_ref"]);
            o.strings(out, &["description"]);
            o.integer(out, "count", 0, 999_999_999);
            o.boolean(out, "summary");
            o.time_range(out, "first_seen", "last_seen", false);
        }
        "language-content" => {
            o.required(out, &["object_ref", "contents"]);
            o.timestamp(out, "object_modified");
            if let Some(contents) = o.dictionary(out, "contents") {
                for key in contents.map.keys() {
                    if !check::is_language_tag(key) {
                        contents.violation(out, key, "keys must be RFC 5646 language tags");
                    }
                    contents.dictionary(out, key);
                }
            }
        }
        "marking-definition" => marking_definition(o, out),
        "extension-definition" => {
            o.required(
                out,
                &[
                    "created_by_ref",
                    "name",
                    "schema",
                    "version",
                    "extension_types",
                ],
            );
            o.strings(out, &["name", "description", "schema", "version"]);
            let kinds = o.enumerated_list(out, "extension_types", vocab::EXTENSION_TYPE);
            o.string_lists(out, &["extension_properties"]);
            if o.has("extension_properties") && !kinds.contains(&"toplevel-property-extension") {
                o.violation(
                    out,
                    "extension_properties",
                    "may only be present when `extension_types` includes \
                     \"toplevel-property-extension\"",
                );
            }
        }
        _ => {}
    }
}

/// A location needs a region, a country or a point; a point needs both coordinates, and a
/// precision needs a point.
fn location(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.strings(
        out,
        &[
            "name",
            "description",
            "region",
            "country",
            "administrative_area",
            "city",
            "street_address",
            "postal_code",
        ],
    );
    o.number(out, "latitude", -90.0, 90.0);
    o.number(out, "longitude", -180.0, 180.0);
    o.number(out, "precision", 0.0, f64::MAX);
    let point = o.has("latitude") && o.has("longitude");
    if !(o.has("region") || o.has("country") || point) {
        o.violation(
            out,
            "region",
            "one of `region`, `country`, or `latitude` with `longitude` must be present",
        );
    }
    o.depends_on(out, "latitude", "longitude");
    o.depends_on(out, "longitude", "latitude");
    if o.has("precision") && !point {
        o.violation(
            out,
            "precision",
            "may only be present together with `latitude` and `longitude`",
        );
    }
}

fn observed_data(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.required(out, &["first_observed", "last_observed", "number_observed"]);
    o.time_range(out, "first_observed", "last_observed", false);
    o.integer(out, "number_observed", 1, 999_999_999);
    match (o.has("object_refs"), o.has("objects")) {
        (true, true) => o.violation(
            out,
            "objects",
            "must not be present together with `object_refs` (`objects` is the deprecated form)",
        ),
        (false, false) => o.violation(
            out,
            "object_refs",
            "one of `object_refs` or the deprecated `objects` must be present",
        ),
        _ => {}
    }
    // The deprecated form embeds observables under local keys ("0", "1", ...); they carry no
    // ids and follow STIX 2.0 rules, so only their shape is checked here.
    if let Some(objects) = o.dictionary(out, "objects") {
        for key in objects.map.keys() {
            if let Some(embedded) = objects.object(out, key) {
                embedded.required(out, &["type"]);
                embedded.string(out, "type");
            }
        }
    }
}

/// A marking definition carries its definition either in `definition_type` + `definition`
/// or in an extension; the two predefined definition types have a fixed shape.
fn marking_definition(o: &Scope<'_>, out: &mut Vec<Violation>) {
    if !o.has("extensions") {
        o.required(out, &["definition_type", "definition"]);
    }
    o.strings(out, &["name"]);
    let definition_type = o.string(out, "definition_type");
    let definition = o.object(out, "definition");
    if o.has("definition_type") != o.has("definition") {
        let missing = if o.has("definition") {
            "definition_type"
        } else {
            "definition"
        };
        let other = if missing == "definition" {
            "definition_type"
        } else {
            "definition"
        };
        o.violation(
            out,
            missing,
            format!("is required when `{other}` is present"),
        );
    }
    published_tlp(o, out);
    let Some(definition) = definition else {
        return;
    };
    match definition_type {
        Some("statement") => {
            definition.required(out, &["statement"]);
            definition.string(out, "statement");
        }
        Some("tlp") => {
            definition.required(out, &["tlp"]);
            let level = definition.get("tlp");
            let known = matches!(
                level.and_then(Value::as_str),
                Some("white" | "green" | "amber" | "red")
            );
            if level.is_some() && !known {
                definition.violation(
                    out,
                    "tlp",
                    "must be \"white\", \"green\", \"amber\" or \"red\"",
                );
            }
        }
        _ => {}
    }
}

/// The TLP marking definitions are published once, and readers go by their ids: an object
/// that reuses one of those ids must be that definition, or it would relabel everything the
/// marking is applied to. For the same reason the `tlp` definition type belongs to the four
/// published TLP 1.0 definitions alone (STIX 2.1 §7.2.1.4).
fn published_tlp(o: &Scope<'_>, out: &mut Vec<Violation>) {
    let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
    let Some(published) = tlp::published(id) else {
        if o.get("definition_type").and_then(Value::as_str) == Some("tlp") {
            o.violation(
                out,
                "definition_type",
                "\"tlp\" is reserved for the four TLP 1.0 marking definitions STIX 2.1 \
                 publishes: reference them (or the TLP 2.0 ones) by id instead of defining TLP \
                 anew",
            );
        }
        return;
    };
    let what = format!(
        "`{id}` is the published {} marking definition ({})",
        published.name,
        match published.version {
            TlpVersion::V1 => "TLP 1.0",
            TlpVersion::V2 => "TLP 2.0",
        }
    );
    let must_be = |out: &mut Vec<Violation>, key: &str, expected: Value| {
        if o.get(key) != Some(&expected) {
            o.violation(out, key, format!("{what}: `{key}` must be {expected}"));
        }
    };
    match published.version {
        TlpVersion::V1 => {
            must_be(out, "definition_type", json!("tlp"));
            must_be(out, "definition", json!({"tlp": published.level}));
            must_be(out, "name", json!(published.name));
            must_be(out, "created", json!(tlp::TLP1_CREATED));
            const PUBLISHED: &[&str] = &[
                "type",
                "spec_version",
                "id",
                "created",
                "definition_type",
                "name",
                "definition",
            ];
            for key in o.map.keys().filter(|k| !PUBLISHED.contains(&k.as_str())) {
                o.violation(out, key, format!("{what}, which has no `{key}`"));
            }
        }
        TlpVersion::V2 => {
            must_be(out, "name", json!(published.name));
            must_be(
                out,
                "extensions",
                json!({
                    tlp::TLP2_EXTENSION: {
                        "extension_type": "property-extension",
                        "tlp_2_0": published.level,
                    }
                }),
            );
            for key in ["definition_type", "definition"] {
                if o.has(key) {
                    o.violation(
                        out,
                        key,
                        format!(
                            "{what}, which has no `{key}`: its level is in the TLP 2.0 extension"
                        ),
                    );
                }
            }
        }
    }
}
