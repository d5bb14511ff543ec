#!/usr/bin/env python3
"""bench/openloop.py - do writes at a fixed rate slow down reads? (issue #18, item 2)

Browsers poll on timers and people write at human pace, so the load that matters is open loop:
writes arrive at a fixed rate whatever the reads do. (wrk's 95/5 mix in bench/bench.py is closed
loop: when writes slow the server, wrk sends fewer of them, which hides the cost.) This script runs
two cells, interleaved per round (their order alternates), each on a fresh offerd on a fresh copy of
the benchmark database (bench/gen_db.py), 127.0.0.1 only:

  pure    wrk -t2 -c64 bench/wrk/poll.lua (full GET of a random offer with its buyer's token), D s
  writes  the same wrk run, plus bench/openloop/writer.c sending negotiations (creates, counters,
          accepts and rejects; chains.tsv) at a fixed RATE per second on CONNS keep-alive
          connections, from just before wrk starts to just after it ends. Each write's latency runs
          from its scheduled time (no coordinated omission); any answer but the expected 201/200 is
          an error, printed with its body.

Each cell is warmed up with wrk first (WARMUP s). After a writes cell offerd is killed (SIGKILL: an
acknowledged write must already be durable) and the database is checked: offers, counter offers,
decisions and versions written by the writer against the acknowledged ones. CPU of offerd, wrk and
the writer, and of everything else on the machine (other, steal) is recorded per run; a run where
other processes used >= 15% of a core or steal was >= 10% is marked noisy, as in bench.py.

Results: medians over rounds; the ratios reads(writes)/reads(pure) (target >= 0.85), read
p99(writes)/p99(pure) (target <= 1.5), write p99 (target <= 25 ms). Printed, and written to
RESULTS/openloop.json (every run, raw) and RESULTS/openloop.md (a markdown snippet).

    bench/openloop.sh [--rounds 3] [--duration 10] [--rate 500] [--conns 32]
    (env: OPENLOOP_ROUNDS, OPENLOOP_DURATION, OPENLOOP_RATE, OPENLOOP_CONNS, OPENLOOP_THINK_MS,
     OPENLOOP_WARMUP; the arguments win)

SPDX-License-Identifier: MIT
"""
import argparse
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench as B  # noqa: E402 - bench/bench.py: processes, CPU sampling, tables, the secret

LEAD_S = 0.5   # the writer starts this long before wrk, and runs this long after it
NOISY_OTHER, NOISY_STEAL = 15.0, 10.0  # % of a core, as bench.py


