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

# measure LABEL CMD...: run CMD `runs` times under /usr/bin/time -v; print one line per run and
# the medians; leave "wall cpu rss_kb" medians in $work/LABEL.median.
measure() {
    local label=$1
    shift
    : >"$work/$label.runs"
    for i in $(seq 1 "$runs"); do
        # The agent exits 1 when a check needs attention: that is not a failure here.
        /usr/bin/time -v -o "$work/$label.time" "$@" >"$work/$label.out" 2>"$work/$label.err" || true
        awk -F': ' '
            /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (j = 1; j <= n; j++) w = w * 60 + p[j] }
            /User time \(seconds\)/ { u = $2 }
            /System time \(seconds\)/ { s = $2 }
            /Maximum resident set size/ { r = $2 }
            /Exit status/ { x = $2 }
            END { printf "%.3f %.3f %d %s\n", w, u + s, r, x }' "$work/$label.time" >>"$work/$label.runs"
    done
    local i=0
    while read -r w c r x; do
        i=$((i + 1))
        printf '  %-26s run %d: wall %6.3f s  cpu %6.3f s  peak RSS %6.1f MiB  exit %s\n' \
            "$label" "$i" "$w" "$c" "$(awk "BEGIN{print $r/1024}")" "$x"
    done <"$work/$label.runs"
    local med
    med=$(for col in 1 2 3; do
        cut -d' ' -f"$col" "$work/$label.runs" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
    done | paste -sd' ')
    echo "$med" >"$work/$label.median"
    read -r w c r <<<"$med"
    printf '  %-26s MEDIAN: wall %6.3f s  cpu %6.3f s  peak RSS %6.1f MiB\n\n' \
        "$label" "$w" "$c" "$(awk "BEGIN{print $r/1024}")"
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "agent:   $agent ($(stat -c %s "$agent") bytes)"
echo "runs:    $runs each"
echo

echo "1. this machine: vigie-agent check --format json (state in a temporary directory)"
measure agent-host "$agent" check --format json --state-dir "$work/state"
if [[ -x ${apt_argv[0]} ]]; then
    echo "2. the package manager alone: ${apt_argv[*]}"
    measure apt-get "${apt_argv[@]}"
fi
echo "3. fixture host $(basename "$fixture"): vigie-agent check --format json --root (no command is run)"
measure agent-fixture "$agent" check --format json --root "$fixture"

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
printf '  fixture host:   wall %.3f s, cpu %.3f s, peak RSS %.1f MiB (the agent alone)\n' \
    "$fw" "$fc" "$(awk "BEGIN{print $fr/1024}")"
