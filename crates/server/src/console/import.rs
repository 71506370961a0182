//! Importing a STIX bundle into a collection. The bundle is split into its objects (each kept
//! byte for byte) and stored in chunks of [`CHUNK`] objects, each through
//! `Exchange::add_objects` as a TAXII write, so that what is reported as done is stored, and
//! the progress shown is real.
//!
//! With the script, the file is uploaded to `POST /import/jobs` (its bytes as the body, the
//! form token in [`TOKEN_HEADER`]) and the page follows `GET /import/{job}` as JSON until
//! every object has its TAXII status. Without it, the form posts `multipart/form-data` to
//! `POST /import`, which answers with the results once the import is done.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use kawal_core::{Collection, Principal, StatusDetail};
use serde::{Deserialize, Serialize};

use super::session::Viewer;
use super::{object_href, render, Chrome, PageError};
use crate::AppState;

/// Objects stored per transaction of an import.
const CHUNK: usize = 100;

/// Header carrying the form token of an upload sent by the script.
pub const TOKEN_HEADER: &str = "x-kawal-form-token";

/// Imports one person may have running at once.
const RUNNING_PER_PERSON: usize = 2;

/// How long a finished import's results can be looked at again.
const KEPT_FOR: Duration = Duration::from_secs(3600);

/// What an import has done so far, as the page shows it and the script reads it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Progress {
    pub id: String,
    /// `running`, `done` or `failed`.
    pub status: &'static str,
    pub collection: String,
    pub collection_title: String,
    pub total: usize,
    pub processed: usize,
    pub success_count: usize,
    pub failure_count: usize,
    pub successes: Vec<StatusDetail>,
    pub failures: Vec<StatusDetail>,
    /// Why the import stopped, when it failed.
    pub error: Option<String>,
}

struct Job {
    /// The account that started it; nobody else sees it.
    owner: i64,
    progress: Progress,
    finished: Option<Instant>,
}

/// The imports of this server, by id.
#[derive(Default)]
pub(crate) struct Imports {
    jobs: Mutex<HashMap<String, Job>>,
}

impl Imports {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an import, or refuses when the person already has enough running.
    fn start(&self, owner: i64, progress: Progress) -> Result<(), String> {
        let mut jobs = self.lock();
        jobs.retain(|_, job| job.finished.is_none_or(|at| at.elapsed() < KEPT_FOR));
        let running = jobs
            .values()
            .filter(|job| job.owner == owner && job.finished.is_none())
            .count();
        if running >= RUNNING_PER_PERSON {
            return Err(format!(
                "you already have {running} imports running; wait for one to finish"
            ));
        }
        jobs.insert(
            progress.id.clone(),
            Job {
                owner,
                progress,
                finished: None,
            },
        );
        Ok(())
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Progress)) {
        if let Some(job) = self.lock().get_mut(id) {
            change(&mut job.progress);
            if job.progress.status != "running" {
                job.finished = Some(Instant::now());
            }
        }
    }

    fn get(&self, owner: i64, id: &str) -> Option<Progress> {
        self.lock()
            .get(id)
            .filter(|job| job.owner == owner)
            .map(|job| job.progress.clone())
    }
}

/// Stores the objects chunk by chunk as `who`, recording each chunk's statuses as it is done.
async fn run(state: AppState, who: Principal, id: String, objects: Vec<String>) {
    let Some(collection) = state
        .imports()
        .lock()
        .get(&id)
        .map(|job| job.progress.collection.clone())
    else {
        return;
    };
    for chunk in objects.chunks(CHUNK) {
        let envelope = format!("{{\"objects\":[{}]}}", chunk.join(","));
        let (asker, into) = (who.clone(), collection.clone());
        let stored = state
            .blocking(move |ex| ex.add_objects(&asker, &into, &envelope, &[]))
            .await;
        match stored {
            Ok(status) => state.imports().update(&id, |p| {
                p.processed += chunk.len();
                p.success_count += status.success_count;
                p.failure_count += status.failure_count;
                p.successes.extend(status.successes);
                p.failures.extend(status.failures);
            }),
            Err(e) => {
                state.imports().update(&id, |p| {
                    p.status = "failed";
                    p.error = Some(e.description);
                });
                return;
            }
        }
    }
    let mut summary = String::new();
    state.imports().update(&id, |p| {
        p.status = "done";
        summary = format!(
            "{} objects: {} stored, {} refused",
            p.total, p.success_count, p.failure_count
        );
    });
    let _ = state
        .blocking(move |ex| {
            ex.record(&who, "import", &collection, &summary);
            Ok(())
        })
        .await;
}

