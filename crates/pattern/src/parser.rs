//! Recursive-descent parser for STIX 2.1 patterns; the grammar it implements is in the crate
//! documentation (`lib.rs`).
//!
//! Operator precedence is resolved with an explicit stack (`obs_followedby`, `cmp_or`), so a
//! level of parentheses costs three stack frames, and nesting is capped at [`MAX_NESTING`].
//! Semantic checks run as each node is built, so the first problem in source order is the one
//! reported, whether syntactic or not.

use stix::Timestamp;

use crate::ast::*;
use crate::diagnostic::{err, Diagnostic, PResult, Quoted};
use crate::lexer::{Keyword, Lexer, Tok, Token};
use crate::{hashes, literal, regex};

/// Parentheses and brackets nest at most this deep, which bounds the parser's stack use on
/// hostile input.
pub const MAX_NESTING: usize = 100;

const COMPARISON_OPERATORS: [&str; 11] = [
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "IN",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
];

const VALUE_EXAMPLES: &str =
    "a value such as 'text', 42, -1.5, true, t'2016-01-01T00:00:00Z', h'ff' or b'AQID'";

pub(crate) fn parse(src: &str) -> PResult<Pattern> {
    let mut p = Parser::new(src)?;
    let expr = p.obs_followedby()?;
    if p.tok.tok != Tok::Eof {
        return err(p.after_observation_error(None));
    }
    Ok(Pattern { expr })
}

