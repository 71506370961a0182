//! Looking inside a parsed pattern, like the `stix2-patterns` inspector: which comparisons
//! it makes on which object types, which qualifiers and observation operators it uses.
//!
//! Everything is visited in source order.

use crate::ast::*;

/// Which observation operators a pattern uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObservationOperators {
    pub and: bool,
    pub or: bool,
    pub followed_by: bool,
}

impl Pattern {
    /// Each `[ … ]`, in source order.
    pub fn observations(&self) -> Observations<'_> {
        Observations {
            stack: vec![&self.expr],
        }
    }

    /// Every comparison of every observation expression, in source order.
    pub fn comparisons(&self) -> impl Iterator<Item = &Comparison> {
        self.observations().flat_map(ComparisonExpr::comparisons)
    }

    /// Every qualifier, in source order.
    pub fn qualifiers(&self) -> impl Iterator<Item = &Qualifier> {
        let mut out = Vec::new();
        collect_qualifiers(&self.expr, &mut out);
        out.into_iter()
    }

    pub fn observation_operators(&self) -> ObservationOperators {
        let mut ops = ObservationOperators::default();
        let mut stack = vec![&self.expr];
        while let Some(e) = stack.pop() {
            match &e.kind {
                ObservationKind::Observation(_) => {}
                ObservationKind::Group(inner) => stack.push(inner),
                ObservationKind::Qualified { expr, .. } => stack.push(expr),
                ObservationKind::And(v) => {
                    ops.and = true;
                    stack.extend(v);
                }
                ObservationKind::Or(v) => {
                    ops.or = true;
                    stack.extend(v);
                }
                ObservationKind::FollowedBy(v) => {
                    ops.followed_by = true;
                    stack.extend(v);
                }
            }
        }
        ops
    }
}

fn collect_qualifiers<'a>(e: &'a ObservationExpr, out: &mut Vec<&'a Qualifier>) {
    match &e.kind {
        ObservationKind::Observation(_) => {}
        ObservationKind::Group(inner) => collect_qualifiers(inner, out),
        ObservationKind::Qualified { expr, qualifier } => {
            collect_qualifiers(expr, out);
            out.push(qualifier);
        }
        ObservationKind::And(v) | ObservationKind::Or(v) | ObservationKind::FollowedBy(v) => {
            v.iter().for_each(|e| collect_qualifiers(e, out))
        }
    }
}

/// Iterator over the `[ … ]` of a pattern; see [`Pattern::observations`].
pub struct Observations<'a> {
    stack: Vec<&'a ObservationExpr>,
}

impl<'a> Iterator for Observations<'a> {
    type Item = &'a ComparisonExpr;

    fn next(&mut self) -> Option<&'a ComparisonExpr> {
        while let Some(e) = self.stack.pop() {
            match &e.kind {
                ObservationKind::Observation(c) => return Some(c),
                ObservationKind::Group(inner) => self.stack.push(inner),
                ObservationKind::Qualified { expr, .. } => self.stack.push(expr),
                ObservationKind::And(v)
                | ObservationKind::Or(v)
                | ObservationKind::FollowedBy(v) => self.stack.extend(v.iter().rev()),
            }
        }
        None
    }
}

impl ComparisonExpr {
    /// The comparisons inside this expression, in source order.
    pub fn comparisons(&self) -> Comparisons<'_> {
        Comparisons { stack: vec![self] }
    }
}

/// Iterator over comparisons; see [`ComparisonExpr::comparisons`].
pub struct Comparisons<'a> {
    stack: Vec<&'a ComparisonExpr>,
}

impl<'a> Iterator for Comparisons<'a> {
    type Item = &'a Comparison;

    fn next(&mut self) -> Option<&'a Comparison> {
        while let Some(e) = self.stack.pop() {
            match &e.kind {
                ComparisonKind::Test(c) => return Some(c),
                ComparisonKind::Group(inner) => self.stack.push(inner),
                ComparisonKind::And(v) | ComparisonKind::Or(v) => self.stack.extend(v.iter().rev()),
            }
        }
        None
    }
}
