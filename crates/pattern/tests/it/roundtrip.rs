//! parse(print(tree)) == tree for generated trees, and every node's span covers exactly its
//! printed text.

use proptest::prelude::*;

use pattern::*;

fn sp<T>(value: T) -> Spanned<T> {
    Spanned::new(value, Span::default())
}

fn obs(kind: ObservationKind) -> ObservationExpr {
    ObservationExpr {
        kind,
        span: Span::default(),
    }
}

fn cmp(kind: ComparisonKind) -> ComparisonExpr {
    ComparisonExpr {
        kind,
        span: Span::default(),
    }
}

const RESERVED: [&str; 19] = [
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
    "true",
    "false",
];

fn object_type() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "file",
            "network-traffic",
            "x-custom-thing",
            "ipv4-addr"
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z_][a-zA-Z0-9_-]{0,10}",
    ]
    .prop_filter("keywords are not object types", |t| {
        !RESERVED.contains(&t.as_str())
    })
}

/// Property names of every shape: plain, keyword-like, and arbitrary text that needs quoting.
/// `hashes` is left out: its values must be real hashes, which the generator does not make.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        1 => prop::sample::select(RESERVED.to_vec()).prop_map(str::to_owned),
        1 => "[a-z]{1,4}-[a-z]{1,4}",
        2 => any::<String>(),
    ]
    .prop_filter("no hash paths", |k| k != "hashes")
}

fn path() -> impl Strategy<Value = ObjectPath> {
    let step = prop_oneof![
        3 => key().prop_map(PathStep::Key),
        1 => any::<i64>().prop_map(PathStep::Index),
        1 => Just(PathStep::AnyIndex),
    ];
    (object_type(), key(), prop::collection::vec(step, 0..4)).prop_map(|(t, first, rest)| {
        let mut steps = vec![sp(PathStep::Key(first))];
        steps.extend(rest.into_iter().map(sp));
        ObjectPath {
            object_type: sp(t),
            steps,
            span: Span::default(),
        }
    })
}

// 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z: the four-digit years of the grammar.
const FIRST_MICROS: i64 = -62_167_219_200_000_000;
const LAST_MICROS: i64 = 253_402_300_799_999_999;

fn timestamp() -> impl Strategy<Value = stix::Timestamp> {
    prop_oneof![
        (FIRST_MICROS..=LAST_MICROS).prop_map(stix::Timestamp::from_micros),
        // Whole seconds, which print without a fraction.
        (FIRST_MICROS / 1_000_000..=LAST_MICROS / 1_000_000)
            .prop_map(|s| stix::Timestamp::from_micros(s * 1_000_000)),
    ]
}

fn finite_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
    ]
}

fn literal(with_bool: bool) -> BoxedStrategy<Literal> {
    let mut choices = vec![
        any::<i64>().prop_map(Literal::Int).boxed(),
        finite_float().prop_map(Literal::Float).boxed(),
        any::<String>().prop_map(Literal::String).boxed(),
        timestamp().prop_map(Literal::Timestamp).boxed(),
        prop::collection::vec(any::<u8>(), 0..12)
            .prop_map(Literal::Hex)
            .boxed(),
        prop::collection::vec(any::<u8>(), 1..12)
            .prop_map(Literal::Binary)
            .boxed(),
    ];
    if with_bool {
        choices.push(any::<bool>().prop_map(Literal::Bool).boxed());
    }
    prop::strategy::Union::new(choices).boxed()
}

/// Regular expressions the checker accepts: fixed ones, and text with its metacharacters
/// escaped.
fn regex() -> impl Strategy<Value = String> {
    let escaped = any::<String>().prop_map(|s| {
        let mut out = String::new();
        for c in s.chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    });
    prop_oneof![
        prop::sample::select(vec![
            "",
            ".*",
            "^a+b?c*$",
            "(?i)[a-z0-9_]{2,5}",
            "\\d+\\.\\d+",
            "(a|b)(?:c|d)",
            "[^\\s]+@example\\.com$",
            "\\x00\\xff",
            "\\p{L}+",
        ])
        .prop_map(str::to_owned),
        escaped,
    ]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    let op_value = prop_oneof![
        (
            prop::sample::select(vec![Operator::Eq, Operator::Ne]),
            literal(true)
        )
            .prop_map(|(op, l)| (op, Some(Value::Literal(sp(l))))),
        (
            prop::sample::select(vec![Operator::Lt, Operator::Le, Operator::Gt, Operator::Ge]),
            literal(false)
        )
            .prop_map(|(op, l)| (op, Some(Value::Literal(sp(l))))),
        prop::collection::vec(literal(true), 0..4).prop_map(|items| (
            Operator::In,
            Some(Value::Set(sp(items.into_iter().map(sp).collect())))
        )),
        (
            prop::sample::select(vec![
                Operator::Like,
                Operator::IsSubset,
                Operator::IsSuperset
            ]),
            any::<String>()
        )
            .prop_map(|(op, s)| (op, Some(Value::Literal(sp(Literal::String(s)))))),
        regex().prop_map(|r| (
            Operator::Matches,
            Some(Value::Literal(sp(Literal::String(r))))
        )),
        Just((Operator::Exists, None)),
    ];
    (path(), any::<bool>(), op_value).prop_map(|(path, negated, (op, value))| Comparison {
        path,
        negated,
        operator: sp(op),
        value,
        span: Span::default(),
    })
}

