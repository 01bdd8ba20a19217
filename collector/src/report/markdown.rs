//! The report as Markdown (GitHub-flavoured tables): for mail bodies, wikis and diffs. Charts are
//! left out; the table of their values, which the document carries next to each chart, stays.
//!
//! Every string of the document is plain text, and some of it was typed by people (risk, incident
//! and action titles, owners, exception reasons). Each one goes through [`text`], so that the file
//! stays inert wherever it ends up: rendered by a wiki (no raw HTML such as `<script>`, no link,
//! image, code span or heading smuggled in) and pasted into a table (no `|` splitting a cell).

use std::fmt::Write as _;

use super::doc::{Block, Cell, Document};

/// `s` as Markdown inline text that renders as exactly `s`, on one line: `<`, `>` and `&` as HTML
/// entities (so no tag can form, whatever the renderer's raw-HTML policy), the characters that open
/// inline Markdown (emphasis, code spans, links and images, strikethrough, table cells)
/// backslash-escaped, line breaks as spaces. Enough inside a table cell, where no block can start.
pub fn inline(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                o.push('\\');
                o.push(c);
            }
            '\r' | '\n' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

/// `s` as the start of a block (heading text, paragraph, list item): [`inline`], and a block
/// marker at its start (`#`, `-`, `+`, `=`, `1.`, `1)`) escaped so it stays text.
pub fn text(s: &str) -> String {
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let ordered = digits > 0 && matches!(s[digits..].chars().next(), Some('.' | ')'));
    let marker = if ordered {
        digits
    } else if s.starts_with(['#', '-', '+', '=']) {
        0
    } else {
        return inline(s);
    };
    // Every character up to the marker is an ASCII digit, which inline() leaves alone.
    format!("{}\\{}", &s[..marker], inline(&s[marker..]))
}

fn table(o: &mut String, head: &[String], rows: &[Vec<Cell>]) {
    let _ = writeln!(
        o,
        "| {} |",
        head.iter()
            .map(|h| inline(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let align: Vec<&str> = (0..head.len())
        .map(|i| {
            if rows
                .first()
                .and_then(|r| r.get(i))
                .is_some_and(|c| c.numeric)
            {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    let _ = writeln!(o, "|{}|", align.join("|"));
    for r in rows {
        let _ = writeln!(
            o,
            "| {} |",
            r.iter()
                .map(|c| inline(&c.text))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    o.push('\n');
}

/// Render `d` as Markdown.
pub fn render(d: &Document) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", text(&d.title));
    for s in &d.subtitle {
        let _ = writeln!(o, "{}  ", text(s));
    }
    o.push('\n');
    for (n, sec) in d.sections.iter().enumerate() {
        let _ = writeln!(o, "## {}. {}\n", n + 1, text(&sec.title));
        for b in &sec.blocks {
            match b {
                Block::Sub(t) => {
                    let _ = writeln!(o, "### {}\n", text(t));
                }
                Block::Para(t) => {
                    let _ = writeln!(o, "{}\n", text(t));
                }
                Block::Note(t) => {
                    let _ = writeln!(o, "> {}\n", text(t));
                }
                Block::List(items) => {
                    for i in items {
                        let _ = writeln!(o, "- {}", text(i));
                    }
                    o.push('\n');
                }
                Block::Table(head, rows) => table(&mut o, head, rows),
                Block::Line { .. } => {}
                Block::Bars(_) => {}
            }
        }
    }
    let _ = writeln!(o, "---\n\n_{}_", text(&d.footer));
    o
}

#[cfg(test)]
mod tests {
    use super::{inline, text};

    #[test]
    fn text_is_inert_as_html_and_as_markdown() {
        assert_eq!(
            text("<script>alert(1)</script> & <img src=x onerror=alert(2)>"),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;"
        );
        assert_eq!(
            text("[x](javascript:alert(3)) ![i](http://e/x.png) `c` *b* _i_ ~~s~~ a|b \\"),
            "\\[x\\](javascript:alert(3)) !\\[i\\](http://e/x.png) \\`c\\` \\*b\\* \\_i\\_ \\~\\~s\\~\\~ a\\|b \\\\"
        );
        assert_eq!(text("# title"), "\\# title");
        assert_eq!(text("- item"), "\\- item");
        assert_eq!(text("12. point"), "12\\. point");
        assert_eq!(text("12 points. 3) x"), "12 points. 3) x");
        assert_eq!(text("a\nb\r\nc"), "a b  c");
        // In a table cell no block can start: a negative change stays as it is.
        assert_eq!(inline("-2.0 pts"), "-2.0 pts");
        assert_eq!(inline("a | b"), "a \\| b");
        assert_eq!(
            text("Patch rate 95.0 % (target 100 %)"),
            "Patch rate 95.0 % (target 100 %)"
        );
    }
}
