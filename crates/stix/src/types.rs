//! The object types STIX 2.1 defines, grouped the way the specification's rules group them.
//! Any other valid type name is a custom object type.

/// The families of STIX 2.1 object types. Reference rules ("must point at an SDO", "must point
/// at an SCO or an SRO") are written in terms of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// STIX Domain Objects (§4).
    DomainObject,
    /// STIX Relationship Objects (§5): `relationship` and `sighting`.
    Relationship,
    /// STIX Cyber-observable Objects (§6).
    Observable,
    /// Meta objects (§7): `language-content`, `marking-definition`, `extension-definition`.
    Meta,
}

pub const DOMAIN_OBJECTS: [&str; 19] = [
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];

pub const RELATIONSHIP_OBJECTS: [&str; 2] = ["relationship", "sighting"];

pub const OBSERVABLE_OBJECTS: [&str; 18] = [
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

pub const META_OBJECTS: [&str; 3] = [
    "language-content",
    "marking-definition",
    "extension-definition",
];

/// The category of a type the specification defines; `None` for custom types and for
/// `bundle`, which is a wrapper rather than an object.
pub fn category(type_name: &str) -> Option<Category> {
    if DOMAIN_OBJECTS.contains(&type_name) {
        Some(Category::DomainObject)
    } else if RELATIONSHIP_OBJECTS.contains(&type_name) {
        Some(Category::Relationship)
    } else if OBSERVABLE_OBJECTS.contains(&type_name) {
        Some(Category::Observable)
    } else if META_OBJECTS.contains(&type_name) {
        Some(Category::Meta)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_one_category() {
        let all = DOMAIN_OBJECTS
            .iter()
            .chain(&RELATIONSHIP_OBJECTS)
            .chain(&OBSERVABLE_OBJECTS)
            .chain(&META_OBJECTS);
        let mut seen = std::collections::HashSet::new();
        for t in all {
            assert!(seen.insert(*t), "{t} listed twice");
            assert!(crate::id::is_type_name(t), "{t}");
            assert!(category(t).is_some());
        }
        assert_eq!(category("x-mitre-tactic"), None);
        assert_eq!(category("bundle"), None);
    }
}
