//! Replacing and removing indicators in a live `IndicatorSet`.

use matcher::{IndicatorSet, Observation};
use serde_json::json;
use stix::Timestamp;

fn ev(ip: &str) -> Observation {
    Observation::of_objects(
        vec![json!({"type": "ipv4-addr", "id": format!("ipv4-addr--{ip}"), "value": ip})],
        Timestamp::parse("2024-05-01T00:00:00Z").unwrap(),
    )
}

/// Replacing an indicator whose pattern path has no other user must keep the path indexed:
/// the last user leaving takes it out of its type's list, and the replacement brings it back.
#[test]
fn a_replaced_indicator_matches_its_new_value_when_it_was_the_paths_last_user() {
    let mut set = IndicatorSet::new();
    let a = "indicator--00000000-0000-4000-8000-000000000001";
    let b = "indicator--00000000-0000-4000-8000-000000000002";
    set.insert(a, "[ipv4-addr:value = '198.51.100.1']", None, None)
        .unwrap();
    set.insert(b, "[ipv4-addr:value = '198.51.100.2']", None, None)
        .unwrap();
    assert_eq!(set.match_observation(&ev("198.51.100.2")).len(), 1);
    set.remove(a);
    set.insert(b, "[ipv4-addr:value = '198.51.100.22']", None, None)
        .unwrap();
    assert_eq!(set.match_observation(&ev("198.51.100.2")).len(), 0);
    assert_eq!(set.match_observation(&ev("198.51.100.22")).len(), 1);
}