/// Checks the upload and registers its import; returns the import's id and its objects.
async fn begin(
    state: &AppState,
    viewer: &Viewer,
    collection: &str,
    body: &[u8],
) -> Result<(String, Vec<String>), PageError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            format!("The file is not UTF-8 text, as STIX JSON must be: {e}."),
        )
    })?;
    if text.trim().is_empty() {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "Choose a file holding a STIX bundle.",
        ));
    }
    let objects: Vec<String> = stix::parse_envelope(text)
        .map_err(|e| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("The file is not a STIX bundle: {e}."),
            )
        })?
        .into_iter()
        .map(|raw| raw.get().to_owned())
        .collect();
    let target = writable(state, viewer)
        .await?
        .into_iter()
        .find(|c| c.id == collection)
        .ok_or_else(|| {
            PageError::new(
                StatusCode::FORBIDDEN,
                "Choose a collection your organisation may write to.",
            )
        })?;
    let id = uuid::Uuid::new_v4().to_string();
    let progress = Progress {
        id: id.clone(),
        status: "running",
        collection: target.id.clone(),
        collection_title: target.title.clone(),
        total: objects.len(),
        processed: 0,
        success_count: 0,
        failure_count: 0,
        successes: Vec::new(),
        failures: Vec::new(),
        error: None,
    };
    state
        .imports()
        .start(viewer.user.id, progress)
        .map_err(|e| PageError::new(StatusCode::TOO_MANY_REQUESTS, e))?;
    Ok((id, objects))
}

async fn writable(state: &AppState, viewer: &Viewer) -> Result<Vec<Collection>, PageError> {
    let who = viewer.principal.clone();
    Ok(state
        .blocking(move |ex| {
            Ok(ex
                .visible_collections(&who)?
                .into_iter()
                .filter(|v| v.can_write)
                .map(|v| v.collection)
                .collect::<Vec<_>>())
        })
        .await?)
}

pub(crate) struct ResultRow {
    pub id: String,
    pub href: String,
    pub version: String,
    pub message: String,
}

pub(crate) struct Shown {
    pub id: String,
    pub status: String,
    pub summary: String,
    pub total: usize,
    pub processed: usize,
    pub percent: usize,
    pub error: Option<String>,
    pub failures: Vec<ResultRow>,
    pub successes: Vec<ResultRow>,
}

fn rows(details: &[StatusDetail], collection: &str) -> Vec<ResultRow> {
    details
        .iter()
        .map(|d| ResultRow {
            href: object_href(&d.id, collection),
            id: d.id.clone(),
            version: d.version.clone(),
            message: d.message.clone().unwrap_or_default(),
        })
        .collect()
}

impl From<&Progress> for Shown {
    fn from(p: &Progress) -> Shown {
        Shown {
            id: p.id.clone(),
            status: p.status.to_owned(),
            summary: format!(
                "{} of {} objects into {}: {} stored, {} refused",
                p.processed, p.total, p.collection_title, p.success_count, p.failure_count
            ),
            total: p.total,
            processed: p.processed,
            percent: (p.processed * 100).checked_div(p.total).unwrap_or(100),
            error: p.error.clone(),
            failures: rows(&p.failures, &p.collection),
            successes: rows(&p.successes, &p.collection),
        }
    }
}

pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    csrf: String,
    collections: Vec<Choice>,
    error: Option<String>,
    job: Option<Shown>,
}

fn import_page(
    viewer: &Viewer,
    collections: &[Collection],
    chosen: &str,
    error: Option<String>,
    job: Option<Shown>,
) -> ImportPage {
    ImportPage {
        chrome: Chrome::for_viewer(viewer, "/import"),
        csrf: viewer.csrf.clone(),
        collections: collections
            .iter()
            .map(|c| Choice {
                value: c.id.clone(),
                label: c.title.clone(),
                selected: c.id == chosen,
            })
            .collect(),
        error,
        job,
    }
}

/// `GET /import`.
pub(crate) async fn form(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let collections = writable(&state, &viewer).await?;
    let error = collections.is_empty().then(|| {
        "Your organisation and role may not write to any collection, so nothing can be imported."
            .to_owned()
    });
    Ok(render(&import_page(&viewer, &collections, "", error, None)))
}

#[derive(Deserialize)]
pub(crate) struct Target {
    collection: Option<String>,
}

fn json_error(e: PageError) -> Response {
    (e.status, Json(serde_json::json!({ "error": e.message }))).into_response()
}

/// `POST /import/jobs?collection=…`: the script's upload; the import runs on and its
/// progress is at `GET /import/{job}`.
pub(crate) async fn start(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(into): Query<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sent = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(e) = viewer.check_token(sent) {
        return json_error(e);
    }
    let collection = into.collection.unwrap_or_default();
    match begin(&state, &viewer, &collection, &body).await {
        Ok((id, objects)) => {
            let total = objects.len();
            tokio::spawn(run(
                state.clone(),
                viewer.principal.clone(),
                id.clone(),
                objects,
            ));
            (
                StatusCode::ACCEPTED,
                Json(serde_json::json!({
                    "id": id,
                    "href": format!("/import/{id}"),
                    "total": total,
                })),
            )
                .into_response()
        }
        Err(e) => json_error(e),
    }
}

/// `GET /import/{job}`: JSON for the script (`Accept: application/json`), else the page.
pub(crate) async fn progress(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let found = state.imports().get(viewer.user.id, &id).ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "No import of yours has this id; results are kept for an hour.",
        )
    })?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(found).into_response());
    }
    let collections = writable(&state, &viewer).await?;
    Ok(render(&import_page(
        &viewer,
        &collections,
        &found.collection,
        None,
        Some(Shown::from(&found)),
    )))
}

