//! Evaluation of a prepared pattern over observations, following STIX 2.1 §9.
//!
//! - A comparison expression (`[…]`) holds for an observation when one of its cyber-observable
//!   objects satisfies it: `AND` needs the same root object for both sides, `OR` either.
//! - An observation expression is satisfied by a *binding*: observation instances (each
//!   observed-data counts `number_observed` times) such that no instance serves two parts of
//!   the pattern. Bindings are kept as instance counts per observation, so interchangeable
//!   instances of one observed-data are never enumerated twice.
//! - `FOLLOWEDBY` needs timestamps that can be chosen in order; `WITHIN` that all of a
//!   binding's intervals meet one window of the given length; `START`/`STOP` that each
//!   interval meets `[start, stop)`; `REPEATS n` n disjoint bindings.

use std::borrow::Cow;
use std::collections::HashSet;

use pattern::{Literal, PathStep};
use serde_json::Value;
use stix::Timestamp;

use crate::net::Net;
use crate::observation::Observation;
use crate::prepare::{CmpExpr, ObsExpr, Op, Prepared, Test};

/// How many bindings one sub-expression may keep. Past this many, further bindings are
/// dropped; a match is still found whenever one of the kept bindings leads to it.
const MAX_BINDINGS: usize = 4096;

/// A set of observation instances: (observation index, instances used), sorted by index.
pub(crate) type Binding = Vec<(u32, u64)>;

/// A value reached by an object path.
enum Val<'a> {
    Json(&'a Value),
    /// The objects a `_refs` list resolved to.
    Objects(Vec<&'a Value>),
    /// The decoded value of a `_hex` or `_bin` property.
    Bytes(Vec<u8>),
}

fn select<'a>(observation: &'a Observation, root: &'a Value, steps: &[PathStep]) -> Vec<Val<'a>> {
    let mut values = vec![Val::Json(root)];
    for step in steps {
        let mut next = Vec::new();
        for value in values {
            match (step, value) {
                (PathStep::Key(key), Val::Json(Value::Object(map))) => {
                    let Some(v) = map.get(key) else { continue };
                    if key.ends_with("_ref") {
                        if let Some(target) = v.as_str().and_then(|r| observation.resolve(r)) {
                            next.push(Val::Json(target));
                        }
                    } else if key.ends_with("_refs") {
                        let targets: Vec<&Value> = v
                            .as_array()
                            .map(|refs| {
                                refs.iter()
                                    .filter_map(Value::as_str)
                                    .filter_map(|r| observation.resolve(r))
                                    .collect()
                            })
                            .unwrap_or_default();
                        if !targets.is_empty() {
                            next.push(Val::Objects(targets));
                        }
                    } else if key.ends_with("_hex") {
                        if let Some(bytes) = v.as_str().and_then(pattern::hex_bytes) {
                            next.push(Val::Bytes(bytes));
                        }
                    } else if key.ends_with("_bin") {
                        if let Some(bytes) = v.as_str().and_then(pattern::base64_bytes) {
                            next.push(Val::Bytes(bytes));
                        }
                    } else {
                        next.push(Val::Json(v));
                    }
                }
                (PathStep::Index(i), Val::Json(Value::Array(items))) => {
                    if let Some(item) = usize::try_from(*i).ok().and_then(|i| items.get(i)) {
                        next.push(Val::Json(item));
                    }
                }
                (PathStep::Index(i), Val::Objects(items)) => {
                    if let Some(item) = usize::try_from(*i).ok().and_then(|i| items.get(i)) {
                        next.push(Val::Json(item));
                    }
                }
                (PathStep::AnyIndex, Val::Json(Value::Array(items))) => {
                    next.extend(items.iter().map(Val::Json))
                }
                (PathStep::AnyIndex, Val::Objects(items)) => {
                    next.extend(items.into_iter().map(Val::Json))
                }
                _ => {}
            }
        }
        if next.is_empty() {
            return next;
        }
        values = next;
    }
    values
}

/// Calls `f` with each JSON value an object path reaches, without allocating for the usual
/// one-property paths.
pub(crate) fn for_each_json<'a>(
    observation: &'a Observation,
    root: &'a Value,
    steps: &[PathStep],
    mut f: impl FnMut(&'a Value),
) {
    if let [PathStep::Key(key)] = steps {
        let plain = !(key.ends_with("_ref")
            || key.ends_with("_refs")
            || key.ends_with("_hex")
            || key.ends_with("_bin"));
        if plain {
            if let Some(v) = root.get(key.as_str()) {
                f(v);
            }
            return;
        }
    }
    select_json(observation, root, steps)
        .into_iter()
        .for_each(f);
}

/// The JSON values an object path reaches (decoded `_hex`/`_bin` values and `_refs` lists
/// are left out: the indexes key plain JSON values only).
pub(crate) fn select_json<'a>(
    observation: &'a Observation,
    root: &'a Value,
    steps: &[PathStep],
) -> Vec<&'a Value> {
    select(observation, root, steps)
        .into_iter()
        .filter_map(|v| match v {
            Val::Json(j) => Some(j),
            _ => None,
        })
        .collect()
}

