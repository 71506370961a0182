//! The public API beyond parsing: diagnostics, spans and robustness on any input.

use proptest::prelude::*;

#[test]
fn diagnostics_carry_position_expected_tokens_and_hint() {
    let d = pattern::parse("[file:name 'x']").unwrap_err();
    assert_eq!(d.span, 11..14);
    assert_eq!(
        d.message,
        "expected a comparison operator after the object path"
    );
    assert!(d.expected.iter().any(|e| e == "MATCHES"));
    assert!(d.hint.is_some());
    assert_eq!(
        d.to_string(),
        "expected a comparison operator after the object path (at byte 11)"
    );
}

#[test]
fn blank_input_is_an_empty_pattern() {
    for text in ["", "   ", "\n", "/* nothing */", "// nothing"] {
        let d = pattern::parse(text).unwrap_err();
        assert_eq!(d.message, "empty pattern", "{text:?}");
    }
}

#[test]
fn from_str_parses() {
    let p: pattern::Pattern = "[x:a = 1]".parse().unwrap();
    assert_eq!(p.to_string(), "[x:a = 1]");
}

#[test]
fn spans_point_at_the_source() {
    let text = "[file:name = 'a' OR file:size > 10] WITHIN 5 SECONDS";
    let p = pattern::parse(text).unwrap();
    assert_eq!(p.expr.span.range(), 0..text.len());
    let sizes: Vec<&str> = p.comparisons().map(|c| &text[c.span.range()]).collect();
    assert_eq!(sizes, ["file:name = 'a'", "file:size > 10"]);
    let q = p.qualifiers().next().unwrap();
    assert_eq!(&text[q.span.range()], "WITHIN 5 SECONDS");
}

#[test]
fn nesting_is_bounded() {
    // Brackets count: 99 parentheses and the observation's `[` make the limit.
    let limit = pattern::MAX_NESTING - 1;
    let deep = format!("{}[x:a = 1]{}", "(".repeat(limit), ")".repeat(limit));
    assert!(pattern::parse(&deep).is_ok());
    let inner = format!("[{}x:a = 1{}]", "(".repeat(limit), ")".repeat(limit));
    assert!(pattern::parse(&inner).is_ok());
    // The deepest stack: every group inside an AND inside an OR inside a FOLLOWEDBY.
    let mut worst = "[x:a = 1]".to_owned();
    for _ in 0..limit {
        worst = format!("[x:a = 1] FOLLOWEDBY [x:a = 1] OR [x:a = 1] AND ({worst})");
    }
    assert!(pattern::parse(&worst).is_ok());
    let over = format!(
        "{}[x:a = 1]{}",
        "(".repeat(limit + 1),
        ")".repeat(limit + 1)
    );
    assert!(pattern::parse(&over).is_err());
    let deeper = format!("{}[x:a = 1]{}", "(".repeat(100_000), ")".repeat(100_000));
    let d = pattern::parse(&deeper).unwrap_err();
    assert!(d.message.contains("nested too deeply"));
    let brackets = format!("[{}x:a = 1{}]", "(".repeat(100_000), ")".repeat(100_000));
    assert!(pattern::parse(&brackets).is_err());
}

fn check_diagnostic(text: &str, d: &pattern::Diagnostic) -> Result<(), TestCaseError> {
    prop_assert!(d.span.start <= d.span.end && d.span.end <= text.len());
    prop_assert!(text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end));
    let rendered = d.render(text);
    prop_assert!(rendered.starts_with("error: "));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any text either parses or yields a diagnostic inside the text; nothing panics.
    #[test]
    fn any_text_is_handled(text in any::<String>()) {
        if let Err(d) = pattern::parse(&text) {
            check_diagnostic(&text, &d)?;
        }
    }

    /// Pattern-like text: fragments of the grammar glued at random.
    #[test]
    fn grammar_soup_is_handled(parts in prop::collection::vec(prop::sample::select(vec![
        "[", "]", "(", ")", "x:a", "file:hashes.MD5", ".", "'b'", "'\\'", "=", "!=", "<", ">=",
        "IN", "LIKE", "MATCHES", "NOT", "EXISTS", "AND", "OR", "FOLLOWEDBY", "WITHIN", "5",
        "-1", "1.5", "SECONDS", "REPEATS", "TIMES", "START", "STOP", "t'2016-01-01T00:00:00Z'",
        "h'ff'", "b'AA=='", "true", ",", "*", " ", "/*", "*/", "//", "\n", "ü", "'(a)\\\\1'",
    ]), 0..24)) {
        let text: String = parts.concat();
        if let Err(d) = pattern::parse(&text) {
            check_diagnostic(&text, &d)?;
        }
    }
}
