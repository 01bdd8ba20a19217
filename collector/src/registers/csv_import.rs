//! Reading register CSV files into typed rows. Every row is checked before anything is written, and
//! an error names the file and the CSV line (the header is line 1), so a file is imported whole or
//! not at all.

use std::collections::HashMap;
use std::path::Path;

use super::incident::{parse_bool, parse_time, Incident};
use super::training::{parse_day, Completion, Person};

/// Columns of an incident file, in this order.
pub const INCIDENT_COLUMNS: &[&str] = &[
    "id",
    "title",
    "type",
    "severity",
    "occurred_at",
    "detected_at",
    "contained_at",
    "resolved_at",
    "personal_data",
    "notified_at",
    "team",
    "description",
    "actions",
];

/// Columns of a roster file, in this order.
pub const ROSTER_COLUMNS: &[&str] = &["person_id", "name", "email", "department", "active"];

/// Columns of a training file, in this order.
pub const TRAINING_COLUMNS: &[&str] = &["person_id", "course", "completed_at"];

/// Why a file cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    /// A line is wrong; nothing was written. `line` is the text line where the record starts
    /// (header = 1); `at` adds the spreadsheet row when a quoted field spans lines.
    #[error("{file} line {line}{at}: {message}; nothing was imported")]
    Line {
        file: String,
        line: u64,
        at: String,
        message: String,
    },
}

/// A parsed row and the CSV line it started on.
#[derive(Debug, Clone, PartialEq)]
pub struct Lined<T> {
    /// CSV line (header = 1).
    pub line: u64,
    /// Record number (header = 1): the spreadsheet row; differs from `line` after a multi-line
    /// quoted field.
    pub row_number: u64,
    /// The row.
    pub row: T,
}

/// Read `path` as CSV with exactly `columns`, and hand each record's fields to `parse`.
fn read_rows<T>(
    path: &Path,
    columns: &[&str],
    mut parse: impl FnMut(&[&str]) -> Result<T, String>,
) -> Result<Vec<Lined<T>>, ImportError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ImportError::Read {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let line_err = |line: u64, message: String| ImportError::Line {
        file: file.clone(),
        line,
        at: String::new(),
        message,
    };
    // A NUL is never text (and truncates C strings downstream): refuse the file, naming the line.
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(line_err(
            line_at(&bytes, at as u64),
            format!("contains a NUL byte (byte {at}); export the file again as UTF-8 text"),
        ));
    }
    let row_err = |line: u64, row: u64, message: String| ImportError::Line {
        file: file.clone(),
        line,
        at: row_label(line, row),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let mut records = rdr.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(line_err(1, e.to_string())),
        None => return Err(line_err(1, "the file is empty: expected a header".into())),
    };
    let got: Vec<&str> = header.iter().collect();
    if got != columns {
        return Err(line_err(
            1,
            format!(
                "header must be exactly `{}`, found `{}`",
                columns.join(","),
                got.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    let mut row_number = 1;
    for record in records {
        row_number += 1;
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| line_at(&bytes, p.byte()));
            line_err(line, e.to_string())
        })?;
        // Counted from the byte offset: csv's own line count is off by one after CRLF line ends.
        let line = record.position().map_or(0, |p| line_at(&bytes, p.byte()));
        if record.iter().all(str::is_empty) {
            continue; // A blank line at the end of a spreadsheet export.
        }
        if record.len() != columns.len() {
            return Err(row_err(
                line,
                row_number,
                format!(
                    "{} fields, expected {} ({})",
                    record.len(),
                    columns.len(),
                    columns.join(",")
                ),
            ));
        }
        let fields: Vec<&str> = record.iter().collect();
        let row = parse(&fields).map_err(|m| row_err(line, row_number, m))?;
        rows.push(Lined {
            line,
            row_number,
            row,
        });
    }
    Ok(rows)
}

/// The 1-based line holding byte `offset` (a record starting right after a `\n` is on the next
/// line; one starting on the `\n` of a CRLF is too).
fn line_at(bytes: &[u8], offset: u64) -> u64 {
    let end = (offset as usize).min(bytes.len());
    let mut line = 1 + bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64;
    if bytes.get(end) == Some(&b'\n') {
        line += 1;
    }
    line
}

fn row_label(line: u64, row: u64) -> String {
    if line == row {
        String::new()
    } else {
        format!(" (spreadsheet row {row})")
    }
}

/// Refuse a second row with the same key, naming both lines.
fn no_duplicates<T>(
    path: &Path,
    rows: &[Lined<T>],
    what: &str,
    key: impl Fn(&T) -> String,
) -> Result<(), ImportError> {
    let mut seen: HashMap<String, u64> = HashMap::new();
    for r in rows {
        let k = key(&r.row);
        if let Some(first) = seen.insert(k.clone(), r.line) {
            return Err(ImportError::Line {
                file: path.display().to_string(),
                line: r.line,
                at: row_label(r.line, r.row_number),
                message: format!("{what} {k:?} already appears on line {first}"),
            });
        }
    }
    Ok(())
}

