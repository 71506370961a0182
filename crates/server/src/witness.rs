//! Witnessing over HTTP (C2SP tlog-witness), both ways.
//!
//! As a witness of other logs: `POST /add-checkpoint` (submission prefix: the server's root),
//! `GET /witness/<hex SHA-256 of the origin>/checkpoint` (monitoring prefix `/witness`), and
//! the witness's cosignature key at `/.well-known/kawal/witness-key`.
//!
//! As a log: after each checkpoint is signed, [`submit_checkpoints`] sends it to the configured
//! witnesses, with a consistency proof from the size each one last acknowledged, and adds the
//! cosignatures they return to the stored checkpoint, so that `/log/checkpoint` serves them.
//! It runs beside the checkpoint timer and never holds up ingest or signing; a witness that
//! cannot be reached is retried later.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kawal_core::Exchange;
use sha2::{Digest, Sha256};
use tlog::note::{Note, NoteVerifier, Signature};
use tlog::witness::{self, AddCheckpoint};

use crate::error::{ApiError, WitnessRefusal};
use crate::{AppState, LogWitness};

pub const WITNESS_KEY_PATH: &str = "/.well-known/kawal/witness-key";

/// Requests are a checkpoint and at most 63 hashes: a few kilobytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// A witness's answer is a few signature lines.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How long a witness that failed waits before it is tried again, when no new checkpoint comes
/// sooner.
const RETRY: Duration = Duration::from_secs(10);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/add-checkpoint",
            post(add_checkpoint).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route("/witness/{origin_hash}/checkpoint", get(witnessed))
        .route(WITNESS_KEY_PATH, get(key))
}

fn text(status: StatusCode, body: String, cache: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

async fn add_checkpoint(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return text(r.status(), format!("{}\n", r.body_text()), "no-store"),
    };
    let Some(witness) = state.config().witness.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this server witnesses no log\n".to_owned(),
            "no-store",
        );
    };
    let answer = tokio::task::spawn_blocking({
        let state = state.clone();
        move || state.exchange().add_checkpoint(&witness, &body)
    })
    .await;
    match answer {
        Ok(Ok(cosignature)) => text(StatusCode::OK, cosignature, "no-store"),
        Ok(Err(refused)) => WitnessRefusal(refused).into_response(),
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request was aborted: {e}\n"),
            "no-store",
        ),
    }
}

/// The monitoring API: the latest checkpoint cosigned for a log, with the log's signature and
/// this witness's cosignature.
async fn witnessed(
    State(state): State<AppState>,
    Path(origin_hash): Path<String>,
) -> Result<Response, ApiError> {
    let origin = state.config().witness.as_ref().and_then(|w| {
        w.logs()
            .iter()
            .map(|l| l.origin().to_owned())
            .find(|o| origin_hex(o) == origin_hash)
    });
    let Some(origin) = origin else {
        return Err(ApiError::not_found(format!(
            "this server witnesses no log whose origin hashes to `{origin_hash}`"
        ))
        .rest());
    };
    let note = state
        .blocking({
            let origin = origin.clone();
            move |ex| ex.witnessed_checkpoint(&origin)
        })
        .await
        .map_err(ApiError::rest)?;
    match note {
        Some(note) => Ok(text(StatusCode::OK, note, "no-cache")),
        None => Err(ApiError::not_found(format!(
            "this witness has not cosigned a checkpoint of `{origin}` yet"
        ))
        .rest()),
    }
}

