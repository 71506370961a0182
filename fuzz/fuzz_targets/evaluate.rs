//! A pattern and observations through the matcher.
//!
//! The input is UTF-8 text: its first line is a pattern, the rest JSON read as observations
//! (a bundle, an array, or one object), with a fixed default time for bare SCOs.
//!
//! - `Prepared::matches` returns indexes of the observations given;
//! - for a pattern on one observation (no observation operators or qualifiers), `matches`
//!   finds a binding exactly when one observation matches on its own;
//! - an `IndicatorSet` holding the pattern accepts it exactly when `prepare` does, reports
//!   only that indicator, and, for patterns on one observation, reports it for exactly the
//!   observations `Prepared::matches_one` accepts (its indexes only narrow the candidates);
//! - once removed, the indicator is reported for nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matcher::IndicatorSet;
use stix::Timestamp;

const ID: &str = "indicator--00000000-0000-4000-8000-000000000001";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern_text, json) = text.split_once('\n').unwrap_or((text, ""));
    let prepared = matcher::prepare(pattern_text);

    let mut set = IndicatorSet::new();
    let inserted = set.insert(ID, pattern_text, None, None);
    assert_eq!(
        prepared.is_ok(),
        inserted.is_ok(),
        "prepare and IndicatorSet::insert disagree on {pattern_text:?}: {:?} / {:?}",
        prepared.as_ref().err(),
        inserted.as_ref().err()
    );
    let Ok(prepared) = prepared else {
        return;
    };

    let default_time = Timestamp::parse("2021-01-01T00:00:00Z").expect("a valid timestamp");
    let Ok(observations) = matcher::observations_from_str(json, default_time) else {
        return;
    };

    let found = prepared.matches(&observations);
    if let Some(indexes) = &found {
        assert!(!indexes.is_empty(), "an empty binding for {pattern_text:?}");
        assert!(
            indexes.iter().all(|&i| i < observations.len()),
            "binding {indexes:?} outside {} observations",
            observations.len()
        );
    }
    let temporal = prepared.is_temporal();
    let one_by_one: Vec<bool> = observations
        .iter()
        .map(|o| prepared.matches_one(o))
        .collect();
    if !temporal {
        assert_eq!(
            found.is_some(),
            one_by_one.iter().any(|&m| m),
            "matches and matches_one disagree on {pattern_text:?}"
        );
    }

    for (i, observation) in observations.iter().enumerate() {
        let hits = set.match_observation(observation);
        assert!(
            hits.iter().all(|h| h.indicator == ID),
            "unknown indicator in {hits:?}"
        );
        assert!(hits.len() <= 1, "one indicator reported twice: {hits:?}");
        if !temporal {
            assert_eq!(
                !hits.is_empty(),
                one_by_one[i],
                "IndicatorSet and matches_one disagree on {pattern_text:?}, observation {i}: {:?}",
                observation.objects()
            );
        }
    }

    assert!(set.remove(ID));
    assert!(!set.remove(ID));
    for observation in &observations {
        assert!(set.match_observation(observation).is_empty());
    }
});
