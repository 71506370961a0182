//! Reading the test data files.

use std::path::PathBuf;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The lines of a data file, without comments (`#` first) and blank lines, with their
/// line numbers.
pub fn lines(name: &str) -> Vec<(usize, String)> {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

/// Tab-separated fields of each line.
pub fn records(name: &str) -> Vec<(usize, Vec<String>)> {
    lines(name)
        .into_iter()
        .map(|(n, l)| (n, l.split('\t').map(str::to_owned).collect()))
        .collect()
}

/// Every pattern the data files say is valid for this parser.
pub fn valid_patterns() -> Vec<String> {
    let mut out: Vec<String> = lines("spec_examples.txt")
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    out.extend(lines("valid.txt").into_iter().map(|(_, l)| l));
    let divergent = records("divergent.txt");
    for (_, r) in records("validator.txt") {
        let rejected_here = divergent
            .iter()
            .any(|(_, d)| d[1] == r[1] && d[0] == "PASS");
        if r[0] == "PASS" && !rejected_here {
            out.push(r[1].clone());
        }
    }
    out.extend(
        divergent
            .into_iter()
            .filter(|(_, d)| d[0] == "FAIL")
            .map(|(_, d)| d[1].clone()),
    );
    out
}
