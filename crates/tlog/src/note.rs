//! C2SP signed-note: text signed by one or more keys, with Ed25519 keys.
//!
//! ```text
//! <text, ending in a newline>
//!
//! — <key name> base64(key ID (4 bytes, big-endian) || signature)
//! — <key name> base64(...)
//! ```
//!
//! The text is separated from the signature lines by the note's *last* blank line, and includes
//! its final newline. A note is valid UTF-8 without ASCII control characters other than newline.
//! Key names are non-empty and contain neither Unicode spaces nor `+`. A key ID is the first four
//! bytes of `SHA-256(name || 0x0A || type || public key)`, type `0x01` for Ed25519.
//!
//! Keys are written as text: a verifier key `name+<key ID in hex>+base64(type || public key)`,
//! and a signer key `PRIVATE+KEY+name+<key ID in hex>+base64(type || seed)`.
//!
//! Opening a note checks every signature whose name and key ID match a known key, rejects the
//! note if any of them fails, ignores signatures from unknown keys, and requires at least one
//! verified signature. Other signature types (such as witness cosignatures, see
//! [`crate::cosignature`]) plug in through [`NoteVerifier`] and [`NoteSigner`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type byte of plain Ed25519 note signatures.
pub const ALG_ED25519: u8 = 0x01;

/// The most signatures [`open`] reads; the specification asks verifiers to accept at least 16.
pub const MAX_SIGNATURES: usize = 100;

const SIG_PREFIX: &str = "\u{2014} ";

/// A key text or key parameter that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The name is empty or holds a space or `+`.
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    Name(String),
    /// The key text does not have the expected `+`-separated fields.
    #[error("malformed key text")]
    Format,
    /// The key ID field is not eight hexadecimal digits.
    #[error("malformed key ID {0:?}")]
    KeyIdFormat(String),
    /// The key material is not base64.
    #[error("key material is not base64")]
    Base64,
    /// The key material's type byte is not the one expected.
    #[error("key type {got:#04x}, expected {expected:#04x}")]
    Type {
        /// Type byte found.
        got: u8,
        /// Type byte this key kind uses.
        expected: u8,
    },
    /// The key material has the wrong length.
    #[error("key material is {0} bytes, expected 32 after the type byte")]
    Length(usize),
    /// The public key is not a valid Ed25519 point.
    #[error("not a valid Ed25519 public key")]
    PublicKey,
    /// The key ID in the text is not the one the name and key give.
    #[error("key ID {given:08x} does not match the computed {computed:08x}")]
    KeyIdMismatch {
        /// Key ID in the key text.
        given: u32,
        /// Key ID computed from name and key.
        computed: u32,
    },
}

/// A note that cannot be signed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not UTF-8.
    #[error("note is not valid UTF-8")]
    Utf8,
    /// An ASCII control character other than newline at the given byte.
    #[error("control character at byte {0}")]
    ControlCharacter(usize),
    /// Text to be signed must be non-empty and end with a newline.
    #[error("note text must end with a newline")]
    TextNotTerminated,
    /// No blank line separating text and signatures.
    #[error("no blank line before the signatures")]
    NoSignatureBlock,
    /// The signature block is empty or its last line is not terminated.
    #[error("signature block is empty or not newline-terminated")]
    SignatureBlock,
    /// A signature line is not `— name base64`.
    #[error("malformed signature line {0}")]
    SignatureLine(usize),
    /// More signatures than [`MAX_SIGNATURES`].
    #[error("more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    /// A signer's name is not a valid key name.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Two known verifiers share a name and key ID, so a signature could be either's.
    #[error("two verifiers are known as {name}+{key_id:08x}")]
    AmbiguousVerifier {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// A known key's signature does not verify: the note is forged or damaged.
    #[error("signature by {name}+{key_id:08x} does not verify")]
    InvalidSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature from a known key.
    #[error("no signature from a known key")]
    Unverified,
    /// A signer could not sign this text.
    #[error("signer {name} refused the text: {reason}")]
    Signer {
        /// Key name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Whether `name` may be a key name.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(KeyError::Name(name.to_owned()))
    }
}

