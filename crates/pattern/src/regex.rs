//! Checks the regular expression of a MATCHES comparison.
//!
//! STIX specifies PCRE. Kawal matches with Rust's `regex` engine, which guarantees linear time
//! and therefore lacks the constructs that need backtracking. A pattern is refused here when
//! its expression uses such a construct, or one that the two dialects read differently
//! (`a++` is possessive in PCRE but a nested repetition in Rust; `\<` is a literal in PCRE but
//! a word boundary in Rust): accepting it would make the matcher silently disagree with the
//! author. Everything else PCRE and Rust share is accepted.

use std::ops::Range;

use regex_syntax::ast::{
    self, parse::Parser, AssertionKind, Ast, ClassSetItem, Flag, FlagsItemKind, GroupKind,
    LiteralKind, RepetitionKind, SpecialLiteralKind,
};

/// A problem found in a regular expression; `span` is a byte range of the expression (after
/// the string literal's escapes are resolved).
#[derive(Debug)]
pub(crate) struct RegexProblem {
    pub span: Range<usize>,
    pub message: String,
    pub label: String,
    pub hint: Option<String>,
}

const LINEAR: &str =
    "Kawal runs regular expressions in linear time, without backtracking, so this PCRE feature is not available";

fn problem(span: Range<usize>, message: &str, label: &str, hint: Option<&str>) -> RegexProblem {
    RegexProblem {
        span,
        message: message.to_owned(),
        label: label.to_owned(),
        hint: hint.map(str::to_owned),
    }
}

pub(crate) fn check(regex: &str) -> Result<(), RegexProblem> {
    let ast = Parser::new()
        .parse(regex)
        .map_err(|e| from_parse_error(regex, &e))?;
    ast::visit(&ast, Dialect)?;
    regex_syntax::hir::translate::Translator::new()
        .translate(regex, &ast)
        .map_err(|e| {
            problem(
                e.span().start.offset..e.span().end.offset,
                "invalid regular expression",
                &e.kind().to_string(),
                None,
            )
        })?;
    Ok(())
}

fn from_parse_error(regex: &str, e: &ast::Error) -> RegexProblem {
    use ast::ErrorKind as K;
    let span = e.span().start.offset..e.span().end.offset;
    let at = |from: usize| regex.get(from..).unwrap_or("");
    match e.kind() {
        K::UnsupportedBackreference => problem(
            span,
            "backreferences are not supported in MATCHES",
            "backreference",
            Some(&format!(
                "{LINEAR}; an octal escape such as \\012 can be written \\x0A"
            )),
        ),
        K::UnsupportedLookAround => problem(
            span,
            "look-ahead and look-behind are not supported in MATCHES",
            "look-around",
            Some(LINEAR),
        ),
        K::FlagUnrecognized => {
            // The flag parser stops at the character after `(?`.
            let group = span.start.saturating_sub(2);
            let (what, hint) = match at(group).get(..3) {
                Some("(?>") => ("atomic groups are not supported in MATCHES", Some(LINEAR)),
                Some("(?(") => (
                    "conditional groups are not supported in MATCHES",
                    Some(LINEAR),
                ),
                Some("(?#") => (
                    "comment groups are not supported in MATCHES",
                    Some("remove the (?#…) comment"),
                ),
                Some("(?|") => ("branch-reset groups are not supported in MATCHES", None),
                _ => ("unknown group flag in regular expression", None),
            };
            problem(span, what, "unsupported", hint)
        }
        K::EscapeUnrecognized => {
            let escape = at(span.start).get(..2).unwrap_or("\\");
            let hint = match escape {
                "\\Q" | "\\E" => {
                    Some("escape each metacharacter with a backslash instead of \\Q…\\E")
                }
                "\\k" | "\\g" => Some(LINEAR),
                "\\Z" => Some("use \\z for the end of the text, or $"),
                "\\G" | "\\K" => Some(LINEAR),
                "\\e" => Some("write the escape character as \\x1B"),
                "\\h" => Some("write horizontal space as [\\t\\x20\\xA0]"),
                "\\R" => Some("write a line break as (?:\\r\\n|\\n|\\r)"),
                _ => None,
            };
            problem(
                span,
                &format!("unsupported escape `{escape}` in regular expression"),
                "not available in Kawal's regular expressions",
                hint,
            )
        }
        kind => problem(span, "invalid regular expression", &kind.to_string(), None),
    }
}

/// Refuses what Rust's parser accepts with a meaning other than PCRE's.
struct Dialect;

impl ast::Visitor for Dialect {
    type Output = ();
    type Err = RegexProblem;