/// Lowercase hex SHA-256 of an origin line: how the monitoring API names a log.
pub fn origin_hex(origin: &str) -> String {
    Sha256::digest(origin.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn key(State(state): State<AppState>) -> Result<Response, ApiError> {
    match &state.config().witness {
        Some(w) => Ok(text(
            StatusCode::OK,
            format!("{}\n", w.cosigner().verifier().verifier_key()),
            "max-age=3600",
        )),
        None => Err(ApiError::not_found("this server is not a witness").rest()),
    }
}

/// What the log knows of one witness between submissions.
struct Peer {
    witness: LogWitness,
    /// The size the witness said it holds, once known; 0 is sent until then, and the witness
    /// answers 409 with its size.
    acknowledged: Option<u64>,
    /// The checkpoint size whose cosignature by this witness is stored.
    cosigned: Option<u64>,
    failing: bool,
}

/// Sends each new checkpoint to the witnesses and stores their cosignatures with it. `signed`
/// is notified when the checkpoint timer signs a checkpoint.
pub async fn submit_checkpoints(
    state: AppState,
    witnesses: Vec<LogWitness>,
    signed: Arc<tokio::sync::Notify>,
) {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build();
    let mut peers: Vec<Peer> = witnesses
        .into_iter()
        .map(|witness| Peer {
            witness,
            acknowledged: None,
            cosigned: None,
            failing: false,
        })
        .collect();
    // The newest checkpoint may predate this process.
    let mut first = true;
    loop {
        if !first {
            if peers.iter().any(|p| p.failing) {
                tokio::select! {
                    _ = signed.notified() => {}
                    _ = tokio::time::sleep(RETRY) => {}
                }
            } else {
                signed.notified().await;
            }
        }
        first = false;
        let latest = state.blocking(|ex| ex.latest_checkpoint()).await;
        let (size, note) = match latest {
            Ok(Some(latest)) => latest,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e.description, "cannot read the checkpoint to submit to witnesses");
                continue;
            }
        };
        let Ok(parsed) = Note::parse(note.as_bytes()) else {
            tracing::error!(size, "the stored checkpoint is not a signed note");
            continue;
        };
        let mut rounds = Vec::new();
        for (i, peer) in peers.iter_mut().enumerate() {
            if peer.cosigned == Some(size) {
                continue;
            }
            if parsed.verify(&[&peer.witness.verifier]).is_ok() {
                peer.cosigned = Some(size);
                continue;
            }
            let (state, agent, note) = (state.clone(), agent.clone(), note.clone());
            let (witness, acknowledged) = (peer.witness.clone(), peer.acknowledged);
            rounds.push((
                i,
                tokio::task::spawn_blocking(move || {
                    submit(
                        &agent,
                        state.exchange(),
                        &witness,
                        acknowledged,
                        &note,
                        size,
                    )
                }),
            ));
        }
        if rounds.is_empty() {
            continue;
        }
        let mut cosignatures: Vec<Signature> = Vec::new();
        for (i, round) in rounds {
            let peer = &mut peers[i];
            let name = peer.witness.verifier.name().to_owned();
            let outcome = match round.await {
                Ok(outcome) => outcome,
                Err(e) => Submitted {
                    acknowledged: peer.acknowledged,
                    result: Err(format!("the submission was aborted: {e}")),
                },
            };
            peer.acknowledged = outcome.acknowledged;
            match outcome.result {
                Ok(lines) => {
                    if peer.failing {
                        tracing::info!(witness = %name, size, "witness reachable again");
                    }
                    peer.failing = false;
                    peer.cosigned = Some(size);
                    cosignatures.extend(lines);
                }
                Err(error) => {
                    if !peer.failing {
                        tracing::warn!(witness = %name, size, %error, "witness did not cosign; retrying later");
                    } else {
                        tracing::debug!(witness = %name, size, %error, "witness still not cosigning");
                    }
                    peer.failing = true;
                }
            }
        }
        if cosignatures.is_empty() {
            continue;
        }
        let merged = match witness::add_signatures(&note, &cosignatures) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(size, error = %e, "cannot add cosignatures to the checkpoint");
                continue;
            }
        };
        // Only this task rewrites a stored checkpoint; the timer only adds larger ones.
        if let Err(e) = state
            .blocking(move |ex| Ok(ex.store().save_checkpoint(size, &merged)?))
            .await
        {
            tracing::warn!(size, error = %e.description, "cannot store the cosigned checkpoint");
        }
    }
}

struct Submitted {
    /// The size the witness now holds, if known.
    acknowledged: Option<u64>,
    /// Its verified cosignatures, or why there are none.
    result: Result<Vec<Signature>, String>,
}

/// One `add-checkpoint` exchange with a witness: with the proof from the size it last
/// acknowledged, again from the size it reports if that was not its size.
fn submit(
    agent: &ureq::Agent,
    exchange: &Exchange,
    witness: &LogWitness,
    acknowledged: Option<u64>,
    note: &str,
    size: u64,
) -> Submitted {
    let url = format!("{}/add-checkpoint", witness.url.trim_end_matches('/'));
    let mut old = acknowledged.unwrap_or(0);
    let mut known = acknowledged;
    // The first answer may correct the old size once; a second correction means the witness's
    // state moved under us, which the next round handles.
    for _ in 0..2 {
        let done = |known, result| Submitted {
            acknowledged: known,
            result,
        };
        if old > size {
            return done(
                known,
                Err(format!(
                    "the witness holds size {old}, beyond this log's checkpoint of size {size}: this log lost leaves it had published"
                )),
            );
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            match exchange.consistency_proof(old, size) {
                Ok(p) => p,
                Err(e) => {
                    return done(
                        known,
                        Err(format!("no consistency proof from {old} to {size}: {e}")),
                    )
                }
            }
        };
        let body = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: note.to_owned(),
        }
        .to_body();
        match agent.post(&url).send_string(&body) {
            Ok(response) => {
                let answer = read_body(response);
                return match witness::read_cosignatures(note, &answer, &witness.verifier) {
                    Ok(lines) => done(Some(size), Ok(lines)),
                    Err(e) => done(known, Err(format!("{url}: {e}"))),
                };
            }
            Err(ureq::Error::Status(409, response))
                if response.content_type() == witness::SIZE_MEDIA_TYPE =>
            {
                let answer = read_body(response);
                match witness::parse_size_body(&answer) {
                    Some(theirs) if theirs != old => {
                        tracing::debug!(%url, old, theirs, "the witness holds another size; resubmitting from it");
                        old = theirs;
                        known = Some(theirs);
                    }
                    _ => {
                        return done(
                            known,
                            Err(format!(
                                "{url}: 409 with size `{}`",
                                String::from_utf8_lossy(&answer).trim()
                            )),
                        )
                    }
                }
            }
            Err(ureq::Error::Status(code, response)) => {
                let answer = read_body(response);
                return done(
                    known,
                    Err(format!(
                        "{url}: {code}: {}",
                        String::from_utf8_lossy(&answer).trim()
                    )),
                );
            }
            // Transport errors name the URL themselves.
            Err(e) => return done(known, Err(e.to_string())),
        }
    }
    Submitted {
        acknowledged: known,
        result: Err(format!(
            "{url}: the witness's size kept changing during the submission"
        )),
    }
}

fn read_body(response: ureq::Response) -> Vec<u8> {
    let mut body = Vec::new();
    // A failed read leaves a short body, which the caller reports as a bad answer.
    let _ = std::io::Read::read_to_end(
        &mut std::io::Read::take(response.into_reader(), MAX_ANSWER_BYTES),
        &mut body,
    );
    body
}
