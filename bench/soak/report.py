#!/usr/bin/env python3
"""bench/soak/report.py - finishes a soak run: shutdown result, chart, docs/soak.md.

Called by bench/soak/run.sh after soak.py wrote the per-second CSV and the summary JSON and
offerd was stopped with SIGTERM. Adds to the summary how offerd stopped (exit status, seconds)
and the error lines of its log (the access log is off, so every "error:" line is a fault), folds
them into the verdict, draws RSS / fds / held over time with gnuplot (the fitted steady-state
slopes drawn in), and rewrites the results section of docs/soak.md (plus one row of its history
table). Exit status 0 when the run passed, 1 when not.

  report.py --summary S.json --csv S.csv --png S.png --doc docs/soak.md --command CMD
            --offerd-exit N --shutdown-s T --offerd-log offerd.err

SPDX-License-Identifier: MIT
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BEGIN, END = "<!-- soak:results:begin -->", "<!-- soak:results:end -->"
HBEGIN, HEND = "<!-- soak:history:begin -->", "<!-- soak:history:end -->"
SHUTDOWN_LIMIT_S = 10.0
# libmicrohttpd's own messages when a client left before its answer (or stream) was written:
# expected here, since the soak cuts long-polls and streams on purpose. Counted, not failed.
DISCONNECT_NOISE = ("forcibly closed by remote peer", "no longer available for sending")


def fit_line(points):
    n = len(points)
    mt = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mt) ** 2 for p in points)
    slope = sum((p[0] - mt) * (p[1] - my) for p in points) / sxx
    return slope, my - slope * mt


def load_rows(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def chart(summary, rows, png):
    warm = summary["phases_s"]["warmup_end"]
    end = summary["phases_s"]["load_end"]
    steady = [r for r in rows if warm <= float(r["t_s"]) <= end]
    rs, ri = fit_line([(float(r["t_s"]), float(r["rss_kib"]) - float(r["rss_file_kib"]))
                       for r in steady])
    fs, fi = fit_line([(float(r["t_s"]), float(r["fds"])) for r in steady])
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        for r in rows:
            dat.write(" ".join([str(float(r["t_s"]) / 60), str(float(r["rss_kib"]) / 1024),
                                r["fds"], r["held"] or "NaN", r["client_sockets"],
                                r["in_flight"] or "NaN",
                                str((float(r["rss_kib"]) - float(r["rss_file_kib"])) / 1024)])
                      + "\n")
        name = dat.name
    w0, w1 = warm / 60, end / 60
    verdict = "PASS" if summary["pass"] else "FAIL"
    title = (f"offerd soak {summary['started_utc']}: {summary['seconds']:.0f} s load, "
             f"{summary['mean_responses_per_s']:.0f} resp/s, {verdict}")
    script = f"""
set terminal pngcairo size 1200,860 font "sans,10" noenhanced
set output "{png}"
set datafile missing "NaN"
set multiplot layout 2,1 title "{title}"
set grid
set xlabel "minutes"
set object 1 rect from {w0},graph 0 to {w1},graph 1 fc rgb "#eef6ee" fs solid noborder behind
set label 1 "steady state (fit)" at {w0},graph 0.95 offset 1,0
set label 2 "drain" at {w1},graph 0.95 offset 1,0
set ylabel "RSS (MiB)"
set key bottom right
set yrange [0:*]
plot "{name}" u 1:2 w l lw 1 lc rgb "#9ecae1" t "offerd VmRSS", \\
     "{name}" u 1:7 w l lw 2 lc rgb "#1f77b4" t "private RSS (VmRSS - RssFile)", \\
     [{w0}:{w1}] ({ri} + {rs} * 60 * x) / 1024 w l dt 2 lw 2 lc rgb "#d62728" \\
       t sprintf("fit: %+.1f KiB/min", {rs * 60})
set ylabel "count"
set yrange [0:*]
set key center right
plot "{name}" u 1:3 w l lw 2 lc rgb "#2ca02c" t "offerd open fds", \\
     "{name}" u 1:5 w l lw 1 lc rgb "#7f7f7f" t "driver's open sockets", \\
     "{name}" u 1:4 w l lw 1 lc rgb "#ff7f0e" t "offerd_held_requests", \\
     [{w0}:{w1}] {fi} + {fs} * 60 * x w l dt 2 lw 2 lc rgb "#d62728" \\
       t sprintf("fds fit: %+.2f /min", {fs * 60})
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    finally:
        os.unlink(name)


