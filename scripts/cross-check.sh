#!/usr/bin/env bash
# Type-checks vigie-agent for macOS (aarch64 and x86_64) from a Linux machine.
#
# rustup's standard library for Apple targets is not installed on CI machines, so this builds `std` from the
# Rust sources Debian packages (rust-web-src) with Debian's toolchain (rustc-web, cargo-web) and
# `-Zbuild-std` (RUSTC_BOOTSTRAP=1 unlocks the unstable flag on that stable compiler). It is a type check, not a
# link: there is no Apple SDK or linker here, which is also why the agent uses native-tls rather than rustls
# (ring's C code) on macOS. rustup's toolchain stays first on PATH for everything else; this script names
# Debian's binaries explicitly.
#
# Usage: scripts/cross-check.sh [target ...]   (default: aarch64-apple-darwin x86_64-apple-darwin)
# Needs: apt-get install rustc-web cargo-web rust-web-src  (CI installs them; set VIGIE_CROSS_INSTALL=1 to do it here)
set -euo pipefail
cd "$(dirname "$0")/.."

have_debian_rust() { [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]; }
if [ "${VIGIE_CROSS_INSTALL:-0}" = 1 ] && ! have_debian_rust; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src
fi
for f in /usr/bin/cargo /usr/bin/rustc; do
  [ -x "$f" ] || { echo "cross-check: $f missing: apt-get install rustc-web cargo-web rust-web-src" >&2; exit 2; }
done
[ -d /usr/lib/rustlib/src/rust/library ] \
  || { echo "cross-check: Rust sources missing (/usr/lib/rustlib/src/rust/library): apt-get install rust-web-src" >&2; exit 2; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-gnu)

# A target dir of its own: Debian's compiler must not share (and invalidate) rustup's build cache in target/.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/cross}"
for t in "${targets[@]}"; do
  # ---- Windows (issue 12) --------------------------------------------------------------------------
  # x86_64-pc-windows-gnu is built and linked, not only type-checked: MinGW-w64's gcc is the linker
  # (.cargo/config.toml). The .exe lands in target/cross/x86_64-pc-windows-gnu/debug/vigie-agent.exe,
  # where scripts/wine-fixtures.sh runs it under Wine against the Windows fixture hosts.
  if [ "$t" = x86_64-pc-windows-gnu ]; then
    if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
      if [ "${VIGIE_CROSS_INSTALL:-0}" = 1 ]; then
        apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64
      else
        echo "cross-check: x86_64-w64-mingw32-gcc missing: apt-get install gcc-mingw-w64-x86-64" >&2; exit 2
      fi
    fi
    echo "cross-check: building vigie-agent.exe for $t" >&2
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo build --locked -Zbuild-std=std,panic_abort \
      --target "$t" -p vigie-agent
    continue
  fi
  # ---- end Windows ---------------------------------------------------------------------------------
  echo "cross-check: vigie-agent for $t" >&2
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo check --locked -Zbuild-std=std,panic_abort \
    --target "$t" -p vigie-agent
done
