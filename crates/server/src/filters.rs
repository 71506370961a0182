//! TAXII 2.1 URL parameters (§3.4): parsed strictly, each error naming the parameter and value.

use kawal_core::{ListQuery, VersionSelect};
use stix::Timestamp;

use crate::error::ApiError;

/// Which parameters an endpoint takes.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    Objects,
    Manifest,
    Object,
    Versions,
    Delete,
}

impl Endpoint {
    fn allows(self, name: &str) -> bool {
        let listing = [
            "added_after",
            "limit",
            "next",
            "match[id]",
            "match[type]",
            "match[version]",
            "match[spec_version]",
        ];
        let allowed: &[&str] = match self {
            Endpoint::Objects | Endpoint::Manifest => &listing,
            Endpoint::Object => &[
                "added_after",
                "limit",
                "next",
                "match[version]",
                "match[spec_version]",
            ],
            Endpoint::Versions => &["added_after", "limit", "next", "match[spec_version]"],
            Endpoint::Delete => &["match[version]", "match[spec_version]"],
        };
        allowed.contains(&name)
    }
}

pub fn parse(raw_query: Option<&str>, endpoint: Endpoint) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery::default();
    let mut versions: Option<VersionSelect> = None;
    for (name, value) in form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
        if !endpoint.allows(&name) {
            return Err(ApiError::bad_request(format!(
                "this endpoint does not take the URL parameter `{name}`"
            )));
        }
        let items = || value.split(',').map(str::trim);
        match &*name {
            "added_after" => {
                let t = Timestamp::parse(&value)
                    .map_err(|e| ApiError::bad_request(format!("added_after: {e}")))?;
                query.added_after = Some(t);
            }
            "limit" => {
                let n = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("limit: `{value}` is not a positive integer"))
                    })?;
                query.limit = Some(n);
            }
            "next" => query.next = Some(value.into_owned()),
            "match[id]" => {
                for id in items() {
                    stix::parse_id(id)
                        .map_err(|e| ApiError::bad_request(format!("match[id]: {e}")))?;
                    query.ids.push(id.to_owned());
                }
            }
            "match[type]" => {
                for t in items() {
                    let valid = (3..=250).contains(&t.len())
                        && t.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                    if !valid {
                        return Err(ApiError::bad_request(format!(
                            "match[type]: `{t}` is not a STIX type name"
                        )));
                    }
                    query.types.push(t.to_owned());
                }
            }
            "match[version]" => {
                let select = versions.get_or_insert(VersionSelect {
                    all: false,
                    first: false,
                    last: false,
                    at: Vec::new(),
                });
                for v in items() {
                    match v {
                        "all" => select.all = true,
                        "first" => select.first = true,
                        "last" => select.last = true,
                        other => select.at.push(Timestamp::parse(other).map_err(|e| {
                            ApiError::bad_request(format!(
                                "match[version]: expected first, last, all or a timestamp: {e}"
                            ))
                        })?),
                    }
                }
            }
            "match[spec_version]" => {
                for v in items() {
                    let valid = v.split_once('.').is_some_and(|(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
                    });
                    if !valid {
                        return Err(ApiError::bad_request(format!(
                            "match[spec_version]: `{v}` is not a version such as 2.1"
                        )));
                    }
                    query.spec_versions.push(v.to_owned());
                }
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown URL parameter `{name}`"
                )))
            }
        }
    }
    query.versions = versions.unwrap_or(match endpoint {
        Endpoint::Versions | Endpoint::Delete => VersionSelect::all(),
        _ => VersionSelect::default(),
    });
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let q = parse(
            Some("added_after=2020-01-01T00:00:00Z&limit=5&match[type]=indicator,malware&match[version]=first,2021-01-01T00:00:00.000Z"),
            Endpoint::Objects,
        )
        .unwrap();
        assert_eq!(q.limit, Some(5));
        assert_eq!(q.types, vec!["indicator", "malware"]);
        assert!(q.versions.first && !q.versions.last && q.versions.at.len() == 1);
        assert!(parse(None, Endpoint::Objects).unwrap().versions.last);
        for bad in [
            "limit=0",
            "limit=x",
            "added_after=yesterday",
            "match[id]=foo",
            "match[type]=Bad!",
            "match[version]=newest",
            "match[spec_version]=two",
            "match[foo]=1",
            "colour=red",
        ] {
            assert!(parse(Some(bad), Endpoint::Objects).is_err(), "{bad}");
        }
        assert!(parse(Some("match[type]=indicator"), Endpoint::Versions).is_err());
    }
}