def memory_row(s):
    rss = s["rss"]
    reg = rss.get("heap_own_regression")
    ok = yesno(s["checks"]["memory_flat"])
    limit = f"\\|slope\\| < 1% of the mean private RSS per 10 min = {rss['limit_kib_per_min']:.1f} KiB/min"
    if not reg:
        return (f"| private RSS slope (no heap samples: judged on RSS) | "
                f"{rss['private_slope_kib_per_min']:+.1f} KiB/min | {limit} | {ok} |")
    per_offer = (f", {reg['kib_per_created_offer']:+.2f} KiB per offer created "
                 f"(± {reg['kib_per_created_offer_stderr']:.2f})"
                 if "kib_per_created_offer" in reg else "")
    return (f"| offerd's own heap growth at constant connections and data (malloc in use - "
            f"SQLite's, {reg['samples']} samples, regressed on time, open fds, offers created) | "
            f"{reg['slope_kib_per_min']:+.1f} KiB/min (± {reg['stderr_kib_per_min']:.1f}); "
            f"{reg['kib_per_open_fd']:.1f} KiB per open fd{per_offer} | {limit} | {ok} |")


def fd_diff(fds):
    before, after = fds.get("idle_before_by_target", {}), fds.get("idle_after_by_target", {})
    diff = [f"{after.get(k, 0) - before.get(k, 0):+d} {os.path.basename(k)}"
            for k in sorted(set(before) | set(after)) if after.get(k, 0) != before.get(k, 0)]
    return f" ({', '.join(diff)})" if diff else ""


def fmt_s(v):
    return "never" if v is None else f"{v:.1f} s"


def yesno(ok):
    return "pass" if ok else "**FAIL**"