fn comparison_expr() -> impl Strategy<Value = ComparisonExpr> {
    let leaf = comparison().prop_map(|c| cmp(ComparisonKind::Test(c)));
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|e| cmp(ComparisonKind::Group(Box::new(e)))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| cmp(ComparisonKind::And(v))),
            prop::collection::vec(inner, 2..4).prop_map(|v| cmp(ComparisonKind::Or(v))),
        ]
    })
}

fn qualifier() -> impl Strategy<Value = Qualifier> {
    let kind = prop_oneof![
        (1..=i64::MAX).prop_map(|n| QualifierKind::Within(sp(Number::Int(n)))),
        finite_float()
            .prop_filter("positive", |f| *f > 0.0)
            .prop_map(|f| QualifierKind::Within(sp(Number::Float(f)))),
        (1..=i64::MAX as u64).prop_map(|n| QualifierKind::Repeats(sp(n))),
        (timestamp(), timestamp())
            .prop_filter("distinct", |(a, b)| a != b)
            .prop_map(|(a, b)| QualifierKind::StartStop {
                start: sp(a.min(b)),
                stop: sp(a.max(b)),
            }),
    ];
    kind.prop_map(|kind| Qualifier {
        kind,
        span: Span::default(),
    })
}

fn observation_expr() -> impl Strategy<Value = ObservationExpr> {
    let leaf = comparison_expr().prop_map(|c| obs(ObservationKind::Observation(c)));
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|e| obs(ObservationKind::Group(Box::new(e)))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| obs(ObservationKind::And(v))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| obs(ObservationKind::Or(v))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| obs(ObservationKind::FollowedBy(v))),
            (inner, qualifier()).prop_map(|(e, q)| obs(ObservationKind::Qualified {
                expr: Box::new(e),
                qualifier: q,
            })),
        ]
    })
}

// ---- making generated trees expressible ------------------------------------------------
//
// The generators build any nesting; text can only express some. These functions insert the
// groups that the text needs, exactly where a writer would put parentheses.

fn obs_level(kind: &ObservationKind) -> u8 {
    match kind {
        ObservationKind::FollowedBy(_) => 1,
        ObservationKind::Or(_) => 2,
        ObservationKind::And(_) => 3,
        ObservationKind::Qualified { .. } => 4,
        ObservationKind::Observation(_) | ObservationKind::Group(_) => 5,
    }
}

fn group_obs(e: ObservationExpr) -> ObservationExpr {
    obs(ObservationKind::Group(Box::new(e)))
}

/// Qualifier kinds applied directly (through qualifiers only) to an `[…]`.
fn direct_qualifiers(e: &ObservationExpr) -> Option<Vec<&'static str>> {
    match &e.kind {
        ObservationKind::Observation(_) => Some(Vec::new()),
        ObservationKind::Qualified { expr, qualifier } => {
            let mut kinds = direct_qualifiers(expr)?;
            kinds.push(qualifier.kind.keyword());
            Some(kinds)
        }
        _ => None,
    }
}

