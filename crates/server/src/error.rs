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

/// The answer to a refused `add-checkpoint` (C2SP tlog-witness): the specification's status,
/// and plain text, since witness clients are not JSON clients. A 409 carries the witness's size
/// as `text/x.tlog.size`, the one body the specification defines.
pub struct WitnessRefusal(pub kawal_core::WitnessError);

impl IntoResponse for WitnessRefusal {
    fn into_response(self) -> Response {
        use kawal_core::WitnessError as W;
        use tlog::witness::Refusal as R;
        let (status, media_type, body) = match &self.0 {
            W::Refused(R::SizeMismatch { witnessed, .. }) => (
                StatusCode::CONFLICT,
                tlog::witness::SIZE_MEDIA_TYPE,
                format!("{witnessed}\n"),
            ),
            W::Refused(refusal) => {
                let status = match refusal {
                    R::Malformed(_) | R::OldSizeAfterNew { .. } => StatusCode::BAD_REQUEST,
                    R::UnknownOrigin(_) => StatusCode::NOT_FOUND,
                    R::Unverified { .. } => StatusCode::FORBIDDEN,
                    R::SizeMismatch { .. } => StatusCode::CONFLICT,
                    R::Inconsistent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                };
                if status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::FORBIDDEN {
                    tracing::warn!(%refusal, "refused to cosign");
                }
                (status, "text/plain; charset=utf-8", format!("{refusal}\n"))
            }
            W::Store(e) => {
                tracing::error!(error = %e, "the witness cannot read or keep its state");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    format!("{e}\n"),
                )
            }
        };
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
        response
    }
}
