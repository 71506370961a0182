//! The syntax tree of a STIX pattern.
//!
//! The tree mirrors the source: parentheses written in the pattern are kept as `Group` nodes
//! (they matter: the validator's duplicate-qualifier rule looks through none of them), and
//! chains of the same operator are flattened into one n-ary node. Every node carries the byte
//! span it was parsed from; a tree built by hand may use [`Span::default`].
//!
//! Values are decoded: strings are unescaped, numbers parsed, hex and base64 decoded and
//! timestamps turned into [`stix::Timestamp`]. Printing a tree ([`std::fmt::Display`]) gives
//! the canonical text, and parsing that text gives the same tree again, spans aside.

use std::fmt;
use std::ops::Range;

use stix::Timestamp;

/// A half-open range of byte offsets into the pattern text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

impl From<Span> for Range<usize> {
    fn from(span: Span) -> Self {
        span.range()
    }
}

/// A value together with the span of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub const fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A whole pattern: one observation expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub expr: ObservationExpr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ObservationExpr {
    pub kind: ObservationKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ObservationKind {
    /// `[ comparison ]`: the comparison must hold for one observed object.
    Observation(ComparisonExpr),
    /// `( … )` as written.
    Group(Box<ObservationExpr>),
    /// `a AND b AND …`, two or more operands.
    And(Vec<ObservationExpr>),
    /// `a OR b OR …`, two or more operands.
    Or(Vec<ObservationExpr>),
    /// `a FOLLOWEDBY b FOLLOWEDBY …`, two or more operands; the grammar's left-associative
    /// chain `(a FOLLOWEDBY b) FOLLOWEDBY c` read as one sequence.
    FollowedBy(Vec<ObservationExpr>),
    /// An observation expression with one qualifier after it. Several qualifiers nest, the
    /// innermost being the first written.
    Qualified {
        expr: Box<ObservationExpr>,
        qualifier: Qualifier,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Qualifier {
    pub kind: QualifierKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QualifierKind {
    /// `WITHIN n SECONDS`, n > 0.
    Within(Spanned<Number>),
    /// `REPEATS n TIMES`, n > 0.
    Repeats(Spanned<u64>),
    /// `START t'…' STOP t'…'`, start before stop.
    StartStop {
        start: Spanned<Timestamp>,
        stop: Spanned<Timestamp>,
    },
}

impl QualifierKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            QualifierKind::Within(_) => "WITHIN",
            QualifierKind::Repeats(_) => "REPEATS",
            QualifierKind::StartStop { .. } => "START/STOP",
        }
    }
}

/// The WITHIN duration: the grammar takes an integer or a decimal literal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            // Precision loss above 2^53 seconds is irrelevant for a time window.
            Number::Int(n) => n as f64,
            Number::Float(f) => f,
        }
    }
}

/// What goes inside `[ … ]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonExpr {
    pub kind: ComparisonKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ComparisonKind {
    Test(Comparison),
    /// `( … )` as written.
    Group(Box<ComparisonExpr>),
    /// Two or more operands.
    And(Vec<ComparisonExpr>),
    /// Two or more operands.
    Or(Vec<ComparisonExpr>),
}

/// One property test: `path [NOT] op value`, or `[NOT] EXISTS path`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub path: ObjectPath,
    pub negated: bool,
    pub operator: Spanned<Operator>,
    /// `None` exactly for [`Operator::Exists`].
    pub value: Option<Value>,
    pub span: Span,
}

