use super::*;

const A: &str = "indicator--0a0a0a0a-0000-4000-8000-000000000001";
const B: &str = "indicator--0b0b0b0b-0000-4000-8000-000000000002";
const C: &str = "indicator--0c0c0c0c-0000-4000-8000-000000000003";

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn now() -> Timestamp {
    at("2025-01-01T00:00:00Z")
}

fn indicator(id: &str, name: &str, pattern: &str) -> Indicator {
    Indicator {
        id: id.to_owned(),
        name: Some(name.to_owned()),
        modified: at("2024-05-01T00:00:00Z"),
        valid_from: Some(at("2024-01-01T00:00:00Z")),
        valid_until: None,
        revoked: false,
        tlp: Tlp::Green,
        pattern: IndicatorPattern::Stix(pattern::parse(pattern).unwrap()),
    }
}

fn feed(format: Format, options: &Options, indicators: &[Indicator]) -> Feed {
    generate(format, options, indicators, now())
}

fn skipped(pairs: &[(Skip, usize)]) -> BTreeMap<Skip, usize> {
    pairs.iter().copied().collect()
}

fn sample() -> Vec<Indicator> {
    vec![
        indicator(
            A,
            "C2 servers",
            "[ipv4-addr:value = '198.51.100.7'] OR [ipv6-addr:value = '2001:DB8::1'] OR [ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        ),
        indicator(
            B,
            "Phishing kit",
            "[domain-name:value = 'Login.Evil.Example'] OR [url:value = 'http://evil.example/kit.php?u=1;x'] OR [ipv4-addr:value = '198.51.100.7']",
        ),
        indicator(
            C,
            "Dropper",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
        ),
    ]
}

#[test]
fn ip_list_is_sorted_deduplicated_and_optionally_commented() {
    let plain = feed(Format::Ip, &Options::default(), &sample());
    assert_eq!(plain.body, "10.0.0.0/8\n198.51.100.7\n2001:db8::1\n");
    assert_eq!((plain.entries, plain.indicators), (3, 2));
    let commented = feed(
        Format::Ip,
        &Options {
            comments: true,
            ..Options::default()
        },
        &sample(),
    );
    assert_eq!(
        commented.body,
        format!("10.0.0.0/8 # {A}\n198.51.100.7 # {A} {B}\n2001:db8::1 # {A}\n")
    );
}

#[test]
fn domain_url_and_hash_lists() {
    let options = Options::default();
    assert_eq!(
        feed(Format::Domain, &options, &sample()).body,
        "login.evil.example\n"
    );
    assert_eq!(
        feed(Format::Url, &options, &sample()).body,
        "http://evil.example/kit.php?u=1;x\n"
    );
    assert_eq!(
        feed(Format::Hash, &options, &sample()).body,
        "md5 d41d8cd98f00b204e9800998ecf8427e\n\
         sha256 aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f\n"
    );
    let md5 = feed(
        Format::Hash,
        &Options {
            algorithm: Some(HashAlgorithm::Md5),
            comments: true,
            ..Options::default()
        },
        &sample(),
    );
    assert_eq!(
        md5.body,
        format!("d41d8cd98f00b204e9800998ecf8427e # {C}\n")
    );
}

#[test]
fn revoked_expired_and_future_indicators_are_left_out_and_counted() {
    let mut revoked = indicator(A, "a", "[ipv4-addr:value = '198.51.100.1']");
    revoked.revoked = true;
    let mut expired = indicator(B, "b", "[ipv4-addr:value = '198.51.100.2']");
    expired.valid_until = Some(now());
    let mut future = indicator(C, "c", "[ipv4-addr:value = '198.51.100.3']");
    future.valid_from = Some(at("2025-02-01T00:00:00Z"));
    let mut current = indicator(
        "indicator--0d0d0d0d-0000-4000-8000-000000000004",
        "d",
        "[ipv4-addr:value = '198.51.100.4']",
    );
    current.valid_until = Some(at("2025-03-01T00:00:00Z"));
    let got = feed(
        Format::Ip,
        &Options::default(),
        &[revoked, expired, future, current],
    );
    assert_eq!(got.body, "198.51.100.4\n");
    assert_eq!(
        got.skipped,
        skipped(&[
            (Skip::Revoked, 1),
            (Skip::Expired, 1),
            (Skip::NotYetValid, 1)
        ])
    );
    assert_eq!(got.changes_at, Some(at("2025-02-01T00:00:00Z")));
}

#[test]
fn the_newest_version_of_an_indicator_governs() {
    let old = indicator(A, "a", "[ipv4-addr:value = '198.51.100.1']");
    let mut newer = indicator(A, "a", "[ipv4-addr:value = '198.51.100.9']");
    newer.modified = at("2024-06-01T00:00:00Z");
    let got = feed(
        Format::Ip,
        &Options::default(),
        &[newer.clone(), old.clone()],
    );
    assert_eq!(got.body, "198.51.100.9\n");
    let mut revocation = newer.clone();
    revocation.revoked = true;
    let got = feed(Format::Ip, &Options::default(), &[old.clone(), revocation]);
    assert_eq!(got.body, "");
    assert_eq!(got.skipped, skipped(&[(Skip::Revoked, 1)]));
    // The same version read from two collections, one copy revoked: revoked wins.
    let mut same_revoked = old.clone();
    same_revoked.revoked = true;
    assert_eq!(
        feed(Format::Ip, &Options::default(), &[old, same_revoked]).body,
        ""
    );
}

#[test]
fn unusable_patterns_and_values_are_counted_by_reason() {
    let indicators = vec![
        indicator(A, "a", "[ipv4-addr:value = '198.51.100.1'] WITHIN 60 SECONDS"),
        indicator(
            B,
            "b",
            "[domain-name:value = 'evil\".example'] OR [domain-name:value = 'ok.example'] OR [file:name = 'x']",
        ),
        Indicator {
            pattern: IndicatorPattern::Other {
                pattern_type: "snort".to_owned(),
            },
            ..indicator(C, "c", "[ipv4-addr:value = '198.51.100.3']")
        },
        Indicator {
            id: "indicator--not-a-uuid".to_owned(),
            ..indicator(C, "c", "[ipv4-addr:value = '198.51.100.3']")
        },
    ];
    let got = feed(Format::Domain, &Options::default(), &indicators);
    assert_eq!(got.body, "ok.example\n");
    assert_eq!(
        got.skipped,
        skipped(&[
            (Skip::InvalidId, 1),
            (Skip::NotStixPattern, 1),
            (Skip::Qualifier, 1),
            (Skip::Property, 1),
            (Skip::InvalidDomain, 1),
        ])
    );
}

#[test]
fn start_stop_windows_are_honoured_at_generation() {
    let indicators = vec![indicator(
        A,
        "a",
        "([ipv4-addr:value = '198.51.100.1'] START t'2024-01-01T00:00:00Z' STOP t'2026-01-01T00:00:00Z') OR ([ipv4-addr:value = '198.51.100.2'] START t'2023-01-01T00:00:00Z' STOP t'2024-01-01T00:00:00Z')",
    )];
    let got = feed(Format::Ip, &Options::default(), &indicators);
    assert_eq!(got.body, "198.51.100.1\n");
    assert_eq!(got.skipped, skipped(&[(Skip::OutsideWindow, 1)]));
    assert_eq!(got.changes_at, Some(at("2026-01-01T00:00:00Z")));
}

#[test]
fn max_tlp_leaves_out_more_restricted_indicators() {
    let mut amber = indicator(A, "a", "[ipv4-addr:value = '198.51.100.1']");
    amber.tlp = Tlp::Amber;
    let green = indicator(B, "b", "[ipv4-addr:value = '198.51.100.2']");
    let options = Options {
        max_tlp: Some(Tlp::Green),
        ..Options::default()
    };
    let got = feed(Format::Ip, &options, &[amber, green]);
    assert_eq!(got.body, "198.51.100.2\n");
    assert_eq!(got.skipped, skipped(&[(Skip::AboveTlp, 1)]));
}

#[test]
fn output_does_not_depend_on_input_order() {
    let mut reversed = sample();
    reversed.reverse();
    for format in Format::ALL {
        let options = Options {
            comments: true,
            ..Options::default()
        };
        assert_eq!(
            feed(format, &options, &sample()),
            feed(format, &options, &reversed),
            "{format}"
        );
    }
}

#[test]
fn suricata_rules() {
    let mut indicators = sample();
    indicators[1].name = Some("Kit \"v2\"; see\\notes\nnext".to_owned());
    indicators.push(indicator(
        "indicator--0e0e0e0e-0000-4000-8000-000000000005",
        "TLS only",
        "[url:value = 'https://evil.example/secret'] OR [file:hashes.'SHA-512' = '\
         cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e']",
    ));
    let got = feed(Format::Suricata, &Options::default(), &indicators);
    let rules: Vec<&str> = got.body.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rules.len(), 6, "{}", got.body);
    assert_eq!(got.entries, 6);
    assert_eq!(got.indicators, 3);
    assert_eq!(
        got.skipped,
        skipped(&[(Skip::UrlNotHttp, 1), (Skip::HashAlgorithm, 1)])
    );
    let rule = |needle: &str| {
        *rules
            .iter()
            .find(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("no rule with {needle}:\n{}", got.body))
    };
    let without_sid = |r: &str| r.split(" sid:").next().unwrap().to_owned();
    assert_eq!(
        without_sid(rule("<> [10.0.0.0/8")),
        format!("alert ip any any <> [10.0.0.0/8,198.51.100.7,2001:db8::1] any (msg:\"Kawal C2 servers ({A})\"; metadata:kawal_indicator {A}, tlp green;")
    );
    assert_eq!(
        without_sid(rule("dns.query")),
        format!("alert dns any any -> any any (msg:\"Kawal Kit \\\"v2\\\"\\; see\\\\notes next ({B})\"; dns.query; dotprefix; content:\".login.evil.example\"; nocase; endswith; metadata:kawal_indicator {B}, tlp green;")
    );
    assert_eq!(
        without_sid(rule("http.uri.raw")),
        format!("alert http any any -> any any (msg:\"Kawal Kit \\\"v2\\\"\\; see\\\\notes next ({B})\"; flow:established,to_server; http.host; content:\"evil.example\"; bsize:12; http.uri.raw; content:\"/kit.php?u=1|3B|x\"; bsize:14; metadata:kawal_indicator {B}, tlp green;")
    );
    assert!(rule("filemd5:kawal-md5.txt;")
        .starts_with("alert ip any any -> any any (msg:\"Kawal file MD5 on the blocklist\";"));
    assert!(rule("filesha256:kawal-sha256.txt;").contains("rev:1714521600;)"));
    for r in &rules {
        assert!(r.ends_with("rev:1714521600;)"), "{r}");
        let sid: u32 = r
            .split(" sid:")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(sid >= suricata::SID_BASE);
    }
    let sids: BTreeSet<&str> = rules
        .iter()
        .map(|r| r.split(" sid:").nth(1).unwrap())
        .collect();
    assert_eq!(sids.len(), rules.len(), "sids are distinct");

    let drop = feed(
        Format::Suricata,
        &Options {
            action: RuleAction::Drop,
            ..Options::default()
        },
        &indicators,
    );
    assert!(drop
        .body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .all(|l| l.starts_with("drop ")));
    // A rule keeps its sid when other indicators come and go.
    let alone = feed(Format::Suricata, &Options::default(), &indicators[..1]);
    assert!(got.body.contains(alone.body.lines().last().unwrap()));
}

