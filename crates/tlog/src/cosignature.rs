//! C2SP tlog-cosignature, Ed25519 `cosignature/v1`: a witness's timestamped statement that a
//! checkpoint is the largest consistent one it has seen for the log.
//!
//! A cosignature is an ordinary note signature line on the checkpoint, with key type `0x04`
//! (so the key ID is `SHA-256(name || 0x0A || 0x04 || public key)[:4]`) and signature bytes
//! `timestamp (u64, big-endian) || Ed25519 signature`. The signed message is not the note text
//! itself but
//!
//! ```text
//! cosignature/v1
//! time <timestamp, decimal>
//! <the checkpoint body, extension lines included>
//! ```
//!
//! The time comes from the caller: this crate reads no clock.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::checkpoint::Checkpoint;
use crate::note::{
    parse_signer_key, parse_verifier_key, typed_key_id, KeyError, NoteError, NoteVerifier,
    Signature,
};

/// Key type byte of Ed25519 cosignatures.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Largest timestamp a cosignature may carry (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

const TIMESTAMP_SIZE: usize = 8;
const ED25519_SIGNATURE_SIZE: usize = 64;

/// A cosignature that cannot be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// Timestamps stop at 2^63 - 1.
    #[error("timestamp {0} is above 2^63 - 1")]
    Timestamp(u64),
    /// The signature line is not from this cosigner.
    #[error("signature is by {name}+{key_id:08x}, not by this cosigner")]
    WrongKey {
        /// Name on the line.
        name: String,
        /// Key ID on the line.
        key_id: u32,
    },
    /// The signature bytes are not `timestamp || 64-byte signature`.
    #[error("cosignature is {0} bytes, expected 72")]
    Length(usize),
    /// The Ed25519 signature does not verify.
    #[error("cosignature does not verify")]
    Invalid,
}

/// The message a `cosignature/v1` signs for a checkpoint body at `timestamp`.
pub fn signed_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

/// Splits cosignature bytes into timestamp and Ed25519 signature.
fn split(sig: &[u8]) -> Result<(u64, &[u8; ED25519_SIGNATURE_SIZE]), CosignatureError> {
    let (ts, rest) = sig
        .split_first_chunk::<TIMESTAMP_SIZE>()
        .ok_or(CosignatureError::Length(sig.len()))?;
    let rest: &[u8; ED25519_SIGNATURE_SIZE] = rest
        .try_into()
        .map_err(|_| CosignatureError::Length(sig.len()))?;
    Ok((u64::from_be_bytes(*ts), rest))
}

/// The timestamp a cosignature line carries, without verifying it.
pub fn timestamp(sig: &Signature) -> Result<u64, CosignatureError> {
    let (ts, _) = split(&sig.signature)?;
    Ok(ts)
}

