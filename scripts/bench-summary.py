#!/usr/bin/env python3
"""Turns the output of scripts/bench-*.sh (gateway, peers, tls, storm, fleet, arrival) into the Markdown tables of docs/benchmarks.md.

Lines starting with "==" (e.g. "== before", written between runs of the script when two builds
are compared) start a new section; its name is the first column of the rows that follow.
"""
import json
import sys

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
decoder = json.JSONDecoder()
rows, section, skipped = [], "", 0
# A record may span lines (older runs printed the load generator's report with its newline).
text = text.replace("\n,", ",")
for line in text.splitlines():
    line = line.strip()
    if not line:
        continue
    if line.startswith("=="):
        section = line.lstrip("= ").strip()
        continue
    if not line.startswith("{"):
        # A script's progress lines ("kafka running", "ramp-up: ...") when stderr went to the
        # same file: not results.
        skipped += 1
        continue
    value, _ = decoder.raw_decode(line)
    value["section"] = section
    if "target" in value:  # scripts/bench-peers.sh: what ran is named in the record
        value["section"] = f"{value['target']} (round {value['round']})"
    rows.append(value)

if skipped:
    print(f"bench-summary: {skipped} line(s) neither a result nor a section skipped", file=sys.stderr)
with_sections = any(r["section"] for r in rows)
lead = "| build " if with_sections else ""
load = [row for row in rows if "mix" in row]
# BENCH_SWITCHES=1: the gateway's context switches over each load run.
switches = any("gateway_context_switches" in row for row in rows)
if load:
    print(lead + "| mix | offered /s | achieved /s | answered | errors | timeouts | skipped | p50 ms | "
          "p95 ms | p99 ms | p99.9 ms | max ms | " +
          ("CPU µs/msg | " if any("target" in r for r in rows) else "gateway CPU µs/msg | ") +
          "broker CPU µs/msg |" + (" gateway switches/msg |" if switches else ""))
    print(("|---" if with_sections else "") + "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" +
          ("---|" if switches else ""))
for row in rows:
    if "mix" not in row:
        continue
    r = row["report"]
    c, l = r["calls"], r["latency_ms"]
    cpu = row.get("gateway_cpu_s", row.get("target_cpu_s"))
    per_msg = f"{cpu * 1e6 / max(c['call_results'], 1):.0f}" if cpu is not None else "—"
    broker = row.get("broker_cpu_s")
    broker_per_msg = f"{broker * 1e6 / max(c['call_results'], 1):.0f}" if broker is not None else "—"
    # Runs that also measured the window alone: "whole run / window".
    window = row.get("gateway_window_cpu_s", row.get("target_window_cpu_s"))
    if window is not None:
        per_msg += f" / {window * 1e6 / max(c['call_results'], 1):.0f}"
    if row.get("broker_window_cpu_s") is not None:
        broker_per_msg += f" / {row['broker_window_cpu_s'] * 1e6 / max(c['call_results'], 1):.0f}"
    first = f"| {row['section']} " if with_sections else ""
    print(f"{first}| {row['mix']} | {row['rate']} | {r['achieved_msgs_per_s']:.0f} | {c['call_results']} | "
          f"{c['call_errors']} | {c['timeouts']} | {c['skipped']} | {l['p50']:.2f} | {l['p95']:.2f} | "
          f"{l['p99']:.2f} | {l['p99.9']:.2f} | {l['max']:.2f} | {per_msg} | {broker_per_msg} |" +
          (f" {row['gateway_context_switches'] / max(c['call_results'], 1):.2f} |"
           if row.get("gateway_context_switches") is not None else " — |" if switches else ""))
# BENCH_THREADS=1: the gateway's threads over the measured window, per message answered in it.
threaded = [row for row in rows if row.get("gateway_threads")]
if threaded:
    print()
    print(lead + "| mix | offered /s | thread | CPU µs/msg (window) | switches/msg (window) |")
    print(("|---" if with_sections else "") + "|---|---|---|---|---|")
