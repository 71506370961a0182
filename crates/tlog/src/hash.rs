//! RFC 9162 §2.1.1 Merkle tree hashing with SHA-256.
//!
//! Leaves and interior nodes are hashed with different one-byte prefixes (`0x00` and `0x01`) so
//! that no interior node can be passed off as a leaf or the other way round (second preimages).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; HASH_SIZE];

/// The root of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of one log entry: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A byte string that should have been a hash and is not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashDecodeError {
    /// The bytes are not 32 long.
    #[error("a hash is {HASH_SIZE} bytes, got {0}")]
    Length(usize),
    /// The text is not canonical standard base64 (RFC 4648 §4, with padding).
    #[error("a hash must be standard padded base64")]
    Base64,
}

/// Converts bytes received from elsewhere into a [`type@Hash`], refusing anything but 32 bytes.
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash, HashDecodeError> {
    Hash::try_from(bytes).map_err(|_| HashDecodeError::Length(bytes.len()))
}

/// Decodes a hash written as standard base64, as checkpoints and proof documents carry them.
pub fn hash_from_base64(text: &str) -> Result<Hash, HashDecodeError> {
    let bytes = STANDARD.decode(text).map_err(|_| HashDecodeError::Base64)?;
    hash_from_slice(&bytes)
}

/// Encodes a hash as standard base64, the form checkpoints use.
pub fn hash_to_base64(hash: &Hash) -> String {
    STANDARD.encode(hash)
}

/// Lowercase hexadecimal, for logs and error messages.
pub fn hash_to_hex(hash: &Hash) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(2 * HASH_SIZE);
    for b in hash {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let h: Hash = Sha256::digest(b"").into();
        assert_eq!(h, EMPTY_ROOT);
    }

    #[test]
    fn rfc6962_leaf_and_node_hashes() {
        // Leaf hash of the empty entry, from the RFC 6962 reference tests.
        assert_eq!(
            hash_to_hex(&leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        // Root of the two-leaf tree over the entries "" and "\x00".
        let l = leaf_hash(b"");
        let r = leaf_hash(b"\x00");
        assert_eq!(
            hash_to_hex(&node_hash(&l, &r)),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
    }

    #[test]
    fn base64_round_trip_and_rejections() {
        let h = leaf_hash(b"x");
        assert_eq!(hash_from_base64(&hash_to_base64(&h)), Ok(h));
        assert_eq!(hash_from_base64("AAAA"), Err(HashDecodeError::Length(3)));
        assert_eq!(
            hash_from_base64("not base64!"),
            Err(HashDecodeError::Base64)
        );
        assert_eq!(hash_from_slice(&[0; 31]), Err(HashDecodeError::Length(31)));
    }
}
