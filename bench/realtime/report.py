"""bench/realtime/report.py - tables, targets and docs/benchmarks-realtime.md from rt.py's cells.

Writes results.json (every cell), prints the tables, and replaces the text between the results
markers of docs/benchmarks-realtime.md (the rest of that file is prose kept by hand).

SPDX-License-Identifier: MIT
"""
import json
import os
import platform
import statistics
import subprocess

BEGIN = "<!-- realtime:results:begin -->"
END = "<!-- realtime:results:end -->"
# A WebSocket-only run (BENCH_MODES=ws) writes its own section, so the long-poll/SSE tables of
# the last full run stay.
WS_BEGIN = "<!-- realtime:ws:begin -->"
WS_END = "<!-- realtime:ws:end -->"
TARGET_RSS = 8 * 1024          # "at most 8 KB per held long-poll" (read as KiB; 8,000 B shown too)
# Time to reach all watchers, offerd / nchan: issue #5 asked 0.5x of every transport; issue #18
# restated long-polling as "no slower than nchan" and kept SSE at half; WebSocket (#17) 0.5x.
TARGET_RATIO = {"longpoll": 1.0, "sse": 0.5, "ws": 0.5}
NOISY_PCT = 25.0               # other load above this (% of one core) marks a cell as noisy
MODE_NAME = {"longpoll": "long-poll", "sse": "SSE", "ws": "WebSocket"}
STREAMED = ("sse", "ws")       # offerd's outside write is the second write on the same sockets
SYSTEM_NAME = {
    "offerd": "offerd (API write)",
    "offerd-ext": "offerd (outside write)",
    "nchan": "nchan",
}


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def fmt_b(v):
    return "n/a" if v is None else f"{v:,.0f}"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    distro = "Linux"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, {distro}, Linux {platform.release()}"


def versions(b):
    """Taken when the run starts (offerd is built from the tree as it is then)."""
    if getattr(b, "versions", None):
        return b.versions
    out = {}
    desc = os.environ.get("BENCH_OFFERD_DESC")
    try:
        out["nginx"] = subprocess.run([b.nginx, "-v"], capture_output=True,
                                      text=True).stderr.strip().split("/")[-1]
    except OSError:
        out["nginx"] = "?"
    for pkg in ("libnginx-mod-nchan", "libmicrohttpd12"):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True,
                           text=True)
        out[pkg] = r.stdout.strip() or "?"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    rev = r.stdout.strip() or "?"
    r = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "src/server",
                        "migrations"], capture_output=True, text=True)
    out["offerd"] = desc or (rev + (" + uncommitted changes in src/server or migrations/"
                                    if r.stdout.strip() else ""))
    return out


def wake_of(cell, system):
    """The wake result a (system, cell) pair stands for: offerd SSE cells carry the outside write
    as wake_ext."""
    if system == "offerd-ext" and cell["mode"] in STREAMED:
        return cell.get("wake_ext")
    return cell.get("wake")


def summarize(cells, system, mode, n):
    src = "offerd" if (system == "offerd-ext" and mode in STREAMED) else system
    mine = [c for c in cells if c["system"] == src and c["mode"] == mode and c["n"] == n
            and "error" not in c]
    wakes = [w for w in (wake_of(c, system) for c in mine) if w]
    if not mine or not wakes:
        errors = [c["error"] for c in cells if c["system"] == src and c["mode"] == mode
                  and c["n"] == n and "error" in c]
        return {"rounds": 0, "errors": errors}
    full = all(w["received"] == w["n"] for w in wakes)
    s = {
        "rounds": len(wakes),
        "all_received": full,
        "received_min": min(w["received"] for w in wakes),
        "p50_ms": med(w["p50_ms"] for w in wakes),
        "p99_ms": med(w["p99_ms"] for w in wakes),
        "max_ms": med(w["max_ms"] for w in wakes),
        "max_ms_all": [w["max_ms"] for w in wakes],
        "ack_ms": med(w["ack_ms"] for w in wakes if w["ack_ms"] >= 0),
        "other_cpu_pct": max(c.get("other_cpu_pct", 0) for c in mine),
        "setup_ms": med(c.get("setup_ms") for c in mine),
    }
    w2 = [c["wake2"] for c in mine if c.get("wake2")]
    if w2:
        s["repoll_all_received"] = all(w["received"] == w["n"] for w in w2)
        s["repoll_p50_ms"] = med(w["p50_ms"] for w in w2)
        s["repoll_p99_ms"] = med(w["p99_ms"] for w in w2)
        s["repoll_max_ms"] = med(w["max_ms"] for w in w2)
        s["rss_per_conn_repoll"] = med(c.get("rss_per_conn_repoll") for c in mine)
    if system != "offerd-ext" or mode == "longpoll":
        s["rss_per_conn"] = med(c["rss_per_conn"] for c in mine)
        s["anon_per_conn"] = med(c["anon_per_conn"] for c in mine)
        s["cpu_us_per_wake"] = med(c["cpu_wake_s"] / n * 1e6 for c in mine)
        s["cpu_us_per_hold"] = med(c["cpu_hold_s"] / n * 1e6 for c in mine)
    return s