#[test]
fn rpz_zone() {
    let options = Options {
        comments: true,
        ..Options::default()
    };
    let got = feed(Format::Rpz, &options, &sample());
    assert_eq!(
        got.body,
        format!(
            "$TTL 300\n\
             @ IN SOA localhost. hostmaster.localhost. 1735689600 3600 600 604800 300\n\
             @ IN NS localhost.\n\
             login.evil.example CNAME . ; {B}\n\
             *.login.evil.example CNAME .\n"
        )
    );
    let nodata = feed(
        Format::Rpz,
        &Options {
            policy: RpzPolicy::Nodata,
            ..Options::default()
        },
        &sample(),
    );
    assert!(nodata
        .body
        .ends_with("login.evil.example CNAME *.\n*.login.evil.example CNAME *.\n"));
    let long = format!("{}.{}.example", "a".repeat(63), "b".repeat(63));
    let long = format!("{long}.{}", "c".repeat(60));
    let got = feed(
        Format::Rpz,
        &Options::default(),
        &[indicator(
            A,
            "a",
            &format!("[domain-name:value = '{long}']"),
        )],
    );
    assert_eq!(got.skipped, skipped(&[(Skip::NameTooLong, 1)]));
    assert_eq!(got.entries, 0);
}

#[test]
fn nftables_sets_fold_networks() {
    let indicators = vec![
        indicator(
            A,
            "a",
            "[ipv4-addr:value IN ('198.51.100.7', '10.1.2.3', '10.0.0.0/8', '203.0.113.0/24')]",
        ),
        indicator(B, "b", "[ipv4-addr:value = '10.200.0.0/16']"),
    ];
    let got = feed(
        Format::Nftables,
        &Options {
            comments: true,
            ..Options::default()
        },
        &indicators,
    );
    assert_eq!(
        got.body,
        format!(
            "# Kawal blocklist: 3 IPv4 and 0 IPv6 elements\n\
             add table inet kawal\n\
             add set inet kawal blocklist_v4 {{ type ipv4_addr; flags interval; }}\n\
             add set inet kawal blocklist_v6 {{ type ipv6_addr; flags interval; }}\n\
             flush set inet kawal blocklist_v4\n\
             flush set inet kawal blocklist_v6\n\
             add element inet kawal blocklist_v4 {{\n\
             \t10.0.0.0/8, # {A} {B}\n\
             \t198.51.100.7, # {A}\n\
             \t203.0.113.0/24 # {A}\n\
             }}\n"
        )
    );
    assert_eq!(got.entries, 3);
    let empty = feed(Format::Nftables, &Options::default(), &[]);
    assert!(!empty.body.contains("add element"));
}