def log(msg):
    print(f"[openloop {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rusage_cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class OpenLoop:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="offerd-openloop-")
        self.live = []  # Procs to stop on the way out
        self.runs = []

    def generate(self):
        log(f"generating the database in {self.tmp}")
        out = subprocess.run([sys.executable, os.path.join(HERE, "gen_db.py"), "--offerd",
                              self.a.offerd, "--db", os.path.join(self.tmp, "bench.db"),
                              "--out", self.tmp, "--offers", str(self.a.offers),
                              "--secret", B.SECRET], check=True, capture_output=True, text=True)
        self.meta = json.loads(out.stdout.strip().splitlines()[-1])
        writes = self.a.rate * (self.a.duration + 2 * LEAD_S)
        # Steady state: about 3.25 writes per negotiation (writer.c's plans); under a stall the
        # writer starts more of them, so ask for margin.
        need = int(writes / 3.25 * 1.3)
        if self.meta.get("chains", 0) < need:
            log(f"WARNING: {self.meta.get('chains', 0)} negotiations in chains.tsv, about {need} "
                "wanted at this rate and duration; writes beyond them are reported as no_chain")

    def start_offerd(self, name):
        db = os.path.join(self.tmp, f"{name}.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        shutil.copyfile(os.path.join(self.tmp, "bench.db"), db)
        port = B.free_port()
        # --rate-limit 0 as bench.py: the load replays thousands of users far faster than people.
        p = B.Proc("offerd", [self.a.offerd, "--port", str(port), "--db", db, "--jwt-secret",
                              B.SECRET, "--access-log=0", "--rate-limit", "0"],
                   os.path.join(self.tmp, f"{name}.log"))
        self.live.append(p)
        deadline = time.monotonic() + 20
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                c.getresponse().read()
                c.close()
                return p, port, db
            except OSError:
                if p.p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"offerd did not start; see {p.log.name}")
                time.sleep(0.05)

    def wrk_cmd(self, port, seconds):
        return ["wrk", "-t", str(self.a.wrk_threads), "-c", str(self.a.wrk_conns),
                "-d", f"{seconds}s", "--timeout", "10s",
                "-s", os.path.join(HERE, "wrk", "poll.lua"), f"http://127.0.0.1:{port}",
                "--", os.path.join(self.tmp, "tokens.tsv")]

    def run_cell(self, cell, rnd):
        a = self.a
        offerd, port, db = self.start_offerd(f"{cell}-r{rnd}")
        writer = None
        try:
            subprocess.run(self.wrk_cmd(port, a.warmup), capture_output=True, timeout=a.warmup + 60)
            if cell == "writes":
                werr = os.path.join(self.tmp, f"writer-r{rnd}.err")
                writer = B.Proc("writer", [a.writer, str(port),
                                           os.path.join(self.tmp, "chains.tsv"), str(a.rate),
                                           str(a.duration + 2 * LEAD_S), str(a.conns),
                                           str(a.think_ms), str(a.drain)],
                                werr, stdout=subprocess.PIPE)
                self.live.append(writer)
                if writer.p.stdout.readline().strip() != b"READY":
                    raise RuntimeError(f"the writer did not start: {open(werr).read()[-2000:]}")
                time.sleep(LEAD_S)
            busy0, own0, ch0 = B.machine_cpu_seconds(), rusage_cpu(resource.RUSAGE_SELF), \
                rusage_cpu(resource.RUSAGE_CHILDREN)
            srv0, wr0 = B.cpu_seconds([offerd.pid]), B.cpu_seconds([writer.pid]) if writer else 0.0
            t0 = time.monotonic()
            out = subprocess.run(self.wrk_cmd(port, a.duration), capture_output=True, text=True,
                                 timeout=a.duration + 120)
            wall = time.monotonic() - t0
            busy1, own1, ch1 = B.machine_cpu_seconds(), rusage_cpu(resource.RUSAGE_SELF), \
                rusage_cpu(resource.RUSAGE_CHILDREN)
            srv = B.cpu_seconds([offerd.pid]) - srv0
            wr = (B.cpu_seconds([writer.pid]) - wr0) if writer else 0.0
            wrk_cpu = ch1 - ch0  # only wrk was reaped in the window (the writer still runs)
            other = max(0.0, (busy1[0] - busy0[0]) - srv - wr - wrk_cpu - (own1 - own0))
            m = re.search(r"^BENCH_RESULT (\{.*\})$", out.stdout, re.M)
            if out.returncode != 0 or not m:
                raise RuntimeError(f"wrk failed: {out.stdout}{out.stderr}")
            r = json.loads(m.group(1))
            secs = r["duration_us"] / 1e6
            run = {"cell": cell, "round": rnd, "reads": r["requests"], "seconds": secs,
                   "read_rps": r["requests"] / secs,
                   "read_p50_ms": r["latency_us"]["p50"] / 1000,
                   "read_p99_ms": r["latency_us"]["p99"] / 1000,
                   "read_max_ms": r["latency_us"]["max"] / 1000,
                   "read_errors": sum(r["errors"].values()),
                   "offerd_cpu_pct": 100 * srv / wall, "wrk_cpu_pct": 100 * wrk_cpu / wall,
                   "writer_cpu_pct": 100 * wr / wall, "other_cpu_pct": 100 * other / wall,
                   "softirq_cpu_pct": 100 * (busy1[1] - busy0[1]) / wall,
                   "steal_cpu_pct": 100 * (busy1[2] - busy0[2]) / wall}
            run["noisy"] = (run["other_cpu_pct"] >= NOISY_OTHER
                            or run["steal_cpu_pct"] >= NOISY_STEAL)
            if writer:
                stdout, _ = writer.p.communicate(timeout=a.drain + 2 * LEAD_S + 30)
                m = re.search(r"^OPENLOOP_WRITER (\{.*\})$", stdout.decode(), re.M)
                if not m:
                    raise RuntimeError(f"the writer reported nothing: {open(werr).read()[-2000:]}")
                run["writer"] = json.loads(m.group(1))
                writer.stop()
                self.live.remove(writer)
                writer = None
            # SIGKILL, not a clean stop: whatever was acknowledged must be on disk already.
            offerd.stop(sig=signal.SIGKILL)
            self.live.remove(offerd)
            if cell == "writes":
                run["durability"] = durability(db, run["writer"])
            return run
        finally:
            for p in (writer, offerd):
                if p and p in self.live:
                    p.stop()
                    self.live.remove(p)

    def run(self):
        self.generate()
        total = self.a.rounds * 2
        log(f"{self.a.rounds} round(s) x 2 cells x ({self.a.warmup} + {self.a.duration}) s; "
            f"writes at {self.a.rate:g}/s on {self.a.conns} connections")
        for rnd in range(1, self.a.rounds + 1):
            order = ["pure", "writes"] if rnd % 2 else ["writes", "pure"]
            for cell in order:
                run = self.run_cell(cell, rnd)
                self.runs.append(run)
                line = (f"[{len(self.runs)}/{total}] r{rnd} {cell:<6} "
                        f"reads {run['read_rps']:8.0f}/s p50 {run['read_p50_ms']:6.2f} ms "
                        f"p99 {run['read_p99_ms']:7.2f} ms; cpu "
                        f"offerd {run['offerd_cpu_pct']:3.0f}% wrk {run['wrk_cpu_pct']:3.0f}% "
                        f"writer {run['writer_cpu_pct']:3.0f}% other {run['other_cpu_pct']:3.0f}% "
                        f"steal {run['steal_cpu_pct']:2.0f}%{' NOISY' if run['noisy'] else ''}")
                if "writer" in run:
                    w, d = run["writer"], run["durability"]
                    line += (f"\n    writes: {w['sent']} sent, {w['acked']} acked, {w['errors']} "
                             f"errors, p50 {w['latency_ms']['p50']:.2f} ms p99 "
                             f"{w['latency_ms']['p99']:.2f} ms max {w['latency_ms']['max']:.1f} ms;"
                             f" durability {'ok' if d['ok'] else 'LOST WRITES'}; send lag p99 "
                             f"{w['send_lag_ms']['p99']:.2f} ms, peak {w['peak_busy_conns']}/"
                             f"{w['conns']} connections busy")
                    for e in w["first_errors"]:
                        line += f"\n    error: {e}"
                log(line)
                time.sleep(0.5)

    def cleanup(self):
        for p in list(self.live):
            p.stop()
        self.live.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)