/// `SHA-256(name || 0x0A || key_material)[:4]` as a big-endian number, where `key_material` is
/// the type byte followed by the public key.
pub fn key_id(name: &str, key_material: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key_material);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key ID of an Ed25519 key with the given type byte.
pub(crate) fn typed_key_id(name: &str, alg: u8, public: &[u8; 32]) -> u32 {
    let mut m = Vec::with_capacity(33);
    m.push(alg);
    m.extend_from_slice(public);
    key_id(name, &m)
}

fn encode_key(alg: u8, key: &[u8; 32]) -> String {
    let mut m = Vec::with_capacity(33);
    m.push(alg);
    m.extend_from_slice(key);
    STANDARD.encode(m)
}

fn parse_key_id(s: &str) -> Result<u32, KeyError> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::KeyIdFormat(s.to_owned()));
    }
    u32::from_str_radix(s, 16).map_err(|_| KeyError::KeyIdFormat(s.to_owned()))
}

fn decode_key(b64: &str, alg: u8) -> Result<[u8; 32], KeyError> {
    let raw = STANDARD.decode(b64).map_err(|_| KeyError::Base64)?;
    let (&got, key) = raw.split_first().ok_or(KeyError::Length(0))?;
    if got != alg {
        return Err(KeyError::Type { got, expected: alg });
    }
    <[u8; 32]>::try_from(key).map_err(|_| KeyError::Length(key.len()))
}

/// The fields of a verifier key text `name+keyid+base64(type || key)`.
pub(crate) fn parse_verifier_key(vkey: &str, alg: u8) -> Result<(String, u32, [u8; 32]), KeyError> {
    // The base64 part may itself contain '+', so split only twice.
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Format);
    };
    check_name(name)?;
    let given = parse_key_id(id)?;
    let public = decode_key(key, alg)?;
    let computed = typed_key_id(name, alg, &public);
    if given != computed {
        return Err(KeyError::KeyIdMismatch { given, computed });
    }
    Ok((name.to_owned(), given, public))
}

/// The fields of a signer key text `PRIVATE+KEY+name+keyid+base64(type || seed)`, accepting any
/// of `algs` as type byte. The key ID is checked by the caller once the public key is derived.
pub(crate) fn parse_signer_key(
    skey: &str,
    algs: &[u8],
) -> Result<(String, u32, u8, [u8; 32]), KeyError> {
    let mut parts = skey.splitn(5, '+');
    let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id), Some(key)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(KeyError::Format);
    };
    check_name(name)?;
    let given = parse_key_id(id)?;
    let raw = STANDARD.decode(key).map_err(|_| KeyError::Base64)?;
    let (&alg, seed) = raw.split_first().ok_or(KeyError::Length(0))?;
    if !algs.contains(&alg) {
        return Err(KeyError::Type {
            got: alg,
            expected: algs.first().copied().unwrap_or(ALG_ED25519),
        });
    }
    let seed = <[u8; 32]>::try_from(seed).map_err(|_| KeyError::Length(seed.len()))?;
    Ok((name.to_owned(), given, alg, seed))
}

