#!/usr/bin/env python3
"""bench/profile_offerd.py - where offerd spends its time on the poll path (started by bench/profile.sh).

On the benchmark's database, with a profiling build of offerd (-O3 -g -fno-omit-frame-pointer):
  1. perf (cpu-clock sampling, DWARF call graphs) of offerd under wrk for each scenario
     (full GET 200, conditional GET 304, the 95/5 mix) at 64 connections: the split by library,
     the hottest functions (self time), and offerd's own functions with everything they call
     (inclusive time), which is what tells where a request's time goes;
  2. valgrind --tool=callgrind over a fixed number of requests (instructions per request, exact
     and repeatable, unlike the sampled times), inclusive per function;
  3. the framework's ceiling: wrk against offerd's /healthz and an unauthenticated 401 (no SQLite,
     no JSON, no JWT), to show how much of the gap to nginx is libmicrohttpd and how much is work.
Writes bench/results/profile.md (and raw perf/callgrind files, git-ignored) and the profile
section of docs/benchmarks.md. Environment: PROFILE_SECONDS [5] of perf per scenario,
PROFILE_REQUESTS [2000] per callgrind part, PROFILE_SCENARIOS [full,cond,mix].

SPDX-License-Identifier: MIT
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

HERE = bench.HERE
ROOT = bench.ROOT


def log(msg):
    bench.log(msg)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def perf_tables(data, top=25):
    """(dso split, top self symbols, offerd's functions inclusive) as text."""
    base = ["perf", "report", "-i", data, "--stdio", "-g", "none", "--percent-limit", "0.3"]
    dso = run(base + ["--no-children", "--sort", "dso"]).stdout
    sym = run(base + ["--no-children", "--sort", "dso,symbol"]).stdout
    inc = run(["perf", "report", "-i", data, "--stdio", "-g", "none", "--children",
               "--sort", "dso,symbol", "--percent-limit", "0.5"]).stdout

    def rows(text, n):
        out = [l.rstrip() for l in text.splitlines() if l.strip() and not l.startswith("#")]
        return "\n".join(out[:n])

    # Inclusive rows: offerd's own functions (with all they call), and the library entry points
    # they call by name; unresolved addresses and the threads' common frames are left out.
    inc_rows = []
    for l in inc.splitlines():
        if not l.strip() or l.startswith("#") or re.search(r"\] 0x[0-9a-f]+", l):
            continue
        if re.search(r"\s(offerd|libjwt\S*|libjansson\S*|libsqlite3\S*|libcrypto\S*)\s", l) \
                and not re.search(r"\] (start_thread|clone3)\b", l):
            inc_rows.append(re.sub(r"\s+-\s+-\s*$", "", l.rstrip()))
    return rows(dso, 12), rows(sym, top), "\n".join(inc_rows[:35])


def perf_profile(b, scenario, seconds, out_dir):
    port = b.ports["offerd"]
    pid = b.procs["offerd"].pid
    data = os.path.join(out_dir, f"perf-{scenario}.data")
    wrk_s = seconds + 4
    if scenario == "mix":
        script, sargs = os.path.join(HERE, "wrk", "mix.lua"), [b.tokens, b.writes, str(b.write_share)]
    else:
        script = os.path.join(HERE, "wrk", "poll.lua")
        sargs = [b.tokens] + ([b.etag_files["offerd"]] if scenario == "cond" else [])
    wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "64", "-d", f"{wrk_s}s", "--timeout", "10s",
                            "-s", script, f"http://127.0.0.1:{port}", "--"] + sargs,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(2)
        rec = run(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384", "-p", str(pid),
                   "-o", data, "--", "sleep", str(seconds)], timeout=seconds + 60)
        out, _ = wrk.communicate(timeout=wrk_s + 60)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(m.group(1)) if m else 0.0
    if not m:
        log(f"wrk under perf ({scenario}) reported no rate; its output:\n{out[-1500:]}")
    if rec.returncode != 0:
        raise RuntimeError(f"perf record failed: {rec.stderr.strip()[-400:]}")
    log(f"perf {scenario}: {rps:.0f} req/s under perf; reporting")
    return rps, perf_tables(data)


