#!/usr/bin/env bash
# The test command (README): build the binaries the end-to-end tests start, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