/// Something that can check one kind of note signature.
pub trait NoteVerifier {
    /// Key name, as it appears on signature lines.
    fn name(&self) -> &str;
    /// Key ID, as it prefixes the signature bytes.
    fn key_id(&self) -> u32;
    /// Whether `signature` (without the key ID) is valid for the note text `text`.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// Something that can produce one kind of note signature.
pub trait NoteSigner {
    /// Key name, as it appears on signature lines.
    fn name(&self) -> &str;
    /// Key ID, as it prefixes the signature bytes.
    fn key_id(&self) -> u32;
    /// The signature (without the key ID) over the note text `text`.
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError>;
}

/// An Ed25519 note signer. Built from a 32-byte seed the caller supplies (from its own random
/// source or its key store), so this crate never touches OS randomness.
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    // Leaves the key out: debug output ends up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer named `name` with the Ed25519 key derived from `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let key_id = typed_key_id(name, ALG_ED25519, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses a signer key text `PRIVATE+KEY+name+keyid+base64(0x01 || seed)`, checking that the
    /// key ID matches the key.
    pub fn from_signer_key(skey: &str) -> Result<Self, KeyError> {
        let (name, given, _, seed) = parse_signer_key(skey, &[ALG_ED25519])?;
        let s = Signer::from_seed(&name, &seed)?;
        if s.key_id != given {
            return Err(KeyError::KeyIdMismatch {
                given,
                computed: s.key_id,
            });
        }
        Ok(s)
    }

    /// The signer key text. It holds the private key: store it as a secret.
    pub fn signer_key(&self) -> String {
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_key(ALG_ED25519, self.key.as_bytes())
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
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

    /// Signs `text` (which must end with a newline) and returns the signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        sign(text, &[self])
    }
}

impl NoteSigner for Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, text: &[u8]) -> Result<Vec<u8>, NoteError> {
        Ok(self.key.sign(text).to_bytes().to_vec())
    }
}

/// An Ed25519 note verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// A verifier for `name` and a raw 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::PublicKey)?;
        Ok(Verifier {
            name: name.to_owned(),
            key_id: typed_key_id(name, ALG_ED25519, public_key),
            key,
        })
    }

    /// Parses a verifier key text `name+keyid+base64(0x01 || public key)`.
    pub fn from_verifier_key(vkey: &str) -> Result<Self, KeyError> {
        let (name, key_id, public) = parse_verifier_key(vkey, ALG_ED25519)?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| KeyError::PublicKey)?;
        Ok(Verifier { name, key_id, key })
    }

    /// The verifier key text, to publish.
    pub fn verifier_key(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_key(ALG_ED25519, self.key.as_bytes())
        )
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl NoteVerifier for Verifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        // Strict verification also refuses small-order keys and non-canonical encodings, so a
        // signature cannot be altered into another valid one.
        self.key.verify_strict(text, &sig).is_ok()
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl Signature {
    /// The signature line, newline included: `— name base64(key ID || signature)`.
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// A note as parsed, before any signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<Signature>,
}

/// What [`open`] found: the text, the signatures it verified, and those from unknown keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    /// The note text, final newline included.
    pub text: String,
    /// Signatures by known keys, all verified, in note order.
    pub verified: Vec<Signature>,
    /// Signatures by keys not in the verifier list, not checked, in note order.
    pub unknown: Vec<Signature>,
}

fn check_characters(text: &str) -> Result<(), NoteError> {
    match text.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(at) => Err(NoteError::ControlCharacter(at)),
        None => Ok(()),
    }
}