def syscalls(b, scenario, seconds=3):
    """perf trace -s over a few seconds of load: syscalls per request (responses = sendmsg calls)."""
    port = b.ports["offerd"]
    pid = b.procs["offerd"].pid
    if scenario == "mix":
        script, sargs = os.path.join(HERE, "wrk", "mix.lua"), [b.tokens, b.writes, str(b.write_share)]
    else:
        script = os.path.join(HERE, "wrk", "poll.lua")
        sargs = [b.tokens] + ([b.etag_files["offerd"]] if scenario == "cond" else [])
    wrk = subprocess.Popen(["wrk", "-t", "2", "-c", "64", "-d", f"{seconds + 4}s", "--timeout", "10s",
                            "-s", script, f"http://127.0.0.1:{port}", "--"] + sargs,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        tr = run(["perf", "trace", "-s", "-p", str(pid), "--", "sleep", str(seconds)],
                 timeout=seconds + 60)
    finally:
        wrk.wait(timeout=seconds + 60)
    calls, msec = {}, {}
    for line in (tr.stdout + tr.stderr).splitlines():
        m = re.match(r"^\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s+([\d.]+)\s", line)
        if m:
            calls[m.group(1)] = calls.get(m.group(1), 0) + int(m.group(2))
            msec[m.group(1)] = msec.get(m.group(1), 0.0) + float(m.group(3))
    responses = calls.get("sendmsg", 0) or calls.get("writev", 0) or calls.get("sendto", 0)
    if not responses:
        return None
    rows = sorted(calls, key=lambda k: -calls[k])
    return responses, [(k, calls[k] / responses, msec[k] / calls[k]) for k in rows[:12]]


def ceiling(b, seconds=5):
    port = b.ports["offerd"]
    out = {}
    for name, path, hdr in (("GET /healthz (no auth, no SQLite)", "/healthz", []),
                            ("GET /api/offers/x with a bad token (401: no SQLite, no JSON render)",
                             "/api/offers/x", ["-H", "Authorization: Bearer x"])):
        r = run(["wrk", "-t", "2", "-c", "64", "-d", f"{seconds}s"] + hdr + [f"http://127.0.0.1:{port}{path}"],
                timeout=seconds + 60)
        m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
        out[name] = float(m.group(1)) if m else 0.0
    return out


def callgrind(b, offerd, n, out_dir):
    """Instructions per request, by function (inclusive), for full and conditional GETs."""
    port = bench.free_port()
    db = b.db_copy("callgrind")
    outfile = os.path.join(out_dir, "callgrind.out")
    for f in os.listdir(out_dir):
        if f.startswith("callgrind.out"):
            os.unlink(os.path.join(out_dir, f))
    p = bench.Proc("callgrind", ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                 f"--callgrind-out-file={outfile}", offerd, "--port", str(port),
                                 "--db", db, "--jwt-secret", bench.SECRET, "--access-log=0",
                                 "--rate-limit", "0", "--threads", "1"],
                   os.path.join(b.tmp, "callgrind.log"))
    try:
        if not bench.wait_http(p, port, timeout=120):
            raise RuntimeError(f"offerd under callgrind did not start: {p.tail()}")
        etags = dict(l.rstrip("\n").split("\t") for l in open(b.etag_files["offerd"]))
        rows = b.token_rows
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def requests(cond):
            for i in range(n):
                oid, tok = rows[(i * 7919) % len(rows)]
                h = {"Authorization": f"Bearer {tok}"}
                if cond:
                    h["If-None-Match"] = etags[oid]
                c.request("GET", f"/api/offers/{oid}", headers=h)
                r = c.getresponse()
                r.read()
                if r.status != (304 if cond else 200):
                    raise RuntimeError(f"callgrind run: {oid} gave {r.status}")

        requests(False)  # warm: statements prepared, pages cached
        parts = {}
        for name, cond in (("full", False), ("cond", True)):
            run(["callgrind_control", "-i", "on", str(p.pid)], timeout=60)
            requests(cond)
            run(["callgrind_control", "-i", "off", str(p.pid)], timeout=60)
            run(["callgrind_control", "-d", name, str(p.pid)], timeout=60)
            parts[name] = None
        c.close()
    finally:
        p.stop(timeout=30)
    files = sorted(f for f in os.listdir(out_dir) if f.startswith("callgrind.out."))
    result = {}
    for f in files:
        path = os.path.join(out_dir, f)
        with open(path, errors="replace") as fh:
            head = fh.read(4000)
        m = re.search(r"^desc: Trigger: (?:Client Request: |dump )(\w+)", head, re.M)
        if not m or m.group(1) not in ("full", "cond"):
            continue
        ann = run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path]).stdout
        total = re.search(r"^([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", ann, re.M)
        tot = int(total.group(1).replace(",", "")) if total else 0
        lines, seen = [], set()
        for line in ann.splitlines():
            mm = re.match(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(\S.*)$", line)
            if not mm or "PROGRAM TOTALS" in line:
                continue
            ir = int(mm.group(1).replace(",", ""))
            where = mm.group(3)
            obj = re.search(r" \[([^\]]*)\]$", where)
            obj = os.path.basename(obj.group(1)) if obj else ""
            fn = re.sub(r" \[[^\]]*\]$", "", where).rsplit(":", 1)[-1]
            if re.match(r"^0x[0-9a-f]+", fn):
                continue  # a static function of a library without symbols
            if fn in seen:
                continue  # the same function listed again under another file name (inlined parts)
            seen.add(fn)
            lines.append((ir, float(mm.group(2)), f"{fn} [{obj}]" if obj else fn))
        result[m.group(1)] = (tot / n if tot else 0, lines)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offerd", required=True)
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--report-only", action="store_true",
                    help="re-render profile.md and the docs section from results/profile.json")
    args = ap.parse_args()
    if args.report_only:
        with open(os.path.join(args.results, "profile.json")) as f:
            publish(json.load(f), args.results, args.docs)
        return 0
    seconds = int(os.environ.get("PROFILE_SECONDS", "5"))
    n = int(os.environ.get("PROFILE_REQUESTS", "2000"))
    scenarios = bench.env_list("PROFILE_SCENARIOS", "full,cond,mix")
    os.makedirs(args.results, exist_ok=True)
    os.environ["BENCH_SYSTEMS"] = "offerd"
    b = bench.Bench(argparse.Namespace(offerd=args.offerd))
    perf_ok = run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"]).returncode == 0
    try:
        b.generate()
        if not b.start("offerd"):
            raise SystemExit(f"offerd did not start: {b.failed}")
        b.prepass("offerd")
        b.check_conditional("offerd")
        b.wrk("offerd", "full", 64, 3, sample=False)  # warm-up
        ceil = ceiling(b)
        perf, sysc = {}, {}
        if perf_ok:
            for sc in scenarios:
                perf[sc] = perf_profile(b, sc, seconds, args.results)
            for sc in scenarios:
                sysc[sc] = syscalls(b, sc)
        else:
            log("perf record does not work here; callgrind only")
        b.stop_all()
        cg = callgrind(b, args.offerd, n, args.results) if shutil.which("valgrind") else {}
    finally:
        b.stop_all()
        shutil.rmtree(b.tmp, ignore_errors=True)

    data = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": bench.machine(), "offerd": bench.versions()["offerd"], "ceiling": ceil,
        "perf": {sc: [rps, list(t)] for sc, (rps, t) in perf.items()},
        "syscalls": sysc, "callgrind": {k: [v[0], v[1][:60]] for k, v in cg.items()},
        "callgrind_requests": n,
    }
    with open(os.path.join(args.results, "profile.json"), "w") as f:
        json.dump(data, f, indent=1)
    publish(data, args.results, args.docs)
    return 0


