//! Alert webhooks: each alert of the configured organisation is POSTed as JSON to the hook's
//! URL, signed with HMAC-SHA256 of the body under the hook's secret
//! (`X-Kawal-Signature: sha256=<hex>`) and named by `X-Kawal-Delivery: <alert id>`. A failed
//! delivery or a non-2xx answer is retried with exponential backoff, a bounded number of
//! times. Deliveries run in a task of their own per hook, fed from the alert stream, so a slow
//! or dead receiver never holds up event intake; alerts it misses remain in `/api/alerts`.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use kawal_core::{Alert, OrgId};
use sha2::Sha256;
use tokio::sync::broadcast;

/// A configured receiver of one organisation's alerts.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    /// Whose alerts it receives.
    pub org: OrgId,
    /// The HMAC key the receiver checks signatures with.
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

/// Attempts per alert, the first included.
pub const ATTEMPTS: u32 = 6;
/// The wait before the first retry; each next one waits twice as long (0.5 s … 8 s).
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Delivers the hook's organisation's alerts, in order, until the stream closes.
pub(crate) async fn deliver_all(hook: Webhook, mut alerts: broadcast::Receiver<Arc<Alert>>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(ATTEMPT_TIMEOUT)
        .redirects(0)
        .build();
    loop {
        match alerts.recv().await {
            Ok(alert) if alert.org == hook.org => deliver(&agent, &hook, &alert).await,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => tracing::warn!(
                url = %hook.url,
                missed,
                "the webhook fell behind; these alerts were not delivered (they are in /api/alerts)"
            ),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn deliver(agent: &ureq::Agent, hook: &Webhook, alert: &Alert) {
    let body = match serde_json::to_vec(alert) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(alert = %alert.id, error = %e, "an alert could not be encoded for its webhook");
            return;
        }
    };
    let signed = signature(&hook.secret, &body);
    let body = Arc::new(body);
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let request = agent
            .post(&hook.url)
            .set("Content-Type", "application/json")
            .set("X-Kawal-Signature", &signed)
            .set("X-Kawal-Delivery", &alert.id);
        let sent = {
            let body = body.clone();
            // Only the outcome leaves the blocking pool, not ureq's large error.
            tokio::task::spawn_blocking(move || match request.send_bytes(&body) {
                Ok(response) if (200..300).contains(&response.status()) => Ok(()),
                Ok(response) => Err(format!("answered {}", response.status())),
                Err(ureq::Error::Status(code, _)) => Err(format!("answered {code}")),
                Err(e) => Err(e.to_string()),
            })
            .await
        };
        let failure = match sent {
            Ok(Ok(())) => {
                tracing::debug!(url = %hook.url, alert = %alert.id, attempt, "alert delivered");
                return;
            }
            Ok(Err(failure)) => failure,
            Err(e) => format!("the attempt was aborted: {e}"),
        };
        if attempt == ATTEMPTS {
            tracing::error!(url = %hook.url, alert = %alert.id, attempts = ATTEMPTS, %failure, "alert not delivered; giving up");
            return;
        }
        tracing::warn!(url = %hook.url, alert = %alert.id, attempt, %failure, retry_in_ms = wait.as_millis() as u64, "alert delivery failed; retrying");
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