fn fix_obs(e: ObservationExpr) -> ObservationExpr {
    let level = obs_level(&e.kind);
    let operands = |v: Vec<ObservationExpr>| -> Vec<ObservationExpr> {
        v.into_iter()
            .map(fix_obs)
            .map(|o| {
                if obs_level(&o.kind) <= level {
                    group_obs(o)
                } else {
                    o
                }
            })
            .collect()
    };
    let kind = match e.kind {
        ObservationKind::Observation(c) => ObservationKind::Observation(fix_cmp(c)),
        ObservationKind::Group(inner) => ObservationKind::Group(Box::new(fix_obs(*inner))),
        ObservationKind::And(v) => ObservationKind::And(operands(v)),
        ObservationKind::Or(v) => ObservationKind::Or(operands(v)),
        ObservationKind::FollowedBy(v) => ObservationKind::FollowedBy(operands(v)),
        ObservationKind::Qualified { expr, qualifier } => {
            let mut inner = fix_obs(*expr);
            let repeated = direct_qualifiers(&inner)
                .is_some_and(|kinds| kinds.contains(&qualifier.kind.keyword()));
            if obs_level(&inner.kind) < 4 || repeated {
                inner = group_obs(inner);
            }
            ObservationKind::Qualified {
                expr: Box::new(inner),
                qualifier,
            }
        }
    };
    obs(kind)
}

fn cmp_level(kind: &ComparisonKind) -> u8 {
    match kind {
        ComparisonKind::Or(_) => 1,
        ComparisonKind::And(_) => 2,
        ComparisonKind::Test(_) | ComparisonKind::Group(_) => 3,
    }
}

fn fix_cmp(e: ComparisonExpr) -> ComparisonExpr {
    let level = cmp_level(&e.kind);
    let operands = |v: Vec<ComparisonExpr>| -> Vec<ComparisonExpr> {
        v.into_iter()
            .map(fix_cmp)
            .map(|c| {
                if cmp_level(&c.kind) <= level {
                    cmp(ComparisonKind::Group(Box::new(c)))
                } else {
                    c
                }
            })
            .collect()
    };
    let kind = match e.kind {
        ComparisonKind::Test(c) => ComparisonKind::Test(c),
        ComparisonKind::Group(inner) => ComparisonKind::Group(Box::new(fix_cmp(*inner))),
        ComparisonKind::And(v) => ComparisonKind::And(operands(v)),
        ComparisonKind::Or(v) => ComparisonKind::Or(operands(v)),
    };
    cmp(kind)
}

fn pattern_tree() -> impl Strategy<Value = Pattern> {
    observation_expr().prop_map(|e| Pattern { expr: fix_obs(e) })
}

// ---- spans -------------------------------------------------------------------------------

/// In canonical text every node's span holds exactly the node's own canonical text.
fn check_spans(text: &str, e: &ObservationExpr) -> Result<(), TestCaseError> {
    prop_assert_eq!(&text[e.span.range()], e.to_string());
    match &e.kind {
        ObservationKind::Observation(c) => check_cmp_spans(text, c)?,
        ObservationKind::Group(inner) => check_spans(text, inner)?,
        ObservationKind::And(v) | ObservationKind::Or(v) | ObservationKind::FollowedBy(v) => {
            for o in v {
                check_spans(text, o)?;
            }
        }
        ObservationKind::Qualified { expr, qualifier } => {
            check_spans(text, expr)?;
            prop_assert_eq!(&text[qualifier.span.range()], qualifier.to_string());
        }
    }
    Ok(())
}

fn check_cmp_spans(text: &str, e: &ComparisonExpr) -> Result<(), TestCaseError> {
    prop_assert_eq!(&text[e.span.range()], e.to_string());
    match &e.kind {
        ComparisonKind::Test(c) => {
            prop_assert_eq!(&text[c.span.range()], c.to_string());
            prop_assert_eq!(&text[c.path.span.range()], c.path.to_string());
            prop_assert_eq!(
                &text[c.path.object_type.span.range()],
                c.path.object_type.value.as_str()
            );
            prop_assert_eq!(&text[c.operator.span.range()], c.operator.value.as_str());
            if let Some(v) = &c.value {
                prop_assert_eq!(&text[v.span().range()], v.to_string());
                if let Value::Set(set) = v {
                    for item in &set.value {
                        prop_assert_eq!(&text[item.span.range()], item.value.to_string());
                    }
                }
            }
        }
        ComparisonKind::Group(inner) => check_cmp_spans(text, inner)?,
        ComparisonKind::And(v) | ComparisonKind::Or(v) => {
            for c in v {
                check_cmp_spans(text, c)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn print_then_parse_is_the_identity(tree in pattern_tree()) {
        let text = tree.to_string();
        let parsed = match pattern::parse(&text) {
            Ok(p) => p,
            Err(d) => return Err(TestCaseError::fail(d.render(&text))),
        };
        check_spans(&text, &parsed.expr)?;
        let mut bare = parsed;
        bare.clear_spans();
        prop_assert_eq!(bare, tree);
    }
}
