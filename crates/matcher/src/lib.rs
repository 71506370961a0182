//! Matching STIX 2.1 patterns against observations.
//!
//! - [`Prepared`] evaluates one pattern with the full semantics of STIX 2.1 §9 (see `eval`).
//! - `compiled::IndicatorSet` compiles many indicators into shared indexes so that each event
//!   is fully evaluated only against the indicators that can match it.

pub mod compiled;
mod eval;
mod net;
mod observation;
mod prepare;

pub use compiled::{Hit, IndicatorError, IndicatorSet};
pub use net::Net;
pub use observation::{
    observations_from_json, observations_from_str, Observation, ObservationError,
};
pub use prepare::{CmpExpr, ObsExpr, Op, PrepareError, Prepared, Test};

/// Why a pattern cannot be matched.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("{0}")]
    Syntax(pattern::Diagnostic),
    #[error(transparent)]
    Prepare(#[from] PrepareError),
}

/// Parses and prepares a pattern.
pub fn prepare(text: &str) -> Result<Prepared, PatternError> {
    let parsed = pattern::parse(text).map_err(PatternError::Syntax)?;
    Ok(Prepared::new(&parsed)?)
}
