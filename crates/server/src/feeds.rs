//! `GET /api/feeds/{format}`: protection feeds for the caller's organisation, generated from
//! the indicators it may use (`Exchange::feed_indicators`, under the relay rule) and cached.
//!
//! A cached feed is keyed by organisation, format and options, and is served while the
//! exchange's change stamp is the one it was made at and no indicator has begun or ended
//! since. Its `ETag` is a hash of its bytes, so a sensor polling with `If-None-Match` gets a
//! 304 until the feed really changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use detect::feeds::{self, Format, Options};
use kawal_core::{OrgId, Principal};
use sha2::{Digest, Sha256};
use stix::{Timestamp, Tlp};

use crate::auth::principal;
use crate::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/feeds/{format}", get(feed))
}

/// Feeds kept per (organisation, format, options). Options take few values, so the number of
/// keys is bounded by the organisations; stale entries are dropped when the map is full.
#[derive(Default)]
pub struct FeedCache {
    feeds: Mutex<HashMap<Key, Arc<Generated>>>,
}

const CACHE_CAPACITY: usize = 512;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    org: OrgId,
    format: Format,
    options: Options,
}

struct Generated {
    stamp: u64,
    /// The feed is stale from this instant on (an indicator or a window begins or ends).
    until: Option<Timestamp>,
    body: String,
    etag: String,
    entries: usize,
    indicators: usize,
    skipped: String,
}

impl Generated {
    fn fresh(&self, stamp: u64, now: Timestamp) -> bool {
        self.stamp == stamp && self.until.is_none_or(|until| now < until)
    }
}

impl FeedCache {
    fn get(&self, key: &Key, stamp: u64, now: Timestamp) -> Option<Arc<Generated>> {
        let feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.get(key).filter(|g| g.fresh(stamp, now)).cloned()
    }

    fn put(&self, key: Key, generated: Arc<Generated>) {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        if feeds.len() >= CACHE_CAPACITY && !feeds.contains_key(&key) {
            let stamp = generated.stamp;
            feeds.retain(|_, g| g.stamp == stamp);
            if feeds.len() >= CACHE_CAPACITY {
                feeds.clear();
            }
        }
        feeds.insert(key, generated);
    }
}

fn bad(description: String) -> ApiError {
    ApiError::bad_request(description).rest()
}

/// The options of the URL, each checked against the formats it applies to.
fn options(format: Format, query: Option<&str>) -> Result<Options, ApiError> {
    let mut options = Options::default();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let applies = |formats: &[Format], to: &str| {
            if formats.contains(&format) {
                Ok(())
            } else {
                Err(bad(format!("`{name}` applies to {to} only")))
            }
        };
        match &*name {
            "comments" => {
                applies(
                    &[
                        Format::Ip,
                        Format::Domain,
                        Format::Url,
                        Format::Hash,
                        Format::Rpz,
                        Format::Nftables,
                    ],
                    "the list, rpz and nftables feeds",
                )?;
                options.comments = match &*value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("comments: `{value}` is not true or false"))),
                };
            }
            "algorithm" => {
                applies(&[Format::Hash], "the hash feed")?;
                options.algorithm = Some(value.parse().map_err(|e| bad(format!("{e}")))?);
            }
            "action" => {
                applies(&[Format::Suricata], "the suricata feed")?;
                options.action = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "policy" => {
                applies(&[Format::Rpz], "the rpz feed")?;
                options.policy = value.parse().map_err(|e| bad(format!("{e}")))?;
            }
            "tlp" => {
                options.max_tlp = Some(
                    value
                        .parse::<Tlp>()
                        .map_err(|e| bad(format!("tlp: {e}")))?,
                );
            }
            _ => {
                return Err(bad(format!(
                    "unknown URL parameter `{name}`; feeds take comments, algorithm, action, policy and tlp"
                )))
            }
        }
    }
    Ok(options)
}

async fn feed(
    State(state): State<AppState>,
    Path(format): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format: Format = format
        .parse()
        .map_err(|e: feeds::UnknownFormat| ApiError::not_found(e.to_string()).rest())?;
    let options = options(format, query.as_deref())?;
    let who = principal(&state, &headers).await.map_err(ApiError::rest)?;
    let Some(org) = who.org() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "feeds are fetched with an organisation's token",
        )
        .rest());
    };
    let key = Key {
        org,
        format,
        options,
    };
    let cache_state = state.clone();
    let generated = state
        .blocking(move |ex| {
            // Read the stamp first: a write that lands while the feed is generated leaves the
            // entry with an older stamp, so the next request regenerates rather than keeping
            // a feed that misses the write.
            let stamp = ex.change_stamp()?;
            let now = Timestamp::now();
            let cache = cache_state.feeds();
            if let Some(cached) = stamp.and_then(|stamp| cache.get(&key, stamp, now)) {
                record(ex, &who, format, &cached, "cached");
                return Ok(cached);
            }
            let generated = Arc::new(generate(ex, &who, &key, stamp.unwrap_or(0), now)?);
            // Without a stamp nothing says when the feed goes stale: it is made afresh each time.
            if stamp.is_some() {
                cache.put(key, generated.clone());
            }
            record(ex, &who, format, &generated, "generated");
            Ok(generated)
        })
        .await
        .map_err(ApiError::rest)?;
    Ok(respond(format, &generated, &headers))
}

