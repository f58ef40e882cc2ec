#!/usr/bin/env python3
"""Prints bench/run.sh's TSV as a Markdown table: the median run of each
(backend, token, scenario, connections), by requests per second."""
import csv, sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
groups = defaultdict(list)
for r in rows:
    groups[(r["backend"], r["token"], r["scenario"], int(r["connections"]))].append(r)

print("| backend | token | scenario | conns | rps (median) | p50 ms | p90 ms | p99 ms | socket errors | non-2xx "
      "| server CPU % | peak RSS MB | threads | % of storage ceiling |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in sorted(groups, key=lambda k: (k[0], k[1], ["list", "get", "create", "mixed", "unauth"].index(k[2])
                                          if k[2] in ["list", "get", "create", "mixed", "unauth"] else 9, k[3])):
    runs = sorted(groups[key], key=lambda r: float(r["rps"]))
    m = runs[len(runs) // 2]
    ceiling = {"list": m["ceiling_list_rps"], "get": m["ceiling_get_rps"]}.get(key[2])
    frac = f"{100 * float(m['rps']) / float(ceiling):.0f}%" if ceiling else ""
    errors = sum(int(r["socket_errors"]) for r in runs)
    print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {float(m['rps']):,.0f} | {m['p50_ms']} | {m['p90_ms']} "
          f"| {m['p99_ms']} | {errors} | {m['non2xx']} | {m['server_cpu_pct']} | {m['server_peak_rss_mb']} "
          f"| {m['server_threads']} | {frac} |")