    fn finish(self) -> Result<(), RegexProblem> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), RegexProblem> {
        match ast {
            Ast::Repetition(rep) if matches!(*rep.ast, Ast::Repetition(_)) => {
                let span = rep.op.span.start.offset..rep.op.span.end.offset;
                Err(if rep.op.kind == RepetitionKind::OneOrMore {
                    problem(
                        span,
                        "possessive quantifiers are not supported in MATCHES",
                        "possessive `+`",
                        Some(LINEAR),
                    )
                } else {
                    problem(
                        span,
                        "a quantifier directly after another quantifier",
                        "second quantifier",
                        Some("group the repeated part first, e.g. (?:a{2}){3}"),
                    )
                })
            }
            Ast::Repetition(rep) if matches!(*rep.ast, Ast::Assertion(_)) => Err(problem(
                rep.op.span.start.offset..rep.op.span.end.offset,
                "a quantifier after an anchor or word boundary is not supported in MATCHES",
                "quantifier of an assertion",
                Some("an assertion matches no character to repeat, and PCRE refuses to quantify it; remove the quantifier"),
            )),
            Ast::Assertion(a) => match a.kind {
                AssertionKind::WordBoundaryStartAngle | AssertionKind::WordBoundaryEndAngle => {
                    Err(problem(
                        a.span.start.offset..a.span.end.offset,
                        "`\\<` and `\\>` are ambiguous in MATCHES",
                        "a literal in PCRE, a word boundary here",
                        Some("write `<` or `>` without the backslash for the character, or \\b for a word boundary"),
                    ))
                }
                AssertionKind::WordBoundaryStart
                | AssertionKind::WordBoundaryEnd
                | AssertionKind::WordBoundaryStartHalf
                | AssertionKind::WordBoundaryEndHalf => Err(problem(
                    a.span.start.offset..a.span.end.offset,
                    "`\\b{…}` word boundaries are not PCRE",
                    "not PCRE",
                    Some("use \\b"),
                )),
                _ => Ok(()),
            },
            Ast::Literal(lit) => vertical_tab(lit),
            Ast::Flags(set) => no_crlf_flag(&set.flags),
            Ast::Group(group) => match &group.kind {
                GroupKind::NonCapturing(flags) => no_crlf_flag(flags),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), RegexProblem> {
        match item {
            ClassSetItem::Literal(lit) => vertical_tab(lit),
            _ => Ok(()),
        }
    }
}

fn vertical_tab(lit: &ast::Literal) -> Result<(), RegexProblem> {
    if lit.kind == LiteralKind::Special(SpecialLiteralKind::VerticalTab) {
        return Err(problem(
            lit.span.start.offset..lit.span.end.offset,
            "`\\v` is ambiguous in MATCHES",
            "any vertical space in PCRE, only a vertical tab here",
            Some("write \\x0B for a vertical tab, or [\\n\\x0B\\f\\r\\x85\\u2028\\u2029] for any vertical space"),
        ));
    }
    Ok(())
}

fn no_crlf_flag(flags: &ast::Flags) -> Result<(), RegexProblem> {
    match flags
        .items
        .iter()
        .find(|item| item.kind == FlagsItemKind::Flag(Flag::CRLF))
    {
        Some(item) => Err(problem(
            item.span.start.offset..item.span.end.offset,
            "`(?R)` is recursion in PCRE, which is not supported in MATCHES",
            "recursion",
            Some(LINEAR),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_the_common_subset() {
        for ok in [
            r".+\@example\.com$",
            r"^Final Report.+\.exe$",
            r"\xd4\xc3\xb2\xa1\x02\x00\x04\x00",
            r"(?i)^[a-z0-9]{32}$",
            r"(?<name>a)|(?P<other>b)",
            r"[[:alpha:]]+\d*\s?\w+?",
            r"\/path\/",
            r"a{2,3}b*?",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_backtracking_and_ambiguous_constructs() {
        for (bad, fragment) in [
            (r"(a)\1", "backreferences"),
            (r"(?=a)", "look-ahead"),
            (r"(?<!a)b", "look-ahead and look-behind"),
            (r"(?>a)", "atomic"),
            (r"a++", "possessive"),
            (r"a{2}{3}", "quantifier directly after"),
            (r"^{3}$", "after an anchor"),
            (r"a\b+", "after an anchor"),
            (r"$?", "after an anchor"),
            (r"\<word", "ambiguous"),
            (r"\v", "ambiguous"),
            (r"[\v]", "ambiguous"),
            (r"(?R)", "recursion"),
            (r"\Qa.b\E", "unsupported escape"),
            (r"\Z", "unsupported escape"),
            (r"(", "invalid regular expression"),
            (r"a{2,1}", "invalid regular expression"),
            (r"\p{NotAClass}", "invalid regular expression"),
        ] {
            match check(bad) {
                Ok(()) => panic!("{bad} accepted"),
                Err(p) => assert!(p.message.contains(fragment), "{bad}: {}", p.message),
            }
        }
    }
}
