/// Why a string is not a STIX identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` is not of the form <type>--<UUID>")]
    Shape(String),
    #[error("`{0}`: the type part must be 3 to 250 characters of a-z, 0-9 and single hyphens")]
    TypeName(String),
    #[error("`{0}`: the part after `--` is not an RFC 4122 UUID")]
    Uuid(String),
    #[error(
        "`{0}`: the UUID is not an RFC 4122 UUID: its variant bits must be 10 (the digit after \
         the third hyphen 8, 9, a or b) and its version 1 to 5 (the digit after the second \
         hyphen); STIX uses version 4, or 5 for deterministic SCO ids"
    )]
    Rfc4122(String),
}

/// Splits a STIX identifier into its type and UUID parts, checking both.
pub fn parse_id(id: &str) -> Result<(&str, uuid::Uuid), IdError> {
    let (type_name, uuid_text) = id
        .split_once("--")
        .ok_or_else(|| IdError::Shape(id.to_owned()))?;
    if !is_type_name(type_name) {
        return Err(IdError::TypeName(id.to_owned()));
    }
    // `Uuid::parse_str` also takes braced, URN and unhyphenated forms, which STIX does not.
    let hyphens_in_place = uuid_text.len() == 36
        && uuid_text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    let uuid = uuid::Uuid::parse_str(uuid_text)
        .ok()
        .filter(|_| hyphens_in_place)
        .ok_or_else(|| IdError::Uuid(id.to_owned()))?;
    // STIX 2.1 requires RFC 4122 UUIDs: its variant and versions 1 to 5. Versions 6 to 8 came
    // later (RFC 9562); partners' validators refuse them, so shared content must not carry them.
    let rfc4122 =
        uuid.get_variant() == uuid::Variant::RFC4122 && (1..=5).contains(&uuid.get_version_num());
    if !rfc4122 {
        return Err(IdError::Rfc4122(id.to_owned()));
    }
    Ok((type_name, uuid))
}

/// STIX 2.1 §3.1 type names: a-z, 0-9 and hyphen, 3 to 250 characters. A doubled hyphen
/// would make the identifier ambiguous, so it is refused too.
pub(crate) fn is_type_name(name: &str) -> bool {
    (3..=250).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_rejects() {
        assert!(parse_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_ok());
        assert!(parse_id("x-mitre-tactic--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").is_ok());
        assert!(matches!(parse_id("indicator-8e2e"), Err(IdError::Shape(_))));
        assert!(matches!(
            parse_id("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
            Err(IdError::TypeName(_))
        ));
        assert!(matches!(
            parse_id("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f"),
            Err(IdError::Uuid(_))
        ));
        assert!(matches!(
            parse_id("indicator--{8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f}"),
            Err(IdError::Uuid(_))
        ));
    }

    #[test]
    fn only_rfc_4122_uuids() {
        for good in [
            "indicator--00000000-0000-4000-8000-000000000001",
            "file--8e2e2d2b-17d4-5cbf-938f-98ee46b3cd3f",
            "file--8e2e2d2b-17d4-1cbf-a38f-98ee46b3cd3f",
            "file--8E2E2D2B-17D4-4CBF-B38F-98EE46B3CD3F",
        ] {
            assert!(parse_id(good).is_ok(), "{good}");
        }
        for bad in [
            "indicator--00000000-0000-0000-0000-000000000000",
            "indicator--ffffffff-ffff-ffff-ffff-ffffffffffff",
            // Version 0, versions 7 and 9, and the NCS, Microsoft and future variants.
            "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-7cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-9cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-e38f-98ee46b3cd3f",
        ] {
            assert!(matches!(parse_id(bad), Err(IdError::Rfc4122(_))), "{bad}");
        }
    }
}