#[test]
fn indicators_are_read_from_stix_json() {
    let raw = format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{A}","created":"2024-01-01T00:00:00Z","modified":"2024-05-01T00:00:00.5Z","name":"C2","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","valid_until":"2026-01-01T00:00:00Z","revoked":true}}"#
    );
    let got = Indicator::from_json(&raw, Tlp::Amber).unwrap();
    assert_eq!(got.id, A);
    assert_eq!(got.name.as_deref(), Some("C2"));
    assert_eq!(got.modified, at("2024-05-01T00:00:00.5Z"));
    assert_eq!(got.valid_until, Some(at("2026-01-01T00:00:00Z")));
    assert!(got.revoked);
    assert_eq!(got.tlp, Tlp::Amber);
    assert!(matches!(got.pattern, IndicatorPattern::Stix(_)));

    let snort = raw.replace(r#""pattern_type":"stix""#, r#""pattern_type":"snort""#);
    assert!(matches!(
        Indicator::from_json(&snort, Tlp::Amber).unwrap().pattern,
        IndicatorPattern::Other { .. }
    ));
    assert!(matches!(
        Indicator::from_json(r#"{"type":"malware"}"#, Tlp::Amber),
        Err(IndicatorError::NotAnIndicator(_))
    ));
    assert!(matches!(
        Indicator::from_json("[", Tlp::Amber),
        Err(IndicatorError::NotJson(_))
    ));
    let broken = raw.replace("[ipv4-addr:value = '198.51.100.7']", "[ipv4-addr:value = ]");
    assert!(matches!(
        Indicator::from_json(&broken, Tlp::Amber),
        Err(IndicatorError::Pattern { .. })
    ));
    let no_pattern = raw.replace(r#""pattern":"#, r#""x_pattern":"#);
    assert!(matches!(
        Indicator::from_json(&no_pattern, Tlp::Amber),
        Err(IndicatorError::Property {
            property: "pattern",
            ..
        })
    ));
}

#[test]
fn options_parse() {
    assert_eq!("suricata".parse::<Format>(), Ok(Format::Suricata));
    assert!("csv".parse::<Format>().is_err());
    assert_eq!("drop".parse::<RuleAction>(), Ok(RuleAction::Drop));
    assert!("reject".parse::<RuleAction>().is_err());
    assert_eq!("nodata".parse::<RpzPolicy>(), Ok(RpzPolicy::Nodata));
    assert_eq!(
        Skip::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<BTreeSet<_>>()
            .len(),
        Skip::ALL.len()
    );
}
