#!/usr/bin/env bash
# Validates every Grafana dashboard in dashboards/grafana/ against Grafana's published dashboard
# schema (the @grafana/schema npm package, version pinned in scripts/dashboard-schema/package.json
# and package-lock.json): each dashboard becomes a TypeScript object literal typed as the schema's
# `Dashboard` (scripts/dashboard-schema/generate.mjs) and `tsc --noEmit` type-checks it, so a wrong
# type, a bad enum value or an unknown (misspelt) field fails. Also checks the house conventions
# (scripts/dashboard-schema/conventions.py --check: job/instance variables, no raw NaN, thresholds
# from the configured targets), and proves the schema check can fail: a copy with a misspelt
# field must be refused.
#
# Packages are installed with `npm ci` into target/dashboard-schema/ (npm's cache: ~/.npm).
# Usage: scripts/check-dashboards.sh          Needs: node, npm (apt-get install nodejs npm)
set -euo pipefail
cd "$(dirname "$0")/.."

src=scripts/dashboard-schema
work=target/dashboard-schema
fail() { echo "check-dashboards: FAIL: $*" >&2; exit 1; }
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  if [ "${CI:-}" = true ] || [ "${VIGIE_CROSS_INSTALL:-0}" = 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm
  else
    echo "check-dashboards: node and npm are needed: apt-get install nodejs npm" >&2; exit 2
  fi
fi

mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/@grafana/schema" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
cp "$src/tsconfig.json" "$work/"

python3 "$src/conventions.py" --check dashboards/grafana/*.json \
  || fail "dashboards do not follow the conventions of dashboards/README.md"

tsc() { (cd "$work" && ./node_modules/.bin/tsc -p tsconfig.json); }
rm -rf "$work/gen"
node "$src/generate.mjs" "$work/gen" dashboards/grafana/*.json
tsc || fail "a dashboard does not match @grafana/schema's Dashboard (errors above; line numbers are the dashboard's own in gen/*.ts)"
n=$(ls dashboards/grafana/*.json | wc -l)

# Negative control: the same check must refuse a misspelt field in a panel.
rm -rf "$work/gen"
first=$(ls dashboards/grafana/*.json | head -1)
python3 - "$first" "$work/broken.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = next(p for p in d["panels"] if p.get("type") != "row")
p["titel"] = p.pop("title")
json.dump(d, open(sys.argv[2], "w"), indent=2)
PY
node "$src/generate.mjs" "$work/gen" "$work/broken.json"
if tsc > "$work/broken.out" 2>&1; then
  fail "tsc accepted a dashboard with a misspelt panel field: the schema check checks nothing"
fi
grep -q "titel" "$work/broken.out" || { cat "$work/broken.out"; fail "tsc failed on the broken copy, but not on the misspelt field"; }
rm -rf "$work/gen" "$work/broken.json"
echo "check-dashboards: $n dashboards match @grafana/schema $(node -p "require('./$src/package.json').devDependencies['@grafana/schema']") and the conventions; a misspelt field is refused"
