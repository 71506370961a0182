//! Hunts find exactly what matching every archived event finds, and skip the rest.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use detect::archive::{Archive, ArchivedEvent, Scope};
use detect::hunt::{HuntHit, HuntSink, Hunter, Progress};
use matcher::{IndicatorSet, Observation};
use proptest::prelude::*;
use serde_json::json;
use stix::Timestamp;

use crate::pool::*;

fn indicator_id(n: usize) -> String {
    format!("indicator--11111111-2222-4333-8444-{n:012x}")
}

fn collect(hunter: &Hunter, archive: &Archive, scope: &Scope) -> anyhow::Result<Vec<HuntHit>> {
    let mut hits = Vec::new();
    let summary = hunter.run(&archive.snapshot(), scope, &mut |hit: HuntHit| {
        hits.push(hit);
        ControlFlow::Continue(())
    })?;
    assert!(summary.damaged.is_empty(), "{:?}", summary.damaged);
    assert!(!summary.cancelled);
    assert_eq!(summary.hits as usize, hits.len());
    Ok(hits)
}

/// The reference: every event of the scope, in archive order, through one indicator set
/// holding every indicator. (indicator, event source) per hit.
fn evaluate_everything(
    archive: &Archive,
    scope: &Scope,
    indicators: &[(String, String, Option<Timestamp>)],
) -> anyhow::Result<Vec<(String, String)>> {
    let mut set = IndicatorSet::new();
    for (id, pattern, valid_from) in indicators {
        set.insert(id, pattern, *valid_from, None)?;
    }
    let mut hits = Vec::new();
    for event in read_all(archive, scope)? {
        let observation = Observation::of_objects(event.objects, event.at);
        for hit in set.match_observation(&observation) {
            hits.push((hit.indicator, event.source.clone()));
        }
    }
    hits.sort();
    Ok(hits)
}

fn leaf() -> impl Strategy<Value = String> {
    let ip = prop::sample::select(IPS.to_vec());
    let domain = prop::sample::select(DOMAINS.to_vec());
    let hash = prop::sample::select(HASHES.to_vec());
    let port = prop::sample::select(PORTS.to_vec());
    let start = prop::sample::select(STARTS.to_vec());
    prop_oneof![
        ip.clone().prop_map(|v| format!("ipv4-addr:value = '{v}'")),
        ip.clone().prop_map(|v| format!("ipv6-addr:value = '{v}'")),
        ip.clone()
            .prop_map(|v| format!("network-traffic:dst_ref.value = '{v}'")),
        ip.clone()
            .prop_map(|v| format!("network-traffic:src_ref.value != '{v}'")),
        ip.clone()
            .prop_map(|v| format!("ipv4-addr:value NOT = '{v}'")),
        // Identifiers, which the filters leave out.
        ip.clone()
            .prop_map(|v| format!("network-traffic:dst_ref = '{}'", address_id(v))),
        ip.clone()
            .prop_map(|v| format!("ipv4-addr:id = '{}'", address_id(v))),
        // Timestamps, which the filters leave out too.
        start.prop_map(|v| format!("network-traffic:start = '{v}'")),
        (ip.clone(), ip).prop_map(|(a, b)| format!("ipv4-addr:value IN ('{a}', '{b}')")),
        domain
            .clone()
            .prop_map(|v| format!("domain-name:value = '{v}'")),
        domain
            .clone()
            .prop_map(|v| format!("url:value = 'http://{v}/gate.php?q=1'")),
        Just("domain-name:value LIKE '%evil%'".to_owned()),
        Just("domain-name:value LIKE 'caf%'".to_owned()),
        Just("url:value LIKE '%gate.php%'".to_owned()),
        Just("domain-name:value MATCHES '^a\\\\.'".to_owned()),
        Just("ipv4-addr:value ISSUBSET '198.51.100.0/24'".to_owned()),
        Just("network-traffic:dst_ref.value ISSUBSET '203.0.0.0/12'".to_owned()),
        Just("ipv4-addr:value ISSUBSET '10.1.2.3'".to_owned()),
        Just("ipv6-addr:value ISSUBSET '2001:db8::/64'".to_owned()),
        port.clone()
            .prop_map(|p| format!("network-traffic:dst_port = {p}")),
        port.prop_map(|p| format!("network-traffic:dst_port > {p}")),
        hash.prop_map(|h| format!("file:hashes.'SHA-256' = '{h}'")),
        Just("file:name = 'sample1.exe'".to_owned()),
        Just("EXISTS file:size".to_owned()),
        Just("network-traffic:extensions.'http-request-ext'.request_method = 'GET'".to_owned()),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => leaf(),
        1 => (leaf(), leaf()).prop_map(|(a, b)| format!("{a} AND {b}")),
        1 => (leaf(), leaf()).prop_map(|(a, b)| format!("{a} OR {b}")),
        1 => (leaf(), leaf(), leaf()).prop_map(|(a, b, c)| format!("({a} OR {b}) AND {c}")),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => comparison().prop_map(|c| format!("[{c}]")),
        1 => (comparison(), comparison()).prop_map(|(a, b)| format!("[{a}] AND [{b}]")),
        1 => (comparison(), comparison()).prop_map(|(a, b)| format!("[{a}] OR [{b}]")),
        1 => (comparison(), comparison()).prop_map(|(a, b)| format!("[{a}] FOLLOWEDBY [{b}]")),
        1 => comparison().prop_map(|a| format!("[{a}] REPEATS 2 TIMES")),
        1 => (comparison(), comparison())
            .prop_map(|(a, b)| format!("([{a}] AND [{b}]) WITHIN 120 SECONDS")),
    ]
}

