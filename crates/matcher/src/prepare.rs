//! A pattern made ready to evaluate: regular expressions compiled, CIDR literals parsed,
//! qualifiers turned into numbers. Building this once per indicator keeps evaluation free of
//! parsing.

use pattern::{
    ComparisonExpr, ComparisonKind, Literal, ObservationExpr, ObservationKind, Operator, PathStep,
    Pattern, QualifierKind, Value as PatternValue,
};
use stix::Timestamp;

use crate::eval::nfc;
use crate::net::Net;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("`{0}` cannot be compiled: {1}")]
    Regex(String, String),
    #[error("`{0}` is not an IP address or CIDR block")]
    Network(String),
    #[error("the set `{0}` mixes {1} and {2}: the values of an IN set must be of one type")]
    MixedSet(String, &'static str, &'static str),
}

#[derive(Debug, Clone)]
pub enum ObsExpr {
    Leaf(Box<CmpExpr>),
    And(Vec<ObsExpr>),
    Or(Vec<ObsExpr>),
    FollowedBy(Vec<ObsExpr>),
    Within(Box<ObsExpr>, i64),
    Repeats(Box<ObsExpr>, u64),
    StartStop(Box<ObsExpr>, Timestamp, Timestamp),
}

#[derive(Debug, Clone)]
pub enum CmpExpr {
    Test(Test),
    And(Vec<CmpExpr>),
    Or(Vec<CmpExpr>),
}

#[derive(Debug, Clone)]
pub struct Test {
    pub object_type: String,
    pub steps: Vec<PathStep>,
    pub negated: bool,
    pub op: Op,
}

#[derive(Debug, Clone)]
pub enum Op {
    Eq(Literal),
    Ne(Literal),
    Lt(Literal),
    Le(Literal),
    Gt(Literal),
    Ge(Literal),
    In(Vec<Literal>),
    /// The LIKE text as written, and the expression it compiles to.
    Like {
        like: String,
        regex: regex::Regex,
    },
    Matches {
        text: regex::Regex,
        bytes: Option<regex::bytes::Regex>,
    },
    IsSubset(Net),
    IsSuperset(Net),
    Exists,
}

/// A STIX pattern ready to evaluate.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) expr: ObsExpr,
}

impl Prepared {
    pub fn new(pattern: &Pattern) -> Result<Prepared, PrepareError> {
        Ok(Prepared {
            expr: observation(&pattern.expr)?,
        })
    }

    pub fn expr(&self) -> &ObsExpr {
        &self.expr
    }

    /// Whether the pattern needs more than one observation (or one observation more than
    /// once), and so must keep state across events.
    pub fn is_temporal(&self) -> bool {
        !matches!(self.expr, ObsExpr::Leaf(_))
    }
}

fn observation(e: &ObservationExpr) -> Result<ObsExpr, PrepareError> {
    Ok(match &e.kind {
        ObservationKind::Observation(c) => ObsExpr::Leaf(Box::new(comparison(c)?)),
        ObservationKind::Group(inner) => observation(inner)?,
        ObservationKind::And(v) => {
            ObsExpr::And(v.iter().map(observation).collect::<Result<_, _>>()?)
        }
        ObservationKind::Or(v) => ObsExpr::Or(v.iter().map(observation).collect::<Result<_, _>>()?),
        ObservationKind::FollowedBy(v) => {
            ObsExpr::FollowedBy(v.iter().map(observation).collect::<Result<_, _>>()?)
        }
        ObservationKind::Qualified { expr, qualifier } => {
            let inner = Box::new(observation(expr)?);
            match &qualifier.kind {
                QualifierKind::Within(seconds) => {
                    // Whole microseconds: the precision of every timestamp here.
                    let micros = (seconds.value.as_f64() * 1_000_000.0).round();
                    ObsExpr::Within(
                        inner,
                        if micros >= i64::MAX as f64 {
                            i64::MAX
                        } else {
                            micros as i64
                        },
                    )
                }
                QualifierKind::Repeats(n) => ObsExpr::Repeats(inner, n.value),
                QualifierKind::StartStop { start, stop } => {
                    ObsExpr::StartStop(inner, start.value, stop.value)
                }
            }
        }
    })
}

