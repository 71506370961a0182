//! The hash value check that `stix2-patterns` applies to `…hashes.ALGORITHM` comparisons.
//!
//! Any path with a `hashes` step whose last step names a known algorithm must be compared
//! with a value of that algorithm's form. Algorithm names are compared as the validator does:
//! upper-cased, hyphens dropped, so `'SHA-256'`, `SHA256` and `sha-256` are one algorithm.

use crate::ast::{Comparison, Literal, Operator, PathStep, Spanned, Value};
use crate::diagnostic::Diagnostic;

enum Form {
    /// Hexadecimal digits, one of these lengths.
    Hex(&'static [usize]),
    /// 1 to 128 characters of `[a-zA-Z0-9/+:.]`.
    Ssdeep,
}

fn form(normalized: &str) -> Option<Form> {
    Some(match normalized {
        "MD5" => Form::Hex(&[32]),
        "MD6" => Form::Hex(&[32, 40, 56, 64, 96, 128]),
        "RIPEMD160" | "SHA1" => Form::Hex(&[40]),
        "SHA224" | "SHA3224" => Form::Hex(&[56]),
        "SHA256" | "SHA3256" => Form::Hex(&[64]),
        "SHA384" | "SHA3384" => Form::Hex(&[96]),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => Form::Hex(&[128]),
        "SSDEEP" => Form::Ssdeep,
        _ => return None,
    })
}

fn fits(form: &Form, value: &str) -> bool {
    match form {
        Form::Hex(lengths) => {
            lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit())
        }
        Form::Ssdeep => {
            (1..=128).contains(&value.len())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        }
    }
}

fn describe(form: &Form, algorithm: &str) -> String {
    match form {
        Form::Hex([n]) => format!("{algorithm} hashes are {n} hexadecimal digits"),
        Form::Hex(lengths) => {
            let lengths: Vec<String> = lengths.iter().map(ToString::to_string).collect();
            format!(
                "{algorithm} hashes are {} hexadecimal digits",
                lengths.join(", ")
            )
        }
        Form::Ssdeep => {
            format!("{algorithm} hashes are 1 to 128 characters of letters, digits and / + : .")
        }
    }
}

pub(crate) fn check(c: &Comparison) -> Result<(), Diagnostic> {
    let has_hashes_step = c
        .path
        .steps()
        .any(|s| matches!(s, PathStep::Key(k) if k == "hashes"));
    if !has_hashes_step {
        return Ok(());
    }
    let Some(PathStep::Key(algorithm)) = c.path.last_step() else {
        return Ok(());
    };
    let normalized = algorithm.to_ascii_uppercase().replace('-', "");
    let Some(form) = form(&normalized) else {
        return Ok(());
    };
    // LIKE and MATCHES take patterns over the hash, not hash values.
    let literals: &[Spanned<Literal>] = match (&c.operator.value, &c.value) {
        (Operator::Like | Operator::Matches | Operator::Exists, _) | (_, None) => return Ok(()),
        (_, Some(Value::Literal(l))) => std::slice::from_ref(l),
        (_, Some(Value::Set(set))) => &set.value,
    };
    for lit in literals {
        match &lit.value {
            Literal::String(s) if fits(&form, s) => {}
            Literal::String(s) => {
                return Err(Diagnostic::new(
                    lit.span,
                    format!("'{s}' is not a valid {algorithm} hash"),
                )
                .with_label(describe(&form, algorithm)))
            }
            other => {
                return Err(Diagnostic::new(
                    lit.span,
                    format!("{algorithm} hash compared with {}", other.kind_name()),
                )
                .with_label("hash values are strings")
                .with_hint(format!(
                    "write the hash in quotes; {}",
                    describe(&form, algorithm)
                )))
            }
        }
    }
    Ok(())
}
