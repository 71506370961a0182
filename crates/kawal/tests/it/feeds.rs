//! Protection feeds on the real binary: each organisation's feeds carry exactly the indicators
//! it may use under the TLP and relay rules, revocation takes effect, and caching answers
//! `If-None-Match`.

use std::collections::BTreeSet;
use std::path::Path;

use stix::tlp;

use crate::harness::*;

fn indicator(
    n: u32,
    pattern: &str,
    marking: Option<&str>,
    modified: &str,
    revoked: bool,
) -> String {
    let markings = marking
        .map(|m| format!(r#","object_marking_refs":["{m}"]"#))
        .unwrap_or_default();
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--{n:08x}-0000-4000-8000-000000000000","created":"2024-01-01T00:00:00.000Z","modified":"{modified}","name":"indicator {n}","pattern":"{pattern}","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","revoked":{revoked}{markings}}}"#
    )
}

fn ip(n: u32, last: u8, marking: Option<&str>) -> String {
    indicator(
        n,
        &format!("[ipv4-addr:value = '198.51.100.{last}']"),
        marking,
        "2024-01-01T00:00:00.000Z",
        false,
    )
}

struct Community {
    _server: Binary,
    base: String,
    /// Analyst tokens of A, B and C, and of the instance's own organisation.
    a: String,
    b: String,
    c: String,
    instance: String,
    c_sensor: String,
    shared: String,
    pair: String,
    public: String,
}

fn token(data: &Path, org: &str, role: &str) -> String {
    cli(
        data,
        &["admin", "token", "add", "--org", org, "--role", role],
    )
    .trim()
    .to_owned()
}

fn collection(data: &Path, title: &str, group: &str, extra: &[&str]) -> String {
    let mut args = vec!["admin", "collection", "add", title, "--group", group];
    args.extend_from_slice(extra);
    cli(data, &args).trim().to_owned()
}

fn community(data: &Path) -> Community {
    let server = Binary::serve(data);
    for org in ["A", "B", "C"] {
        cli(data, &["admin", "org", "add", org]);
    }
    cli(data, &["admin", "group", "add", "abc", "--orgs", "A,B,C"]);
    cli(data, &["admin", "group", "add", "ab", "--orgs", "A,B"]);
    cli(data, &["admin", "group", "add", "a", "--orgs", "A"]);
    Community {
        base: server.base.clone(),
        shared: collection(data, "Shared", "abc", &["--default-tlp", "amber"]),
        pair: collection(data, "Pair", "ab", &[]),
        public: collection(data, "Public", "a", &["--public", "--default-tlp", "clear"]),
        a: token(data, "A", "analyst"),
        b: token(data, "B", "analyst"),
        c: token(data, "C", "reader"),
        instance: token(data, "Kawal instance", "admin"),
        c_sensor: token(data, "C", "sensor"),
        _server: server,
    }
}

fn share(c: &Community, collection: &str, token: &str, objects: &[String], recipients: &str) {
    let url = format!("{}/kawal/collections/{collection}/objects/", c.base);
    let body = format!(r#"{{"objects":[{}]}}"#, objects.join(","));
    let extra: Vec<(&str, &str)> = if recipients.is_empty() {
        Vec::new()
    } else {
        vec![("X-Kawal-Recipients", recipients)]
    };
    let reply = post(&url, token, &body, &extra);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let status = reply.json();
    assert_eq!(status["failure_count"], 0, "{}", reply.body);
}

fn fetch(c: &Community, token: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let auth = bearer(token);
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    call("GET", &format!("{}/api/feeds/{path}", c.base), &all, None)
}

fn lines(reply: &Reply) -> BTreeSet<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body.lines().map(str::to_owned).collect()
}

fn addresses(lasts: &[u8]) -> BTreeSet<String> {
    lasts.iter().map(|n| format!("198.51.100.{n}")).collect()
}

#[test]
fn each_organisation_gets_exactly_what_it_may_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = community(&data);

    share(
        &c,
        &c.shared,
        &c.a,
        &[
            ip(1, 1, Some(tlp::TLP2_CLEAR)),
            ip(2, 2, Some(tlp::TLP2_GREEN)),
            ip(3, 3, Some(tlp::TLP2_AMBER)),
            ip(4, 4, Some(tlp::TLP2_AMBER_STRICT)),
            ip(6, 6, None),
            ip(10, 10, Some(tlp::TLP2_CLEAR)),
        ],
        "",
    );
    share(&c, &c.shared, &c.a, &[ip(5, 5, Some(tlp::TLP2_RED))], "B");
    share(
        &c,
        &c.pair,
        &c.a,
        &[indicator(
            20,
            "[domain-name:value = 'pair.example'] OR [file:name = 'x.exe']",
            Some(tlp::TLP2_AMBER),
            "2024-01-01T00:00:00.000Z",
            false,
        )],
        "",
    );
    share(&c, &c.pair, &c.b, &[ip(7, 7, Some(tlp::TLP2_RED))], "");
    share(
        &c,
        &c.public,
        &c.a,
        &[
            ip(8, 8, Some(tlp::TLP2_CLEAR)),
            ip(9, 9, Some(tlp::TLP2_GREEN)),
        ],
        "",
    );

    let expected = [
        (&c.a, &[1, 2, 3, 4, 5, 6, 8, 9, 10][..], true),
        (&c.b, &[1, 2, 3, 4, 5, 6, 7, 8, 10][..], true),
        (&c.c, &[1, 2, 3, 4, 6, 8, 10][..], false),
        (&c.c_sensor, &[1, 2, 3, 4, 6, 8, 10][..], false),
        (&c.instance, &[8][..], false),
    ];
    for (token, lasts, pair) in expected {
        let feed = fetch(&c, token, "ip", &[]);
        assert_eq!(feed.content_type, "text/plain; charset=utf-8");
        assert_eq!(lines(&feed), addresses(lasts), "ip feed of {token}");
        let domains = lines(&fetch(&c, token, "domain", &[]));
        assert_eq!(
            domains.contains("pair.example"),
            pair,
            "domain feed of {token}"
        );
        let rules = fetch(&c, token, "suricata?action=drop", &[]);
        assert_eq!(rules.status, 200, "{}", rules.body);
        for n in 1..=10u8 {
            assert_eq!(
                rules.body.contains(&format!("[198.51.100.{n}]")),
                lasts.contains(&n),
                "rule for 198.51.100.{n} in the suricata feed of {token}:\n{}",
                rules.body
            );
        }
        assert!(rules
            .body
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.starts_with("drop ")));
        let zone = fetch(&c, token, "rpz?policy=nodata", &[]);
        assert_eq!(zone.content_type, "text/dns; charset=utf-8");
        assert_eq!(zone.body.contains("pair.example CNAME *."), pair);
        let sets = fetch(&c, token, "nftables", &[]);
        let elements: BTreeSet<String> = sets
            .body
            .lines()
            .filter_map(|l| l.strip_prefix('\t'))
            .map(|l| l.trim_end_matches(',').to_owned())
            .collect();
        assert_eq!(elements, addresses(lasts), "nftables feed of {token}");
    }
    // The file:name part of indicator 20 cannot be a domain entry; it is counted.
    let a_domains = fetch(&c, &c.a, "domain", &[]);
    assert_eq!(a_domains.header("x-kawal-feed-skipped"), Some("property=1"));
    let commented = lines(&fetch(&c, &c.b, "ip?comments=true&tlp=amber", &[]));
    assert!(commented.contains("198.51.100.3 # indicator--00000003-0000-4000-8000-000000000000"));
    assert!(
        !commented.iter().any(|l| l.starts_with("198.51.100.5")),
        "RED is above amber"
    );

    // Revocation: a new version with `revoked: true` takes the indicator out of every feed.
    let before = fetch(&c, &c.c, "ip", &[]);
    let etag = before.header("etag").unwrap().to_owned();
    let unchanged = fetch(&c, &c.c, "ip", &[("If-None-Match", &etag)]);
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.body, "");
    share(
        &c,
        &c.shared,
        &c.a,
        &[indicator(
            10,
            "[ipv4-addr:value = '198.51.100.10']",
            Some(tlp::TLP2_CLEAR),
            "2024-02-01T00:00:00.000Z",
            true,
        )],
        "",
    );
    for (token, lasts) in [
        (&c.a, &[1, 2, 3, 4, 5, 6, 8, 9][..]),
        (&c.b, &[1, 2, 3, 4, 5, 6, 7, 8][..]),
        (&c.c, &[1, 2, 3, 4, 6, 8][..]),
    ] {
        let after = fetch(&c, token, "ip", &[("If-None-Match", &etag)]);
        assert_eq!(lines(&after), addresses(lasts), "after revocation, {token}");
        assert!(after
            .header("x-kawal-feed-skipped")
            .is_some_and(|s| s.contains("revoked=1")));
    }
}

#[test]
fn feed_requests_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let c = community(&data);
    let anonymous = call("GET", &format!("{}/api/feeds/ip", c.base), &[], None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.content_type, "application/json");
    assert_eq!(anonymous.json()["http_status"], "401");
    for (path, status, fault) in [
        ("csv", 404, "not a feed format"),
        ("ip?action=drop", 400, "applies to the suricata feed only"),
        ("suricata?action=reject", 400, "alert or drop"),
        ("rpz?policy=x", 400, "nxdomain or nodata"),
        ("hash?algorithm=crc32", 400, "not a hash algorithm"),
        ("ip?format=x", 400, "unknown URL parameter"),
    ] {
        let reply = fetch(&c, &c.a, path, &[]);
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert_eq!(reply.content_type, "application/json");
        let error = reply.json();
        assert!(
            error["description"].as_str().unwrap().contains(fault),
            "{path}: {}",
            reply.body
        );
        assert_eq!(error["http_status"], status.to_string());
    }
    let empty = fetch(&c, &c.a, "ip", &[]);
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body, "");
    assert_eq!(empty.header("cache-control"), Some("private, no-cache"));
}
