//! Inputs found by the `evaluate` fuzz target (`fuzz/`): the compiled indicator set reports
//! an indicator for exactly the observations that evaluating its pattern accepts.

use matcher::{prepare, IndicatorSet, Observation};
use serde_json::json;
use stix::Timestamp;

const ID: &str = "indicator--00000000-0000-4000-8000-000000000001";

fn set_agrees(pattern: &str, object: serde_json::Value) -> bool {
    let at = Timestamp::parse("2021-01-01T00:00:00Z").unwrap();
    let observation = Observation::of_objects(vec![object], at);
    let expected = prepare(pattern).unwrap().matches_one(&observation);
    let mut set = IndicatorSet::new();
    set.insert(ID, pattern, None, None).unwrap();
    let hit = !set.match_observation(&observation).is_empty();
    assert_eq!(hit, expected, "{pattern}");
    expected
}

/// MATCHES, LIKE and ISSUBSET on `_bin`/`_hex` properties compare decoded bytes, which the
/// indexes never see: such comparisons must not be anchors, or the indicator is never a
/// candidate.
#[test]
fn comparisons_on_binary_properties_are_not_anchors() {
    let artifact = json!({
        "type": "artifact", "id": "artifact--1",
        "payload_bin": "1MOyoQIABAA=", "mime_type": "application/vnd.tcpdump.pcap"
    });
    assert!(set_agrees(
        r"[artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1' AND artifact:payload_bin = b'1MOyoQIABAA=']",
        artifact.clone()
    ));
    assert!(set_agrees(
        r"[artifact:payload_bin MATCHES '^\\xd4\\xc3']",
        artifact
    ));
    let text = json!({
        "type": "artifact", "id": "artifact--2",
        "payload_bin": "YS5ldmlsLmV4YW1wbGU=", "x_addr_bin": "MTk4LjUxLjEwMC43",
        "x_name_hex": "612e6576696c2e6578616d706c65"
    });
    assert!(set_agrees(
        "[artifact:payload_bin LIKE '%.evil.example']",
        text.clone()
    ));
    assert!(set_agrees(
        "[artifact:x_name_hex LIKE 'a.evil%']",
        text.clone()
    ));
    assert!(set_agrees(
        "[artifact:x_addr_bin ISSUBSET '198.51.100.0/24']",
        text.clone()
    ));
    assert!(!set_agrees(
        "[artifact:x_addr_bin ISSUBSET '203.0.113.0/24']",
        text
    ));
}
