//! The REST API under `/api`: administration, exports and the audit trail. Its OpenAPI
//! document is served at `/api/openapi.json`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use kawal_core::{AuditQuery, Principal, Role};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stix::{Timestamp, Tlp};

use crate::auth::principal;
use crate::error::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/whoami", get(whoami))
        .route("/api/orgs", get(orgs).post(add_org))
        .route("/api/groups", get(groups).post(add_group))
        .route("/api/collections", get(collections).post(add_collection))
        .route("/api/collections/{collection}/export", get(export))
        .route(
            "/api/collections/{collection}/objects/{object}",
            get(object),
        )
        .route("/api/tokens", get(tokens).post(add_token))
        .route("/api/tokens/{token}", delete(revoke_token))
        .route("/api/users", get(users).post(add_user))
        .route("/api/users/{username}", delete(delete_user))
        .route(
            "/api/users/{username}/disabled",
            put(disable_user).delete(enable_user),
        )
        .route("/api/audit", get(audit))
}

pub(crate) type RestResult = Result<Response, ApiError>;

pub(crate) async fn who(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    principal(state, headers).await.map_err(ApiError::rest)
}

pub(crate) async fn run<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&kawal_core::Exchange) -> kawal_core::exchange::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    state.blocking(f).await.map_err(ApiError::rest)
}

pub(crate) fn json_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body.map_err(|r| ApiError::new(r.status(), r.body_text()).rest())?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")).rest())
}

pub(crate) fn ok(value: Value) -> RestResult {
    Ok(Json(value).into_response())
}

pub(crate) fn created(value: Value) -> RestResult {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn openapi() -> Response {
    let mut response = Json(crate::openapi::document()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}

async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    let org = match who.org() {
        Some(id) => run(&state, move |ex| Ok(ex.store().org(id)?)).await?,
        None => None,
    };
    ok(json!({ "actor": who.actor(), "role": who.role(), "organisation": org }))
}

async fn orgs(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.orgs(&who)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrg {
    name: String,
    country: Option<String>,
}

async fn add_org(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let new: NewOrg = json_body(body)?;
    created(json!(
        run(&state, move |ex| ex.add_org(
            &who,
            &new.name,
            new.country.as_deref()
        ))
        .await?
    ))
}

async fn groups(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.groups(&who)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    members: Vec<String>,
}

async fn add_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let new: NewGroup = json_body(body)?;
    created(json!(
        run(&state, move |ex| ex.add_group(
            &who,
            &new.name,
            &new.members
        ))
        .await?
    ))
}

async fn collections(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    let (views, withheld) = run(&state, move |ex| {
        Ok((ex.visible_collections(&who)?, ex.sightings_withheld(&who)?))
    })
    .await?;
    ok(json!(views
        .iter()
        .map(|v| json!({
            "shares_sightings": !withheld.contains(&v.collection.id),
            "id": v.collection.id,
            "title": v.collection.title,
            "description": v.collection.description,
            "default_tlp": v.collection.default_tlp,
            "public": v.collection.public,
            "can_read": v.can_read,
            "can_write": v.can_write,
        }))
        .collect::<Vec<_>>()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCollectionBody {
    title: String,
    description: Option<String>,
    group: String,
    writers: Option<Vec<String>>,
    default_tlp: Option<String>,
    #[serde(default)]
    public: bool,
}

async fn add_collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let new: NewCollectionBody = json_body(body)?;
    let tlp = match &new.default_tlp {
        Some(t) => t
            .parse::<Tlp>()
            .map_err(|e| ApiError::bad_request(format!("default_tlp: {e}")).rest())?,
        None => Tlp::Amber,
    };
    let request = kawal_core::NewCollectionRequest {
        title: new.title,
        description: new.description,
        group: new.group,
        writers: new.writers,
        default_tlp: tlp,
        public: new.public,
    };
    let c = run(&state, move |ex| ex.add_collection(&who, &request)).await?;
    created(json!(c))
}

async fn export(
    State(state): State<AppState>,
    Path(collection): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let bundle = run(&state, move |ex| ex.export(&who, &collection)).await?;
    let mut response = bundle.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/stix+json;version=2.1"),
    );
    Ok(response)
}

#[derive(Serialize)]
struct ObjectView<'a> {
    collection: &'a str,
    id: &'a str,
    versions: Vec<VersionView<'a>>,
}

#[derive(Serialize)]
struct VersionView<'a> {
    version: Timestamp,
    date_added: Timestamp,
    sha256: String,
    tlp: Tlp,
    leaf: Option<u64>,
    /// Borrowed raw JSON, so the object is served byte for byte and its hash still holds.
    object: &'a serde_json::value::RawValue,
}