for row in threaded:
    answered = max(row["report"]["calls"]["call_results"], 1)
    first = f"| {row['section']} " if with_sections else ""
    for name, t in row["gateway_threads"].items():
        if t["cpu_s"] * 1e6 / answered < 0.5 and t["switches"] / answered < 0.005:
            continue  # idle threads (the command consumers, the poller) clutter the table
        print(f"{first}| {row['mix']} | {row['rate']} | {name} | {t['cpu_s'] * 1e6 / answered:.0f} | "
              f"{t['switches'] / answered:.2f} |")
# BENCH_SYSCALLS=1: the gateway's system calls over the measured window, per message answered
# in it (the generator's achieved rate times the counters' own run time).
counted = [row for row in rows if row.get("gateway_syscalls_window")]
kinds = []
for row in counted:
    kinds += [k for k in row["gateway_syscalls_window"] if k not in ("window_s", "all") and k not in kinds]
if counted:
    print()
    print(lead + "| mix | offered /s | achieved /s | system calls/msg | " +
          " | ".join(f"{k}/msg" for k in kinds) + " |")
    print(("|---" if with_sections else "") + "|---|---|---|---|" + "---|" * len(kinds))
for row in counted:
    sc = row["gateway_syscalls_window"]
    messages = max(row["report"]["achieved_msgs_per_s"] * sc["window_s"], 1)
    each = lambda v: "—" if v is None else f"{v / messages:.2f}"
    first = f"| {row['section']} " if with_sections else ""
    print(f"{first}| {row['mix']} | {row['rate']} | {row['report']['achieved_msgs_per_s']:.0f} | "
          f"{each(sc.get('all'))} | " + " | ".join(each(sc.get(k)) for k in kinds) + " |")
# BENCH_PROFILE=1: where the gateway's CPU went over the measured window, by library and by
# function, as shares of its samples and in µs per message answered (the share of its window CPU).
def short(symbol):
    """A C++ name with its template arguments elided: hybi13<…>::consume."""
    operators = ("operator<=>", "operator<<=", "operator>>=", "operator<<", "operator>>",
                 "operator<=", "operator>=", "operator->", "operator<", "operator>")
    for i, op in enumerate(operators):  # their angle brackets are no template's
        symbol = symbol.replace(op, f"\0{i}\0")
    out, depth = [], 0
    for ch in symbol:
        if ch == "<":
            depth += 1
            if depth == 1:
                out.append("<…")
            continue
        if ch == ">" and depth > 0:
            depth -= 1
            if depth == 0:
                out.append(">")
            continue
        if depth == 0:
            out.append(ch)
    text = "".join(out)
    for i, op in enumerate(operators):
        text = text.replace(f"\0{i}\0", op)
    return text.replace("|", "\\|")


profiled = [row for row in rows if row.get("gateway_profile_window")]
for title, columns in (("library", "| library | % of samples | µs/msg (window) |"),
                       ("thread", "| thread | % of samples | µs/msg (window) |"),
                       ("function", "| function | library | % of samples | µs/msg (window) |")):
    if not profiled:
        break
    if title == "thread" and not any(r["gateway_profile_window"].get("threads") for r in profiled):
        continue  # profiled before the split by thread
    print()
    print(lead + "| mix | offered /s " + columns)
    print(("|---" if with_sections else "") + "|---|---|" + "---|" * columns.count("|", 1))
    for row in profiled:
        p = row["gateway_profile_window"]
        per_msg = row["gateway_window_cpu_s"] * 1e6 / max(row["report"]["calls"]["call_results"], 1)
        first = f"| {row['section']} " if with_sections else ""
        lead_cells = f"{first}| {row['mix']} | {row['rate']} "
        if title in ("library", "thread"):
            for name, pct in p.get("dso" if title == "library" else "threads", {}).items():
                if pct >= 0.5:
                    print(f"{lead_cells}| {name} | {pct:.1f} | {pct / 100 * per_msg:.1f} |")
        else:
            for symbol, name, pct in p["top"]:
                print(f"{lead_cells}| `{short(symbol)}` | {name} | {pct:.1f} | {pct / 100 * per_msg:.1f} |")
# Where the machine's CPU went over the measured window: each process as a share of one core,
# and how busy each core was (with BENCH_PIN the gateway has core 1, the rest core 0).
split = [row for row in rows if row.get("cores_busy_window")]
if split:
    print()
    cores = max(len(row["cores_busy_window"]) for row in split)
    print(lead + "| mix | offered /s | achieved /s | gateway, % of a core | broker, % of a core | "
          "generator, % of a core | " + " | ".join(f"core {i} busy" for i in range(cores)) + " |")
    print(("|---" if with_sections else "") + "|---|---|---|---|---|---|" + "---|" * cores)
