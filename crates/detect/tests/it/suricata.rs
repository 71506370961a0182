//! Suricata EVE events of each type: expected objects and indicator hits.

use detect::normalise::suricata::eve_line;
use detect::Normalised;
use serde_json::json;

use crate::common::{assert_valid_objects, lines, read, summary, Indicators};

fn events() -> Vec<Normalised> {
    read("suricata/eve.json")
        .lines()
        .map(|line| eve_line(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

#[test]
fn each_event_type_maps_to_its_objects() {
    let events = events();
    let expected: [&[&str]; 12] = [
        &[
            "ipv4-addr 10.1.1.7",
            "ipv4-addr 198.51.100.23",
            "network-traffic 10.1.1.7 40000 > 198.51.100.23 53 [ipv4,udp,dns]",
            "domain-name evil.example",
        ],
        &[
            "ipv4-addr 198.51.100.23",
            "ipv4-addr 10.1.1.7",
            "network-traffic 198.51.100.23 53 > 10.1.1.7 40000 [ipv4,udp,dns]",
            "ipv4-addr 203.0.113.66",
            "domain-name evil.example -> 203.0.113.66",
        ],
        &[
            "ipv4-addr 198.51.100.23",
            "ipv4-addr 10.1.1.8",
            "network-traffic 198.51.100.23 53 > 10.1.1.8 41000 [ipv4,udp,dns]",
            "domain-name cdn.example.net",
            "ipv4-addr 192.0.2.10",
            "domain-name www.example.org -> cdn.example.net,192.0.2.10",
        ],
        &[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52200 > 203.0.113.66 80 [ipv4,tcp,http] GET /payload.exe",
            "url http://evil.example/payload.exe",
            "domain-name evil.example",
        ],
        &[
            "ipv4-addr 10.1.1.6",
            "ipv4-addr 192.0.2.80",
            "network-traffic 10.1.1.6 52300 > 192.0.2.80 8080 [ipv4,tcp,http] POST /search?q=a",
            "url http://www.example.org:8080/search?q=a",
            "domain-name www.example.org",
        ],
        &[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52100 > 203.0.113.66 443 [ipv4,tcp,tls]",
            "domain-name evil.example",
            "x509-certificate SHA-1:948aa572 serial=04:a1:b2:c3:d4:e5:f6 subject=CN=evil.example",
        ],
        &[
            "ipv4-addr 10.1.1.6",
            "ipv4-addr 192.0.2.90",
            "network-traffic 10.1.1.6 52400 > 192.0.2.90 443 [ipv4,tcp,tls]",
            "domain-name www.example.org",
            "x509-certificate SHA-1:d990260b serial=0a:0b:0c subject=CN=www.example.org",
        ],
        &[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52100 > 203.0.113.66 443 [ipv4,tcp,tls]",
        ],
        &[
            "ipv6-addr 2001:db8::5",
            "ipv6-addr 2001:db8:ffff::80",
            "network-traffic 2001:db8::5 51000 > 2001:db8:ffff::80 80 [ipv6,tcp,http]",
        ],
        &[
            "ipv4-addr 203.0.113.66",
            "ipv4-addr 10.1.1.5",
            "network-traffic 203.0.113.66 80 > 10.1.1.5 52200 [ipv4,tcp,http] GET /payload.exe",
            "url http://evil.example/payload.exe",
            "domain-name evil.example",
            "file payload.exe MD5:b8ca975b,SHA-1:221c84f2,SHA-256:a934d8d2",
        ],
        &[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52200 > 203.0.113.66 80 [ipv4,tcp,http] GET /payload.exe",
            "url http://evil.example/payload.exe",
            "domain-name evil.example",
        ],
        &[
            "ipv4-addr 10.1.1.9",
            "ipv4-addr 192.0.2.200",
            "network-traffic 10.1.1.9 - > 192.0.2.200 - [ipv4,icmp]",
        ],
    ];
    assert_eq!(events.len(), expected.len());
    for (i, (event, expected)) in events.iter().zip(expected).enumerate() {
        assert_eq!(summary(event), lines(expected), "line {}", i + 1);
        assert_valid_objects(event);
    }
    let sources: Vec<String> = events.iter().map(|e| e.source.to_string()).collect();
    assert_eq!(sources[0], "suricata.dns");
    assert_eq!(sources[9], "suricata.fileinfo");
    assert_eq!(events[2].at.to_string(), "2024-03-10T12:00:04.250000Z");
}

#[test]
fn details_and_what_stays_unmapped() {
    let events = events();
    // The answer's TTL stays; the answer itself became an object. The TXT answer stays whole.
    assert_eq!(
        events[1].unmapped.to_map()["dns"]["answers"],
        json!([{"ttl": 300}])
    );
    assert!(events[1].unmapped.to_map()["dns"].get("grouped").is_none());
    assert_eq!(
        events[2].unmapped.to_map()["dns"]["answers"],
        json!([{"ttl": 60}, {"ttl": 60}, {"rrname": "example.org", "rrtype": "TXT", "ttl": 60, "rdata": "v=spf1 -all"}])
    );
    let certificate = events[5]
        .objects
        .iter()
        .find(|o| o["type"] == "x509-certificate")
        .expect("a certificate");
    assert_eq!(certificate["issuer"], "CN=Evil CA, O=Evil Corp");
    assert_eq!(
        certificate["validity_not_after"],
        "2025-01-01T00:00:00.000000Z"
    );
    assert_eq!(
        events[5].unmapped.to_map()["tls"]["ja3"]["hash"],
        "e7d705a3286e19ea42f587b344ee6865"
    );
    assert_eq!(events[5].unmapped.to_map()["tls"]["version"], "TLS 1.2");
    let flow = events[7]
        .objects
        .iter()
        .find(|o| o["type"] == "network-traffic")
        .expect("a connection");
    assert_eq!(flow["start"], "2024-03-10T12:00:00.123456Z");
    assert_eq!(flow["end"], "2024-03-10T12:00:12.623456Z");
    assert_eq!(
        (&flow["src_byte_count"], &flow["dst_packets"]),
        (&json!(2064), &json!(45))
    );
    assert_eq!(events[7].unmapped.to_map()["flow"]["reason"], "timeout");
    assert_eq!(events[7].unmapped.to_map()["tcp"]["tcp_flags"], "1b");
    assert_eq!(events[7].unmapped.to_map()["flow_id"], 1234567890123456u64);
    assert_eq!(
        events[9].unmapped.to_map()["fileinfo"]["magic"],
        "PE32 executable (GUI) Intel 80386, for MS Windows"
    );
    assert_eq!(
        events[10].unmapped.to_map()["alert"]["signature_id"],
        2019714
    );
    assert_eq!(events[11].unmapped.to_map()["icmp_type"], 8);
}

#[test]
fn indicators_hit_the_expected_events() {
    let mut indicators = Indicators::load();
    let expected: [&[&str]; 12] = [
        &["c2-domain", "resolver-dns"],
        &["c2-domain", "c2-ip", "c2-resolution"],
        &["test-net-1"],
        &["c2-domain", "c2-ip", "evilbot-agent", "payload-url"],
        &["test-net-1"],
        &["c2-cert-sha1", "c2-domain", "c2-ip", "c2-tls"],
        &["test-net-1"],
        &["c2-ip", "c2-tls"],
        &["web-ipv6"],
        &[
            "c2-domain",
            "c2-ip",
            "evilbot-agent",
            "payload-md5",
            "payload-sha256",
            "payload-url",
        ],
        &["c2-domain", "c2-ip", "evilbot-agent", "payload-url"],
        &["test-net-1"],
    ];
    for (i, (event, hits)) in events().iter().zip(expected).enumerate() {
        assert_eq!(indicators.hits(event), lines(hits), "line {}", i + 1);
    }
}

#[test]
fn refused_events_say_why() {
    let cases = [
        (
            r#"{"event_type":"stats","timestamp":"2024-03-10T12:00:00+0000","stats":{}}"#,
            "unsupported",
            "no mapping for suricata event type `stats`",
        ),
        (
            r#"{"event_type":"dns","dns":{}}"#,
            "missing_field",
            "missing field `timestamp`",
        ),
        (
            r#"{"event_type":"dns","timestamp":"2024-03-10 12:00","src_ip":"10.0.0.1"}"#,
            "bad_time",
            "field `timestamp`: `2024-03-10 12:00` is not a number of seconds since the Unix epoch",
        ),
        (
            r#"{"event_type":"flow","timestamp":"2024-03-10T12:00:00+0000","src_ip":"10.0.0.1","dest_ip":"host"}"#,
            "bad_value",
            "field `dest_ip`: `host` is not an IP address",
        ),
        (
            r#"{"event_type":"flow","timestamp":"2024-03-10T12:00:00+0000"}"#,
            "no_observables",
            "the event holds no cyber-observable",
        ),
        (
            "[]",
            "json",
            "a JSON payload must be an object, not an array",
        ),
        ("   ", "empty", "the payload is empty"),
    ];
    for (line, reason, message) in cases {
        let e = eve_line(line).unwrap_err();
        assert_eq!(
            (e.reason(), e.to_string().as_str()),
            (reason, message),
            "{line}"
        );
    }
}
