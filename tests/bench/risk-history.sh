#!/usr/bin/env bash
# Bytes of fleet-risk history per status change at 100,000 hosts (issue target: <= 2 KB).
# Usage: tests/bench/risk-history.sh [HOSTS] [FLIPS]. BIN=path/to/vigie-collector to skip the
# release build (the bytes do not depend on the build; debug is fine).
#
# Generates a store of HOSTS hosts (5 checks each, ~5 % failing per check) with the hidden
# `report generate-store`, serves it (fleet risks are recomputed every second), waits for the
# fleet risks to be created, then changes one host's disk_encryption status FLIPS times (fail, then
# back to pass, across different hosts), as ingest would write it to check_state, and waits for
# each recompute. For every history entry written it prints the bytes of its `changes`, `note` and
# `actor`, next to what the same entry would weigh holding both whole lists of failing hosts (the
# format before this change), and the growth of the risk_history table in pages (dbstat).
set -euo pipefail
cd "$(dirname "$0")/../.."
hosts=${1:-100000}
flips=${2:-20}
if [ -z "${BIN:-}" ]; then
    cargo build --release -p vigie-collector
    BIN=target/release/vigie-collector
fi
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/data"
"$BIN" report generate-store --db "$dir/data/vigie.db" --hosts "$hosts" --days 1 \
    --end "$(date -u +%F)" --log warn
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[server]\nlisten = "127.0.0.1:%s"\ninsecure_http = true\n[storage]\ndata_dir = "%s/data"\n[metrics]\nrefresh_seconds = 1\n' "$port" "$dir" > "$dir/c.toml"
"$BIN" --config "$dir/c.toml" --log warn serve 2> "$dir/log" &
pid=$!
python3 - "$dir/data/vigie.db" "$flips" <<'PY'
import json, sqlite3, sys, time
db, flips = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db, timeout=30, isolation_level=None)
def wait(cond, what, limit=120):
    t = time.time()
    while not cond():
        if time.time() - t > limit:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.2)
def rows():
    return c.execute("SELECT count(*) FROM risk_history").fetchone()[0]
def table_bytes():
    return c.execute("SELECT sum(pgsize) FROM dbstat WHERE name IN "
                     "('risk_history', 'risk_history_by_risk')").fetchone()[0] or 0
wait(lambda: c.execute("SELECT count(*) FROM risks WHERE source = 'fleet'").fetchone()[0] >= 5,
     "the fleet risks")
time.sleep(2)
risk, assets = c.execute("SELECT id, assets FROM risks WHERE source = 'fleet' "
                         "AND check_name = 'disk_encryption'").fetchone()
failing = len(json.loads(assets))
evaluated = c.execute("SELECT count(*) FROM check_state WHERE check_name = 'disk_encryption' "
                      "AND status IN ('pass', 'warn', 'fail')").fetchone()[0]
created = c.execute("SELECT length(changes) FROM risk_history WHERE risk_id = ? ORDER BY id "
                    "LIMIT 1", (risk,)).fetchone()[0]
print(f"store: {evaluated} hosts evaluated for disk_encryption, {failing} failing; "
      f"creation entry: {created} bytes of changes")
passing = [r[0] for r in c.execute(
    "SELECT host_id FROM check_state WHERE check_name = 'disk_encryption' AND status = 'pass' "
    f"ORDER BY host_id LIMIT {flips // 2 + 1}")]
sizes, whole = [], []
before_pages = table_bytes()
for k in range(flips):
    host = passing[k // 2]
    status = "fail" if k % 2 == 0 else "pass"
    old = json.loads(c.execute("SELECT assets FROM risks WHERE id = ?", (risk,)).fetchone()[0])
    n = rows()
    c.execute("UPDATE check_state SET status = ?, since = strftime('%s','now') "
              "WHERE host_id = ? AND check_name = 'disk_encryption'", (status, host))
    wait(lambda: rows() > n, "the history entry")
    for changes, note, actor in c.execute(
            "SELECT changes, note, actor FROM risk_history WHERE id > (SELECT max(id) FROM "
            "risk_history) - ? ORDER BY id", (rows() - n,)):
        sizes.append(len(changes.encode()) + len(note.encode()) + len(actor.encode()))
        new = json.loads(c.execute("SELECT assets FROM risks WHERE id = ?", (risk,)).fetchone()[0])
        full = dict(json.loads(changes), assets={"from": old, "to": new})
        whole.append(len(json.dumps(full, separators=(",", ":")).encode())
                     + len(note.encode()) + len(actor.encode()))
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
after_pages = table_bytes()
sizes.sort(); whole.sort()
print(f"status changes: {flips}, history entries written: {len(sizes)}")
print(f"bytes per entry (changes + note + actor): min {sizes[0]} median {sizes[len(sizes)//2]} "
      f"max {sizes[-1]}")
print(f"same entries with both whole lists (previous format): median {whole[len(whole)//2]} bytes")
print(f"risk_history pages (table + index) grew by {after_pages - before_pages} bytes, "
      f"{(after_pages - before_pages) / flips:.0f} bytes per status change")
PY