fn archive_of(events: &[ArchivedEvent]) -> anyhow::Result<(tempfile::TempDir, Archive)> {
    let dir = tempfile::tempdir()?;
    let config = detect::ArchiveConfig {
        block_bytes: 1024,
        segment_bytes: 8 << 10,
        segment_window: std::time::Duration::from_secs(1800),
        ..detect::ArchiveConfig::default()
    };
    let archive = Archive::open(dir.path(), config)?;
    archive.append_batch(events)?;
    // Part sealed, part in the segment still open.
    archive.flush()?;
    Ok((dir, archive))
}

/// Runs the patterns over a generated archive with a hunter holding all of them and with one
/// hunter per pattern, and compares both with evaluating every event; returns the hits.
fn differential(
    patterns: &[String],
    seed: u64,
    count: usize,
    minutes: (i64, i64),
    late_from: &[bool],
) -> anyhow::Result<Vec<(String, String)>> {
    let stream = events(count, T0, 20_000_000, &[1, 2], seed);
    let (_dir, archive) = archive_of(&stream)?;
    let scope = Scope {
        owner: 1,
        since: Timestamp::from_micros(T0 + minutes.0 * 60_000_000),
        until: Timestamp::from_micros(T0 + minutes.1 * 60_000_000),
    };
    let indicators: Vec<(String, String, Option<Timestamp>)> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let late = late_from.get(i).copied().unwrap_or(false);
            let valid_from = late.then(|| Timestamp::from_micros(T0 + 30 * 60_000_000));
            (indicator_id(i), p.clone(), valid_from)
        })
        .collect();
    let expected = evaluate_everything(&archive, &scope, &indicators)?;

    let mut hunter = Hunter::new();
    for (id, pattern, valid_from) in &indicators {
        hunter.add_indicator(id, pattern, *valid_from, None)?;
    }
    let mut found: Vec<(String, String)> = collect(&hunter, &archive, &scope)?
        .into_iter()
        .map(|h| (h.indicator.unwrap_or_default(), h.source))
        .collect();
    found.sort();
    anyhow::ensure!(
        found == expected,
        "all patterns together: {found:?} != {expected:?}"
    );

    for (id, pattern, valid_from) in &indicators {
        let mut alone = Hunter::new();
        alone.add_indicator(id, pattern, *valid_from, None)?;
        let mut found: Vec<(String, String)> = collect(&alone, &archive, &scope)?
            .into_iter()
            .map(|h| (h.indicator.unwrap_or_default(), h.source))
            .collect();
        found.sort();
        let mine: Vec<_> = expected.iter().filter(|(i, _)| i == id).cloned().collect();
        anyhow::ensure!(found == mine, "{pattern}: {found:?} != {mine:?}");
    }
    Ok(expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Skipping segments, blocks and events changes nothing: a hunt with every pattern, and a
    /// hunt per pattern, find exactly what evaluating every event finds.
    #[test]
    fn hunting_finds_what_evaluating_every_event_finds(
        patterns in prop::collection::vec(pattern(), 1..6),
        seed in any::<u64>(),
        count in 50usize..400,
        from in 0i64..100,
        to in 0i64..140,
        late_from in prop::collection::vec(any::<bool>(), 6),
    ) {
        differential(&patterns, seed, count, (from, to), &late_from)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn the_differential_check_sees_hits_of_every_kind_of_pattern() -> anyhow::Result<()> {
    let patterns: Vec<String> = [
        "[ipv4-addr:value = '198.51.100.7']",
        "[network-traffic:dst_ref.value = '203.0.113.5' AND network-traffic:dst_port = 443]",
        "[domain-name:value LIKE '%evil%' OR file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        "[ipv4-addr:value != '10.1.2.3']",
        "[domain-name:value MATCHES '^caf']",
        "[url:value = 'http://good.example/gate.php?q=1'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.1']",
        "[file:name = 'sample1.exe'] REPEATS 2 TIMES",
    ]
    .map(str::to_owned)
    .into_iter()
    .chain([
        format!("[ipv4-addr:id = '{}']", address_id("198.51.100.7")),
        format!("[network-traffic:start = '{}']", STARTS[1]),
    ])
    .collect();
    let hits = differential(&patterns, 42, 400, (10, 120), &[false, true])?;
    for (i, pattern) in patterns.iter().enumerate() {
        let id = indicator_id(i);
        let n = hits
            .iter()
            .filter(|(indicator, _)| *indicator == id)
            .count();
        assert!(n > 0, "no hit for {pattern}");
    }
    Ok(())
}

#[test]
fn events_first_indicator_later_is_a_retro_hunt_hit() -> anyhow::Result<()> {
    let mut stream = events(500, T0, 1_000_000, &[1], 21);
    stream[321].objects = vec![json!({
        "type": "domain-name",
        "id": "domain-name--3c9b8a0e-5b0f-5e8e-8f4a-2b1d4c6e8f00",
        "value": "c2.retro.example"
    })];
    let (_dir, archive) = archive_of(&stream)?;
    // The indicator arrives after the events.
    let mut hunter = Hunter::new();
    let id = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    hunter.add_indicator(id, "[domain-name:value = 'c2.retro.example']", None, None)?;
    let hits = collect(&hunter, &archive, &everything(1))?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].indicator.as_deref(), Some(id));
    assert_eq!(hits[0].source, "e321");
    assert_eq!(hits[0].at, stream[321].at);
    assert_eq!(hits[0].objects, stream[321].objects);
    assert_eq!(hits[0].events.len(), 1);
    // The same events belong to nobody else.
    assert!(collect(&hunter, &archive, &everything(2))?.is_empty());
    Ok(())
}