/// A witness's Ed25519 cosigning key, built from a caller-supplied seed.
pub struct Cosigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Cosigner {
    // Leaves the key out: debug output ends up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cosigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl Cosigner {
    /// A cosigner named `name` with the Ed25519 key derived from `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        if !crate::note::is_valid_key_name(name) {
            return Err(KeyError::Name(name.to_owned()));
        }
        let key = SigningKey::from_bytes(seed);
        let key_id = typed_key_id(name, ALG_COSIGNATURE_V1, key.verifying_key().as_bytes());
        Ok(Cosigner {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses a signer key text `PRIVATE+KEY+name+keyid+base64(type || seed)`. Type `0x04` is
    /// the cosignature key; type `0x01` (a plain note key reused as witness key) is accepted too,
    /// its key ID checked as a note key's, and the cosigner then uses the `0x04` key ID.
    pub fn from_signer_key(skey: &str) -> Result<Self, KeyError> {
        let (name, given, alg, seed) =
            parse_signer_key(skey, &[ALG_COSIGNATURE_V1, crate::note::ALG_ED25519])?;
        let c = Cosigner::from_seed(&name, &seed)?;
        let computed = typed_key_id(&name, alg, c.key.verifying_key().as_bytes());
        if given != computed {
            return Err(KeyError::KeyIdMismatch { given, computed });
        }
        Ok(c)
    }

    /// The signer key text (type `0x04`). It holds the private key: store it as a secret.
    pub fn signer_key(&self) -> String {
        let mut m = vec![ALG_COSIGNATURE_V1];
        m.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            base64_encode(&m)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Cosigns a checkpoint as of `timestamp` (POSIX seconds), returning the signature line to
    /// add to the checkpoint's note.
    pub fn cosign(
        &self,
        checkpoint: &Checkpoint,
        timestamp: u64,
    ) -> Result<Signature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp(timestamp));
        }
        let msg = signed_message(timestamp, &checkpoint.to_text());
        let mut signature = Vec::with_capacity(TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE);
        signature.extend_from_slice(&timestamp.to_be_bytes());
        signature.extend_from_slice(&self.key.sign(&msg).to_bytes());
        Ok(Signature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }

    /// Cosigns a signed checkpoint note: adds this witness's line and returns the new note.
    /// The caller has already verified the log's signature and the consistency of the checkpoint
    /// with what it saw before; that is what the cosignature vouches for.
    pub fn cosign_note(&self, signed_note: &[u8], timestamp: u64) -> Result<String, NoteError> {
        let mut note = crate::note::Note::parse(signed_note)?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| NoteError::Signer {
            name: self.name.clone(),
            reason: e.to_string(),
        })?;
        let sig = self.cosign(&cp, timestamp).map_err(|e| NoteError::Signer {
            name: self.name.clone(),
            reason: e.to_string(),
        })?;
        note.add_signature(sig)?;
        Ok(note.to_string())
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Verifies a witness's Ed25519 cosignatures. Also a [`NoteVerifier`], so that
/// [`crate::note::open`] checks cosignatures alongside the log's own signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for witness `name` and its raw Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        if !crate::note::is_valid_key_name(name) {
            return Err(KeyError::Name(name.to_owned()));
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::PublicKey)?;
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: typed_key_id(name, ALG_COSIGNATURE_V1, public_key),
            key,
        })
    }

    /// Parses a verifier key text `name+keyid+base64(0x04 || public key)`.
    pub fn from_verifier_key(vkey: &str) -> Result<Self, KeyError> {
        let (name, key_id, public) = parse_verifier_key(vkey, ALG_COSIGNATURE_V1)?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| KeyError::PublicKey)?;
        Ok(CosignatureVerifier { name, key_id, key })
    }

    /// The verifier key text (type `0x04`), to publish.
    pub fn verifier_key(&self) -> String {
        let mut m = vec![ALG_COSIGNATURE_V1];
        m.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, base64_encode(&m))
    }

    /// Checks one cosignature line on `checkpoint` and returns its timestamp.
    pub fn verify_cosignature(
        &self,
        checkpoint: &Checkpoint,
        sig: &Signature,
    ) -> Result<u64, CosignatureError> {
        if sig.name != self.name || sig.key_id != self.key_id {
            return Err(CosignatureError::WrongKey {
                name: sig.name.clone(),
                key_id: sig.key_id,
            });
        }
        self.check(checkpoint.to_text().as_bytes(), &sig.signature)
    }

    fn check(&self, text: &[u8], sig: &[u8]) -> Result<u64, CosignatureError> {
        let (ts, ed_sig) = split(sig)?;
        if ts > MAX_TIMESTAMP {
            return Err(CosignatureError::Timestamp(ts));
        }
        // The body must be a checkpoint: that is the only thing a cosignature speaks about.
        let text = std::str::from_utf8(text).map_err(|_| CosignatureError::Invalid)?;
        Checkpoint::parse(text).map_err(|_| CosignatureError::Invalid)?;
        let msg = signed_message(ts, text);
        let sig = ed25519_dalek::Signature::from_bytes(ed_sig);
        self.key
            .verify_strict(&msg, &sig)
            .map_err(|_| CosignatureError::Invalid)?;
        Ok(ts)
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        self.check(text, signature).is_ok()
    }
}