def build(b):
    table = {}
    for mode in b.modes:
        for n in b.ns:
            for system in b.systems:
                table[(mode, n, system)] = summarize(b.cells, system, mode, n)
    return table


def verdicts(b, table):
    """The issue's targets, evaluated on this run's medians."""
    out = []
    for n in b.ns:
        o = table.get(("longpoll", n, "offerd"), {})
        for key, what in (("rss_per_conn", "first request on a new connection"),
                          ("rss_per_conn_repoll", "re-poll on a kept-alive connection")):
            rss = o.get(key)
            if rss is not None:
                out.append((f"long-poll RSS per held connection at {n:,} ({what})",
                            f"{rss:,.0f} B ({rss / 1024:.2f} KiB)", f"<= {TARGET_RSS:,} B",
                            rss <= TARGET_RSS))
    for n in b.ns if "ws" in b.modes else []:
        rss = table.get(("ws", n, "offerd"), {}).get("rss_per_conn")
        if rss is not None:
            out.append((f"WebSocket RSS per subscribed socket at {n:,}",
                        f"{rss:,.0f} B ({rss / 1024:.2f} KiB)", f"<= {TARGET_RSS:,} B",
                        rss <= TARGET_RSS))
    for mode in b.modes:
        for n in b.ns:
            o = table.get((mode, n, "offerd"), {})
            r = table.get((mode, n, "nchan"), {})
            if o.get("max_ms") is None or r.get("max_ms") is None:
                continue
            ratio = o["max_ms"] / r["max_ms"]
            complete = o.get("all_received") and r.get("all_received")
            out.append((f"{MODE_NAME[mode]} time to reach all {n:,} (API write), offerd / nchan",
                        f"{o['max_ms']:.1f} / {r['max_ms']:.1f} ms = {ratio:.2f}x",
                        f"<= {TARGET_RATIO[mode]:.2f}x",
                        bool(complete) and ratio <= TARGET_RATIO[mode]))
            if o.get("repoll_max_ms") is not None and r.get("repoll_max_ms"):
                ratio = o["repoll_max_ms"] / r["repoll_max_ms"]
                complete = o.get("repoll_all_received") and r.get("repoll_all_received")
                out.append((f"{MODE_NAME[mode]} time to reach all {n:,} re-polls (second write), "
                            "offerd / nchan",
                            f"{o['repoll_max_ms']:.1f} / {r['repoll_max_ms']:.1f} ms = "
                            f"{ratio:.2f}x", f"<= {TARGET_RATIO[mode]:.2f}x",
                            bool(complete) and ratio <= TARGET_RATIO[mode]))
    return out