for row in split:
    window = row["report"]["window_s"]
    share = lambda v: "—" if v is None else f"{100 * v / window:.0f} %"
    first = f"| {row['section']} " if with_sections else ""
    print(f"{first}| {row['mix']} | {row['rate']} | {row['report']['achieved_msgs_per_s']:.0f} | "
          f"{share(row.get('gateway_window_cpu_s'))} | {share(row.get('broker_window_cpu_s'))} | "
          f"{share(row.get('generator_window_cpu_s'))} | "
          + " | ".join(f"{100 * b:.0f} %" for b in row["cores_busy_window"]) + " |")
quiet = [row for row in rows if "idle_window_s" in row]
if quiet:
    if load:
        print()
    print("| build | window | idle instances | broker alone | broker beside them | "
          "broker cost per idle instance | each idle instance itself |")
    print("|---|---|---|---|---|---|---|")
for row in quiet:
    w, n = row["idle_window_s"], row.get("idle_instances", 1)
    pct = lambda v: f"{100 * v / w:.1f} % of a core"
    extra = (row["broker_with_idle_gateway_cpu_s"] - row["broker_alone_cpu_s"]) / n
    print(f"| {row['section'] or '—'} | {w} s | {n} | {pct(row['broker_alone_cpu_s'])} | "
          f"{pct(row['broker_with_idle_gateway_cpu_s'])} | {pct(extra)} | "
          f"{pct(row['idle_gateway_cpu_s'] / n)} |")
idle = [row for row in rows if "idle_stations" in row and "idle_target" not in row]
if idle:
    print()
    print("| idle stations | connected | gateway RSS before | peak RSS (burst) | per station, peak | "
          "RSS held idle | per station, idle | peak RSS (all disconnecting) |")
    print("|---|---|---|---|---|---|---|---|")
for row in idle:
    conn = row["loadgen"]["connections"]
    n = max(conn["connected"], 1)
    held = row.get("rss_idle_kib")  # older reports have the peak alone
    print(f"| {row['idle_stations']} | {conn['connected']} | {row['rss_before_kib'] / 1024:.1f} MiB | "
          f"{row['rss_peak_kib'] / 1024:.1f} MiB | "
          f"{(row['rss_peak_kib'] - row['rss_before_kib']) / n:.1f} KiB | "
          + (f"{held / 1024:.1f} MiB | {(held - row['rss_before_kib']) / n:.1f} KiB |"
             if held is not None else "— | — |")
          + (f" {row['rss_teardown_peak_kib'] / 1024:.1f} MiB |"
             if row.get("rss_teardown_peak_kib") else " — |"))
idle_tls = [row for row in rows if "idle_target" in row]
if idle_tls:
    print()
    print("| target | round | idle stations | connected | gateway RSS before | RSS held idle | "
          "per station |")
    print("|---|---|---|---|---|---|---|")
for row in idle_tls:
    conn = row["report"]["connections"]
    n = max(conn["connected"], 1)
    print(f"| {row['idle_target']} | {row['round']} | {row['idle_stations']} | {conn['connected']} | "
          f"{row['rss_before_kib'] / 1024:.1f} MiB | {row['rss_idle_kib'] / 1024:.1f} MiB | "
          f"{(row['rss_idle_kib'] - row['rss_before_kib']) / n:.1f} KiB |")