def durability(db_path, w):
    """What the writer got acknowledged is in the database after offerd was killed."""
    db = sqlite3.connect(db_path)  # our own copy: may recover the WAL offerd left behind
    try:
        creates, accepted, rejected, versions = db.execute(
            "SELECT count(*), coalesce(sum(status = 'ACCEPTED'), 0),"
            " coalesce(sum(status = 'REJECTED'), 0), coalesce(sum(version), 0)"
            " FROM offers WHERE message = 'openloop'").fetchone()
        counters = db.execute("SELECT count(*) FROM counter_offers"
                              " WHERE message = 'openloop counter'").fetchone()[0]
    finally:
        db.close()
    k = w["acked_by_kind"]
    # Each create starts an offer at version 1; each counter and decision bumps it by one.
    rows = {"offers": [creates, k["create"]], "counter_offers": [counters, k["counter"]],
            "accepted": [accepted, k["accept"]], "rejected": [rejected, k["reject"]],
            "versions": [versions, k["create"] + k["counter"] + k["decision"]]}
    return {"rows_vs_acked": rows, "ok": all(have >= acked for have, acked in rows.values())}


# --- summary -------------------------------------------------------------------------------

def summarize(runs):
    out = {}
    for cell in ("pure", "writes"):
        rs = [r for r in runs if r["cell"] == cell]
        if not rs:
            continue
        med = lambda f: statistics.median(f(r) for r in rs)  # noqa: E731
        s = {"n": len(rs), "read_rps": med(lambda r: r["read_rps"]),
             "read_p50_ms": med(lambda r: r["read_p50_ms"]),
             "read_p99_ms": med(lambda r: r["read_p99_ms"]),
             "read_errors": sum(r["read_errors"] for r in rs),
             "offerd_cpu_pct": med(lambda r: r["offerd_cpu_pct"]),
             "wrk_cpu_pct": med(lambda r: r["wrk_cpu_pct"]),
             "writer_cpu_pct": med(lambda r: r["writer_cpu_pct"]),
             "other_cpu_pct": max(r["other_cpu_pct"] for r in rs),
             "steal_cpu_pct": max(r["steal_cpu_pct"] for r in rs),
             "noisy_runs": sum(1 for r in rs if r["noisy"])}
        if cell == "writes":
            ws = [r["writer"] for r in rs]
            s.update({
                "write_rate": statistics.median(w["acked"] / w["wall_s"] for w in ws),
                "write_p50_ms": statistics.median(w["latency_ms"]["p50"] for w in ws),
                "write_p99_ms": statistics.median(w["latency_ms"]["p99"] for w in ws),
                "write_max_ms": max(w["latency_ms"]["max"] for w in ws),
                "writes_sent": sum(w["sent"] for w in ws),
                "writes_acked": sum(w["acked"] for w in ws),
                "write_errors": sum(w["errors"] for w in ws),
                "writes_no_chain": sum(w["no_chain"] for w in ws),
                "writer_cpu_ms_per_1000": statistics.median(
                    1e6 * w["cpu_s"] / max(1, w["sent"]) for w in ws),
                "durable": all(r["durability"]["ok"] for r in rs),
                "send_lag_p99_ms": statistics.median(w["send_lag_ms"]["p99"] for w in ws),
                "peak_busy_conns": max(w["peak_busy_conns"] for w in ws),
                "conns": ws[0]["conns"],
            })
        out[cell] = s
    return out


