//! Zeek logs in both forms: the same objects from TSV and JSON, the expected objects for
//! each sample line, and the expected indicator hits.

use detect::normalise::zeek::{json_line, ZeekLog, ZeekTsv};
use detect::{NormaliseError, Normalised};
use serde_json::json;

use crate::common::{assert_valid_objects, lines, read, summary, Indicators};

const LOGS: [ZeekLog; 6] = [
    ZeekLog::Conn,
    ZeekLog::Dns,
    ZeekLog::Http,
    ZeekLog::Ssl,
    ZeekLog::Files,
    ZeekLog::X509,
];

fn tsv(log: ZeekLog) -> Vec<Normalised> {
    let mut reader = ZeekTsv::new();
    read(&format!("zeek/tsv/{}.log", log.name()))
        .lines()
        .filter_map(|line| reader.line(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

fn json(log: ZeekLog) -> Vec<Normalised> {
    read(&format!("zeek/json/{}.log", log.name()))
        .lines()
        .map(|line| json_line(line, Some(log)).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

#[test]
fn tsv_and_json_give_the_same_objects() {
    for log in LOGS {
        let (from_tsv, from_json) = (tsv(log), json(log));
        assert!(!from_tsv.is_empty());
        for (a, b) in from_tsv.iter().zip(&from_json) {
            assert_eq!(a.at, b.at, "{log:?}");
            assert_eq!(a.objects, b.objects, "{log:?}");
            assert_eq!(a.source.to_string(), format!("zeek.{}", log.name()));
            let keys = |n: &Normalised| n.unmapped.to_map().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(b), "{log:?}");
            assert_valid_objects(a);
        }
    }
}

#[test]
fn conn() {
    let events = tsv(ZeekLog::Conn);
    let expected = [
        vec![
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52100 > 203.0.113.66 443 [ipv4,tcp,tls]",
        ],
        vec![
            "ipv4-addr 10.1.1.7",
            "ipv4-addr 198.51.100.23",
            "network-traffic 10.1.1.7 40000 > 198.51.100.23 53 [ipv4,udp,dns]",
        ],
        vec![
            "ipv6-addr 2001:db8::5",
            "ipv6-addr 2001:db8:ffff::80",
            "network-traffic 2001:db8::5 51000 > 2001:db8:ffff::80 80 [ipv6,tcp,http]",
        ],
        vec![
            "ipv4-addr 10.1.1.9",
            "ipv4-addr 192.0.2.200",
            "network-traffic 10.1.1.9 8 > 192.0.2.200 0 [ipv4,icmp]",
        ],
    ];
    assert_eq!(events.len(), expected.len());
    for (event, expected) in events.iter().zip(expected) {
        assert_eq!(summary(event), lines(&expected));
    }
    let traffic = events[0]
        .objects
        .iter()
        .find(|o| o["type"] == "network-traffic")
        .expect("a connection");
    assert_eq!(traffic["start"], "2024-03-10T12:00:00.123456Z");
    assert_eq!(traffic["end"], "2024-03-10T12:00:12.623456Z");
    assert_eq!(traffic["is_active"], false);
    assert_eq!(
        (&traffic["src_byte_count"], &traffic["dst_byte_count"]),
        (&json!(1024), &json!(56000))
    );
    assert_eq!(
        (&traffic["src_packets"], &traffic["dst_packets"]),
        (&json!(20), &json!(45))
    );
    // What no object took stays, typed as the `#types` header says.
    let unmapped = &events[0].unmapped.to_map();
    assert_eq!(unmapped["uid"], "CHhAvVGS1DHFjwGM9");
    assert_eq!(unmapped["local_orig"], true);
    assert_eq!(unmapped["resp_ip_bytes"], 58340);
    assert_eq!(unmapped["tunnel_parents"], json!([]));
    assert!(!unmapped.contains_key("ts") && !unmapped.contains_key("duration"));
    // Unset fields carry nothing and are not kept.
    assert!(!events[3].unmapped.to_map().contains_key("duration"));
    assert!(events[3].objects.iter().all(|o| o.get("end").is_none()));
}

#[test]
fn dns() {
    let events = tsv(ZeekLog::Dns);
    let flow = |src: &str, port: u16| {
        vec![
            format!("ipv4-addr {src}"),
            "ipv4-addr 198.51.100.23".to_owned(),
            format!("network-traffic {src} {port} > 198.51.100.23 53 [ipv4,udp,dns]"),
        ]
    };
    let mut first = flow("10.1.1.7", 40000);
    first.extend([
        "ipv4-addr 203.0.113.66".to_owned(),
        "domain-name evil.example -> 203.0.113.66".to_owned(),
    ]);
    let mut second = flow("10.1.1.8", 41000);
    second.extend([
        "domain-name cdn.example.net".to_owned(),
        "ipv4-addr 192.0.2.10".to_owned(),
        "domain-name www.example.org -> cdn.example.net,192.0.2.10".to_owned(),
    ]);
    let mut third = flow("10.1.1.8", 41001);
    third.push("domain-name example.org".to_owned());
    let mut fourth = flow("10.1.1.8", 41002);
    fourth.push("domain-name nosuch.example".to_owned());
    for (event, mut expected) in events.iter().zip([first, second, third, fourth]) {
        expected.sort();
        assert_eq!(summary(event), expected);
    }
    // A TXT answer is no observable: the answers stay, unescaped, with the event.
    assert_eq!(
        events[2].unmapped.to_map()["answers"],
        json!(["TXT 17 v=spf1\t-all"])
    );
    assert!(!events[0].unmapped.to_map().contains_key("answers"));
    assert_eq!(events[3].unmapped.to_map()["rcode_name"], "NXDOMAIN");
}

#[test]
fn http() {
    let events = tsv(ZeekLog::Http);
    assert_eq!(
        summary(&events[0]),
        lines(&[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52200 > 203.0.113.66 80 [ipv4,tcp,http] GET /payload.exe",
            "url http://evil.example/payload.exe",
            "domain-name evil.example",
        ])
    );
    let traffic = events[0]
        .objects
        .iter()
        .find(|o| o["type"] == "network-traffic")
        .expect("a connection");
    assert_eq!(
        traffic["extensions"]["http-request-ext"],
        json!({
            "request_method": "GET",
            "request_value": "/payload.exe",
            "request_version": "http/1.1",
            "request_header": {"Host": "evil.example", "User-Agent": "EvilBot/1.0"}
        })
    );
    // A target holding a tab makes no URL; the host's port is not part of the name.
    assert_eq!(
        summary(&events[1]),
        lines(&[
            "ipv4-addr 10.1.1.6",
            "ipv4-addr 192.0.2.80",
            "network-traffic 10.1.1.6 52300 > 192.0.2.80 8080 [ipv4,tcp,http] POST /search?q=a\tb",
            "domain-name www.example.org",
        ])
    );
    // A host given as an address is the server's address, once.
    assert_eq!(
        summary(&events[2]),
        lines(&[
            "ipv4-addr 10.1.1.6",
            "ipv4-addr 192.0.2.81",
            "network-traffic 10.1.1.6 52301 > 192.0.2.81 80 [ipv4,tcp,http] GET /index.html",
            "url http://192.0.2.81/index.html",
        ])
    );
    assert_eq!(events[2].unmapped.to_map()["status_msg"], "Not Found");
}

#[test]
fn ssl() {
    let events = tsv(ZeekLog::Ssl);
    assert_eq!(
        summary(&events[0]),
        lines(&[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52100 > 203.0.113.66 443 [ipv4,tcp,tls]",
            "domain-name evil.example",
            "x509-certificate SHA-256:a4bce3b2 serial=- subject=CN=evil.example",
        ])
    );
    let certificate = events[0]
        .objects
        .iter()
        .find(|o| o["type"] == "x509-certificate")
        .expect("a certificate");
    assert_eq!(certificate["issuer"], "CN=Evil CA,O=Evil Corp");
    // The chain's other certificates stay with the event.
    assert_eq!(
        events[1].unmapped.to_map()["cert_chain_fps"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(!events[0].unmapped.to_map().contains_key("cert_chain_fps"));
}

#[test]
fn files() {
    let from_tsv = tsv(ZeekLog::Files);
    assert_eq!(
        summary(&from_tsv[0]),
        lines(&[
            "ipv4-addr 10.1.1.5",
            "ipv4-addr 203.0.113.66",
            "network-traffic 10.1.1.5 52200 > 203.0.113.66 80 [ipv4]",
            "file payload.exe MD5:b8ca975b,SHA-1:221c84f2,SHA-256:a934d8d2",
        ])
    );
    let file = from_tsv[0]
        .objects
        .iter()
        .find(|o| o["type"] == "file")
        .expect("a file");
    assert_eq!(
        (&file["size"], &file["mime_type"]),
        (&json!(48213), &json!("application/x-dosexec"))
    );
    assert_eq!(
        summary(&from_tsv[1]),
        lines(&[
            "ipv4-addr 10.1.1.6",
            "ipv4-addr 192.0.2.90",
            "network-traffic 10.1.1.6 52500 > 192.0.2.90 443 [ipv4]",
            "file - SHA-256:845e9183",
        ])
    );
    // Zeek before 5.0 named the hosts instead of the connection.
    let old = &json(ZeekLog::Files)[2];
    assert_eq!(
        summary(old),
        lines(&[
            "ipv4-addr 203.0.113.66",
            "ipv4-addr 10.1.1.5",
            "file update.zip MD5:b8ca975b"
        ])
    );
    assert_eq!(old.unmapped.to_map()["conn_uids"], json!(["Cold1x2Yz"]));
}

#[test]
fn x509() {
    let events = tsv(ZeekLog::X509);
    assert_eq!(
        summary(&events[0]),
        lines(&[
            "x509-certificate SHA-256:a4bce3b2 serial=04:a1:b2:c3:d4:e5:f6 subject=CN=evil.example",
            "domain-name evil.example",
        ])
    );
    let certificate = &events[0].objects[1];
    assert_eq!(
        certificate["validity_not_before"],
        "2024-01-01T00:00:00.000000Z"
    );
    assert_eq!(
        certificate["validity_not_after"],
        "2025-01-01T00:00:00.000000Z"
    );
    assert_eq!(
        certificate["signature_algorithm"],
        "sha256WithRSAEncryption"
    );
    assert_eq!(certificate["subject_public_key_algorithm"], "rsaEncryption");
    assert_eq!(
        certificate["x509_v3_extensions"]["subject_alternative_name"],
        "DNS:evil.example, DNS:*.evil.example, IP Address:203.0.113.66"
    );
    assert_eq!(events[0].unmapped.to_map()["certificate.key_length"], 2048);
    assert_eq!(
        summary(&events[1]),
        lines(&[
            "x509-certificate SHA-256:69f54aa8 serial=0a:0b:0c subject=CN=www.example.org",
            "domain-name www.example.org",
            "domain-name example.org",
        ])
    );
}

#[test]
fn indicators_hit_the_expected_events() {
    let mut indicators = Indicators::load();
    let expected: [(ZeekLog, &[&[&str]]); 6] = [
        (
            ZeekLog::Conn,
            &[
                &["c2-ip", "c2-tls"],
                &["resolver-dns"],
                &["web-ipv6"],
                &["test-net-1"],
            ],
        ),
        (
            ZeekLog::Dns,
            &[
                &["c2-domain", "c2-ip", "c2-resolution", "resolver-dns"],
                &["resolver-dns", "test-net-1"],
                &["resolver-dns"],
                &["resolver-dns"],
            ],
        ),
        (
            ZeekLog::Http,
            &[
                &["c2-domain", "c2-ip", "evilbot-agent", "payload-url"],
                &["test-net-1"],
                &["test-net-1"],
            ],
        ),
        (
            ZeekLog::Ssl,
            &[
                &["c2-cert-sha256", "c2-domain", "c2-ip", "c2-tls"],
                &["test-net-1"],
            ],
        ),
        (
            ZeekLog::Files,
            &[
                &["c2-ip", "payload-md5", "payload-sha256"],
                &["test-net-1"],
                &["c2-ip", "payload-md5"],
            ],
        ),
        (ZeekLog::X509, &[&["c2-cert-sha256", "c2-domain"], &[]]),
    ];
    for (log, per_line) in expected {
        let events = json(log);
        assert_eq!(events.len(), per_line.len(), "{log:?}");
        for (i, (event, hits)) in events.iter().zip(per_line).enumerate() {
            assert_eq!(
                indicators.hits(event),
                lines(hits),
                "{log:?} line {}",
                i + 1
            );
        }
    }
}

#[test]
fn refused_lines_say_why() {
    let mut reader = ZeekTsv::new();
    for line in read("zeek/tsv/conn.log").lines().take(8) {
        assert_eq!(reader.line(line).unwrap(), None);
    }
    let cases = [
        ("1710072000.1\tC1\t10.1.1.5", "zeek: the line has 3 fields where `#fields` names 21"),
        (
            "yesterday\tC1\t10.1.1.5\t1\t10.0.0.1\t2\ttcp\t-\t-\t-\t-\tSF\tT\tF\t0\t-\t1\t1\t1\t1\t(empty)",
            "field `ts`: `yesterday` is not a number of seconds since the Unix epoch",
        ),
        (
            "1710072000.1\tC1\t10.1.1.500\t1\t10.0.0.1\t2\ttcp\t-\t-\t-\t-\tSF\tT\tF\t0\t-\t1\t1\t1\t1\t(empty)",
            "field `id.orig_h`: `10.1.1.500` is not an IP address",
        ),
        (
            "1710072000.1\tC1\t10.1.1.5\t1\t-\t2\ttcp\t-\t-\t-\t-\tSF\tT\tF\t0\t-\t1\t1\t1\t1\t(empty)",
            "missing field `id.resp_h`",
        ),
        ("", "the payload is empty"),
    ];
    for (line, message) in cases {
        assert_eq!(
            reader.line(line).unwrap_err().to_string(),
            message,
            "{line}"
        );
    }
    let mut weird = ZeekTsv::new();
    weird.line("#path\tweird").unwrap();
    weird.line("#fields\tts\tname").unwrap();
    let e = weird.line("1710072000.1\tbad_TCP_checksum").unwrap_err();
    assert_eq!(
        (e.reason(), e.to_string().as_str()),
        ("unsupported", "no mapping for zeek log `weird`")
    );
    assert_eq!(
        json_line(r#"{"ts":1710072000.1}"#, None).unwrap_err(),
        NormaliseError::MissingField("_path".to_owned())
    );
    assert_eq!(
        json_line(r#"{"ts":1710072000.1,"_path":"files","fuid":"F1"}"#, None)
            .unwrap_err()
            .to_string(),
        "the event holds no cyber-observable"
    );
    assert_eq!(
        json_line(r#"{"ts":1710072000.1,"_path":"conn""#, None)
            .unwrap_err()
            .to_string(),
        "JSON payload, line 1 column 33: EOF while parsing an object"
    );
}
