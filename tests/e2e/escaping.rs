//! Hostile titles through every output format. Risk, incident and action titles and an exception's
//! reason are typed by people (or imported); they are created here through the real CLI of a
//! real collector, then read back in the five formats that carry them: the monthly report as
//! Markdown and HTML (and JSON), the Atom feed, the CSV exports and the evidence bundle's HTML.
//! Each must show the text exactly and let none of it act as markup.

use std::io::Read;
use std::process::Command;

use vigie_e2e::*;

/// Raw HTML, an image with a handler, a table separator, a link, a code span, an entity, a
/// heading marker: everything a title must not be able to do.
const HOSTILE: &str = "<script>alert(1)</script> <img src=x onerror=alert(2)> | [x](javascript:alert(3)) `c` &amp; *e* #";

fn collector_cmd(c: &Collector, args: &[&str]) -> std::process::Output {
    Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(c: &Collector, args: &[&str]) -> String {
    let out = collector_cmd(c, args);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// What a CommonMark renderer shows for an escaped inline text: backslash escapes and the three
/// entities the renderer writes resolved.
fn markdown_shown(s: &str) -> String {
    let mut o = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            o.extend(chars.next());
        } else {
            o.push(c);
        }
    }
    o.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The cells of a Markdown table row, split on the `|` that are not escaped.
fn md_cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in row
        .trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .chars()
    {
        match c {
            '|' if !escaped => cells.push(String::new()),
            _ => {
                escaped = c == '\\' && !escaped;
                cells.last_mut().unwrap().push(c);
            }
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

/// RFC 4180 records.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = vec![];
    let mut record = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, _) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, _) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// No tag can form and the hostile text shows escaped.
fn assert_html_inert(what: &str, html: &str, expect_escaped: usize) {
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "{what}: raw <script>:\n{html}");
    assert!(!lower.contains("<img"), "{what}: raw <img>:\n{html}");
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;";
    assert!(
        html.matches(escaped).count() >= expect_escaped,
        "{what}: want {expect_escaped} escaped hostile titles:\n{html}"
    );
    // The title's own `&amp;` is shown as typed, so written `&amp;amp;`.
    assert!(html.contains("&amp;amp;"), "{what}: & not escaped");
}

fn get(c: &Collector, path: &str) -> String {
    let r = http()
        .get(format!("{}{path}", c.url))
        .bearer_auth(AUDITOR_TOKEN)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.text().unwrap()
}

