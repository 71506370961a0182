//! `kawal verify` and `kawal log monitor`: what a partner runs against a Kawal log, using
//! the `tlog` crate's verification, the same code the log uses to prove.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use clap::Subcommand;
use sha2::{Digest, Sha256};
use tlog::checkpoint::Checkpoint;
use tlog::cosignature::{self, CosignatureVerifier};
use tlog::note::{Note, NoteError, NoteVerifier, Verifier};

#[derive(Subcommand)]
pub enum VerifyCommand {
    /// Check that an object's exact bytes are in the log: its leaf, an inclusion proof, and a
    /// signed checkpoint.
    Object {
        /// The object as received (its exact bytes).
        file: PathBuf,
        /// A checkpoint note held from before; the log's current one when omitted.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The log's base URL, e.g. http://127.0.0.1:8080
        #[arg(long)]
        log: String,
        /// The leaf index (from the status of the POST that stored it); searched when omitted.
        #[arg(long)]
        leaf: Option<u64>,
        /// The log's verifier key (`name+id+key`); fetched from the log when omitted.
        #[arg(long)]
        key: Option<String>,
    },
    /// Check that the log's current checkpoint is consistent with an older one: no fork, no
    /// rewritten history.
    Log {
        url: String,
        #[arg(long)]
        since: PathBuf,
        #[arg(long)]
        key: Option<String>,
        /// A witness's cosignature verifier key (`name+id+key`, type 0x04); the current
        /// checkpoint must carry a valid cosignature from each one given. Repeatable.
        #[arg(long = "witness-key", value_name = "VKEY")]
        witness_keys: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum LogCommand {
    /// Follow a log: verify each new checkpoint's signature, its consistency with the last one
    /// seen, and that its leaves hash to its root.
    Monitor {
        url: String,
        #[arg(long)]
        key: Option<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = 5)]
        every: u64,
        /// Stop after this many checkpoints (0: run until a failure).
        #[arg(long, default_value_t = 0)]
        checkpoints: u64,
        /// A witness's cosignature verifier key (`name+id+key`, type 0x04), whose cosignature
        /// on each checkpoint is reported. Repeatable.
        #[arg(long = "witness-key", value_name = "VKEY")]
        witness_keys: Vec<String>,
    },
}

fn get(url: &str) -> Result<Vec<u8>> {
    let response = match ureq::get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let body: serde_json::Value = r.into_json().unwrap_or_default();
            bail!(
                "GET {url}: {code}: {}",
                body["description"].as_str().unwrap_or("no description")
            );
        }
        Err(e) => bail!("GET {url}: {e}"),
    };
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body)
        .with_context(|| format!("GET {url}"))?;
    Ok(body)
}

fn verifier(base: &str, key: Option<&str>) -> Result<Verifier> {
    let text = match key {
        Some(k) => k.to_owned(),
        None => String::from_utf8(get(&format!("{base}/.well-known/kawal/log-key"))?)?,
    };
    Verifier::from_verifier_key(text.trim())
        .map_err(|e| anyhow!("`{}` is not a verifier key: {e}", text.trim()))
}

fn witness_verifiers(keys: &[String]) -> Result<Vec<CosignatureVerifier>> {
    keys.iter()
        .map(|k| {
            CosignatureVerifier::from_verifier_key(k.trim())
                .map_err(|e| anyhow!("`{}` is not a witness cosignature key: {e}", k.trim()))
        })
        .collect()
}

/// The witnesses among `witnesses` whose cosignature the checkpoint note carries, with its
/// timestamp. A cosignature that names a given witness but does not verify is an error: the
/// note was forged or damaged.
fn cosignatures<'a>(
    note: &str,
    witnesses: &'a [CosignatureVerifier],
) -> Result<Vec<(&'a CosignatureVerifier, Option<u64>)>> {
    if witnesses.is_empty() {
        return Ok(Vec::new());
    }
    let parsed = Note::parse(note.as_bytes()).map_err(|e| anyhow!("the checkpoint: {e}"))?;
    let keys: Vec<&dyn NoteVerifier> = witnesses.iter().map(|w| w as _).collect();
    let verified = match parsed.verify(&keys) {
        Ok(opened) => opened.verified,
        Err(NoteError::Unverified) => Vec::new(),
        Err(e) => bail!("a witness cosignature on the checkpoint does not verify: {e}"),
    };
    Ok(witnesses
        .iter()
        .map(|w| {
            let at = verified
                .iter()
                .find(|s| s.name == NoteVerifier::name(w) && s.key_id == NoteVerifier::key_id(w))
                .and_then(|s| cosignature::timestamp(s).ok());
            (w, at)
        })
        .collect())
}

fn describe_cosignature(witness: &CosignatureVerifier, at: Option<u64>) -> String {
    let name = NoteVerifier::name(witness);
    match at {
        Some(seconds) => {
            let when = i64::try_from(seconds)
                .ok()
                .and_then(|s| s.checked_mul(1_000_000))
                .map(stix::Timestamp::from_micros);
            match when {
                Some(t) => format!("cosigned by {name} at {t}"),
                None => format!("cosigned by {name} (timestamp {seconds})"),
            }
        }
        None => format!("NOT cosigned by {name}"),
    }
}

