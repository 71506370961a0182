//! The STIX 2.1 Patterning language: a parser that accepts what OASIS `STIXPattern.g4`
//! accepts, checks what the `stix2-patterns` validator checks, and reports the first problem
//! with its position, what was expected there and a hint.
//!
//! ```
//! let pattern = pattern::parse("[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] WITHIN 300 SECONDS")?;
//! let c = pattern.comparisons().next().unwrap();
//! assert_eq!(c.object_type(), "file");
//! assert_eq!(c.path.to_string(), "file:hashes.'SHA-256'");
//!
//! let err = pattern::parse("[file:name 'x']").unwrap_err();
//! assert_eq!(err.render("[file:name 'x']"), "\
//! error: expected a comparison operator after the object path
//!   |
//! 1 | [file:name 'x']
//!   |            ^^^ expected one of =, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, NOT
//!   = help: is an operator such as `=` missing?
//! ");
//! # Ok::<(), pattern::Diagnostic>(())
//! ```
//!
//! # The language
//!
//! A pattern is observation expressions — comparisons in square brackets — combined with
//! `AND` (binds tightest), `OR` and `FOLLOWEDBY` (loosest), grouped with parentheses, and
//! qualified with `WITHIN n SECONDS`, `REPEATS n TIMES` and `START t'…' STOP t'…'`:
//!
//! ```text
//! [file:name = 'a.exe' AND file:size > 1024] FOLLOWEDBY ([ipv4-addr:value ISSUBSET '198.51.100.0/24'] REPEATS 3 TIMES) WITHIN 60 SECONDS
//! ```
//!
//! Inside the brackets, comparisons `object-type:path operator value` are combined with `AND`
//! and `OR`; `NOT` goes before the operator (`file:name NOT LIKE '%.dll'`) or before
//! `EXISTS` (`NOT EXISTS file:name`). The full grammar is at the top of the `parser` module;
//! the tree it builds is in [`ast`].
//!
//! `parse` returns the first error only: it is what the author must fix first, and it keeps
//! parsing fast for the matcher, which parses every active indicator. Where this parser and
//! `stix2-patterns` disagree on purpose, `docs/patterns.md` lists why.

pub mod ast;
mod diagnostic;
mod hashes;
mod inspect;
mod lexer;
mod lint;
mod literal;
mod parser;
mod print;
mod regex;

pub use ast::{
    Comparison, ComparisonExpr, ComparisonKind, Literal, Number, ObjectPath, ObservationExpr,
    ObservationKind, Operator, PathStep, Pattern, Qualifier, QualifierKind, Span, Spanned, Value,
};
pub use diagnostic::{Diagnostic, Severity};
pub use inspect::{Comparisons, ObservationOperators, Observations};
pub use lint::lint;
pub use parser::MAX_NESTING;

/// Parses a STIX 2.1 pattern.
///
/// On failure the [`Diagnostic`] describes the first problem in the text; render it with
/// [`Diagnostic::render`] against the same text.
pub fn parse(text: &str) -> Result<Pattern, Diagnostic> {
    parser::parse(text).map_err(|d| *d)
}

impl std::str::FromStr for Pattern {
    type Err = Diagnostic;

    fn from_str(text: &str) -> Result<Self, Diagnostic> {
        parse(text)
    }
}
