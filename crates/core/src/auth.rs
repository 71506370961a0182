//! API token secrets: generated here, kept only as argon2 hashes.

use std::sync::{Condvar, Mutex, PoisonError};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand_core::{OsRng, RngCore};

/// Argon2 runs at most this many at a time, one per core. Each takes about 19 MiB and tens of
/// milliseconds on purpose; anyone can make the server run one (a sign-in with any username
/// checks a decoy hash, a request with a known token id and a wrong secret checks the token's),
/// so without a bound a flood of them would take every blocking thread and gigabytes of memory.
/// Those beyond the bound wait their turn; nothing else does.
static ARGON2_SLOTS: Slots = Slots::new();

/// A counting semaphore for threads that may block.
struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    const fn new() -> Self {
        Slots {
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self, limit: usize) -> Slot<'_> {
        let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        while *busy >= limit {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *busy += 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        self.0.freed.notify_one();
    }
}

fn argon2_slot() -> Slot<'static> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    ARGON2_SLOTS.acquire(cores)
}

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
    let _slot = argon2_slot();
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the token secret: {e}"))
}

pub fn verify_secret(secret: &str, hash: &str) -> bool {
    verify_secret_unless(secret, hash, || false)
}

/// Verifies `secret` against `hash`, unless `known` (asked once this thread's turn has come)
/// says it was verified meanwhile: the first requests with a new token, arriving together,
/// then cost one verification rather than one each.
pub fn verify_secret_unless(secret: &str, hash: &str, known: impl FnOnce() -> bool) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let _slot = argon2_slot();
    known()
        || Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
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
    fn slots_bound_how_many_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let slots = Arc::new(Slots::new());
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let _slot = slots.acquire(3);
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        running.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!((1..=3).contains(&most.load(Ordering::SeqCst)));
        assert_eq!(*slots.busy.lock().unwrap(), 0);
    }

    #[test]
    fn a_secret_verified_meanwhile_is_not_verified_again() {
        let (_, secret) = new_token_credentials();
        let hash = hash_secret(&secret).unwrap();
        // `known` is trusted as it is: the caller asks its own cache of verified secrets.
        assert!(verify_secret_unless("wrong", &hash, || true));
        assert!(!verify_secret_unless("wrong", &hash, || false));
        assert!(verify_secret_unless(&secret, &hash, || false));
        assert!(!verify_secret_unless(&secret, "not a hash", || true));
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
