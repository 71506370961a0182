//! The bounds of a hunt as people write them: an RFC 3339 instant, or an age such as `7d`,
//! `12h`, `30m` or `45s` counted back from now.

use std::time::Duration;

use stix::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    #[error("`{0}` is not a duration: write a whole number followed by d, h, m or s (as in 7d, 12h, 30m)")]
    Duration(String),
    #[error("`{0}` is neither a duration (7d, 12h, 30m) nor an RFC 3339 timestamp ({1})")]
    Instant(String, String),
}

/// `7d`, `12h`, `30m`, `45s`.
pub fn parse_duration(text: &str) -> Result<Duration, WhenError> {
    let bad = || WhenError::Duration(text.to_owned());
    let text_trimmed = text.trim();
    let unit_at = text_trimmed
        .char_indices()
        .last()
        .map(|(i, _)| i)
        .ok_or_else(bad)?;
    let (number, unit) = text_trimmed.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: u64 = number.parse().map_err(|_| bad())?;
    let seconds_per = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    count
        .checked_mul(seconds_per)
        // Beyond this no timestamp can be counted back from now.
        .filter(|s| *s <= i64::MAX as u64 / 1_000_000)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// An RFC 3339 instant, or a duration before `now`.
pub fn parse_instant(text: &str, now: Timestamp) -> Result<Timestamp, WhenError> {
    if let Ok(age) = parse_duration(text) {
        let micros = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
        return Ok(Timestamp::from_micros(
            now.as_micros().saturating_sub(micros),
        ));
    }
    Timestamp::parse(text.trim()).map_err(|e| WhenError::Instant(text.to_owned(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_days_hours_minutes_and_seconds() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("0d"), Ok(Duration::ZERO));
    }

    #[test]
    fn malformed_durations_are_refused_with_the_text() {
        for text in [
            "",
            "d",
            "7",
            "7x",
            "-7d",
            "7.5d",
            "7 d",
            "d7",
            "1é",
            "99999999999999999999d",
        ] {
            let error = parse_duration(text).unwrap_err();
            assert_eq!(error, WhenError::Duration(text.to_owned()), "{text}");
        }
        // Representable in seconds, but not as a timestamp offset.
        assert!(parse_duration(&format!("{}d", u64::MAX / 86_400)).is_err());
    }

    #[test]
    fn instants_are_timestamps_or_ages_before_now() {
        let now = Timestamp::parse("2026-11-20T12:00:00Z").unwrap();
        assert_eq!(
            parse_instant("1d", now).unwrap(),
            Timestamp::parse("2026-11-19T12:00:00Z").unwrap()
        );
        assert_eq!(
            parse_instant("2026-11-01T00:00:00Z", now).unwrap(),
            Timestamp::parse("2026-11-01T00:00:00Z").unwrap()
        );
        assert!(matches!(
            parse_instant("yesterday", now),
            Err(WhenError::Instant(..))
        ));
    }
}
