//! W1: one precompiled pattern against one observation.

mod workload;

use matcher::{prepare, Observation, Prepared};
use serde_json::json;
use stix::Timestamp;

fn main() {
    divan::main();
}

fn observation(value: serde_json::Value, at: &str) -> Observation {
    Observation::of_objects(
        vec![value],
        Timestamp::parse(at).unwrap_or(Timestamp::from_micros(0)),
    )
}

#[divan::bench]
fn hash_equality(bencher: divan::Bencher) {
    let hash = workload::sha256_of(42);
    let pattern: Prepared = prepare(&format!("[file:hashes.'SHA-256' = '{hash}']")).expect("valid");
    let obs = observation(
        json!({"type": "file", "id": "file--1", "hashes": {"SHA-256": hash}}),
        "2024-01-01T00:00:00Z",
    );
    bencher.bench_local(|| divan::black_box(&pattern).matches_one(divan::black_box(&obs)));
}

#[divan::bench]
fn followed_by_within(bencher: divan::Bencher) {
    let pattern = prepare("([domain-name:value = 'c2.example.net'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']) WITHIN 300 SECONDS").expect("valid");
    let observations = [
        observation(
            json!({"type": "domain-name", "id": "domain-name--1", "value": "c2.example.net"}),
            "2024-01-01T00:00:00Z",
        ),
        observation(
            json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"}),
            "2024-01-01T00:01:00Z",
        ),
    ];
    bencher.bench_local(|| {
        divan::black_box(&pattern)
            .matches(divan::black_box(&observations))
            .is_some()
    });
}