def render(b, table, targets):
    L = []
    started = b.started.strftime("%Y-%m-%d %H:%M UTC")
    mins = (b.finished - b.started).total_seconds() / 60
    v = versions(b)
    noisy = [c for c in b.cells + b.sweep_cells if c.get("other_cpu_pct", 0) > NOISY_PCT]
    L.append(f"### Run of {started}")
    L.append("")
    L.append(f"Machine: {machine()}. Every server and the load client share these cores; all "
             "traffic on 127.0.0.1.")
    L.append(f"Command: `{b.command}` ({mins:.1f} minutes). {b.rounds} round(s); within a round "
             "the systems' order rotates; every cell starts its server fresh; the table shows "
             "medians over rounds.")
    L.append(f"offerd: {v['offerd'] if v['offerd'].startswith('git') else 'git ' + v['offerd']}, `--threads {b.threads}`, libmicrohttpd "
             f"{v['libmicrohttpd12']}, SQLite file on the same disk (synchronous=FULL). "
             f"nchan: nginx {v['nginx']} + libnginx-mod-nchan {v['libnginx-mod-nchan']}, "
             f"`worker_processes {b.threads}`, memstore (no Redis). Both: listen backlog 1024; "
             f"holdpoll opens at most {b.connect_rate:,} connections per second.")
    L.append(f"The write: offerd `POST /api/offers/{{id}}/counter` by the seller (the commit is "
             f"on disk before anyone is woken); nchan `POST /pub/{{channel}}` with a "
             f"{len(b.payload)}-byte body, the size of offerd's offer JSON. 'outside write' is an "
             "`UPDATE offers SET message = ...` from another process (Python's sqlite3), which "
             "offerd finds by polling its change log every 25 ms (`--change-poll-ms`).")
    if noisy:
        worst = max(c.get("other_cpu_pct", 0) for c in noisy)
        L.append(f"**Other load on the machine:** {len(noisy)} of "
                 f"{len(b.cells) + len(b.sweep_cells)} cells saw more than {NOISY_PCT:.0f}% of a "
                 f"core used by other processes (worst {worst:.0f}%); their latencies are "
                 "pessimistic for both systems alike (see `other_cpu_pct` in results.json).")
    else:
        L.append(f"Other load on the machine stayed under {NOISY_PCT:.0f}% of a core in every "
                 "cell.")
    L.append("")
    for mode in b.modes:
        held = {"longpoll": "requests", "sse": "streams", "ws": "subscribed WebSockets"}[mode]
        arrival = {"longpoll": "response status line", "sse": "`data:` line of the new event",
                   "ws": "text frame (the whole frame)"}[mode]
        L.append(f"**{MODE_NAME[mode]}**, N held {held}, one write; latency = from just before "
                 f"the write is sent to each watcher's {arrival} arriving at the client")
        L.append("")
        lp = mode == "longpoll"
        if lp:
            L.append("| N | system | RSS / conn (B), new conn | RSS / conn (B), re-poll | p50 ms | "
                     "p99 ms | all reached, ms | re-poll p50 / all reached, ms | write ack ms | "
                     "server CPU / wake (µs) | received | other load |")
            L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        else:
            L.append("| N | system | RSS / conn (B) | p50 ms | p99 ms | all reached, ms | "
                     "write ack ms | server CPU / wake (µs) | received | other load |")
            L.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for n in b.ns:
            for system in b.systems:
                s = table.get((mode, n, system))
                if not s:
                    continue
                if not s["rounds"]:
                    L.append(f"| {n:,} | {SYSTEM_NAME[system]} | failed: "
                             f"{'; '.join(s['errors'])[:120]} |" + " |" * (10 if lp else 8))
                    continue
                rss = s.get("rss_per_conn")
                rss_txt = (f"{rss:,.0f} ({rss / 1024:.1f} KiB)" if rss is not None
                           else "(same streams)")
                cols = [f"{n:,}", SYSTEM_NAME[system], rss_txt]
                if lp:
                    r2 = s.get("rss_per_conn_repoll")
                    cols.append(f"{r2:,.0f} ({r2 / 1024:.1f} KiB)" if r2 is not None else "n/a")
                cols += [fmt_ms(s["p50_ms"]), fmt_ms(s["p99_ms"]), fmt_ms(s["max_ms"])]
                if lp:
                    cols.append(f"{fmt_ms(s.get('repoll_p50_ms'))} / "
                                f"{fmt_ms(s.get('repoll_max_ms'))}")
                cpu = s.get("cpu_us_per_wake")
                received = "all" if s["all_received"] else "min " + str(s["received_min"])
                if lp and "repoll_all_received" in s and not s["repoll_all_received"]:
                    received += " (re-poll: not all)"
                cols += [fmt_ms(s["ack_ms"]), "n/a" if cpu is None else f"{cpu:.1f}", received,
                         f"{s['other_cpu_pct']:.0f}%"]
                L.append("| " + " | ".join(cols) + " |")
        L.append("")
    L.append("**offerd / nchan** (same run; lower is better; API write)")
    L.append("")
    L.append("| transport | N | RSS / conn | p50 | p99 | all reached |")
    L.append("| --- | --- | --- | --- | --- | --- |")
    for mode in b.modes:
        for n in b.ns:
            o, r = table.get((mode, n, "offerd"), {}), table.get((mode, n, "nchan"), {})
            if not o.get("rounds") or not r.get("rounds"):
                continue

            def ratio(k):
                return (f"{o[k] / r[k]:.2f}x" if o.get(k) is not None and r.get(k) else "n/a")
            L.append(f"| {MODE_NAME[mode]} | {n:,} | {ratio('rss_per_conn')} | {ratio('p50_ms')} | "
                     f"{ratio('p99_ms')} | {ratio('max_ms')} |")
    L.append("")
    L.append("**Targets (issue #5 as restated by #18: long-poll <= 1.0x nchan, SSE <= 0.5x; "
             "WebSocket: issue #17)**")
    L.append("")
    L.append("| target | measured | wanted | |")
    L.append("| --- | --- | --- | --- |")
    for name, got, want, ok in targets:
        L.append(f"| {name} | {got} | {want} | {'PASS' if ok else '**MISS**'} |")
    L.append("")
    if b.sweep_cells:
        L.append(f"**`--connection-memory` sweep** (offerd, {b.sweep_n:,} held, one round each, "
                 "API write)")
        L.append("")
        L.append("| transport | --connection-memory | largest request head accepted | "
                 "RSS / conn (B), new conn | RSS / conn (B), re-poll | p50 ms | all reached, ms | "
                 "received |")
        L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for c in b.sweep_cells:
            if "error" in c:
                L.append(f"| {MODE_NAME[c['mode']]} | {c['conn_mem']:,} | failed: "
                         f"{c['error'][:100]} | | | | |")
                continue
            w = c["wake"]
            r2 = c.get("rss_per_conn_repoll")
            head = b.head_limits.get(c["conn_mem"])
            L.append(f"| {MODE_NAME[c['mode']]} | {c['conn_mem']:,} | "
                     f"{'n/a' if head is None else f'{head:,} B'} | {c['rss_per_conn']:,.0f} | "
                     f"{'n/a' if r2 is None else f'{r2:,.0f}'} | {fmt_ms(w['p50_ms'])} | "
                     f"{fmt_ms(w['max_ms'])} | {w['received']:,}/{w['n']:,} |")
        L.append("")
    L.append("RSS / conn = (VmRSS with N held - VmRSS before, after warm-up) / N; for nchan summed "
             "over the nginx worker processes. Kernel socket memory is in neither. 'all reached' "
             "is the slowest watcher's latency (the issue's \"time for a publish to reach all "
             "subscribers\"). 'write ack' is when the writer got its answer (offerd: 201 after "
             "the commit; nchan: 201/202 after the publish). 'server CPU / wake' is the server's "
             "CPU time during the fan-out divided by N. 'other load' is CPU used by processes "
             "outside this benchmark during the cell (% of one core). 're-poll': after the write, "
             "every watcher sends its next long-poll on the same kept-alive connection (nchan: "
             "with its Last-Modified/Etag cursor), the RSS is sampled again once all N are held, "
             "and a second write is timed. 'largest request head accepted': the biggest request "
             "line + headers offerd answered with that --connection-memory (one byte more and "
             "libmicrohttpd closes the connection without an answer). Every cell: results.json.")
    return "\n".join(L)


