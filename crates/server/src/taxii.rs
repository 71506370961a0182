//! TAXII 2.1 endpoints (§4 to §5). One API root, `/kawal/`, holds every collection; what a
//! client sees of it is decided by the access policy in `core`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kawal_core::{CollectionView, Page};
use serde_json::json;

use crate::auth::principal;
use crate::error::ApiError;
use crate::filters::{self, Endpoint};
use crate::negotiate::{check_accept, check_content_type, STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};
use crate::AppState;

pub const API_ROOT: &str = "kawal";
const DATE_ADDED_FIRST: HeaderName = HeaderName::from_static("x-taxii-date-added-first");
const DATE_ADDED_LAST: HeaderName = HeaderName::from_static("x-taxii-date-added-last");
/// Organisations (names or identity ids) that may read the TLP:RED objects of a POST.
pub const RECIPIENTS_HEADER: &str = "x-kawal-recipients";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/kawal/", get(api_root))
        .route("/kawal/collections/", get(collections))
        .route("/kawal/collections/{collection}/", get(collection))
        .route(
            "/kawal/collections/{collection}/objects/",
            get(objects).post(add_objects),
        )
        .route(
            "/kawal/collections/{collection}/objects/{object}/",
            get(object).delete(delete_object),
        )
        .route(
            "/kawal/collections/{collection}/objects/{object}/versions/",
            get(versions),
        )
        .route("/kawal/collections/{collection}/manifest/", get(manifest))
        .route("/kawal/status/{status}/", get(status))
}

/// What every endpoint with URL parameters starts with: content negotiation, the caller,
/// and the parameters this endpoint takes.
async fn read_request(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    endpoint: Endpoint,
) -> Result<(kawal_core::Principal, kawal_core::ListQuery), ApiError> {
    check_accept(headers)?;
    let who = principal(state, headers).await?;
    let query = filters::parse(query, endpoint)?;
    Ok((who, query))
}

fn taxii(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TAXII_MEDIA_TYPE),
    );
    response
}

