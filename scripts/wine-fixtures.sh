#!/usr/bin/env bash
# Runs the Windows agent (vigie-agent.exe, built by scripts/cross-check.sh) under Wine against every
# Windows fixture host, runs the Linux build against the same hosts, and fails unless both report the
# same checks with the same status and summary.
#
# Usage: scripts/wine-fixtures.sh        (needs: wine64, target/debug/vigie-agent, the .exe)
# Needs: apt-get install wine64 (set VIGIE_CROSS_INSTALL=1 to do it here)
set -euo pipefail
cd "$(dirname "$0")/.."

exe="${VIGIE_WINDOWS_EXE:-$PWD/target/cross/x86_64-pc-windows-gnu/debug/vigie-agent.exe}"
linux="${VIGIE_LINUX_AGENT:-$PWD/target/debug/vigie-agent}"
wine=""
for w in wine64 /usr/lib/wine/wine64 wine; do
  if command -v "$w" >/dev/null 2>&1; then wine="$w"; break; fi
done
if [ -z "$wine" ] && [ "${VIGIE_CROSS_INSTALL:-0}" = 1 ]; then
  apt-get install -y -qq --no-install-recommends wine64
  wine=/usr/lib/wine/wine64
fi
[ -n "$wine" ] || { echo "wine-fixtures: wine64 missing: apt-get install wine64" >&2; exit 2; }
[ -f "$exe" ] || { echo "wine-fixtures: $exe missing: run scripts/cross-check.sh x86_64-pc-windows-gnu" >&2; exit 2; }
[ -x "$linux" ] || { echo "wine-fixtures: $linux missing: cargo build -p vigie-agent" >&2; exit 2; }

# A Wine prefix of our own, next to the .exe; no Mono/Gecko installers, no debug chatter.
export WINEPREFIX="${WINEPREFIX:-$PWD/target/cross/wineprefix}"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
# Debian's Wine 8.0 has no bcryptprimitives.dll, whose ProcessPrng Rust's std (1.78+) imports for
# randomness: without it the .exe does not start (`Library bcryptprimitives.dll ... not found`,
# status c0000135). A test-only stand-in (scripts/wine/bcryptprimitives.c, over RtlGenRandom) goes into
# the prefix's system32; real Windows 10+ ships the DLL, so the agent never carries it.
"$wine" wineboot --init >/dev/null 2>&1 || true
sys32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$sys32/bcryptprimitives.dll" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared -o "$sys32/bcryptprimitives.dll" \
    scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
fi

# What is compared: each check's id, status and summary, in report order.
verdicts() {
  python3 -c 'import json,sys
r = json.load(sys.stdin)
for c in r["results"]:
    print(c["check"], c["status"], c["summary"], sep="\t")'
}

# Both builds read the same, explicit, empty configuration (defaults): without --config the Linux build
# would read /etc/vigie/agent.toml when a package installed one on this machine.
nocfg="$(mktemp)"; trap 'rm -f "$nocfg"' EXIT
fail=0 n=0
for dir in tests/fixtures/hosts/windows-*/; do
  dir="${dir%/}" name="$(basename "$dir")"
  # `check` exits 1 when a check fails or errs; what matters is a JSON report on stdout.
  want="$({ "$linux" --config "$nocfg" check --root "$dir" --format json || true; } | verdicts)" \
    || { echo "$name: the Linux build printed no report" >&2; fail=1; continue; }
  got="$({ "$wine" "$exe" --config "Z:$(echo "$nocfg" | tr / '\\')" check --root "Z:$(echo "$PWD/$dir" | tr / '\\')" --format json || true; } | tr -d '\r' | verdicts)" \
    || { echo "$name: vigie-agent.exe under Wine printed no report" >&2; fail=1; continue; }
  n=$((n + 1))
  if [ "$want" != "$got" ]; then
    echo "$name: verdicts differ" >&2
    diff <(echo "$want") <(echo "$got") >&2 || true
    fail=1
  fi
done
[ "$n" -gt 0 ] || { echo "wine-fixtures: no Windows fixture host ran" >&2; exit 1; }
# The configuration the MSI installs (deploy/windows/agent.toml) loads and validates in the Windows
# build (exit 2 on a configuration error; inventory passes on this host).
winpath() { echo "Z:$(echo "$PWD/$1" | tr / '\\')"; }
"$wine" "$exe" --config "$(winpath deploy/windows/agent.toml)" check --only inventory \
  --root "$(winpath tests/fixtures/hosts/windows-bitlocker-on)" --format json >/dev/null \
  || { echo "wine-fixtures: vigie-agent.exe refuses deploy/windows/agent.toml" >&2; fail=1; }
# The state directory's ACL (agent/src/acl.rs: SYSTEM and Administrators only, protected). Wine
# maps a DACL onto Unix permission bits, so this is what can be seen here: a directory Wine creates
# without an ACL of ours is world-readable (755), the agent's state directory must give "other"
# nothing. `run --once` creates the state directory, then stops (no node key: exit 3).
acl="$(mktemp -d)"
printf '[collector]\nurl = "https://127.0.0.1:9"\n' >"$acl/agent.toml"
"$wine" cmd /c mkdir "Z:$(echo "$acl/control" | tr / '\\')" >/dev/null 2>&1 || true
"$wine" "$exe" --config "Z:$(echo "$acl/agent.toml" | tr / '\\')" run --once \
  --state-dir "Z:$(echo "$acl/state" | tr / '\\')" --root "$(winpath tests/fixtures/hosts/windows-bitlocker-on)" \
  >/dev/null 2>&1 || true
control="$(stat -c %a "$acl/control" 2>/dev/null || echo none)" state="$(stat -c %a "$acl/state" 2>/dev/null || echo none)"
if [ "$state" = none ] || [ "${state: -1}" != 0 ] || [ "${control: -1}" = 0 ]; then
  echo "wine-fixtures: state directory mode $state (a plain Wine directory: $control): the SYSTEM/Administrators-only ACL is not applied" >&2
  fail=1
fi
rm -rf "$acl"

[ "$fail" = 0 ] || exit 1
echo "wine-fixtures: $n Windows fixture hosts, same verdicts from vigie-agent.exe (Wine) and the Linux build; example config loads; state directory ACL applied ($state)" >&2
