//! Validating what a host says about itself at enrolment, before anything logs it. The rules are
//! the wire format's ([`HostIdentity::validate`]), shared with ingest, so a name that may enrol
//! may also report and the other way round.

use axum::http::StatusCode;
use vigie_checks::wire::HostIdentity;

use crate::http::ApiError;
use crate::ingest::MAX_INTERVAL_S;

/// Validate an enrolment's host identity and announced interval: 422 `invalid_host` naming the
/// field (never repeating the refused value).
pub fn validate_enrolment(host: &HostIdentity, interval_seconds: Option<u64>) -> Result<(), ApiError> {
    host.validate("host").map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_host",
            e.to_string(),
        )
    })?;
    if interval_seconds.is_some_and(|i| !(1..=MAX_INTERVAL_S).contains(&i)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_host",
            format!("interval_seconds must be between 1 and {MAX_INTERVAL_S}"),
        ));
    }
    Ok(())
}
