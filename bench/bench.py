#!/usr/bin/env python3
"""bench/bench.py - the offerd benchmark (issue #6): offerd against its references, in one run.

Started by bench/run.sh, which builds offerd and the references first. This script:
  1. generates the database and tokens (bench/gen_db.py) into a temporary directory;
  2. starts every system on its own free 127.0.0.1 port, each on its own copy of the database:
       offerd        the server under test (--access-log=0, HS256 bench secret)
       node          node:http + better-sqlite3, one process        (today's stack)
       node-cluster  the same with node:cluster, 2 workers          (today's stack, scaled)
       nginx         a static file the size of a typical offer, keep-alive  (the ceiling)
       nextjs        a Next.js route handler, next build + next start       (what the frontend
                     team would deploy otherwise)
  3. pre-passes every offer once per system (must be 200; records each ETag for the 304 load) and
     warms each system up;
  4. runs wrk for each scenario x connection count x system, interleaving the systems within each
     round (their order rotates per round), sampling each system's RSS (every process of it) and
     CPU, and the machine's CPU used by anything else (noise);
  5. takes medians over rounds, prints the table, writes bench/results/results.json, the chart
     (gnuplot) and the results section of docs/benchmarks.md; stops everything it started.

Scenarios: full (GET 200, token verified, party checked), cond (the same GET with If-None-Match of
the current ETag: 304), mix (95% full GETs, 5% POST /api/offers that create an offer: 201, durable).

Environment (defaults in brackets): BENCH_DURATION [10] seconds per wrk run, BENCH_ROUNDS [3],
BENCH_WARMUP [5] seconds per system, BENCH_CONNS [64,256], BENCH_WRK_THREADS [64:2,256:1],
BENCH_SCENARIOS [full,cond,mix], BENCH_SYSTEMS [offerd,node,node-cluster,nginx,nextjs],
BENCH_WRITE_SHARE [0.05], BENCH_OFFERS [10000], BENCH_OFFERD_THREADS [offerd's default: cores].

SPDX-License-Identifier: MIT
"""
import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECRET = "offerd-bench-secret-not-for-production-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

SYSTEM_INFO = {
    "offerd": "offerd (C, libmicrohttpd + SQLite)",
    "node": "Node.js http + better-sqlite3, 1 process",
    "node-cluster": "Node.js http + better-sqlite3, cluster of 2 workers",
    "nginx": "nginx static file of the same size (ceiling)",
    "nextjs": "Next.js route handler (next start)",
}
SCENARIO_INFO = {
    "full": "full GET (200)",
    "cond": "conditional GET (304)",
    "mix": "95% GET / 5% POST",
}
REFERENCES = ["nginx", "node", "node-cluster", "nextjs"]


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_list(name, default):
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- processes -----------------------------------------------------------------------------------

