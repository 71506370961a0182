//! How syslog messages arrive. Over UDP each datagram is one message (RFC 5426). Over TCP
//! (RFC 6587) a stream carries frames either by octet counting, `MSG-LEN SP SYSLOG-MSG`, or
//! by a trailer, one message per line. [`FrameDecoder`] cuts a stream into frames as bytes
//! arrive, whatever sizes the reads come in.
//!
//! After a malformed frame the decoder reports it and resynchronises: an oversized counted
//! frame is skipped by its count; a count that cannot be read, or an oversized line, is
//! skipped up to the next line feed (senders that count usually end frames with one too).

/// How frames are delimited on a TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `MSG-LEN SP SYSLOG-MSG` (RFC 6587 §3.4.1).
    OctetCounting,
    /// One message per line, ended by LF; a CR before it is dropped (RFC 6587 §3.4.2).
    NonTransparent,
    /// Per frame, as RFC 6587 §3.4.2 suggests: a frame that starts with a digit is counted,
    /// one that starts with `<` is a line.
    Detect,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("stream byte {at}: `{found}` is not an octet count (digits without a leading zero, then a space)")]
    BadLength { at: u64, found: String },
    #[error("stream byte {at}: a frame of {len} bytes is longer than the limit of {max}")]
    TooLong { at: u64, len: usize, max: usize },
    #[error("stream byte {at}: a line is longer than the limit of {max} bytes")]
    LineTooLong { at: u64, max: usize },
    #[error("stream byte {at}: the stream ended {missing} bytes short of a {len}-byte frame")]
    Truncated { at: u64, len: usize, missing: usize },
}

/// An octet count has at most this many digits: enough for any frame the limit allows.
const MAX_COUNT_DIGITS: usize = 10;

/// Cuts a TCP stream into syslog frames.
#[derive(Debug)]
pub struct FrameDecoder {
    framing: Framing,
    max_frame: usize,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out or skipped.
    start: usize,
    /// Stream offset of `buf[0]`, for error positions.
    offset: u64,
    /// Bytes still to drop from an oversized counted frame.
    discard: usize,
    /// Dropping bytes up to the next line feed.
    skip_line: bool,
}

impl FrameDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(framing: Framing, max_frame: usize) -> Self {
        FrameDecoder {
            framing,
            max_frame,
            buf: Vec::new(),
            start: 0,
            offset: 0,
            discard: 0,
            skip_line: false,
        }
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.offset += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn at(&self, index: usize) -> u64 {
        self.offset + index as u64
    }

    /// The next complete frame, an error for a malformed one, or `None` until more bytes
    /// arrive.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FramingError>> {
        loop {
            if self.discard > 0 {
                let n = self.discard.min(self.buf.len() - self.start);
                self.start += n;
                self.discard -= n;
                if self.discard > 0 {
                    return None;
                }
            }
            if self.skip_line {
                match self.buf[self.start..].iter().position(|b| *b == b'\n') {
                    Some(pos) => {
                        self.start += pos + 1;
                        self.skip_line = false;
                    }
                    None => {
                        self.start = self.buf.len();
                        return None;
                    }
                }
            }
            // Line ends and NULs between frames carry nothing.
            while self.start < self.buf.len() && matches!(self.buf[self.start], b'\n' | b'\r' | 0) {
                self.start += 1;
            }
            let first = *self.buf.get(self.start)?;
            let counted = match self.framing {
                Framing::OctetCounting => true,
                Framing::NonTransparent => false,
                Framing::Detect => first.is_ascii_digit(),
            };
            let (a, b) = if counted {
                match self.counted()? {
                    Ok(range) => range,
                    Err(e) => return Some(Err(e)),
                }
            } else {
                match self.line()? {
                    Ok(range) => range,
                    Err(e) => return Some(Err(e)),
                }
            };
            if a < b {
                return Some(Ok(&self.buf[a..b]));
            }
        }
    }

    /// A counted frame's range in `buf`, `None` while incomplete.
    fn counted(&mut self) -> Option<Result<(usize, usize), FramingError>> {
        let rest = &self.buf[self.start..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == rest.len() && digits <= MAX_COUNT_DIGITS {
            return None;
        }
        let well_formed =
            (1..=MAX_COUNT_DIGITS).contains(&digits) && rest[0] != b'0' && rest[digits] == b' ';
        if !well_formed {
            // Up to the byte that gave the count away, which is there whatever the reads.
            let shown = &rest[..(digits + 1).min(rest.len())];
            let shown = shown.strip_suffix(b" ").unwrap_or(shown);
            let found = String::from_utf8_lossy(shown).into_owned();
            let at = self.at(self.start);
            self.skip_line = true;
            return Some(Err(FramingError::BadLength { at, found }));
        }
        let len = rest[..digits].iter().fold(0usize, |acc, d| {
            acc.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        });
        let body = self.start + digits + 1;
        if len > self.max_frame {
            let at = self.at(self.start);
            self.start = body;
            self.discard = len;
            return Some(Err(FramingError::TooLong {
                at,
                len,
                max: self.max_frame,
            }));
        }
        if self.buf.len() - body < len {
            return None;
        }
        self.start = body + len;
        Some(Ok((body, body + len)))
    }

    /// A line's range in `buf` without its LF (and CR), `None` while incomplete.
    fn line(&mut self) -> Option<Result<(usize, usize), FramingError>> {
        let rest = &self.buf[self.start..];
        let Some(pos) = rest.iter().position(|b| *b == b'\n') else {
            if rest.len() > self.max_frame {
                let at = self.at(self.start);
                self.start = self.buf.len();
                self.skip_line = true;
                return Some(Err(FramingError::LineTooLong {
                    at,
                    max: self.max_frame,
                }));
            }
            return None;
        };
        let begin = self.start;
        let end = if pos > 0 && rest[pos - 1] == b'\r' {
            begin + pos - 1
        } else {
            begin + pos
        };
        self.start = begin + pos + 1;
        if end - begin > self.max_frame {
            return Some(Err(FramingError::LineTooLong {
                at: self.at(begin),
                max: self.max_frame,
            }));
        }
        Some(Ok((begin, end)))
    }

    /// At the end of the stream, after [`next_frame`](Self::next_frame) returned `None`: a
    /// last line without its line feed, or the error of a counted frame cut short. Empties
    /// the decoder.
    pub fn finish(&mut self) -> Option<Result<Vec<u8>, FramingError>> {
        let rest_start = self.start;
        let rest = self.buf.get(rest_start..).unwrap_or(&[]);
        let outcome = if self.discard > 0 || self.skip_line || rest.is_empty() {
            None
        } else {
            let counted = match self.framing {
                Framing::OctetCounting => true,
                Framing::NonTransparent => false,
                Framing::Detect => rest[0].is_ascii_digit(),
            };
            if counted {
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                let len = rest[..digits].iter().fold(0usize, |acc, d| {
                    acc.saturating_mul(10).saturating_add(usize::from(d - b'0'))
                });
                let have = rest.len().saturating_sub(digits + 1);
                Some(Err(FramingError::Truncated {
                    at: self.at(rest_start),
                    len,
                    missing: len.saturating_sub(have),
                }))
            } else {
                let line = rest.strip_suffix(b"\r").unwrap_or(rest);
                Some(Ok(line.to_vec()))
            }
        };
        self.offset += self.buf.len() as u64;
        self.buf.clear();
        self.start = 0;
        self.discard = 0;
        self.skip_line = false;
        outcome
    }
}

