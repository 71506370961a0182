//! Evidence files. `POST /api/cases/{id}/evidence` keeps the body, content-addressed, at
//! `<data>/evidence/<first 2 hex>/<sha256>` and describes it in the case (artifact, file, link:
//! `Exchange::add_case_evidence`); `GET /api/evidence/{sha256}` serves the bytes to whoever may
//! read an artifact an upload of them stored (`Exchange::evidence`).
//!
//! An upload is streamed to a temporary file in `<data>/evidence/` while it is hashed, synced,
//! then renamed into place and its directory synced, all before the artifact is stored and the
//! upload answered: an acknowledged upload survives a crash, and a file under its final name is
//! always whole. Bytes already kept are not written again. What a crash leaves of a temporary
//! file is removed when the server starts.

use std::io;
use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use kawal_core::cases::evidence::{self as case_evidence, Upload};
use kawal_core::cases::CaseEventKind;
use serde_json::json;
use sha2::{Digest, Sha256};
use stix::Tlp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::ApiError;
use crate::rest::{run, who, RestResult};
use crate::AppState;

/// The header naming an upload's file when the URL does not (`filename`).
pub const FILE_NAME_HEADER: &str = "x-kawal-filename";
/// Temporary files of uploads in progress start with this.
const TEMPORARY: &str = ".upload-";
/// The largest evidence file unless configured otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 32 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/cases/{id}/evidence", post(upload))
        .route("/api/evidence/{sha256}", get(fetch))
}

/// Where evidence files are kept, and how large one may be.
#[derive(Clone, Debug)]
pub struct EvidenceSettings {
    dir: PathBuf,
    pub max_bytes: u64,
}

impl EvidenceSettings {
    /// Makes the directory if need be and removes what interrupted uploads left; the server is
    /// the directory's one writer.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<EvidenceSettings> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TEMPORARY) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(EvidenceSettings {
            dir: dir.to_owned(),
            max_bytes,
        })
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    fn too_large(&self) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "evidence files are at most {} bytes on this server (evidence_max_bytes)",
                self.max_bytes
            ),
        )
        .rest()
    }

    /// Keeps the body; returns its SHA-256 (hex), its size, and whether it was new here.
    async fn keep(&self, body: Body) -> Result<(String, u64, bool), ApiError> {
        let temporary = self
            .dir
            .join(format!("{TEMPORARY}{}", uuid::Uuid::new_v4()));
        let written = self.write_temporary(&temporary, body).await;
        let placed = match written {
            Ok((sha256, size)) => self
                .place(&temporary, &sha256, size)
                .await
                .map(|new| (sha256, size, new))
                .map_err(unavailable),
            Err(e) => Err(e),
        };
        if placed.is_err() {
            // Nothing was acknowledged; what is left of the upload is of no use.
            let _ = tokio::fs::remove_file(&temporary).await;
        }
        placed
    }

    async fn write_temporary(&self, path: &Path, body: Body) -> Result<(String, u64), ApiError> {
        let mut file = tokio::fs::File::create(path).await.map_err(unavailable)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request(format!("the body could not be read: {e}")).rest()
            })?;
            size = size.saturating_add(chunk.len() as u64);
            if size > self.max_bytes {
                return Err(self.too_large());
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(unavailable)?;
        }
        if size == 0 {
            return Err(ApiError::bad_request(
                "the body is empty: upload the evidence file's bytes",
            )
            .rest());
        }
        file.flush().await.map_err(unavailable)?;
        file.sync_all().await.map_err(unavailable)?;
        let sha256: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((sha256, size))
    }

    /// Renames the synced temporary file to its content address and syncs the directories
    /// whose entries changed; leaves bytes already kept as they are (a file of another size
    /// under that name is damaged and replaced).
    async fn place(&self, temporary: &Path, sha256: &str, size: u64) -> io::Result<bool> {
        let (dir, temporary, target) =
            (self.dir.clone(), temporary.to_owned(), self.path_of(sha256));
        let placed = tokio::task::spawn_blocking(move || {
            if std::fs::metadata(&target).is_ok_and(|m| m.len() == size) {
                std::fs::remove_file(&temporary)?;
                return Ok(false);
            }
            let shard = target.parent().unwrap_or(&dir);
            if !shard.is_dir() {
                std::fs::create_dir_all(shard)?;
                std::fs::File::open(&dir)?.sync_all()?;
            }
            std::fs::rename(&temporary, &target)?;
            std::fs::File::open(shard)?.sync_all()?;
            Ok(true)
        })
        .await;
        placed.unwrap_or_else(|e| Err(io::Error::other(e)))
    }
}

fn unavailable(e: io::Error) -> ApiError {
    tracing::error!(error = %e, "an evidence file could not be kept");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the evidence could not be kept: {e}"),
    )
    .rest()
}

fn bad(what: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("{what}: {why}")).rest()
}

fn no_evidence_kept() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "this server keeps no evidence files (it has no data directory for them)",
    )
    .rest()
}

/// What the URL and headers of an upload say about it.
struct Described {
    file_name: String,
    mime_type: String,
    tlp: Option<Tlp>,
    recipients: Vec<String>,
}