/// A string whose characters all fit in one byte, as bytes; for comparing text with binary.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

fn number(value: &Value) -> Option<Number> {
    let n = value.as_number()?;
    n.as_i64()
        .map(Number::Int)
        .or_else(|| n.as_f64().map(Number::Float))
}

#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

fn compare_numbers(a: Number, b: Number) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => Some(x.cmp(&y)),
        (Number::Int(x), Number::Float(y)) => (x as f64).partial_cmp(&y),
        (Number::Float(x), Number::Int(y)) => x.partial_cmp(&(y as f64)),
        (Number::Float(x), Number::Float(y)) => x.partial_cmp(&y),
    }
}

/// Ordering of a value against a literal, when the two are comparable.
fn order(value: &Val<'_>, literal: &Literal) -> Option<std::cmp::Ordering> {
    match (value, literal) {
        (Val::Json(v), Literal::Int(i)) => compare_numbers(number(v)?, Number::Int(*i)),
        (Val::Json(v), Literal::Float(f)) => compare_numbers(number(v)?, Number::Float(*f)),
        (Val::Json(Value::String(s)), Literal::String(l)) => Some(s.as_str().cmp(l.as_str())),
        (Val::Json(Value::String(s)), Literal::Timestamp(t)) => {
            Some(Timestamp::parse(s).ok()?.cmp(t))
        }
        (Val::Json(Value::String(s)), Literal::Hex(b) | Literal::Binary(b)) => {
            Some(latin1(s)?.as_slice().cmp(b.as_slice()))
        }
        (Val::Bytes(v), Literal::Hex(b) | Literal::Binary(b)) => {
            Some(v.as_slice().cmp(b.as_slice()))
        }
        (Val::Bytes(v), Literal::String(s)) => Some(v.as_slice().cmp(latin1(s)?.as_slice())),
        _ => None,
    }
}

fn equal(value: &Val<'_>, literal: &Literal) -> bool {
    match (value, literal) {
        (Val::Json(Value::Bool(b)), Literal::Bool(l)) => b == l,
        _ => order(value, literal) == Some(std::cmp::Ordering::Equal),
    }
}

fn text_of<'a>(value: &'a Val<'_>) -> Option<Cow<'a, str>> {
    match value {
        Val::Json(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
        Val::Bytes(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
        _ => None,
    }
}

/// The NFC form of a text (STIX 2.1 §9.6.2: LIKE and MATCHES compare NFC-normalised text,
/// the other operators code points as they are). Borrowed when it is already in NFC, which
/// the quick check tells for almost every text without normalising it.
pub(crate) fn nfc(text: &str) -> Cow<'_, str> {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

fn holds(op: &Op, value: &Val<'_>) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Eq(l) => equal(value, l),
        Op::Ne(l) => !equal(value, l),
        Op::Lt(l) => order(value, l) == Some(Less),
        Op::Le(l) => matches!(order(value, l), Some(Less | Equal)),
        Op::Gt(l) => order(value, l) == Some(Greater),
        Op::Ge(l) => matches!(order(value, l), Some(Greater | Equal)),
        Op::In(set) => set.iter().any(|l| equal(value, l)),
        Op::Like { regex, .. } => text_of(value).is_some_and(|t| regex.is_match(&nfc(&t))),
        Op::Matches { text, bytes } => match value {
            Val::Json(Value::String(s)) => text.is_match(&nfc(s)),
            Val::Bytes(b) => bytes.as_ref().is_some_and(|re| re.is_match(b)),
            _ => false,
        },
        Op::IsSubset(container) => text_of(value)
            .and_then(|t| Net::parse(&t))
            .is_some_and(|v| v.within(*container)),
        Op::IsSuperset(contained) => text_of(value)
            .and_then(|t| Net::parse(&t))
            .is_some_and(|v| contained.within(v)),
        // EXISTS is decided on the root object, see `test_holds_for`.
        Op::Exists => true,
    }
}

/// Whether the test holds for one root object.
pub(crate) fn test_holds_for(test: &Test, observation: &Observation, root: &Value) -> bool {
    let values = select(observation, root, &test.steps);
    if let Op::Exists = test.op {
        return values.is_empty() == test.negated;
    }
    values.iter().any(|v| holds(&test.op, v) != test.negated)
}

/// Indexes of the objects of the observation (the roots) for which the comparison holds.
pub(crate) fn roots(expr: &CmpExpr, observation: &Observation) -> Vec<usize> {
    match expr {
        CmpExpr::Test(test) => observation
            .objects()
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.get("type").and_then(Value::as_str) == Some(test.object_type.as_str())
            })
            .filter(|(_, o)| test_holds_for(test, observation, o))
            .map(|(i, _)| i)
            .collect(),
        CmpExpr::And(parts) => {
            let mut acc: Option<Vec<usize>> = None;
            for part in parts {
                let these = roots(part, observation);
                let kept = match acc {
                    None => these,
                    Some(prev) => prev.into_iter().filter(|r| these.contains(r)).collect(),
                };
                if kept.is_empty() {
                    return kept;
                }
                acc = Some(kept);
            }
            acc.unwrap_or_default()
        }
        CmpExpr::Or(parts) => {
            let mut all: Vec<usize> = parts.iter().flat_map(|p| roots(p, observation)).collect();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// Combines two bindings when together they use no instance twice.
fn join(a: &Binding, b: &Binding, observations: &[Observation]) -> Option<Binding> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                i += 1;
                j += 1;
                (x.0, x.1 + y.1)
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                i += 1;
                *x
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (_, Some(y)) => {
                j += 1;
                *y
            }
            (None, None) => break,
        };
        if next.1 > observations[next.0 as usize].number_observed {
            return None;
        }
        out.push(next);
    }
    Some(out)
}