/// The versions of one object the caller may read, each with its log leaf.
async fn object(
    State(state): State<AppState>,
    Path((collection, object)): Path<(String, String)>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let versions = run(&state, {
        let (collection, object) = (collection.clone(), object.clone());
        move |ex| ex.object_versions(&who, &collection, &object)
    })
    .await?;
    let views = versions
        .iter()
        .map(|v| {
            let object = serde_json::from_str(&v.raw).map_err(|e| {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the stored version {} is not JSON: {e}", v.version),
                )
                .rest()
            })?;
            Ok(VersionView {
                version: v.version,
                date_added: v.date_added,
                sha256: v.sha256.iter().map(|b| format!("{b:02x}")).collect(),
                tlp: v.tlp,
                leaf: v.leaf,
                object,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let view = ObjectView {
        collection: &collection,
        id: &object,
        versions: views,
    };
    Ok(Json(view).into_response())
}

async fn tokens(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.tokens(&who)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    org: String,
    role: String,
}

/// A role named in a request body.
fn role(name: &str) -> Result<Role, ApiError> {
    name.parse()
        .map_err(|e: kawal_core::model::UnknownRole| ApiError::bad_request(e.to_string()).rest())
}

async fn add_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let new: NewToken = json_body(body)?;
    let role = role(&new.role)?;
    let (token, secret) = run(&state, move |ex| ex.add_token(&who, &new.org, role)).await?;
    created(json!({
        "id": token.id,
        "org": token.org,
        "role": token.role,
        "secret": secret,
        "credentials": format!("{}:{secret}", token.id),
    }))
}

async fn revoke_token(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    run(&state, move |ex| ex.revoke_token(&who, &token)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn users(State(state): State<AppState>, headers: HeaderMap) -> RestResult {
    let who = who(&state, &headers).await?;
    ok(json!(run(&state, move |ex| ex.users(&who)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    org: String,
    role: String,
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let new: NewUser = json_body(body)?;
    let role = role(&new.role)?;
    let user = run(&state, move |ex| {
        ex.add_user(&who, &new.org, &new.username, role, &new.password)
    })
    .await?;
    created(json!(user))
}

async fn disable_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    set_user_disabled(state, username, headers, true).await
}

async fn enable_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    set_user_disabled(state, username, headers, false).await
}

/// Disabling closes the account's sessions and refuses its sign-ins; its history stays.
async fn set_user_disabled(
    state: AppState,
    username: String,
    headers: HeaderMap,
    disabled: bool,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let user = run(&state, move |ex| {
        ex.set_user_disabled(&who, &username, disabled)
    })
    .await?;
    ok(json!(user))
}

async fn delete_user(
    State(state): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    run(&state, move |ex| ex.delete_user(&who, &username)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn audit(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let mut q = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let bad = |why: String| ApiError::bad_request(format!("{name}: {why}")).rest();
        match &*name {
            "actor" => q.actor = Some(value.into_owned()),
            "action" => q.action = Some(value.into_owned()),
            "target" => q.target = Some(value.into_owned()),
            "outcome" => q.outcome = Some(value.into_owned()),
            "until" => q.until = Some(Timestamp::parse(&value).map_err(|e| bad(e.to_string()))?),
            "org" => {
                q.org = Some(
                    value
                        .parse()
                        .map_err(|_| bad(format!("`{value}` is not an organisation id")))?,
                )
            }
            "since" => q.since = Some(Timestamp::parse(&value).map_err(|e| bad(e.to_string()))?),
            "limit" => {
                q.limit = value
                    .parse()
                    .map_err(|_| bad(format!("`{value}` is not a positive integer")))?
            }
            _ => {
                return Err(ApiError::bad_request(format!("unknown URL parameter `{name}`")).rest())
            }
        }
    }
    ok(json!(run(&state, move |ex| ex.audit(&who, q)).await?))
}
