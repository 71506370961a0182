//! Who is calling: HTTP Basic (token id and secret) or Bearer (`TOKEN_ID:SECRET`).

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine;
use kawal_core::Principal;

use crate::error::ApiError;
use crate::AppState;

fn credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let unauthorized = |why: &str| ApiError::new(StatusCode::UNAUTHORIZED, why.to_owned());
    let text = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not valid text"))?;
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text, ""));
    let pair = match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| unauthorized("Basic credentials are not valid base64"))?;
            String::from_utf8(decoded)
                .map_err(|_| unauthorized("Basic credentials are not valid UTF-8"))?
        }
        "bearer" => rest.trim().to_owned(),
        _ => {
            return Err(unauthorized(
                "use HTTP Basic (token id, secret) or Bearer TOKEN_ID:SECRET",
            ))
        }
    };
    let (id, secret) = pair
        .split_once(':')
        .ok_or_else(|| unauthorized("credentials must be TOKEN_ID:SECRET"))?;
    Ok(Some((id.to_owned(), secret.to_owned())))
}

pub async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    match credentials(headers)? {
        None => Ok(Principal::Anonymous),
        Some((id, secret)) => {
            state
                .blocking(move |ex| ex.authenticate(&id, &secret))
                .await
        }
    }
}