#[test]
fn a_hunt_sees_only_its_organisation_and_its_time_range() -> anyhow::Result<()> {
    // Both organisations see the same values at the same times.
    let stream = events(400, T0, 60_000_000, &[1, 2], 5);
    let (_dir, archive) = archive_of(&stream)?;
    let mut hunter = Hunter::new();
    hunter.add_pattern("[ipv4-addr:value = '198.51.100.7']")?;
    let since = Timestamp::from_micros(T0 + 100 * 60_000_000);
    let until = Timestamp::from_micros(T0 + 200 * 60_000_000);
    for owner in [1, 2] {
        let scope = Scope {
            owner,
            since,
            until,
        };
        let hits = collect(&hunter, &archive, &scope)?;
        let expected: Vec<&str> = stream
            .iter()
            .filter(|e| e.owner == owner && e.at >= since && e.at < until)
            .filter(|e| {
                serde_json::to_string(&e.objects).is_ok_and(|t| t.contains("\"198.51.100.7\""))
            })
            .map(|e| e.source.as_str())
            .collect();
        assert!(!expected.is_empty());
        let found: Vec<&str> = hits.iter().map(|h| h.source.as_str()).collect();
        assert_eq!(found, expected);
        // Hits carry every object of their event, not only those the pattern looked at.
        for hit in &hits {
            let event = stream.iter().find(|e| e.source == hit.source);
            assert_eq!(Some(&hit.objects), event.map(|e| &e.objects));
        }
        assert!(hits.iter().all(|h| h.indicator.is_none() && h.pattern == 0));
    }
    Ok(())
}

