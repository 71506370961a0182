//! C2SP tlog-witness `add-checkpoint`, both sides: the request a log sends, the checks a witness
//! makes before it cosigns, and reading the witness's answer.
//!
//! ```text
//! old <size the witness last cosigned, decimal>
//! <consistency proof hash, base64>        (zero to 63 lines)
//!
//! <the signed checkpoint note>
//! ```
//!
//! The witness refuses, in this order: a body that does not follow the format (400), a
//! checkpoint whose origin it does not witness (404), a checkpoint no trusted key signed or whose
//! trusted signature fails (403), an old size above the checkpoint's size (400), an old size that
//! is not the size of the latest checkpoint it cosigned for the origin (409, answering that
//! size), and a checkpoint that is not consistent with that one (422). Otherwise it cosigns.
//! The HTTP status of each [`Refusal`] is the server's business; this module only names them.
//!
//! The witness's state — the latest checkpoint it cosigned per origin — and the clock belong to
//! the caller, which must check and update that state atomically: [`Witness::check`] takes the
//! state read in the same transaction that will replace it.

use crate::checkpoint::{parse_size, Checkpoint};
use crate::cosignature::{CosignatureError, CosignatureVerifier, Cosigner};
use crate::hash::{hash_from_base64, hash_to_base64, Hash, EMPTY_ROOT};
use crate::note::{Note, NoteError, NoteVerifier, Signature, Verifier};
use crate::proof::verify_consistency;

/// The most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// Media type of the witness's answer to a request whose old size is not its own.
pub const SIZE_MEDIA_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request body that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not UTF-8.
    #[error("the request body is not UTF-8")]
    Utf8,
    /// The first line is not `old <size>`.
    #[error(
        "the first line must be `old <size>` with a decimal size without leading zeros, got {0:?}"
    )]
    OldLine(String),
    /// A proof line is not one base64 hash.
    #[error("consistency proof line {line} is not a base64 SHA-256 hash: {text:?}")]
    ProofLine {
        /// Line number in the body, from 1.
        line: usize,
        /// The line.
        text: String,
    },
    /// More than [`MAX_PROOF_LINES`] proof lines.
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No empty line before the checkpoint.
    #[error("no empty line between the consistency proof and the checkpoint")]
    NoCheckpoint,
    /// The checkpoint note is malformed.
    #[error("the checkpoint is not a signed note: {0}")]
    Note(NoteError),
    /// The note's text is not a checkpoint.
    #[error("the note is not a checkpoint: {0}")]
    Checkpoint(String),
}

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness is believed to hold for the log (0 if none).
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// Parses a request body strictly. The checkpoint note is kept as text; [`Witness::open`]
    /// parses and verifies it.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let body = std::str::from_utf8(body).map_err(|_| RequestError::Utf8)?;
        let (first, mut rest) = body
            .split_once('\n')
            .ok_or_else(|| RequestError::OldLine(body.chars().take(40).collect()))?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or_else(|| RequestError::OldLine(first.chars().take(40).collect()))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::NoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let hash = hash_from_base64(line).map_err(|_| RequestError::ProofLine {
                line: proof.len() + 2,
                text: line.chars().take(60).collect(),
            })?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&hash_to_base64(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }
}

/// Why a witness does not cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The request does not follow the format (HTTP 400).
    #[error("malformed add-checkpoint request: {0}")]
    Malformed(#[from] RequestError),
    /// The witness does not witness this origin (HTTP 404).
    #[error("this witness does not witness the log `{0}`")]
    UnknownOrigin(String),
    /// No trusted key signed the checkpoint, or a trusted key's signature fails (HTTP 403).
    #[error("the checkpoint of `{origin}` is not signed by a key this witness trusts: {reason}")]
    Unverified {
        /// The checkpoint's origin.
        origin: String,
        /// What the note verification found.
        reason: NoteError,
    },
    /// The old size is above the checkpoint's size (HTTP 400).
    #[error("old size {old} is above the checkpoint's size {size}")]
    OldSizeAfterNew {
        /// Old size of the request.
        old: u64,
        /// Size of the checkpoint.
        size: u64,
    },
    /// The old size is not the size of the latest cosigned checkpoint (HTTP 409, answering
    /// `witnessed` with media type [`SIZE_MEDIA_TYPE`]).
    #[error("old size {old} is not {witnessed}, the size of the latest checkpoint this witness cosigned for `{origin}`")]
    SizeMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// Old size of the request.
        old: u64,
        /// The size the witness holds.
        witnessed: u64,
    },
    /// The checkpoint is not consistent with the latest cosigned one (HTTP 422).
    #[error("the checkpoint of `{origin}` at size {size} is not consistent with the one of size {witnessed} this witness cosigned: {reason}")]
    Inconsistent {
        /// The checkpoint's origin.
        origin: String,
        /// The checkpoint's size.
        size: u64,
        /// The size the witness holds.
        witnessed: u64,
        /// What failed.
        reason: String,
    },
}

