//! Timestamps as sensors write them: RFC 3339 with any offset, seconds (or milliseconds,
//! microseconds) since the Unix epoch, and operator-given formats in a `strptime` subset.
//! Everything becomes a UTC [`Timestamp`] with microsecond precision; finer digits are cut.

use stix::Timestamp;

use super::clip;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error(
        "`{0}` is not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.fraction] then Z or an offset \
         such as +07:00)"
    )]
    Rfc3339(String),
    #[error("`{0}` is not a number of {1} since the Unix epoch")]
    Epoch(String, &'static str),
    #[error("`{text}` does not match the format `{format}`: {reason}")]
    Format {
        text: String,
        format: String,
        reason: String,
    },
    #[error("`{0}` names a date or time that does not exist")]
    Range(String),
}

/// The unit of a count since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
    Micros,
}

impl EpochUnit {
    fn micros(self) -> i64 {
        match self {
            EpochUnit::Seconds => 1_000_000,
            EpochUnit::Millis => 1_000,
            EpochUnit::Micros => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            EpochUnit::Seconds => "seconds",
            EpochUnit::Millis => "milliseconds",
            EpochUnit::Micros => "microseconds",
        }
    }
}

/// Reads `digits` as a number; `None` if empty, not all digits, or too large.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')),
    )
}

/// The first six digits of a fraction as microseconds.
fn fraction_micros(digits: &[u8]) -> u32 {
    (0..6).fold(0, |acc, i| {
        acc * 10 + digits.get(i).map_or(0, |d| u32::from(d - b'0'))
    })
}

/// Reads an offset `Z`, `+HH:MM` or `+HHMM` (Suricata writes the latter) as seconds east
/// of UTC.
fn offset_seconds(b: &[u8]) -> Option<i64> {
    match b {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (number(&[*h1, *h2])?, number(&[*m1, *m2])?)
                }
                [h1, h2] => (number(&[*h1, *h2])?, 0),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => None,
    }
}

fn shifted(local: Timestamp, offset_seconds: i64) -> Timestamp {
    Timestamp::from_micros(local.as_micros() - offset_seconds * 1_000_000)
}

/// Parses an RFC 3339 date-time; a space may stand for the `T`, and the offset may omit its
/// colon.
pub fn rfc3339(text: &str) -> Result<Timestamp, TimeError> {
    let syntax = || TimeError::Rfc3339(clip(text));
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(syntax());
    }
    let field = |r: std::ops::Range<usize>| {
        if r.len() == 2 || r.len() == 4 {
            number(&b[r]).ok_or_else(syntax)
        } else {
            Err(syntax())
        }
    };
    let year = i64::from(field(0..4)?);
    let (month, day) = (field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    let mut rest = &b[19..];
    let mut micros = 0;
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let digits = after_dot.iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return Err(syntax());
        }
        micros = fraction_micros(&after_dot[..digits]);
        rest = &after_dot[digits..];
    }
    let offset = offset_seconds(rest).ok_or_else(syntax)?;
    let local = Timestamp::from_civil((year, month, day), (hour, minute, second), micros)
        .ok_or_else(|| TimeError::Range(clip(text)))?;
    Ok(shifted(local, offset))
}

/// Parses a decimal count since the epoch, exactly: `1591367999.305988` seconds is
/// 1591367999305988 µs, with no detour through floating point.
pub fn epoch(text: &str, unit: EpochUnit) -> Result<Timestamp, TimeError> {
    let bad = || TimeError::Epoch(clip(text), unit.name());
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_only = |s: &str| s.bytes().all(|d| d.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(bad());
    }
    if unsigned.contains('.') && fraction.is_empty() {
        return Err(bad());
    }
    let scale = unit.micros();
    let whole_value = whole.bytes().try_fold(0i64, |acc, d| {
        acc.checked_mul(10)?.checked_add(i64::from(d - b'0'))
    });
    let fraction_value = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(scale.ilog10() as usize)
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let micros = whole_value
        .and_then(|w| w.checked_mul(scale))
        .and_then(|w| w.checked_add(fraction_value))
        .filter(|m| *m <= MAX_MICROS)
        .ok_or_else(bad)?;
    Ok(Timestamp::from_micros(if negative {
        -micros
    } else {
        micros
    }))
}

/// Year 9999's end: later instants cannot be written as STIX timestamps.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// A count since the epoch given as a JSON number.
pub fn epoch_number(value: f64, unit: EpochUnit) -> Option<Timestamp> {
    let micros = (value * unit.micros() as f64).round();
    (micros.is_finite() && micros.abs() <= MAX_MICROS as f64)
        .then(|| Timestamp::from_micros(micros as i64))
}

