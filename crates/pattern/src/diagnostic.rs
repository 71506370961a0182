//! Errors that point at the pattern text, rendered like a compiler's.

use std::fmt::{self, Write as _};
use std::ops::Range;

/// How serious a diagnostic is: the parser reports errors, [`crate::lint`] warnings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Why a pattern was rejected, or what looks wrong in it, and where.
///
/// `span` is a byte range into the pattern text; it is empty when the problem is a missing
/// token at the end of the input. `expected` lists what would have been accepted at that
/// point, when that is a short list of tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {})", span.start)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Range<usize>,
    pub message: String,
    /// Short text printed under the marked span, when `expected` is empty.
    pub label: Option<String>,
    pub expected: Vec<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(span: impl Into<Range<usize>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span: span.into(),
            message: message.into(),
            label: None,
            expected: Vec::new(),
            hint: None,
        }
    }

    pub fn warning(span: impl Into<Range<usize>>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::new(span, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_expected<S: Into<String>>(mut self, expected: impl IntoIterator<Item = S>) -> Self {
        self.expected = expected.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint unless one is already there: the more specific one was set first.
    pub(crate) fn or_hint(mut self, hint: Option<String>) -> Self {
        if self.hint.is_none() {
            self.hint = hint;
        }
        self
    }

    /// The text under the carets.
    fn caret_text(&self) -> Option<String> {
        match self.expected.as_slice() {
            [] => self.label.clone(),
            [one] => Some(format!("expected {one}")),
            many => Some(format!("expected one of {}", many.join(", "))),
        }
    }

    /// Renders the diagnostic against the text it was produced from:
    ///
    /// ```text
    /// error: expected a comparison operator after the object path
    ///   |
    /// 1 | [file:name 'x']
    ///   |            ^^^ expected one of =, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET
    /// ```
    pub fn render(&self, source: &str) -> String {
        let start = clamp_to_boundary(source, self.span.start);
        let end = clamp_to_boundary(source, self.span.end.max(start));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_no = source[..start].matches('\n').count() + 1;
        let line = source[line_start..line_end].trim_end_matches('\r');

        // Columns count characters; tabs are shown as one space so that carets line up.
        let shown: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let column = source[line_start..start].chars().count();
        let marked_end = end.min(line_start + line.len()).max(start);
        let width = source[start..marked_end].chars().count().max(1);

        let gutter = line_no.to_string().len();
        let pad = " ".repeat(gutter);
        let mut out = String::new();
        let _ = writeln!(out, "{}: {}", self.severity, self.message);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line_no} | {shown}");
        let _ = write!(out, "{pad} | {}{}", " ".repeat(column), "^".repeat(width));
        if let Some(text) = self.caret_text() {
            let _ = write!(out, " {text}");
        }
        out.push('\n');
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = help: {hint}");
        }
        out
    }
}

fn clamp_to_boundary(source: &str, mut at: usize) -> usize {
    at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The parser's result: errors are boxed so that the recursive functions move small values,
/// which keeps their stack frames small on deeply nested input.
pub(crate) type PResult<T> = Result<T, Box<Diagnostic>>;

pub(crate) fn err<T>(d: Diagnostic) -> PResult<T> {
    Err(Box::new(d))
}

/// Shows a token's text in messages, shortened when long.
pub(crate) struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 40;
        let mut chars = self.0.char_indices();
        match chars.nth(MAX) {
            Some((cut, _)) => write!(f, "`{}…`", &self.0[..cut]),
            None => write!(f, "`{}`", self.0),
        }
    }
}
