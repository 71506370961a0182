use matcher::{observations_from_json, prepare, Observation};
use serde_json::json;
use stix::Timestamp;

fn at(t: &str) -> Timestamp {
    Timestamp::parse(t).unwrap()
}

/// One observed-data with the given SCOs, seen `count` times between `first` and `last`.
fn observed(
    n: usize,
    first: &str,
    last: &str,
    count: u64,
    scos: Vec<serde_json::Value>,
) -> serde_json::Value {
    let refs: Vec<_> = scos.iter().map(|o| o["id"].clone()).collect();
    let mut objects = vec![json!({
        "type": "observed-data", "spec_version": "2.1",
        "id": format!("observed-data--00000000-0000-4000-8000-{n:012}"),
        "created": first, "modified": first,
        "first_observed": first, "last_observed": last, "number_observed": count,
        "object_refs": refs
    })];
    objects.extend(scos);
    json!({"type": "bundle", "id": format!("bundle--00000000-0000-4000-8000-{n:012}"), "objects": objects})
}

fn sco(kind: &str, n: usize, props: serde_json::Value) -> serde_json::Value {
    let mut o = props;
    o["type"] = json!(kind);
    o["id"] = json!(format!("{kind}--00000000-0000-4000-8000-{n:012}"));
    o
}

fn observations(bundles: Vec<serde_json::Value>) -> Vec<Observation> {
    observations_from_json(
        &serde_json::Value::Array(bundles),
        at("2020-01-01T00:00:00Z"),
    )
    .unwrap()
}