fn generate(
    ex: &kawal_core::Exchange,
    who: &Principal,
    key: &Key,
    stamp: u64,
    now: Timestamp,
) -> kawal_core::exchange::Result<Generated> {
    let mut unreadable = 0usize;
    let indicators: Vec<feeds::Indicator> = ex
        .feed_indicators(who)?
        .into_iter()
        .filter_map(|stored| match feeds::Indicator::from_json(&stored.raw, stored.tlp) {
            Ok(indicator) => Some(indicator),
            Err(e) => {
                // Ingest checks indicators, so this is a stored object of an older rule set.
                tracing::warn!(collection = %stored.collection, error = %e, "indicator left out of a feed");
                unreadable += 1;
                None
            }
        })
        .collect();
    let feed = feeds::generate(key.format, &key.options, &indicators, now);
    let mut skipped: Vec<String> = feed
        .skipped
        .iter()
        .map(|(reason, count)| format!("{reason}={count}"))
        .collect();
    if unreadable > 0 {
        skipped.push(format!("unreadable={unreadable}"));
    }
    let digest = Sha256::digest(feed.body.as_bytes());
    let etag: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Generated {
        stamp,
        until: feed.changes_at,
        etag: format!("\"{etag}\""),
        entries: feed.entries,
        indicators: feed.indicators,
        skipped: skipped.join(", "),
        body: feed.body,
    })
}

fn record(
    ex: &kawal_core::Exchange,
    who: &Principal,
    format: Format,
    generated: &Generated,
    how: &str,
) {
    ex.record(
        who,
        "feed",
        format.as_str(),
        &format!(
            "{how}: {} entries from {} indicators",
            generated.entries, generated.indicators
        ),
    );
}

/// Whether `If-None-Match` names the feed's current ETag (weak comparison, RFC 9110 §13.1.2).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn respond(format: Format, generated: &Generated, request: &HeaderMap) -> Response {
    let mut response = if not_modified(request, &generated.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = generated.body.clone().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.media_type()),
        );
        r
    };
    let headers = response.headers_mut();
    // The ETag is hex and quotes, the counts are digits and the reasons fixed words: all valid
    // header text.
    let text = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    headers.insert(header::ETAG, text(&generated.etag));
    // Each organisation's feed differs: shared caches must not keep it, clients revalidate.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
    headers.insert("x-kawal-feed-entries", text(&generated.entries.to_string()));
    headers.insert(
        "x-kawal-feed-indicators",
        text(&generated.indicators.to_string()),
    );
    headers.insert("x-kawal-feed-skipped", text(&generated.skipped));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_against_their_format() {
        assert_eq!(
            options(Format::Suricata, Some("action=drop&tlp=amber")).unwrap(),
            Options {
                action: feeds::RuleAction::Drop,
                max_tlp: Some(Tlp::Amber),
                ..Options::default()
            }
        );
        assert!(options(Format::Hash, Some("algorithm=sha256&comments=true")).is_ok());
        for (format, query, fault) in [
            (
                Format::Ip,
                "action=drop",
                "applies to the suricata feed only",
            ),
            (Format::Suricata, "action=reject", "alert or drop"),
            (Format::Ip, "policy=nodata", "applies to the rpz feed only"),
            (Format::Rpz, "policy=refuse", "nxdomain or nodata"),
            (Format::Hash, "algorithm=crc32", "not a hash algorithm"),
            (Format::Ip, "comments=yes", "true or false"),
            (Format::Suricata, "comments=true", "applies to"),
            (Format::Ip, "tlp=purple", "tlp:"),
            (Format::Ip, "limit=5", "unknown URL parameter `limit`"),
        ] {
            let e = options(format, Some(query)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.description.contains(fault), "{query}: {}", e.description);
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_in_lists() {
        let with = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            h
        };
        assert!(not_modified(&with("\"ab\""), "\"ab\""));
        assert!(not_modified(&with("W/\"ab\""), "\"ab\""));
        assert!(not_modified(&with("\"x\", \"ab\""), "\"ab\""));
        assert!(not_modified(&with("*"), "\"ab\""));
        assert!(!not_modified(&with("\"abc\""), "\"ab\""));
        assert!(!not_modified(&HeaderMap::new(), "\"ab\""));
    }
}
