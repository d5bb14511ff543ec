#!/usr/bin/env python3
"""bench/realtime/ab.py - two offerd binaries and nchan, one fan-out cell each, interleaved.

    python3 bench/realtime/ab.py OFFERD_A OFFERD_B [--mode longpoll|sse|ws] [--out FILE]

For a change to offerd's fan-out: the same cells as bench/realtime/run.sh (rt.py's run_cell: a
fresh server per cell, warm-up watchers, N held, one write), for binary A, binary B and nchan,
their order rotated every round, so the three share the machine's moods alike. Knobs as rt.py's
(BENCH_NS, BENCH_ROUNDS, BENCH_REPOLL=0 to skip the re-poll phase, ...). Prints per system and N
the medians over rounds of the time for the write to reach all watchers and of the server's CPU
per woken watcher, and writes every cell to --out (JSON). Build the binaries first (e.g.
`cmake --build build-bench --target offerd` at two commits) and holdpoll (bench/realtime/run.sh
does). Everything it starts is stopped by rt.py, by pid.

SPDX-License-Identifier: MIT
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rt  # noqa: E402 - bench/realtime/rt.py, next to this file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--mode", default="longpoll", choices=["longpoll", "sse", "ws"])
    ap.add_argument("--out", default=os.path.join(HERE, "results", "ab.json"))
    args = ap.parse_args()
    bench = rt.Bench()
    bench.setup()
    cells = {}
    try:
        for rnd in range(bench.rounds):
            for n in bench.ns:
                order = [("A", args.a), ("B", args.b), ("nchan", None)]
                k = rnd % len(order)
                for name, binary in order[k:] + order[:k]:
                    if binary:
                        bench.offerd = binary
                    try:
                        cell = bench.run_cell("nchan" if name == "nchan" else "offerd",
                                              args.mode, n)
                    except Exception as e:  # noqa: BLE001 - recorded, the run goes on
                        rt.log(f"{name} {args.mode} {n}: FAILED: {e}")
                        cell = {"system": name, "mode": args.mode, "n": n, "error": str(e)}
                    cell["round"] = rnd
                    cells.setdefault(f"{name}/{n}", []).append(cell)
    finally:
        rt.stop_all()
    with open(args.out, "w") as f:
        json.dump({"a": args.a, "b": args.b, "mode": args.mode, "cells": cells}, f, indent=1,
                  default=str)
    print(f"{args.mode}: medians over {bench.rounds} round(s); A = {args.a}, B = {args.b}")
    print(f"{'system/N':<14} {'all reached ms':>15} {'CPU per wake us':>16}  rounds")
    for key, runs in sorted(cells.items()):
        done = [c for c in runs if "wake" in c]
        if not done:
            print(f"{key:<14} failed: {[c.get('error') for c in runs]}")
            continue
        reached = [c["wake"]["max_ms"] for c in done]
        cpu = [1e6 * c["cpu_wake_s"] / c["n"] for c in done if c.get("cpu_wake_s")]
        print(f"{key:<14} {statistics.median(reached):>15.1f} "
              f"{statistics.median(cpu) if cpu else float('nan'):>16.1f}  "
              f"{', '.join(f'{x:.0f}' for x in reached)}")


if __name__ == "__main__":
    main()