struct Parser<'s> {
    src: &'s str,
    lexer: Lexer<'s>,
    /// The lookahead token.
    tok: Token,
    /// The token consumed last.
    prev: Token,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> PResult<Self> {
        let mut lexer = Lexer::new(src);
        let tok = lexer.next_token()?;
        let none = Token {
            tok: Tok::Eof,
            span: Span::new(0, 0),
        };
        Ok(Parser {
            src,
            lexer,
            tok,
            prev: none,
            depth: 0,
        })
    }

    fn bump(&mut self) -> PResult<Token> {
        let next = self.lexer.next_token()?;
        self.prev = std::mem::replace(&mut self.tok, next);
        Ok(self.prev)
    }

    fn at(&self, tok: Tok) -> bool {
        self.tok.tok == tok
    }

    fn at_kw(&self, kw: Keyword) -> bool {
        self.tok.tok == Tok::Kw(kw)
    }

    fn text(&self, t: Token) -> &'s str {
        &self.src[t.span.range()]
    }

    fn nest(&mut self, open: Token) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return err(Diagnostic::new(open.span, "pattern nested too deeply")
                .with_label(format!("more than {MAX_NESTING} levels of parentheses")));
        }
        Ok(())
    }

    // ---- observation expressions -------------------------------------------------------

    /// Observation expressions joined by FOLLOWEDBY (binds loosest), OR and AND (tightest).
    ///
    /// Operator precedence is resolved with an explicit stack rather than one function per
    /// level, so that each level of parentheses costs few stack frames: hostile input nests
    /// up to [`MAX_NESTING`] deep.
    fn obs_followedby(&mut self) -> PResult<ObservationExpr> {
        let mut pending: Vec<(u8, Vec<ObservationExpr>)> = Vec::new();
        let mut operand = self.obs_qualified()?;
        loop {
            let level = match self.tok.tok {
                Tok::Kw(Keyword::FollowedBy) => 1,
                Tok::Kw(Keyword::Or) => 2,
                Tok::Kw(Keyword::And) => 3,
                _ => 0,
            };
            // Close the runs of operators that bind tighter than the one ahead.
            while let Some((top, _)) = pending.last() {
                if *top <= level {
                    break;
                }
                let Some((top, mut operands)) = pending.pop() else {
                    break;
                };
                operands.push(operand);
                operand = obs_node(top, operands);
            }
            if level == 0 {
                return Ok(operand);
            }
            match pending.last_mut() {
                Some((top, operands)) if *top == level => operands.push(operand),
                _ => pending.push((level, vec![operand])),
            }
            self.bump()?;
            operand = self.obs_qualified()?;
        }
    }

    // The functions on the recursion path (obs_followedby, obs_qualified, obs_primary and
    // their comparison counterparts) leave all else to functions called from them: in debug
    // builds a frame holds every local of every branch.

    fn obs_qualified(&mut self) -> PResult<ObservationExpr> {
        let expr = self.obs_primary()?;
        self.qualifiers(expr)
    }

    fn qualifiers(&mut self, mut expr: ObservationExpr) -> PResult<ObservationExpr> {
        // The validator allows one qualifier of each kind directly on `[…]`, any number on a
        // parenthesised group.
        let direct = matches!(expr.kind, ObservationKind::Observation(_));
        let mut seen: Vec<(&'static str, Span)> = Vec::new();
        loop {
            let qualifier = match self.tok.tok {
                Tok::Kw(Keyword::Within) => self.within()?,
                Tok::Kw(Keyword::Repeats) => self.repeats()?,
                Tok::Kw(Keyword::Start) => self.start_stop()?,
                _ => break,
            };
            let kind = qualifier.kind.keyword();
            if direct {
                if let Some((_, first)) = seen.iter().find(|(k, _)| *k == kind) {
                    return err(duplicate_qualifier(kind, qualifier.span, *first));
                }
                seen.push((kind, qualifier.span));
            }
            let span = expr.span.to(qualifier.span);
            expr = ObservationExpr {
                kind: ObservationKind::Qualified {
                    expr: Box::new(expr),
                    qualifier,
                },
                span,
            };
        }
        Ok(expr)
    }

    fn obs_primary(&mut self) -> PResult<ObservationExpr> {
        match self.tok.tok {
            Tok::LBrack => self.observation(),
            Tok::LParen => {
                let open = self.bump()?;
                self.nest(open)?;
                let inner = self.obs_followedby()?;
                if !self.at(Tok::RParen) {
                    return err(self.after_observation_error(Some(open)));
                }
                let close = self.bump()?;
                self.depth -= 1;
                Ok(ObservationExpr {
                    kind: ObservationKind::Group(Box::new(inner)),
                    span: open.span.to(close.span),
                })
            }
            _ => err(self.observation_expected()),
        }
    }

    /// `[ … ]`
    fn observation(&mut self) -> PResult<ObservationExpr> {
        let open = self.bump()?;
        self.nest(open)?;
        let cmp = self.cmp_or()?;
        if !self.at(Tok::RBrack) {
            return err(self.after_comparison_error());
        }
        let close = self.bump()?;
        self.depth -= 1;
        Ok(ObservationExpr {
            kind: ObservationKind::Observation(cmp),
            span: open.span.to(close.span),
        })
    }

    fn observation_expected(&self) -> Diagnostic {
        let t = self.tok;
        let after = match self.prev.tok {
            Tok::Kw(kw) => format!(" after {}", kw.as_str()),
            Tok::LParen => " after `(`".to_owned(),
            _ => String::new(),
        };
        match t.tok {
            Tok::Eof if self.prev.tok == Tok::Eof => Diagnostic::new(t.span, "empty pattern")
                .with_label("expected an observation expression such as [file:name = 'x']"),
            Tok::Ident { .. } | Tok::Kw(Keyword::Not | Keyword::Exists) => Diagnostic::new(
                t.span,
                format!("missing square brackets around the comparison{after}"),
            )
            .with_label("comparisons go inside `[` … `]`")
            .with_hint("write an observation expression such as [file:size = 1280]"),
            _ => Diagnostic::new(t.span, format!("expected an observation expression{after}"))
                .with_expected(["`[`", "`(`"])
                .or_hint(self.general_hint(t)),
        }
    }

    /// The token after a complete observation expression fits nowhere.
    fn after_observation_error(&self, group: Option<Token>) -> Diagnostic {
        let t = self.tok;
        let mut expected = vec!["AND", "OR", "FOLLOWEDBY", "WITHIN", "REPEATS", "START"];
        let diagnostic = match (group, t.tok) {
            (None, Tok::RParen) => {
                return Diagnostic::new(t.span, "unmatched `)`").with_label("no `(` is open here")
            }
            (None, _) => {
                expected.push("the end of the pattern");
                Diagnostic::new(
                    t.span,
                    format!(
                        "unexpected {} after an observation expression",
                        self.describe(t)
                    ),
                )
            }
            (Some(open), Tok::Eof) => {
                expected.push("`)`");
                Diagnostic::new(t.span, "missing `)`").with_hint(format!(
                    "the group opened at byte {} is never closed",
                    open.span.start
                ))
            }
            (Some(_), _) => {
                expected.push("`)`");
                Diagnostic::new(
                    t.span,
                    format!("unexpected {} in a parenthesised group", self.describe(t)),
                )
            }
        };
        diagnostic
            .with_expected(expected)
            .or_hint(self.qualifier_hint(t))
            .or_hint(self.general_hint(t))
    }

    fn qualifier_hint(&self, t: Token) -> Option<String> {
        match t.tok {
            Tok::LBrack => Some("join observation expressions with AND, OR or FOLLOWEDBY".into()),
            Tok::Kw(Keyword::Stop) => Some("STOP follows START: START t'…' STOP t'…'".into()),
            _ => None,
        }
    }

    // ---- qualifiers ---------------------------------------------------------------------

    fn within(&mut self) -> PResult<Qualifier> {
        let kw = self.bump()?;
        let t = self.tok;
        let seconds = match t.tok {
            Tok::Int { negative: false } => Number::Int(self.int_value(t)?),
            Tok::Float { negative: false } => Number::Float(self.float_value(t)?),
            Tok::Int { negative: true } | Tok::Float { negative: true } => {
                return err(
                    Diagnostic::new(t.span, "WITHIN takes a positive number of seconds")
                        .with_label("negative"),
                )
            }
            _ => {
                return err(
                    Diagnostic::new(t.span, "expected a number of seconds after WITHIN")
                        .with_expected(["an integer", "a decimal number"])
                        .or_hint(self.general_hint(t)),
                )
            }
        };
        if seconds.as_f64() <= 0.0 {
            return err(
                Diagnostic::new(t.span, "WITHIN takes a positive number of seconds")
                    .with_label("a window of no time matches nothing"),
            );
        }
        self.bump()?;
        let unit = self.tok;
        if !self.at_kw(Keyword::Seconds) {
            let hint = unit_hint(self.text(unit), seconds);
            return err(
                Diagnostic::new(unit.span, "expected SECONDS after the WITHIN value")
                    .with_expected(["SECONDS"])
                    .or_hint(hint)
                    .or_hint(self.general_hint(unit)),
            );
        }
        let end = self.bump()?;
        Ok(Qualifier {
            kind: QualifierKind::Within(Spanned::new(seconds, t.span)),
            span: kw.span.to(end.span),
        })
    }

    fn repeats(&mut self) -> PResult<Qualifier> {
        let kw = self.bump()?;
        let t = self.tok;
        let times = match t.tok {
            Tok::Int { negative: false } => self.int_value(t)?,
            Tok::Int { negative: true } => {
                return err(
                    Diagnostic::new(t.span, "REPEATS takes a positive whole number")
                        .with_label("negative"),
                )
            }
            Tok::Float { .. } => {
                return err(
                    Diagnostic::new(t.span, "REPEATS takes a positive whole number")
                        .with_label("not a whole number"),
                )
            }
            _ => {
                return err(Diagnostic::new(t.span, "expected a count after REPEATS")
                    .with_expected(["a positive integer"])
                    .or_hint(self.general_hint(t)))
            }
        };
        let times = u64::try_from(times).unwrap_or(0);
        if times == 0 {
            return err(
                Diagnostic::new(t.span, "REPEATS takes a positive whole number")
                    .with_label("zero repetitions"),
            );
        }
        self.bump()?;
        if !self.at_kw(Keyword::Times) {
            return err(
                Diagnostic::new(self.tok.span, "expected TIMES after the REPEATS count")
                    .with_expected(["TIMES"])
                    .or_hint(self.general_hint(self.tok)),
            );
        }
        let end = self.bump()?;
        Ok(Qualifier {
            kind: QualifierKind::Repeats(Spanned::new(times, t.span)),
            span: kw.span.to(end.span),
        })
    }

    fn start_stop(&mut self) -> PResult<Qualifier> {
        let kw = self.bump()?;
        let start = self.qualifier_timestamp("START")?;
        if !self.at_kw(Keyword::Stop) {
            return err(
                Diagnostic::new(self.tok.span, "expected STOP after the START timestamp")
                    .with_expected(["STOP"])
                    .or_hint(self.general_hint(self.tok)),
            );
        }
        self.bump()?;
        let stop = self.qualifier_timestamp("STOP")?;
        let span = kw.span.to(stop.span);
        if start.value >= stop.value {
            return err(
                Diagnostic::new(span, "START must be earlier than STOP").with_label(
                    if start.value == stop.value {
                        "an empty time window"
                    } else {
                        "STOP is before START"
                    },
                ),
            );
        }
        Ok(Qualifier {
            kind: QualifierKind::StartStop { start, stop },
            span,
        })
    }

    fn qualifier_timestamp(&mut self, after: &str) -> PResult<Spanned<Timestamp>> {
        let t = self.tok;
        if t.tok != Tok::Timestamp {
            let hint = matches!(t.tok, Tok::Str { .. })
                .then(|| format!("timestamps are written with a t prefix: t{}", self.text(t)));
            return err(
                Diagnostic::new(t.span, format!("expected a timestamp after {after}"))
                    .with_expected(["a timestamp t'YYYY-MM-DDTHH:MM:SSZ'"])
                    .or_hint(hint)
                    .or_hint(self.general_hint(t)),
            );
        }
        let value = self.timestamp_value(t)?;
        self.bump()?;
        Ok(Spanned::new(value, t.span))
    }

    // ---- comparison expressions ---------------------------------------------------------

    /// Comparisons joined by OR and AND (binds tighter); see [`Parser::obs_followedby`].
    fn cmp_or(&mut self) -> PResult<ComparisonExpr> {
        let mut pending: Vec<(u8, Vec<ComparisonExpr>)> = Vec::new();
        let mut operand = self.cmp_primary()?;
        loop {
            let level = match self.tok.tok {
                Tok::Kw(Keyword::Or) => 1,
                Tok::Kw(Keyword::And) => 2,
                _ => 0,
            };
            while let Some((top, _)) = pending.last() {
                if *top <= level {
                    break;
                }
                let Some((top, mut operands)) = pending.pop() else {
                    break;
                };
                operands.push(operand);
                operand = cmp_node(top, operands);
            }
            if level == 0 {
                return Ok(operand);
            }
            match pending.last_mut() {
                Some((top, operands)) if *top == level => operands.push(operand),
                _ => pending.push((level, vec![operand])),
            }
            self.bump()?;
            operand = self.cmp_primary()?;
        }
    }

    fn cmp_primary(&mut self) -> PResult<ComparisonExpr> {
        match self.tok.tok {
            Tok::LParen => {
                let open = self.bump()?;
                self.nest(open)?;
                let inner = self.cmp_or()?;
                if !self.at(Tok::RParen) {
                    return err(self.unclosed_comparison_group(open));
                }
                let close = self.bump()?;
                self.depth -= 1;
                Ok(ComparisonExpr {
                    kind: ComparisonKind::Group(Box::new(inner)),
                    span: open.span.to(close.span),
                })
            }
            Tok::Kw(Keyword::Not | Keyword::Exists) => self.exists(),
            _ => self.test(),
        }
    }

    fn test(&mut self) -> PResult<ComparisonExpr> {
        let c = self.comparison()?;
        Ok(ComparisonExpr {
            span: c.span,
            kind: ComparisonKind::Test(c),
        })
    }

    fn unclosed_comparison_group(&self, open: Token) -> Diagnostic {
        let t = self.tok;
        Diagnostic::new(
            t.span,
            format!("expected `)` to close the `(` at byte {}", open.span.start),
        )
        .with_expected(["AND", "OR", "`)`"])
        .or_hint(self.general_hint(t))
    }

    /// `NOT? EXISTS path`
    fn exists(&mut self) -> PResult<ComparisonExpr> {
        let first = self.bump()?;
        let negated = first.tok == Tok::Kw(Keyword::Not);
        let exists = if negated {
            if !self.at_kw(Keyword::Exists) {
                return err(Diagnostic::new(
                    self.tok.span,
                    "expected EXISTS after a leading NOT",
                )
                .with_expected(["EXISTS"])
                .with_hint(
                    "to negate a comparison put NOT before its operator: file:name NOT = 'x'",
                ));
            }
            self.bump()?
        } else {
            first
        };
        let path = self.object_path()?;
        let span = first.span.to(path.span);
        Ok(ComparisonExpr {
            kind: ComparisonKind::Test(Comparison {
                path,
                negated,
                operator: Spanned::new(Operator::Exists, exists.span),
                value: None,
                span,
            }),
            span,
        })
    }

    /// `path NOT? op value`
    fn comparison(&mut self) -> PResult<Comparison> {
        let path = self.object_path()?;
        let negated = self.at_kw(Keyword::Not);
        if negated {
            self.bump()?;
        }
        let t = self.tok;
        let operator = match t.tok {
            Tok::Eq => Operator::Eq,
            Tok::Ne => Operator::Ne,
            Tok::Lt => Operator::Lt,
            Tok::Le => Operator::Le,
            Tok::Gt => Operator::Gt,
            Tok::Ge => Operator::Ge,
            Tok::Kw(Keyword::In) => Operator::In,
            Tok::Kw(Keyword::Like) => Operator::Like,
            Tok::Kw(Keyword::Matches) => Operator::Matches,
            Tok::Kw(Keyword::IsSubset) => Operator::IsSubset,
            Tok::Kw(Keyword::IsSuperset) => Operator::IsSuperset,
            _ => return err(self.operator_expected(negated)),
        };
        self.bump()?;
        let value = match operator {
            Operator::In => Value::Set(self.set()?),
            Operator::Like | Operator::Matches | Operator::IsSubset | Operator::IsSuperset => {
                Value::Literal(self.string_operand(operator)?)
            }
            _ => Value::Literal(self.literal(operator)?),
        };
        if self.glued_to_number(self.tok) && matches!(self.tok.tok, Tok::Ident { .. }) {
            // `= 79054025255fb1a…`: an unquoted value the lexer cut after its digits.
            return err(self.after_comparison_error());
        }
        let comparison = Comparison {
            span: path.span.to(value.span()),
            path,
            negated,
            operator: Spanned::new(operator, t.span),
            value: Some(value),
        };
        hashes::check(&comparison)?;
        Ok(comparison)
    }

    fn operator_expected(&self, negated: bool) -> Diagnostic {
        let t = self.tok;
        let mut expected: Vec<&str> = COMPARISON_OPERATORS.to_vec();
        let message = if negated {
            "expected a comparison operator after NOT"
        } else {
            "expected a comparison operator after the object path"
        };
        let hint = match t.tok {
            Tok::Kw(Keyword::Exists) => Some(if negated {
                "NOT EXISTS comes before the object path: NOT EXISTS file:name".to_owned()
            } else {
                "EXISTS comes before the object path: EXISTS file:name".to_owned()
            }),
            Tok::Str { .. }
            | Tok::Int { .. }
            | Tok::Float { .. }
            | Tok::Bool(_)
            | Tok::Timestamp
            | Tok::Hex
            | Tok::Binary => Some("is an operator such as `=` missing?".to_owned()),
            Tok::Ident { hyphen: true } if self.prev.span.end == t.span.start => Some(
                "property names containing `-` must be quoted, e.g. file:extensions.'windows-pebinary-ext'"
                    .to_owned(),
            ),
            Tok::Kw(Keyword::Not) => Some("NOT may appear once, before the operator".to_owned()),
            _ => None,
        };
        if !negated {
            // Shown last: NOT is a prefix of an operator rather than an operator.
            expected.push("NOT");
        }
        Diagnostic::new(t.span, message)
            .with_expected(expected)
            .or_hint(hint)
            .or_hint(self.general_hint(t))
    }

    /// The token after a complete comparison fits nowhere inside `[ … ]`.
    fn after_comparison_error(&self) -> Diagnostic {
        let t = self.tok;
        let glued_number = self.glued_to_number(t)
            && matches!(t.tok, Tok::Ident { .. } | Tok::Kw(_) | Tok::Bool(_));
        let hint = if glued_number {
            Some(format!(
                "a value mixing digits and letters is a string and needs quotes: '{}{}'",
                self.text(self.prev),
                self.text(t)
            ))
        } else {
            match t.tok {
                Tok::Dot if self.glued_to_number(t) => Some(format!(
                    "a decimal number needs digits after the point: {}.0",
                    self.text(self.prev)
                )),
                Tok::Kw(
                    Keyword::FollowedBy | Keyword::Within | Keyword::Repeats | Keyword::Start,
                ) => Some(
                    "close the observation expression with `]` before FOLLOWEDBY or a qualifier"
                        .to_owned(),
                ),
                _ => None,
            }
        };
        let message = match t.tok {
            Tok::Eof => "missing `]` at the end of the observation expression".to_owned(),
            _ => format!("unexpected {} after a comparison", self.describe(t)),
        };
        Diagnostic::new(t.span, message)
            .with_expected(["AND", "OR", "`]`"])
            .or_hint(hint)
            .or_hint(self.general_hint(t))
    }

    /// Whether `t` starts right where a number literal ended, as in `1e5` or `0x1F`.
    fn glued_to_number(&self, t: Token) -> bool {
        matches!(self.prev.tok, Tok::Int { .. } | Tok::Float { .. })
            && self.prev.span.end == t.span.start
    }

    // ---- object paths -------------------------------------------------------------------

    fn object_path(&mut self) -> PResult<ObjectPath> {
        let t = self.tok;
        let object_type = match t.tok {
            Tok::Ident { .. } => Spanned::new(self.text(t).to_owned(), t.span),
            Tok::RBrack if self.prev.tok == Tok::LBrack => {
                return err(Diagnostic::new(
                    self.prev.span.to(t.span),
                    "empty observation expression",
                )
                .with_label("expected a comparison such as file:name = 'x'"))
            }
            Tok::Kw(_) | Tok::Bool(_) => {
                return err(Diagnostic::new(
                    t.span,
                    format!("{} is a keyword, not an object type", Quoted(self.text(t))),
                )
                .with_label("expected an object type such as file or network-traffic"))
            }
            _ if self.prev.tok == Tok::Kw(Keyword::Exists) => {
                return err(
                    Diagnostic::new(t.span, "expected an object path after EXISTS")
                        .with_expected(["an object path such as file:name"])
                        .or_hint(self.general_hint(t)),
                )
            }
            _ => {
                return err(Diagnostic::new(t.span, "expected a comparison")
                    .with_expected(["an object path such as file:name", "EXISTS", "NOT", "`(`"])
                    .or_hint(self.general_hint(t)))
            }
        };
        self.bump()?;
        if !self.at(Tok::Colon) {
            let hint = match self.tok.tok {
                Tok::Dot => Some(format!(
                    "an object path separates the type from the property with `:`, e.g. {}:name",
                    object_type.value
                )),
                _ => None,
            };
            return err(
                Diagnostic::new(self.tok.span, "expected `:` after the object type")
                    .with_expected(["`:`"])
                    .or_hint(hint)
                    .or_hint(self.general_hint(self.tok)),
            );
        }
        self.bump()?;
        let first = self.key("`:`")?;
        let mut steps = vec![first];
        loop {
            match self.tok.tok {
                Tok::Dot => {
                    self.bump()?;
                    steps.push(self.key("`.`")?);
                }
                Tok::LBrack => {
                    let open = self.bump()?;
                    let t = self.tok;
                    let step = match t.tok {
                        Tok::Star => PathStep::AnyIndex,
                        Tok::Int { .. } => PathStep::Index(self.int_value(t)?),
                        _ => {
                            return err(Diagnostic::new(t.span, "expected a list index")
                                .with_expected(["an integer", "`*`"])
                                .or_hint(self.general_hint(t)))
                        }
                    };
                    self.bump()?;
                    if !self.at(Tok::RBrack) {
                        return err(Diagnostic::new(
                            self.tok.span,
                            "expected `]` after the list index",
                        )
                        .with_expected(["`]`"]));
                    }
                    let close = self.bump()?;
                    steps.push(Spanned::new(step, open.span.to(close.span)));
                }
                _ => break,
            }
        }
        let span = object_type.span.to(steps[steps.len() - 1].span);
        Ok(ObjectPath {
            object_type,
            steps,
            span,
        })
    }

    /// A property name: an identifier without `-`, or a string.
    fn key(&mut self, after: &str) -> PResult<Spanned<PathStep>> {
        let t = self.tok;
        let name = match t.tok {
            Tok::Ident { hyphen: false } => self.text(t).to_owned(),
            Tok::Str { escaped } => self.string_value(t, escaped),
            Tok::Ident { hyphen: true } => {
                return err(
                    Diagnostic::new(t.span, "property names containing `-` must be quoted")
                        .with_label("only object types may contain an unquoted `-`")
                        .with_hint(format!("write '{}'", self.text(t))),
                )
            }
            Tok::Kw(_) | Tok::Bool(_) => {
                return err(Diagnostic::new(
                    t.span,
                    format!(
                        "{} is a keyword and cannot name a property unquoted",
                        Quoted(self.text(t))
                    ),
                )
                .with_label("keyword")
                .with_hint(format!("write '{}'", self.text(t))))
            }
            _ => {
                return err(Diagnostic::new(
                    t.span,
                    format!("expected a property name after {after}"),
                )
                .with_expected(["a name", "a quoted name"])
                .or_hint(self.general_hint(t)))
            }
        };
        self.bump()?;
        Ok(Spanned::new(PathStep::Key(name), t.span))
    }

    // ---- literals -----------------------------------------------------------------------

    fn literal(&mut self, operator: Operator) -> PResult<Spanned<Literal>> {
        let t = self.tok;
        if let Some(value) = self.literal_value(t)? {
            if matches!(value, Literal::Bool(_)) && !matches!(operator, Operator::Eq | Operator::Ne)
            {
                return err(Diagnostic::new(
                    t.span,
                    format!("booleans cannot be compared with {operator}"),
                )
                .with_label("only = and != apply to true and false"));
            }
            self.bump()?;
            return Ok(Spanned::new(value, t.span));
        }
        err(self.value_expected(&format!("after {operator}")))
    }

    fn value_expected(&self, context: &str) -> Diagnostic {
        let t = self.tok;
        let text = self.text(t);
        let prefix =
            matches!(text, "T" | "H" | "B") && self.src.as_bytes().get(t.span.end) == Some(&b'\'');
        let hint = match t.tok {
            Tok::Ident { .. } if prefix => Some(format!(
                "literal prefixes are lowercase: {}'…'",
                text.to_ascii_lowercase()
            )),
            Tok::Ident { .. }
                if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") =>
            {
                Some(format!(
                    "booleans are lowercase: {}",
                    text.to_ascii_lowercase()
                ))
            }
            Tok::Ident { .. } | Tok::Kw(_) => Some(format!(
                "string values are written in single quotes: '{text}'"
            )),
            _ => None,
        };
        Diagnostic::new(t.span, format!("expected a value {context}"))
            .with_label(format!("expected {VALUE_EXAMPLES}"))
            .or_hint(hint)
            .or_hint(self.general_hint(t))
    }

    /// The literal at `t`, or `None` if `t` is no literal.
    fn literal_value(&self, t: Token) -> PResult<Option<Literal>> {
        Ok(Some(match t.tok {
            Tok::Int { .. } => Literal::Int(self.int_value(t)?),
            Tok::Float { .. } => Literal::Float(self.float_value(t)?),
            Tok::Str { escaped } => Literal::String(self.string_value(t, escaped)),
            Tok::Bool(b) => Literal::Bool(b),
            Tok::Timestamp => Literal::Timestamp(self.timestamp_value(t)?),
            Tok::Hex => Literal::Hex(literal::decode_hex(self.prefixed_body(t))),
            Tok::Binary => Literal::Binary(literal::decode_base64(self.prefixed_body(t))),
            _ => return Ok(None),
        }))
    }

    fn string_operand(&mut self, operator: Operator) -> PResult<Spanned<Literal>> {
        let t = self.tok;
        let Tok::Str { escaped } = t.tok else {
            let hint = match (operator, t.tok) {
                (Operator::Matches, Tok::Stray('/')) => Some(
                    "regular expressions are written as strings, without slashes: MATCHES '^a.*z$'"
                        .to_owned(),
                ),
                (_, Tok::Ident { .. } | Tok::Kw(_)) => Some(format!(
                    "string values are written in single quotes: '{}'",
                    self.text(t)
                )),
                _ => None,
            };
            return err(
                Diagnostic::new(t.span, format!("expected a string after {operator}"))
                    .with_expected(["a string literal"])
                    .or_hint(hint)
                    .or_hint(self.general_hint(t)),
            );
        };
        let value = self.string_value(t, escaped);
        if operator == Operator::Matches {
            self.check_regex(t, &value)?;
        }
        self.bump()?;
        Ok(Spanned::new(Literal::String(value), t.span))
    }

    fn check_regex(&self, t: Token, regex: &str) -> PResult<()> {
        let Err(problem) = regex::check(regex) else {
            return Ok(());
        };
        // Point into the pattern text: the expression's offsets are after unescaping.
        let raw = &self.src[t.span.start + 1..t.span.end - 1];
        let base = t.span.start + 1;
        let start = base + literal::raw_offset(raw, problem.span.start);
        let end = base + literal::raw_offset(raw, problem.span.end);
        err(Diagnostic::new(start..end.max(start), problem.message)
            .with_label(problem.label)
            .or_hint(problem.hint))
    }

    fn set(&mut self) -> PResult<Spanned<Vec<Spanned<Literal>>>> {
        let open = self.tok;
        if open.tok != Tok::LParen {
            let hint = self
                .literal_value(open)
                .ok()
                .flatten()
                .map(|_| format!("IN takes a parenthesised list: IN ({})", self.text(open)));
            return err(Diagnostic::new(open.span, "expected a set after IN")
                .with_expected(["`(`"])
                .or_hint(hint.or(Some(
                    "IN takes a parenthesised list: IN ('a', 'b')".to_owned(),
                ))));
        }
        self.bump()?;
        let mut items = Vec::new();
        if !self.at(Tok::RParen) {
            loop {
                let t = self.tok;
                let Some(value) = self.literal_value(t)? else {
                    return err(self.value_expected("in the set"));
                };
                self.bump()?;
                items.push(Spanned::new(value, t.span));
                match self.tok.tok {
                    Tok::Comma => {
                        self.bump()?;
                    }
                    Tok::RParen => break,
                    _ => {
                        return err(Diagnostic::new(
                            self.tok.span,
                            "expected `,` or `)` in the set",
                        )
                        .with_expected(["`,`", "`)`"])
                        .or_hint(self.general_hint(self.tok)))
                    }
                }
            }
        }
        let close = self.bump()?;
        Ok(Spanned::new(items, open.span.to(close.span)))
    }

    fn int_value(&self, t: Token) -> PResult<i64> {
        let text = self.text(t);
        let digits = text.strip_prefix('+').unwrap_or(text);
        digits.parse::<i64>().map_err(|_| {
            Diagnostic::new(t.span, "integer literal out of range")
                .with_label("outside the signed 64-bit range")
                .with_hint(format!(
                    "if this is an identifier or a hash, quote it: '{digits}'"
                ))
                .into()
        })
    }

    fn float_value(&self, t: Token) -> PResult<f64> {
        let text = self.text(t);
        let digits = text.strip_prefix('+').unwrap_or(text);
        match digits.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(f),
            _ => err(Diagnostic::new(t.span, "decimal literal out of range")
                .with_label("too large for a 64-bit float")),
        }
    }

    fn string_value(&self, t: Token, escaped: bool) -> String {
        let raw = &self.src[t.span.start + 1..t.span.end - 1];
        if escaped {
            literal::unescape(raw)
        } else {
            raw.to_owned()
        }
    }

    fn prefixed_body(&self, t: Token) -> &'s str {
        &self.src[t.span.start + 2..t.span.end - 1]
    }

    fn timestamp_value(&self, t: Token) -> PResult<Timestamp> {
        literal::timestamp_value(self.prefixed_body(t)).ok_or_else(|| {
            Diagnostic::new(t.span, "timestamp out of range")
                .with_label("not representable as microseconds since 1970")
                .into()
        })
    }

    // ---- messages -----------------------------------------------------------------------

    fn describe(&self, t: Token) -> String {
        match t.tok {
            Tok::Eof => "end of the pattern".to_owned(),
            Tok::Str { .. } => format!("string {}", Quoted(self.text(t))),
            Tok::Int { .. } | Tok::Float { .. } => format!("number {}", Quoted(self.text(t))),
            Tok::Kw(_) => format!("keyword {}", Quoted(self.text(t))),
            Tok::Ident { .. } => format!("name {}", Quoted(self.text(t))),
            _ => Quoted(self.text(t)).to_string(),
        }
    }

    /// Hints about common slips that apply wherever the token turns up.
    fn general_hint(&self, t: Token) -> Option<String> {
        let text = self.text(t);
        match t.tok {
            Tok::Ident { hyphen: false } => {
                let upper = text.to_ascii_uppercase();
                if Keyword::from_ident(&upper).is_some() {
                    return Some(format!("keywords are case-sensitive: write {upper}"));
                }
                None
            }
            Tok::Ident { hyphen: true } => {
                let head = text.split('-').next().unwrap_or("");
                Keyword::from_ident(head).map(|kw| {
                    format!(
                        "{} reads as one name; put a space after {}",
                        Quoted(text),
                        kw.as_str()
                    )
                })
            }
            Tok::Kw(Keyword::Last) => {
                Some("LAST is reserved by the grammar and used by none of its rules".into())
            }
            Tok::Stray('"') => Some("strings are written in single quotes: 'text'".into()),
            Tok::Stray('&') => Some("use AND".into()),
            Tok::Stray('|') => Some("use OR".into()),
            Tok::Stray('!') => Some("negate a comparison with NOT, or compare with !=".into()),
            Tok::Stray('-' | '+') => Some("a sign must be followed directly by digits".into()),
            Tok::Eof => None,
            _ => None,
        }
    }
}