/// The message in a UDP datagram: each datagram is one message (RFC 5426 §3.1); a trailing
/// line feed or NUL some senders add is not part of it.
pub fn datagram(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `chunk` bytes and collects frames and errors.
    fn decode(
        framing: Framing,
        max: usize,
        input: &[u8],
        chunk: usize,
    ) -> Vec<Result<String, String>> {
        let mut decoder = FrameDecoder::new(framing, max);
        let mut out = Vec::new();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for piece in input.chunks(chunk.max(1)) {
            decoder.push(piece);
            while let Some(frame) = decoder.next_frame() {
                out.push(frame.map(text).map_err(|e| e.to_string()));
            }
        }
        if let Some(last) = decoder.finish() {
            out.push(last.map(|v| text(&v)).map_err(|e| e.to_string()));
        }
        out
    }

    fn ok(frames: &[&str]) -> Vec<Result<String, String>> {
        frames.iter().map(|f| Ok((*f).to_owned())).collect()
    }

    #[test]
    fn octet_counting_in_any_read_sizes() {
        let input = b"11 <13>1 - - x7 <13>a b\n";
        for chunk in 1..input.len() {
            assert_eq!(
                decode(Framing::OctetCounting, 100, input, chunk),
                ok(&["<13>1 - - x", "<13>a b"]),
                "{chunk}"
            );
        }
    }

    #[test]
    fn lines_in_any_read_sizes() {
        let input = b"<13>one\r\n\n<13>two\n<13>three";
        for chunk in 1..input.len() {
            assert_eq!(
                decode(Framing::NonTransparent, 100, input, chunk),
                ok(&["<13>one", "<13>two", "<13>three"]),
                "{chunk}"
            );
        }
    }

    #[test]
    fn detection_per_frame() {
        let input = b"<13>line one\n9 <13>count<13>line two\n";
        assert_eq!(
            decode(Framing::Detect, 100, input, 4),
            ok(&["<13>line one", "<13>count", "<13>line two"])
        );
    }

    #[test]
    fn errors_and_resynchronisation() {
        let input = b"05 <13>x\n20 <13>far too long abc3 <1>";
        assert_eq!(
            decode(Framing::OctetCounting, 10, input, 3),
            vec![
                Err("stream byte 0: `05` is not an octet count (digits without a leading zero, then a space)".to_owned()),
                Err("stream byte 9: a frame of 20 bytes is longer than the limit of 10".to_owned()),
                Ok("<1>".to_owned()),
            ]
        );
        let input = b"<13>this line is too long\n<13>ok\n<13>unterminated and long";
        assert_eq!(
            decode(Framing::NonTransparent, 10, input, 7),
            vec![
                Err("stream byte 0: a line is longer than the limit of 10 bytes".to_owned()),
                Ok("<13>ok".to_owned()),
                Err("stream byte 33: a line is longer than the limit of 10 bytes".to_owned()),
            ]
        );
        assert_eq!(
            decode(Framing::OctetCounting, 100, b"12 <13>abc", 4),
            vec![Err(
                "stream byte 0: the stream ended 5 bytes short of a 12-byte frame".to_owned()
            )]
        );
        assert_eq!(
            decode(Framing::OctetCounting, 100, b"x12 <13>\n3 <1>", 4),
            vec![
                Err("stream byte 0: `x` is not an octet count (digits without a leading zero, then a space)".to_owned()),
                Ok("<1>".to_owned()),
            ]
        );
    }

    #[test]
    fn datagrams_lose_trailers_only() {
        assert_eq!(datagram(b"<13>x\r\n\0"), b"<13>x");
        assert_eq!(datagram(b"<13>x y"), b"<13>x y");
        assert_eq!(datagram(b"\n"), b"");
    }
}