#[test]
fn a_selective_hunt_reads_few_blocks() -> anyhow::Result<()> {
    let mut stream = events(20_000, T0, 100_000, &[1], 99);
    stream[12_345].objects[0]["value"] = json!("192.0.2.99");
    let (_dir, archive) = archive_of(&stream)?;
    let mut hunter = Hunter::new();
    hunter.add_pattern("[ipv4-addr:value = '192.0.2.99']")?;
    let mut hits = Vec::new();
    let summary = hunter.run(&archive.snapshot(), &everything(1), &mut |h: HuntHit| {
        hits.push(h.source);
        ControlFlow::Continue(())
    })?;
    assert_eq!(hits, vec!["e12345".to_owned()]);
    let blocks = summary.blocks_read + summary.blocks_skipped;
    // Segment filters skip most segments outright; a block filter lets about 1 % through.
    assert!(
        summary.segments_skipped > summary.progress.segments_total / 2,
        "{summary:?}"
    );
    assert!(summary.blocks_read * 20 < blocks.max(1) + 20, "{summary:?}");
    assert!(summary.events_matched <= 20, "{summary:?}");
    // A pattern without needles reads every block and matches every event of the scope.
    let mut broad = Hunter::new();
    broad.add_pattern("[network-traffic:dst_port > 100]")?;
    let summary = broad.run(&archive.snapshot(), &everything(1), &mut |_: HuntHit| {
        ControlFlow::Continue(())
    })?;
    assert_eq!(summary.events_in_scope, 20_000);
    assert_eq!(summary.events_matched, 20_000);
    assert_eq!(summary.segments_skipped, 0);
    Ok(())
}

struct Recorder {
    progress: Vec<Progress>,
    hits: usize,
    stop_after: usize,
}

impl HuntSink for Recorder {
    fn hit(&mut self, _hit: HuntHit) -> ControlFlow<()> {
        self.hits += 1;
        if self.hits >= self.stop_after {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn progress(&mut self, progress: &Progress) -> ControlFlow<()> {
        self.progress.push(progress.clone());
        ControlFlow::Continue(())
    }
}

#[test]
fn progress_rises_to_the_end_and_a_hunt_can_be_cancelled() -> anyhow::Result<()> {
    let stream = events(3000, T0, 1_000_000, &[1], 17);
    let (_dir, archive) = archive_of(&stream)?;
    let mut hunter = Hunter::new();
    hunter.add_pattern("[network-traffic:dst_port = 443]")?;
    let mut all = Recorder {
        progress: Vec::new(),
        hits: 0,
        stop_after: usize::MAX,
    };
    let summary = hunter.run(&archive.snapshot(), &everything(1), &mut all)?;
    assert!(all.hits > 10);
    assert!(!summary.cancelled);
    let fractions: Vec<f64> = all.progress.iter().map(Progress::fraction).collect();
    assert!(fractions.len() > 10);
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "{fractions:?}");
    assert_eq!(fractions.last().copied(), Some(1.0));
    assert_eq!(
        summary.progress.segments_done,
        summary.progress.segments_total
    );

    let mut cancelled = Recorder {
        progress: Vec::new(),
        hits: 0,
        stop_after: 3,
    };
    let summary = hunter.run(&archive.snapshot(), &everything(1), &mut cancelled)?;
    assert!(summary.cancelled);
    assert_eq!(cancelled.hits, 3);
    assert!(summary.progress.fraction() < 1.0);
    Ok(())
}

#[test]
fn patterns_over_several_events_name_every_event_of_the_match() -> anyhow::Result<()> {
    let mut stream = events(200, T0, 1_000_000, &[1], 3);
    stream[50].objects = vec![
        json!({"type": "domain-name", "id": "domain-name--00000000-0000-4000-8000-000000000001", "value": "stage1.example"}),
    ];
    stream[80].objects = vec![
        json!({"type": "domain-name", "id": "domain-name--00000000-0000-4000-8000-000000000002", "value": "stage2.example"}),
    ];
    let (_dir, archive) = archive_of(&stream)?;
    let mut hunter = Hunter::new();
    hunter.add_pattern(
        "([domain-name:value = 'stage1.example'] FOLLOWEDBY [domain-name:value = 'stage2.example']) WITHIN 60 SECONDS",
    )?;
    let hits = collect(&hunter, &archive, &everything(1))?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].source, "e80");
    assert_eq!(hits[0].events.len(), 2);
    let mut seen = BTreeMap::new();
    archive.snapshot().read(&everything(1), |e| {
        seen.insert(e.source.clone(), e.at);
        ControlFlow::Continue(())
    })?;
    assert_eq!(hits[0].at, seen["e80"]);
    // Each event of the match can be read back, by its owner only.
    let snapshot = archive.snapshot();
    let sources: Vec<String> = hits[0]
        .events
        .iter()
        .map(|at| snapshot.event(1, at))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .map(|e| e.source)
        .collect();
    assert_eq!(sources, ["e50", "e80"]);
    assert_eq!(snapshot.event(2, &hits[0].events[0])?, None);
    // Too far apart for a shorter window.
    let mut tight = Hunter::new();
    tight.add_pattern(
        "([domain-name:value = 'stage1.example'] FOLLOWEDBY [domain-name:value = 'stage2.example']) WITHIN 10 SECONDS",
    )?;
    assert!(collect(&tight, &archive, &everything(1))?.is_empty());
    Ok(())
}