/// `POST /import` as `multipart/form-data`, without the script: stores everything, then
/// answers with the results.
pub(crate) async fn upload(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let fields = multipart::fields(content_type, &body)
        .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e))?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_slice())
    };
    viewer.check_token(std::str::from_utf8(field("csrf").unwrap_or(b"")).unwrap_or(""))?;
    let collection = String::from_utf8_lossy(field("collection").unwrap_or(b"")).into_owned();
    let collections = writable(&state, &viewer).await?;
    let (id, objects) =
        match begin(&state, &viewer, &collection, field("bundle").unwrap_or(b"")).await {
            Ok(begun) => begun,
            Err(e) if e.status.is_client_error() => {
                let page = import_page(&viewer, &collections, &collection, Some(e.message), None);
                return Ok((e.status, render(&page)).into_response());
            }
            Err(e) => return Err(e),
        };
    run(state.clone(), viewer.principal.clone(), id.clone(), objects).await;
    let done = state
        .imports()
        .get(viewer.user.id, &id)
        .map(|p| Shown::from(&p));
    Ok(render(&import_page(
        &viewer,
        &collections,
        &collection,
        None,
        done,
    )))
}

/// Just enough of `multipart/form-data` (RFC 7578) for one form: named fields, one of them a
/// file, each part's bytes as sent.
pub(crate) mod multipart {
    pub struct Field {
        pub name: String,
        pub value: Vec<u8>,
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        if needle.is_empty() || haystack.len() < needle.len() {
            return None;
        }
        let first = needle[0];
        let mut at = 0;
        while at + needle.len() <= haystack.len() {
            let rest = &haystack[at..];
            let next = rest.iter().position(|b| *b == first)?;
            at += next;
            if haystack.get(at..at + needle.len()) == Some(needle) {
                return Some(at);
            }
            at += 1;
        }
        None
    }

    fn boundary(content_type: &str) -> Option<String> {
        let (kind, params) = content_type.split_once(';')?;
        if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
            return None;
        }
        params.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| v.trim().trim_matches('"').to_owned())
                .filter(|b| !b.is_empty() && b.len() <= 70)
        })
    }

    /// The `name` parameter of a part's `Content-Disposition: form-data` header.
    fn field_name(headers: &str) -> Option<String> {
        headers.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            if !key.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            value.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
            })
        })
    }

    pub fn fields(content_type: &str, body: &[u8]) -> Result<Vec<Field>, String> {
        let boundary = boundary(content_type).ok_or_else(|| {
            "the form was not sent as multipart/form-data with a boundary".to_owned()
        })?;
        let delimiter = format!("--{boundary}");
        let start = find(body, delimiter.as_bytes()).ok_or("the form's body holds no part")?;
        let mut rest = &body[start + delimiter.len()..];
        let next_delimiter = format!("\r\n--{boundary}");
        let mut fields = Vec::new();
        loop {
            if rest.starts_with(b"--") {
                return Ok(fields);
            }
            rest = rest
                .strip_prefix(b"\r\n")
                .ok_or("a part of the form does not start on its own line")?;
            let head_end =
                find(rest, b"\r\n\r\n").ok_or("a part of the form has no end to its headers")?;
            let headers = String::from_utf8_lossy(&rest[..head_end]);
            let name = field_name(&headers).ok_or("a part of the form has no name")?;
            let content = &rest[head_end + 4..];
            let end = find(content, next_delimiter.as_bytes())
                .ok_or("the form's body ends in the middle of a part")?;
            fields.push(Field {
                name,
                value: content[..end].to_vec(),
            });
            rest = &content[end + next_delimiter.len()..];
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parts_are_read_by_name_with_their_bytes() {
            let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"b.json\"\r\nContent-Type: application/json\r\n\r\n{\"a\":\r\n1}\r\n--XyZ--\r\n";
            let fields = fields("multipart/form-data; boundary=XyZ", body).unwrap();
            assert_eq!(fields.len(), 2);
            assert_eq!(fields[0].name, "csrf");
            assert_eq!(fields[0].value, b"abc");
            assert_eq!(fields[1].name, "bundle");
            assert_eq!(fields[1].value, b"{\"a\":\r\n1}");
        }

        #[test]
        fn malformed_forms_are_refused_not_panicked_on() {
            let ct = "multipart/form-data; boundary=\"b\"";
            assert!(fields("application/json", b"{}").is_err());
            assert!(fields(ct, b"").is_err());
            assert!(fields(ct, b"--b").is_err());
            assert!(fields(ct, b"--bx").is_err());
            assert!(fields(ct, b"--b\r\nno end of headers").is_err());
            assert!(fields(
                ct,
                b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--"
            )
            .is_err());
            assert!(fields(
                ct,
                b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated"
            )
            .is_err());
            assert_eq!(fields(ct, b"--b--").unwrap().len(), 0);
            for cut in 0..40 {
                let body = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b--";
                let _ = fields(ct, &body[..cut.min(body.len())]);
            }
        }
    }
}
