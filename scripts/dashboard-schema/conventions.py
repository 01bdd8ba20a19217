#!/usr/bin/env python3
"""Applies Vigie's dashboard conventions (dashboards/README.md "Conventions") to Grafana dashboard
JSON files in place; running it twice changes nothing. `--check` changes nothing and exits 1 if a
file does not follow them (scripts/check-dashboards.sh runs it so).

1. `job` and `instance` variables after `datasource` (from vigie_build_info), and every vigie_
   selector restricted to them: {job=~"$job", instance=~"$instance"}.
2. No raw NaN: every stat, gauge and bar gauge maps NaN and null to "no data".
3. A panel whose query B is a configured target (vigie_*_target_ratio) takes its threshold from
   it (Grafana's "Config from query results" transformation), never a hard-coded number.
"""
import json
import re
import sys

SEL = 'job=~"$job", instance=~"$instance"'
NO_DATA = [
    {"type": "special", "options": {"match": "nan", "result": {"text": "no data", "index": 0}}},
    {"type": "special", "options": {"match": "null", "result": {"text": "no data", "index": 1}}},
]
DS = {"type": "prometheus", "uid": "${datasource}"}


def variables():
    q_job = "label_values(vigie_build_info, job)"
    q_inst = 'label_values(vigie_build_info{job=~"$job"}, instance)'
    common = {"type": "query", "datasource": DS, "hide": 0, "refresh": 2, "regex": "",
              "skipUrlSync": False, "sort": 1, "options": []}
    return [
        dict(common, name="job", label="Job",
             query={"query": q_job, "refId": "job", "qryType": 1},
             includeAll=False, multi=False, current={"text": "vigie", "value": "vigie"}),
        dict(common, name="instance", label="Collector",
             query={"query": q_inst, "refId": "instance", "qryType": 1},
             includeAll=True, allValue=".+", multi=True,
             current={"text": ["All"], "value": ["$__all"]}),
    ]


def scope(expr):
    if "$job" in expr:
        return expr

    def one(m):
        name, brace = m.group(1), m.group(2)
        if brace:
            return f"{name}{{{SEL}, " if not m.group(3) else f"{name}{{{SEL}}}"
        return f"{name}{{{SEL}}}"

    # name{}  -> name{SEL};  name{a="b"} -> name{SEL, a="b"};  name -> name{SEL}
    return re.sub(r"\b(vigie_[A-Za-z0-9_]+)(\{(\})?)?", one, expr)


def walk(panels):
    for p in panels:
        yield p
        yield from walk(p.get("panels", []))


def apply(d):
    tl = d.setdefault("templating", {}).setdefault("list", [])
    names = [v.get("name") for v in tl]
    for v in variables():
        if v["name"] not in names:
            tl.insert(names.index("datasource") + 1 + (v["name"] == "instance"), v)
            names = [x.get("name") for x in tl]
    for v in tl:
        if v.get("type") == "datasource" and not v.get("current"):
            v["current"] = {"text": "default", "value": "default"}
    for link in d.get("links", []):
        link.setdefault("icon", "external link")
        link.setdefault("tooltip", "")
        link.setdefault("targetBlank", False)
    for p in walk(d.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                t["expr"] = scope(t["expr"])
        defaults = p.get("fieldConfig", {}).get("defaults")
        if p.get("type") in ("stat", "gauge", "bargauge") and defaults is not None:
            maps = defaults.setdefault("mappings", [])
            have = {m.get("options", {}).get("match") for m in maps if m.get("type") == "special"}
            for m in NO_DATA:
                if m["options"]["match"] not in have:
                    maps.append(m)
        targets = p.get("targets", [])
        b = next((t for t in targets if t.get("refId") == "B"), None)
        if (p.get("type") in ("stat", "gauge", "bargauge") and b is not None
                and re.search(r"vigie_[a-z0-9_]*_target_ratio", b.get("expr", ""))):
            field = b.get("legendFormat") or "Target"
            tr = p.setdefault("transformations", [])
            if not any(x.get("id") == "configFromData" for x in tr):
                tr.append({"id": "configFromData", "options": {
                    "configRefId": "B",
                    "mappings": [{"fieldName": field, "handlerKey": "threshold1",
                                  "handlerArguments": {"threshold": {"color": "green"}}}],
                }})
            th = defaults.setdefault("thresholds", {"mode": "absolute"})
            th["steps"] = [{"color": "red", "value": None}]
    return d


def main(argv):
    check = "--check" in argv
    files = [a for a in argv if a != "--check"]
    bad = []
    for f in files:
        text = open(f, encoding="utf-8").read()
        new = json.dumps(apply(json.loads(text)), indent=2, ensure_ascii=False) + "\n"
        if new != text:
            if check:
                bad.append(f)
            else:
                open(f, "w", encoding="utf-8").write(new)
    if bad:
        print("dashboards not following the conventions (run scripts/dashboard-schema/conventions.py "
              + " ".join(bad) + "):", *bad, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
