#!/usr/bin/env python3
"""Turns the output of scripts/bench-gateway.sh into the Markdown tables of docs/benchmarks.md."""
import json
import sys

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
decoder = json.JSONDecoder()
rows, i = [], 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    value, i = decoder.raw_decode(text, i)
    rows.append(value)

print("| mix | offered /s | achieved /s | answered | errors | timeouts | skipped | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for row in rows:
    if "mix" not in row:
        continue
    r = row["report"]
    c, l = r["calls"], r["latency_ms"]
    print(f"| {row['mix']} | {row['rate']} | {r['achieved_msgs_per_s']:.0f} | {c['call_results']} | "
          f"{c['call_errors']} | {c['timeouts']} | {c['skipped']} | {l['p50']:.2f} | {l['p95']:.2f} | "
          f"{l['p99']:.2f} | {l['p99.9']:.2f} | {l['max']:.2f} |")
print()
print("| idle stations | connected | gateway RSS before | RSS with stations | per station |")
print("|---|---|---|---|---|")
for row in rows:
    if "idle_stations" not in row:
        continue
    conn = row["loadgen"]["connections"]
    print(f"| {row['idle_stations']} | {conn['connected']} | {row['rss_before_kib'] / 1024:.1f} MiB | "
          f"{row['rss_peak_kib'] / 1024:.1f} MiB | "
          f"{(row['rss_peak_kib'] - row['rss_before_kib']) / max(conn['connected'], 1):.1f} KiB |")
