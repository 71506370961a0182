//! TAXII 2.1 content negotiation (§1.6.8): what a client accepts and what it sends.

use axum::http::{header, HeaderMap, StatusCode};

use crate::error::ApiError;

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Splits a media type into lower-cased essence and parameters, ignoring whitespace.
fn parse_media(text: &str) -> (String, Vec<(String, String)>) {
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            )
        })
        .collect();
    (essence, params)
}

fn is_taxii(essence: &str, params: &[(String, String)]) -> bool {
    essence == "application/taxii+json" && params.iter().all(|(k, v)| k != "version" || v == "2.1")
}

/// The response must be TAXII 2.1 JSON; a client that accepts nothing of the sort gets 406.
pub fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let accept = accept.to_str().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "the Accept header is not valid text",
        )
    })?;
    let acceptable = accept.split(',').any(|range| {
        let (essence, params) = parse_media(range);
        let refused = params
            .iter()
            .any(|(k, v)| k == "q" && v.parse::<f32>().is_ok_and(|q| q == 0.0));
        !refused && (is_taxii(&essence, &params) || essence == "*/*" || essence == "application/*")
    });
    if acceptable {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("this server responds with {TAXII_MEDIA_TYPE}, which the Accept header `{accept}` does not allow"),
        ))
    }
}

/// A body sent to a TAXII endpoint must be TAXII 2.1 JSON; anything else gets 415.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let unsupported = |what: String| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{what}; send the envelope as Content-Type: {TAXII_MEDIA_TYPE}"),
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported("the request has no Content-Type".to_owned()));
    };
    let text = value
        .to_str()
        .map_err(|_| unsupported("the Content-Type header is not valid text".to_owned()))?;
    let (essence, params) = parse_media(text);
    if is_taxii(&essence, &params) {
        Ok(())
    } else {
        Err(unsupported(format!(
            "Content-Type `{text}` is not supported"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn accept_rules() {
        assert!(check_accept(&HeaderMap::new()).is_ok());
        for ok in [
            TAXII_MEDIA_TYPE,
            "application/taxii+json",
            "application/taxii+json; version=2.1",
            "*/*",
            "text/html, */*;q=0.1",
        ] {
            assert!(check_accept(&with(header::ACCEPT, ok)).is_ok(), "{ok}");
        }
        for bad in [
            "application/json",
            "application/taxii+json;version=2.0",
            "text/html",
            "*/*;q=0",
        ] {
            assert_eq!(
                check_accept(&with(header::ACCEPT, bad)).unwrap_err().status,
                StatusCode::NOT_ACCEPTABLE,
                "{bad}"
            );
        }
    }

    #[test]
    fn content_type_rules() {
        assert!(check_content_type(&with(header::CONTENT_TYPE, TAXII_MEDIA_TYPE)).is_ok());
        assert!(check_content_type(&with(header::CONTENT_TYPE, "application/taxii+json")).is_ok());
        for bad in [
            "application/json",
            "application/stix+json;version=2.1",
            "application/taxii+json;version=2.0",
        ] {
            assert_eq!(
                check_content_type(&with(header::CONTENT_TYPE, bad))
                    .unwrap_err()
                    .status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            );
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