def targets(s):
    p, w = s.get("pure"), s.get("writes")
    if not (p and w):
        return []
    rr = w["read_rps"] / p["read_rps"]
    pr = w["read_p99_ms"] / p["read_p99_ms"]
    return [
        ("reads with writes / pure reads >= 0.85", f"{rr:.2f}x", rr >= 0.85),
        ("read p99 with writes / pure read p99 <= 1.5", f"{pr:.2f}x", pr <= 1.5),
        ("write p99 <= 25 ms (from the scheduled time)", f"{w['write_p99_ms']:.1f} ms",
         w["write_p99_ms"] <= 25),
        ("every write accepted (201/200)",
         f"{w['writes_acked']} of {w['writes_sent']} sent, {w['write_errors']} errors"
         + (f", {w['writes_no_chain']} not sent (chains.tsv ran out)"
            if w["writes_no_chain"] else ""),
         w["write_errors"] == 0 and w["writes_no_chain"] == 0),
        ("every acknowledged write in the database after kill -9", "yes" if w["durable"] else "NO",
         w["durable"]),
    ]


def fmt(x):
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:,.0f}"


def tables(s):
    head = ["cell", "reads/s", "read p50 ms", "read p99 ms", "writes/s", "write p50 ms",
            "write p99 ms", "write max ms", "errors", "CPU offerd / wrk / writer", "notes"]
    rows = []
    for cell in ("pure", "writes"):
        c = s.get(cell)
        if not c:
            continue
        wcells = ["-"] * 4
        if cell == "writes":
            wcells = [f"{c['write_rate']:,.0f}", fmt(c["write_p50_ms"]), fmt(c["write_p99_ms"]),
                      fmt(c["write_max_ms"])]
        errors = c["read_errors"] + c.get("write_errors", 0)
        notes = [f"noisy ({c['noisy_runs']}/{c['n']})"] if c["noisy_runs"] else []
        if cell == "writes":
            # The writer's own lateness is in the write latency too: a writer short of CPU, or
            # of connections (all busy: the server is slow), shows here.
            notes.append(f"send lag p99 {fmt(c['send_lag_p99_ms'])} ms, "
                         f"peak {c['peak_busy_conns']}/{c['conns']} connections busy")
        notes = "; ".join(notes)
        rows.append([cell, f"{c['read_rps']:,.0f}", fmt(c["read_p50_ms"]), fmt(c["read_p99_ms"])]
                    + wcells + [str(errors), f"{c['offerd_cpu_pct']:.0f}% / {c['wrk_cpu_pct']:.0f}%"
                                f" / {c['writer_cpu_pct']:.0f}%", notes])
    return head, rows


