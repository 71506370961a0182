//! The test cases of the OASIS `stix2-matcher`, as data (`tests/data/stix2_matcher/*.json`,
//! written by `scripts/matcher_cases.py`): every case's pattern is prepared and matched
//! against its observations, and the verdict must be the case's `expect`.
//!
//! `expect` is stix2-matcher's own verdict unless the case names a divergence, which must be
//! a heading under "Divergences from stix2-matcher" in `docs/patterns.md`.

use std::path::{Path, PathBuf};

use matcher::{observations_from_json, prepare, IndicatorSet};
use serde_json::Value;
use stix::Timestamp;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/stix2_matcher")
}

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/patterns.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The headings of the section "Divergences from stix2-matcher".
fn divergence_headings(docs: &str) -> Vec<String> {
    let section = docs
        .split("\n## ")
        .find(|s| s.starts_with("Divergences from stix2-matcher"))
        .expect("docs/patterns.md has a section \"Divergences from stix2-matcher\"");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_owned())
        .collect()
}

/// Kawal's verdict on one case, and for a pattern on one observation the verdict of an
/// `IndicatorSet` holding only that pattern, fed the observations one by one.
fn verdict(pattern: &str, observations: &Value) -> (&'static str, Option<&'static str>) {
    let Ok(prepared) = prepare(pattern) else {
        return ("pattern error", None);
    };
    // Every case's observed-data has its timestamps; the default is not used.
    let default_time = Timestamp::parse("2000-01-01T00:00:00Z").unwrap();
    let Ok(observations) = observations_from_json(observations, default_time) else {
        return ("observation error", None);
    };
    let word = |hit: bool| if hit { "match" } else { "no match" };
    let prepared_verdict = word(prepared.matches(&observations).is_some());
    if prepared.is_temporal() {
        return (prepared_verdict, None);
    }
    let mut set = IndicatorSet::new();
    set.insert(
        "indicator--00000000-0000-4000-8000-000000000001",
        pattern,
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let compiled = observations
        .iter()
        .any(|o| !set.match_observation(o).is_empty());
    (prepared_verdict, Some(word(compiled)))
}

fn str_field<'a>(case: &'a Value, key: &str) -> Option<&'a str> {
    case.get(key).and_then(Value::as_str)
}

#[test]
fn stix2_matcher_cases() {
    let headings = divergence_headings(&docs());
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/stix2_matcher")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no data files");

    let (mut total, mut divergent) = (0, 0);
    let mut failures = Vec::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let data: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let sets = &data["observations"];
        for case in data["cases"].as_array().expect("cases") {
            total += 1;
            let name = str_field(case, "name").expect("name");
            let pattern = str_field(case, "pattern").expect("pattern");
            let key = str_field(case, "observations").expect("observations");
            let observations = sets
                .get(key)
                .unwrap_or_else(|| panic!("{file} {name}: {key}"));
            let expect = str_field(case, "expect").expect("expect");
            let theirs = str_field(case, "stix2_matcher").expect("stix2_matcher");
            match str_field(case, "divergence") {
                Some(divergence) => {
                    divergent += 1;
                    if !headings.iter().any(|h| h == divergence) {
                        failures.push(format!(
                            "{file} {name}: divergence {divergence:?} is not a heading of \
                             docs/patterns.md's \"Divergences from stix2-matcher\""
                        ));
                    }
                }
                // Without a divergence the verdicts agree; where stix2-matcher raises while
                // matching, Kawal refuses too, the pattern or the observations.
                None if theirs == "matcher error" && !expect.ends_with(" error") => failures.push(
                    format!("{file} {name}: stix2-matcher raises, {expect:?} needs a divergence"),
                ),
                None if theirs == "matcher error" => {}
                None if theirs != expect => failures.push(format!(
                    "{file} {name}: expects {expect:?}, stix2-matcher says {theirs:?}, and no \
                     divergence is named"
                )),
                None => {}
            }
            let (ours, compiled) = verdict(pattern, observations);
            if compiled.is_some_and(|c| c != ours) {
                failures.push(format!(
                    "{file} {name}: {pattern}\n    IndicatorSet says {}, prepare+matches {ours}",
                    compiled.unwrap()
                ));
            }
            if ours != expect {
                failures.push(format!(
                    "{file} {name}: {pattern}\n    expected {expect}, got {ours} \
                     (stix2-matcher: {theirs})"
                ));
            }
        }
    }
    eprintln!(
        "{total} stix2-matcher cases from {} files, {divergent} divergent",
        files.len()
    );
    assert!(total >= 400, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