storms = [row for row in rows if "storm_target" in row]
if storms:
    print()
    print("| target | round | TLS resumption | stations | dropped | booted again | failed | "
          "last back after | reconnections /s | to booted p50 / p99 ms | first CALL p50 / p99 ms | "
          "TLS resumed | refused and retried | on the topics (boot / status) | "
          "gateway CPU µs / reconnection | broker CPU µs / reconnection |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for row in storms:
    r = row["report"]
    s = r["storm"]
    back = max(s["booted"], 1)
    tb, fc = s["to_booted_ms"], s["first_call_ms"]
    print(f"| {row['storm_target']} | {row['round']} | {row['resume']} | {r['stations']['total']} | "
          f"{s['dropped']} | {s['booted']} | {s['failed']} | {s['all_booted_s']:.2f} s | "
          f"{s['booted'] / max(s['all_booted_s'], 1e-9):.0f} | {tb['p50']:.0f} / {tb['p99']:.0f} | "
          f"{fc['p50']:.1f} / {fc['p99']:.1f} | {s['tls_resumed']} | {r['connections']['retried']} | "
          + (f"{t.get('BootNotification', 0)} / {t.get('StatusNotification', 0)} | "
             if (t := row.get("on_topics")) else "— | ")
          + f"{row['target_cpu_s'] * 1e6 / back:.0f} | {row['broker_cpu_s'] * 1e6 / back:.0f} |")
fleets = [row for row in rows if "fleet_stations" in row]
for row in fleets:
    n = row["instances"]
    idle = row["idle"]
    connected = idle["connections"]["connected"]
    per = connected / n
    print()
    print(f"{row['fleet_stations']} stations over {n} instances: {connected} connected and booted "
          f"in {idle['ramp_up_s']:.0f} s")
    print()
    print("| instance | stations | RSS before | RSS with its stations idle | per station | "
          f"CPU from the traffic's start to the end of the run ({row['rate']} CALLs/s over the "
          "fleet: warm-up, window, closing every connection) |")
    print("|---|---|---|---|---|---|")
    for i in range(n):
        before, held = row["rss_before_kib"][i], row["rss_idle_kib"][i]
        print(f"| {i} | {per:.0f} | {before / 1024:.1f} MiB | {held / 1024:.1f} MiB | "
              f"{(held - before) / per:.1f} KiB | {row['instance_cpu_s'][i]:.1f} s |")
    total_before, total_held = sum(row["rss_before_kib"]), sum(row["rss_idle_kib"])
    r = row["report"]
    c, l = r["calls"], r["latency_ms"]
    print(f"| all | {connected} | {total_before / 1024:.0f} MiB | {total_held / 1024:.0f} MiB | "
          f"{(total_held - total_before) / max(connected, 1):.1f} KiB | "
          f"{sum(row['instance_cpu_s']):.1f} s |")
    print()
    print(f"Traffic: {c['sent']} CALLs sent, {c['call_results']} answered, {c['call_errors']} CALLERRORs, "
          f"{c['timeouts']} timeouts, {c['lost']} lost; {r['achieved_msgs_per_s']:.0f} msgs/s; "
          f"p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms, max {l['max']:.2f} ms; "
          f"broker {row['broker_cpu_s']:.1f} CPU-s.")
arrivals = [row for row in rows if "arrival_rate" in row]  # scripts/bench-arrival.sh
if arrivals:
    print()
    print("| admission (upgrades/s) | round | arriving | offered /s | connected | all connected after | "
          "achieved /s | refused (`admission_rate`) | gateway / broker CPU-s over the arrival | "
          "the same less the connected stations' own rate | "
          "connected stations' CALLs/s | p50 / p95 / p99 / max ms | timeouts, errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for row in arrivals:
    k = row["keepers"] or {}
    l, c = k.get("latency_ms", {}), k.get("calls", {})
    took = row["arrival_s"]
    g, b = row["gateway_cpu_s_during_arrival"], row["broker_cpu_s_during_arrival"]
    g_own = g - row.get("gateway_cpu_s_before_per_s", 0) * took
    # An arrival that did not complete inside the connected stations' window is marked.
    late = " (not within the window)" if row.get("arrival_complete_within_window") is False else ""
    print(f"| {row['admission']} | {row['round']} | {row['arriving']} | {row['arrival_rate']} | "
          f"{row['arrived_connected']} | {took:.1f} s{late} | {row['arrived_connected'] / max(took, 1e-9):.0f} | "
          f"{row['refused_rate']:.0f} | {g:.1f} / {b:.1f} | {g_own:.1f} | "
          f"{k.get('achieved_msgs_per_s', 0):.0f} | {l.get('p50', 0):.1f} / {l.get('p95', 0):.0f} / "
          f"{l.get('p99', 0):.0f} / {l.get('max', 0):.0f} | {c.get('timeouts', '-')}, {c.get('call_errors', '-')} |")
