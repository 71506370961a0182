//! Rendered diagnostics, checked against expected files.
//!
//! Each `tests/data/rendered/NAME.pattern` holds a pattern (the file's final newline is not
//! part of it; patterns may span lines). `NAME.txt` holds what `Diagnostic::render` prints
//! for it, or `ok: <canonical text>` and the rendered lint warnings if it parses. Run with `UPDATE_EXPECT=1` to write the
//! expected files from the current output, then review the diff.

use std::fs;

use crate::data::dir;

fn output(pattern: &str) -> String {
    match pattern::parse(pattern) {
        Ok(p) => {
            let mut out = format!("ok: {p}\n");
            for warning in pattern::lint(&p) {
                out.push_str(&warning.render(pattern));
            }
            out
        }
        Err(d) => d.render(pattern),
    }
}

#[test]
fn rendered_diagnostics() {
    let folder = dir().join("rendered");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut inputs: Vec<_> = fs::read_dir(&folder)
        .expect("tests/data/rendered")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pattern"))
        .collect();
    inputs.sort();
    assert!(inputs.len() > 20);
    let mut mismatches = Vec::new();
    for input in inputs {
        let text = fs::read_to_string(&input).expect("pattern file");
        let pattern = text.strip_suffix('\n').unwrap_or(&text);
        let actual = output(pattern);
        let expected_path = input.with_extension("txt");
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            if update {
                fs::write(&expected_path, &actual).expect("write expected file");
            } else {
                mismatches.push(format!(
                    "{}:\n--- expected\n{expected}--- actual\n{actual}",
                    input.display()
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(run with UPDATE_EXPECT=1 to accept)",
        mismatches.join("\n")
    );
}