/// Read and validate an incident file.
pub fn read_incidents(path: &Path) -> Result<Vec<Lined<Incident>>, ImportError> {
    let rows = read_rows(path, INCIDENT_COLUMNS, |f| {
        let incident = Incident {
            id: f[0].to_string(),
            title: f[1].to_string(),
            kind: f[2].parse().map_err(|e| format!("type: {e}"))?,
            severity: f[3].parse().map_err(|e| format!("severity: {e}"))?,
            occurred_at: parse_time("occurred_at", f[4])?,
            detected_at: parse_time("detected_at", f[5])?,
            contained_at: parse_time("contained_at", f[6])?,
            resolved_at: parse_time("resolved_at", f[7])?,
            personal_data: parse_bool("personal_data", f[8])?,
            notified_at: parse_time("notified_at", f[9])?,
            team: f[10].to_string(),
            description: f[11].to_string(),
            actions: f[12].to_string(),
        };
        incident.validate()?;
        Ok(incident)
    })?;
    no_duplicates(path, &rows, "incident id", |i| i.id.clone())?;
    Ok(rows)
}

/// Read and validate a roster file.
pub fn read_roster(path: &Path) -> Result<Vec<Lined<Person>>, ImportError> {
    let rows = read_rows(path, ROSTER_COLUMNS, |f| {
        if f[0].is_empty() {
            return Err("person_id must not be empty".into());
        }
        Ok(Person {
            person_id: f[0].to_string(),
            name: f[1].to_string(),
            email: f[2].to_string(),
            department: f[3].to_string(),
            active: parse_bool("active", f[4])?,
        })
    })?;
    no_duplicates(path, &rows, "person_id", |p| p.person_id.clone())?;
    Ok(rows)
}

/// Read and validate a training file (the people are checked against the roster at import).
pub fn read_training(path: &Path) -> Result<Vec<Lined<Completion>>, ImportError> {
    let rows = read_rows(path, TRAINING_COLUMNS, |f| {
        if f[0].is_empty() {
            return Err("person_id must not be empty".into());
        }
        if f[1].is_empty() {
            return Err("course must not be empty".into());
        }
        Ok(Completion {
            person_id: f[0].to_string(),
            course: f[1].to_string(),
            completed_on: parse_day("completed_at", f[2])?,
        })
    })?;
    no_duplicates(path, &rows, "completion", |c| {
        format!("{} / {} / {}", c.person_id, c.course, c.completed_on)
    })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    /// Spreadsheet exports: a UTF-8 byte-order mark, CRLF line ends and a blank last line.
    #[test]
    fn spreadsheet_exports_are_read() {
        let (_d, p) = write(
            "\u{feff}person_id,course,completed_at\r\nP001,Cyber,2026-01-02\r\n\r\n".as_bytes(),
        );
        let rows = read_training(&p).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].line, 2);
    }

    #[test]
    fn a_nul_byte_refuses_the_file_naming_its_line() {
        let (_d, p) = write(
            b"person_id,course,completed_at\nP001,Cyber,2026-01-02\nP002,Cy\0ber,2026-01-02\n",
        );
        let e = read_training(&p).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("NUL byte"), "{e}");
        assert!(e.contains("nothing was imported"), "{e}");
    }

    #[test]
    fn crlf_and_bom_lines() {
        let (_d, p) = write(b"person_id,course,completed_at\r\nP001,Cyber,2026-01-02\r\n");
        assert_eq!(read_training(&p).unwrap()[0].line, 2, "crlf");
        let (_d, p) =
            write("\u{feff}person_id,course,completed_at\nP001,Cyber,2026-01-02\n".as_bytes());
        assert_eq!(read_training(&p).unwrap()[0].line, 2, "bom");
    }

    #[test]
    fn field_counts_duplicates_and_empty_files() {
        let (_d, p) = write(b"person_id,course,completed_at\nP001,Cyber\n");
        let e = read_training(&p).unwrap_err().to_string();
        assert!(e.contains("line 2: 2 fields, expected 3"), "{e}");
        let (_d, p) = write(
            b"person_id,name,email,department,active\nP1,A,a@x,D,true\nP2,B,b@x,D,false\nP1,A,a@x,D,true\n",
        );
        let e = read_roster(&p).unwrap_err().to_string();
        assert!(
            e.contains("line 4: person_id \"P1\" already appears on line 2"),
            "{e}"
        );
        let (_d, p) = write(b"");
        let e = read_roster(&p).unwrap_err().to_string();
        assert!(e.contains("line 1: the file is empty"), "{e}");
        let e = read_roster(std::path::Path::new("/nonexistent/roster.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/roster.csv: cannot read"), "{e}");
    }
}
