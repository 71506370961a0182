//! `kawal hunt`: a STIX pattern over one organisation's archived events, read from the data
//! directory with `Snapshot::load`, which changes nothing, so it runs beside a live server.
//! Hits go to standard output as NDJSON; progress to standard error, as a bar when it is a
//! terminal and as one closing line otherwise.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use detect::hunt::when::parse_instant;
use detect::{HuntError, HuntHit, HuntSink, Hunter, Progress, Scope, Snapshot};
use kawal_core::Role;
use stix::Timestamp;

use crate::config::{Config, DataArgs};

/// Width of the progress bar, in characters.
const BAR: usize = 30;
/// The bar is redrawn at most this often.
const REDRAW: Duration = Duration::from_millis(100);

#[derive(Args)]
pub struct HuntArgs {
    /// A STIX pattern, for instance "[domain-name:value = 'evil.example']".
    pub pattern: String,
    /// Where the hunt starts: an age before now (7d, 12h, 30m) or an RFC 3339 timestamp.
    #[arg(long, default_value = "7d")]
    pub since: String,
    /// Where it ends (exclusive): an age or an RFC 3339 timestamp; now when omitted.
    #[arg(long)]
    pub until: Option<String>,
    /// The organisation whose events are hunted (default: the instance's own).
    #[arg(long)]
    pub org: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

/// The line a terminal shows while a hunt runs.
fn bar(progress: &Progress) -> String {
    let fraction = progress.fraction();
    let filled = ((fraction * BAR as f64).round() as usize).min(BAR);
    format!(
        "[{}{}] {:>3.0}%  {}/{} segments, {} hits",
        "#".repeat(filled),
        "-".repeat(BAR - filled),
        fraction * 100.0,
        progress.segments_done,
        progress.segments_total,
        progress.hits
    )
}

struct Output {
    out: std::io::StdoutLock<'static>,
    /// Standard error is a terminal: draw the bar.
    terminal: bool,
    drawn: Option<Instant>,
    failed: Option<std::io::Error>,
}

impl HuntSink for Output {
    fn hit(&mut self, hit: HuntHit) -> ControlFlow<()> {
        let line = serde_json::json!({
            "at": hit.at,
            "source": hit.source,
            "objects": hit.objects,
            "events": hit.events.len(),
        });
        match writeln!(self.out, "{line}") {
            Ok(()) => ControlFlow::Continue(()),
            // Standard output closed (`| head`): nobody wants more.
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn progress(&mut self, progress: &Progress) -> ControlFlow<()> {
        if self.terminal && self.drawn.is_none_or(|at| at.elapsed() >= REDRAW) {
            eprint!("\r{}", bar(progress));
            self.drawn = Some(Instant::now());
        }
        ControlFlow::Continue(())
    }
}

pub fn run(args: HuntArgs) -> Result<std::process::ExitCode> {
    let config = Config::load(&args.data, None)?;
    let now = Timestamp::now();
    let since = parse_instant(&args.since, now).context("--since")?;
    let until = match &args.until {
        Some(text) => parse_instant(text, now).context("--until")?,
        None => Timestamp::from_micros(now.as_micros().saturating_add(1)),
    };
    if since >= until {
        bail!("--since ({since}) must be before --until ({until})");
    }
    let mut hunter = Hunter::new();
    if let Err(e) = hunter.add_pattern(&args.pattern) {
        match e {
            HuntError::Pattern { source, .. } => match *source {
                matcher::PatternError::Syntax(diagnostic) => {
                    bail!("{}", diagnostic.render(&args.pattern))
                }
                other => bail!("{other}"),
            },
            other => bail!("{other}"),
        }
    }
    let exchange = crate::open_exchange(&config)?;
    let who = crate::local(&exchange, args.org.as_deref(), Role::Analyst)?;
    let org = who
        .org()
        .context("the command line acts for an organisation")?;
    let dir: PathBuf = config.data.join("archive");
    if !dir.is_dir() {
        bail!(
            "{} holds no event archive; `kawal serve` keeps one as events arrive",
            dir.display()
        );
    }
    let (snapshot, report) =
        Snapshot::load(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for (path, reason) in &report.damaged {
        eprintln!("skipping {}: {reason}", path.display());
    }
    let scope = Scope {
        owner: org,
        since,
        until,
    };
    let mut output = Output {
        out: std::io::stdout().lock(),
        terminal: std::io::stderr().is_terminal(),
        drawn: None,
        failed: None,
    };
    let summary = hunter.run(&snapshot, &scope, &mut output)?;
    output.out.flush().ok();
    if output.terminal {
        eprint!("\r{}\r", " ".repeat(BAR + 40));
    }
    for damage in &summary.damaged {
        eprintln!("skipped {}: {}", damage.path.display(), damage.reason);
    }
    eprintln!(
        "{} hits in {} events of {} to {} ({} of {} segments read)",
        summary.hits,
        summary.events_in_scope,
        since,
        until,
        summary
            .progress
            .segments_total
            .saturating_sub(summary.segments_skipped + summary.segments_removed),
        summary.progress.segments_total
    );
    if let Some(e) = output.failed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("cannot write the hits");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_progress() {
        let progress = |done, total| Progress {
            bytes_done: done,
            bytes_total: total,
            segments_done: 1,
            segments_total: 4,
            hits: 2,
        };
        assert_eq!(
            bar(&progress(0, 100)),
            format!("[{}]   0%  1/4 segments, 2 hits", "-".repeat(BAR))
        );
        assert_eq!(
            bar(&progress(50, 100)),
            format!(
                "[{}{}]  50%  1/4 segments, 2 hits",
                "#".repeat(BAR / 2),
                "-".repeat(BAR / 2)
            )
        );
        // An empty archive is done at once.
        assert!(bar(&progress(0, 0)).starts_with(&format!("[{}] 100%", "#".repeat(BAR))));
    }
}