class Proc:
    """A child started in its own session; stop() ends its whole process group (and nothing else)."""

    def __init__(self, name, cmd, log_path, env=None, cwd=None, stdout=None):
        """stdout: where the child's standard output goes instead of the log (e.g. a pipe)."""
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.p = subprocess.Popen(cmd, stdout=stdout or self.log,
                                  stderr=self.log if stdout else subprocess.STDOUT, env=env,
                                  cwd=cwd, start_new_session=True, stdin=subprocess.DEVNULL)
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=8.0, sig=signal.SIGTERM):
        """Ends the group with sig (SIGKILL: a crash, as a durability check wants), then SIGKILL."""
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone while its group lives on (a forked worker): end the group too.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.p.wait(2)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

    def tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(proc, port, timeout=90.0):
    """Waits until the port answers HTTP at all (any status); False if the process died or timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            return False
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            c.getresponse().read()
            c.close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


# --- /proc sampling ------------------------------------------------------------------------------

def proc_tree(root):
    """Pids of root and all its descendants."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
            parent[int(d)] = int(s[s.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError):
            pass
    tree, todo = {root}, [root]
    while todo:
        p = todo.pop()
        for c, pp in parent.items():
            if pp == p and c not in tree:
                tree.add(c)
                todo.append(c)
    return sorted(tree)


def rss_bytes(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_seconds(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                s = f.read()
            fields = s[s.rindex(b")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


def machine_cpu_seconds():
    """(user + nice + system, irq + softirq, steal) of the whole machine, in seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]] + [0] * 10
    # user nice system idle iowait irq softirq steal
    return ((v[0] + v[1] + v[2]) / CLK_TCK, (v[5] + v[6]) / CLK_TCK, v[7] / CLK_TCK)


class Sampler:
    """Max RSS of a process tree while a run lasts, polled every 200 ms in a thread."""

    def __init__(self, root):
        self.pids = proc_tree(root)
        self.max_rss = rss_bytes(self.pids)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop.wait(0.2):
            self.max_rss = max(self.max_rss, rss_bytes(self.pids))

    def stop(self):
        self._stop.set()
        self._t.join()
        self.max_rss = max(self.max_rss, rss_bytes(self.pids))
        return self.max_rss


# --- systems -------------------------------------------------------------------------------------

NGINX_CONF = """\
# nginx for the offerd benchmark: a static file of the size of an offer response, keep-alive.
{user}
worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000000;
    open_file_cache max=64 inactive=60s;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        root {prefix}/www;
        location /api/offers/ {{
            default_type application/json;
            add_header Cache-Control "private, no-cache";
            try_files /offer.json =404;
        }}
        location = /healthz {{ return 200 "ok"; }}
    }}
}}
"""


class Bench:
    def __init__(self, args):
        self.args = args
        self.duration = env_int("BENCH_DURATION", 10)
        self.rounds = env_int("BENCH_ROUNDS", 3)
        self.warmup = env_int("BENCH_WARMUP", 5)
        self.conns = [int(c) for c in env_list("BENCH_CONNS", "64,256")]
        self.wrk_threads = {int(k): int(v) for k, v in
                            (x.split(":") for x in env_list("BENCH_WRK_THREADS", "64:2,256:1"))}
        self.scenarios = env_list("BENCH_SCENARIOS", "full,cond,mix")
        self.systems = env_list("BENCH_SYSTEMS", "offerd,node,node-cluster,nginx,nextjs")
        self.write_share = float(os.environ.get("BENCH_WRITE_SHARE", "0.05"))
        self.offers = env_int("BENCH_OFFERS", 10000)
        self.offerd_threads = os.environ.get("BENCH_OFFERD_THREADS", "")
        self.tmp = tempfile.mkdtemp(prefix="offerd-bench-")
        os.chmod(self.tmp, 0o755)  # nginx workers run as nobody and read www/ below it
        self.procs = {}      # system -> Proc
        self.ports = {}      # system -> port
        self.failed = {}     # system -> reason
        self.etag_files = {}
        self.runs = []       # every wrk run
        self.noise = []
        self.offer_size = None
        self.size_stats = {}
        self.meta = {}
        self.durability = {}
        self.not_modified_length = {}  # system -> Content-Length header of its 304s (or None)
        self.skipped = {}              # "scenario/system" -> why it could not be measured
        self.versions = versions()     # now: the tree offerd is built from, not the one at the end

    # -- setup --

    def generate(self):
        log(f"generating the database ({self.offers} offers) in {self.tmp}")
        out = subprocess.run(
            [sys.executable, os.path.join(HERE, "gen_db.py"), "--offerd", self.args.offerd,
             "--db", os.path.join(self.tmp, "bench.db"), "--out", self.tmp,
             "--offers", str(self.offers), "--secret", SECRET],
            check=True, capture_output=True, text=True)
        self.meta = json.loads(out.stdout.strip().splitlines()[-1])
        self.tokens = os.path.join(self.tmp, "tokens.tsv")
        self.writes = os.path.join(self.tmp, "writes.tsv")
        with open(self.tokens) as f:
            self.token_rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]

    def db_copy(self, system):
        path = os.path.join(self.tmp, f"{system}.db")
        shutil.copyfile(os.path.join(self.tmp, "bench.db"), path)
        return path

    def start(self, system):
        port = free_port()
        logp = os.path.join(self.tmp, f"{system}.log")
        env = dict(os.environ, NEXT_TELEMETRY_DISABLED="1", NODE_ENV="production")
        ref = os.path.join(HERE, "ref")
        if system == "offerd":
            # --rate-limit 0: wrk replays ~3,000 buyers' tokens far faster than any person polls;
            # the per-user limit (20/s by default) would answer most of it 429. The benchmark
            # measures the poll path, not the throttle.
            cmd = [self.args.offerd, "--port", str(port), "--db", self.db_copy(system),
                   "--jwt-secret", SECRET, "--access-log=0", "--rate-limit", "0"]
            if self.offerd_threads:
                cmd += ["--threads", self.offerd_threads]
            p = Proc(system, cmd, logp, env)
        elif system in ("node", "node-cluster"):
            cmd = ["node", os.path.join(ref, "node-server.js"), "--port", str(port),
                   "--db", self.db_copy(system), "--secret", SECRET]
            if system == "node-cluster":
                cmd += ["--workers", "2"]
            p = Proc(system, cmd, logp, env, cwd=ref)
        elif system == "nginx":
            prefix = os.path.join(self.tmp, "nginx")
            for d in ("www", "tmp"):
                os.makedirs(os.path.join(prefix, d), exist_ok=True)
            os.chmod(prefix, 0o755)
            os.chmod(os.path.join(prefix, "www"), 0o755)
            with open(os.path.join(prefix, "www", "offer.json"), "wb") as f:
                f.write(self.offer_body)
            os.chmod(os.path.join(prefix, "www", "offer.json"), 0o644)
            conf = os.path.join(prefix, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(prefix=prefix, port=port, workers=os.cpu_count() or 2,
                                          user="user root;" if os.geteuid() == 0 else ""))
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            p = Proc(system, [nginx, "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "error.log")],
                     logp, env)
        elif system == "nextjs":
            env.update(BENCH_DB=self.db_copy(system), BENCH_JWT_SECRET=SECRET)
            nxt = os.path.join(ref, "node_modules", "next", "dist", "bin", "next")
            p = Proc(system, ["node", nxt, "start", os.path.join(ref, "next-app"), "-p", str(port),
                              "-H", "127.0.0.1"], logp, env, cwd=ref)
        else:
            raise SystemExit(f"unknown system {system}")
        self.procs[system] = p
        if not wait_http(p, port):
            self.failed[system] = f"did not start: {p.tail(5)}"
            log(f"{system}: FAILED to start; log tail:\n{p.tail()}")
            p.stop()
            del self.procs[system]
            return False
        self.ports[system] = port
        log(f"{system}: listening on 127.0.0.1:{port} (pid {p.pid})")
        return True

    def stop_all(self):
        for name, p in list(self.procs.items()):
            p.stop()
            del self.procs[name]

    # -- pre-pass: every offer once, 200, its ETag --

    def prepass(self, system):
        port = self.ports[system]
        rows = self.token_rows
        local = threading.local()

        def fetch(row):
            oid, tok = row[0], row[1]
            for attempt in range(3):
                c = getattr(local, "c", None)
                if c is None:
                    c = local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                try:
                    c.request("GET", f"/api/offers/{oid}", headers={"Authorization": f"Bearer {tok}"})
                    r = c.getresponse()
                    body = r.read()
                    return oid, r.status, r.getheader("ETag"), body
                except (OSError, http.client.HTTPException):
                    c.close()
                    local.c = None
            raise RuntimeError(f"{system}: cannot fetch offer {oid}")

        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            results = list(ex.map(fetch, rows))
        bad = [(oid, st) for oid, st, et, _ in results if st != 200 or not et]
        if bad:
            raise RuntimeError(f"{system}: {len(bad)} offers not 200 with an ETag, e.g. {bad[:3]}")
        path = os.path.join(self.tmp, f"etags-{system}.tsv")
        with open(path, "w") as f:
            for oid, _, et, _ in results:
                f.write(f"{oid}\t{et}\n")
        self.etag_files[system] = path
        return results

    def check_conditional(self, system, n=20):
        port = self.ports[system]
        etags = dict(line.rstrip("\n").split("\t") for line in open(self.etag_files[system]))
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for oid, tok in self.token_rows[:n]:
            c.request("GET", f"/api/offers/{oid}",
                      headers={"Authorization": f"Bearer {tok}", "If-None-Match": etags[oid]})
            r = c.getresponse()
            r.read()
            if r.status != 304:
                raise RuntimeError(f"{system}: conditional GET of {oid} gave {r.status}, not 304")
            self.not_modified_length[system] = r.getheader("Content-Length")
        c.close()

    def prepare_nginx_file(self, offerd_results):
        """The static file: the offerd body of median size (a real offer, typical length)."""
        bodies = sorted((len(b), b) for _, _, _, b in offerd_results)
        self.offer_size = bodies[len(bodies) // 2][0]
        self.offer_body = bodies[len(bodies) // 2][1]
        sizes = [s for s, _ in bodies]
        self.size_stats = {"median": self.offer_size, "min": sizes[0], "max": sizes[-1],
                           "mean": round(statistics.mean(sizes))}

    def nginx_etags(self):
        port = self.ports["nginx"]
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/api/offers/x")
        r = c.getresponse()
        body = r.read()
        et = r.getheader("ETag")
        c.close()
        if r.status != 200 or len(body) != self.offer_size or not et:
            raise RuntimeError(f"nginx: static file answered {r.status}, {len(body)} bytes")
        path = os.path.join(self.tmp, "etags-nginx.tsv")
        with open(path, "w") as f:
            for oid, _ in self.token_rows:
                f.write(f"{oid}\t{et}\n")
        self.etag_files["nginx"] = path

    # -- wrk --

    def wrk(self, system, scenario, conns, duration, sample=True):
        port = self.ports[system]
        threads = self.wrk_threads.get(conns, 2 if conns <= 128 else 1)
        url = f"http://127.0.0.1:{port}"
        if scenario == "mix":
            script = os.path.join(HERE, "wrk", "mix.lua")
            sargs = [self.tokens, self.writes, str(self.write_share)]
        else:
            script = os.path.join(HERE, "wrk", "poll.lua")
            sargs = [self.tokens] + ([self.etag_files[system]] if scenario == "cond" else [])
        cmd = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s", "--timeout", "10s",
               "-s", script, url, "--"] + sargs
        proc = self.procs[system]
        sampler = Sampler(proc.pid) if sample else None
        srv_cpu0 = cpu_seconds(sampler.pids) if sampler else 0
        busy0 = machine_cpu_seconds()
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
        wall = time.monotonic() - t0
        ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        busy1 = machine_cpu_seconds()
        if not sample:
            return None
        max_rss = sampler.stop()
        srv_cpu = cpu_seconds(sampler.pids) - srv_cpu0
        wrk_cpu = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
        own_cpu = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
        # Process time nobody of ours used: other work on the machine. Softirq (the loopback
        # network stack, driven by this very load) is kept apart; steal is the hypervisor's.
        other = max(0.0, (busy1[0] - busy0[0]) - srv_cpu - wrk_cpu - own_cpu)
        softirq = busy1[1] - busy0[1]
        steal = busy1[2] - busy0[2]
        m = re.search(r"^BENCH_RESULT (\{.*\})$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed for {system}/{scenario}/{conns}: {out.stdout}{out.stderr}")
        r = json.loads(m.group(1))
        secs = r["duration_us"] / 1e6
        run = {
            "system": system, "scenario": scenario, "conns": conns, "wrk_threads": threads,
            "requests": r["requests"], "seconds": secs, "rps": r["requests"] / secs,
            "p50_ms": r["latency_us"]["p50"] / 1000, "p90_ms": r["latency_us"]["p90"] / 1000,
            "p99_ms": r["latency_us"]["p99"] / 1000, "p999_ms": r["latency_us"]["p999"] / 1000,
            "max_ms": r["latency_us"]["max"] / 1000, "bytes_per_req": r["bytes"] / max(1, r["requests"]),
            "errors": r["errors"], "rss_mib": max_rss / 2**20,
            "server_cpu_pct": 100 * srv_cpu / wall, "wrk_cpu_pct": 100 * wrk_cpu / wall,
            "other_cpu_pct": 100 * other / wall, "softirq_cpu_pct": 100 * softirq / wall,
            "steal_cpu_pct": 100 * steal / wall,
        }
        if scenario == "mix":
            st = {int(k): v for k, v in r.get("statuses", {}).items()}
            run["statuses"] = st
            run["read_rps"] = st.get(200, 0) / secs
            run["write_rps"] = st.get(201, 0) / secs
            run["writes_ok"] = st.get(201, 0)
            run["bad_statuses"] = {k: v for k, v in st.items() if k not in (200, 201)}
        return run

    # -- the run --

    def run(self):
        self.generate()
        order = [s for s in self.systems if s != "nginx"] + (["nginx"] if "nginx" in self.systems else [])
        prepass = {}
        for system in order:
            if system == "nginx":
                if "offerd" not in prepass:
                    self.failed["nginx"] = "needs offerd's pre-pass for the file size"
                    continue
                self.prepare_nginx_file(prepass["offerd"])
            if not self.start(system):
                continue
            try:
                if system == "nginx":
                    self.nginx_etags()
                else:
                    t0 = time.monotonic()
                    prepass[system] = self.prepass(system)
                    log(f"{system}: pre-pass of {len(self.token_rows)} offers in {time.monotonic() - t0:.1f} s")
                self.check_conditional(system)
            except RuntimeError as e:
                self.failed[system] = str(e)
                log(f"{system}: FAILED: {e}")
                self.procs.pop(system).stop()
                del self.ports[system]
        if "offerd" in prepass and self.offer_size is None:
            self.prepare_nginx_file(prepass["offerd"])
        live = [s for s in self.systems if s in self.procs]
        if not live:
            raise SystemExit("no system started")
        for system in live:
            log(f"{system}: warming up {self.warmup} s")
            self.wrk(system, "full", 64, self.warmup, sample=False)

        if "cond" in self.scenarios:
            # A client must be able to read the 304s at all: wrk 4.1's HTTP parser waits for a body
            # when a 304 carries a non-zero Content-Length (RFC 9110 allows that header, with the
            # 200's length), so such a server gets no completed request and every cell would be 0.
            for system in live:
                smoke = self.wrk(system, "cond", 64, 2)
                if smoke["requests"] < 10:
                    cl = self.not_modified_length.get(system)
                    why = (f"wrk completed {smoke['requests']} conditional GETs in 2 s"
                           f" ({smoke['errors']['timeout']} timeouts)")
                    if cl and cl != "0":
                        why += (f": {system}'s 304 carries Content-Length: {cl} and wrk 4.1's "
                                "http_parser waits for that many body bytes, which never come")
                    self.skipped[f"cond/{system}"] = why
                    log(f"{system}: conditional GET not measurable: {why}")
        cells = [(sc, c) for sc in self.scenarios for c in self.conns]
        skip = lambda sc, sy: (sc == "mix" and sy == "nginx") or f"{sc}/{sy}" in self.skipped  # noqa: E731
        total = sum(1 for sc, c in cells for s in live if not skip(sc, s))
        log(f"{self.rounds} round(s) x {total} runs x {self.duration} s "
            f"= about {self.rounds * total * (self.duration + 1.5) / 60:.1f} min")
        done = 0
        for rnd in range(self.rounds):
            rot = live[rnd % len(live):] + live[:rnd % len(live)]
            for sc, c in cells:
                for system in rot:
                    if skip(sc, system):
                        continue  # a static file takes no writes; or not measurable (above)
                    if not self.procs[system].alive():
                        raise RuntimeError(f"{system} died; log tail:\n{self.procs[system].tail()}")
                    run = self.wrk(system, sc, c, self.duration)
                    run["round"] = rnd + 1
                    self.runs.append(run)
                    done += 1
                    extra = (f" reads {run['read_rps']:.0f}/s writes {run['write_rps']:.0f}/s"
                             if sc == "mix" else "")
                    log(f"[{done}/{self.rounds * total}] r{rnd + 1} {sc:<4} c={c:<3} {system:<12} "
                        f"{run['rps']:>9.0f} req/s p50 {run['p50_ms']:7.2f} ms p99 {run['p99_ms']:8.2f} ms "
                        f"rss {run['rss_mib']:5.1f} MiB cpu: srv {run['server_cpu_pct']:3.0f}% "
                        f"wrk {run['wrk_cpu_pct']:3.0f}% softirq {run['softirq_cpu_pct']:3.0f}% "
                        f"other {run['other_cpu_pct']:3.0f}% steal {run['steal_cpu_pct']:2.0f}%{extra}")
                    time.sleep(0.5)
        self.durability = self.check_durability(live)

    def check_durability(self, live):
        """Every 201 the load generator saw is an offer row in that system's database."""
        out = {}
        if "mix" not in self.scenarios:
            return out
        import sqlite3
        for system in live:
            if system == "nginx":
                continue
            acked = sum(r.get("writes_ok", 0) for r in self.runs
                        if r["system"] == system and r["scenario"] == "mix")
            db = sqlite3.connect(f"file:{os.path.join(self.tmp, system + '.db')}?mode=ro", uri=True)
            rows = db.execute("SELECT count(*) FROM offers WHERE message = 'Would this do?'").fetchone()[0]
            db.close()
            out[system] = {"acknowledged": acked, "rows": rows, "ok": rows >= acked}
        return out


# --- summary, report -----------------------------------------------------------------------------

def summarize(runs):
    cells = {}
    for r in runs:
        cells.setdefault((r["scenario"], r["conns"], r["system"]), []).append(r)
    out = {}
    for key, rs in cells.items():
        med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
        s = {"n": len(rs), "rps": med("rps"), "p50_ms": med("p50_ms"), "p99_ms": med("p99_ms"),
             "rss_mib": max(r["rss_mib"] for r in rs), "server_cpu_pct": med("server_cpu_pct"),
             "wrk_cpu_pct": med("wrk_cpu_pct"), "other_cpu_pct": max(r["other_cpu_pct"] for r in rs),
             "steal_cpu_pct": max(r.get("steal_cpu_pct", 0) for r in rs),
             "noisy_runs": sum(1 for r in rs if r["other_cpu_pct"] >= 15
                               or r.get("steal_cpu_pct", 0) >= 10),
             "bytes_per_req": med("bytes_per_req"),
             "errors": sum(sum(r["errors"].values()) for r in rs),
             "rps_spread": (min(r["rps"] for r in rs), max(r["rps"] for r in rs))}
        if key[0] == "mix":
            s["read_rps"] = med("read_rps")
            s["write_rps"] = med("write_rps")
            s["bad_statuses"] = sum(sum(r["bad_statuses"].values()) for r in rs)
        out[key] = s
    return out


def fmt_rate(x):
    return f"{x:,.0f}"


def fmt_ms(x):
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def results_table(summary, scenarios, conns, systems):
    head = ["scenario", "conns", "system", "req/s", "p50 ms", "p99 ms", "RSS MiB", "server CPU",
            "wrk CPU", "B/resp", "errors", "notes"]
    rows = []
    for sc in scenarios:
        for c in conns:
            for sy in systems:
                s = summary.get((sc, c, sy))
                if not s:
                    continue
                notes = ""
                if sc == "mix":
                    notes = f"reads {fmt_rate(s['read_rps'])}/s, writes {fmt_rate(s['write_rps'])}/s"
                    if s["bad_statuses"]:
                        notes += f", {s['bad_statuses']} non-200/201"
                lo, hi = s["rps_spread"]
                if s["n"] > 1 and s["rps"] and (hi - lo) / s["rps"] > 0.15:
                    notes += ("; " if notes else "") + f"rounds spread {fmt_rate(lo)}..{fmt_rate(hi)}"
                if s.get("noisy_runs"):
                    notes += ("; " if notes else "") + f"noisy ({s['noisy_runs']}/{s['n']})"
                rows.append([SCENARIO_INFO[sc], str(c), sy, fmt_rate(s["rps"]), fmt_ms(s["p50_ms"]),
                             fmt_ms(s["p99_ms"]), f"{s['rss_mib']:.0f}", f"{s['server_cpu_pct']:.0f}%",
                             f"{s['wrk_cpu_pct']:.0f}%",
                             f"{s['bytes_per_req']:.0f}", str(s["errors"]), notes])
    return head, rows


def ratio_table(summary, scenarios, conns, systems):
    refs = [r for r in REFERENCES if r in systems]
    head = ["scenario", "conns"] + [f"vs {r}" for r in refs]
    rows = []
    for sc in scenarios:
        for c in conns:
            o = summary.get((sc, c, "offerd"))
            if not o:
                continue
            row = [SCENARIO_INFO[sc], str(c)]
            for r in refs:
                s = summary.get((sc, c, r))
                if not s:
                    row.append("n/a")
                    continue
                row.append(f"{o['rps'] / s['rps']:.2f}x req/s, {o['p99_ms'] / s['p99_ms']:.2f}x p99, "
                           f"{o['rss_mib'] / s['rss_mib']:.2f}x RSS")
            rows.append(row)
    return head, rows


def targets(summary, conns, durability):
    """The issue's targets, offerd against nginx (like for like) and against itself."""
    out = []

    def get(sc, c, sy):
        return summary.get((sc, c, sy))

    for c in conns:
        o, n = get("cond", c, "offerd"), get("cond", c, "nginx")
        n200 = get("full", c, "nginx")
        if o and n:
            r = o["rps"] / n["rps"]
            extra = f" (vs nginx's 200: {o['rps'] / n200['rps']:.2f}x)" if n200 else ""
            out.append((f"conditional GET (304) req/s >= 0.8x nginx's (c={c}; issue #18)",
                        f"{r:.2f}x{extra}", r >= 0.8))
        elif n:
            out.append((f"conditional GET (304) req/s >= 0.8x nginx's (c={c}; issue #18)",
                        "not measurable (see the note above the table)", False))
    for c in conns:
        o, n = get("full", c, "offerd"), get("full", c, "nginx")
        if o and n:
            r = o["rps"] / n["rps"]
            out.append((f"full GET (200) req/s >= 0.6x nginx's (c={c})", f"{r:.2f}x", r >= 0.6))
    big = max(conns)
    for sc in ("full", "cond"):
        o, n = get(sc, big, "offerd"), get(sc, big, "nginx")
        if o and n:
            r = o["p99_ms"] / n["p99_ms"]
            out.append((f"{SCENARIO_INFO[sc]} p99 at c={big} <= 2x nginx's",
                        f"{r:.2f}x ({fmt_ms(o['p99_ms'])} vs {fmt_ms(n['p99_ms'])} ms)", r <= 2.0))
        elif n:
            out.append((f"{SCENARIO_INFO[sc]} p99 at c={big} <= 2x nginx's",
                        "not measurable (see the note above the table)", False))
    for c in conns:
        m, f = get("mix", c, "offerd"), get("full", c, "offerd")
        if m and f:
            r = m["read_rps"] / f["rps"]
            out.append((f"closed-loop 95/5 mix: reads >= 0.8x the pure-read rate (c={c}; issue #6, "
                        "a CPU budget: see below)",
                        f"{r:.2f}x ({fmt_rate(m['read_rps'])} vs {fmt_rate(f['rps'])} /s)", r >= 0.8))
    d = durability.get("offerd")
    if d:
        out.append(("mixed load: every acknowledged write (201) is in the database",
                    f"{d['rows']} rows for {d['acknowledged']} acknowledged 201s", d["ok"]))
    return out


def text_table(head, rows):
    w = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    line = lambda r: "  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * x for x in w])] + [line(r) for r in rows])


def md_table(head, rows):
    esc = lambda x: str(x).replace("|", "\\|")  # noqa: E731
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(esc(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def versions():
    def cmd(c):
        try:
            return subprocess.run(c, capture_output=True, text=True, timeout=10).stdout.strip() or \
                subprocess.run(c, capture_output=True, text=True, timeout=10).stderr.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    def npm_version(pkg):
        try:
            with open(os.path.join(HERE, "ref", "node_modules", pkg, "package.json")) as f:
                return json.load(f)["version"]
        except OSError:
            return "?"

    rev = cmd(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = cmd(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "migrations", "CMakeLists.txt"])
    nginx_v = subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], capture_output=True,
                             text=True).stderr.strip().replace("nginx version: ", "")
    return {
        "offerd": f"git {rev}" + (" + uncommitted changes in src/" if dirty else ""),
        "nginx": nginx_v, "node": cmd(["node", "--version"]), "next": npm_version("next"),
        "better-sqlite3": npm_version("better-sqlite3"),
        "wrk": cmd(["sh", "-c", "wrk -v 2>&1 | head -1"]).split(" [")[0],
    }


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 2**20
    osr = "?"
    try:
        with open("/etc/os-release") as f:
            osr = dict(l.rstrip().split("=", 1) for l in f if "=" in l).get("PRETTY_NAME", "?").strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, {osr}, Linux {platform.release()}"


def chart(summary, scenarios, conns, systems, path, title):
    d = os.path.dirname(path)
    groups = [(sc, c) for sc in scenarios for c in conns]
    for metric, fname in (("rps", "chart-rps.dat"), ("p99_ms", "chart-p99.dat")):
        with open(os.path.join(d, fname), "w") as f:
            f.write("group\t" + "\t".join(systems) + "\n")
            for sc, c in groups:
                vals = []
                for sy in systems:
                    s = summary.get((sc, c, sy))
                    vals.append(f"{s[metric]:.3f}" if s else "?")
                f.write(f"\"{sc} c={c}\"\t" + "\t".join(vals) + "\n")
    cols = len(systems)
    plot = lambda fn: ", ".join(  # noqa: E731
        (f"'{fn}' using {i + 2}:xtic(1) title columnhead({i + 2})" if i == 0 else
         f"'' using {i + 2} title columnhead({i + 2})") for i in range(cols))
    script = f"""
set terminal pngcairo size 1400,1000 font ",11"
set output '{path}'
set datafile separator "\\t"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.95
set logscale y
set format y "%.0f"
set grid ytics mytics
set key outside right top
set multiplot layout 2,1 title "{title}"
set ylabel "requests/s (log scale, higher is better)"
set yrange [100:*]
plot {plot(os.path.join(d, 'chart-rps.dat'))}
set ylabel "p99 latency, ms (log scale, lower is better)"
set format y "%g"
set yrange [0.1:*]
plot {plot(os.path.join(d, 'chart-p99.dat'))}
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"gnuplot failed: {getattr(e, 'stderr', e)}")
        return False


def replace_block(text, name, content):
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    if begin in text and end in text:
        a, b = text.index(begin) + len(begin), text.index(end)
        return text[:a] + "\n" + content.rstrip() + "\n" + text[b:]
    return text.rstrip() + f"\n\n{begin}\n{content.rstrip()}\n{end}\n"


def report(data, docs_path, chart_path, quiet=False):
    summary = {(k["scenario"], k["conns"], k["system"]): k["summary"] for k in data["cells"]}
    scenarios, conns, systems = data["config"]["scenarios"], data["config"]["conns"], data["systems"]
    rh, rr = results_table(summary, scenarios, conns, systems)
    qh, qr = ratio_table(summary, scenarios, conns, systems)
    tg = targets(summary, conns, data.get("durability", {}))
    th = ["target (offerd)", "measured", "result"]
    tr = [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in tg]
    cfg = data["config"]
    when = data["finished_utc"]
    sz = data.get("offer_size") or {}
    size_txt = (f"offerd's offer bodies are {sz['min']}-{sz['max']} bytes (median {sz['median']}: "
                f"nginx serves a real offer body of that size)." if sz else "")
    noise = max((s["other_cpu_pct"] for s in summary.values()), default=0)
    title = (f"offerd vs references - {when[:10]}, {os.cpu_count()} cores, "
             f"median of {cfg['rounds']} x {cfg['duration']} s")
    have_chart = chart(summary, scenarios, conns, systems, chart_path, title)
    if not quiet:
        print()
        print(f"offerd benchmark, {when} - {data['machine']}")
        print(f"{cfg['rounds']} round(s) x {cfg['duration']} s per run, systems interleaved; medians")
        print()
        for k, msg in {**data.get("failed", {}), **data.get("skipped", {})}.items():
            print(f"NOTE {k}: {msg}")
        print(text_table(rh, rr))
        print()
        print("offerd as a ratio of each reference (same run):")
        print(text_table(qh, qr))
        print()
        print(text_table(th, tr))
        print()
        if have_chart:
            print(f"chart: {os.path.relpath(chart_path, ROOT)}")
    v = data["versions"]
    failed = "".join(f"\n- **{k} did not run**: {msg}" for k, msg in data.get("failed", {}).items())
    failed += "".join(f"\n- **{k.replace('/', ' on ')} not measured**: {msg}"
                      for k, msg in data.get("skipped", {}).items())
    dur = data.get("durability", {})
    dur_txt = "; ".join(f"{k}: {d['rows']} new offers for {d['acknowledged']} acknowledged 201s"
                        f" ({'ok' if d['ok'] else 'LOST WRITES'})" for k, d in dur.items())
    runs = data.get("runs", [])
    noisy = [r for r in runs if r["other_cpu_pct"] >= 15 or r.get("steal_cpu_pct", 0) >= 10]
    max_other = max((r["other_cpu_pct"] for r in runs), default=0)
    max_steal = max((r.get("steal_cpu_pct", 0) for r in runs), default=0)
    noise_txt = (f"Noise: other processes on the machine used at most {max_other:.0f}% of a core during a "
                 f"run, hypervisor steal at most {max_steal:.0f}%; ")
    if noisy:
        cells = sorted({f"{r['scenario']}/c={r['conns']}/{r['system']}" for r in noisy})
        noise_txt += (f"**{len(noisy)} of {len(runs)} runs were disturbed** (other >= 15% of a core or "
                      f"steal >= 10%: {', '.join(cells[:8])}{' ...' if len(cells) > 8 else ''}); their "
                      "cells are marked `noisy` and are less trustworthy than the rest.")
    else:
        noise_txt += "no run was disturbed (other < 15% of a core, steal < 10%)."
    md = f"""### Run of {when}

One run, numbers from this run only: {data['machine']}. Every server and wrk share the same
{os.cpu_count()} cores. {cfg['rounds']} round(s) of {cfg['duration']} s per wrk run, systems interleaved within each
round (order rotated per round), {cfg['warmup']} s warm-up each; the table shows medians over rounds (RSS: the
largest seen, summed over every process of the system). wrk: 2 threads at c=64, 1 thread at c=256
(`BENCH_WRK_THREADS={','.join(f'{k}:{v}' for k, v in cfg['wrk_threads'].items())}`), `--timeout 10s`.
Data: {data['meta'].get('offers')} offers ({data['meta'].get('counter_offers')} counter offers) on {data['meta'].get('products')} products, {data['meta'].get('users')} users;
random offer id per request, each with its buyer's token. {size_txt}
Versions: offerd {v['offerd']}, nginx {v['nginx']}, Node.js {v['node']}, Next.js {v['next']},
better-sqlite3 {v['better-sqlite3']}, {v['wrk']}. {noise_txt}{failed}

{md_table(rh, rr)}

`server CPU` and `wrk CPU` are CPU time over the run's wall time (200% = both cores; the kernel's
softirq work for loopback TCP is in neither); `B/resp` is bytes per response including headers;
`errors` counts wrk's socket errors, timeouts and 4xx/5xx.