fn check(pattern: &str, obs: &[Observation]) -> bool {
    prepare(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(obs)
        .is_some()
}

#[test]
fn comparisons_on_one_object() {
    let obs = observations(vec![observed(
        1,
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        1,
        vec![
            sco(
                "file",
                1,
                json!({"name": "evil.exe", "size": 1024, "hashes": {"SHA-256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, "magic_number_hex": "4d5a"}),
            ),
            sco("ipv4-addr", 2, json!({"value": "198.51.100.7"})),
            sco(
                "network-traffic",
                3,
                json!({"src_ref": "ipv4-addr--00000000-0000-4000-8000-000000000002", "dst_port": 443, "protocols": ["tcp", "tls"]}),
            ),
        ],
    )]);
    let table = [
        ("[file:name = 'evil.exe']", true),
        ("[file:name = 'good.exe']", false),
        ("[file:name != 'good.exe']", true),
        ("[file:name NOT = 'evil.exe']", false),
        ("[file:size > 1000 AND file:size <= 1024]", true),
        ("[file:size < 1000]", false),
        ("[file:size = 1024.0]", true),
        ("[file:size IN (1, 2, 1024)]", true),
        ("[file:hashes.'SHA-256' = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']", true),
        ("[file:name LIKE 'evil.%']", true),
        ("[file:name LIKE '_vil.exe']", true),
        ("[file:name LIKE 'vil%']", false),
        ("[file:name MATCHES '^e.*\\\\.exe$']", true),
        ("[file:name MATCHES 'vil']", true),
        ("[file:magic_number_hex = h'4d5a']", true),
        ("[file:magic_number_hex = 'MZ']", true),
        ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", true),
        ("[ipv4-addr:value ISSUBSET '198.51.101.0/24']", false),
        ("[ipv4-addr:value NOT ISSUBSET '198.51.101.0/24']", true),
        ("[network-traffic:src_ref.value = '198.51.100.7']", true),
        ("[network-traffic:src_ref.value ISSUBSET '198.51.100.0/24' AND network-traffic:dst_port = 443]", true),
        ("[network-traffic:protocols[*] = 'tls']", true),
        ("[network-traffic:protocols[0] = 'tls']", false),
        ("[network-traffic:protocols[1] = 'tls']", true),
        ("[EXISTS file:name]", true),
        ("[NOT EXISTS file:parent_directory_ref]", true),
        ("[NOT EXISTS file:name]", false),
        // AND inside brackets needs one object: no file is also an ipv4-addr.
        ("[file:name = 'evil.exe' AND ipv4-addr:value = '198.51.100.7']", false),
        ("[file:name = 'nope' OR ipv4-addr:value = '198.51.100.7']", true),
        ("[file:name = 'evil.exe'] AND [ipv4-addr:value = '198.51.100.7']", false),
        ("[file:name = 'evil.exe'] OR [ipv4-addr:value = '203.0.113.1']", true),
        ("[x-custom:anything = 1]", false),
    ];
    let failures: Vec<_> = table
        .iter()
        .filter(|(p, want)| check(p, &obs) != *want)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn observation_operators_and_qualifiers() {
    let obs = observations(vec![
        observed(
            1,
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:10Z",
            1,
            vec![sco("domain-name", 1, json!({"value": "a.example"}))],
        ),
        observed(
            2,
            "2020-01-01T00:05:00Z",
            "2020-01-01T00:05:00Z",
            1,
            vec![sco("domain-name", 2, json!({"value": "b.example"}))],
        ),
        observed(
            3,
            "2020-01-01T01:00:00Z",
            "2020-01-01T01:00:00Z",
            3,
            vec![sco("ipv4-addr", 3, json!({"value": "203.0.113.9"}))],
        ),
    ]);
    let table = [
        ("[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']", true),
        ("[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']", true),
        ("[domain-name:value = 'b.example'] FOLLOWEDBY [domain-name:value = 'a.example']", false),
        ("([domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']) WITHIN 300 SECONDS", true),
        ("([domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']) WITHIN 200 SECONDS", false),
        ("([domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']) WITHIN 290 SECONDS", true),
        // One observation cannot satisfy both sides.
        ("[domain-name:value = 'a.example'] AND [domain-name:value LIKE '%.example']", true),
        ("[domain-name:value = 'a.example'] AND [domain-name:value = 'a.example']", false),
        ("[domain-name:value LIKE '%.example'] REPEATS 2 TIMES", true),
        ("[domain-name:value LIKE '%.example'] REPEATS 3 TIMES", false),
        // number_observed counts: one observed-data seen three times repeats three times.
        ("[ipv4-addr:value = '203.0.113.9'] REPEATS 3 TIMES", true),
        ("[ipv4-addr:value = '203.0.113.9'] REPEATS 4 TIMES", false),
        ("[ipv4-addr:value = '203.0.113.9'] AND [ipv4-addr:value = '203.0.113.9']", true),
        ("[domain-name:value = 'a.example'] START t'2020-01-01T00:00:05Z' STOP t'2020-01-01T00:01:00Z'", true),
        ("[domain-name:value = 'a.example'] START t'2020-01-01T00:00:11Z' STOP t'2020-01-01T00:01:00Z'", false),
        ("[domain-name:value = 'b.example'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:05:00Z'", false),
        ("[domain-name:value = 'b.example'] START t'2020-01-01T00:05:00Z' STOP t'2020-01-01T00:06:00Z'", true),
        ("([domain-name:value = 'a.example'] OR [ipv4-addr:value = '203.0.113.9']) REPEATS 4 TIMES", true),
        ("([domain-name:value = 'a.example'] OR [ipv4-addr:value = '203.0.113.9']) REPEATS 5 TIMES", false),
    ];
    let failures: Vec<_> = table
        .iter()
        .filter(|(p, want)| check(p, &obs) != *want)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let binding =
        prepare("[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']")
            .unwrap()
            .matches(&obs)
            .unwrap();
    assert_eq!(binding, vec![0, 1]);
}

#[test]
fn deprecated_embedded_objects() {
    let bundle = json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": [{
        "type": "observed-data", "spec_version": "2.1", "id": "observed-data--00000000-0000-4000-8000-000000000001",
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
        "first_observed": "2020-01-01T00:00:00Z", "last_observed": "2020-01-01T00:00:00Z", "number_observed": 1,
        "objects": {"0": {"type": "ipv4-addr", "value": "192.0.2.1"}, "1": {"type": "network-traffic", "dst_ref": "0", "protocols": ["tcp"]}}
    }]});
    let obs = observations_from_json(&bundle, at("2020-01-01T00:00:00Z")).unwrap();
    assert!(check("[network-traffic:dst_ref.value = '192.0.2.1']", &obs));
    assert!(!check(
        "[network-traffic:dst_ref.value = '192.0.2.2']",
        &obs
    ));
}

#[test]
fn like_and_matches_compare_nfc_text() {
    // "é" precomposed (U+00E9) and decomposed (e U+0301); STIX 2.1 §9.6.2 normalises text
    // to NFC for LIKE and MATCHES, and compares code points as they are for the others.
    let obs = observations(vec![observed(
        1,
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        1,
        vec![sco(
            "file",
            1,
            json!({"name": "cafe\u{301}.txt", "name_bin": "Y2FmZcyBLnR4dA=="}),
        )],
    )]);
    let table = [
        ("[file:name LIKE 'caf\u{e9}.txt']", true),
        ("[file:name LIKE 'cafe\u{301}.txt']", true),
        ("[file:name LIKE 'caf_.txt']", true),
        ("[file:name MATCHES '^caf\u{e9}\\\\.txt$']", true),
        ("[file:name MATCHES '^cafe\u{301}\\\\.txt$']", true),
        ("[file:name = 'cafe\u{301}.txt']", true),
        ("[file:name = 'caf\u{e9}.txt']", false),
        ("[file:name != 'caf\u{e9}.txt']", true),
        ("[file:name IN ('caf\u{e9}.txt')]", false),
        // Binary values read as UTF-8 for LIKE are normalised too.
        ("[file:name_bin LIKE 'caf\u{e9}.txt']", true),
    ];
    let failures: Vec<_> = table
        .iter()
        .filter(|(p, want)| check(p, &obs) != *want)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn sets_of_mixed_types_are_refused() {
    for pattern in [
        "[a:b IN (1, true)]",
        "[a:b IN ('x', 1)]",
        "[a:b IN ('x', t'2020-01-01T00:00:00Z')]",
        "[a:b IN (h'01', 'x')]",
    ] {
        let err = prepare(pattern).expect_err(pattern).to_string();
        assert!(err.contains("of one type"), "{pattern}: {err}");
    }
    for pattern in [
        "[a:b IN (1, 2.5)]",
        "[a:b IN (h'01', b'AQ==')]",
        "[a:b IN ()]",
        "[a:b IN ('x')]",
    ] {
        assert!(prepare(pattern).is_ok(), "{pattern}");
    }
}

#[test]
fn matches_is_dotall() {
    // STIX 2.1 §9.5 requires the DOTALL option: `.` matches a line break.
    let obs = observations(vec![observed(
        1,
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00Z",
        1,
        vec![sco("x-note", 1, json!({"text": "line1\nline2"}))],
    )]);
    let table = [
        ("[x-note:text MATCHES 'line1.line2']", true),
        ("[x-note:text MATCHES '^line1.*2$']", true),
        ("[x-note:text MATCHES '(?-s)line1.line2']", false),
        ("[x-note:text MATCHES '^line2']", false),
        ("[x-note:text LIKE 'line1_line2']", true),
        ("[x-note:text LIKE 'line1%']", true),
    ];
    let failures: Vec<_> = table
        .iter()
        .filter(|(p, want)| check(p, &obs) != *want)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let mut set = matcher::IndicatorSet::new();
    set.insert(
        "indicator--00000000-0000-4000-8000-000000000001",
        "[x-note:text MATCHES 'line1.line2']",
        None,
        None,
    )
    .unwrap();
    assert_eq!(set.match_observation(&obs[0]).len(), 1);
}