/// A log a witness witnesses: its origin and the keys its checkpoints may be signed with.
#[derive(Debug, Clone)]
pub struct TrustedLog {
    origin: String,
    keys: Vec<Verifier>,
}

impl TrustedLog {
    /// A log known by `origin`, whose checkpoints are signed by one of `keys`.
    pub fn new(origin: &str, keys: Vec<Verifier>) -> Self {
        TrustedLog {
            origin: origin.to_owned(),
            keys,
        }
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's keys.
    pub fn keys(&self) -> &[Verifier] {
        &self.keys
    }
}

/// The latest checkpoint a witness cosigned for a log: what the next one must be consistent
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witnessed {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// A request whose checkpoint is signed by a trusted key of a witnessed log; it still has to
/// be consistent with the witness's state.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The request's old size.
    pub old_size: u64,
    /// The request's consistency proof.
    pub proof: Vec<Hash>,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The log's verified signatures on it.
    pub log_signatures: Vec<Signature>,
}

/// What a witness returns and keeps when it cosigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The response body: the cosignature line.
    pub response: String,
    /// The checkpoint with the log's verified signatures and the cosignature, as the witness
    /// keeps and serves it.
    pub note: String,
}

/// A witness: its cosigning key and the logs it witnesses.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: Vec<TrustedLog>,
}

impl Witness {
    /// A witness cosigning with `cosigner` for `logs`. Several entries for one origin add up
    /// their keys.
    pub fn new(cosigner: Cosigner, logs: Vec<TrustedLog>) -> Self {
        let mut merged: Vec<TrustedLog> = Vec::new();
        for log in logs {
            match merged.iter_mut().find(|m| m.origin == log.origin) {
                Some(known) => {
                    for key in log.keys {
                        if !known.keys.contains(&key) {
                            known.keys.push(key);
                        }
                    }
                }
                None => merged.push(log),
            }
        }
        Witness {
            cosigner,
            logs: merged,
        }
    }

    /// The witness's key.
    pub fn cosigner(&self) -> &Cosigner {
        &self.cosigner
    }

    /// The logs it witnesses.
    pub fn logs(&self) -> &[TrustedLog] {
        &self.logs
    }

    /// Parses a request and checks what does not depend on the witness's state: the origin is
    /// witnessed, a trusted key signed the checkpoint, and the old size is not above its size.
    pub fn open(&self, body: &[u8]) -> Result<Submission, Refusal> {
        let request = AddCheckpoint::parse(body)?;
        let note = Note::parse(request.checkpoint.as_bytes()).map_err(RequestError::Note)?;
        let checkpoint =
            Checkpoint::parse(note.text()).map_err(|e| RequestError::Checkpoint(e.to_string()))?;
        let log = self
            .logs
            .iter()
            .find(|l| l.origin == checkpoint.origin())
            .ok_or_else(|| Refusal::UnknownOrigin(checkpoint.origin().to_owned()))?;
        let keys: Vec<&dyn NoteVerifier> = log.keys.iter().map(|k| k as _).collect();
        let opened = note.verify(&keys).map_err(|reason| Refusal::Unverified {
            origin: log.origin.clone(),
            reason,
        })?;
        if request.old_size > checkpoint.size() {
            return Err(Refusal::OldSizeAfterNew {
                old: request.old_size,
                size: checkpoint.size(),
            });
        }
        Ok(Submission {
            old_size: request.old_size,
            proof: request.proof,
            checkpoint,
            log_signatures: opened.verified,
        })
    }