fn comparison(e: &ComparisonExpr) -> Result<CmpExpr, PrepareError> {
    Ok(match &e.kind {
        ComparisonKind::Test(c) => {
            let literal = || match &c.value {
                Some(PatternValue::Literal(l)) => l.value.clone(),
                // The parser guarantees a literal for every operator but IN and EXISTS.
                _ => Literal::Bool(false),
            };
            let string = || match literal() {
                Literal::String(s) => s,
                other => format!("{other:?}"),
            };
            let op = match c.operator.value {
                Operator::Eq => Op::Eq(literal()),
                Operator::Ne => Op::Ne(literal()),
                Operator::Lt => Op::Lt(literal()),
                Operator::Le => Op::Le(literal()),
                Operator::Gt => Op::Gt(literal()),
                Operator::Ge => Op::Ge(literal()),
                Operator::In => {
                    let set: Vec<Literal> = match &c.value {
                        Some(PatternValue::Set(set)) => {
                            set.value.iter().map(|l| l.value.clone()).collect()
                        }
                        Some(PatternValue::Literal(l)) => vec![l.value.clone()],
                        None => Vec::new(),
                    };
                    homogeneous(&set)?;
                    Op::In(set)
                }
                Operator::Like => {
                    let like = nfc(&string()).into_owned();
                    Op::Like {
                        regex: like_regex(&like)?,
                        like,
                    }
                }
                Operator::Matches => {
                    let written = nfc(&string()).into_owned();
                    // STIX 2.1 §9.5: "The DOTALL option MUST be specified": `.` matches line
                    // breaks too. As a flag group in the source, so that the compiled
                    // indexes, which rebuild expressions from their text, keep it.
                    let source = format!("(?s){written}");
                    let text = regex::Regex::new(&source)
                        .map_err(|e| PrepareError::Regex(written.clone(), e.to_string()))?;
                    // Binary values are matched byte for byte when every character of the
                    // expression is a single byte.
                    let bytes = source
                        .chars()
                        .all(|ch| (ch as u32) < 256)
                        .then(|| {
                            regex::bytes::RegexBuilder::new(&source)
                                .unicode(false)
                                .build()
                                .ok()
                        })
                        .flatten();
                    Op::Matches { text, bytes }
                }
                Operator::IsSubset => Op::IsSubset(
                    Net::parse(&string()).ok_or_else(|| PrepareError::Network(string()))?,
                ),
                Operator::IsSuperset => Op::IsSuperset(
                    Net::parse(&string()).ok_or_else(|| PrepareError::Network(string()))?,
                ),
                Operator::Exists => Op::Exists,
            };
            CmpExpr::Test(Test {
                object_type: c.object_type().to_owned(),
                steps: c.path.steps().cloned().collect(),
                negated: c.negated,
                op,
            })
        }
        ComparisonKind::Group(inner) => comparison(inner)?,
        ComparisonKind::And(v) => CmpExpr::And(v.iter().map(comparison).collect::<Result<_, _>>()?),
        ComparisonKind::Or(v) => CmpExpr::Or(v.iter().map(comparison).collect::<Result<_, _>>()?),
    })
}

/// The kind of value a set member is, for the rule that a set holds one kind: integers and
/// decimals are both numbers, `h'…'` and `b'…'` both binary.
fn set_kind(literal: &Literal) -> &'static str {
    match literal {
        Literal::Int(_) | Literal::Float(_) => "numbers",
        Literal::String(_) => "strings",
        Literal::Bool(_) => "booleans",
        Literal::Timestamp(_) => "timestamps",
        Literal::Hex(_) | Literal::Binary(_) => "binary values",
    }
}

/// STIX 2.1 §9.5: "The set values in b MUST be constants of homogeneous data type". A mixed
/// set would compare each value with members of a type it cannot have; it is refused.
fn homogeneous(set: &[Literal]) -> Result<(), PrepareError> {
    let Some(first) = set.first().map(set_kind) else {
        return Ok(());
    };
    match set.iter().map(set_kind).find(|k| *k != first) {
        Some(other) => {
            let members: Vec<String> = set.iter().map(ToString::to_string).collect();
            Err(PrepareError::MixedSet(
                format!("({})", members.join(", ")),
                first,
                other,
            ))
        }
        None => Ok(()),
    }
}

/// `%` is any run of characters (newlines included), `_` exactly one; the whole value must
/// match.
pub(crate) fn like_regex(like: &str) -> Result<regex::Regex, PrepareError> {
    let mut source = String::with_capacity(like.len() + 8);
    source.push_str("(?s)^");
    for ch in like.chars() {
        match ch {
            '%' => source.push_str(".*"),
            '_' => source.push('.'),
            other => source.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
        }
    }
    source.push('$');
    regex::Regex::new(&source).map_err(|e| PrepareError::Regex(like.to_owned(), e.to_string()))
}
