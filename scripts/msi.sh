#!/usr/bin/env bash
# Builds the Windows installer (target/msi/vigie-agent.msi) from the cross-built vigie-agent.exe with
# wixl (msitools), then checks what it holds with msiinfo: the File, Component, Directory,
# ServiceInstall and ServiceControl rows the agent needs.
#
# Usage: scripts/msi.sh   (needs: the .exe from scripts/cross-check.sh x86_64-pc-windows-gnu, wixl, msiinfo)
# Needs: apt-get install wixl msitools (set VIGIE_CROSS_INSTALL=1 to do it here)
set -euo pipefail
cd "$(dirname "$0")/.."

exe="${VIGIE_WINDOWS_EXE:-$PWD/target/cross/x86_64-pc-windows-gnu/debug/vigie-agent.exe}"
out="$PWD/target/msi/vigie-agent.msi"
if ! command -v wixl >/dev/null || ! command -v msiinfo >/dev/null; then
  if [ "${VIGIE_CROSS_INSTALL:-0}" = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wixl msitools
  else
    echo "msi: wixl or msiinfo missing: apt-get install wixl msitools" >&2; exit 2
  fi
fi
[ -f "$exe" ] || { echo "msi: $exe missing: run scripts/cross-check.sh x86_64-pc-windows-gnu" >&2; exit 2; }
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
[ -n "$version" ] || { echo "msi: no version in Cargo.toml [workspace.package]" >&2; exit 2; }

mkdir -p "$(dirname "$out")"
# wixl refuses absolute Source paths: both are given relative to the repository root.
wixl -a x64 -D Version="$version" -D AgentExe="$(realpath --relative-to=. "$exe")" \
  -D AgentConfig=deploy/windows/agent.toml -o "$out" deploy/windows/vigie-agent.wxs
# wixl does not know Component/@Permanent and @NeverOverwrite (it warns and drops them): set the bits
# in the Component table instead. 256 = 64-bit component, 16 = permanent (uninstall leaves the file),
# 128 = never overwrite (an upgrade keeps the operator's configuration).
msibuild "$out" -q "UPDATE \`Component\` SET \`Attributes\` = 400 WHERE \`Component\` = 'AgentConfig'"

# ---- what the package holds --------------------------------------------------------------------
fail=0
row() { # table, tab-separated expected row (exact)
  if ! msiinfo export "$out" "$1" | tr -d '\r' | grep -qxF "$2"; then
    echo "msi: table $1 lacks the row: $2" >&2
    msiinfo export "$out" "$1" >&2 || true
    fail=1
  fi
}
tables="$(msiinfo tables "$out")"
for t in File Component Directory ServiceInstall ServiceControl Feature FeatureComponents Media; do
  grep -qx "$t" <<<"$tables" || { echo "msi: no $t table" >&2; fail=1; }
done
size="$(stat -c %s "$exe")"
T=$'\t'
row File "VigieAgentExe${T}AgentExe${T}vigie-agent.exe${T}${size}${T}${T}${T}512${T}1"
row File "AgentToml${T}AgentConfig${T}agent.toml${T}$(stat -c %s deploy/windows/agent.toml)${T}${T}${T}512${T}2"
row Component "AgentExe${T}{3F2B6D1C-8E4A-4C7B-B5D2-1A9E0F6C3B72}${T}INSTALLDIR${T}256${T}${T}VigieAgentExe"
row Component "AgentConfig${T}{9D4E7A25-0C6B-4F13-8E2A-5B7C3D1F9A04}${T}VIGIEDATA${T}400${T}${T}AgentToml"
row Directory "INSTALLDIR${T}ProgramFiles64Folder${T}Vigie"
row Directory "VIGIEDATA${T}CommonAppDataFolder${T}Vigie"
# 16 own process, 3 demand start, 1 normal error control, LocalSystem, `service run`.
row ServiceInstall "VigieAgentService${T}VigieAgent${T}Vigie Agent${T}16${T}3${T}1${T}${T}${T}LocalSystem${T}${T}service run${T}AgentExe${T}Runs the Vigie compliance checks every interval and reports them to the collector"
# 162 = stop on install (2) + stop (32) and delete (128) on uninstall; wait for it.
row ServiceControl "VigieAgentServiceControl${T}VigieAgent${T}162${T}${T}1${T}AgentExe"
# The executable in the cabinet is the one built (same bytes).
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && msiextract "$out" >/dev/null)
got="$(find "$tmp" -name vigie-agent.exe | head -1)"
if [ -z "$got" ] || ! cmp -s "$got" "$exe"; then echo "msi: the packaged vigie-agent.exe differs from $exe" >&2; fail=1; fi
[ "$fail" = 0 ] || exit 1
echo "msi: $out ($(stat -c %s "$out") bytes): File, Component, Directory, ServiceInstall, ServiceControl rows as expected" >&2
