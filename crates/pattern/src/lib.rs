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
//! `EXISTS` (`NOT EXISTS file:name`). The tree the parser builds is in [`ast`].
//!
//! # Grammar
//!
//! OASIS `STIXPattern.g4` (STIX 2.1), written without left recursion. Keywords are
//! case-sensitive. Operators of one precedence level are left-associative and are collected
//! into one n-ary node; qualifiers bind tighter than any operator.
//!
//! ```text
//! pattern        = obs-followedby EOF
//! obs-followedby = obs-or  ( "FOLLOWEDBY" obs-or )*          ; loosest
//! obs-or         = obs-and ( "OR" obs-and )*
//! obs-and        = obs-qualified ( "AND" obs-qualified )*     ; tightest operator
//! obs-qualified  = obs-primary qualifier*
//! obs-primary    = "[" cmp-or "]"
//!                | "(" obs-followedby ")"
//! qualifier      = "WITHIN" (IntPos | FloatPos) "SECONDS"
//!                | "REPEATS" IntPos "TIMES"
//!                | "START" Timestamp "STOP" Timestamp
//!
//! cmp-or         = cmp-and ( "OR" cmp-and )*
//! cmp-and        = cmp-primary ( "AND" cmp-primary )*
//! cmp-primary    = "(" cmp-or ")"
//!                | "NOT"? "EXISTS" path
//!                | path "NOT"? ( "=" | "==" | "!=" | "<>" ) literal
//!                | path "NOT"? ( "<" | "<=" | ">" | ">=" ) orderable
//!                | path "NOT"? "IN" set
//!                | path "NOT"? ( "LIKE" | "MATCHES" | "ISSUBSET" | "ISSUPERSET" ) String
//!
//! path           = Ident ":" ( IdentNoHyphen | String ) step*
//! step           = "." ( IdentNoHyphen | String )
//!                | "[" ( IntPos | IntNeg | "*" ) "]"
//! set            = "(" ( literal ( "," literal )* )? ")"
//! literal        = orderable | "true" | "false"
//! orderable      = Int | Float | String | Timestamp | Hex | Binary
//! ```
//!
//! Tokens are cut by longest match, as ANTLR does, so `5SECONDS` is two tokens and `AND-x`
//! one identifier:
//!
//! ```text
//! Ident          = [a-zA-Z_] [a-zA-Z0-9_-]*     ; not a keyword; IdentNoHyphen has no "-"
//! IntPos / IntNeg = "+"? ("0" | [1-9][0-9]*)  /  "-" ("0" | [1-9][0-9]*)
//! FloatPos/Neg   = ("+" | "-")? [0-9]* "." [0-9]+
//! String         = "'" ( [^'\\] | "\\'" | "\\\\" )* "'"
//! Timestamp      = "t'" YYYY "-" MM "-" DD "T" hh ":" mm ":" ss ("." [0-9]+)? "Z'"
//! Hex            = "h'" ([0-9a-fA-F]{2})* "'"
//! Binary         = "b'" base64, one or more groups of four, "=" padding at the end "'"
//! keywords       = AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN
//!                  START STOP SECONDS WITHIN REPEATS TIMES true false
//! skipped        = whitespace (ASCII and Unicode spaces), /* … */, // … end of line
//! ```
//!
//! # Checks beyond the grammar
//!
//! What `stix2-patterns` checks: hash values for `…hashes.ALGORITHM`, and one qualifier of
//! each kind directly on an `[…]`. What a matcher needs to hold: timestamps name real dates,
//! START is before STOP, WITHIN and REPEATS are positive, numbers fit 64 bits, MATCHES
//! expressions are valid and mean in Rust's `regex` what they mean in PCRE. The first problem
//! in source order is reported.
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

/// The bytes of hex text, decoded as `h'…'` literals are; `None` when the text is not hex.
/// The matcher reads `_hex` properties of observed objects with it.
pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    // The offset only positions diagnostics, which are discarded here.
    literal::check_hex(text, 2).ok()?;
    Some(literal::decode_hex(text))
}

/// The bytes of base64 text, decoded as `b'…'` literals are; `None` when it is not base64.
pub fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    literal::check_base64(text, 2).ok()?;
    Some(literal::decode_base64(text))
}
