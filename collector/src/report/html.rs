//! The report as one self-contained HTML file: inline CSS, inline SVG charts, no script, no font or
//! image to fetch, no link off the page. Prints on A4 with one section per page.

use std::fmt::Write as _;

use super::data::IndicatorUnit;
use super::doc::{self, Block, Cell, Document, Tone};
use super::svg;

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10.5pt;
       color: #1b1b1b; margin: 0 auto; max-width: 190mm; padding: 12mm 10mm; line-height: 1.4; }
h1 { font-size: 18pt; margin: 0 0 4pt; }
h2 { font-size: 14pt; border-bottom: 2px solid #1565c0; padding-bottom: 2pt; margin-top: 18pt; }
h3 { font-size: 11.5pt; margin: 12pt 0 4pt; }
.subtitle { color: #555; margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 6pt 0 10pt; font-size: 9pt; }
th, td { border: 1px solid #ccc; padding: 2pt 4pt; text-align: left; vertical-align: top; }
th { background: #eef3fa; }
td.num { text-align: right; }
td.good { background: #e6f4ea; color: #1e5e2a; }
td.bad { background: #fdecea; color: #8a1c14; font-weight: bold; }
td.muted { color: #888; }
.note { border-left: 4px solid #f0a000; background: #fff8e5; padding: 4pt 8pt; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 4pt 0; }
svg text.axis, svg text.label { font-size: 10px; fill: #333; }
footer { margin-top: 16pt; color: #666; font-size: 8.5pt; border-top: 1px solid #ccc; padding-top: 4pt; }
@page { size: A4; margin: 12mm; }
@media print {
  body { padding: 0; max-width: none; }
  section { break-before: page; page-break-before: always; }
  section#summary { break-before: avoid; page-break-before: avoid; }
  table, svg.chart, h3 { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
}
"#;

fn class(c: &Cell) -> String {
    let mut v = Vec::new();
    if c.numeric {
        v.push("num");
    }
    match c.tone {
        Tone::Plain => {}
        Tone::Good => v.push("good"),
        Tone::Bad => v.push("bad"),
        Tone::Muted => v.push("muted"),
    }
    if v.is_empty() {
        String::new()
    } else {
        format!(r#" class="{}""#, v.join(" "))
    }
}

/// Top of a trend chart's axis: 100 % for ratios, 100 for scores, for durations the largest value
/// or target plus a margin, rounded up to a whole hour (a day above 48 h).
fn ymax(unit: IndicatorUnit, points: &[(String, Option<f64>)], target: Option<f64>) -> f64 {
    match unit {
        IndicatorUnit::Ratio => 1.0,
        IndicatorUnit::Score => 100.0,
        IndicatorUnit::Seconds => {
            let top = points
                .iter()
                .filter_map(|p| p.1)
                .chain(target)
                .fold(0.0_f64, f64::max)
                * 1.1;
            let step = if top > 48.0 * 3600.0 {
                86_400.0
            } else {
                3600.0
            };
            ((top / step).ceil() * step).max(3600.0)
        }
    }
}

/// Render `d` as one HTML page.
pub fn render(d: &Document) -> String {
    let lang = d.lang;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n",
        lang.code(),
        escape(&d.title),
        escape(&d.title)
    );
    for s in &d.subtitle {
        let _ = writeln!(o, "<p class=\"subtitle\">{}</p>", escape(s));
    }
    o.push_str("</header>\n");
    for (n, sec) in d.sections.iter().enumerate() {
        let _ = writeln!(
            o,
            "<section id=\"{}\">\n<h2>{}. {}</h2>",
            sec.id,
            n + 1,
            escape(&sec.title)
        );
        for b in &sec.blocks {
            match b {
                Block::Sub(t) => {
                    let _ = writeln!(o, "<h3>{}</h3>", escape(t));
                }
                Block::Para(t) => {
                    let _ = writeln!(o, "<p>{}</p>", escape(t));
                }
                Block::Note(t) => {
                    let _ = writeln!(o, "<p class=\"note\">{}</p>", escape(t));
                }
                Block::List(items) => {
                    o.push_str("<ul>\n");
                    for i in items {
                        let _ = writeln!(o, "<li>{}</li>", escape(i));
                    }
                    o.push_str("</ul>\n");
                }
                Block::Table(head, rows) => {
                    o.push_str("<table>\n<thead><tr>");
                    for h in head {
                        let _ = write!(o, "<th>{}</th>", escape(h));
                    }
                    o.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        o.push_str("<tr>");
                        for c in r {
                            let _ = write!(o, "<td{}>{}</td>", class(c), escape(&c.text));
                        }
                        o.push_str("</tr>\n");
                    }
                    o.push_str("</tbody>\n</table>\n");
                }
                Block::Line {
                    title,
                    points,
                    target,
                    unit,
                } => {
                    let top = ymax(*unit, points, *target);
                    let unit = *unit;
                    let fmt = move |v: f64| doc::value(lang, unit, Some(v));
                    o.push_str(&svg::line_chart(title, points, *target, top, &fmt));
                    o.push('\n');
                }
                Block::Bars(bars) => {
                    let fmt = move |v: f64| doc::value(lang, IndicatorUnit::Score, Some(v));
                    o.push_str(&svg::bar_chart(&sec.title, bars, &fmt));
                    o.push('\n');
                }
            }
        }
        o.push_str("</section>\n");
    }
    let _ = write!(
        o,
        "<footer>{}</footer>\n</body>\n</html>\n",
        escape(&d.footer)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    /// Largest 5 h, target 3 h → 5.5 h → 6 h axis; 100 h → 110 h → 5 days (432 000 s).
    #[test]
    fn duration_axis_rounds_up() {
        let p = |h: f64| vec![("m".to_string(), Some(h * 3600.0))];
        assert_eq!(
            ymax(IndicatorUnit::Seconds, &p(5.0), Some(3.0 * 3600.0)),
            21_600.0
        );
        assert_eq!(ymax(IndicatorUnit::Seconds, &p(100.0), None), 432_000.0);
        assert_eq!(ymax(IndicatorUnit::Seconds, &[], None), 3600.0);
    }
}
