//! Reads patterns, one a line, and prints `OK <canonical text>` or `ERR <message>` for each.
//! `scripts/differential.py` compares these verdicts with the `stix2-patterns` validator's.
//!
//! With `--render`, errors are printed as rendered diagnostics instead.

use std::io::{self, BufRead, Write};

fn main() -> io::Result<()> {
    let render = std::env::args().any(|a| a == "--render");
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        match pattern::parse(&line) {
            Ok(p) => writeln!(out, "OK {p}")?,
            Err(d) if render => write!(out, "{}", d.render(&line))?,
            Err(d) => writeln!(out, "ERR {}", d.message)?,
        }
    }
    Ok(())
}
