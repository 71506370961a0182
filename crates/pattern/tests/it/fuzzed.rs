//! Inputs found by the `parse` fuzz target (`fuzz/`), checked with the target's own
//! invariants: a rejected text gets a diagnostic whose span lies on character boundaries
//! within the text; an accepted one prints to text that parses back to the same tree.

fn check(text: &str) {
    match pattern::parse(text) {
        Ok(mut first) => {
            let printed = first.to_string();
            let mut second = pattern::parse(&printed)
                .unwrap_or_else(|d| panic!("{printed:?} does not parse: {}", d.render(&printed)));
            assert_eq!(second.to_string(), printed);
            first.clear_spans();
            second.clear_spans();
            assert_eq!(first, second, "{text:?}");
        }
        Err(d) => {
            assert!(
                d.span.start <= d.span.end && d.span.end <= text.len(),
                "{:?} in {text:?}",
                d.span
            );
            assert!(
                text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end),
                "{:?} splits a character of {text:?}",
                d.span
            );
            assert!(d.render(text).starts_with("error: "));
        }
    }
}

/// A timestamp field checked at a fixed width ended inside a multi-byte character.
#[test]
fn timestamp_field_ending_inside_a_character() {
    check("[x:a = t'2016-02-30T00:0н00Z']");
    let d = pattern::parse("[x:a = t'2016-02-30T00:0н00Z']").unwrap_err();
    assert_eq!(d.span, 23..26);
    // A separator position holding a multi-byte character.
    check("[x:a = t'2016é02-30T00:00:00Z']");
    check("[x:a = t'2016-02-30T00:00:0ü']");
}