fn bounds(binding: &Binding, observations: &[Observation]) -> (Timestamp, Timestamp) {
    let latest_first = binding
        .iter()
        .map(|(o, _)| observations[*o as usize].first_observed)
        .max();
    let earliest_last = binding
        .iter()
        .map(|(o, _)| observations[*o as usize].last_observed)
        .min();
    (
        latest_first.unwrap_or(Timestamp::from_micros(i64::MIN)),
        earliest_last.unwrap_or(Timestamp::from_micros(i64::MAX)),
    )
}

fn product(
    left: Vec<Binding>,
    right: &[Binding],
    observations: &[Observation],
    accept: impl Fn(&Binding, &Binding) -> bool,
) -> Vec<Binding> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    'outer: for l in &left {
        for r in right {
            if !accept(l, r) {
                continue;
            }
            if let Some(joined) = join(l, r, observations) {
                if seen.insert(joined.clone()) {
                    out.push(joined);
                    if out.len() >= MAX_BINDINGS {
                        break 'outer;
                    }
                }
            }
        }
    }
    out
}

pub(crate) fn bindings(expr: &ObsExpr, observations: &[Observation]) -> Vec<Binding> {
    match expr {
        ObsExpr::Leaf(cmp) => observations
            .iter()
            .enumerate()
            .filter(|(_, o)| !roots(cmp, o).is_empty())
            .map(|(i, _)| vec![(i as u32, 1)])
            .take(MAX_BINDINGS)
            .collect(),
        ObsExpr::Or(parts) => {
            let mut seen = HashSet::new();
            parts
                .iter()
                .flat_map(|p| bindings(p, observations))
                .filter(|b| seen.insert(b.clone()))
                .take(MAX_BINDINGS)
                .collect()
        }
        ObsExpr::And(parts) => fold(parts, observations, |_, _| true),
        ObsExpr::FollowedBy(parts) => fold(parts, observations, |l, r| {
            let (latest_first, _) = bounds(l, observations);
            let (_, earliest_last) = bounds(r, observations);
            latest_first <= earliest_last
        }),
        ObsExpr::Within(inner, micros) => bindings(inner, observations)
            .into_iter()
            .filter(|b| {
                let (latest_first, earliest_last) = bounds(b, observations);
                latest_first.as_micros() <= earliest_last.as_micros().saturating_add(*micros)
            })
            .collect(),
        ObsExpr::StartStop(inner, start, stop) => bindings(inner, observations)
            .into_iter()
            .filter(|b| {
                b.iter().all(|(o, _)| {
                    let o = &observations[*o as usize];
                    o.first_observed < *stop && o.last_observed >= *start
                })
            })
            .collect(),
        ObsExpr::Repeats(inner, n) => {
            let once = bindings(inner, observations);
            let mut acc = once.clone();
            for _ in 1..*n {
                if acc.is_empty() {
                    break;
                }
                acc = product(acc, &once, observations, |_, _| true);
            }
            acc
        }
    }
}

fn fold(
    parts: &[ObsExpr],
    observations: &[Observation],
    accept: impl Fn(&Binding, &Binding) -> bool,
) -> Vec<Binding> {
    let mut iter = parts.iter();
    let Some(first) = iter.next() else {
        return Vec::new();
    };
    let mut acc = bindings(first, observations);
    for part in iter {
        if acc.is_empty() {
            break;
        }
        let right = bindings(part, observations);
        acc = product(acc, &right, observations, &accept);
    }
    acc
}

impl Prepared {
    /// The observations of one binding that satisfies the pattern, if any does.
    pub fn matches(&self, observations: &[Observation]) -> Option<Vec<usize>> {
        bindings(&self.expr, observations)
            .into_iter()
            .next()
            .map(|b| b.into_iter().map(|(o, _)| o as usize).collect())
    }

    /// Whether one observation on its own satisfies the pattern.
    pub fn matches_one(&self, observation: &Observation) -> bool {
        match &self.expr {
            ObsExpr::Leaf(cmp) => !roots(cmp, observation).is_empty(),
            _ => self.matches(std::slice::from_ref(observation)).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders() {
        assert_eq!(pattern::hex_bytes("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(pattern::hex_bytes("0"), None);
        assert_eq!(pattern::base64_bytes("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(pattern::base64_bytes("aGVsbG8"), None);
        assert_eq!(latin1("é"), Some(vec![0xe9]));
        assert_eq!(latin1("€"), None);
    }
}