#[test]
fn hostile_titles_are_inert_in_every_format() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(
        &t.path().join("collector"),
        0,
        "[actions.roles]\nrssi = [\"ciso\"]\n",
    );
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let month = today.format("%Y-%m").to_string();
    let first = format!("{month}-01");
    let (risk, incident, open_action, done_action, reason) = (
        format!("R {HOSTILE}"),
        format!("# I {HOSTILE}"),
        format!("- A {HOSTILE}"),
        format!("1. D {HOSTILE}"),
        format!("E {HOSTILE}"),
    );
    ok(
        &c,
        &[
            "risk",
            "add",
            &format!("--title={risk}"),
            "--likelihood",
            "4",
            "--impact",
            "4",
            "--treatment",
            "reduce",
            "--owner",
            "alice",
        ],
    );
    let at = |h: i64| {
        (now - chrono::Duration::hours(h))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    ok(
        &c,
        &[
            "incident",
            "add",
            "--id",
            "INC-1",
            &format!("--title={incident}"),
            "--type",
            "phishing",
            "--severity",
            "minor",
            "--occurred-at",
            &at(2),
            "--detected-at",
            &at(1),
        ],
    );
    let due = (today + chrono::Duration::days(20)).to_string();
    ok(
        &c,
        &[
            "action",
            "add",
            &format!("--title={open_action}"),
            "--priority",
            "p1",
            "--owner",
            "bob",
            "--due",
            &due,
            "--risk",
            "1",
        ],
    );
    ok(
        &c,
        &[
            "action",
            "add",
            &format!("--title={done_action}"),
            "--priority",
            "p2",
            "--owner",
            "bob",
            "--due",
            &due,
        ],
    );
    ok(
        &c,
        &[
            "action",
            "close",
            "2",
            "--evidence-url",
            "https://example.invalid/done",
            "--approver",
            "ciso",
        ],
    );
    let expires = (today + chrono::Duration::days(10)).to_string();
    ok(
        &c,
        &[
            "exception",
            "add",
            "--check",
            "mfa",
            "--scope",
            "fleet",
            &format!("--reason={reason}"),
            "--requester",
            "carol",
            "--approver",
            "ciso",
            "--expires",
            &expires,
        ],
    );

    // The monthly report (this month's draft), in English. A draft is judged at the current
    // second, and a risk created during that second is not yet in it: start on the next one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = t.path().join("report");
    ok(
        &c,
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "html,md,json",
            "--lang",
            "en",
        ],
    );
    let read = |ext: &str| {
        std::fs::read_to_string(out.join(format!("vigie-report-{month}.en.{ext}")))
            .or_else(|_| std::fs::read_to_string(out.join(format!("vigie-report-{month}.{ext}"))))
            .unwrap()
    };

    // Markdown: no raw `<` at all, no unescaped link, code span or emphasis, every table row as
    // many cells as its header, and each hostile text shown exactly as typed.
    let md = read("md");
    assert!(!md.contains('<'), "raw < in the Markdown report:\n{md}");
    for (i, _) in md.match_indices("](") {
        assert!(md[..i].ends_with('\\'), "a link formed at byte {i}:\n{md}");
    }
    for (i, _) in md.match_indices(['`', '*']) {
        assert!(
            md[..i].ends_with('\\'),
            "unescaped ` or * at byte {i}:\n{md}"
        );
    }
    let mut header_cells = None;
    let mut shown = vec![];
    for line in md.lines() {
        if !line.starts_with('|') {
            header_cells = None;
            continue;
        }
        let cells = md_cells(line);
        let want = *header_cells.get_or_insert(cells.len());
        assert_eq!(cells.len(), want, "table row split by a title: {line}");
        shown.extend(cells.iter().map(|c| markdown_shown(c)));
    }
    // (The open P1 action is not due yet: the report lists only overdue and done actions.)
    for text in [&risk, &incident, &done_action, &reason] {
        assert!(
            shown.iter().any(|s| s == text),
            "{text:?} not shown exactly in a Markdown table:\n{md}"
        );
    }
    for line in md.lines().filter(|l| l.contains("alert(")) {
        assert!(
            line.starts_with('|'),
            "hostile text outside a table: {line}"
        );
    }

    // HTML report: the risk, the incident, the done action and the exception.
    assert_html_inert("HTML report", &read("html"), 4);

    // JSON report: the titles round-trip as data.
    let json: serde_json::Value = serde_json::from_str(&read("json")).unwrap();
    let text = json.to_string();
    for s in [&risk, &incident, &done_action, &reason] {
        assert!(
            text.contains(&serde_json::Value::String(s.to_string()).to_string()),
            "{s:?} missing from the JSON report"
        );
    }

    // Atom feed.
    let atom = get(&c, "/feeds/risks.atom");
    assert_html_inert("Atom feed", &atom, 1);
    assert!(!atom.contains("<x>") && atom.starts_with("<?xml"), "{atom}");

    // CSV: every record has the header's width, the title field is the text exactly.
    for (path, title, col) in [
        ("/api/v1/risks.csv", &risk, "title"),
        ("/api/v1/actions.csv", &open_action, "title"),
        ("/api/v1/actions.csv", &done_action, "title"),
        ("/api/v1/exceptions.csv", &reason, "reason"),
    ] {
        // A field that a spreadsheet would take for a formula (`=`, `+`, `-`, `@`) is written
        // with a leading `'`.
        let title = &if title.starts_with(['=', '+', '-', '@']) {
            format!("'{title}")
        } else {
            title.to_string()
        };
        let records = csv_records(&get(&c, path));
        let header = &records[0];
        let i = header.iter().position(|h| h == col).unwrap();
        assert!(
            records.iter().all(|r| r.len() == header.len()),
            "{path}: {records:?}"
        );
        assert!(
            records[1..].iter().any(|r| &r[i] == title),
            "{path}: no record with {col} = {title:?}: {records:?}"
        );
    }

    // The evidence bundle's HTML pages.
    let zip = t.path().join("bundle.zip");
    ok(
        &c,
        &[
            "evidence",
            "export",
            "--from",
            &first,
            "--to",
            &today.to_string(),
            "--out",
            zip.to_str().unwrap(),
        ],
    );
    let mut a = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    for (page, n) in [
        ("incidents.html", 1),
        ("actions.html", 1),
        ("exceptions.html", 1),
    ] {
        let mut html = String::new();
        a.by_name(page).unwrap().read_to_string(&mut html).unwrap();
        assert_html_inert(page, &html, n);
    }
    for i in 0..a.len() {
        let mut f = a.by_index(i).unwrap();
        if f.name().ends_with(".html") {
            let name = f.name().to_string();
            let mut html = String::new();
            f.read_to_string(&mut html).unwrap();
            assert!(!html.to_lowercase().contains("<script"), "{name}");
            assert!(!html.to_lowercase().contains("<img"), "{name}");
        }
    }
}
