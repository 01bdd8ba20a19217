#!/usr/bin/env bash
# Builds a static vigie-agent for x86_64-unknown-linux-musl (old or minimal distributions), then
# proves it: `file` and `ldd` say static, and `vigie-agent check --root` on fixture hosts gives the
# verdicts their expected.toml names.
#
# rustup's musl standard library is not installable here, so, like scripts/cross-check.sh, this
# builds `std` from Debian's Rust sources (rust-web-src) with Debian's toolchain (rustc-web,
# cargo-web) and -Zbuild-std (RUSTC_BOOTSTRAP=1 on that stable compiler). Debian's musl-tools gives
# the C compiler for the vendored C code (ring) and the linker with musl's crt objects and libc.a:
# rustc's own self-contained copies of them ship only with rustup's target.
#
# Usage: scripts/musl-agent.sh [--release]   (binary: target/musl/x86_64-unknown-linux-musl/<profile>/vigie-agent)
# Needs: apt-get install rustc-web cargo-web rust-web-src musl-tools file
#        (VIGIE_CROSS_INSTALL=1 installs them)
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
profile=debug
build_args=()
if [ "${1:-}" = --release ]; then profile=release; build_args+=(--release); fi

need=()
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || need+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || need+=(rust-web-src)
command -v musl-gcc >/dev/null 2>&1 || need+=(musl-tools)
command -v file >/dev/null 2>&1 || need+=(file)
if [ ${#need[@]} -gt 0 ]; then
  if [ "${VIGIE_CROSS_INSTALL:-0}" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "musl-agent: missing ${need[*]}: apt-get install ${need[*]} (or VIGIE_CROSS_INSTALL=1)" >&2
    exit 2
  fi
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/musl}"
export CC_x86_64_unknown_linux_musl=musl-gcc
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_LINKER=musl-gcc
# musl-gcc brings crt1.o and libc.a; rustc must not look for its own (absent) self-contained ones.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static -C link-self-contained=no"
start=$(date +%s)
RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo build --locked -Zbuild-std=std,panic_abort \
  --target "$target" -p vigie-agent "${build_args[@]}"
bin="$CARGO_TARGET_DIR/$target/$profile/vigie-agent"
echo "musl-agent: built $bin in $(( $(date +%s) - start ))s" >&2

fail() { echo "musl-agent: FAIL: $*" >&2; exit 1; }
desc=$(file -b "$bin")
echo "musl-agent: file: $desc" >&2
case "$desc" in
  *"statically linked"* | *"static-pie linked"*) ;;
  *) fail "file does not say static: $desc" ;;
esac
ldd_out=$(ldd "$bin" 2>&1 || true)
echo "musl-agent: ldd: $ldd_out" >&2
case "$ldd_out" in
  *"not a dynamic executable"* | *"statically linked"*) ;;
  *) fail "ldd lists shared libraries: $ldd_out" ;;
esac
"$bin" --version >/dev/null || fail "$bin --version"

# The fixture hosts' verdicts: each check's status in expected.toml against the static binary's.
checked=0
for host in debian12-baseline debian12-apt-mixed container-overlay; do
  dir=tests/fixtures/hosts/$host
  [ -d "$dir" ] || fail "fixture host $dir missing"
  rc=0
  "$bin" check --root "$dir" --format json > "$CARGO_TARGET_DIR/$host.json" || rc=$?
  [ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "vigie-agent check --root $dir exited $rc"
  python3 - "$dir/expected.toml" "$CARGO_TARGET_DIR/$host.json" <<'EOF' || fail "verdicts differ on $host"
import json, sys, tomllib
expected = tomllib.load(open(sys.argv[1], "rb"))
got = {r["check"]: r["status"] for r in json.load(open(sys.argv[2]))["results"]}
want = {k: v["status"] for k, v in expected.items() if isinstance(v, dict) and "status" in v}
bad = [f"{k}: expected {w}, got {got.get(k)}" for k, w in want.items() if got.get(k) != w]
if bad or not want:
    print("\n".join(bad) or "no expectation read", file=sys.stderr)
    sys.exit(1)
print(f"musl-agent: {sys.argv[1]}: {len(want)} verdicts as expected", file=sys.stderr)
EOF
  checked=$((checked + 1))
done
echo "musl-agent: OK ($bin static, $checked fixture hosts)" >&2
