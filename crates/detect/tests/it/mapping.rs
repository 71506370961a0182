//! Operator mappings: loading with precise errors, NDJSON and `key=value` events.

use detect::event::Payload;
use detect::normalise::{Mapping, MappingConfig};
use serde_json::json;

use crate::common::{assert_valid_objects, at, lines, read, summary, Indicators};

fn edr() -> Mapping {
    Mapping::from_toml(&read("mapping/edr.toml")).expect("the sample mapping loads")
}

#[test]
fn ndjson_events_map_and_match() {
    let mapping = edr();
    let mut indicators = Indicators::load();
    let received = at("2024-03-10T13:00:00Z");
    let events: Vec<_> = read("mapping/edr.ndjson")
        .lines()
        .map(|line| {
            mapping
                .normalise_line(line, received)
                .unwrap_or_else(|e| panic!("{line}: {e}"))
        })
        .collect();
    let expected: [(&str, &[&str], &[&str]); 4] = [
        (
            "2024-03-10T12:01:40.123000Z",
            &["ipv4-addr 10.1.1.5", "file payload.exe SHA-256:a934d8d2"],
            &["payload-sha256"],
        ),
        (
            "2024-03-10T12:01:41.000000Z",
            &[
                "ipv4-addr 10.1.1.5",
                "ipv4-addr 203.0.113.66",
                "network-traffic 10.1.1.5 - > 203.0.113.66 443 [ipv4,tcp]",
            ],
            &["c2-ip", "c2-tls"],
        ),
        (
            "2024-03-10T12:01:42.500000Z",
            &["ipv4-addr 10.1.1.6", "domain-name evil.example"],
            &["c2-domain"],
        ),
        (
            "2024-03-10T12:01:43.000000Z",
            &[
                "ipv4-addr 10.1.1.7",
                "email-addr billing@evil.example",
                "url http://evil.example/payload.exe",
            ],
            &["payload-url", "phish-sender"],
        ),
    ];
    for (event, (time, objects, hits)) in events.iter().zip(expected) {
        assert_eq!(event.at.to_string(), time);
        assert_eq!(summary(event), lines(objects));
        assert_eq!(indicators.hits(event), lines(hits));
        assert_eq!(event.source.to_string(), "mapping.edr");
        assert_valid_objects(event);
    }
    // Mapped leaves leave their objects; what is left of them stays.
    assert_eq!(
        events[0].unmapped.to_map(),
        *json!({
            "event": {"kind": "process", "action": "start"},
            "host": {"name": "ws-05"},
            "process": {"pid": 4242, "file": {"path": "C:\\Users\\alice\\Downloads\\payload.exe"}},
            "user": {"name": "alice"}
        })
        .as_object()
        .unwrap()
    );
}

#[test]
fn key_value_events_and_time_formats() {
    let mapping = Mapping::from_toml(
        r#"
name = "proxy"
[timestamp]
field = "time"
format = "%d/%b/%Y:%H:%M:%S %z"
[fields]
client = "network-traffic:src_ref.value"
host = "domain-name:value"
url = "url:value"
ua = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"
method = "network-traffic:extensions.'http-request-ext'.request_method"
path = "network-traffic:extensions.'http-request-ext'.request_value"
"#,
    )
    .expect("loads");
    let event = mapping
        .normalise_line(
            r#"time="10/Mar/2024:19:00:10 +0700" client=10.1.1.5 host=evil.example method=GET path=/payload.exe url=http://evil.example/payload.exe ua="EvilBot/1.0" bytes=48213"#,
            at("2024-03-10T13:00:00Z"),
        )
        .expect("maps");
    assert_eq!(event.at.to_string(), "2024-03-10T12:00:10.000000Z");
    assert_eq!(
        summary(&event),
        lines(&[
            "ipv4-addr 10.1.1.5",
            "network-traffic 10.1.1.5 - > - - [ipv4] GET /payload.exe",
            "domain-name evil.example",
            "url http://evil.example/payload.exe",
        ])
    );
    assert_eq!(
        event.unmapped.to_map(),
        *json!({"bytes": "48213"}).as_object().unwrap()
    );
    let mut indicators = Indicators::load();
    assert_eq!(
        indicators.hits(&event),
        lines(&["c2-domain", "evilbot-agent", "payload-url"])
    );
    // Without a timestamp section the caller's time is the event's.
    let untimed =
        Mapping::from_toml("name = \"x\"\n[fields]\nq = \"domain-name:value\"\n").unwrap();
    let received = at("2024-03-10T13:00:00Z");
    assert_eq!(
        untimed
            .normalise_line("q=evil.example", received)
            .unwrap()
            .at,
        received
    );
}

