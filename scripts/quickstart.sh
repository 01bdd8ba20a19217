#!/usr/bin/env bash
# Quickstart: build Vigie, start a collector on the embedded SQLite default (loopback, plain HTTP),
# enrol this machine's agent, deliver one report, and show what the collector knows.
# Needs root for truthful checks (shadow, PAM, sysfs). Leaves the collector running; stop it with
#   kill $(cat /tmp/vigie-quickstart/collector.pid)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${VIGIE_QUICKSTART_DIR:-/tmp/vigie-quickstart}
port=${VIGIE_QUICKSTART_PORT:-18443}
mkdir -p "$dir"
cargo build --release -p vigie-agent -p vigie-collector
bin=target/release

secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
admin=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077
printf '%s\n' "$secret" > "$dir/enroll-secret"
cat > "$dir/collector.toml" <<CFG
[server]
listen = "127.0.0.1:$port"
insecure_http = true
[storage]
data_dir = "$dir/data"
[auth]
enroll_secret_file = "$dir/enroll-secret"
admin_tokens = ["$admin"]
[metrics]
refresh_seconds = 2
CFG
cat > "$dir/agent.toml" <<CFG
[agent]
state_dir = "$dir/agent-state"
[collector]
url = "http://127.0.0.1:$port"
CFG

if [ -f "$dir/collector.pid" ] && kill -0 "$(cat "$dir/collector.pid")" 2>/dev/null; then
  kill "$(cat "$dir/collector.pid")"; sleep 1
fi
nohup "$bin/vigie-collector" --config "$dir/collector.toml" serve > /dev/null 2> "$dir/collector.log" &
echo $! > "$dir/collector.pid"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

"$bin/vigie-agent" --config "$dir/agent.toml" enroll --secret-file "$dir/enroll-secret"
"$bin/vigie-agent" --config "$dir/agent.toml" check || true
"$bin/vigie-agent" --config "$dir/agent.toml" --log info run --once
echo
echo "collector: http://127.0.0.1:$port (log: $dir/collector.log, database: $dir/data/vigie.db)"
echo "hosts:     curl -H 'Authorization: Bearer $admin' http://127.0.0.1:$port/api/v1/hosts"
curl -fsS -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/v1/hosts"; echo
echo "stop:      kill \$(cat $dir/collector.pid)"
