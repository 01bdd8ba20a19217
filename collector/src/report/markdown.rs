//! The report as Markdown (GitHub-flavoured tables): for mail bodies, wikis and diffs. Charts are
//! left out; the table of their values, which the document carries next to each chart, stays.

use std::fmt::Write as _;

use super::doc::{Block, Cell, Document};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn table(o: &mut String, head: &[String], rows: &[Vec<Cell>]) {
    let _ = writeln!(
        o,
        "| {} |",
        head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
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
                .map(|c| cell(&c.text))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    o.push('\n');
}

/// Render `d` as Markdown.
pub fn render(d: &Document) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", d.title);
    for s in &d.subtitle {
        let _ = writeln!(o, "{s}  ");
    }
    o.push('\n');
    for (n, sec) in d.sections.iter().enumerate() {
        let _ = writeln!(o, "## {}. {}\n", n + 1, sec.title);
        for b in &sec.blocks {
            match b {
                Block::Sub(t) => {
                    let _ = writeln!(o, "### {t}\n");
                }
                Block::Para(t) => {
                    let _ = writeln!(o, "{t}\n");
                }
                Block::Note(t) => {
                    let _ = writeln!(o, "> {t}\n");
                }
                Block::List(items) => {
                    for i in items {
                        let _ = writeln!(o, "- {i}");
                    }
                    o.push('\n');
                }
                Block::Table(head, rows) => table(&mut o, head, rows),
                Block::Line { .. } => {}
                Block::Bars(_) => {}
            }
        }
    }
    let _ = writeln!(o, "---\n\n_{}_", d.footer);
    o
}
