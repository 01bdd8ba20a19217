#!/usr/bin/env bash
# Property-based API test (issue 15): start a real vigie-collector on a temporary data directory,
# seed it through the API (enrolled hosts, risks, an action), then run schemathesis against the
# served /api/v1/openapi.json with an admin token. Fails on any 5xx and on any answer that does not
# conform to the document (status code, content type, body schema).
#
#   scripts/schemathesis.sh            # uses target/debug/vigie-collector (built if missing)
#   VIGIE_SCHEMATHESIS_EXAMPLES=200 scripts/schemathesis.sh
#
# schemathesis (PyPI) is installed, pinned, in a venv under target/ on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${VIGIE_SCHEMATHESIS_EXAMPLES:-25}"
VENV=target/schemathesis-venv
if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  # Debian's python3 needs python3-venv for this (CI installs it when missing).
  python3 -m venv "$VENV" 2>/dev/null || {
    rm -rf "$VENV"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
BIN=target/debug/vigie-collector
[ -x "$BIN" ] || cargo build -q -p vigie-collector --bin vigie-collector

WORK=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ADMIN=schemathesis-admin-token-0123456789abcdef
SECRET=schemathesis-enrol-secret-0123456789
cat > "$WORK/collector.toml" <<TOML
[server]
listen = "127.0.0.1:0"
insecure_http = true
[storage]
data_dir = "$WORK/data"
[auth]
enroll_secret = "$SECRET"
admin_tokens = ["$ADMIN"]
[actions.roles]
rssi = ["alice"]
[[hosts.groups]]
name = "web"
hostnames = ["web-*"]
TOML
"$BIN" --config "$WORK/collector.toml" serve 2>"$WORK/collector.log" &
PID=$!
PORT=
for _ in $(seq 1 200); do
  PORT=$(sed -n 's/.*listening addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/collector.log" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "schemathesis.sh: the collector did not start:" >&2; cat "$WORK/collector.log" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"

post() { # path, json body: fail unless 2xx
  curl -sS --fail-with-body -o /dev/null -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' -d "$2" "$URL$1"
}
for h in web-01:debian db-01:rhel web-02:windows; do
  post /api/v1/enroll "{\"enroll_secret\": \"$SECRET\", \"host\": {\"hostname\": \"${h%%:*}\",
    \"machine_id\": \"mid-${h%%:*}\", \"os\": \"${h#*:}\", \"os_version\": \"1\", \"kernel\": \"k\",
    \"arch\": \"x86_64\"}}"
done
post /api/v1/risks '{"title": "Lost laptop", "likelihood": 3, "impact": 4, "treatment": "reduce", "owner": "alice"}'
post /api/v1/risks '{"title": "Phishing", "likelihood": 2, "impact": 2, "treatment": "accept", "owner": "bob"}'
post /api/v1/actions '{"title": "Encrypt laptops", "priority": "p1", "owner": "alice", "risks": [1]}'

status=0
"$VENV/bin/schemathesis" run "$URL/api/v1/openapi.json" \
  -H "Authorization: Bearer $ADMIN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" --seed 15 --no-color || status=$?
if grep -q ' ERROR ' "$WORK/collector.log"; then
  echo "schemathesis.sh: the collector logged errors:" >&2
  grep ' ERROR ' "$WORK/collector.log" | head -20 >&2
  status=1
fi
exit "$status"