fn duplicate_qualifier(kind: &str, second: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        second,
        format!("duplicate qualifier type: {kind} already applies to this observation expression"),
    )
    .with_label(format!("second {kind}"))
    .with_hint(format!(
        "the first {kind} is at byte {}; an observation expression takes one qualifier of each kind, so group it in parentheses to qualify it again",
        first.start
    ))
}

fn obs_node(level: u8, operands: Vec<ObservationExpr>) -> ObservationExpr {
    let span = match (operands.first(), operands.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => Span::default(),
    };
    let kind = match level {
        1 => ObservationKind::FollowedBy(operands),
        2 => ObservationKind::Or(operands),
        _ => ObservationKind::And(operands),
    };
    ObservationExpr { kind, span }
}

fn cmp_node(level: u8, operands: Vec<ComparisonExpr>) -> ComparisonExpr {
    let span = match (operands.first(), operands.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => Span::default(),
    };
    let kind = match level {
        1 => ComparisonKind::Or(operands),
        _ => ComparisonKind::And(operands),
    };
    ComparisonExpr { kind, span }
}

/// WITHIN counts seconds only; converts other units for the hint.
fn unit_hint(unit: &str, value: Number) -> Option<String> {
    let factor = match unit.to_ascii_uppercase().as_str() {
        "SECOND" | "SECS" | "SEC" | "S" => 1.0,
        "MINUTE" | "MINUTES" | "MINS" | "MIN" | "M" => 60.0,
        "HOUR" | "HOURS" | "H" => 3600.0,
        "DAY" | "DAYS" | "D" => 86_400.0,
        "WEEK" | "WEEKS" => 604_800.0,
        "MILLISECONDS" | "MS" => 0.001,
        _ => return None,
    };
    let seconds = value.as_f64() * factor;
    let shown = if seconds.fract() == 0.0 && seconds.abs() < 1e15 {
        format!("{}", seconds as i64)
    } else {
        format!("{seconds}")
    };
    Some(format!(
        "SECONDS is the only unit: write WITHIN {shown} SECONDS"
    ))
}
