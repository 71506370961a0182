//! The compiled indicator set finds exactly what evaluating every pattern finds.

use std::collections::BTreeSet;

use matcher::{prepare, IndicatorSet, Observation};
use proptest::prelude::*;
use serde_json::json;
use stix::Timestamp;

const IPS: [&str; 6] = [
    "198.51.100.7",
    "198.51.100.200",
    "203.0.113.5",
    "192.0.2.1",
    "2001:db8::1",
    "2001:db8:1::9",
];
const DOMAINS: [&str; 5] = [
    "evil.example",
    "a.evil.example",
    "good.example",
    "mail.good.example",
    "xn--bcher-kva.example",
];
const HASHES: [&str; 3] = [
    "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];
const PORTS: [i64; 3] = [53, 443, 8080];

fn pattern() -> impl Strategy<Value = String> {
    let ip = prop::sample::select(IPS.to_vec());
    let domain = prop::sample::select(DOMAINS.to_vec());
    let hash = prop::sample::select(HASHES.to_vec());
    let port = prop::sample::select(PORTS.to_vec());
    let leaf = prop_oneof![
        ip.clone().prop_map(|v| format!("ipv4-addr:value = '{v}'")),
        ip.clone().prop_map(|v| format!("ipv6-addr:value = '{v}'")),
        domain
            .clone()
            .prop_map(|v| format!("domain-name:value = '{v}'")),
        hash.prop_map(|v| format!("file:hashes.'SHA-256' = '{v}'")),
        (domain.clone(), domain.clone())
            .prop_map(|(a, b)| format!("domain-name:value IN ('{a}', '{b}')")),
        prop::sample::select(vec![
            "198.51.100.0/24",
            "198.51.100.128/25",
            "0.0.0.0/0",
            "2001:db8::/32",
            "203.0.113.0/28"
        ])
        .prop_map(|c| format!("ipv4-addr:value ISSUBSET '{c}'")),
        prop::sample::select(vec!["2001:db8::/32", "2001:db8:1::/48"])
            .prop_map(|c| format!("ipv6-addr:value ISSUBSET '{c}'")),
        prop::sample::select(vec![
            "%.evil.example",
            "%good%",
            "a._vil.example",
            "%xample"
        ])
        .prop_map(|l| format!("domain-name:value LIKE '{l}'")),
        prop::sample::select(vec!["^a\\\\.", "evil", "example$", "^[a-f]+\\\\.good"])
            .prop_map(|r| format!("domain-name:value MATCHES '{r}'")),
        port.clone()
            .prop_map(|p| format!("network-traffic:dst_port = {p}")),
        ip.clone()
            .prop_map(|v| format!("network-traffic:dst_ref.value = '{v}'")),
        domain
            .clone()
            .prop_map(|v| format!("domain-name:value != '{v}'")),
        port.prop_map(|p| format!("network-traffic:dst_port > {p}")),
        Just("NOT EXISTS network-traffic:src_ref".to_owned()),
    ];
    let comparison = prop_oneof![
        3 => leaf.clone(),
        1 => (leaf.clone(), leaf.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
        1 => (leaf.clone(), leaf).prop_map(|(a, b)| format!("{a} OR {b}")),
    ];
    comparison.prop_map(|c| format!("[{c}]"))
}

fn event() -> impl Strategy<Value = Vec<serde_json::Value>> {
    let object = prop_oneof![
        prop::sample::select(IPS[..4].to_vec()).prop_map(|v| json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": v})),
        prop::sample::select(IPS[4..].to_vec()).prop_map(|v| json!({"type": "ipv6-addr", "id": "ipv6-addr--1", "value": v})),
        prop::sample::select(DOMAINS.to_vec()).prop_map(|v| json!({"type": "domain-name", "id": "domain-name--1", "value": v})),
        prop::sample::select(HASHES.to_vec()).prop_map(|v| json!({"type": "file", "id": "file--1", "hashes": {"SHA-256": v}})),
        (prop::sample::select(IPS[..4].to_vec()), prop::sample::select(PORTS.to_vec())).prop_map(|(ip, port)| json!({
            "type": "network-traffic", "id": "network-traffic--1", "dst_ref": "ipv4-addr--9", "dst_port": port, "protocols": ["tcp"], "x_ip": ip
        })),
    ];
    prop::collection::vec(object, 1..=3).prop_map(|mut objects| {
        // The traffic's destination address travels with it.
        let dst: Vec<serde_json::Value> = objects
            .iter()
            .filter_map(|o| o.get("x_ip").cloned())
            .map(|ip| json!({"type": "ipv4-addr", "id": "ipv4-addr--9", "value": ip}))
            .take(1)
            .collect();
        objects.extend(dst);
        objects
    })
}

fn id(i: usize) -> String {
    format!("indicator--00000000-0000-4000-8000-{i:012}")
}

fn naive(patterns: &[(String, bool)], observation: &Observation) -> BTreeSet<String> {
    patterns
        .iter()
        .enumerate()
        .filter(|(_, (_, active))| *active)
        .filter(|(_, (p, _))| prepare(p).unwrap().matches_one(observation))
        .map(|(i, _)| id(i))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn compiled_hits_equal_naive_hits(
        patterns in prop::collection::vec(pattern(), 1..40),
        removed in prop::collection::vec(any::<bool>(), 40),
        events in prop::collection::vec(event(), 1..20),
    ) {
        let mut set = IndicatorSet::new();
        for (i, p) in patterns.iter().enumerate() {
            set.insert(&id(i), p, None, None).unwrap();
        }
        let mut active: Vec<(String, bool)> = patterns.iter().map(|p| (p.clone(), true)).collect();
        for (i, gone) in removed.iter().enumerate().take(patterns.len()) {
            if *gone && i % 3 == 0 {
                prop_assert!(set.remove(&id(i)));
                active[i].1 = false;
            }
        }
        let at = Timestamp::parse("2021-01-01T00:00:00Z").unwrap();
        for objects in events {
            let observation = Observation::of_objects(objects, at);
            let got: BTreeSet<String> = set.match_observation(&observation).into_iter().map(|h| h.indicator).collect();
            prop_assert_eq!(got, naive(&active, &observation));
        }
    }
}

#[test]
fn validity_window_and_replacement() {
    let mut set = IndicatorSet::new();
    let at = |t: &str| Timestamp::parse(t).unwrap();
    set.insert(
        &id(1),
        "[domain-name:value = 'evil.example']",
        Some(at("2021-01-01T00:00:00Z")),
        Some(at("2021-02-01T00:00:00Z")),
    )
    .unwrap();
    let event = |t: &str| {
        Observation::of_objects(
            vec![json!({"type": "domain-name", "id": "domain-name--1", "value": "evil.example"})],
            at(t),
        )
    };
    assert!(set
        .match_observation(&event("2020-12-31T23:59:59Z"))
        .is_empty());
    assert_eq!(
        set.match_observation(&event("2021-01-15T00:00:00Z")).len(),
        1
    );
    assert!(set
        .match_observation(&event("2021-02-01T00:00:00Z"))
        .is_empty());
    // A new version of the indicator replaces the old one's anchors.
    set.insert(&id(1), "[domain-name:value = 'other.example']", None, None)
        .unwrap();
    assert!(set
        .match_observation(&event("2021-01-15T00:00:00Z"))
        .is_empty());
    assert_eq!(set.len(), 1);
    assert!(set.remove(&id(1)));
    assert!(!set.remove(&id(1)));
    assert!(set.is_empty());
    assert!(set
        .insert(
            "malware--00000000-0000-4000-8000-000000000001",
            "[a:b = 1]",
            None,
            None
        )
        .is_err());
    assert!(set.insert(&id(2), "[a:b = ", None, None).is_err());
}

#[test]
fn temporal_indicators_remember_recent_observations() {
    let mut set = IndicatorSet::new();
    set.insert(&id(1), "([domain-name:value = 'a.evil.example'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.5']) WITHIN 60 SECONDS", None, None).unwrap();
    let at = |t: &str| Timestamp::parse(t).unwrap();
    let dns = |t: &str| {
        Observation::of_objects(
            vec![json!({"type": "domain-name", "id": "domain-name--1", "value": "a.evil.example"})],
            at(t),
        )
    };
    let ip = |t: &str| {
        Observation::of_objects(
            vec![json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "203.0.113.5"})],
            at(t),
        )
    };
    assert!(set
        .match_observation(&ip("2021-01-01T00:00:00Z"))
        .is_empty());
    assert!(set
        .match_observation(&dns("2021-01-01T00:00:10Z"))
        .is_empty());
    assert_eq!(set.match_observation(&ip("2021-01-01T00:00:30Z")).len(), 1);
    // Those two are used up; a late address does not pair with the old lookup.
    assert!(set
        .match_observation(&ip("2021-01-01T00:00:35Z"))
        .is_empty());
    assert!(set
        .match_observation(&dns("2021-01-01T00:01:00Z"))
        .is_empty());
    assert!(set
        .match_observation(&ip("2021-01-01T00:03:00Z"))
        .is_empty());
}

#[test]
fn binary_properties_are_evaluated_not_indexed() {
    // `payload_bin` holds base64; LIKE and MATCHES see the bytes it encodes, which no index
    // reads, so such comparisons must not be anchored on the JSON text.
    let mut set = IndicatorSet::new();
    set.insert(&id(1), "[artifact:payload_bin LIKE '%alice%']", None, None)
        .unwrap();
    set.insert(&id(2), "[artifact:payload_bin MATCHES '^al']", None, None)
        .unwrap();
    set.insert(&id(3), "[artifact:payload_bin = 'alice']", None, None)
        .unwrap();
    let event = Observation::of_objects(
        vec![json!({"type": "artifact", "id": "artifact--1", "payload_bin": "YWxpY2U="})],
        Timestamp::parse("2021-01-01T00:00:00Z").unwrap(),
    );
    let hits: BTreeSet<String> = set
        .match_observation(&event)
        .into_iter()
        .map(|h| h.indicator)
        .collect();
    assert_eq!(hits, (1..=3).map(id).collect());
}

#[test]
fn like_and_matches_find_text_in_another_normal_form() {
    // The index reads the NFC form of values, as evaluation does.
    let mut set = IndicatorSet::new();
    set.insert(&id(1), "[file:name LIKE '%caf\u{e9}%']", None, None)
        .unwrap();
    set.insert(&id(2), "[file:name MATCHES 'caf\u{e9}']", None, None)
        .unwrap();
    let event = Observation::of_objects(
        vec![json!({"type": "file", "id": "file--1", "name": "my cafe\u{301}.txt"})],
        Timestamp::parse("2021-01-01T00:00:00Z").unwrap(),
    );
    assert_eq!(set.match_observation(&event).len(), 2);
}
