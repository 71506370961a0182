//! `key=value` payloads, as firewalls and many appliances write them:
//!
//! ```text
//! line   = *WSP [ pair *( 1*WSP pair ) ] *WSP
//! pair   = key "=" value
//! key    = 1*( any character but whitespace, "=", '"' and "'" )
//! value  = quoted / *( any character but whitespace )      ; may be empty: `a= b=1`
//! quoted = '"' *( char / escape ) '"'  /  "'" *( char / escape ) "'"
//! escape = "\" ( '"' / "'" / "\" / "n" / "r" / "t" )
//! ```
//!
//! A quoted value must be followed by whitespace or the end of the line. A key given twice
//! is an error: which of the two values the sender meant cannot be known.

use std::borrow::Cow;

use super::clip;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key=value payload, byte {at}: {kind}")]
pub struct KvError {
    /// Byte offset in the payload where the problem is.
    pub at: usize,
    pub kind: KvErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvErrorKind {
    #[error("`{0}` has no `=` after the key")]
    MissingEquals(String),
    #[error("a pair has no key before `=`")]
    EmptyKey,
    #[error("a key cannot be quoted")]
    QuotedKey,
    #[error("the quoted value of `{0}` has no closing quote")]
    UnterminatedQuote(String),
    #[error("`\\{0}` is not an escape (only \\\", \\', \\\\, \\n, \\r and \\t are)")]
    BadEscape(char),
    #[error("the quoted value of `{0}` is followed by text instead of a space")]
    TextAfterQuote(String),
    #[error("key `{0}` appears twice")]
    DuplicateKey(String),
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits a `key=value` line into its pairs, in order. Values are borrowed unless a quoted
/// value holds escapes.
pub fn parse_key_values(text: &str) -> Result<Vec<(&str, Cow<'_, str>)>, KvError> {
    let bytes = text.as_bytes();
    let mut pairs: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            return Ok(pairs);
        }
        let key_start = i;
        while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'=' | b'"' | b'\'') {
            i += 1;
        }
        let key = &text[key_start..i];
        if key.is_empty() {
            let kind = if bytes[i] == b'=' {
                KvErrorKind::EmptyKey
            } else {
                KvErrorKind::QuotedKey
            };
            return Err(KvError { at: i, kind });
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(KvError {
                at: i,
                kind: KvErrorKind::MissingEquals(clip(key)),
            });
        }
        i += 1;
        let value = match bytes.get(i) {
            Some(&quote) if quote == b'"' || quote == b'\'' => {
                let (value, end) = quoted(text, i, quote, key)?;
                i = end;
                if i < bytes.len() && !is_space(bytes[i]) {
                    return Err(KvError {
                        at: i,
                        kind: KvErrorKind::TextAfterQuote(clip(key)),
                    });
                }
                value
            }
            _ => {
                let start = i;
                while i < bytes.len() && !is_space(bytes[i]) {
                    i += 1;
                }
                Cow::Borrowed(&text[start..i])
            }
        };
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(KvError {
                at: key_start,
                kind: KvErrorKind::DuplicateKey(clip(key)),
            });
        }
        pairs.push((key, value));
    }
}

/// Reads the quoted value opening at `open`; returns it and the offset after its closing
/// quote.
fn quoted<'a>(
    text: &'a str,
    open: usize,
    quote: u8,
    key: &str,
) -> Result<(Cow<'a, str>, usize), KvError> {
    let bytes = text.as_bytes();
    let start = open + 1;
    let mut i = start;
    let mut unescaped: Option<String> = None;
    let mut plain_from = start;
    while i < bytes.len() {
        match bytes[i] {
            b if b == quote => {
                let value = match unescaped {
                    Some(mut s) => {
                        s.push_str(&text[plain_from..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&text[start..i]),
                };
                return Ok((value, i + 1));
            }
            b'\\' => {
                let replacement = match bytes.get(i + 1) {
                    Some(b'"') => '"',
                    Some(b'\'') => '\'',
                    Some(b'\\') => '\\',
                    Some(b'n') => '\n',
                    Some(b'r') => '\r',
                    Some(b't') => '\t',
                    Some(_) => {
                        let found = text[i + 1..].chars().next().unwrap_or('\\');
                        return Err(KvError {
                            at: i,
                            kind: KvErrorKind::BadEscape(found),
                        });
                    }
                    None => break,
                };
                let s = unescaped.get_or_insert_with(String::new);
                s.push_str(&text[plain_from..i]);
                s.push(replacement);
                i += 2;
                plain_from = i;
            }
            _ => i += 1,
        }
    }
    Err(KvError {
        at: open,
        kind: KvErrorKind::UnterminatedQuote(clip(key)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_key_values(text)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn plain_quoted_and_escaped_values() {
        assert_eq!(
            pairs(r#"src=10.0.0.1 dst="a b" act=block"#),
            owned(&[("src", "10.0.0.1"), ("dst", "a b"), ("act", "block")])
        );
        assert_eq!(
            pairs(r#"  msg="say \"hi\"\tnow\\" path='C:\\x' empty= n=1  "#),
            owned(&[
                ("msg", "say \"hi\"\tnow\\"),
                ("path", "C:\\x"),
                ("empty", ""),
                ("n", "1")
            ])
        );
        assert_eq!(
            pairs("url=http://a/?q=1&r=2"),
            owned(&[("url", "http://a/?q=1&r=2")])
        );
        assert_eq!(pairs("name=\"é ü\""), owned(&[("name", "é ü")]));
        assert!(pairs("").is_empty());
    }

    #[test]
    fn borrowed_unless_escaped() {
        let parsed = parse_key_values(r#"a="x y" b="x\"y""#).unwrap();
        assert!(matches!(parsed[0].1, Cow::Borrowed("x y")));
        assert!(matches!(parsed[1].1, Cow::Owned(_)));
    }

    #[test]
    fn precise_errors() {
        let cases = [
            ("a=1 b", 5, "`b` has no `=` after the key"),
            ("a=1 =2", 4, "a pair has no key before `=`"),
            (
                "a=\"open",
                2,
                "the quoted value of `a` has no closing quote",
            ),
            (
                "a=\"x\\q\"",
                4,
                "`\\q` is not an escape (only \\\", \\', \\\\, \\n, \\r and \\t are)",
            ),
            (
                "a=\"x\"y",
                5,
                "the quoted value of `a` is followed by text instead of a space",
            ),
            ("a=1 a=2", 4, "key `a` appears twice"),
            ("\"a\"=1", 0, "a key cannot be quoted"),
            ("a=\"x\\", 2, "the quoted value of `a` has no closing quote"),
        ];
        for (text, at, message) in cases {
            let e = parse_key_values(text).unwrap_err();
            assert_eq!((e.at, e.kind.to_string().as_str()), (at, message), "{text}");
        }
    }
}
