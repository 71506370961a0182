//! Parses the valid patterns of the test data over and over, a million parses in all, and
//! prints the rate: `cargo run --release -p kawal-pattern --example throughput`.

use std::time::Instant;

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let mut patterns = Vec::new();
    for file in ["spec_examples.txt", "valid.txt"] {
        let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap_or_default();
        patterns.extend(
            text.split('\n')
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    let mut bytes = 0;
    let mut ok = 0;
    let start = Instant::now();
    for i in 0..1_000_000 {
        let p = &patterns[i % patterns.len()];
        bytes += p.len();
        ok += usize::from(pattern::parse(p).is_ok());
    }
    let elapsed = start.elapsed();
    println!(
        "{ok} of 1000000 parsed in {elapsed:.2?} ({:.0} patterns/s, {:.0} MB/s)",
        1e6 / elapsed.as_secs_f64(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
}
