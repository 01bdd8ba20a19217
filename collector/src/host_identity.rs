//! Validating names before anything stores, logs or prints them: what a host says about itself at
//! enrolment (the wire format's rules, [`HostIdentity::validate`], shared with ingest, so a name
//! that may enrol may also report and the other way round), and the titles people give risks,
//! actions, incidents and exceptions (one line, bounded).

use axum::http::StatusCode;
use vigie_checks::wire::{FieldError, HostIdentity};

use crate::http::ApiError;
use crate::ingest::MAX_INTERVAL_S;

/// Longest title of a risk, action or incident, in bytes.
pub const MAX_TITLE: usize = 256;
/// Longest free text (scenario, description, reason), in bytes.
pub const MAX_TEXT: usize = 16 * 1024;

/// A title: not empty, at most [`MAX_TITLE`] bytes, one line without control or
/// bidirectional-override characters. The error names `field`, not the value.
pub fn check_title(field: &str, value: &str) -> Result<(), FieldError> {
    vigie_checks::wire::check_line(field, value, MAX_TITLE, false)
}

/// Free text (several lines allowed): at most [`MAX_TEXT`] bytes and no NUL, ESC or other
/// control character except newline, carriage return and tab.
pub fn check_text(field: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_TEXT {
        return Err(format!(
            "{field} is {} bytes; at most {MAX_TEXT} allowed",
            value.len()
        ));
    }
    if let Some((at, c)) = value
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!(
            "{field} contains U+{:04X} at byte {at}: control characters other than newline and tab are not allowed",
            c as u32
        ));
    }
    Ok(())
}

/// Validate an enrolment's host identity and announced interval: 422 `invalid_host` naming the
/// field (never repeating the refused value).
pub fn validate_enrolment(
    host: &HostIdentity,
    interval_seconds: Option<u64>,
) -> Result<(), ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_one_bounded_line_and_texts_have_no_control_characters() {
        check_title("title", "Perte d'un portable non chiffré").unwrap();
        for (bad, words) in [
            ("", "title must not be empty"),
            ("a\nb", "title contains U+000A"),
            ("\u{1b}[2J", "title contains U+001B"),
            ("x\u{202e}y", "title contains U+202E"),
        ] {
            let e = check_title("title", bad).unwrap_err().to_string();
            assert!(e.contains(words), "{bad:?}: {e}");
        }
        let e = check_title("title", &"t".repeat(MAX_TITLE + 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("257 bytes"), "{e}");
        check_text("scenario", "line one\r\nline two\tindented").unwrap();
        assert!(check_text("scenario", "nul\0")
            .unwrap_err()
            .contains("U+0000"));
        assert!(check_text("scenario", "esc\u{1b}[31m")
            .unwrap_err()
            .contains("U+001B"));
        assert!(check_text("scenario", &"s".repeat(MAX_TEXT + 1))
            .unwrap_err()
            .contains("at most 16384"));
    }
}