impl Note {
    /// Parses the note format strictly, without checking any signature.
    pub fn parse(msg: &[u8]) -> Result<Note, NoteError> {
        let msg = std::str::from_utf8(msg).map_err(|_| NoteError::Utf8)?;
        check_characters(msg)?;
        // The last blank line separates text and signatures; the text keeps its final newline.
        let split = msg.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&msg[..=split], &msg[split + 2..]);
        if block.is_empty() || !block.ends_with('\n') {
            return Err(NoteError::SignatureBlock);
        }
        let mut signatures = Vec::new();
        for (i, line) in block[..block.len() - 1].split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line).ok_or(NoteError::SignatureLine(i + 1))?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// A note with `text` and no signatures yet; the text must end with a newline.
    pub fn new(text: &str) -> Result<Note, NoteError> {
        check_text(text)?;
        Ok(Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// The note text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in note order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Adds a signature line, replacing an earlier one by the same name and key ID (a key signs
    /// a text once).
    pub fn add_signature(&mut self, sig: Signature) -> Result<(), NoteError> {
        check_name(&sig.name)?;
        self.signatures
            .retain(|s| !(s.name == sig.name && s.key_id == sig.key_id));
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Signs the text with `signer` and adds the signature.
    pub fn sign_with(&mut self, signer: &dyn NoteSigner) -> Result<(), NoteError> {
        let sig = sign_one(&self.text, signer)?;
        self.add_signature(sig)
    }

    /// Checks the signatures against `verifiers` (see [`open`]).
    pub fn verify(&self, verifiers: &[&dyn NoteVerifier]) -> Result<OpenedNote, NoteError> {
        let mut verified: Vec<Signature> = Vec::new();
        let mut unknown: Vec<Signature> = Vec::new();
        for sig in &self.signatures {
            let mut known = verifiers
                .iter()
                .filter(|v| v.name() == sig.name && v.key_id() == sig.key_id);
            let Some(v) = known.next() else {
                // Unknown keys are ignored, as the specification requires; repeats are dropped.
                if !unknown.contains(sig) {
                    unknown.push(sig.clone());
                }
                continue;
            };
            if known.next().is_some() {
                return Err(NoteError::AmbiguousVerifier {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !v.verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            // A key that signed twice counts once.
            if !verified
                .iter()
                .any(|s| s.name == sig.name && s.key_id == sig.key_id)
            {
                verified.push(sig.clone());
            }
        }
        if verified.is_empty() {
            return Err(NoteError::Unverified);
        }
        Ok(OpenedNote {
            text: self.text.clone(),
            verified,
            unknown,
        })
    }
}

impl std::fmt::Display for Note {
    /// The note in its wire form: text, blank line, signature lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            f.write_str(&s.line())?;
        }
        Ok(())
    }
}

fn parse_signature_line(line: &str) -> Option<Signature> {
    let rest = line.strip_prefix(SIG_PREFIX)?;
    let (name, b64) = rest.split_once(' ')?;
    if !is_valid_key_name(name) {
        return None;
    }
    let raw = STANDARD.decode(b64).ok()?;
    // A key ID and at least one byte of signature.
    if raw.len() < 5 {
        return None;
    }
    let (id, sig) = raw.split_at(4);
    Some(Signature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
        signature: sig.to_vec(),
    })
}

fn check_text(text: &str) -> Result<(), NoteError> {
    check_characters(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotTerminated);
    }
    Ok(())
}

fn sign_one(text: &str, signer: &dyn NoteSigner) -> Result<Signature, NoteError> {
    check_name(signer.name())?;
    Ok(Signature {
        name: signer.name().to_owned(),
        key_id: signer.key_id(),
        signature: signer.sign(text.as_bytes())?,
    })
}

/// Signs `text` with each signer and returns the note in wire form.
pub fn sign(text: &str, signers: &[&dyn NoteSigner]) -> Result<String, NoteError> {
    let mut note = Note::new(text)?;
    for s in signers {
        note.sign_with(*s)?;
    }
    Ok(note.to_string())
}

/// Parses a note and checks its signatures against the known `verifiers`.
///
/// Signatures whose name and key ID match no verifier are ignored (and listed as unknown); a
/// known key whose signature fails rejects the whole note; at least one known key must have
/// signed.
pub fn open(msg: &[u8], verifiers: &[&dyn NoteVerifier]) -> Result<OpenedNote, NoteError> {
    Note::parse(msg)?.verify(verifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(is_valid_key_name("example.com/log"));
        for bad in ["", "a b", "a+b", "a\u{00a0}b", "a\tb", "a\u{2003}b"] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn signer_debug_hides_the_key() {
        let s = Signer::from_seed("n", &[7; 32]);
        let text = format!("{s:?}");
        assert!(text.contains("key_id"));
        assert!(!text.contains("07, 07"), "{text}");
    }
}