def write(b):
    os.makedirs(b.results_dir, exist_ok=True)
    table = build(b)
    targets = verdicts(b, table)
    ws_only = list(b.modes) == ["ws"]
    name = "results-ws.json" if ws_only else "results.json"  # a ws-only run keeps the full one
    with open(os.path.join(b.results_dir, name), "w") as f:
        json.dump({"started": b.started.isoformat(), "finished": b.finished.isoformat(),
                   "command": b.command, "machine": machine(), "versions": versions(b),
                   "payload_bytes": len(b.payload), "cells": b.cells, "sweep": b.sweep_cells,
                   "summary": {f"{m}/{n}/{s}": v for (m, n, s), v in table.items()},
                   "head_limits": b.head_limits,
                   "targets": [{"target": t, "measured": g, "wanted": w, "pass": ok}
                               for t, g, w, ok in targets]}, f, indent=1)
    text = render(b, table, targets)
    print(text)
    doc = b.doc
    if os.path.exists(doc):
        with open(doc) as f:
            old = f.read()
    else:
        old = f"# Real-time benchmark\n\n{BEGIN}\n{END}\n"
    begin, end = (WS_BEGIN, WS_END) if ws_only else (BEGIN, END)
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        tail = rest.split(end, 1)[1]
        new = f"{head}{begin}\n{text}\n{end}{tail}"
    else:
        new = f"{old.rstrip()}\n\n{begin}\n{text}\n{end}\n"
    with open(doc, "w") as f:
        f.write(new)