    /// Checks a submission against the latest checkpoint the witness cosigned for its origin
    /// (`None` if it never cosigned one).
    pub fn check(
        &self,
        submission: &Submission,
        latest: Option<&Witnessed>,
    ) -> Result<(), Refusal> {
        let checkpoint = &submission.checkpoint;
        let witnessed = latest.map_or(0, |w| w.size);
        if submission.old_size != witnessed {
            return Err(Refusal::SizeMismatch {
                origin: checkpoint.origin().to_owned(),
                old: submission.old_size,
                witnessed,
            });
        }
        let inconsistent = |reason: String| Refusal::Inconsistent {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            witnessed,
            reason,
        };
        if checkpoint.size() == 0 && *checkpoint.root() != EMPTY_ROOT {
            return Err(inconsistent(
                "a checkpoint of size 0 must have the root of the empty tree".to_owned(),
            ));
        }
        match latest {
            // The empty tree is a prefix of every tree: nothing to prove.
            None if submission.proof.is_empty() => Ok(()),
            Some(w) if w.size == 0 && submission.proof.is_empty() => Ok(()),
            None | Some(Witnessed { size: 0, .. }) => Err(inconsistent(format!(
                "the consistency proof from size 0 must be empty, it has {} hashes",
                submission.proof.len()
            ))),
            Some(w) => verify_consistency(
                w.size,
                checkpoint.size(),
                &w.root,
                checkpoint.root(),
                &submission.proof,
            )
            .map_err(|e| inconsistent(e.to_string())),
        }
    }

    /// Cosigns a checked submission as of `timestamp` (POSIX seconds, not zero).
    pub fn cosign(
        &self,
        submission: &Submission,
        timestamp: u64,
    ) -> Result<Cosigned, CosignatureError> {
        let signature = self.cosigner.cosign(&submission.checkpoint, timestamp)?;
        let response = signature.line();
        let mut note = String::with_capacity(512);
        note.push_str(&submission.checkpoint.to_text());
        note.push('\n');
        for s in &submission.log_signatures {
            note.push_str(&s.line());
        }
        note.push_str(&response);
        Ok(Cosigned { response, note })
    }
}

/// Parses the body of a 409 answer (`<size>\n`).
pub fn parse_size_body(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body)
        .ok()?
        .strip_suffix('\n')
        .and_then(parse_size)
}

/// A witness's 200 answer that does not hold a valid cosignature from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The answer is not signature lines, or the note is malformed.
    #[error("the answer is not note signature lines: {0}")]
    Format(NoteError),
    /// The witness's own cosignature is missing or does not verify.
    #[error("no valid cosignature from {witness}: {reason}")]
    Cosignature {
        /// The witness's key name.
        witness: String,
        /// What the note verification found.
        reason: NoteError,
    },
}

/// Reads a witness's 200 answer to the submission of `signed_checkpoint`: the cosignature
/// lines by `witness`, each verified; lines by other keys are ignored, as the specification
/// requires.
pub fn read_cosignatures(
    signed_checkpoint: &str,
    response: &[u8],
    witness: &CosignatureVerifier,
) -> Result<Vec<Signature>, ResponseError> {
    let response =
        std::str::from_utf8(response).map_err(|_| ResponseError::Format(NoteError::Utf8))?;
    // The answer's lines extend the note's signature block; parsing them together reuses the
    // note's strict line syntax.
    let combined = format!("{signed_checkpoint}{response}");
    let note = Note::parse(combined.as_bytes()).map_err(ResponseError::Format)?;
    let opened = note
        .verify(&[witness])
        .map_err(|reason| ResponseError::Cosignature {
            witness: NoteVerifier::name(witness).to_owned(),
            reason,
        })?;
    Ok(opened.verified)
}