/// One step of a [`TimeFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Literal(char),
    /// One or more whitespace characters.
    Space,
    Year,
    Month,
    MonthName,
    Day,
    Hour,
    Minute,
    Second,
    Fraction,
    Offset,
    EpochSeconds,
}

/// A timestamp format in a `strptime` subset, checked when it is loaded:
///
/// | directive | reads |
/// |---|---|
/// | `%Y` | four-digit year |
/// | `%m`, `%d`, `%H`, `%M`, `%S` | month, day, hour, minute, second: one or two digits |
/// | `%e` | day, one or two digits, possibly after a space |
/// | `%b` | month name, three letters or full, any case |
/// | `%f` | fraction of a second, any number of digits (cut to microseconds) |
/// | `%z` | `Z`, `+HH:MM` or `+HHMM`; without it the time is UTC |
/// | `%s` | seconds since the Unix epoch, optionally with a fraction |
/// | `%%` | a `%` |
///
/// A space in the format matches one or more whitespace characters; any other character
/// matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    text: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time format `{format}`: {reason}")]
pub struct TimeFormatError {
    pub format: String,
    pub reason: String,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl TimeFormat {
    pub fn parse(format: &str) -> Result<TimeFormat, TimeFormatError> {
        let fail = |reason: String| TimeFormatError {
            format: format.to_owned(),
            reason,
        };
        let mut items = Vec::new();
        let mut chars = format.char_indices();
        while let Some((at, c)) = chars.next() {
            let item = match c {
                '%' => match chars.next() {
                    Some((_, 'Y')) => Item::Year,
                    Some((_, 'm')) => Item::Month,
                    Some((_, 'b' | 'B' | 'h')) => Item::MonthName,
                    Some((_, 'd' | 'e')) => Item::Day,
                    Some((_, 'H')) => Item::Hour,
                    Some((_, 'M')) => Item::Minute,
                    Some((_, 'S')) => Item::Second,
                    Some((_, 'f')) => Item::Fraction,
                    Some((_, 'z')) => Item::Offset,
                    Some((_, 's')) => Item::EpochSeconds,
                    Some((_, '%')) => Item::Literal('%'),
                    Some((_, other)) => {
                        return Err(fail(format!(
                            "`%{other}` at byte {at} is not a supported directive (%Y %m %d %e \
                             %b %H %M %S %f %z %s %%)"
                        )))
                    }
                    None => return Err(fail(format!("a lone `%` ends the format at byte {at}"))),
                },
                c if c.is_whitespace() => {
                    if items.last() == Some(&Item::Space) {
                        continue;
                    }
                    Item::Space
                }
                c => Item::Literal(c),
            };
            let is_field = !matches!(item, Item::Literal(_) | Item::Space);
            if is_field && items.contains(&item) {
                return Err(fail(format!("the directive at byte {at} appears twice")));
            }
            items.push(item);
        }
        let has = |i: Item| items.contains(&i);
        if has(Item::EpochSeconds) {
            if items
                .iter()
                .any(|i| !matches!(i, Item::EpochSeconds | Item::Literal(_) | Item::Space))
            {
                return Err(fail("`%s` cannot be combined with other fields".to_owned()));
            }
        } else {
            let month = has(Item::Month) || has(Item::MonthName);
            if !(has(Item::Year) && month && has(Item::Day) && has(Item::Hour) && has(Item::Minute))
            {
                return Err(fail(
                    "a format needs a year (%Y), a month (%m or %b), a day (%d), an hour (%H) \
                     and minutes (%M), or else `%s`"
                        .to_owned(),
                ));
            }
            if has(Item::Month) && has(Item::MonthName) {
                return Err(fail("the month is given twice (%m and %b)".to_owned()));
            }
            if has(Item::Fraction) && !has(Item::Second) {
                return Err(fail("a fraction (%f) needs seconds (%S)".to_owned()));
            }
        }
        Ok(TimeFormat {
            text: format.to_owned(),
            items,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn apply(&self, text: &str) -> Result<Timestamp, TimeError> {
        let fail = |reason: String| TimeError::Format {
            text: clip(text),
            format: self.text.clone(),
            reason,
        };
        let b = text.as_bytes();
        let mut i = 0;
        let (mut year, mut month, mut day) = (0i64, 0u32, 0u32);
        let (mut hour, mut minute, mut second, mut micros) = (0u32, 0u32, 0u32, 0u32);
        let mut offset = 0i64;
        let digits_at = |i: usize, max: usize| {
            b[i..]
                .iter()
                .take(max)
                .take_while(|d| d.is_ascii_digit())
                .count()
        };
        for item in &self.items {
            match *item {
                Item::Literal(c) => {
                    let mut buf = [0u8; 4];
                    let expected = c.encode_utf8(&mut buf).as_bytes();
                    if !b[i..].starts_with(expected) {
                        return Err(fail(format!("expected `{c}` at byte {i}")));
                    }
                    i += expected.len();
                }
                Item::Space => {
                    let n = b[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_whitespace())
                        .count();
                    if n == 0 {
                        return Err(fail(format!("expected a space at byte {i}")));
                    }
                    i += n;
                }
                Item::Year => {
                    if digits_at(i, 4) != 4 {
                        return Err(fail(format!("expected a four-digit year at byte {i}")));
                    }
                    year = i64::from(number(&b[i..i + 4]).unwrap_or(0));
                    i += 4;
                }
                Item::Month | Item::Day | Item::Hour | Item::Minute | Item::Second => {
                    if *item == Item::Day && b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    let n = digits_at(i, 2);
                    if n == 0 {
                        return Err(fail(format!("expected a number at byte {i}")));
                    }
                    let value = number(&b[i..i + n]).unwrap_or(0);
                    match item {
                        Item::Month => month = value,
                        Item::Day => day = value,
                        Item::Hour => hour = value,
                        Item::Minute => minute = value,
                        _ => second = value,
                    }
                    i += n;
                }
                Item::MonthName => {
                    let n = b[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .count();
                    let word = text[i..i + n].to_ascii_lowercase();
                    let found = MONTHS
                        .iter()
                        .position(|m| n >= 3 && (word == *m || (n == 3 && m.starts_with(&word))));
                    let Some(index) = found else {
                        return Err(fail(format!("expected a month name at byte {i}")));
                    };
                    month = index as u32 + 1;
                    i += n;
                }
                Item::Fraction => {
                    let n = b[i..].iter().take_while(|d| d.is_ascii_digit()).count();
                    if n == 0 {
                        return Err(fail(format!("expected fraction digits at byte {i}")));
                    }
                    micros = fraction_micros(&b[i..i + n]);
                    i += n;
                }
                Item::Offset => {
                    let n = match b.get(i) {
                        Some(b'Z' | b'z') => 1,
                        Some(b'+' | b'-') => {
                            1 + b[i + 1..]
                                .iter()
                                .take(5)
                                .take_while(|c| c.is_ascii_digit() || **c == b':')
                                .count()
                        }
                        _ => 0,
                    };
                    offset = offset_seconds(&b[i..i + n]).ok_or_else(|| {
                        fail(format!(
                            "expected Z or an offset such as +07:00 at byte {i}"
                        ))
                    })?;
                    i += n;
                }
                Item::EpochSeconds => {
                    let n = b[i..]
                        .iter()
                        .enumerate()
                        .take_while(|(k, c)| {
                            c.is_ascii_digit() || **c == b'.' || (*k == 0 && **c == b'-')
                        })
                        .count();
                    let seconds = epoch(&text[i..i + n], EpochUnit::Seconds).map_err(|_| {
                        fail(format!("expected seconds since the epoch at byte {i}"))
                    })?;
                    i += n;
                    if i != b.len() {
                        return Err(fail(format!("unexpected text at byte {i}")));
                    }
                    return Ok(seconds);
                }
            }
        }
        if i != b.len() {
            return Err(fail(format!("unexpected text at byte {i}")));
        }
        let local = Timestamp::from_civil((year, month, day), (hour, minute, second), micros)
            .ok_or_else(|| TimeError::Range(clip(text)))?;
        Ok(shifted(local, offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> String {
        rfc3339(text)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(
            at("2020-06-05T14:39:59.305988Z"),
            "2020-06-05T14:39:59.305988Z"
        );
        assert_eq!(
            at("2020-06-05 21:39:59+07:00"),
            "2020-06-05T14:39:59.000000Z"
        );
        assert_eq!(
            at("2020-06-05T14:39:59.305988123+0000"),
            "2020-06-05T14:39:59.305988Z"
        );
        assert_eq!(
            at("2020-01-01T00:30:00-01:00"),
            "2020-01-01T01:30:00.000000Z"
        );
        assert_eq!(at("2020-01-01t00:30:00z"), "2020-01-01T00:30:00.000000Z");
        assert_eq!(
            at("2021-02-29T00:00:00Z"),
            "`2021-02-29T00:00:00Z` names a date or time that does not exist"
        );
        for bad in [
            "2020-06-05T14:39:59",
            "2020-06-05T14:39:59.Z",
            "2020-06-05T14:39:59+7:00",
            "2020-06-05T14:39:59+24:00",
            "2020-6-05T14:39:59Z",
            "2020-06-05T14:39:5aZ",
            "",
        ] {
            assert!(matches!(rfc3339(bad), Err(TimeError::Rfc3339(_))), "{bad}");
        }
    }

    #[test]
    fn epoch_counts_are_exact() {
        let t = epoch("1591367999.305988", EpochUnit::Seconds).unwrap();
        assert_eq!(t.as_micros(), 1_591_367_999_305_988);
        assert_eq!(
            epoch("1591367999", EpochUnit::Seconds).unwrap().as_micros(),
            1_591_367_999_000_000
        );
        assert_eq!(
            epoch("1591367999305.9", EpochUnit::Millis)
                .unwrap()
                .as_micros(),
            1_591_367_999_305_900
        );
        assert_eq!(
            epoch("1591367999305988", EpochUnit::Micros)
                .unwrap()
                .as_micros(),
            1_591_367_999_305_988
        );
        assert_eq!(
            epoch("-1.5", EpochUnit::Seconds).unwrap().as_micros(),
            -1_500_000
        );
        for bad in [
            "",
            "1.",
            ".5",
            "1e9",
            "12a",
            "99999999999999999999",
            "999999999999",
        ] {
            assert!(epoch(bad, EpochUnit::Seconds).is_err(), "{bad}");
        }
        assert_eq!(
            epoch("x", EpochUnit::Millis).unwrap_err().to_string(),
            "`x` is not a number of milliseconds since the Unix epoch"
        );
        assert_eq!(
            epoch_number(1591367999.305988, EpochUnit::Seconds).map(Timestamp::as_micros),
            Some(1_591_367_999_305_988)
        );
        assert_eq!(epoch_number(f64::NAN, EpochUnit::Seconds), None);
        assert_eq!(epoch_number(1e300, EpochUnit::Seconds), None);
    }

    #[test]
    fn formats() {
        let apache = TimeFormat::parse("%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(
            apache
                .apply("05/Jun/2020:21:39:59 +0700")
                .unwrap()
                .to_string(),
            "2020-06-05T14:39:59.000000Z"
        );
        let plain = TimeFormat::parse("%Y-%m-%d %H:%M:%S.%f").unwrap();
        assert_eq!(
            plain.apply("2020-06-05   14:39:59.5").unwrap().to_string(),
            "2020-06-05T14:39:59.500000Z"
        );
        let syslogish = TimeFormat::parse("%Y %b %e %H:%M:%S").unwrap();
        assert_eq!(
            syslogish
                .apply("2020 june  5 14:39:59")
                .unwrap()
                .to_string(),
            "2020-06-05T14:39:59.000000Z"
        );
        let seconds = TimeFormat::parse("%s").unwrap();
        assert_eq!(
            seconds.apply("1591367999.25").unwrap().as_micros(),
            1_591_367_999_250_000
        );
        assert_eq!(
            plain.apply("2020-06-05 14:39:59").unwrap_err().to_string(),
            "`2020-06-05 14:39:59` does not match the format `%Y-%m-%d %H:%M:%S.%f`: expected `.` \
             at byte 19"
        );
        assert_eq!(
            apache
                .apply("05/Jun/2020:21:39:59 +0700 x")
                .unwrap_err()
                .to_string(),
            "`05/Jun/2020:21:39:59 +0700 x` does not match the format `%d/%b/%Y:%H:%M:%S %z`: \
             unexpected text at byte 26"
        );
        assert!(matches!(
            plain.apply("2020-02-30 00:00:00.1"),
            Err(TimeError::Range(_))
        ));
        assert!(apache.apply("05/Jux/2020:21:39:59 +0700").is_err());
    }

    #[test]
    fn formats_are_checked_when_loaded() {
        let reason = |f: &str| TimeFormat::parse(f).unwrap_err().reason;
        assert_eq!(
            reason("%Y-%q"),
            "`%q` at byte 3 is not a supported directive (%Y %m %d %e %b %H %M %S %f %z %s %%)"
        );
        assert_eq!(
            reason("%Y-%m-%d %H:%M %"),
            "a lone `%` ends the format at byte 15"
        );
        assert_eq!(
            reason("%Y-%m-%d %H:%M:%S %Y"),
            "the directive at byte 18 appears twice"
        );
        assert!(reason("%H:%M:%S").starts_with("a format needs a year"));
        assert_eq!(reason("%s %Y"), "`%s` cannot be combined with other fields");
        assert_eq!(
            reason("%Y %m %b %d %H:%M"),
            "the month is given twice (%m and %b)"
        );
        assert_eq!(
            reason("%Y-%m-%d %H:%M.%f"),
            "a fraction (%f) needs seconds (%S)"
        );
    }
}
