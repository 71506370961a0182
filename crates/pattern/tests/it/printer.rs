//! The canonical printer: expected texts, idempotence, and print → parse → same tree for every
//! valid pattern in the test data.

use crate::data::{records, valid_patterns};

fn reparse(p: &str) -> (pattern::Pattern, String) {
    let parsed = pattern::parse(p).unwrap_or_else(|d| panic!("{p}\n{}", d.render(p)));
    let printed = parsed.to_string();
    (parsed, printed)
}

#[test]
fn canonical_texts() {
    let cases = records("canonical.txt");
    assert!(cases.len() > 20);
    for (n, fields) in cases {
        let (_, printed) = reparse(&fields[0]);
        assert_eq!(printed, fields[1], "canonical.txt:{n}");
    }
}

#[test]
fn printing_is_a_fixed_point_and_keeps_the_tree() {
    let patterns = valid_patterns();
    assert!(patterns.len() > 150);
    for p in patterns {
        let (mut first, printed) = reparse(&p);
        let (mut second, reprinted) = reparse(&printed);
        assert_eq!(printed, reprinted, "printing is not idempotent for {p}");
        first.clear_spans();
        second.clear_spans();
        assert_eq!(
            first, second,
            "the printed text {printed} parses to another tree than {p}"
        );
    }
}

#[test]
fn hand_built_trees_get_the_parentheses_they_need() {
    use pattern::*;
    let obs = |t: &str| {
        let text = format!("[{t}:a = 1]");
        pattern::parse(&text).unwrap().expr
    };
    let node = |kind| ObservationExpr {
        kind,
        span: Span::default(),
    };
    // OR under AND, and a qualifier on an OR: both need a group to keep their meaning.
    let or = node(ObservationKind::Or(vec![obs("a"), obs("b")]));
    let and = node(ObservationKind::And(vec![or.clone(), obs("c")]));
    assert_eq!(
        Pattern { expr: and }.to_string(),
        "([a:a = 1] OR [b:a = 1]) AND [c:a = 1]"
    );
    let within = pattern::parse("[x:a = 1] WITHIN 5 SECONDS").unwrap();
    let ObservationKind::Qualified { qualifier, .. } = within.expr.kind.clone() else {
        unreachable!()
    };
    let qualified = node(ObservationKind::Qualified {
        expr: Box::new(or),
        qualifier,
    });
    assert_eq!(
        Pattern { expr: qualified }.to_string(),
        "([a:a = 1] OR [b:a = 1]) WITHIN 5 SECONDS"
    );
    // Twice WITHIN on one observation: the validator's rule wants the first in a group.
    let twice = node(ObservationKind::Qualified {
        expr: Box::new(within.expr.clone()),
        qualifier: pattern::parse("[x:a = 1] WITHIN 9 SECONDS")
            .map(|p| match p.expr.kind {
                ObservationKind::Qualified { qualifier, .. } => qualifier,
                _ => unreachable!(),
            })
            .unwrap(),
    });
    let text = Pattern { expr: twice }.to_string();
    assert_eq!(text, "([x:a = 1] WITHIN 5 SECONDS) WITHIN 9 SECONDS");
    assert!(pattern::parse(&text).is_ok());
}
