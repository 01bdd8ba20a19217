#!/usr/bin/env bash
# Agent footprint: wall time, CPU (user + sys) and peak RSS of one `vigie-agent check --format json`
# on this machine and on a fixture host, with the package manager's own cost shown apart.
#
# Usage: tests/bench/agent-footprint.sh [RUNS]      (default 5 runs each; medians are printed)
# Env:   SKIP_BUILD=1 to use an existing release binary; CARGO_TARGET_DIR is honoured;
#        FIXTURE=tests/fixtures/hosts/<name> to pick another fixture host.
#
# /usr/bin/time reports the rusage of the agent *including the commands it runs and waits for*
# (wait4): CPU is the sum, peak RSS is the largest of them. So `apt-get -s dist-upgrade` is timed
# separately and its CPU subtracted; the fixture run (canned command output, no process spawned)
# shows the agent's own RSS.
set -euo pipefail

runs=${1:-5}
repo=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
agent=$target/release/vigie-agent
fixture=${FIXTURE:-$repo/tests/fixtures/hosts/debian12-apt-mixed}
apt_argv=(/usr/bin/apt-get -s -o Debug::NoLocking=1 dist-upgrade)

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time (/usr/bin/time is missing)" >&2
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y -q time >&2
    else
        sudo apt-get install -y -q time >&2
    fi
fi
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    (cd "$repo" && cargo build --release -p vigie-agent)
fi
[[ -x $agent ]] || { echo "agent binary $agent not found" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_once LABEL CMD...: run CMD once under /usr/bin/time -v; append "wall cpu rss_kb exit" to
# $work/LABEL.runs.
run_once() {
    local label=$1
    shift
    local t0 t1
    t0=$(date +%s%N)
    # The agent exits 1 when a check needs attention: that is not a failure here.
    /usr/bin/time -v -o "$work/$label.time" "$@" >"$work/$label.out" 2>"$work/$label.err" || true
    t1=$(date +%s%N)
    # Wall time from date (ns); /usr/bin/time's own is rounded to 10 ms.
    awk -F': ' -v w="$(((t1 - t0) / 1000))" '
        BEGIN { w = w / 1e6 }
        /User time \(seconds\)/ { u = $2 }
        /System time \(seconds\)/ { s = $2 }
        /Maximum resident set size/ { r = $2 }
        /Exit status/ { x = $2 }
        END { printf "%.3f %.3f %d %s\n", w, u + s, r, x }' "$work/$label.time" >>"$work/$label.runs"
}

# summarize LABEL: print each run and the medians; leave "wall cpu rss_kb" in $work/LABEL.median.
summarize() {
    local label=$1 i=0 w c r x med
    while read -r w c r x; do
        i=$((i + 1))
        printf '  %-14s run %d: wall %6.3f s  cpu %6.3f s  peak RSS %6.1f MiB  exit %s\n' \
            "$label" "$i" "$w" "$c" "$(awk "BEGIN{print $r/1024}")" "$x"
    done <"$work/$label.runs"
    med=$(for col in 1 2 3; do
        cut -d' ' -f"$col" "$work/$label.runs" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
    done | paste -sd' ')
    echo "$med" >"$work/$label.median"
    read -r w c r <<<"$med"
    printf '  %-14s MEDIAN: wall %6.3f s  cpu %6.3f s  peak RSS %6.1f MiB\n\n' \
        "$label" "$w" "$c" "$(awk "BEGIN{print $r/1024}")"
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "agent:   $agent ($(stat -c %s "$agent") bytes)"
echo "runs:    $runs each"
echo

echo "1. this machine: vigie-agent check --format json (state in a temporary directory), and"
echo "2. the package manager alone, as the agent runs it (LC_ALL=C): ${apt_argv[*]}"
echo "   (interleaved, so both see the same background load)"
for _ in $(seq 1 "$runs"); do
    run_once agent-host "$agent" check --format json --state-dir "$work/state"
    if [[ -x ${apt_argv[0]} ]]; then
        run_once apt-get env LC_ALL=C LANG=C "${apt_argv[@]}"
    fi
done
summarize agent-host
[[ -f $work/apt-get.runs ]] && summarize apt-get
echo "3. fixture host $(basename "$fixture"): vigie-agent check --format json --root (no command is run)"
for _ in $(seq 1 "$runs"); do
    run_once agent-fixture "$agent" check --format json --root "$fixture"
done
summarize agent-fixture

# CPU times below 10 ms round to zero in rusage: time a batch of back-to-back runs instead.
batch=50
t0=$(date +%s%N)
/usr/bin/time -f '%U %S' -o "$work/batch.time" bash -c \
    'for i in $(seq "$1"); do "$2" check --format json --root "$3" >/dev/null || true; done' _ "$batch" "$agent" "$fixture"
t1=$(date +%s%N)
read -r bu bs <"$work/batch.time"
printf '  %-14s %d back-to-back runs: %.1f ms wall, %.1f ms cpu per run\n\n' agent-fixture "$batch" \
    "$(awk "BEGIN{print ($t1 - $t0) / 1e6 / $batch}")" "$(awk "BEGIN{print ($bu + $bs) * 1000 / $batch}")"

read -r hw hc hr <"$work/agent-host.median"
echo "summary (medians):"
printf '  this machine:   wall %.3f s, cpu %.3f s, peak RSS %.1f MiB (largest of agent and the commands it ran)\n' \
    "$hw" "$hc" "$(awk "BEGIN{print $hr/1024}")"
if [[ -f $work/apt-get.median ]]; then
    read -r aw ac ar <"$work/apt-get.median"
    printf '  apt-get -s:     wall %.3f s, cpu %.3f s, peak RSS %.1f MiB\n' "$aw" "$ac" "$(awk "BEGIN{print $ar/1024}")"
    printf '  agent minus apt-get: wall %.3f s, cpu %.3f s\n' \
        "$(awk "BEGIN{print $hw - $aw}")" "$(awk "BEGIN{print $hc - $ac}")"
fi
read -r fw fc fr <"$work/agent-fixture.median"
printf '  fixture host:   wall %.3f s, cpu %.1f ms per run (batch of %d), peak RSS %.1f MiB (the agent alone)\n' \
    "$fw" "$(awk "BEGIN{print ($bu + $bs) * 1000 / $batch}")" "$batch" "$(awk "BEGIN{print $fr/1024}")"
