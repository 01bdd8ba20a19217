//! Escaping untrusted text for line-oriented sinks: terminal tables and log fields. Titles, names
//! and messages come from API clients, CSV files and agents; printed raw, an ESC sequence drives
//! the operator's terminal and a newline forges a log line. Validation refuses such characters in
//! identity fields; this is the second belt for everything shown that was stored before, or that
//! is free text by design.

use std::borrow::Cow;

use vigie_checks::wire::is_forbidden_char;

/// `s` with every control, line-separator and bidirectional-override character written as an
/// escape (`\x1b`, `\n`, `\u{202e}`), so it prints on one line and means what it shows. A
/// backslash is left alone: the escapes are for reading, not for parsing back.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_forbidden_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 && is_forbidden_char(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_forbidden_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_the_rest_untouched() {
        assert!(matches!(
            one_line("Perte d'un portable — chiffré"),
            Cow::Borrowed(_)
        ));
        assert_eq!(one_line("\u{1b}[31mred\u{1b}[0m"), "\\x1b[31mred\\x1b[0m");
        assert_eq!(one_line("a\nb\r\tc\u{7f}\u{85}"), "a\\nb\\r\\tc\\x7f\\x85");
        assert_eq!(
            one_line("txt.\u{202e}exe\u{2066}"),
            "txt.\\u{202e}exe\\u{2066}"
        );
        assert!(!one_line("x\u{1b}\u{2028}\u{0}")
            .chars()
            .any(is_forbidden_char));
    }
}
