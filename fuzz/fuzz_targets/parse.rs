//! Any UTF-8 text through `pattern::parse`.
//!
//! - Accepted: the canonical text (`Display`) parses again to the same tree, spans aside, and
//!   printing that tree gives the same text.
//! - Rejected: the diagnostic's span lies within the text on character boundaries, and
//!   rendering it against the text does not panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match pattern::parse(text) {
        Ok(mut first) => {
            let printed = first.to_string();
            let mut second = match pattern::parse(&printed) {
                Ok(p) => p,
                Err(d) => panic!(
                    "canonical text of {text:?} does not parse:\n{printed}\n{}",
                    d.render(&printed)
                ),
            };
            assert_eq!(
                second.to_string(),
                printed,
                "printing is not stable for {text:?}"
            );
            first.clear_spans();
            second.clear_spans();
            assert_eq!(
                first, second,
                "print then parse changed the tree of {text:?}"
            );
        }
        Err(d) => {
            assert!(
                d.span.start <= d.span.end && d.span.end <= text.len(),
                "span {:?} outside {} bytes of {text:?}",
                d.span,
                text.len()
            );
            assert!(
                text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end),
                "span {:?} splits a character of {text:?}",
                d.span
            );
            let rendered = d.render(text);
            assert!(rendered.starts_with("error: "), "{rendered}");
        }
    }
});
