//! Feeds are checked by the programs that load them: `suricata -T`, `named-checkzone` and
//! `nft -c -f`. A test whose program is not installed says so and passes; `SURICATA`,
//! `NAMED_CHECKZONE` and `NFT` name a program outside `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use detect::feeds::{generate, Format, HashAlgorithm, Indicator, Options, RpzPolicy, RuleAction};
use stix::{Timestamp, Tlp};

/// Indicators that exercise every kind of value and the characters formats reserve.
fn indicators() -> Vec<Indicator> {
    let patterns = [
        ("C2 \"alpha\"; drop\\all\nnext line", "[ipv4-addr:value = '198.51.100.7'] OR [ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR [ipv6-addr:value IN ('2001:db8::1', '2001:db8:1::/48')] OR [ipv4-addr:value = '203.0.113.9']"),
        ("Phishing | kit: v2", "[domain-name:value = 'login.evil.example'] OR [domain-name:value = '_srv.evil.example'] OR [url:value = 'http://evil.example:8080/a;b?q=\"x\"|y\\\\z'] OR [url:value = 'http://login.evil.example/'] OR [url:value = 'http://[2001:db8::5]/x']"),
        ("Dropper", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709' AND file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"),
        ("Network", "[network-traffic:dst_ref.value = '192.0.2.1'] OR [network-traffic:dst_ref.value = 'c2.evil.example'] OR [ipv4-addr:value = '10.0.0.0/8'] OR [ipv4-addr:value = '10.2.3.4']"),
        ("Broken values", "[domain-name:value = 'evil\".example'] OR [domain-name:value = 'a.example\n$INCLUDE /etc/passwd'] OR [url:value = 'http://evil.example/\r\nHost: x']"),
    ];
    patterns
        .iter()
        .enumerate()
        .map(|(n, (name, text))| Indicator {
            id: format!("indicator--0000000{n}-0000-4000-8000-000000000000"),
            name: Some((*name).to_owned()),
            modified: Timestamp::parse("2024-05-01T00:00:00Z").unwrap(),
            valid_from: Some(Timestamp::parse("2024-01-01T00:00:00Z").unwrap()),
            valid_until: None,
            revoked: false,
            tlp: Tlp::AmberStrict,
            pattern: detect::feeds::IndicatorPattern::Stix(
                pattern::parse(text).unwrap_or_else(|e| panic!("{}", e.render(text))),
            ),
        })
        .collect()
}

fn now() -> Timestamp {
    Timestamp::parse("2025-01-01T00:00:00Z").unwrap()
}

fn feed(format: Format, options: &Options) -> String {
    generate(format, options, &indicators(), now()).body
}

/// The program, if installed: from the environment variable, else from `PATH`.
fn program(variable: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

fn report(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn suricata_loads_the_rules() {
    let Some(suricata) = program("SURICATA", "suricata") else {
        println!("skipped: suricata is not installed (set SURICATA to its path to run this test)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for action in [RuleAction::Alert, RuleAction::Drop] {
        let rules = feed(
            Format::Suricata,
            &Options {
                action,
                ..Options::default()
            },
        );
        assert!(rules.contains("|3B|") && rules.contains("\\\""), "{rules}");
        check_suricata(&suricata, dir.path(), &rules);
    }
}

fn check_suricata(suricata: &Path, dir: &Path, rules: &str) {
    for algorithm in [
        HashAlgorithm::Md5,
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha256,
    ] {
        let list = feed(
            Format::Hash,
            &Options {
                algorithm: Some(algorithm),
                comments: true,
                ..Options::default()
            },
        );
        std::fs::write(dir.join(format!("kawal-{algorithm}.txt")), list).unwrap();
    }
    std::fs::write(dir.join("kawal.rules"), rules).unwrap();
    let config = dir.join("suricata.yaml");
    std::fs::write(
        &config,
        format!(
            "%YAML 1.1\n---\n\
             default-rule-path: {dir}\n\
             rule-files:\n  - kawal.rules\n\
             classification-file: {dir}/classification.config\n\
             reference-config-file: {dir}/reference.config\n\
             threshold-file: {dir}/threshold.config\n\
             outputs: []\n\
             stats:\n  enabled: no\n\
             logging:\n  outputs:\n    - console:\n        enabled: yes\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("classification.config"), "").unwrap();
    std::fs::write(dir.join("reference.config"), "").unwrap();
    std::fs::write(dir.join("threshold.config"), "").unwrap();
    let output = run(Command::new(suricata)
        .arg("-T")
        .arg("-v")
        .arg("-c")
        .arg(&config)
        .arg("-l")
        .arg(dir)
        .arg("--strict-rule-keywords=all"));
    let text = report(&output);
    assert!(
        output.status.success(),
        "suricata -T refused:\n{text}\n{rules}"
    );
    let loaded = rules.lines().filter(|l| !l.starts_with('#')).count();
    assert!(
        text.contains(&format!(
            "{loaded} rules successfully loaded, 0 rules failed"
        )),
        "suricata did not load all {loaded} rules:\n{text}"
    );
    if let Some(summary) = text
        .lines()
        .find(|l| l.contains("rules successfully loaded"))
    {
        println!("suricata -T: {summary}");
    }
}

#[test]
fn named_checkzone_accepts_the_policy_zone() {
    let Some(checkzone) = program("NAMED_CHECKZONE", "named-checkzone") else {
        println!("skipped: named-checkzone is not installed (Debian package bind9-utils)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for policy in [RpzPolicy::Nxdomain, RpzPolicy::Nodata] {
        let zone = feed(
            Format::Rpz,
            &Options {
                policy,
                comments: true,
                ..Options::default()
            },
        );
        assert!(zone.contains("*.login.evil.example CNAME"), "{zone}");
        let file = dir.path().join("rpz.zone");
        std::fs::write(&file, &zone).unwrap();
        let output = run(Command::new(&checkzone).arg("rpz.kawal").arg(&file));
        assert!(
            output.status.success(),
            "named-checkzone refused:\n{}\n{zone}",
            report(&output)
        );
    }
}

#[test]
fn nft_accepts_the_sets() {
    let Some(nft) = program("NFT", "nft") else {
        println!("skipped: nft is not installed (Debian package nftables)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kawal.nft");
    let sets = feed(
        Format::Nftables,
        &Options {
            comments: true,
            ..Options::default()
        },
    );
    assert!(sets.contains("10.0.0.0/8"), "{sets}");
    assert!(!sets.contains("10.2.3.4"), "folded into 10.0.0.0/8: {sets}");
    std::fs::write(&file, &sets).unwrap();
    let output = run(Command::new(&nft).arg("-c").arg("-f").arg(&file));
    let text = report(&output);
    if !output.status.success() && text.contains("Operation not permitted") {
        println!("skipped: nft -c needs CAP_NET_ADMIN here: {text}");
        return;
    }
    assert!(
        output.status.success(),
        "nft -c -f refused:\n{text}\n{sets}"
    );
}
