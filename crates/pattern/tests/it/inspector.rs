//! The inspection API against the `stix2-patterns` inspector's test cases.

use std::collections::{BTreeMap, BTreeSet};

use pattern::{Comparison, Operator, PathStep, Pattern};

use crate::data::dir;

/// The validator's rendering of a path: keys unquoted and joined with dots.
fn path_text(c: &Comparison) -> String {
    let mut out = String::new();
    for (i, step) in c.path.steps().enumerate() {
        match step {
            PathStep::Key(k) if i == 0 => out.push_str(k),
            PathStep::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            PathStep::Index(n) => out.push_str(&format!("[{n}]")),
            PathStep::AnyIndex => out.push_str("[*]"),
        }
    }
    out
}

fn operator_text(c: &Comparison) -> String {
    let op = c.operator.value.as_str();
    if c.negated {
        format!("NOT {op}")
    } else {
        op.to_owned()
    }
}

struct Case {
    line: usize,
    pattern: String,
    check: String,
    expected: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("inspector.txt")).expect("inspector.txt");
    let mut cases: Vec<Case> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(item) = line.strip_prefix("  ") {
            let case = cases.last_mut().expect("an item before any pattern");
            match item.strip_prefix("check ") {
                Some(check) => case.check = check.to_owned(),
                None => case.expected.push(item.to_owned()),
            }
        } else {
            cases.push(Case {
                line: i + 1,
                pattern: line.to_owned(),
                check: String::new(),
                expected: Vec::new(),
            });
        }
    }
    cases
}

fn found(p: &Pattern, check: &str) -> Vec<String> {
    match check {
        "qualifiers" => p
            .qualifiers()
            .map(|q| format!("qualifier {q}"))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        "operators" => {
            let ops = p.observation_operators();
            [
                (ops.and, "operator AND"),
                (ops.followed_by, "operator FOLLOWEDBY"),
                (ops.or, "operator OR"),
            ]
            .into_iter()
            .filter(|(used, _)| *used)
            .map(|(_, s)| s.to_owned())
            .collect()
        }
        "comparisons" => {
            // Grouped by object type like the validator's dict, in source order within a type.
            let mut by_type: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for c in p.comparisons() {
                if c.operator.value == Operator::Exists {
                    continue; // the validator's inspector does not report EXISTS
                }
                let value = c
                    .value
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                by_type.entry(c.object_type()).or_default().push(format!(
                    "comparison {}\t{}\t{}\t{}",
                    c.object_type(),
                    path_text(c),
                    operator_text(c),
                    value.replace(", ", ",")
                ));
            }
            by_type.into_values().flatten().collect()
        }
        other => panic!("unknown check {other}"),
    }
}

#[test]
fn inspection_matches_the_validator_inspector() {
    let cases = cases();
    assert_eq!(cases.len(), 19);
    for case in cases {
        let p = pattern::parse(&case.pattern)
            .unwrap_or_else(|d| panic!("inspector.txt:{}\n{}", case.line, d.render(&case.pattern)));
        assert_eq!(
            found(&p, &case.check),
            case.expected,
            "inspector.txt:{}: {}",
            case.line,
            case.pattern
        );
    }
}

#[test]
fn comparisons_come_in_source_order_with_their_observation() {
    let p = pattern::parse(
        "([a:x = 1 OR (b:y = 2 AND EXISTS c:z)] FOLLOWEDBY [d:w IN (1, 2)]) WITHIN 5 SECONDS OR [e:v LIKE 'q']",
    )
    .unwrap();
    let types: Vec<&str> = p.comparisons().map(Comparison::object_type).collect();
    assert_eq!(types, ["a", "b", "c", "d", "e"]);
    let per_observation: Vec<usize> = p.observations().map(|o| o.comparisons().count()).collect();
    assert_eq!(per_observation, [3, 1, 1]);
    let ops = p.observation_operators();
    assert!(ops.or && ops.followed_by && !ops.and);
    let quals: Vec<String> = p.qualifiers().map(ToString::to_string).collect();
    assert_eq!(quals, ["WITHIN 5 SECONDS"]);
    let exists = p.comparisons().nth(2).unwrap();
    assert_eq!(exists.operator.value, Operator::Exists);
    assert!(exists.value.is_none());
}
