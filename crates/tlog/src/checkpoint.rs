//! C2SP tlog-checkpoint: the signed statement of a log's size and root.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, standard base64>
//! [<extension line>...]
//! ```
//!
//! Every line is non-empty and ends with a newline. The checkpoint is the text of a signed note
//! ([`crate::note`]); the log's key name should be the origin.

use crate::hash::{hash_from_base64, hash_to_base64, Hash};
use crate::note::{self, NoteError, NoteSigner, NoteVerifier, OpenedNote};

/// A checkpoint body that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text does not end with a newline.
    #[error("checkpoint text must end with a newline")]
    NotTerminated,
    /// Fewer than three lines.
    #[error("checkpoint needs origin, size and root hash lines")]
    MissingLines,
    /// An empty line (or an origin or extension with a newline inside).
    #[error("line {0} of the checkpoint is empty")]
    EmptyLine(usize),
    /// A character a note cannot carry.
    #[error("checkpoint line {0} holds a control character")]
    ControlCharacter(usize),
    /// The size is not a canonical decimal `u64`.
    #[error("tree size {0:?} is not a decimal number without leading zeros")]
    Size(String),
    /// The root hash is not 32 bytes of standard base64.
    #[error("root hash {0:?} is not 32 bytes of standard base64")]
    RootHash(String),
    /// The signed note around it is bad.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A log's tree head: origin, size and root hash, with optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn check_line(line: &str, number: usize) -> Result<(), CheckpointError> {
    if line.is_empty() || line.contains('\n') {
        return Err(CheckpointError::EmptyLine(number));
    }
    if line.bytes().any(|b| b < 0x20) {
        return Err(CheckpointError::ControlCharacter(number));
    }
    Ok(())
}

/// A tree size as the C2SP formats write it: ASCII decimal, no sign, no leading zeros (`0` for
/// zero), at most `u64::MAX`.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'));
    canonical.then(|| text.parse::<u64>().ok()).flatten()
}

impl Checkpoint {
    /// A checkpoint without extension lines. The origin must be a non-empty single line.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        check_line(origin, 1)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (non-empty, single line). Their use is discouraged by the
    /// specification since monitors cannot audit them.
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        check_line(line, 4 + self.extensions.len())?;
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash at that size.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, without newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Parses a checkpoint body (the note text), strictly.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NotTerminated)?;
        let lines: Vec<&str> = body.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            check_line(line, i + 1)?;
        }
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::MissingLines);
        };
        let size = parse_size(size).ok_or_else(|| CheckpointError::Size((*size).to_owned()))?;
        let root =
            hash_from_base64(root).map_err(|_| CheckpointError::RootHash((*root).to_owned()))?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        })
    }

    /// The checkpoint body, the text a log signs.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            hash_to_base64(&self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Signs the checkpoint, returning the signed note.
    pub fn sign(&self, signers: &[&dyn NoteSigner]) -> Result<String, CheckpointError> {
        Ok(note::sign(&self.to_text(), signers)?)
    }

    /// Opens a signed checkpoint: verifies the note against `verifiers` (at least one must have
    /// signed) and parses its text.
    pub fn open(
        msg: &[u8],
        verifiers: &[&dyn NoteVerifier],
    ) -> Result<(Checkpoint, OpenedNote), CheckpointError> {
        let opened = note::open(msg, verifiers)?;
        let cp = Checkpoint::parse(&opened.text)?;
        Ok((cp, opened))
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_parses() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse(text);
        assert_eq!(cp.as_ref().map(|c| c.size()), Ok(20852163));
        assert_eq!(cp.as_ref().map(|c| c.to_text()), Ok(text.to_owned()));
    }

    #[test]
    fn strictness() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for (text, want) in [
            (format!("o\n1\n{root}"), CheckpointError::NotTerminated),
            ("o\n1\n".to_owned(), CheckpointError::MissingLines),
            (
                format!("o\n01\n{root}\n"),
                CheckpointError::Size("01".into()),
            ),
            (
                format!("o\n+1\n{root}\n"),
                CheckpointError::Size("+1".into()),
            ),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                CheckpointError::Size("18446744073709551616".into()),
            ),
            (format!("\n1\n{root}\n"), CheckpointError::EmptyLine(1)),
            (format!("o\n1\n{root}\n\n"), CheckpointError::EmptyLine(4)),
            (
                "o\n1\nAAAA\n".to_owned(),
                CheckpointError::RootHash("AAAA".into()),
            ),
        ] {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        assert!(Checkpoint::parse(&format!("o\n0\n{root}\next\n")).is_ok());
    }
}
