#!/usr/bin/env python3
"""summarize.py RESULTS.jsonl — one JSON line per result row: each stack's median over its
runs of `value` (work per wall-clock second) and of `cpu_value` (work per CPU second of
the benchmark's thread, the steadier one when other work shares the machine), the runs
themselves, and quartz / lwip for both (higher is better for every row here)."""
import json
import statistics
import sys

STACKS = ("quartz", "lwip")


def main(path):
    rows, order = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r.get("summary"):
                continue
            if r["row"] not in rows:
                rows[r["row"]] = {"unit": r["unit"]}
                order.append(r["row"])
            runs = rows[r["row"]].setdefault(r["stack"], {"value": [], "cpu_value": []})
            runs["value"].append(r["value"])
            runs["cpu_value"].append(r.get("cpu_value", r["value"]))
    for key in order:
        r = rows[key]
        out = {"row": key, "summary": True, "unit": r["unit"]}
        for stack in STACKS:
            if stack in r:
                out[stack] = round(statistics.median(r[stack]["value"]), 4)
                out[stack + "_cpu"] = round(statistics.median(r[stack]["cpu_value"]), 4)
                out[stack + "_runs"] = r[stack]["value"]
        if all(s in r for s in STACKS) and out["lwip"] and out["lwip_cpu"]:
            out["ratio"] = round(out["quartz"] / out["lwip"], 3)
            out["ratio_cpu"] = round(out["quartz_cpu"] / out["lwip_cpu"], 3)
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
