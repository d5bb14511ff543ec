#!/usr/bin/env python3
"""bench/mix_cost.py - what one write costs next to one poll, and what that means for the mixed load.

Issue #6 asks that under a 95/5 mix of polls and writes, reads hold at least 80% of the pure-read
rate. On a machine where the server and wrk share the cores, that is a CPU budget: if a write costs
W polls' worth of CPU (server and load generator together), reads in the mix run at

    19 / (19 + W)  of the pure-read rate      (19 reads and 1 write per 20 requests)

so 0.8x needs W <= 4.75. This script measures W and where it goes, in alternating rounds:

  * offerd is started fresh on a copy of the benchmark database for each run (bench/gen_db.py);
  * wrk -t2 -c64 runs bench/wrk/mix.lua at WRITE_SHARE 0 (pure reads) and 0.05 (the mix);
  * over a window in the middle of each run it reads the CPU time of each offerd thread
    (/proc/PID/task/*/stat: libmicrohttpd's "MHD-worker"s, "offerd-writer", the rest) and of wrk,
    and the requests served from offerd's /metrics;
  * CPU per read = all CPU / reads in the pure run; a write's cost = (CPU in the mix - reads in the
    mix x CPU per read) / writes in the mix, split by thread.

Prints a table and one line "MIX_COST {json}". Everything it starts it stops; 127.0.0.1 only.

    bench/mix_cost.sh                 # builds offerd (Release) and the database, 3 rounds
    python3 bench/mix_cost.py --offerd build-bench/src/server/offerd --rounds 5

SPDX-License-Identifier: MIT
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "offerd-bench-secret-not-for-production-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def thread_cpu(pid):
    """CPU seconds per thread kind of process pid."""
    kinds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        kind = comm if comm in ("MHD-worker", "offerd-writer") else "other"
        kinds[kind] = kinds.get(kind, 0.0) + ticks / CLK_TCK
    return kinds


def process_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def served(url):
    reads = writes = 0
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('offerd_http_requests_total{route="offer_get"'):
                reads += int(float(line.split()[-1]))
            elif line.startswith('offerd_http_requests_total{route="offers_create"'):
                writes += int(float(line.split()[-1]))
    return reads, writes


def snapshot(offerd_pid, wrk_pid, url):
    cpu = thread_cpu(offerd_pid)
    cpu["wrk"] = process_cpu(wrk_pid)
    reads, writes = served(url)
    return time.monotonic(), cpu, reads, writes


def one_run(args, work, share):
    db = os.path.join(work, "run.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    shutil.copy(os.path.join(work, "bench.db"), db)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "offerd.log"), "w")
    offerd = subprocess.Popen([args.offerd, "--port", str(port), "--db", db, "--jwt-secret", SECRET,
                               "--access-log=0", "--rate-limit", "0"], stdout=log, stderr=log)
    wrk = None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or offerd.poll() is not None:
                    raise SystemExit("offerd did not start; see " + log.name)
                time.sleep(0.05)
        duration = int(args.warmup + args.window + 2.999)
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}", f"-d{duration}s",
                                "-s", os.path.join(HERE, "wrk", "mix.lua"), url, "--",
                                os.path.join(work, "tokens.tsv"), os.path.join(work, "writes.tsv"),
                                str(share)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(args.warmup)
        t0, c0, r0, w0 = snapshot(offerd.pid, wrk.pid, url)
        time.sleep(args.window)
        t1, c1, r1, w1 = snapshot(offerd.pid, wrk.pid, url)
        wrk.wait(timeout=duration + 30)
    finally:
        if wrk and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        offerd.send_signal(signal.SIGTERM)
        try:
            offerd.wait(timeout=20)
        except subprocess.TimeoutExpired:
            offerd.kill()
            offerd.wait()
        log.close()
    cpu = {k: c1.get(k, 0.0) - c0.get(k, 0.0) for k in set(c0) | set(c1)}
    return {"share": share, "seconds": t1 - t0, "reads": r1 - r0, "writes": w1 - w0, "cpu": cpu}


def analyse(pure, mix):
    per_read = sum(pure["cpu"].values()) / pure["reads"]
    extra = {k: (mix["cpu"].get(k, 0.0) - mix["reads"] * pure["cpu"].get(k, 0.0) / pure["reads"])
             / mix["writes"] for k in set(pure["cpu"]) | set(mix["cpu"])}
    w = sum(extra.values()) / per_read
    return {
        "pure_reads_per_s": pure["reads"] / pure["seconds"],
        "mix_reads_per_s": mix["reads"] / mix["seconds"],
        "mix_writes_per_s": mix["writes"] / mix["seconds"],
        "measured_ratio": (mix["reads"] / mix["seconds"]) / (pure["reads"] / pure["seconds"]),
        "read_cpu_us": per_read * 1e6,
        "write_cpu_us": {k: v * 1e6 for k, v in extra.items()},
        "write_in_reads": w,
        "predicted_ratio": 19 / (19 + w),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--offerd", required=True)
    ap.add_argument("--work", help="directory with bench.db, tokens.tsv, writes.tsv (made if absent)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--window", type=float, default=6.0)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (bench/install-deps.sh)")
    work = args.work or tempfile.mkdtemp(prefix="offerd-mixcost-")
    made = not args.work
    try:
        if not os.path.exists(os.path.join(work, "bench.db")):
            subprocess.run([sys.executable, os.path.join(HERE, "gen_db.py"), "--offerd", args.offerd,
                            "--db", os.path.join(work, "bench.db"), "--out", work,
                            "--secret", SECRET], check=True, stdout=subprocess.DEVNULL)
        rounds = []
        for i in range(args.rounds):
            pure = one_run(args, work, 0)
            mix = one_run(args, work, 0.05)
            a = analyse(pure, mix)
            rounds.append(a)
            print(f"round {i + 1}: pure {a['pure_reads_per_s']:,.0f} reads/s; mix "
                  f"{a['mix_reads_per_s']:,.0f} reads/s + {a['mix_writes_per_s']:,.0f} writes/s "
                  f"= {a['measured_ratio']:.2f}x; a write = {a['write_in_reads']:.1f} reads",
                  flush=True)
    finally:
        if made:
            shutil.rmtree(work, ignore_errors=True)

    def med(f):
        return statistics.median(f(r) for r in rounds)
    kinds = sorted({k for r in rounds for k in r["write_cpu_us"]})
    summary = {
        "rounds": len(rounds),
        "read_cpu_us": med(lambda r: r["read_cpu_us"]),
        "write_cpu_us": {k: med(lambda r: r["write_cpu_us"].get(k, 0.0)) for k in kinds},
        "write_in_reads": med(lambda r: r["write_in_reads"]),
        "predicted_ratio": med(lambda r: r["predicted_ratio"]),
        "measured_ratio": med(lambda r: r["measured_ratio"]),
        "pure_reads_per_s": med(lambda r: r["pure_reads_per_s"]),
        "mix_reads_per_s": med(lambda r: r["mix_reads_per_s"]),
        "mix_writes_per_s": med(lambda r: r["mix_writes_per_s"]),
    }
    print()
    print(f"CPU per read (offerd + wrk): {summary['read_cpu_us']:.1f} us")
    print("CPU per write, beyond what its share of reads would cost (medians over rounds):")
    for k in kinds:
        print(f"  {k:14} {summary['write_cpu_us'][k]:7.1f} us")
    total = sum(summary["write_cpu_us"].values())
    print(f"  {'total':14} {total:7.1f} us = {summary['write_in_reads']:.1f} reads "
          f"(0.8x needs <= 4.75)")
    print(f"reads in the mix / pure reads: measured {summary['measured_ratio']:.2f}x, "
          f"predicted 19/(19+W) = {summary['predicted_ratio']:.2f}x")
    print("MIX_COST " + json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
