//! W2: an indicator feed against an event stream, on one core.
//!
//! `cargo bench -p kawal-matcher --bench w2` prints, per feed size and mix: compile time,
//! memory per indicator (live heap bytes counted by the allocator), events per second, p99
//! latency per event and hits; at the smallest size it also checks that the hits equal those
//! of evaluating every pattern on every event. Environment:
//! `KAWAL_W2_SIZES` (default `1000,10000,100000,1000000`), `KAWAL_W2_EVENTS` (default
//! `1000000`), `KAWAL_W2_WRITE=DIR` to write the 1k feed and a sample of events as STIX for the
//! stix2-matcher side of `bench/matcher.sh`, `KAWAL_BENIGN` (see workload.rs).

mod workload;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use matcher::{IndicatorSet, Observation};
use stix::Timestamp;
use workload::{event, indicator, Background};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Mix {
    Full,
    Exact,
}

/// Exact-only feeds reuse the first 70 buckets of the full mix.
fn feed_indicator(mix: Mix, i: u64) -> (String, String) {
    match mix {
        Mix::Full => indicator(i),
        Mix::Exact => {
            let (_, pattern) = indicator(i / 70 * 100 + i % 70);
            (indicator(i).0, pattern)
        }
    }
}

fn main() {
    let sizes = env_list("KAWAL_W2_SIZES", "1000,10000,100000,1000000");
    let events = env_list("KAWAL_W2_EVENTS", "1000000")
        .first()
        .copied()
        .unwrap_or(1_000_000);
    let bg = Background::load();
    let at = Timestamp::parse("2024-01-01T00:00:00Z").unwrap_or(Timestamp::from_micros(0));
    if let Ok(dir) = std::env::var("KAWAL_W2_WRITE") {
        write_workload(std::path::Path::new(&dir), &bg);
    }
    println!(
        "| mix | indicators | compile s | bytes/indicator | events | events/s | p99 µs | hits |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for mix in [Mix::Exact, Mix::Full] {
        for &n in &sizes {
            let before = LIVE.load(Ordering::Relaxed);
            let started = Instant::now();
            let mut set = IndicatorSet::new();
            for i in 0..n {
                let (id, pattern) = feed_indicator(mix, i);
                set.insert(&id, &pattern, None, None)
                    .expect("generated patterns are valid");
            }
            // The first match builds the automata; count that as compiling.
            set.match_observation(&Observation::of_objects(Vec::new(), at));
            let compile = started.elapsed().as_secs_f64();
            let per_indicator =
                LIVE.load(Ordering::Relaxed).saturating_sub(before) as f64 / n as f64;

            let mut latencies = Vec::with_capacity(events as usize);
            let mut hits = 0usize;
            let mut elapsed = 0f64;
            let chunk = 100_000u64.min(events);
            let mut start = 0;
            while start < events {
                let batch: Vec<Observation> = (start..(start + chunk).min(events))
                    .map(|e| Observation::of_objects(event(e, n, &bg), at))
                    .collect();
                let t0 = Instant::now();
                for observation in &batch {
                    let t = Instant::now();
                    hits += set.match_observation(observation).len();
                    latencies.push(t.elapsed().as_nanos() as u64);
                }
                elapsed += t0.elapsed().as_secs_f64();
                start += chunk;
            }
            latencies.sort_unstable();
            let p99 = latencies
                .get(latencies.len() * 99 / 100)
                .copied()
                .unwrap_or(0) as f64
                / 1000.0;
            let label = if mix == Mix::Full { "full" } else { "exact" };
            println!(
                "| {label} | {n} | {compile:.2} | {per_indicator:.0} | {events} | {:.0} | {p99:.1} | {hits} |",
                events as f64 / elapsed
            );
            if n == sizes[0] {
                check_against_naive(mix, n, &bg, at);
            }
            drop(set);
        }
    }
}

/// Every pattern on every event (first 20,000 events): the compiled set must agree.
fn check_against_naive(mix: Mix, n: u64, bg: &Background, at: Timestamp) {
    let prepared: Vec<(String, matcher::Prepared)> = (0..n)
        .map(|i| feed_indicator(mix, i))
        .filter_map(|(id, p)| matcher::prepare(&p).ok().map(|pr| (id, pr)))
        .filter(|(_, p)| !p.is_temporal())
        .collect();
    let mut set = IndicatorSet::new();
    for i in 0..n {
        let (id, pattern) = feed_indicator(mix, i);
        if prepared.iter().any(|(pid, _)| *pid == id) {
            set.insert(&id, &pattern, None, None).expect("valid");
        }
    }
    let mut disagreements = 0;
    let mut total = 0;
    for e in 0..20_000 {
        let observation = Observation::of_objects(event(e, n, bg), at);
        let naive: BTreeSet<&str> = prepared
            .iter()
            .filter(|(_, p)| p.matches_one(&observation))
            .map(|(id, _)| id.as_str())
            .collect();
        let hits = set.match_observation(&observation);
        let compiled: BTreeSet<&str> = hits.iter().map(|h| h.indicator.as_str()).collect();
        total += naive.len();
        if naive != compiled {
            disagreements += 1;
        }
    }
    println!("<!-- naive check, {n} indicators × 20000 events: {total} hits, {disagreements} events with different hit sets -->");
    assert_eq!(
        disagreements, 0,
        "the compiled set and the naive loop disagree"
    );
}

/// The 1k feed as a STIX bundle and 2,000 events as observed-data bundles (NDJSON).
fn write_workload(dir: &std::path::Path, bg: &Background) {
    std::fs::create_dir_all(dir).expect("output directory");
    let objects: Vec<serde_json::Value> = (0..1000)
        .map(indicator)
        .map(|(id, pattern)| {
            serde_json::json!({"type": "indicator", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00Z",
                "modified": "2024-01-01T00:00:00Z", "pattern": pattern, "pattern_type": "stix", "valid_from": "2020-01-01T00:00:00Z"})
        })
        .collect();
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects});
    std::fs::write(dir.join("indicators.json"), bundle.to_string()).expect("write indicators");
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(dir.join("events.ndjson")).expect("events file"),
    );
    for e in 0..2000u64 {
        let mut scos = event(e, 1000, bg);
        let refs: Vec<serde_json::Value> = scos.iter().map(|o| o["id"].clone()).collect();
        let mut objs = vec![
            serde_json::json!({"type": "observed-data", "spec_version": "2.1", "id": format!("observed-data--00000000-0000-4000-8000-{e:012}"),
            "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "first_observed": "2024-01-01T00:00:00Z",
            "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1, "object_refs": refs}),
        ];
        objs.append(&mut scos);
        let line = serde_json::json!({"type": "bundle", "id": format!("bundle--00000000-0000-4000-8000-{e:012}"), "objects": objs});
        writeln!(out, "{line}").expect("write event");
    }
}
