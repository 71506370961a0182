//! Tokens of `STIXPattern.g4`, cut with the same longest-match rule as its ANTLR lexer.
//!
//! Where ANTLR would fall back to shorter tokens that the parser can never accept (an `h`
//! identifier followed by a string because `h'abc'` has an odd number of digits, a lone `'`
//! before an invalid escape, `0` `7` for `07`), this lexer reports the problem directly, with
//! a message about the literal the author meant. The set of accepted patterns is the same.

use crate::ast::Span;
use crate::diagnostic::{err, Diagnostic, PResult};
use crate::literal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    /// Reserved by the grammar, used by no rule.
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

impl Keyword {
    pub(crate) fn from_ident(text: &str) -> Option<Keyword> {
        Some(match text {
            "AND" => Keyword::And,
            "OR" => Keyword::Or,
            "NOT" => Keyword::Not,
            "FOLLOWEDBY" => Keyword::FollowedBy,
            "LIKE" => Keyword::Like,
            "MATCHES" => Keyword::Matches,
            "ISSUPERSET" => Keyword::IsSuperset,
            "ISSUBSET" => Keyword::IsSubset,
            "EXISTS" => Keyword::Exists,
            "LAST" => Keyword::Last,
            "IN" => Keyword::In,
            "START" => Keyword::Start,
            "STOP" => Keyword::Stop,
            "SECONDS" => Keyword::Seconds,
            "WITHIN" => Keyword::Within,
            "REPEATS" => Keyword::Repeats,
            "TIMES" => Keyword::Times,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Keyword::And => "AND",
            Keyword::Or => "OR",
            Keyword::Not => "NOT",
            Keyword::FollowedBy => "FOLLOWEDBY",
            Keyword::Like => "LIKE",
            Keyword::Matches => "MATCHES",
            Keyword::IsSuperset => "ISSUPERSET",
            Keyword::IsSubset => "ISSUBSET",
            Keyword::Exists => "EXISTS",
            Keyword::Last => "LAST",
            Keyword::In => "IN",
            Keyword::Start => "START",
            Keyword::Stop => "STOP",
            Keyword::Seconds => "SECONDS",
            Keyword::Within => "WITHIN",
            Keyword::Repeats => "REPEATS",
            Keyword::Times => "TIMES",
        }
    }
}

/// Whether the text would be lexed as something other than a plain identifier, so that a
/// property of that name has to be quoted.
pub(crate) fn is_reserved_word(text: &str) -> bool {
    Keyword::from_ident(text).is_some() || text == "true" || text == "false"
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Kw(Keyword),
    Bool(bool),
    /// `[a-zA-Z_][a-zA-Z0-9_-]*`; only object types may contain a hyphen.
    Ident {
        hyphen: bool,
    },
    /// `IntPosLiteral` / `IntNegLiteral`; the text keeps its sign.
    Int {
        negative: bool,
    },
    /// `FloatPosLiteral` / `FloatNegLiteral`.
    Float {
        negative: bool,
    },
    /// `'…'`; `escaped` tells whether the text holds `\'` or `\\`.
    Str {
        escaped: bool,
    },
    Timestamp,
    Hex,
    Binary,
    /// A character that starts no token the parser uses: `+`, `-`, `^`, `/`, `!`, `"`, …
    Stray(char),
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

pub(crate) struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

/// The grammar's `WS` rule: ASCII blanks and these Unicode spaces.
fn is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl<'s> Lexer<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> PResult<()> {
        let bytes = self.src.as_bytes();
        loop {
            match bytes.get(self.pos) {
                Some(b' ' | b'\t' | b'\r' | b'\n' | 0x0B | 0x0C) => self.pos += 1,
                Some(b'/') if bytes.get(self.pos + 1) == Some(&b'*') => {
                    match self.src[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => {
                            return err(Diagnostic::new(
                                self.pos..self.pos + 2,
                                "unterminated comment",
                            )
                            .with_label("this comment has no closing `*/`"))
                        }
                    }
                }
                Some(b'/') if bytes.get(self.pos + 1) == Some(&b'/') => {
                    let rest = &bytes[self.pos..];
                    let len = rest
                        .iter()
                        .position(|&b| b == b'\n' || b == b'\r')
                        .unwrap_or(rest.len());
                    self.pos += len;
                }
                Some(&b) if b >= 0x80 => match self.src[self.pos..].chars().next() {
                    Some(c) if is_space(c) => self.pos += c.len_utf8(),
                    _ => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    pub(crate) fn next_token(&mut self) -> PResult<Token> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(b) = self.byte(start) else {
            return Ok(Token {
                tok: Tok::Eof,
                span: Span::new(start, start),
            });
        };
        let next = self.byte(start + 1);
        let (tok, len) = match b {
            b'[' => (Tok::LBrack, 1),
            b']' => (Tok::RBrack, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b':' => (Tok::Colon, 1),
            b',' => (Tok::Comma, 1),
            b'*' => (Tok::Star, 1),
            b'=' if next == Some(b'=') => (Tok::Eq, 2),
            b'=' => (Tok::Eq, 1),
            b'!' if next == Some(b'=') => (Tok::Ne, 2),
            b'<' if next == Some(b'=') => (Tok::Le, 2),
            b'<' if next == Some(b'>') => (Tok::Ne, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if next == Some(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'.' if next.is_some_and(|n| n.is_ascii_digit()) => return self.number(start),
            b'.' => (Tok::Dot, 1),
            b'0'..=b'9' => return self.number(start),
            b'+' | b'-' if self.starts_number(start + 1) => return self.number(start),
            b'\'' => return self.string(start),
            b if is_ident_start(b) => return self.ident(start),
            _ => {
                let c = self.src[start..].chars().next().unwrap_or('\u{FFFD}');
                (Tok::Stray(c), c.len_utf8())
            }
        };
        self.pos = start + len;
        Ok(Token {
            tok,
            span: Span::new(start, start + len),
        })
    }

    fn starts_number(&self, at: usize) -> bool {
        match self.byte(at) {
            Some(b'0'..=b'9') => true,
            Some(b'.') => self.byte(at + 1).is_some_and(|b| b.is_ascii_digit()),
            _ => false,
        }
    }

    fn digits_from(&self, at: usize) -> usize {
        self.src.as_bytes()[at.min(self.src.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// `[+-]? digits` or `[+-]? digits? '.' digits`.
    fn number(&mut self, start: usize) -> PResult<Token> {
        let negative = self.byte(start) == Some(b'-');
        let sign = usize::from(matches!(self.byte(start), Some(b'+' | b'-')));
        let int_start = start + sign;
        let int_len = self.digits_from(int_start);
        let after = int_start + int_len;
        if self.byte(after) == Some(b'.')
            && self.byte(after + 1).is_some_and(|b| b.is_ascii_digit())
        {
            let end = after + 1 + self.digits_from(after + 1);
            self.pos = end;
            return Ok(Token {
                tok: Tok::Float { negative },
                span: Span::new(start, end),
            });
        }
        // The grammar's integers are `0 | [1-9][0-9]*`: ANTLR would cut `007` into three
        // integers, which no rule accepts side by side.
        if int_len > 1 && self.byte(int_start) == Some(b'0') {
            let digits = &self.src[int_start..after];
            let trimmed = digits.trim_start_matches('0');
            let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
            return err(Diagnostic::new(
                start..after,
                "integer literals cannot have leading zeros",
            )
            .with_label("leading zero")
            .with_hint(format!(
                "write `{}{trimmed}`, or quote the value if it is an identifier or a hash: '{digits}'",
                &self.src[start..int_start]
            )));
        }
        self.pos = after;
        Ok(Token {
            tok: Tok::Int { negative },
            span: Span::new(start, after),
        })
    }

    fn ident(&mut self, start: usize) -> PResult<Token> {
        let bytes = self.src.as_bytes();
        let len = bytes[start..]
            .iter()
            .take_while(|&&b| is_ident_continue(b))
            .count();
        let end = start + len;
        let text = &self.src[start..end];
        // `t'…'`, `h'…'` and `b'…'` are literals, longer than the one-letter identifier.
        if len == 1 && self.byte(end) == Some(b'\'') {
            match bytes[start] {
                b't' => return self.prefixed(start, Tok::Timestamp, literal::check_timestamp),
                b'h' => return self.prefixed(start, Tok::Hex, literal::check_hex),
                b'b' => return self.prefixed(start, Tok::Binary, literal::check_base64),
                _ => {}
            }
        }
        self.pos = end;
        let hyphen = text.contains('-');
        let tok = if hyphen {
            Tok::Ident { hyphen }
        } else if let Some(kw) = Keyword::from_ident(text) {
            Tok::Kw(kw)
        } else if text == "true" {
            Tok::Bool(true)
        } else if text == "false" {
            Tok::Bool(false)
        } else {
            Tok::Ident { hyphen }
        };
        Ok(Token {
            tok,
            span: Span::new(start, end),
        })
    }

    /// A `t'…'`, `h'…'` or `b'…'` literal: the body runs to the next quote and must have the
    /// literal's exact shape.
    fn prefixed(
        &mut self,
        start: usize,
        tok: Tok,
        check: fn(&str, usize) -> Result<(), Diagnostic>,
    ) -> PResult<Token> {
        let body_start = start + 2;
        let Some(close) = self.src[body_start..].find('\'') else {
            return err(Diagnostic::new(
                start..self.src.len(),
                format!("unterminated {} literal", literal::prefixed_name(tok)),
            )
            .with_label("no closing `'`"));
        };
        let end = body_start + close + 1;
        check(&self.src[body_start..body_start + close], body_start)?;
        self.pos = end;
        Ok(Token {
            tok,
            span: Span::new(start, end),
        })
    }

    fn string(&mut self, start: usize) -> PResult<Token> {
        let bytes = self.src.as_bytes();
        let mut at = start + 1;
        let mut escaped = false;
        loop {
            match bytes.get(at) {
                None => {
                    return err(Diagnostic::new(start..start + 1, "unterminated string literal")
                        .with_label("this string is never closed")
                        .with_hint(
                            "strings end with `'`; inside a string write \\' for a quote and \\\\ for a backslash",
                        ))
                }
                Some(b'\'') => break,
                Some(b'\\') => match bytes.get(at + 1) {
                    Some(b'\'' | b'\\') => {
                        escaped = true;
                        at += 2;
                    }
                    Some(_) => {
                        let c = self.src[at + 1..].chars().next().unwrap_or('\u{FFFD}');
                        return err(Diagnostic::new(
                            at..at + 1 + c.len_utf8(),
                            format!("invalid escape `\\{c}` in a string literal"),
                        )
                        .with_label("only \\' and \\\\ are escapes")
                        .with_hint(format!(
                            "a backslash is written \\\\: for the regular expression `\\{c}` write '\\\\{c}'"
                        )));
                    }
                    None => at += 1,
                },
                Some(_) => at += 1,
            }
        }
        self.pos = at + 1;
        Ok(Token {
            tok: Tok::Str { escaped },
            span: Span::new(start, at + 1),
        })
    }
}
