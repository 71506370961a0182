//! Syslog samples in every framing, through a mapping to the matcher.

use detect::normalise::Mapping;
use detect::syslog::framing::datagram;
use detect::syslog::{self, FrameDecoder, Framing, SyslogFormat};
use detect::Payload;

use crate::common::{at, lines, read, read_bytes, summary, Indicators};

/// Cuts a sample stream into frames, reading it in pieces of a few bytes as a socket would.
fn frames(path: &str, framing: Framing) -> Vec<Vec<u8>> {
    let mut decoder = FrameDecoder::new(framing, 64 * 1024);
    let mut out = Vec::new();
    for piece in read_bytes(path).chunks(7) {
        decoder.push(piece);
        while let Some(frame) = decoder.next_frame() {
            out.push(frame.expect("well-formed frames").to_vec());
        }
    }
    if let Some(last) = decoder.finish() {
        out.push(last.expect("a complete last line"));
    }
    out
}

fn firewall() -> Mapping {
    Mapping::from_toml(&read("mapping/firewall.toml")).expect("the sample mapping loads")
}

/// Parses, maps and matches each frame; returns (time, summary, hits) per message.
fn run(frames: &[Vec<u8>]) -> Vec<(String, Vec<String>, Vec<String>)> {
    let received = at("2024-03-10T12:30:00Z");
    let mapping = firewall();
    let mut indicators = Indicators::load();
    frames
        .iter()
        .map(|frame| {
            let message = syslog::parse(frame, received).expect("a syslog message");
            let payload = Payload::parse(&message.msg).expect("key=value pairs");
            let event = mapping
                .normalise(payload, message.timestamp.unwrap_or(received))
                .expect("maps");
            (
                event.at.to_string(),
                summary(&event),
                indicators.hits(&event),
            )
        })
        .collect()
}

#[test]
fn rfc5424_counted_and_line_framed_alike() {
    let counted = frames("syslog/rfc5424.octets", Framing::OctetCounting);
    let lined = frames("syslog/rfc5424.lines", Framing::NonTransparent);
    let detected = frames("syslog/rfc5424.octets", Framing::Detect);
    assert_eq!(counted.len(), 3);
    assert_eq!(counted, lined);
    assert_eq!(counted, detected);
    let results = run(&counted);
    assert_eq!(
        results[0],
        (
            "2024-03-10T12:00:05.000000Z".to_owned(),
            lines(&[
                "ipv4-addr 10.1.1.5",
                "ipv4-addr 203.0.113.66",
                "network-traffic 10.1.1.5 52100 > 203.0.113.66 443 [ipv4,tcp]",
            ]),
            lines(&["c2-ip", "c2-tls"]),
        )
    );
    assert_eq!(results[1].0, "2024-03-10T12:00:06.250000Z");
    assert_eq!(results[1].2, lines(&["test-net-1"]));
    assert_eq!(results[2].2, lines(&["web-ipv6"]));

    let message = syslog::parse(&counted[0], at("2024-03-10T12:30:00Z")).unwrap();
    assert_eq!((message.facility, message.severity), (16, 6));
    assert_eq!(
        (
            message.hostname,
            message.app_name,
            message.proc_id,
            message.msg_id
        ),
        (Some("fw01"), Some("filterlog"), Some("3412"), Some("block"))
    );
    assert_eq!(message.structured_data.len(), 2);
    assert_eq!(
        message.structured_data[0].params[0],
        ("ip", "10.1.1.1".into())
    );
    // The BOM before a UTF-8 MSG is not part of it; escaped quotes are unescaped.
    let third = syslog::parse(&counted[2], at("2024-03-10T12:30:00Z")).unwrap();
    let payload = Payload::parse(&third.msg).unwrap();
    assert_eq!(payload.fields["note"], "quoted \"value\" here");
}

#[test]
fn rfc3164_lines() {
    let framed = frames("syslog/rfc3164.lines", Framing::Detect);
    assert_eq!(framed.len(), 3);
    let message = syslog::parse(&framed[2], at("2024-03-10T12:30:00Z")).unwrap();
    assert_eq!(message.format, SyslogFormat::Rfc3164);
    assert_eq!(
        (message.hostname, message.app_name),
        (None, Some("filterlog"))
    );
    let results = run(&framed);
    let times: Vec<&str> = results.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        times,
        [
            "2024-03-10T12:00:05.000000Z",
            "2024-03-10T12:00:06.000000Z",
            "2024-03-09T23:59:59.000000Z"
        ]
    );
    let hits: Vec<Vec<String>> = results.into_iter().map(|r| r.2).collect();
    assert_eq!(
        hits,
        [
            lines(&["c2-ip", "c2-tls"]),
            lines(&["test-net-1"]),
            lines(&["resolver-dns"])
        ]
    );
}

#[test]
fn udp_datagrams() {
    let rfc5424 = read_bytes("syslog/udp/rfc5424.dgram");
    let rfc3164 = read_bytes("syslog/udp/rfc3164.dgram");
    let messages = [datagram(&rfc5424).to_vec(), datagram(&rfc3164).to_vec()];
    let results = run(&messages);
    assert_eq!(results[0].2, lines(&["c2-ip", "c2-tls"]));
    assert_eq!(results[0].1, results[1].1);
    assert_eq!(results[0].0, results[1].0);
}
