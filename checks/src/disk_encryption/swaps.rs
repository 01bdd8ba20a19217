//! Parser for `/proc/swaps`: the active swap areas, partitions (block devices) or files.

use super::mountinfo::unescape;

/// One active swap area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    /// The device node or file path, octal escapes decoded (`/dev/dm-2`, `/swapfile`).
    pub filename: String,
    /// `partition` (a block device) or `file`.
    pub kind: SwapKind,
}

/// What backs a swap area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapKind {
    /// A block device (`partition` in the Type column, whatever the device really is).
    Partition,
    /// A swap file on a mounted filesystem.
    File,
}

/// Why a `/proc/swaps` text could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwapsError {
    #[error("missing the `Filename Type Size Used Priority` header")]
    NoHeader,
    #[error("line {line}: {reason}: {text:?}")]
    Malformed {
        line: usize,
        reason: &'static str,
        text: String,
    },
}

/// Parse `/proc/swaps`. A header with no lines below it means no swap.
pub fn parse_swaps(text: &str) -> Result<Vec<Swap>, SwapsError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    if !header
        .split_ascii_whitespace()
        .eq(["Filename", "Type", "Size", "Used", "Priority"])
    {
        return Err(SwapsError::NoHeader);
    }
    let mut swaps = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| SwapsError::Malformed {
            line: i + 1,
            reason,
            text: line.chars().take(120).collect(),
        };
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() != 5 {
            return Err(bad("expected 5 fields"));
        }
        if fields[2].parse::<u64>().is_err() || fields[3].parse::<u64>().is_err() {
            return Err(bad("size or used is not a number"));
        }
        let kind = match fields[1] {
            "partition" => SwapKind::Partition,
            "file" => SwapKind::File,
            _ => return Err(bad("type is neither partition nor file")),
        };
        swaps.push(Swap {
            filename: unescape(fields[0]),
            kind,
        });
    }
    Ok(swaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_is_no_swap() {
        // This Debian 12 microVM (checks-reference §2.1: "header only").
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        assert_eq!(parse_swaps(text).unwrap(), vec![]);
    }

    #[test]
    fn parses_partitions_files_and_zram() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                    /dev/dm-2                               partition\t8388604\t\t0\t\t-2\n\
                    /swap\\040file                           file\t\t2097148\t\t0\t\t-3\n\
                    /dev/zram0                              partition\t4194300\t\t1024\t\t100\n";
        let s = parse_swaps(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[0],
            Swap {
                filename: "/dev/dm-2".into(),
                kind: SwapKind::Partition
            }
        );
        assert_eq!(
            s[1],
            Swap {
                filename: "/swap file".into(),
                kind: SwapKind::File
            }
        );
        assert_eq!(s[2].filename, "/dev/zram0");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_swaps("nonsense\n"), Err(SwapsError::NoHeader));
        assert_eq!(parse_swaps(""), Err(SwapsError::NoHeader));
        let err = parse_swaps("Filename Type Size Used Priority\n/dev/sda2 partition big 0 -2\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }
}
