//! This instance as a witness of other logs (C2SP tlog-witness): `tlog::witness` decides, the
//! store keeps the latest checkpoint cosigned per log and moves it only by compare-and-swap.

use stix::Timestamp;
use tlog::witness::{Refusal, Witness, Witnessed};

use crate::exchange::Exchange;
use crate::store::{StoreError, WitnessSwap, WitnessedCheckpoint};

/// Why an `add-checkpoint` request got no cosignature.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The request or its checkpoint was refused, as the specification names it.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The witness could not read or keep its state, or sign.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Exchange {
    /// Answers an `add-checkpoint` request: checks it against the latest checkpoint cosigned
    /// for its log, keeps it as the new latest and returns the cosignature line; or refuses.
    pub fn add_checkpoint(&self, witness: &Witness, body: &[u8]) -> Result<String, WitnessError> {
        let submission = witness.open(body)?;
        let origin = submission.checkpoint.origin().to_owned();
        let latest = self.store().witnessed(&origin)?.map(|w| Witnessed {
            size: w.size,
            root: w.root,
        });
        if let Err(refusal) = witness.check(&submission, latest.as_ref()) {
            if matches!(refusal, Refusal::Inconsistent { .. }) {
                // A validly signed checkpoint that contradicts an earlier one is evidence that
                // the log forked; keep it where operators look.
                self.record_event(
                    "witness".to_owned(),
                    None,
                    "witness.refuse",
                    &origin,
                    &format!(
                        "{refusal}; submitted checkpoint: size {} root {}",
                        submission.checkpoint.size(),
                        tlog::hash::hash_to_base64(submission.checkpoint.root())
                    ),
                );
            }
            return Err(refusal.into());
        }
        let cosigned = witness
            .cosign(&submission, now_seconds())
            .map_err(|e| StoreError::Backend(format!("cannot cosign: {e}")))?;
        let kept = WitnessedCheckpoint {
            size: submission.checkpoint.size(),
            root: *submission.checkpoint.root(),
            note: cosigned.note,
        };
        match self
            .store()
            .swap_witnessed(&origin, submission.old_size, &kept)?
        {
            WitnessSwap::Swapped => Ok(cosigned.response),
            WitnessSwap::Moved { current } => Err(Refusal::SizeMismatch {
                origin,
                old: submission.old_size,
                witnessed: current,
            }
            .into()),
        }
    }

    /// The latest checkpoint this instance cosigned for `origin`, with its cosignature.
    pub fn witnessed_checkpoint(&self, origin: &str) -> crate::exchange::Result<Option<String>> {
        Ok(self.store().witnessed(origin)?.map(|w| w.note))
    }
}

/// Cosignature timestamps are POSIX seconds and must not be zero.
fn now_seconds() -> u64 {
    u64::try_from(Timestamp::now().as_micros() / 1_000_000)
        .unwrap_or(0)
        .max(1)
}