**offerd as a ratio of each reference** (req/s: higher is better; p99 and RSS: lower is better):

{md_table(qh, qr)}

**Targets** (issue #6, the 304 as restated by issue #18; offerd against nginx like for like: its
304 against nginx's 304 of the static file, its 200 against nginx's 200):

{md_table(th, tr)}

Durability check after the mixed runs: {dur_txt or 'n/a'}.

![requests/s and p99 per system](../bench/results/chart.png)
"""
    if docs_path:
        try:
            with open(docs_path) as f:
                text = f.read()
        except FileNotFoundError:
            text = "# Benchmarks\n"
        with open(docs_path, "w") as f:
            f.write(replace_block(text, "results", md))
        if not quiet:
            print(f"docs: {os.path.relpath(docs_path, ROOT)}")
    return tg


def main():
    ap = argparse.ArgumentParser(description="offerd benchmark (issue #6)")
    ap.add_argument("--offerd", default=os.path.join(ROOT, "build-bench", "src", "server", "offerd"))
    ap.add_argument("--results", default=os.path.join(HERE, "results"))
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--report-only", action="store_true",
                    help="re-render the table, chart and docs from results/results.json")
    args = ap.parse_args()
    os.makedirs(args.results, exist_ok=True)
    res_json = os.path.join(args.results, "results.json")
    chart_path = os.path.join(args.results, "chart.png")
    if args.report_only:
        with open(res_json) as f:
            report(json.load(f), args.docs, chart_path)
        return 0

    b = Bench(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        b.run()
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        return 130
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        b.stop_all()
        shutil.rmtree(b.tmp, ignore_errors=True)
    summary = summarize(b.runs)
    data = {
        "started_utc": started.strftime("%Y-%m-%d %H:%M UTC"),
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "versions": b.versions, "skipped": b.skipped,
        "not_modified_content_length": b.not_modified_length,
        "config": {"duration": b.duration, "rounds": b.rounds, "warmup": b.warmup,
                   "conns": b.conns, "wrk_threads": b.wrk_threads, "scenarios": b.scenarios,
                   "write_share": b.write_share, "offerd_threads": b.offerd_threads or "default"},
        "systems": [s for s in b.systems if any(k[2] == s for k in summary)],
        "failed": b.failed, "meta": b.meta, "offer_size": b.size_stats,
        "durability": b.durability,
        "cells": [{"scenario": k[0], "conns": k[1], "system": k[2],
                   "summary": dict(v, rps_spread=list(v["rps_spread"]))} for k, v in summary.items()],
        "runs": b.runs,
    }
    with open(res_json, "w") as f:
        json.dump(data, f, indent=1)
    tg = report(data, args.docs, chart_path)
    failed = [t for t, _, ok in tg if not ok]
    if failed:
        log(f"{len(failed)} target(s) not met (see the table); the benchmark itself ran fine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