fn describe(query: Option<&str>, headers: &HeaderMap) -> Result<Described, ApiError> {
    let (mut file_name, mut tlp) = (None, None);
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*name {
            "filename" => file_name = Some(value.into_owned()),
            "tlp" => tlp = Some(value.parse::<Tlp>().map_err(|e| bad("tlp", e))?),
            _ => {
                return Err(bad(
                    &name,
                    "unknown URL parameter; an upload takes `filename` and `tlp`",
                ))
            }
        }
    }
    let file_name =
        match (file_name, headers.get(FILE_NAME_HEADER)) {
            (Some(name), _) => name,
            (None, Some(value)) => value
                .to_str()
                .map_err(|_| {
                    bad(
                    FILE_NAME_HEADER,
                    "not ASCII text; give a name in other scripts as the `filename` URL parameter",
                )
                })?
                .to_owned(),
            (None, None) => return Err(bad(
                "filename",
                "name the file with the `filename` URL parameter or the X-Kawal-Filename header",
            )),
        };
    case_evidence::check_file_name(&file_name).map_err(|e| bad("filename", e))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .ok_or_else(|| {
            bad(
                "Content-Type",
                "say what the evidence is (e.g. application/vnd.tcpdump.pcap); application/octet-stream when unknown",
            )
        })?
        .to_str()
        .map_err(|_| bad("Content-Type", "not valid text"))?;
    let mime_type = case_evidence::media_type(content_type).map_err(|e| bad("Content-Type", e))?;
    let recipients = match headers.get(crate::RECIPIENTS_HEADER) {
        None => Vec::new(),
        Some(value) => value
            .to_str()
            .map_err(|_| bad(crate::RECIPIENTS_HEADER, "not valid text"))?
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    Ok(Described {
        file_name,
        mime_type,
        tlp,
        recipients,
    })
}

/// An evidence file for the case: the raw body, its media type in `Content-Type`, its name in
/// `filename` (or `X-Kawal-Filename`), an optional `tlp` (the case's by default; RED read by
/// `X-Kawal-Recipients`).
async fn upload(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let settings = state
        .config()
        .evidence
        .clone()
        .ok_or_else(no_evidence_kept)?;
    let described = describe(query.as_deref(), &headers)?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > settings.max_bytes) {
        return Err(settings.too_large());
    }
    // Nothing is written for a caller that may not add to the case.
    run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.check_evidence_target(&who, &id)
    })
    .await?;
    let (sha256, size, new) = settings.keep(body).await?;
    let upload = Upload {
        url: format!(
            "{}/api/evidence/{sha256}",
            crate::taxii::base_url(&state, &headers)
        ),
        sha256,
        size,
        mime_type: described.mime_type,
        file_name: described.file_name,
    };
    let added = run(&state, {
        let (who, id) = (who.clone(), id.clone());
        move |ex| ex.add_case_evidence(&who, &id, &upload, described.tlp, &described.recipients)
    })
    .await?;
    let stored: Vec<String> = [Some(added.file.clone()), added.link.clone()]
        .into_iter()
        .flatten()
        .collect();
    for object in &stored {
        crate::cases::announce(&state, &who, &id, object, CaseEventKind::Contribution).await;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sha256": added.sha256,
            "size": size,
            "new": new,
            "artifact": added.artifact,
            "file": added.file,
            "link": added.link,
            "url": added.url,
        })),
    )
        .into_response())
}

/// `attachment`, with the name in ASCII for old clients and in UTF-8 (RFC 6266, RFC 8187).
fn disposition(name: Option<&str>, sha256: &str) -> HeaderValue {
    let name = name.unwrap_or(sha256);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The bytes, for a reader of an artifact an upload of them stored.
async fn fetch(
    State(state): State<AppState>,
    UrlPath(sha256): UrlPath<String>,
    headers: HeaderMap,
) -> RestResult {
    let who = who(&state, &headers).await?;
    let evidence = run(&state, move |ex| ex.evidence(&who, &sha256)).await?;
    let settings = state
        .config()
        .evidence
        .clone()
        .ok_or_else(no_evidence_kept)?;
    let path = settings.path_of(&evidence.sha256);
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "the bytes of readable evidence are missing");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the bytes of evidence `{}` cannot be read on this server: {e}",
                    evidence.sha256
                ),
            )
            .rest());
        }
    };
    let length = file.metadata().await.map_err(unavailable)?.len();
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok(Bytes::from(buffer)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    let content_type = HeaderValue::from_str(&evidence.mime_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, content_type);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // Browsers must neither guess another type nor render evidence: it may be hostile.
    out.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_DISPOSITION,
        disposition(evidence.name.as_deref(), &evidence.sha256),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_keep_names_safe_in_both_forms() {
        assert_eq!(
            disposition(Some("relay \"log\"é.eml"), "ab"),
            "attachment; filename=\"relay _log__.eml\"; filename*=UTF-8''relay%20%22log%22%C3%A9.eml"
        );
        assert_eq!(
            disposition(None, "ab"),
            "attachment; filename=\"ab\"; filename*=UTF-8''ab"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn bytes_are_kept_once_under_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".upload-left-by-a-crash"), b"torn").unwrap();
        let settings = EvidenceSettings::open(dir.path(), 16).unwrap();
        assert!(!dir.path().join(".upload-left-by-a-crash").exists());
        let expected: String = Sha256::digest(b"evidence")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (sha256, size, new) = settings.keep(Body::from("evidence")).await.unwrap();
        assert_eq!((sha256.as_str(), size, new), (expected.as_str(), 8, true));
        let kept = dir.path().join(&expected[..2]).join(&expected);
        assert_eq!(std::fs::read(&kept).unwrap(), b"evidence");
        let again = settings.keep(Body::from("evidence")).await.unwrap();
        assert_eq!(again, (expected.clone(), 8, false));
        let too_large = settings.keep(Body::from("x".repeat(17))).await.unwrap_err();
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
        let empty = settings.keep(Body::empty()).await.unwrap_err();
        assert_eq!(empty.status, StatusCode::BAD_REQUEST);
        // One shard with one file, and no temporary file left behind.
        let entries: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, [std::ffi::OsString::from(&expected[..2])]);
        assert_eq!(
            std::fs::read_dir(kept.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