fn with_date_added(mut response: Response, page: &Page) -> Response {
    for (name, at) in [
        (DATE_ADDED_FIRST, page.date_added_first()),
        (DATE_ADDED_LAST, page.date_added_last()),
    ] {
        if let Some(value) = at.and_then(|t| HeaderValue::from_str(&t.to_string()).ok()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config().public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn discovery(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    principal(&state, &headers).await?;
    let root = format!("{}/{API_ROOT}/", base_url(&state, &headers));
    let body = json!({
        "title": state.config().title,
        "description": "Kawal cyber-threat exchange: STIX 2.1 over TAXII 2.1 with TLP 2.0 enforced by the server",
        "default": root,
        "api_roots": [root],
    });
    Ok(taxii(StatusCode::OK, body.to_string()))
}

async fn api_root(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    principal(&state, &headers).await?;
    let body = json!({
        "title": format!("{} API root", state.config().title),
        "description": "Every collection of this exchange; each client sees those its organisation may read",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": state.config().max_body_bytes,
    });
    Ok(taxii(StatusCode::OK, body.to_string()))
}

fn collection_json(view: &CollectionView) -> serde_json::Value {
    let c = &view.collection;
    let mut value = json!({
        "id": c.id,
        "title": c.title,
        "can_read": view.can_read,
        "can_write": view.can_write,
        "media_types": [STIX_MEDIA_TYPE],
    });
    if let Some(description) = &c.description {
        value["description"] = json!(description);
    }
    value
}

async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let who = principal(&state, &headers).await?;
    let views = state
        .blocking(move |ex| ex.visible_collections(&who))
        .await?;
    let body = if views.is_empty() {
        json!({})
    } else {
        json!({ "collections": views.iter().map(collection_json).collect::<Vec<_>>() })
    };
    Ok(taxii(StatusCode::OK, body.to_string()))
}

async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let who = principal(&state, &headers).await?;
    let view = state.blocking(move |ex| ex.collection(&who, &id)).await?;
    Ok(taxii(StatusCode::OK, collection_json(&view).to_string()))
}

/// `{"more": …, "next": …, "<key>": [ … ]}` with the items written as given (objects are
/// served byte-for-byte as stored).
fn envelope(page: &Page, key: &str, items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() && !page.more {
        return "{}".to_owned();
    }
    let mut body = format!("{{\"more\":{}", page.more);
    if let Some(next) = &page.next {
        body.push_str(&format!(",\"next\":{}", json!(next)));
    }
    body.push_str(&format!(",\"{key}\":[{}]}}", items.join(",")));
    body
}

fn objects_response(page: Page) -> Response {
    let body = envelope(
        &page,
        "objects",
        page.items.iter().map(|v| v.raw.clone().unwrap_or_default()),
    );
    with_date_added(taxii(StatusCode::OK, body), &page)
}

async fn objects(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (who, query) = read_request(&state, &headers, query.as_deref(), Endpoint::Objects).await?;
    let page = state
        .blocking(move |ex| ex.list(&who, &collection, &query, true))
        .await?;
    Ok(objects_response(page))
}

async fn manifest(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (who, query) = read_request(&state, &headers, query.as_deref(), Endpoint::Manifest).await?;
    let page = state
        .blocking(move |ex| ex.list(&who, &collection, &query, false))
        .await?;
    let records = page.items.iter().map(|v| {
        json!({
            "id": v.id,
            "date_added": v.date_added.to_string(),
            "version": v.version.to_string(),
            "media_type": STIX_MEDIA_TYPE,
        })
        .to_string()
    });
    let body = envelope(&page, "objects", records);
    Ok(with_date_added(taxii(StatusCode::OK, body), &page))
}

async fn object(
    State(state): State<AppState>,
    Path((collection, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (who, query) = read_request(&state, &headers, query.as_deref(), Endpoint::Object).await?;
    let page = state
        .blocking(move |ex| ex.object(&who, &collection, &object, &query, true))
        .await?;
    Ok(objects_response(page))
}

async fn versions(
    State(state): State<AppState>,
    Path((collection, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (who, query) = read_request(&state, &headers, query.as_deref(), Endpoint::Versions).await?;
    let page = state
        .blocking(move |ex| ex.object(&who, &collection, &object, &query, false))
        .await?;
    let versions = page
        .items
        .iter()
        .map(|v| json!(v.version.to_string()).to_string());
    let body = envelope(&page, "versions", versions);
    Ok(with_date_added(taxii(StatusCode::OK, body), &page))
}

async fn delete_object(
    State(state): State<AppState>,
    Path((collection, object)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (who, query) = read_request(&state, &headers, query.as_deref(), Endpoint::Delete).await?;
    state
        .blocking(move |ex| {
            ex.delete_object(
                &who,
                &collection,
                &object,
                &query.versions,
                &query.spec_versions,
            )
        })
        .await?;
    Ok(taxii(StatusCode::OK, String::new()))
}

async fn add_objects(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    check_content_type(&headers)?;
    let who = principal(&state, &headers).await?;
    let limit = state.config().max_body_bytes;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body exceeds this API root's max_content_length of {limit} bytes; split the envelope"),
            )
        } else {
            ApiError::bad_request(format!("the body could not be read: {rejection}"))
        }
    })?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8 text: {e}")))?;
    let recipients: Vec<String> = match headers.get(RECIPIENTS_HEADER) {
        None => Vec::new(),
        Some(value) => value
            .to_str()
            .map_err(|_| {
                ApiError::bad_request(format!("the {RECIPIENTS_HEADER} header is not valid text"))
            })?
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let status = state
        .blocking({
            let collection = collection.clone();
            move |ex| ex.add_objects(&who, &collection, &text, &recipients)
        })
        .await?;
    let json = serde_json::to_string(&status).map_err(|e| ApiError::bad_request(e.to_string()))?;
    // A contribution to a case over TAXII is announced like one over the REST API, beside
    // the answer rather than before it.
    if !status.successes.is_empty() && state.case_events().receiver_count() > 0 {
        let state = state.clone();
        tokio::spawn(
            async move { crate::cases::announce_write(&state, collection, &status).await },
        );
    }
    Ok(taxii(StatusCode::ACCEPTED, json))
}

async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let who = principal(&state, &headers).await?;
    let status = state.blocking(move |ex| ex.status(&who, &id)).await?;
    let json = serde_json::to_string(&status).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(taxii(StatusCode::OK, json))
}
