#!/usr/bin/env python3
"""bench/realtime/experiments/ab.py - the same cell, several offerd binaries (and nchan), interleaved.

    ab.py MODE N ROUNDS NAME=OFFERD_BINARY[:CONNECTION_MEMORY] ... [nchan]

Runs rt.py's cell (fresh server, warm-up, N held, RSS, one write timed, long-poll re-poll and a
second write) for each variant in turn, ROUNDS times, and prints one JSON line per cell and the
medians per variant. Used for the evidence in docs/benchmarks-realtime.md ("Experiments"), e.g.

    bench/realtime/experiments/ab.py longpoll 10000 3 \\
        base=build-rt/src/server/offerd shared=/tmp/shared/build/src/server/offerd nchan

Run bench/realtime/run.sh once first (it builds holdpoll).

SPDX-License-Identifier: MIT
"""
import json
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import rt  # noqa: E402


def main():
    mode, n, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    variants = [a.split("=", 1) for a in sys.argv[4:] if "=" in a]
    if "nchan" in sys.argv[4:]:
        variants.append(("nchan", None))
    os.environ.setdefault("BENCH_QUIET_WAIT", "10")
    b = rt.Bench()
    res = {}
    try:
        b.setup()
        for _ in range(rounds):
            for name, spec in variants:
                mem = None
                if spec:
                    path, _, mem_s = spec.partition(":")
                    b.offerd = os.path.abspath(path)
                    mem = int(mem_s) if mem_s else None
                c = b.run_cell("nchan" if spec is None else "offerd", mode, n, conn_mem=mem)
                w, w2 = c["wake"], c.get("wake2") or {}
                row = {"rss": round(c["rss_per_conn"]),
                       "rss_repoll": round(c.get("rss_per_conn_repoll") or 0),
                       "p50": w["p50_ms"], "p99": w["p99_ms"], "max": w["max_ms"],
                       "cpu_us_per_wake": round(c["cpu_wake_s"] / n * 1e6, 1),
                       "repoll_p50": w2.get("p50_ms"), "repoll_max": w2.get("max_ms"),
                       "received": w["received"], "other_cpu_pct": round(c["other_cpu_pct"])}
                res.setdefault(name, []).append(row)
                print(name, json.dumps(row), flush=True)
    finally:
        rt.stop_all()
        shutil.rmtree(b.tmp, ignore_errors=True)
    for name, rows in res.items():
        med = {k: statistics.median([r[k] for r in rows if r[k] is not None] or [0])
               for k in rows[0]}
        print("MEDIAN", name, json.dumps(med))


if __name__ == "__main__":
    main()
