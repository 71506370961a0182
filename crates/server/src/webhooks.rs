//! Webhooks: each alert of the configured organisation, and each case event an organisation
//! may read (`[[case_webhooks]]`), is POSTed as JSON to the hook's URL, signed with
//! HMAC-SHA256 of the body under the hook's secret (`X-Kawal-Signature: sha256=<hex>`), named
//! by `X-Kawal-Delivery: <alert or event id>` and `X-Kawal-Event: alert | case.<kind>`. A
//! failed delivery or a non-2xx answer is retried with exponential backoff, a bounded number
//! of times; a delivery that succeeded is never sent again. Deliveries run in a task of their
//! own per hook, fed from a broadcast stream, so a slow or dead receiver never holds up event
//! intake or case work; alerts it misses remain in `/api/alerts`, case events in the cases'
//! timelines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use kawal_core::cases::CaseEvent;
use kawal_core::{Alert, OrgId};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::broadcast;

/// A configured receiver of one organisation's alerts or case events.
#[derive(Clone)]
pub struct Webhook {
    pub url: String,
    /// Whose alerts, or which organisation's readable case events, it receives.
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

/// What one hook's deliveries came to, for `/metrics`: a receiver that is down or too slow
/// shows there, not only in the log.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    pub delivered: AtomicU64,
    /// Attempts after a failed one.
    pub retried: AtomicU64,
    /// Deliveries abandoned after [`ATTEMPTS`] failures.
    pub given_up: AtomicU64,
    /// Alerts or case events the hook fell too far behind to see: the stream dropped them
    /// before it read them, so some may have been for other organisations.
    pub missed: AtomicU64,
}

/// The deliveries of every configured hook, in the order of the configuration: hooks are
/// named by their kind and position there, not by their URL, which may hold a credential.
#[derive(Debug, Default)]
pub(crate) struct HookCounters {
    pub alerts: Vec<Arc<Deliveries>>,
    pub cases: Vec<Arc<Deliveries>>,
}

impl HookCounters {
    pub fn new(alert_hooks: usize, case_hooks: usize) -> Self {
        let counters = |n| (0..n).map(|_| Arc::default()).collect();
        HookCounters {
            alerts: counters(alert_hooks),
            cases: counters(case_hooks),
        }
    }

    /// Each hook's kind (`alerts` or `cases`), position from 1, and deliveries.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, usize, &Deliveries)> {
        self.alerts
            .iter()
            .enumerate()
            .map(|(i, d)| ("alerts", i + 1, &**d))
            .chain(
                self.cases
                    .iter()
                    .enumerate()
                    .map(|(i, d)| ("cases", i + 1, &**d)),
            )
    }
}

/// Attempts per delivery, the first included.
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

/// What a webhook delivers.
pub(crate) trait Deliverable: Serialize + Send + Sync + 'static {
    /// Unique per delivery, the same across its retries.
    fn delivery_id(&self) -> &str;
    fn event_name(&self) -> String;
    fn addressed_to(&self, org: OrgId) -> bool;
}

impl Deliverable for Alert {
    fn delivery_id(&self) -> &str {
        &self.id
    }
    fn event_name(&self) -> String {
        "alert".to_owned()
    }
    fn addressed_to(&self, org: OrgId) -> bool {
        self.org == org
    }
}

impl Deliverable for CaseEvent {
    fn delivery_id(&self) -> &str {
        &self.id
    }
    fn event_name(&self) -> String {
        let kind = serde_json::to_value(self.event)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        format!("case.{kind}")
    }
    fn addressed_to(&self, org: OrgId) -> bool {
        self.audience.contains(&org)
    }
}

/// Delivers what is addressed to the hook's organisation, in order, until the stream closes.
pub(crate) async fn deliver_all<T: Deliverable>(
    hook: Webhook,
    mut items: broadcast::Receiver<Arc<T>>,
    counted: Arc<Deliveries>,
) {
    let agent = ureq::AgentBuilder::new()
        .timeout(ATTEMPT_TIMEOUT)
        .redirects(0)
        .build();
    loop {
        match items.recv().await {
            Ok(item) if item.addressed_to(hook.org) => {
                deliver(&agent, &hook, &*item, &counted).await
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                counted.missed.fetch_add(missed, Ordering::Relaxed);
                tracing::warn!(
                    url = %hook.url,
                    missed,
                    "the webhook fell behind; these deliveries were not made (alerts are in /api/alerts, case events in the cases' timelines)"
                )
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn deliver<T: Deliverable>(
    agent: &ureq::Agent,
    hook: &Webhook,
    item: &T,
    counted: &Deliveries,
) {
    let id = item.delivery_id().to_owned();
    let body = match serde_json::to_vec(item) {
        Ok(body) => body,
        Err(e) => {
            counted.given_up.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(delivery = %id, error = %e, "a webhook delivery could not be encoded");
            return;
        }
    };
    let signed = signature(&hook.secret, &body);
    let event = item.event_name();
    let body = Arc::new(body);
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        let request = agent
            .post(&hook.url)
            .set("Content-Type", "application/json")
            .set("X-Kawal-Signature", &signed)
            .set("X-Kawal-Delivery", &id)
            .set("X-Kawal-Event", &event);
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
                counted.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(url = %hook.url, delivery = %id, attempt, "delivered");
                return;
            }
            Ok(Err(failure)) => failure,
            Err(e) => format!("the attempt was aborted: {e}"),
        };
        if attempt == ATTEMPTS {
            counted.given_up.fetch_add(1, Ordering::Relaxed);
            tracing::error!(url = %hook.url, delivery = %id, attempts = ATTEMPTS, %failure, "not delivered; giving up");
            return;
        }
        tracing::warn!(url = %hook.url, delivery = %id, attempt, %failure, retry_in_ms = wait.as_millis() as u64, "delivery failed; retrying");
        tokio::time::sleep(wait).await;
        counted.retried.fetch_add(1, Ordering::Relaxed);
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