fn open_checkpoint(note: &str, verifier: &Verifier) -> Result<Checkpoint> {
    Checkpoint::open(note.as_bytes(), &[verifier])
        .map(|(checkpoint, _)| checkpoint)
        .map_err(|e| {
            anyhow!(
                "the checkpoint does not verify with key {}: {e}",
                verifier.verifier_key()
            )
        })
}

fn current_checkpoint(base: &str, verifier: &Verifier) -> Result<(String, Checkpoint)> {
    let note = String::from_utf8(get(&format!("{base}/log/checkpoint"))?)?;
    let checkpoint = open_checkpoint(&note, verifier)?;
    Ok((note, checkpoint))
}

fn proof(base: &str, path: &str) -> Result<Vec<tlog::Hash>> {
    let body: serde_json::Value = serde_json::from_slice(&get(&format!("{base}{path}"))?)?;
    body["proof"]
        .as_array()
        .ok_or_else(|| anyhow!("{path}: no proof in the answer"))?
        .iter()
        .map(|h| {
            let bytes =
                base64::engine::general_purpose::STANDARD.decode(h.as_str().unwrap_or_default())?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| anyhow!("{path}: a proof hash is not 32 bytes"))
        })
        .collect()
}

/// Leaves `[0, size)` through the log's entry bundles.
fn leaves(base: &str, size: u64) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(size as usize);
    let mut start = 0;
    while start < size {
        let width = (size - start).min(256) as u16;
        let bundle =
            tlog::tile::EntryBundleId::new(start / 256, if width == 256 { 256 } else { width })
                .map_err(|e| anyhow!("entry bundle at {start}: {e}"))?;
        let bytes = get(&format!("{base}/log/{}", bundle.path()))?;
        let entries = tlog::tile::decode_entry_bundle(&bytes)
            .map_err(|e| anyhow!("entry bundle {bundle}: {e}"))?;
        if entries.len() != usize::from(width) {
            bail!("entry bundle {bundle} holds {} leaves, expected {width}: leaves from {} on are missing", entries.len(), start + entries.len() as u64);
        }
        out.extend(entries.into_iter().map(|e| e.to_vec()));
        start += u64::from(width);
    }
    Ok(out)
}

fn field<'a>(leaf: &'a str, key: &str) -> Option<&'a str> {
    leaf.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
}

