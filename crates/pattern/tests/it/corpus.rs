//! Verdicts: the specification's examples, the validator's test cases, our own valid and
//! invalid patterns, and the divergences from the validator that docs/patterns.md explains.

use crate::data::{lines, records};

#[test]
fn the_specification_examples_parse() {
    let examples = lines("spec_examples.txt");
    assert_eq!(
        examples.len(),
        23,
        "STIX 2.1 section 9 has 23 example patterns"
    );
    for (n, p) in examples {
        if let Err(d) = pattern::parse(&p) {
            panic!("spec_examples.txt:{n}: {p}\n{}", d.render(&p));
        }
    }
}

#[test]
fn valid_patterns_parse() {
    let patterns = lines("valid.txt");
    assert!(patterns.len() > 100);
    for (n, p) in patterns {
        if let Err(d) = pattern::parse(&p) {
            panic!("valid.txt:{n}: {p}\n{}", d.render(&p));
        }
    }
}

#[test]
fn invalid_patterns_fail_with_the_expected_message() {
    let cases = records("invalid.txt");
    assert!(cases.len() > 150);
    for (n, fields) in cases {
        let [p, fragment] = fields.as_slice() else {
            panic!("invalid.txt:{n}: expected `pattern<TAB>message fragment`");
        };
        match pattern::parse(p) {
            Ok(parsed) => panic!("invalid.txt:{n}: accepted {p} as {parsed}"),
            Err(d) => assert!(
                d.message.contains(fragment.as_str()),
                "invalid.txt:{n}: {p}\nexpected a message containing {fragment:?}, got:\n{}",
                d.render(p)
            ),
        }
    }
}

/// Every verdict of the validator on its own test cases is ours too, except where
/// divergent.txt records that we decide otherwise on purpose.
#[test]
fn agrees_with_the_validator_on_its_test_cases() {
    let divergent = records("divergent.txt");
    let cases = records("validator.txt");
    assert!(cases.len() > 50);
    for (n, fields) in cases {
        let (verdict, p) = (&fields[0], &fields[1]);
        let theirs = verdict == "PASS";
        let ours = pattern::parse(p);
        let diverges = divergent.iter().any(|(_, d)| &d[1] == p);
        if diverges {
            assert_ne!(
                ours.is_ok(),
                theirs,
                "validator.txt:{n}: listed as divergent but agrees: {p}"
            );
        } else if let Err(d) = &ours {
            assert!(
                !theirs,
                "validator.txt:{n}: the validator accepts {p}\n{}",
                d.render(p)
            );
        } else {
            assert!(
                theirs,
                "validator.txt:{n}: the validator rejects {p} ({})",
                fields[2]
            );
        }
    }
}

#[test]
fn divergences_go_the_documented_way() {
    let cases = records("divergent.txt");
    assert!(!cases.is_empty());
    for (n, fields) in cases {
        let (verdict, p) = (&fields[0], &fields[1]);
        match (verdict.as_str(), pattern::parse(p)) {
            ("PASS", Err(d)) => {
                let fragment = fields.get(2).map(String::as_str).unwrap_or_default();
                assert!(
                    d.message.contains(fragment),
                    "divergent.txt:{n}: {p}\nexpected {fragment:?}, got:\n{}",
                    d.render(p)
                );
            }
            ("FAIL", Ok(_)) => {}
            (_, result) => {
                panic!("divergent.txt:{n}: {p}: we now agree with the validator: {result:?}")
            }
        }
    }
}

/// Mutated patterns (scripts/differential.py) on which we agree with the validator: a
/// regression corpus for the lexer's corner cases.
#[test]
fn agrees_with_the_validator_on_mutated_patterns() {
    let cases = records("mutants.txt");
    assert!(cases.len() > 2000);
    for (n, fields) in cases {
        let (verdict, p) = (&fields[0], &fields[1]);
        match (verdict.as_str(), pattern::parse(p)) {
            ("PASS", Err(d)) => panic!(
                "mutants.txt:{n}: the validator accepts {p}\n{}",
                d.render(p)
            ),
            ("FAIL", Ok(parsed)) => {
                panic!("mutants.txt:{n}: the validator rejects {p} (parsed as {parsed})")
            }
            _ => {}
        }
    }
}