#[test]
fn hunts_see_what_was_flushed_into_the_open_segment() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), detect::ArchiveConfig::default())?;
    // Fewer than a block holds.
    let stream = events(60, T0, 1_000_000, &[1], 8);
    archive.append_batch(&stream)?;
    let mut hunter = Hunter::new();
    hunter.add_pattern("[network-traffic:dst_port = 53]")?;
    // Still gathered in memory: not in a snapshot.
    assert!(collect(&hunter, &archive, &everything(1))?.is_empty());
    archive.flush()?;
    let hits = collect(&hunter, &archive, &everything(1))?;
    let expected = stream
        .iter()
        .filter(|e| e.objects.iter().any(|o| o["dst_port"] == json!(53)))
        .count();
    assert_eq!(hits.len(), expected);
    assert!(expected > 0);
    Ok(())
}

#[test]
fn bad_patterns_are_refused_with_their_reason() {
    let mut hunter = Hunter::new();
    let err = hunter
        .add_pattern("[ipv4-addr:value = ]")
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.starts_with("pattern 0: ")));
    let err = hunter
        .add_pattern("[ipv4-addr:value ISSUBSET 'not a network']")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("pattern 0: `not a network` is not an IP address or CIDR block")
    );
    assert!(hunter.is_empty());
}

#[test]
fn hunts_run_while_events_are_appended_and_segments_expire() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = detect::ArchiveConfig {
        retention: detect::Retention {
            max_age: None,
            max_bytes: Some(64 << 10),
        },
        ..small_config()
    };
    let archive = std::sync::Arc::new(Archive::open(dir.path(), config)?);
    let writer = {
        let archive = archive.clone();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let stream = events(3000, T0, 1_000_000, &[1], 77);
            for chunk in stream.chunks(100) {
                archive.append_batch(chunk)?;
                archive.flush()?;
                archive.enforce_retention(Timestamp::from_micros(T0))?;
            }
            Ok(())
        })
    };
    let mut hunter = Hunter::new();
    hunter.add_pattern("[network-traffic:dst_port = 443]")?;
    let mut hunts = 0;
    while !writer.is_finished() || hunts == 0 {
        let summary = hunter.run(&archive.snapshot(), &everything(1), &mut |_: HuntHit| {
            ControlFlow::Continue(())
        })?;
        // Segments deleted under the hunt are counted, not reported as damage.
        assert!(summary.damaged.is_empty(), "{:?}", summary.damaged);
        hunts += 1;
    }
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer panicked"))??;
    assert!(archive.stats().bytes <= (64 << 10) + (16 << 10));
    Ok(())
}
