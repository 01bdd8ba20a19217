#!/bin/sh
# Rewrite the real-size report bodies used by `vigie-bench scale`: the agent's own report on a few
# fixture hosts of different shapes (Debian with pending updates, a stock cloud image, Duo MFA, Fedora, macOS,
# Windows), compacted to one line as the agent sends it. Run from the repository root after
# `cargo build -p vigie-agent`.
set -eu
agent=${AGENT:-target/debug/vigie-agent}
out=tests/bench/bodies
for host in debian12-apt-mixed debian12-stock-cloud-image debian12-mfa-duo-failmode-safe fedora44-dnf5-issued macos-laptop-compliant windows-updates-past-sla-by-first-seen; do
    state=$(mktemp -d)
    "$agent" check --root "tests/fixtures/hosts/$host" --state-dir "$state" --format json \
        | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), separators=(",", ":")))' \
        > "$out/$host.json"
    rm -rf "$state"
    printf '%s %s bytes\n' "$host" "$(wc -c < "$out/$host.json")"
done