impl Comparison {
    pub fn object_type(&self) -> &str {
        &self.path.object_type.value
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

impl Operator {
    pub const ALL: [Operator; 12] = [
        Operator::Eq,
        Operator::Ne,
        Operator::Lt,
        Operator::Le,
        Operator::Gt,
        Operator::Ge,
        Operator::In,
        Operator::Like,
        Operator::Matches,
        Operator::IsSubset,
        Operator::IsSuperset,
        Operator::Exists,
    ];

    /// The canonical spelling (`==` and `<>` are printed as `=` and `!=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::In => "IN",
            Operator::Like => "LIKE",
            Operator::Matches => "MATCHES",
            Operator::IsSubset => "ISSUBSET",
            Operator::IsSuperset => "ISSUPERSET",
            Operator::Exists => "EXISTS",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Literal(Spanned<Literal>),
    /// `( a, b, … )` for IN; may be empty.
    Set(Spanned<Vec<Spanned<Literal>>>),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Literal(l) => l.span,
            Value::Set(s) => s.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i64),
    Float(f64),
    String(String),
    Bool(bool),
    Timestamp(Timestamp),
    /// `h'…'`
    Hex(Vec<u8>),
    /// `b'…'`; never empty, the grammar has no empty base64 literal.
    Binary(Vec<u8>),
}

impl Literal {
    /// What kind of literal this is, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Literal::Int(_) => "an integer",
            Literal::Float(_) => "a decimal number",
            Literal::String(_) => "a string",
            Literal::Bool(_) => "a boolean",
            Literal::Timestamp(_) => "a timestamp",
            Literal::Hex(_) => "a hex literal",
            Literal::Binary(_) => "a binary literal",
        }
    }
}

/// `type:first.second[0][*].'quoted key'`
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPath {
    pub object_type: Spanned<String>,
    /// At least one step; the first is always a [`PathStep::Key`].
    pub steps: Vec<Spanned<PathStep>>,
    pub span: Span,
}

impl ObjectPath {
    /// The property names and indexes after the object type.
    pub fn steps(&self) -> impl Iterator<Item = &PathStep> {
        self.steps.iter().map(|s| &s.value)
    }

    /// The last step, which names what the comparison looks at.
    pub fn last_step(&self) -> Option<&PathStep> {
        self.steps.last().map(|s| &s.value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A property or dictionary key, unquoted.
    Key(String),
    /// `[n]`; the grammar allows negative indexes.
    Index(i64),
    /// `[*]`: any element of a list.
    AnyIndex,
}

impl Pattern {
    /// Resets every span to `0..0`, so that trees can be compared by structure alone.
    pub fn clear_spans(&mut self) {
        clear_observation(&mut self.expr);
    }
}

fn clear_observation(e: &mut ObservationExpr) {
    e.span = Span::default();
    match &mut e.kind {
        ObservationKind::Observation(c) => clear_comparison(c),
        ObservationKind::Group(inner) => clear_observation(inner),
        ObservationKind::And(v) | ObservationKind::Or(v) | ObservationKind::FollowedBy(v) => {
            v.iter_mut().for_each(clear_observation)
        }
        ObservationKind::Qualified { expr, qualifier } => {
            clear_observation(expr);
            qualifier.span = Span::default();
            match &mut qualifier.kind {
                QualifierKind::Within(n) => n.span = Span::default(),
                QualifierKind::Repeats(n) => n.span = Span::default(),
                QualifierKind::StartStop { start, stop } => {
                    start.span = Span::default();
                    stop.span = Span::default();
                }
            }
        }
    }
}

fn clear_comparison(e: &mut ComparisonExpr) {
    e.span = Span::default();
    match &mut e.kind {
        ComparisonKind::Test(c) => {
            c.span = Span::default();
            c.operator.span = Span::default();
            c.path.span = Span::default();
            c.path.object_type.span = Span::default();
            for step in &mut c.path.steps {
                step.span = Span::default();
            }
            match &mut c.value {
                Some(Value::Literal(l)) => l.span = Span::default(),
                Some(Value::Set(s)) => {
                    s.span = Span::default();
                    for item in &mut s.value {
                        item.span = Span::default();
                    }
                }
                None => {}
            }
        }
        ComparisonKind::Group(inner) => clear_comparison(inner),
        ComparisonKind::And(v) | ComparisonKind::Or(v) => v.iter_mut().for_each(clear_comparison),
    }
}
