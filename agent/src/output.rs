//! Standard output for the commands that print (`check`, `list`, `enroll`).
//!
//! Rust ignores SIGPIPE, so `println!` panics (exit 101) when the reader has gone away, as in
//! `vigie-agent check --format json | head`. A reader that stopped reading is the reader's choice,
//! not an error of the agent: the rest of the output is dropped quietly and the command exits with
//! the code it would have had (for `check`, the checks' verdict). Any other write error is one.

use std::io::{ErrorKind, Write as _};

use anyhow::Context as _;

/// Write `text` to standard output and flush it; a closed pipe is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}
