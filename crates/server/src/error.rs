//! Every failure becomes an HTTP status and a TAXII 2.1 error object here, in one table.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::negotiate::TAXII_MEDIA_TYPE;

/// A TAXII 2.1 error object (§3.6.1), also used by the REST API.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub title: String,
    pub description: String,
    pub http_status: String,
    #[serde(skip)]
    pub media_type: &'static str,
}

impl ApiError {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        let title = match status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::UNAUTHORIZED => "Authentication required",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
            StatusCode::NOT_ACCEPTABLE => "Not acceptable",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "Request entity too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
            StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
            _ => "Internal error",
        };
        ApiError {
            status,
            title: title.to_owned(),
            description: description.into(),
            http_status: status.as_u16().to_string(),
            media_type: TAXII_MEDIA_TYPE,
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, description)
    }

    /// The REST API speaks plain JSON.
    pub fn rest(mut self) -> Self {
        self.media_type = "application/json";
        self
    }
}

impl From<kawal_core::Error> for ApiError {
    fn from(e: kawal_core::Error) -> Self {
        use kawal_core::Error as E;
        let status = match &e {
            E::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::BadRequest(_) => StatusCode::BAD_REQUEST,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %e, "storage failure");
        }
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.media_type),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"kawal\", Bearer realm=\"kawal\""),
            );
        }
        response
    }
}
