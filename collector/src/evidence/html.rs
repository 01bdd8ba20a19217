//! Small HTML building blocks for the bundle's pages: escaping, one page frame with inline CSS
//! (no external request: the bundle is opened offline), and file names of per-item pages.

use std::io::{self, Write};

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A safe file-name part for a check id (ids are snake_case; anything else is replaced).
pub fn slug(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The page of safeguard `id` ("7.3" → "safeguards/07.03.html": zero-padded so that file order
/// is catalogue order).
pub fn safeguard_file(id: &str) -> String {
    let (c, n) = id.split_once('.').unwrap_or((id, "0"));
    let pad = |s: &str| {
        s.parse::<u32>()
            .map_or(s.to_string(), |n| format!("{n:02}"))
    };
    format!("safeguards/{}.{}.html", pad(c), pad(n))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .5em;\
text-align:left;vertical-align:top}th{background:#f3f3f3}pre{white-space:pre-wrap;\
background:#f7f7f7;padding:.5em;border:1px solid #ddd}.pass,.satisfied{color:#176f2c}\
.fail,.error,.not-satisfied{color:#a4161a;font-weight:bold}.muted{color:#777}\
nav{margin-bottom:1em}@media print{nav{display:none}}";

/// Open a page: `depth` is how many folders below the bundle root it sits (for relative links).
pub fn open(w: &mut impl Write, title: &str, depth: usize) -> io::Result<()> {
    let up = "../".repeat(depth);
    write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n\
         <nav><a href=\"{up}index.html\">Evidence index</a></nav>\n<h1>{t}</h1>\n",
        t = esc(title)
    )
}

/// Close a page.
pub fn close(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"</body></html>\n")
}

/// A table header row.
pub fn thead(w: &mut impl Write, cols: &[&str]) -> io::Result<()> {
    w.write_all(b"<table><tr>")?;
    for c in cols {
        write!(w, "<th>{}</th>", esc(c))?;
    }
    w.write_all(b"</tr>\n")
}

/// A status with its CSS class.
pub fn status(s: &str) -> String {
    format!("<span class=\"{}\">{}</span>", slug(s), esc(s))
}

/// Links to evidence excerpts in `evidence.html`.
pub fn evidence_links(shas: &[String], depth: usize) -> String {
    let up = "../".repeat(depth);
    shas.iter()
        .map(|s| {
            let short: String = s.chars().take(12).collect();
            format!(
                "<a href=\"{up}evidence.html#{}\"><code>{}</code></a>",
                esc(s),
                esc(&short)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_names() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(safeguard_file("7.3"), "safeguards/07.03.html");
        assert_eq!(safeguard_file("16.14"), "safeguards/16.14.html");
        // Zero padding makes path order catalogue order: 7.3 < 7.10 < 10.1.
        assert!(safeguard_file("7.3") < safeguard_file("7.10"));
        assert!(safeguard_file("7.10") < safeguard_file("10.1"));
        assert_eq!(slug("../etc"), "___etc");
    }
}
