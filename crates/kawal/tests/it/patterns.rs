//! `kawal pattern`: the shapes and exit codes other tools rely on.

use crate::harness::kawal;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = kawal().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const BUNDLE: &str = r#"{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000001","objects":[
 {"type":"observed-data","spec_version":"2.1","id":"observed-data--00000000-0000-4000-8000-000000000001","created":"2021-01-01T00:00:00Z","modified":"2021-01-01T00:00:00Z","first_observed":"2021-01-01T00:00:00Z","last_observed":"2021-01-01T00:00:00Z","number_observed":1,"object_refs":["domain-name--00000000-0000-4000-8000-000000000001"]},
 {"type":"domain-name","spec_version":"2.1","id":"domain-name--00000000-0000-4000-8000-000000000001","value":"evil.example"}]}"#;

#[test]
fn check_and_single_match() {
    assert_eq!(
        run(&["pattern", "check", "[domain-name:value = 'evil.example']"]),
        (0, "valid\n".into(), String::new())
    );
    let (code, out, err) = run(&["pattern", "check", "[domain-name:value 'evil.example']"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains('^') && err.contains("expected"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("obs.json");
    std::fs::write(&file, BUNDLE).unwrap();
    let f = file.to_str().unwrap();
    let (code, out, _) = run(&[
        "pattern",
        "match",
        "[domain-name:value = 'evil.example']",
        f,
    ]);
    assert_eq!(
        (code, out.trim()),
        (
            0,
            "match observed-data--00000000-0000-4000-8000-000000000001"
        )
    );
    let (code, out, _) = run(&[
        "pattern",
        "match",
        "[domain-name:value = 'good.example']",
        f,
    ]);
    assert_eq!((code, out.trim()), (1, "no match"));
    let (code, _, err) = run(&["pattern", "match", "[domain-name:value = ", f]);
    assert_eq!(code, 2);
    assert!(err.contains("error:"), "{err}");
    std::fs::write(&file, "{not json").unwrap();
    let (code, _, err) = run(&["pattern", "match", "[domain-name:value = 'x']", f]);
    assert_eq!(code, 2);
    assert!(err.contains("obs.json"), "{err}");
}

#[test]
fn bulk_match_prints_one_line_per_hit() {
    let dir = tempfile::tempdir().unwrap();
    let indicators = dir.path().join("indicators.json");
    let indicator = |n: u32, pattern: &str, extra: &str| {
        format!(
            r#"{{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-00000000000{n}","created":"2021-01-01T00:00:00Z","modified":"2021-01-01T00:00:00Z","pattern":"{pattern}","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"{extra}}}"#
        )
    };
    let objects = [
        indicator(1, "[domain-name:value = 'evil.example']", ""),
        indicator(2, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", ""),
        indicator(
            3,
            "[domain-name:value = 'evil.example']",
            r#","revoked":true"#,
        ),
        indicator(4, "[domain-name:value LIKE '%.evil.example']", ""),
    ];
    std::fs::write(&indicators, format!(r#"{{"type":"bundle","id":"bundle--00000000-0000-4000-8000-000000000002","objects":[{}]}}"#, objects.join(","))).unwrap();
    let events = dir.path().join("events.ndjson");
    std::fs::write(
        &events,
        [
            r#"[{"type":"domain-name","id":"domain-name--1","value":"evil.example"}]"#,
            r#"{"type":"ipv4-addr","id":"ipv4-addr--1","value":"198.51.100.9"}"#,
            "not json",
            r#"[{"type":"domain-name","id":"domain-name--1","value":"www.evil.example"}]"#,
            r#"[{"type":"domain-name","id":"domain-name--1","value":"good.example"}]"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "pattern",
        "match",
        "--indicators",
        indicators.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "1\tindicator--00000000-0000-4000-8000-000000000001\t-",
            "2\tindicator--00000000-0000-4000-8000-000000000002\t-",
            "4\tindicator--00000000-0000-4000-8000-000000000004\t-",
        ]
    );
    assert!(err.contains(":3:"), "{err}");
}

#[test]
fn batch_check_and_match_answer_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let patterns = dir.path().join("patterns.txt");
    std::fs::write(
        &patterns,
        "[domain-name:value = 'evil.example']\r\n\
         [domain-name:value 'evil.example']\n\
         \n\
         [domain-name:value = 'good.example']\n\
         [domain-name:value IN ('evil.example', 1)]\n\
         [domain-name:value LIKE '%.example'] REPEATS 2 TIMES\n",
    )
    .unwrap();
    let p = patterns.to_str().unwrap();

    let (code, out, err) = run(&["pattern", "check", "--batch", p]);
    assert_eq!((code, err.as_str()), (1, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], "valid");
    assert!(lines[1].starts_with("invalid\texpected"), "{}", lines[1]);
    assert!(lines[2].starts_with("invalid\t"), "{}", lines[2]);
    assert_eq!(&lines[3..], ["valid", "valid", "valid"]);

    let obs = dir.path().join("obs.json");
    std::fs::write(&obs, BUNDLE).unwrap();
    let o = obs.to_str().unwrap();
    let (code, out, err) = run(&["pattern", "match", "--batch", p, o]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(
        lines[0],
        "match observed-data--00000000-0000-4000-8000-000000000001"
    );
    assert!(lines[1].starts_with("error\texpected"), "{}", lines[1]);
    assert!(lines[2].starts_with("error\t"), "{}", lines[2]);
    assert_eq!(lines[3], "no match");
    // A set mixing types passes the parser but cannot be matched.
    assert!(lines[4].starts_with("error\t") && lines[4].contains("one type"));
    assert_eq!(lines[5], "no match");

    // Only valid patterns, none matching: exit 0 for check, 1 for match.
    std::fs::write(&patterns, "[domain-name:value = 'good.example']\n").unwrap();
    assert_eq!(
        run(&["pattern", "check", "--batch", p]),
        (0, "valid\n".into(), String::new())
    );
    assert_eq!(
        run(&["pattern", "match", "--batch", p, o]),
        (1, "no match\n".into(), String::new())
    );
    // The observations are read once, up front: a bad file is an error for the whole run.
    std::fs::write(&obs, "{not json").unwrap();
    let (code, out, err) = run(&["pattern", "match", "--batch", p, o]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("obs.json"), "{err}");
    let (code, _, err) = run(&["pattern", "match", "--batch", p]);
    assert_eq!(code, 2);
    assert!(err.contains("observations"), "{err}");
}