def render(summary, command, png_rel):
    s = summary
    rss, fds, held, drain, cpu = s["rss"], s["fds"], s["held"], s["drain"], s["cpu"]
    mb = s["memory_breakdown"]
    st = s["responses_by_status"]
    lines = [
        f"Latest run: **{'PASS' if s['pass'] else 'FAIL'}**, {s['started_utc']}, "
        f"`{command}` ({s['seconds']:.0f} s of load, the first {s['warmup_s']:.0f} s of it "
        f"warm-up; offerd at commit {s.get('commit', '?')}).",
        "",
        f"![RSS, fds and held requests over the run]({png_rel})",
        "",
        "| check | figure | threshold | result |",
        "| --- | --- | --- | --- |",
        memory_row(s),
        f"| private RSS (VmRSS - RssFile) slope after warm-up (reported) | "
        f"{rss['private_slope_kib_per_min']:+.1f} KiB/min "
        f"(± {rss['private_slope_stderr_kib_per_min']:.1f}); mean "
        f"{rss['private_mean_kib'] / 1024:.1f} MiB | - | - |",
        f"| VmRSS slope after warm-up (reported) | {rss['slope_kib_per_min']:+.1f} KiB/min "
        f"(± {rss['slope_stderr_kib_per_min']:.1f}); mean {rss['mean_kib'] / 1024:.1f} MiB, of "
        f"which RssFile {mb['rss_file_kib']['slope_per_min']:+.1f} KiB/min "
        f"(± {mb['rss_file_kib']['stderr_per_min']:.1f}) | - | - |",
        f"| fd slope after warm-up | {fds['slope_per_min']:+.3f} fds/min "
        f"(± {fds['slope_stderr_per_min']:.3f}); mean {fds['mean']:.0f} | "
        f"\\|slope\\| < {fds['limit_per_min']:g} fd/min | {yesno(s['checks']['fds_flat'])} |",
        f"| errors (5xx, other 4xx, 429 outside the probes, resets, EOFs, timeouts) | "
        f"{s['errors_total']} | 0 | {yesno(s['checks']['no_errors'])} |",
        f"| anomalies (wrong write outcome, stale read, missed wake, version going back) | "
        f"{s['anomalies_total']} | 0 | {yesno(s['checks']['no_anomalies'])} |",
        f"| held requests back to 0 after the load stopped | "
        f"{fmt_s(drain['held_zero_after_s'])} | "
        f"≤ {drain['limit_s']:g} s | {yesno(s['checks']['held_drained'])} |",
        f"| in flight back to idle (1: the /metrics request itself) | "
        f"{fmt_s(drain['in_flight_idle_after_s'])} | ≤ {drain['limit_s']:g} s | "
        f"{yesno(s['checks']['in_flight_drained'])} |",
        f"| open fds after the drain vs before the load | {fds['idle_after']} vs "
        f"{fds['idle_before']}{fd_diff(fds)} | no more sockets than before; ≤ 3 more fds in all | "
        f"{yesno(s['checks']['fds_back_to_idle'])} |",
        f"| SIGTERM at the end | exit {s['shutdown']['exit_code']} in "
        f"{s['shutdown']['seconds']:.1f} s | exit 0 within {SHUTDOWN_LIMIT_S:g} s | "
        f"{yesno(s['checks']['clean_shutdown'])} |",
        f"| error lines in offerd's log (other than clients gone, see below) | "
        f"{s['offerd_log']['error_lines']} | 0 | "
        f"{yesno(s['checks']['no_offerd_errors_logged'])} |",
        f"| offerd's /metrics: statuses it answered (end minus start) | "
        + ", ".join(f"{k}: {v:,}" for k, v in s["server_responses_by_status"].items())
        + f" | only 200, 201, 304, 409, 429 | {yesno(s['checks']['server_statuses_ok'])} |",
        "",
        f"Prewarm (before the load): {s['prewarm'].get('reads', 0):,} reads, "
        f"{s['prewarm'].get('refused_writes', 0):,} refused writes; by status "
        + ", ".join(f"{k}: {v:,}" for k, v in s["prewarm"].get("by_status", {}).items()) + ".",
        "",
        f"Responses during the load: {s['responses_total']:,} in all, {s['mean_responses_per_s']:.0f}/s during the "
        "load; by status " + ", ".join(f"{k}: {v:,}" for k, v in st.items()) +
        f". Expected 429s (probe users only): "
        + (", ".join(f"{k} {v}" for k, v in s["expected_429_by_kind"].items()) or "none")
        + f"; unexpected 429s: {s['unexpected_429']}.",
        "",
        f"RSS: {rss['idle_before_kib'] / 1024:.1f} MiB idle before the load, "
        f"{rss['min_kib'] / 1024:.1f}-{rss['max_kib'] / 1024:.1f} MiB after warm-up, peak "
        f"{rss['peak_kib'] / 1024:.1f} MiB, {rss['idle_after_kib'] / 1024:.1f} MiB after the drain. "
        f"Open fds: {fds['idle_before']} idle, {fds['min']}-{fds['max']} after warm-up (peak "
        f"{fds['peak']}), {fds['idle_after']} after the drain. Held requests: peak "
        f"{held['peak']}, mean {held['mean_steady']:.0f} after warm-up. Threads "
        f"{s['threads']['before']} before, {s['threads']['after']} after.",
        "",
        "Writes (outcome as predicted by the driver): "
        + ", ".join(f"{k}: {v}" for k, v in s["write_outcomes"].items()) + ".",
        f"Abrupt disconnects: " + ", ".join(f"{k} {v}" for k, v in
                                             s["abrupt_disconnects"].items()) + ".",
        f"SSE: " + ", ".join(f"{k} {v}" for k, v in s["sse_events"].items()) + ".",
        "Write-to-watcher delivery (from the write being sent): SSE p50 "
        f"{s['delivery_latency']['sse']['p50_ms']} ms, p99 {s['delivery_latency']['sse']['p99_ms']}"
        f" ms (n={s['delivery_latency']['sse']['n']}); long-poll p50 "
        f"{s['delivery_latency']['longpoll']['p50_ms']} ms, p99 "
        f"{s['delivery_latency']['longpoll']['p99_ms']} ms "
        f"(n={s['delivery_latency']['longpoll']['n']}).",
        "",
        f"CPU during the load: offerd {cpu['offerd_mean_pct']:.0f}% of a core, the driver "
        f"{cpu['driver_mean_pct']:.0f}%, the whole machine {cpu['system_busy_mean_pct']:.0f}% busy "
        f"(of 2 cores; other work on the machine included); driver event-loop lag p99 "
        f"{cpu['loop_lag_p99_ms']} ms, max {cpu['loop_lag_max_ms']} ms.",
    ]
    h0, h1 = rss.get("heap_at_warmup_end"), rss.get("heap_at_load_end")
    if h0 and h1 and "in_use_kib" in h0 and "in_use_kib" in h1:
        n = len(rss.get("heap_samples") or [])
        gdb = max(h["gdb_s"] for h in rss["heap_samples"])
        own0 = h0["in_use_kib"] - (h0.get("sqlite_kib") or 0)
        own1 = h1["in_use_kib"] - (h1.get("sqlite_kib") or 0)
        lines += ["", f"Where the private RSS went over the steady state ({n} samples of glibc "
                      f"`malloc_stats()` and `sqlite3_memory_used()`, gdb attached for at most "
                      f"{gdb:.1f} s each): malloc's heap taken from the system "
                      f"{h0['system_kib'] / 1024:.1f} -> {h1['system_kib'] / 1024:.1f} MiB, "
                      f"in use {h0['in_use_kib'] / 1024:.1f} -> {h1['in_use_kib'] / 1024:.1f} MiB; "
                      f"of that, SQLite's {(h0.get('sqlite_kib') or 0) / 1024:.1f} -> "
                      f"{(h1.get('sqlite_kib') or 0) / 1024:.1f} MiB "
                      f"({rss.get('heap_sqlite_slope_kib_per_min')} KiB/min; its page caches, "
                      f"bounded by `cache_size` = 16 MiB per connection) and offerd's own "
                      f"{own0 / 1024:.1f} -> {own1 / 1024:.1f} MiB, while "
                      f"{h1.get('created', 0) - h0.get('created', 0)} offers were created. "
                      f"Database file (with WAL): {mb['db_kib']['first'] / 1024:.1f} -> "
                      f"{mb['db_kib']['last'] / 1024:.1f} MiB."]
    if s["errors"]:
        lines += ["", "Errors: " + ", ".join(f"{k} {v}" for k, v in s["errors"].items()) + "."]
    if s["anomalies"]:
        lines += ["", "Anomalies: " + ", ".join(f"{k} {v}" for k, v in s["anomalies"].items())
                  + "."]
    if s["errors"] or s["anomalies"]:
        lines += ["", "Examples:", ""]
        for k, v in s["examples"].items():
            for e in v[:3]:
                lines.append(f"- `{k}`: {e}")
    lines += ["", f"Raw: `bench/soak/results/{s['stamp']}.csv` (per second), "
                  f"`bench/soak/results/{s['stamp']}.json` (summary)."]
    return "\n".join(lines)


