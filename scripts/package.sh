#!/usr/bin/env bash
# Builds the Debian packages of vigie-agent and vigie-collector into target/debian/ (cargo-deb,
# pinned below; installed into ~/.cargo/bin when absent, so CI caches it with the cargo home).
# Generated inputs go to target/vigie-package/: the systemd units with ExecStart in /usr/bin
# (deploy/systemd/ documents a /usr/local/bin install from source), and the shell completions and
# man pages, written by each binary from its clap definition (`BIN __generate-docs DIR`).
#
#   scripts/package.sh                              release build (what CI and releases ship)
#   VIGIE_PACKAGE_PROFILE=dev scripts/package.sh    the debug build, for quick local iterations
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.6.0
profile=${VIGIE_PACKAGE_PROFILE:-release}
case "$profile" in
  dev) bindir=target/debug ;;
  *) bindir=target/$profile ;;
esac

CARGO_GENERATE_RPM_VERSION=0.16.1
if ! cargo generate-rpm --version 2>/dev/null | grep -q " $CARGO_GENERATE_RPM_VERSION$"; then
  cargo install cargo-generate-rpm --version "$CARGO_GENERATE_RPM_VERSION" --locked
fi
if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION\|$CARGO_DEB_VERSION"; then
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi

# The vendored C code (SQLite, ring) is built by the cc crate from CFLAGS: fortified like Debian's
# own packages (lintian's hardening-no-fortify-functions).
export CFLAGS="${CFLAGS:--O2 -D_FORTIFY_SOURCE=2}"
# vigie_build_info{commit} on the collector's /metrics.
VIGIE_BUILD_COMMIT="${VIGIE_BUILD_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || true)}"
export VIGIE_BUILD_COMMIT
cargo build --locked --profile "$profile" --bins -p vigie-agent -p vigie-collector

gen=target/vigie-package
rm -rf "$gen"
mkdir -p "$gen/systemd"
for b in agent collector; do
  "$bindir/vigie-$b" __generate-docs "$gen/$b" >/dev/null
done
for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
  sed 's#/usr/local/bin/#/usr/bin/#g' "$unit" > "$gen/systemd/${unit##*/}"
done
if grep -n '/usr/local' "$gen"/systemd/*; then
  echo "package.sh: a packaged unit still names /usr/local" >&2
  exit 1
fi

mkdir -p target/debian
for p in vigie-agent vigie-collector; do
  rm -f target/debian/"$p"_*.deb
  cargo deb --locked -p "$p" --no-build --profile "$profile" --output target/debian/
done

# RPMs (cargo-generate-rpm reads [package.metadata.generate-rpm]; asset paths from this directory).
mkdir -p target/generate-rpm
rm -f target/generate-rpm/*.rpm
for p in vigie-agent vigie-collector; do
  cargo generate-rpm -p "${p#vigie-}" --profile "$profile" -o target/generate-rpm/
done
ls -l target/debian/*.deb target/generate-rpm/*.rpm
