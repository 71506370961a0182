use std::fmt;

/// A STIX/TAXII timestamp (RFC 3339, UTC, `Z` suffix), held as microseconds since the Unix
/// epoch. Digits beyond microseconds are accepted and truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("`{0}` is not a timestamp of the form YYYY-MM-DDTHH:MM:SS[.s+]Z")]
    Syntax(String),
    #[error("`{0}` names a date or time that does not exist")]
    Range(String),
}

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX))
    }

    /// The instant at a UTC calendar date and time of day; `None` for a date or time that
    /// does not exist. Sources whose logs carry dates in other forms build timestamps here.
    pub fn from_civil(
        (year, month, day): (i64, u32, u32),
        (hour, minute, second): (u32, u32, u32),
        micros: u32,
    ) -> Option<Self> {
        let (month, day) = (i64::from(month), i64::from(day));
        let valid = (-9999..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour <= 23
            && minute <= 59
            && second <= 59
            && micros < 1_000_000;
        if !valid {
            return None;
        }
        let seconds = days_from_civil(year, month, day) * 86_400
            + i64::from(hour * 3600 + minute * 60 + second);
        Some(Timestamp(seconds * 1_000_000 + i64::from(micros)))
    }

    /// The UTC calendar year the instant falls in.
    pub fn year(self) -> i64 {
        civil_from_days(self.0.div_euclid(1_000_000).div_euclid(86_400)).0
    }

    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let syntax = || TimestampError::Syntax(text.to_owned());
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return Err(syntax());
        }
        if b[13] != b':' || b[16] != b':' || *b.last().ok_or_else(syntax)? != b'Z' {
            return Err(syntax());
        }
        let num = |range: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let digits = &b[range];
            if digits.iter().all(u8::is_ascii_digit) {
                Ok(digits
                    .iter()
                    .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
            } else {
                Err(syntax())
            }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut micros = 0i64;
        let rest = &b[19..b.len() - 1];
        if !rest.is_empty() {
            let fraction = rest.strip_prefix(b".").ok_or_else(syntax)?;
            if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
                return Err(syntax());
            }
            for i in 0..6 {
                micros = micros * 10 + fraction.get(i).map_or(0, |d| i64::from(d - b'0'));
            }
        }
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(TimestampError::Range(text.to_owned()));
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
        Ok(Timestamp(seconds * 1_000_000 + micros))
    }
}

impl fmt::Display for Timestamp {
    /// Always six fractional digits, so that the text sorts like the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let (days, secs_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        if (0..=9999).contains(&year) {
            // Digit by digit: sensors stamp every observable, and `write!` with padded
            // fields costs several times more.
            let mut text = *b"0000-00-00T00:00:00.000000Z";
            let mut put = |end: usize, width: usize, mut value: i64| {
                for i in (end - width..end).rev() {
                    text[i] = b'0' + (value % 10) as u8;
                    value /= 10;
                }
            };
            put(4, 4, year);
            put(7, 2, month);
            put(10, 2, day);
            put(13, 2, secs_of_day / 3600);
            put(16, 2, secs_of_day % 3600 / 60);
            put(19, 2, secs_of_day % 60);
            put(26, 6, micros);
            return f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?);
        }
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if month <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        month,
        day,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        let t = Timestamp::parse("2016-04-06T20:03:48.000Z").unwrap();
        assert_eq!(t.to_string(), "2016-04-06T20:03:48.000000Z");
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z")
                .unwrap()
                .as_micros(),
            0
        );
        let fine = Timestamp::parse("2020-02-29T23:59:59.1234567Z").unwrap();
        assert_eq!(fine.to_string(), "2020-02-29T23:59:59.123456Z");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "2016-04-06 20:03:48Z",
            "2016-04-06T20:03:48",
            "2016-04-06T20:03:48.Z",
            "2016-04-06T20:03:48+00:00",
            "2016-4-06T20:03:48Z",
            "2016-04-06t20:03:48z",
            "",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Syntax(_))),
                "{bad}"
            );
        }
        for bad in [
            "2019-02-29T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-01-01T24:00:00Z",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(TimestampError::Range(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn from_civil_checks_the_calendar() {
        let t = Timestamp::from_civil((2020, 2, 29), (23, 59, 59), 123_456).unwrap();
        assert_eq!(t.to_string(), "2020-02-29T23:59:59.123456Z");
        assert_eq!(t.year(), 2020);
        assert_eq!(Timestamp::from_civil((2019, 2, 29), (0, 0, 0), 0), None);
        assert_eq!(Timestamp::from_civil((2019, 4, 31), (0, 0, 0), 0), None);
        assert_eq!(Timestamp::from_civil((2019, 1, 1), (24, 0, 0), 0), None);
        assert_eq!(
            Timestamp::from_civil((2019, 1, 1), (0, 0, 0), 1_000_000),
            None
        );
        assert_eq!(Timestamp::from_micros(-1).year(), 1969);
    }

    proptest! {
        #[test]
        fn display_round_trips(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
            let t = Timestamp::from_micros(micros);
            prop_assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        }
    }
}