pub fn run(command: VerifyCommand) -> Result<()> {
    match command {
        VerifyCommand::Object {
            file,
            checkpoint,
            log,
            leaf,
            key,
        } => {
            let base = log.trim_end_matches('/');
            let verifier = verifier(base, key.as_deref())?;
            let checkpoint = match checkpoint {
                Some(path) => open_checkpoint(
                    &std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    &verifier,
                )?,
                None => current_checkpoint(base, &verifier)?.1,
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let digest: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let object: serde_json::Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let id = object["id"].as_str().unwrap_or("(no id)").to_owned();
            let size = checkpoint.size();
            let (index, leaf_bytes) = match leaf {
                Some(i) => {
                    let all = leaves(base, (i + 1).min(size).max(1))?;
                    (
                        i,
                        all.get(i as usize).cloned().ok_or_else(|| {
                            anyhow!("leaf {i} is beyond the checkpoint's {size} leaves")
                        })?,
                    )
                }
                None => {
                    let all = leaves(base, size)?;
                    let found = all.iter().enumerate().find(|(_, l)| {
                        let text = String::from_utf8_lossy(l);
                        field(&text, "kind") == Some("object")
                            && field(&text, "sha256") == Some(digest.as_str())
                    });
                    let (i, l) = found.ok_or_else(|| anyhow!("{id}: no leaf of the log up to size {size} holds these bytes (sha256 {digest}); the object was altered or never logged"))?;
                    (i as u64, l.clone())
                }
            };
            let text = String::from_utf8_lossy(&leaf_bytes);
            if field(&text, "sha256") != Some(digest.as_str())
                || field(&text, "id") != Some(id.as_str())
            {
                bail!(
                    "{id}: leaf {index} records {} with sha256 {}, but these bytes hash to {digest}: the object was altered",
                    field(&text, "id").unwrap_or("?"),
                    field(&text, "sha256").unwrap_or("?")
                );
            }
            let path = format!("/api/log/proof/inclusion?index={index}&size={size}");
            tlog::proof::verify_inclusion(
                &tlog::leaf_hash(&leaf_bytes),
                index,
                size,
                &proof(base, &path)?,
                checkpoint.root(),
            )
            .map_err(|e| {
                anyhow!("{id}: leaf {index} is not in the signed tree of size {size}: {e}")
            })?;
            println!(
                "verified: {id} is leaf {index} of {} at size {size}",
                checkpoint.origin()
            );
            Ok(())
        }
        VerifyCommand::Log {
            url,
            since,
            key,
            witness_keys,
        } => {
            let base = url.trim_end_matches('/');
            let verifier = verifier(base, key.as_deref())?;
            let witnesses = witness_verifiers(&witness_keys)?;
            let old = open_checkpoint(
                &std::fs::read_to_string(&since)
                    .with_context(|| format!("cannot read {}", since.display()))?,
                &verifier,
            )?;
            let (note, new) = current_checkpoint(base, &verifier)?;
            check_consistency(base, &old, &new)?;
            println!(
                "consistent: {} grew from {} to {} leaves without rewriting history",
                new.origin(),
                old.size(),
                new.size()
            );
            let cosigned = cosignatures(&note, &witnesses)?;
            for (witness, at) in &cosigned {
                println!("{}", describe_cosignature(witness, *at));
            }
            let missing: Vec<&str> = cosigned
                .iter()
                .filter(|(_, at)| at.is_none())
                .map(|(w, _)| NoteVerifier::name(*w))
                .collect();
            if !missing.is_empty() {
                bail!(
                    "the checkpoint of size {} is not cosigned by {}",
                    new.size(),
                    missing.join(", ")
                );
            }
            Ok(())
        }
    }
}

fn check_consistency(base: &str, old: &Checkpoint, new: &Checkpoint) -> Result<()> {
    if new.size() < old.size() {
        bail!(
            "FORK: the log now has {} leaves, fewer than the {} of an earlier checkpoint",
            new.size(),
            old.size()
        );
    }
    if old.size() == 0 || old.size() == new.size() {
        if old.size() == new.size() && old.root() != new.root() {
            bail!(
                "FORK: two checkpoints of size {} with different roots",
                old.size()
            );
        }
        return Ok(());
    }
    let path = format!(
        "/api/log/proof/consistency?old={}&new={}",
        old.size(),
        new.size()
    );
    tlog::proof::verify_consistency(
        old.size(),
        new.size(),
        old.root(),
        new.root(),
        &proof(base, &path)?,
    )
    .map_err(|e| {
        anyhow!(
            "FORK: the checkpoint of size {} is not an extension of the one of size {}: {e}",
            new.size(),
            old.size()
        )
    })
}

pub fn monitor(command: LogCommand) -> Result<()> {
    let LogCommand::Monitor {
        url,
        key,
        every,
        checkpoints,
        witness_keys,
    } = command;
    let base = url.trim_end_matches('/');
    let verifier = verifier(base, key.as_deref())?;
    let witnesses = witness_verifiers(&witness_keys)?;
    let mut last: Option<Checkpoint> = None;
    // Cosignatures arrive after the checkpoint is published; each is reported once.
    let mut reported: Vec<String> = Vec::new();
    let mut seen = 0;
    loop {
        let (note, checkpoint) = current_checkpoint(base, &verifier)?;
        let same = last
            .as_ref()
            .is_some_and(|l| l.size() == checkpoint.size() && l.root() == checkpoint.root());
        if same {
            for (witness, at) in cosignatures(&note, &witnesses)? {
                let name = NoteVerifier::name(witness).to_owned();
                if at.is_some() && !reported.contains(&name) {
                    println!("  {}", describe_cosignature(witness, at));
                    reported.push(name);
                }
            }
        }
        if !same {
            if let Some(old) = &last {
                check_consistency(base, old, &checkpoint)?;
            }
            let all = leaves(base, checkpoint.size())?;
            let mut frontier = tlog::Frontier::new();
            for leaf in &all {
                frontier
                    .append(tlog::leaf_hash(leaf))
                    .map_err(|e| anyhow!("{e}"))?;
            }
            if frontier.root() != *checkpoint.root() {
                // Find the first leaf whose inclusion proof fails, to name what changed.
                for (i, leaf) in all.iter().enumerate() {
                    let path = format!(
                        "/api/log/proof/inclusion?index={i}&size={}",
                        checkpoint.size()
                    );
                    let ok = proof(base, &path).is_ok_and(|p| {
                        tlog::proof::verify_inclusion(
                            &tlog::leaf_hash(leaf),
                            i as u64,
                            checkpoint.size(),
                            &p,
                            checkpoint.root(),
                        )
                        .is_ok()
                    });
                    if !ok {
                        let text = String::from_utf8_lossy(leaf);
                        bail!("leaf {i} ({}) served by the log is not the one its signed checkpoint commits to", field(&text, "id").or_else(|| field(&text, "action")).unwrap_or("?"));
                    }
                }
                bail!(
                    "the log's leaves do not hash to the root of its signed checkpoint of size {}",
                    checkpoint.size()
                );
            }
            println!("ok: {} at size {}", checkpoint.origin(), checkpoint.size());
            reported.clear();
            for (witness, at) in cosignatures(&note, &witnesses)? {
                println!("  {}", describe_cosignature(witness, at));
                if at.is_some() {
                    reported.push(NoteVerifier::name(witness).to_owned());
                }
            }
            seen += 1;
            last = Some(checkpoint);
            if checkpoints > 0 && seen >= checkpoints {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_secs(every.max(1)));
    }
}
