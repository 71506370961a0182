//! API token secrets: generated here, kept only as argon2 hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::{OsRng, RngCore};

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token id (public, appears in logs) and secret (shown once).
pub fn new_token_credentials() -> (String, String) {
    (random_hex(8), random_hex(32))
}

pub fn hash_secret(secret: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the token secret: {e}"))
}

pub fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A session secret: 256 random bits, hex-encoded, for the browser's cookie.
pub fn new_session_secret() -> String {
    random_hex(32)
}

/// A form token: 128 random bits, hex-encoded.
pub fn new_csrf_token() -> String {
    random_hex(16)
}

/// What the store keeps of a session secret.
pub fn session_digest(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

/// Compares two secrets in time that depends only on their lengths, so that a forged form
/// token cannot be found byte by byte from response times.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Token ids are 16 lowercase hex digits; anything else is refused before touching the store.
pub fn is_token_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_secret() {
        let (id, secret) = new_token_credentials();
        assert!(is_token_id(&id));
        let hash = hash_secret(&secret).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret(&secret, &hash));
        assert!(!verify_secret("wrong", &hash));
        assert!(!verify_secret(&secret, "not a hash"));
    }

    #[test]
    fn session_secrets_are_long_and_compared_whole() {
        let secret = new_session_secret();
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, new_session_secret());
        assert_eq!(session_digest(&secret), session_digest(&secret));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
