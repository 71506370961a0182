//! The MITRE ATT&CK bundles are large, real STIX 2.1 content full of custom objects and
//! properties: every object in them must be accepted, byte for byte.

use std::path::{Path, PathBuf};

fn attack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/attack")
}

fn accepts_whole_bundle(file: &str) {
    let path = attack_dir().join(file);
    let Ok(body) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} is not available", path.display());
        return;
    };
    let objects = stix::parse_envelope(&body).expect("the bundle is a STIX bundle");
    assert!(!objects.is_empty(), "{file} holds no objects");
    let mut rejections = Vec::new();
    for raw in &objects {
        match stix::parse_object(raw.get()) {
            Ok(object) => assert_eq!(object.raw(), raw.get(), "{file}: text changed"),
            Err(rejection) => rejections.push(rejection.to_string()),
        }
    }
    assert!(
        rejections.is_empty(),
        "{file}: {} of {} objects rejected, e.g.:\n{}",
        rejections.len(),
        objects.len(),
        rejections
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn ics_attack_is_accepted() {
    accepts_whole_bundle("ics-attack.json");
}

#[test]
fn mobile_attack_is_accepted() {
    accepts_whole_bundle("mobile-attack-17.1.json");
}