NAMES = {"full": "full GET (200)", "cond": "conditional GET (304)", "mix": "95% GET / 5% POST"}


def render(d, short):
    """The profile as Markdown: everything (results/profile.md) or the docs' short form."""
    n = d["callgrind_requests"]
    out = [f"### Profile of {d['when']}\n",
           f"One run on {d['machine']}; offerd {d['offerd']}, built `-O3 -g -fno-omit-frame-pointer` "
           "(bench/profile.sh), on the benchmark's database, wrk at 64 connections on the same two "
           "cores. The Debian libraries have no debug symbols: their static functions show as "
           "addresses or under a neighbour's name, but the split by library is exact."
           + (" Everything, including the self-time tops and the mixed load's functions, is in "
              "`bench/results/profile.md`." if short else "") + "\n",
           "**The framework's ceiling** (offerd itself, same run, wrk -t2 -c64, 5 s):\n"]
    out += [f"- {k}: {v:,.0f} req/s" for k, v in d["ceiling"].items()] + [""]
    cg = d.get("callgrind", {})
    for sc, (per_req, lines) in cg.items():
        if short and sc != "full":
            continue
        out.append(f"**callgrind, {NAMES[sc]}: {per_req:,.0f} instructions per request** "
                   f"(inclusive, {n} requests, 1 worker thread"
                   + ("; the conditional GET (304): "
                      f"{cg['cond'][0]:,.0f}, the same functions" if short and "cond" in cg else "")
                   + "):\n")
        keep = [f"{ir / n:>10,.0f}  {pct:5.1f}%  {fn}" for ir, pct, fn in lines[:25 if short else 45]]
        out.append("```\n     Ir/req  share  function\n" + "\n".join(keep) + "\n```\n")
    for sc, (rps, (dso, sym, inc)) in d.get("perf", {}).items():
        if rps < 1:
            out.append(f"**perf, {NAMES[sc]}: not measured**: wrk completed no request (a 304 with a "
                       "non-zero Content-Length stalls wrk 4.1; see the results); callgrind drives it "
                       "with Python's http.client, which reads 304s correctly.\n")
            continue
        if short and sc == "cond":
            continue
        out.append(f"**perf, {NAMES[sc]}** ({rps:,.0f} req/s while sampled), split by library "
                   "(self time):\n\n```\n" + dso + "\n```\n")
        if short and sc != "full":
            continue
        rows = inc.splitlines()[:18 if short else 40]
        out.append("offerd's functions and the library calls they make, inclusive (`Children`):\n\n"
                   "```\n" + "\n".join(rows) + "\n```\n")
        if not short:
            out.append("Hottest functions, self time:\n\n```\n" + sym + "\n```\n")
    sysc = {k: v for k, v in d.get("syscalls", {}).items() if v}
    if sysc:
        out.append("**System calls per request** (`perf trace -s` over 3 s of load; tracing slows "
                   "the server, the counts per request stand; average ms per call in brackets):\n")
        names_all = []
        for r in sysc.values():
            for k, _, _ in r[1]:
                if k not in names_all:
                    names_all.append(k)
        out.append("| syscall | " + " | ".join(NAMES[sc] for sc in sysc) + " |")
        out.append("|---" * (len(sysc) + 1) + "|")
        for k in names_all:
            cells = []
            for r in sysc.values():
                m = {name: (c, ms) for name, c, ms in r[1]}
                cells.append(f"{m[k][0]:.2f} ({m[k][1]:.3f})" if k in m else "")
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def publish(d, results, docs):
    with open(os.path.join(results, "profile.md"), "w") as f:
        f.write(render(d, short=False) + "\n")
    short = render(d, short=True)
    try:
        with open(docs) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    with open(docs, "w") as f:
        f.write(bench.replace_block(text, "profile", short))
    print(short)

if __name__ == "__main__":
    sys.exit(main())
