//! Small inline SVG charts for the HTML report: a line chart for a 12-month trend and a horizontal
//! bar chart for the CIS controls. Plain strings, fixed geometry, coordinates rounded to one
//! decimal, so the same data draws the same bytes. No script, no external reference.

use std::fmt::Write as _;

use super::html::escape;

/// A line chart of `points` (label, value), gaps where a value is missing; `target` draws a dashed
/// line; `ymax` is the top of the axis (values are clamped to `0..=ymax`); `fmt` labels the axis.
pub fn line_chart(
    title: &str,
    points: &[(String, Option<f64>)],
    target: Option<f64>,
    ymax: f64,
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let (w, h) = (640.0, 200.0);
    let (left, right, top, bottom) = (64.0, 12.0, 12.0, 28.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let ymax = if ymax > 0.0 { ymax } else { 1.0 };
    let n = points.len().max(1);
    let x = |i: usize| left + pw * (i as f64 + 0.5) / n as f64;
    let y = |v: f64| top + ph * (1.0 - (v / ymax).clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(s, "<title>{}</title>", escape(title));
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="axis">{}</text>"##,
            w - right,
            left - 6.0,
            yy + 4.0,
            escape(&fmt(v))
        );
    }
    for (i, (label, _)) in points.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
            x(i),
            h - 8.0,
            escape(label)
        );
    }
    if let Some(t) = target {
        let yy = y(t);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#2e7d32" stroke-dasharray="6 4" class="target"/>"##,
            w - right
        );
    }
    // One polyline per run of consecutive values.
    let mut run: Vec<String> = Vec::new();
    let flush = |run: &mut Vec<String>, s: &mut String| {
        if run.len() > 1 {
            let _ = write!(
                s,
                r##"<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{}"/>"##,
                run.join(" ")
            );
        }
        run.clear();
    };
    for (i, (_, v)) in points.iter().enumerate() {
        match v {
            Some(v) => run.push(format!("{:.1},{:.1}", x(i), y(*v))),
            None => flush(&mut run, &mut s),
        }
    }
    flush(&mut run, &mut s);
    for (i, (_, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#1565c0"/>"##,
                x(i),
                y(*v)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars of scores 0..=100: (label, this month, last month). Last month is a thin grey
/// tick; a missing score draws no bar and says "—".
pub fn bar_chart(
    title: &str,
    bars: &[(String, Option<f64>, Option<f64>)],
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let (w, row) = (640.0, 22.0);
    let (label_w, value_w) = (300.0, 48.0);
    let pw = w - label_w - value_w;
    let h = row * bars.len() as f64 + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = write!(s, "<title>{}</title>", escape(title));
    for (i, (label, cur, prev)) in bars.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="label">{}</text>"#,
            label_w - 6.0,
            y + 15.0,
            escape(label)
        );
        let _ = write!(
            s,
            r##"<rect x="{label_w}" y="{:.1}" width="{pw}" height="14" fill="#f0f0f0"/>"##,
            y + 3.0
        );
        if let Some(v) = cur {
            let _ = write!(
                s,
                r##"<rect x="{label_w}" y="{:.1}" width="{:.1}" height="14" fill="#1565c0"/>"##,
                y + 3.0,
                pw * (v / 100.0).clamp(0.0, 1.0)
            );
        }
        if let Some(p) = prev {
            let px = label_w + pw * (p / 100.0).clamp(0.0, 1.0);
            let _ = write!(
                s,
                r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#555" stroke-width="2"/>"##,
                y + 1.0,
                y + 19.0
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
            label_w + pw + 6.0,
            y + 15.0,
            escape(&cur.map_or_else(|| "—".to_string(), fmt))
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three months 0.5, none, 1.0 on a 0..1 axis 640 × 200 with margins 64/12/12/28: plot width
    /// 564, height 160; x(i) = 64 + 564 × (i + 0.5) / 3 → x(0) = 158.0, x(2) = 64 + 470 = 534.0;
    /// y(0.5) = 12 + 80 = 92.0,
    /// y(1.0) = 12.0. The gap leaves two single points and no polyline.
    #[test]
    fn line_chart_geometry_and_gaps() {
        let pts = vec![
            ("a".to_string(), Some(0.5)),
            ("b".to_string(), None),
            ("c".to_string(), Some(1.0)),
        ];
        let s = line_chart("t", &pts, Some(1.0), 1.0, &|v| format!("{v}"));
        assert!(s.contains(r#"cx="158.0" cy="92.0""#), "{s}");
        assert!(s.contains(r#"cx="534.0" cy="12.0""#), "{s}");
        assert!(!s.contains("<polyline"), "{s}");
        assert!(s.contains("stroke-dasharray"));
        assert!(!s.contains("href"));
    }

    /// Score 50 over a 292-wide plot (640 − 300 − 48) → bar width 146.0.
    #[test]
    fn bar_width_is_proportional() {
        let s = bar_chart("t", &[("c & d".to_string(), Some(50.0), None)], &|v| {
            format!("{v}")
        });
        assert!(s.contains(r#"width="146.0""#), "{s}");
        assert!(s.contains("c &amp; d"));
    }
}
