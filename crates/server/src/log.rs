//! The transparency log over HTTP: C2SP tlog-tiles paths (`/log/checkpoint`, `/log/tile/…`,
//! `/log/tile/entries/…`), the log's public key, and proofs as JSON for clients that do not
//! read tiles. Everything here is public and cacheable: leaves hold hashes, never content.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::json;

use crate::error::ApiError;
use crate::AppState;

pub const LOG_KEY_PATH: &str = "/.well-known/kawal/log-key";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/tile/{*path}", get(tile))
        .route(LOG_KEY_PATH, get(key))
        .route("/api/log/proof/inclusion", get(inclusion))
        .route("/api/log/proof/consistency", get(consistency))
}

fn text(body: String, cache: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    match state
        .blocking(|ex| ex.latest_checkpoint())
        .await
        .map_err(ApiError::rest)?
    {
        Some((_, note)) => Ok(text(note, "no-cache")),
        None => Err(ApiError::not_found("the log has no checkpoint yet").rest()),
    }
}

async fn key(State(state): State<AppState>) -> Result<Response, ApiError> {
    match &state.config().log {
        Some(log) => Ok(text(
            format!("{}\n", log.signer.verifier().verifier_key()),
            "max-age=3600",
        )),
        None => Err(ApiError::not_found("this server keeps no transparency log").rest()),
    }
}

async fn tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let bad = |e: tlog::tile::TileError| {
        ApiError::not_found(format!("`{path}` is not a tile path: {e}")).rest()
    };
    let bytes = if let Some(entries) = path.strip_prefix("entries/") {
        let bundle = tlog::tile::EntryBundleId::parse_path(&format!("tile/entries/{entries}"))
            .map_err(bad)?;
        state.blocking(move |ex| ex.log_entry_bundle(&bundle)).await
    } else {
        let tile = tlog::TileId::parse_path(&format!("tile/{path}")).map_err(bad)?;
        state.blocking(move |ex| ex.log_tile(&tile)).await
    }
    .map_err(ApiError::rest)?;
    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    // Full tiles never change; partial ones are replaced by wider ones.
    let cache = if path.contains(".p/") {
        "max-age=60"
    } else {
        "max-age=31536000, immutable"
    };
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(r)
}

fn numbers(query: Option<&str>, names: [&str; 2]) -> Result<[u64; 2], ApiError> {
    let mut out = [None, None];
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let Some(slot) = names.iter().position(|n| *n == name) else {
            return Err(ApiError::bad_request(format!(
                "unknown URL parameter `{name}`; expected {} and {}",
                names[0], names[1]
            ))
            .rest());
        };
        let n = value.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!("{name}: `{value}` is not a non-negative integer")).rest()
        })?;
        out[slot] = Some(n);
    }
    match out {
        [Some(a), Some(b)] => Ok([a, b]),
        _ => Err(ApiError::bad_request(format!("give both {} and {}", names[0], names[1])).rest()),
    }
}

fn proof_json(proof: &[tlog::Hash]) -> Vec<String> {
    proof
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h))
        .collect()
}

async fn inclusion(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let [index, size] = numbers(query.as_deref(), ["index", "size"])?;
    let proof = state
        .blocking(move |ex| ex.inclusion_proof(index, size))
        .await
        .map_err(ApiError::rest)?;
    Ok(Json(json!({ "index": index, "size": size, "proof": proof_json(&proof) })).into_response())
}

async fn consistency(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let [old, new] = numbers(query.as_deref(), ["old", "new"])?;
    let proof = state
        .blocking(move |ex| ex.consistency_proof(old, new))
        .await
        .map_err(ApiError::rest)?;
    Ok(Json(json!({ "old": old, "new": new, "proof": proof_json(&proof) })).into_response())
}
