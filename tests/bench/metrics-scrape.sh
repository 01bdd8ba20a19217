#!/usr/bin/env bash
# Scrape cost of /metrics on a store of 100,000 hosts (issue target: < 100 ms per scrape), and the
# cost of the scheduled refresh that keeps the gauges current. Usage: tests/bench/metrics-scrape.sh [HOSTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
hosts=${1:-100000}
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -p vigie-collector
bin=target/release/vigie-collector
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/data"
"$bin" report generate-store --db "$dir/data/vigie.db" --hosts "$hosts" --days 30 --log warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[server]\nlisten = "127.0.0.1:%s"\ninsecure_http = true\n[storage]\ndata_dir = "%s/data"\n[metrics]\nrefresh_seconds = 5\n' "$port" "$dir" > "$dir/c.toml"
"$bin" --config "$dir/c.toml" --log warn serve 2> "$dir/log" &
pid=$!
sleep 8
python3 - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/metrics"
ts = []
for _ in range(300):
    t = time.perf_counter(); body = urllib.request.urlopen(url).read(); ts.append((time.perf_counter() - t) * 1000)
ts.sort()
refresh = [l for l in body.decode().splitlines() if l.startswith("vigie_fleet_metrics_refresh_duration_seconds ")]
print(f"scrape: n=300 p50={ts[150]:.2f} ms p99={ts[296]:.2f} ms max={ts[-1]:.2f} ms, {len(body)} bytes")
print(f"background refresh (every 5 s here, 15 s by default): {refresh[0].split()[1]} s")
PY
