//! Canonical pattern text.
//!
//! One space around binary operators, none inside brackets and parentheses; `=` and `!=` for
//! `==` and `<>`; property names quoted only when they must be; decimal numbers with at least
//! one digit after the point; hex in lower case; timestamps without trailing fractional zeros.
//!
//! Trees from the parser print as they were written, with their own groups. A tree built by
//! hand whose nesting the text could not express (an `Or` directly under an `And`, a
//! qualifier on an `And`, a second WITHIN on the same `[…]`) is printed with the parentheses
//! it needs. Values the parser refuses (`REPEATS 0 TIMES`, an empty `b''`) print as they are.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::ast::*;
use crate::lexer::is_reserved_word;
use crate::literal;

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

/// Binding strength of an observation node; operands of weaker nodes need parentheses.
fn obs_level(kind: &ObservationKind) -> u8 {
    match kind {
        ObservationKind::FollowedBy(_) => 1,
        ObservationKind::Or(_) => 2,
        ObservationKind::And(_) => 3,
        ObservationKind::Qualified { .. } => 4,
        ObservationKind::Observation(_) | ObservationKind::Group(_) => 5,
    }
}

fn cmp_level(kind: &ComparisonKind) -> u8 {
    match kind {
        ComparisonKind::Or(_) => 1,
        ComparisonKind::And(_) => 2,
        ComparisonKind::Test(_) | ComparisonKind::Group(_) => 3,
    }
}

fn write_operands<T: Display>(
    f: &mut Formatter<'_>,
    operands: &[T],
    separator: &str,
    needs_parens: impl Fn(&T) -> bool,
) -> fmt::Result {
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(operand) {
            write!(f, "({operand})")?;
        } else {
            operand.fmt(f)?;
        }
    }
    Ok(())
}

impl Display for ObservationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let level = obs_level(&self.kind);
        let weaker = |e: &ObservationExpr| obs_level(&e.kind) <= level;
        match &self.kind {
            ObservationKind::Observation(c) => write!(f, "[{c}]"),
            ObservationKind::Group(inner) => write!(f, "({inner})"),
            ObservationKind::And(v) => write_operands(f, v, " AND ", weaker),
            ObservationKind::Or(v) => write_operands(f, v, " OR ", weaker),
            ObservationKind::FollowedBy(v) => write_operands(f, v, " FOLLOWEDBY ", weaker),
            ObservationKind::Qualified { expr, qualifier } => {
                let repeated = qualifies_directly(expr, qualifier.kind.keyword());
                if obs_level(&expr.kind) < level || repeated {
                    write!(f, "({expr}) {qualifier}")
                } else {
                    write!(f, "{expr} {qualifier}")
                }
            }
        }
    }
}

/// Whether a qualifier of this kind already applies to an `[…]` through `expr`'s chain of
/// qualifiers; a second one there needs the chain in parentheses.
fn qualifies_directly(mut expr: &ObservationExpr, kind: &str) -> bool {
    while let ObservationKind::Qualified {
        expr: inner,
        qualifier,
    } = &expr.kind
    {
        if qualifier.kind.keyword() == kind {
            return matches!(innermost(inner).kind, ObservationKind::Observation(_));
        }
        expr = inner;
    }
    false
}

fn innermost(mut expr: &ObservationExpr) -> &ObservationExpr {
    while let ObservationKind::Qualified { expr: inner, .. } = &expr.kind {
        expr = inner;
    }
    expr
}

impl Display for Qualifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            QualifierKind::Within(n) => write!(f, "WITHIN {} SECONDS", n.value),
            QualifierKind::Repeats(n) => write!(f, "REPEATS {} TIMES", n.value),
            QualifierKind::StartStop { start, stop } => write!(
                f,
                "START t'{}' STOP t'{}'",
                literal::timestamp_text(start.value),
                literal::timestamp_text(stop.value)
            ),
        }
    }
}

impl Display for Number {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(n) => write!(f, "{n}"),
            Number::Float(x) => write_float(f, *x),
        }
    }
}

/// Rust prints the shortest text that reads back as the same `f64`, never in exponent form;
/// the grammar needs a point.
fn write_float(f: &mut Formatter<'_>, x: f64) -> fmt::Result {
    let text = x.to_string();
    f.write_str(&text)?;
    if !text.contains('.') {
        f.write_str(".0")?;
    }
    Ok(())
}

impl Display for ComparisonExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let level = cmp_level(&self.kind);
        let weaker = |e: &ComparisonExpr| cmp_level(&e.kind) <= level;
        match &self.kind {
            ComparisonKind::Test(c) => c.fmt(f),
            ComparisonKind::Group(inner) => write!(f, "({inner})"),
            ComparisonKind::And(v) => write_operands(f, v, " AND ", weaker),
            ComparisonKind::Or(v) => write_operands(f, v, " OR ", weaker),
        }
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        match (&self.operator.value, &self.value) {
            (Operator::Exists, _) | (_, None) => write!(f, "{not}EXISTS {}", self.path),
            (op, Some(value)) => write!(f, "{} {not}{op} {value}", self.path),
        }
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Literal(l) => l.value.fmt(f),
            Value::Set(set) => {
                f.write_char('(')?;
                for (i, item) in set.value.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.value.fmt(f)?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => write_float(f, *x),
            Literal::String(s) => literal::write_string(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Timestamp(t) => write!(f, "t'{}'", literal::timestamp_text(*t)),
            Literal::Hex(bytes) => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_char('\'')
            }
            Literal::Binary(bytes) => write!(f, "b'{}'", literal::encode_base64(bytes)),
        }
    }
}

impl Display for ObjectPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type.value)?;
        for (i, step) in self.steps.iter().enumerate() {
            match &step.value {
                PathStep::Key(k) if i == 0 => write_key(f, k)?,
                PathStep::Key(k) => {
                    f.write_char('.')?;
                    write_key(f, k)?;
                }
                other => other.fmt(f)?,
            }
        }
        Ok(())
    }
}

/// A step as it appears after the first: `.name`, `[0]`, `[*]`.
impl Display for PathStep {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Key(k) => {
                f.write_char('.')?;
                write_key(f, k)
            }
            PathStep::Index(i) => write!(f, "[{i}]"),
            PathStep::AnyIndex => f.write_str("[*]"),
        }
    }
}

/// Bare when the grammar's `IdentifierWithoutHyphen` reads it back as the same name.
fn write_key(f: &mut Formatter<'_>, key: &str) -> fmt::Result {
    let bytes = key.as_bytes();
    let bare = bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && !is_reserved_word(key);
    if bare {
        f.write_str(key)
    } else {
        literal::write_string(f, key)
    }
}
