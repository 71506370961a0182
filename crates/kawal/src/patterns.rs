//! `kawal pattern`: check STIX patterns and match them against observations.
//!
//! Exit codes: 0 valid / match, 1 no match, 2 an error in the input.
//!
//! With `--batch FILE` (`-` for standard input) both read one pattern per line and print one
//! line per pattern, in order, so that many patterns cost one process:
//! - `check --batch`: `valid`, or `invalid<TAB>message`; exit 0 when all are valid, else 1;
//! - `match --batch FILE OBSERVATIONS`: `match <observed-data ids>`, `no match`, or
//!   `error<TAB>message` (a pattern that cannot be prepared); exit 0 when one matched, else 1.
//!
//! Blank lines are patterns too (invalid ones), so output line N always answers input line N.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use matcher::{observations_from_str, IndicatorSet};
use serde_json::Value;
use stix::Timestamp;

#[derive(Subcommand)]
pub enum PatternCommand {
    /// Check a pattern: prints `valid`, or the diagnostic (exit 2).
    Check {
        #[arg(required_unless_present = "batch")]
        pattern: Option<String>,
        /// Check every line of FILE (`-`: standard input) as a pattern, one verdict a line.
        #[arg(long, value_name = "FILE", conflicts_with = "pattern")]
        batch: Option<PathBuf>,
    },
    /// Match a pattern against a bundle (or JSON array of bundles) of observed-data and SCOs;
    /// or, with --indicators and --events, every indicator against every event line.
    Match {
        /// The pattern (single mode); with --batch, the observations file.
        pattern: Option<String>,
        /// The observations (single mode).
        file: Option<PathBuf>,
        /// A STIX bundle of indicators (bulk mode).
        #[arg(long, requires = "events", conflicts_with_all = ["pattern", "file"])]
        indicators: Option<PathBuf>,
        /// Newline-delimited JSON, one observed-data or group of SCOs per line (bulk mode).
        #[arg(long, requires = "indicators")]
        events: Option<PathBuf>,
        /// Match every line of FILE (`-`: standard input) as a pattern against the
        /// observations given as the one positional argument; one verdict a line.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "indicators"])]
        batch: Option<PathBuf>,
    },
}