/// Adds signature lines to a signed note (a line by the same key replaces the earlier one).
pub fn add_signatures(signed_note: &str, signatures: &[Signature]) -> Result<String, NoteError> {
    let mut note = Note::parse(signed_note.as_bytes())?;
    for s in signatures {
        note.add_signature(s.clone())?;
    }
    Ok(note.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::Signer;

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn spec_example_request_round_trips() {
        let body = format!(
            "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\nexample.com/behind-the-sofa\n20852163\n{ROOT}\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        );
        let request = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(request.old_size, 20852014);
        assert_eq!(request.proof.len(), 2);
        assert!(request
            .checkpoint
            .starts_with("example.com/behind-the-sofa\n"));
        assert_eq!(request.to_body(), body);
    }

    #[test]
    fn request_syntax_is_strict() {
        let note = format!("o\n1\n{ROOT}\n\n\u{2014} o AAAAAAA=\n");
        for (body, want) in [
            (
                format!("old 01\n\n{note}"),
                RequestError::OldLine("old 01".into()),
            ),
            (
                format!("old -1\n\n{note}"),
                RequestError::OldLine("old -1".into()),
            ),
            (
                format!("Old 1\n\n{note}"),
                RequestError::OldLine("Old 1".into()),
            ),
            (
                format!("old  1\n\n{note}"),
                RequestError::OldLine("old  1".into()),
            ),
            ("old 1".to_owned(), RequestError::OldLine("old 1".into())),
            (format!("old 1\n{ROOT}\n"), RequestError::NoCheckpoint),
            (
                format!("old 1\nAAAA\n\n{note}"),
                RequestError::ProofLine {
                    line: 2,
                    text: "AAAA".into(),
                },
            ),
            (
                format!("old 1\n{}\n{note}", format!("{ROOT}\n").repeat(64)),
                RequestError::TooManyProofLines,
            ),
        ] {
            assert_eq!(AddCheckpoint::parse(body.as_bytes()), Err(want), "{body:?}");
        }
        assert_eq!(
            AddCheckpoint::parse(b"old 1\n\xff\n\n"),
            Err(RequestError::Utf8)
        );
        let max = format!("old 0\n{}\n{note}", format!("{ROOT}\n").repeat(63));
        assert_eq!(
            AddCheckpoint::parse(max.as_bytes()).map(|r| r.proof.len()),
            Ok(63)
        );
    }

    #[test]
    fn size_bodies() {
        assert_eq!(parse_size_body(b"42\n"), Some(42));
        assert_eq!(parse_size_body(b"0\n"), Some(0));
        for bad in [&b"42"[..], b"042\n", b"\n", b"4 2\n", b"-1\n"] {
            assert_eq!(parse_size_body(bad), None, "{bad:?}");
        }
    }

    fn witness() -> (Signer, Witness) {
        let log = Signer::from_seed("log.example", &[1; 32]).unwrap();
        let cosigner = Cosigner::from_seed("witness.example", &[2; 32]).unwrap();
        let w = Witness::new(
            cosigner,
            vec![TrustedLog::new("log.example", vec![log.verifier()])],
        );
        (log, w)
    }

    #[test]
    fn cosigned_note_keeps_the_log_signature_and_adds_the_cosignature() {
        let (log, w) = witness();
        let cp = Checkpoint::new("log.example", 0, EMPTY_ROOT).unwrap();
        let signed = cp.sign(&[&log]).unwrap();
        let other = Signer::from_seed("someone.else", &[3; 32]).unwrap();
        let with_unknown = add_signatures(
            &signed,
            &[Note::parse(cp.sign(&[&other]).unwrap().as_bytes())
                .unwrap()
                .signatures()[0]
                .clone()],
        )
        .unwrap();
        let request = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: with_unknown,
        };
        let submission = w.open(request.to_body().as_bytes()).unwrap();
        w.check(&submission, None).unwrap();
        let cosigned = w.cosign(&submission, 1_700_000_000).unwrap();
        let witness_key = w.cosigner().verifier();
        let lines = read_cosignatures(&signed, cosigned.response.as_bytes(), &witness_key).unwrap();
        assert_eq!(lines.len(), 1);
        // The kept note drops the unknown signature and verifies with both keys.
        let kept = Note::parse(cosigned.note.as_bytes()).unwrap();
        assert_eq!(kept.signatures().len(), 2);
        let opened = kept.verify(&[&log.verifier(), &witness_key]).unwrap();
        assert_eq!(opened.verified.len(), 2);
        assert_eq!(add_signatures(&signed, &lines).unwrap(), cosigned.note);
    }
}