def update_doc(doc, body, history_row):
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: markers {BEGIN} / {END} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    text = head + BEGIN + "\n" + body + "\n" + END + tail
    if HBEGIN in text and HEND in text:
        head, rest = text.split(HBEGIN, 1)
        table, tail = rest.split(HEND, 1)
        rows = [r for r in table.strip("\n").split("\n") if r.strip()]
        text = head + HBEGIN + "\n" + "\n".join(rows + [history_row]) + "\n" + HEND + tail
    with open(doc, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summary", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--png", required=True)
    ap.add_argument("--doc", default="docs/soak.md")
    ap.add_argument("--command", required=True)
    ap.add_argument("--commit", default="?", help="what was built (run.sh records it then)")
    ap.add_argument("--offerd-exit", type=int, required=True)
    ap.add_argument("--shutdown-s", type=float, required=True)
    ap.add_argument("--offerd-log", required=True)
    args = ap.parse_args()

    with open(args.summary, encoding="utf-8") as f:
        s = json.load(f)
    s["stamp"] = os.path.splitext(os.path.basename(args.summary))[0]
    s["command"] = args.command
    s["commit"] = args.commit
    errors, noise, lines = [], [], 0
    if os.path.exists(args.offerd_log):
        with open(args.offerd_log, encoding="utf-8", errors="replace") as f:
            for line in f:
                lines += 1
                if " error: " not in line:
                    continue
                (noise if any(n in line for n in DISCONNECT_NOISE) else errors).append(
                    line.rstrip("\n"))
    s["offerd_log"] = {"lines": lines, "error_lines": len(errors), "first": errors[:10],
                       "disconnect_error_lines": len(noise), "disconnect_first": noise[:3]}
    s["shutdown"] = {"exit_code": args.offerd_exit, "seconds": round(args.shutdown_s, 2)}
    s["checks"]["clean_shutdown"] = args.offerd_exit == 0 and args.shutdown_s <= SHUTDOWN_LIMIT_S
    s["checks"]["no_offerd_errors_logged"] = not errors
    s["pass"] = all(s["checks"].values())
    with open(args.summary, "w", encoding="utf-8") as f:
        json.dump(s, f, indent=1)

    rows = load_rows(args.csv)
    chart(s, rows, args.png)

    if args.doc:
        png_rel = os.path.relpath(args.png, os.path.dirname(os.path.abspath(args.doc)))
        row = (f"| {s['started_utc']} | {s['seconds']:.0f} s | {s['mean_responses_per_s']:.0f} | "
               f"{s['rss']['private_slope_kib_per_min']:+.1f} KiB/min | "
               f"{s['fds']['slope_per_min']:+.3f}/min | {s['errors_total']} | "
               f"{s['anomalies_total']} | {s['held']['peak']} | "
               f"{'PASS' if s['pass'] else 'FAIL'} | `{s['stamp']}` |")
        update_doc(args.doc, render(s, args.command, png_rel), row)

    failed = [k for k, v in s["checks"].items() if not v]
    print(f"soak {'PASS' if s['pass'] else 'FAIL'}: private RSS "
          f"{s['rss']['private_slope_kib_per_min']:+.1f} KiB/min (limit "
          f"{s['rss']['limit_kib_per_min']:.1f}; VmRSS {s['rss']['slope_kib_per_min']:+.1f}), fds "
          f"{s['fds']['slope_per_min']:+.3f}/min (limit {s['fds']['limit_per_min']:g}), "
          f"{s['responses_total']} responses {s['responses_by_status']}, errors "
          f"{s['errors_total']}, anomalies {s['anomalies_total']}, peak held {s['held']['peak']}, "
          f"drain {s['drain']['held_zero_after_s']} s, shutdown exit {args.offerd_exit} in "
          f"{args.shutdown_s:.1f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 0 if s["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