pub fn run(command: PatternCommand) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let result = match command {
        PatternCommand::Check {
            batch: Some(batch), ..
        } => check_batch(&batch, &mut out),
        PatternCommand::Check {
            pattern: Some(pattern),
            ..
        } => check(&pattern, &mut out),
        PatternCommand::Check { .. } => Err("give a PATTERN, or --batch FILE".to_owned()),
        PatternCommand::Match {
            batch: Some(batch),
            pattern: Some(observations),
            ..
        } => match_batch(&batch, Path::new(&observations), &mut out),
        PatternCommand::Match { batch: Some(_), .. } => {
            Err("--batch FILE needs the observations file".to_owned())
        }
        PatternCommand::Match {
            indicators: Some(indicators),
            events: Some(events),
            ..
        } => bulk(&indicators, &events, &mut out),
        PatternCommand::Match {
            pattern: Some(pattern),
            file: Some(file),
            ..
        } => single(&pattern, &file, &mut out),
        PatternCommand::Match { .. } => {
            Err("give a PATTERN and a FILE, or --indicators BUNDLE and --events FILE".to_owned())
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn check(text: &str, out: &mut impl Write) -> Result<ExitCode, String> {
    match pattern::parse(text) {
        Ok(_) => {
            let _ = writeln!(out, "valid");
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostic) => Err(diagnostic.render(text)),
    }
}

/// The lines of a batch file; a final line break ends the last line rather than starting an
/// empty one.
fn batch_lines(path: &Path) -> Result<Vec<String>, String> {
    let text = read(path)?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    Ok(text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
        .collect())
}

/// A message on one line, for the `<TAB>message` of batch output.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_batch(path: &Path, out: &mut impl Write) -> Result<ExitCode, String> {
    let mut all_valid = true;
    for line in batch_lines(path)? {
        let verdict = match pattern::parse(&line) {
            Ok(_) => "valid".to_owned(),
            Err(diagnostic) => {
                all_valid = false;
                format!("invalid\t{}", one_line(&diagnostic.message))
            }
        };
        writeln!(out, "{verdict}").map_err(|e| format!("standard output: {e}"))?;
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn match_batch(patterns: &Path, file: &Path, out: &mut impl Write) -> Result<ExitCode, String> {
    let lines = batch_lines(patterns)?;
    let observations = observations_from_str(&read(file)?, Timestamp::now())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let mut any = false;
    for line in lines {
        let verdict = match matcher::prepare(&line) {
            Err(matcher::PatternError::Syntax(d)) => format!("error\t{}", one_line(&d.message)),
            Err(other) => format!("error\t{}", one_line(&other.to_string())),
            Ok(prepared) => match prepared.matches(&observations) {
                Some(binding) => {
                    any = true;
                    matched(&binding, &observations)
                }
                None => "no match".to_owned(),
            },
        };
        writeln!(out, "{verdict}").map_err(|e| format!("standard output: {e}"))?;
    }
    Ok(if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `match` and the ids of the observed-data of a binding.
fn matched(binding: &[usize], observations: &[matcher::Observation]) -> String {
    let ids: Vec<&str> = binding
        .iter()
        .filter_map(|i| observations[*i].id.as_deref())
        .collect();
    format!("match {}", ids.join(" "))
}

fn read(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("standard input: {e}"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn single(text: &str, file: &Path, out: &mut impl Write) -> Result<ExitCode, String> {
    let prepared = matcher::prepare(text).map_err(|e| match e {
        matcher::PatternError::Syntax(d) => d.render(text),
        other => other.to_string(),
    })?;
    let observations = observations_from_str(&read(file)?, Timestamp::now())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    match prepared.matches(&observations) {
        Some(binding) => {
            let _ = writeln!(out, "{}", matched(&binding, &observations));
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let _ = writeln!(out, "no match");
            Ok(ExitCode::from(1))
        }
    }
}

/// Loads every STIX-pattern indicator of a bundle; refused ones are reported, not fatal.
fn load_indicators(path: &Path) -> Result<IndicatorSet, String> {
    let text = read(path)?;
    let objects = stix::parse_envelope(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut set = IndicatorSet::new();
    let mut refused = 0;
    for raw in objects {
        let Ok(object) = serde_json::from_str::<Value>(raw.get()) else {
            continue;
        };
        let field = |k: &str| object.get(k).and_then(Value::as_str);
        if field("type") != Some("indicator")
            || field("pattern_type") != Some("stix")
            || object.get("revoked") == Some(&Value::Bool(true))
        {
            continue;
        }
        let time = |k: &str| field(k).and_then(|t| Timestamp::parse(t).ok());
        let (Some(id), Some(pattern)) = (field("id"), field("pattern")) else {
            continue;
        };
        if let Err(e) = set.insert(id, pattern, time("valid_from"), time("valid_until")) {
            refused += 1;
            eprintln!("skipped {e}");
        }
    }
    if refused > 0 {
        eprintln!("{refused} indicators skipped, {} loaded", set.len());
    }
    Ok(set)
}

fn bulk(indicators: &Path, events: &Path, out: &mut impl Write) -> Result<ExitCode, String> {
    let mut set = load_indicators(indicators)?;
    let reader: Box<dyn BufRead> = if events == Path::new("-") {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(events).map_err(|e| format!("{}: {e}", events.display()))?,
        ))
    };
    let mut hits = 0u64;
    let mut bad_lines = 0u64;
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", events.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match observations_from_str(&line, Timestamp::now()) {
            Ok(observations) => {
                for observation in &observations {
                    for hit in set.match_observation(observation) {
                        hits += 1;
                        let ids: Vec<&str> = hit
                            .observations
                            .iter()
                            .map(|o| o.as_deref().unwrap_or("-"))
                            .collect();
                        let _ =
                            writeln!(out, "{}\t{}\t{}", number + 1, hit.indicator, ids.join(","));
                    }
                }
            }
            Err(e) => {
                bad_lines += 1;
                eprintln!("{}:{}: {e}", events.display(), number + 1);
            }
        }
    }
    if bad_lines > 0 {
        eprintln!("{bad_lines} event lines could not be read");
    }
    Ok(if hits > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