#[test]
fn events_that_cannot_be_mapped_say_why() {
    let mapping = edr();
    let received = at("2024-03-10T13:00:00Z");
    let cases = [
        (
            r#"{"host":{"ip":"10.1.1.5"}}"#,
            "missing_field",
            "missing field `event.created`",
        ),
        (
            r#"{"event":{"created":"soon"},"host":{"ip":"10.1.1.5"}}"#,
            "bad_time",
            "field `event.created`: `soon` is not a number of milliseconds since the Unix epoch",
        ),
        (
            r#"{"event":{"created":1},"destination":{"ip":"10.1.1.5","port":70000}}"#,
            "bad_value",
            "field `destination.port`: `70000` is not a port number",
        ),
        (
            r#"{"event":{"created":1},"process":{"file":{"sha256":"abc"}}}"#,
            "bad_value",
            "field `process.file.sha256`: `abc` is not a hash of the algorithm's length in hex",
        ),
        (
            r#"{"event":{"created":1},"other":1}"#,
            "no_observables",
            "the event holds no cyber-observable",
        ),
        (
            "a=1 a=2",
            "key_value",
            "key=value payload, byte 4: key `a` appears twice",
        ),
        (
            "{\"a\":",
            "json",
            "JSON payload, line 1 column 5: EOF while parsing a value",
        ),
    ];
    for (line, reason, message) in cases {
        let e = mapping.normalise_line(line, received).unwrap_err();
        assert_eq!(
            (e.reason(), e.to_string().as_str()),
            (reason, message),
            "{line}"
        );
    }
    let payload = Payload::parse(r#"{"event":{"created":1},"host":{"ip":"10.1.1.5"}}"#).unwrap();
    assert_eq!(
        mapping.normalise(payload, received).unwrap().at.as_micros(),
        1000
    );
}

#[test]
fn configurations_are_checked_when_loaded() {
    let error = |toml: &str| Mapping::from_toml(toml).unwrap_err().to_string();
    assert!(error("name = \"x\"\nfields = 3\n").starts_with("mapping configuration: "));
    assert!(
        error("name = \"x\"\ncolour = \"red\"\n[fields]\na = \"url:value\"\n")
            .contains("unknown field `colour`")
    );
    assert_eq!(
        error("name = \"a b\"\n[fields]\na = \"url:value\"\n"),
        "mapping name `a b`: use 1 to 64 letters, digits, `-`, `_` or `.`"
    );
    assert_eq!(
        error("name = \"x\"\n[fields]\n"),
        "mapping `x`: no field is mapped"
    );
    assert_eq!(
        error("name = \"x\"\n[fields]\nip = \"ipv4-addr\"\n"),
        "mapping `x`: field `ip`: `ipv4-addr` is not an object path: expected `<object type>:<property>`"
    );
    assert!(error("name = \"x\"\n[fields]\nip = \"ipv4-addr:resolves_to_refs\"\n").starts_with(
        "mapping `x`: field `ip`: `ipv4-addr:resolves_to_refs` is not a target a mapping can fill; targets are ipv4-addr:value, "
    ));
    assert!(error("name = \"x\"\n[fields]\nh = \"file:hashes.CRC32\"\n")
        .contains("is not a target a mapping can fill"));
    assert_eq!(
        error("name = \"x\"\n[fields]\na = \"network-traffic:dst_port\"\nb = \"network-traffic:dst_port\"\n"),
        "mapping `x`: fields `a` and `b` both fill `network-traffic:dst_port`, which takes one value"
    );
    assert_eq!(
        error("name = \"x\"\n[timestamp]\nfield = \"t\"\nformat = \"%Y-%Q\"\n[fields]\na = \"url:value\"\n"),
        "mapping `x`: time format `%Y-%Q`: `%Q` at byte 3 is not a supported directive (%Y %m %d %e %b %H %M %S %f %z %s %%)"
    );
    // Several fields may each give an object of a repeatable target.
    let config = MappingConfig {
        name: "two".to_owned(),
        timestamp: None,
        fields: [("a", "domain-name:value"), ("b", "domain-name:value")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let two = Mapping::new(config).unwrap();
    let event = two
        .normalise_line("a=one.example b=two.example", at("2024-03-10T13:00:00Z"))
        .unwrap();
    assert_eq!(
        summary(&event),
        lines(&["domain-name one.example", "domain-name two.example"])
    );
}