def report(data):
    s = data["summary"]
    head, rows = tables(s)
    tg = targets(s)
    th, tr = ["target (issue #18)", "measured", "result"], \
        [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in tg]
    c = data["config"]
    runs = data["runs"]
    noise = (f"other processes at most {max(r['other_cpu_pct'] for r in runs):.0f}% of a core, "
             f"steal at most {max(r['steal_cpu_pct'] for r in runs):.0f}%")
    noisy = [f"r{r['round']} {r['cell']}" for r in runs if r["noisy"]]
    noise += f"; noisy runs: {', '.join(noisy)}" if noisy else "; no run was disturbed"
    w = s.get("writes", {})
    cost = (f" The writer used {w['writer_cpu_ms_per_1000']:.0f} ms of CPU per 1,000 writes."
            if w else "")
    about = (f"{data['machine']}; offerd, wrk and the writer share the cores. {c['rounds']} "
             f"round(s), cells interleaved (order alternating), {c['duration']} s of wrk per cell "
             f"after {c['warmup']} s of warm-up, fresh offerd and database per cell; medians over "
             f"rounds (write max: the largest). Reads: `wrk -t{c['wrk_threads']} "
             f"-c{c['wrk_conns']}`, full GETs (bench/wrk/poll.lua). Writes: {c['rate']:g}/s open "
             f"loop on {c['conns']} connections, think time {c['think_ms']:g} ms, latency from "
             f"the scheduled time. Noise: {noise}.{cost}")
    command = (f"bench/openloop.sh --rounds {c['rounds']} --duration {c['duration']} "
               f"--rate {c['rate']:g} --conns {c['conns']}")
    md = (f"### Run of {data['finished_utc']} (offerd {data['offerd_rev']})\n\n"
          f"{textwrap.fill(about, 100, break_on_hyphens=False)}\n\n"
          f"{B.md_table(head, rows)}\n\n{B.md_table(th, tr)}\n\nCommand: `{command}`\n")
    print()
    print(B.text_table(head, rows))
    print()
    print(B.text_table(th, tr))
    return md, tg


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--offerd",
                    default=os.path.join(ROOT, "build-bench", "src", "server", "offerd"))
    ap.add_argument("--writer", default=os.path.join(ROOT, "build-bench", "bench",
                                                     "openloop-writer"))
    ap.add_argument("--rounds", type=int, default=int(env("OPENLOOP_ROUNDS", 3)))
    ap.add_argument("--duration", type=int, default=int(env("OPENLOOP_DURATION", 10)),
                    help="seconds of wrk per cell")
    ap.add_argument("--rate", type=float, default=float(env("OPENLOOP_RATE", 500)),
                    help="writes per second")
    ap.add_argument("--conns", type=int, default=int(env("OPENLOOP_CONNS", 32)),
                    help="the writer's keep-alive connections")
    ap.add_argument("--think-ms", type=float, default=float(env("OPENLOOP_THINK_MS", 100)),
                    help="a negotiation's next step is ready this long after the last answer")
    ap.add_argument("--warmup", type=int, default=int(env("OPENLOOP_WARMUP", 3)))
    ap.add_argument("--drain", type=float, default=10.0,
                    help="seconds the writer waits for answers after its last write")
    ap.add_argument("--wrk-conns", type=int, default=64)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--offers", type=int, default=10000)
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    for exe in (args.offerd, args.writer):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} is missing; bench/openloop.sh builds it")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (bench/install-deps.sh)")

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGINT too: a shell starting it in the background leaves SIGINT ignored, and Ctrl-C (or
    # kill -INT) must still stop everything it started.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    ol = OpenLoop(args)
    try:
        ol.run()
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        return 130
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        ol.cleanup()
    git = lambda *a: subprocess.run(["git", "-C", ROOT, *a], capture_output=True,  # noqa: E731
                                    text=True).stdout.strip()
    rev = git("rev-parse", "--short", "HEAD") or "?"
    if git("status", "--porcelain", "--", "src", "migrations", "CMakeLists.txt"):
        rev += " + uncommitted changes in src/"
    data = {"finished_utc": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"), "offerd_rev": rev, "machine": B.machine(),
            "config": {k: getattr(args, k) for k in ("rounds", "duration", "rate", "conns",
                                                     "think_ms", "warmup", "drain", "wrk_conns",
                                                     "wrk_threads", "offers")},
            "meta": ol.meta, "summary": summarize(ol.runs), "runs": ol.runs}
    md, tg = report(data)
    data["targets"] = [{"target": t, "measured": m, "ok": ok} for t, m, ok in tg]
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "openloop.json"), "w") as f:
        json.dump(data, f, indent=1)
    with open(os.path.join(args.results, "openloop.md"), "w") as f:
        f.write(md)
    print(f"\nraw: {os.path.join(args.results, 'openloop.json')}; markdown: "
          f"{os.path.join(args.results, 'openloop.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
