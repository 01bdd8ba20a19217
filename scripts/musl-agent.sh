#!/usr/bin/env bash
# Builds a static vigie-agent for x86_64-unknown-linux-musl (old or minimal distributions), then
# proves it: `file` and `ldd` say static, and `vigie-agent check --root` on every Linux fixture host
# gives the same verdicts (check, status, summary) as the glibc build.
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
# std's unwinder links `-lunwind` (LLVM's libunwind, shipped only in rustup's self-contained
# directory, and its sources are not in Debian's rust-web-src): GCC's static unwinder
# (libgcc_eh.a, the same _Unwind_* interface) stands in.
shim="$CARGO_TARGET_DIR/unwind-shim"
mkdir -p "$shim"
gcc_eh=$(gcc -print-file-name=libgcc_eh.a)
[ -f "$gcc_eh" ] || { echo "musl-agent: libgcc_eh.a not found (gcc -print-file-name): apt-get install gcc" >&2; exit 2; }
# GCC 12's libgcc_eh calls glibc's _dl_find_object: scripts/musl/dl_find_object.c provides it
# from musl's dl_iterate_phdr, in the same archive.
musl-gcc -O2 -fPIC -c scripts/musl/dl_find_object.c -o "$shim/dl_find_object.o"
rm -f "$shim/libunwind.a"
cp "$gcc_eh" "$shim/libunwind.a"
ar rcs "$shim/libunwind.a" "$shim/dl_find_object.o"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static -C link-self-contained=no"
start=$(date +%s)
# `cargo rustc … -- …`: flags for the final crate and link only (in RUSTFLAGS they would rebuild
# every crate when they change): the shim's directory, and a non-PIE executable — Debian's
# musl-gcc specs know `-static` but turn rustc's default `-static-pie` into a dynamic executable
# with /lib/ld-musl-x86_64.so.1 as interpreter.
RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo rustc --locked -Zbuild-std=std,panic_abort \
  --target "$target" -p vigie-agent --bin vigie-agent "${build_args[@]}" -- -L "native=$shim" \
  -C relocation-model=static
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

# The fixture hosts' verdicts: every Linux fixture host, the static binary against the glibc build
# (the one scripts/test.sh tests): same checks, same status, same summary.
linux="${VIGIE_LINUX_AGENT:-$PWD/target/debug/vigie-agent}"
[ -x "$linux" ] || fail "$linux missing: cargo build -p vigie-agent (the glibc build to compare with)"
verdicts() {
  python3 -c 'import json,sys
r = json.load(sys.stdin)
for c in r["results"]:
    print(c["check"], c["status"], c["summary"], sep="\t")'
}
checked=0
for dir in tests/fixtures/hosts/*/; do
  dir="${dir%/}" name="$(basename "$dir")"
  grep -Eq '^os *= *"(macos|windows)"' "$dir/fixture.toml" 2>/dev/null && continue
  # `check` exits 1 when a check fails or errs; what matters is a JSON report on stdout.
  want="$({ "$linux" check --root "$dir" --format json 2>/dev/null || true; } | verdicts)" \
    || fail "$name: the glibc build printed no report"
  got="$({ "$bin" check --root "$dir" --format json 2>/dev/null || true; } | verdicts)" \
    || fail "$name: the static build printed no report"
  if [ "$want" != "$got" ]; then
    diff <(echo "$want") <(echo "$got") >&2 || true
    fail "$name: verdicts differ between the static and the glibc build"
  fi
  checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || fail "no Linux fixture host ran"
echo "musl-agent: OK ($bin static; $checked Linux fixture hosts, same verdicts as the glibc build)" >&2
