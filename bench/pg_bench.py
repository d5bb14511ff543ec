#!/usr/bin/env python3
"""bench/pg_bench.py - issue #15's benchmark: offerd on PostgreSQL against offerd on SQLite, two
instances behind nginx against one, and a write on one instance reaching 1,000 watchers on another.

Started by bench/pg.sh (which builds offerd and holdpoll and provides a PostgreSQL server through the
PG* variables). It reuses the other benchmarks' parts rather than repeating them: bench/bench.py's
runner (database generator, pre-pass, wrk with bench/wrk/poll.lua and mix.lua, interleaved rounds,
medians, /proc sampling) and bench/realtime/'s holdpoll client (N held requests on one epoll loop,
each delivery stamped with CLOCK_MONOTONIC).

Part 1 and 2, throughput (one run, the systems interleaved within each round as bench/bench.py does):
  sqlite    offerd on a copy of the generated SQLite database
  pg        offerd on PostgreSQL, the same rows (migrated by `offerd migrate --db postgresql:///...`,
            then copied table by table with COPY, triggers off so that versions stay as they are)
  nginx-1   nginx (the proxy settings of packaging/nginx-offerd-cluster.conf) -> one offerd on PG
  nginx-2   the same nginx -> two offerd instances on one PG database
Each PostgreSQL system has its own database, copied from one template (CREATE DATABASE ...
TEMPLATE), so the mixed load's writes of one system never reach another. Scenarios: full GET, 304
(If-None-Match) and the mixed load (95% GET, 5% POST /api/offers). "server CPU" counts offerd's
and nginx's processes; "pg CPU" the PostgreSQL backends serving that system's database.

Part 3, fan-out across instances: instances A and B on one database; BENCH_FANOUT_N (1,000)
watchers held on B (long-polls, then SSE streams), BENCH_FANOUT_WRITES counters POSTed to A, one
at a time; for each write, the time from just before the POST until each watcher has the new
version. Reference cells: the write made on B itself (no instance hop), and two instances on one
SQLite file (there a change reaches the other instance through its --change-poll-ms log poll).

Environment (defaults in brackets): BENCH_DURATION [10], BENCH_ROUNDS [3], BENCH_WARMUP [3],
BENCH_CONNS [64], BENCH_WRK_THREADS [64:2,256:1], BENCH_SCENARIOS [full,cond,mix],
BENCH_PG_SYSTEMS [sqlite,pg,nginx-1,nginx-2], BENCH_OFFERS [10000], BENCH_NGINX_WORKERS [cores],
BENCH_FANOUT_N [1000], BENCH_FANOUT_WRITES [24], BENCH_FANOUT_MODES [longpoll,sse],
BENCH_FANOUT_CELLS [pg-cross,pg-same,sqlite-cross; also pgredis-cross, sqliteredis-cross: through a
redis-server started here on a Unix socket] ("" skips part 3), BENCH_PARTS [throughput,fanout],
BENCH_PG_PREFIX [offerd_bench_] (databases made here; every one is dropped at the end),
BENCH_PG_ADMIN_DB [postgres] (where CREATE/DROP DATABASE run), BENCH_OFFERD_ARGS [""] (more flags
for every offerd, e.g. "--change-poll-ms 5"), BENCH_COMMAND (shown in the docs).

SPDX-License-Identifier: MIT
"""
import argparse
import concurrent.futures
import csv
import datetime
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "realtime"))
import bench as B  # noqa: E402 - bench/bench.py: the throughput runner
import rt as RT  # noqa: E402 - bench/realtime/rt.py: holdpoll's driver, the fan-out data

# The tables bench/gen_db.py and rt.make_template_db fill, parents first (foreign keys).
DATA_TABLES = ["users", "products", "product_images", "offers", "counter_offers"]
# BENCH_OFFERD_ARGS: more flags for every offerd started here (e.g. "--change-poll-ms 5").
EXTRA_OFFERD_ARGS = os.environ.get("BENCH_OFFERD_ARGS", "").split()
PG_NULL = "\\N"      # SQL NULL in the COPY files (no generated value is this text)
CLUSTER_CONF = os.path.join(ROOT, "packaging", "nginx-offerd-cluster.conf")
SYSTEM_INFO = {
    "sqlite": "offerd on SQLite",
    "pg": "offerd on PostgreSQL",
    "nginx-1": "nginx -> 1 offerd on PostgreSQL",
    "nginx-2": "nginx -> 2 offerd on PostgreSQL",
}

# Every PostgreSQL system's offerd processes and their databases; nginx systems have several.
GROUPS = {}          # root pid (what bench.py samples) -> the other pids of that system
_orig_proc_tree = B.proc_tree


def system_tree(root):
    """bench.py's sampler follows one process tree; a system behind nginx is nginx's tree plus its
    offerd instances (started apart, so that each is stopped by its own pid)."""
    pids = set(_orig_proc_tree(root))
    for extra in GROUPS.get(root, []):
        pids.update(_orig_proc_tree(extra))
    return sorted(pids)


B.proc_tree = system_tree
log = B.log


# --- PostgreSQL -----------------------------------------------------------------------------------

class Pg:
    """The PostgreSQL server the PG* variables name; every database made here is dropped in
    drop_all()."""

    def __init__(self, prefix, admin_db):
        self.prefix = prefix
        self.admin_db = admin_db
        self.made = []
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", prefix):
            raise SystemExit(f"BENCH_PG_PREFIX {prefix!r}: lower-case letters, digits and _ only")

    def psql(self, db, sql=None, script=None, check=True):
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]
        cmd += ["-c", sql] if sql is not None else ["-f", script]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql {db}: {r.stderr.strip()}")
        return r.stdout.strip()

    def name(self, suffix):
        return f"{self.prefix}{suffix}"

    def create(self, suffix, template=None):
        db = self.name(suffix)
        self.psql(self.admin_db, f"DROP DATABASE IF EXISTS {db}")
        self.psql(self.admin_db, f"CREATE DATABASE {db}" + (f" TEMPLATE {template}" if template else ""))
        self.made.append(db)
        return db

    def drop_all(self):
        for db in reversed(self.made):
            # WITH (FORCE): a backend of ours still closing must not leave a database behind.
            self.psql(self.admin_db, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", check=False)
        self.made = []

    def backend_pids(self, db):
        out = self.psql(self.admin_db, f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'",
                        check=False)
        return [int(x) for x in out.split() if x.isdigit()]

    def server_version(self):
        return self.psql(self.admin_db, "SHOW server_version")

    def settings(self):
        out = self.psql(self.admin_db, "SELECT name || '=' || setting FROM pg_settings WHERE name IN "
                        "('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')")
        return ", ".join(out.split())


def dsn(db):
    # Host, port, user and password come from the PG* variables (libpq reads them for whatever the
    # URI leaves out), so no secret is on a command line.
    return f"postgresql:///{db}"


def load_sqlite_into_pg(offerd, pg, sqlite_path, db, tmp):
    """Migrates db with offerd itself, then copies the data tables' rows from the SQLite file.
    Triggers are off while copying (session_replication_role = replica; needs a superuser, which
    pg_virtualenv's and a dev cluster's postgres are): versions, counters' offer_version and the
    sale state stay exactly as in SQLite, and the change log starts empty, as after gen_db.py's
    checkpoint."""
    subprocess.run([offerd, "migrate", "--db", dsn(db)], check=True, stdout=subprocess.DEVNULL)
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    lines = ["BEGIN;", "SET LOCAL session_replication_role = replica;"]
    pg_products_cols = pg.psql(db, "SELECT column_name FROM information_schema.columns "
                                   "WHERE table_name = 'products'").split()
    lite_products_cols = [r[1] for r in src.execute("PRAGMA table_info(products)")]
    for t in DATA_TABLES:
        pg_cols = pg.psql(db, "SELECT column_name || ':' || data_type FROM information_schema.columns "
                              f"WHERE table_name = '{t}' AND table_schema = current_schema() "
                              "ORDER BY ordinal_position").split()
        types_of = dict(c.split(":", 1) for c in pg_cols)
        lite_cols = [r[1] for r in src.execute(f"PRAGMA table_info({t})")]
        cols = [c for c in lite_cols if c in types_of]
        path = os.path.join(tmp, f"{db}-{t}.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            for row in src.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY rowid"):
                w.writerow([PG_NULL if v is None else ("t" if v else "f")
                            if types_of[c] == "boolean" else v for c, v in zip(cols, row)])
        lines.append(f"\\copy {t}({', '.join(cols)}) FROM '{path}' WITH (FORMAT csv, NULL '{PG_NULL}')")
        if t == "offers" and "sold_offer_id" in pg_products_cols and "sold_offer_id" not in lite_products_cols:
            # PostgreSQL's products name the offer that sold them; SQLite's gen_db rows do not.
            lines.append("UPDATE products p SET sold_offer_id = o.id FROM offers o "
                         "WHERE o.product_id = p.id AND o.status = 'ACCEPTED' AND p.is_sold;")
    lines += ["COMMIT;", "ANALYZE;"]
    src.close()
    script = os.path.join(tmp, f"{db}-load.sql")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    pg.psql(db, script=script)


# --- nginx in front of offerd instances -------------------------------------------------------------

NGINX_PROXY_CONF = """\
# nginx in front of offerd for bench/pg_bench.py: the upstream and location /api/ of
# packaging/nginx-offerd-cluster.conf, plain HTTP on 127.0.0.1.
{user}
worker_processes {workers};
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000000;
{upstream}
    server {{
        listen 127.0.0.1:{port} backlog=1024;
{location}
        location = /healthz {{ proxy_pass http://offerd; }}
    }}
}}
"""


def proxy_conf(prefix, port, backends, workers):
    """The benchmark's nginx.conf, with the shipped site's upstream and /api/ location as they
    are (only the server lines replaced), so that what is measured is what is deployed."""
    with open(CLUSTER_CONF) as f:
        site = f.read()
    up = re.search(r"^upstream offerd \{.*?^\}", site, re.M | re.S)
    loc = re.search(r"^    location /api/ \{.*?^    \}", site, re.M | re.S)
    if not up or not loc:
        raise RuntimeError(f"{CLUSTER_CONF}: no 'upstream offerd' or 'location /api/' block")
    body = [ln for ln in up.group(0).splitlines() if not re.match(r"\s*#?\s*server\s", ln)]
    servers = [f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in backends]
    upstream = "\n".join(body[:1] + servers + body[1:])
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    return NGINX_PROXY_CONF.format(user="user root;" if os.geteuid() == 0 else "", workers=workers,
                                   nofile=nofile,
                                   prefix=prefix, port=port, upstream=upstream,
                                   location=loc.group(0))


# --- throughput: bench.py's runner with these systems ---------------------------------------------

class PgBench(B.Bench):
    def __init__(self, args, pg):
        super().__init__(args)
        self.pg = pg
        self.systems = B.env_list("BENCH_PG_SYSTEMS", "sqlite,pg,nginx-1,nginx-2")
        self.conns = [int(c) for c in B.env_list("BENCH_CONNS", "64")]
        self.warmup = B.env_int("BENCH_WARMUP", 3)
        self.nginx_workers = B.env_int("BENCH_NGINX_WORKERS", os.cpu_count() or 2)
        self.extra = {}      # system -> [Proc] (offerd instances behind nginx)
        self.dbs = {}        # system -> PostgreSQL database
        self.template = None
        self.pg_cpu = {}

    def generate(self):
        super().generate()
        if any(s != "sqlite" for s in self.systems):
            t0 = time.monotonic()
            self.template = self.pg.create("tpl")
            load_sqlite_into_pg(self.args.offerd, self.pg, os.path.join(self.tmp, "bench.db"),
                                self.template, self.tmp)
            log(f"PostgreSQL template {self.template}: the generated rows copied in "
                f"{time.monotonic() - t0:.1f} s")

    def offerd_cmd(self, db, port):
        # As bench.py runs offerd: no access log, no per-user rate limit (wrk replays ~3,000
        # buyers' tokens far faster than people poll).
        cmd = [self.args.offerd, "--port", str(port), "--db", db, "--jwt-secret", B.SECRET,
               "--access-log=0", "--rate-limit", "0"]
        if self.offerd_threads:
            cmd += ["--threads", self.offerd_threads]
        return cmd + EXTRA_OFFERD_ARGS

    def start_offerd(self, name, db):
        port = B.free_port()
        p = B.Proc(name, self.offerd_cmd(db, port), os.path.join(self.tmp, f"{name}.log"))
        if not B.wait_http(p, port):
            tail = p.tail(5)
            p.stop()
            raise RuntimeError(f"{name} did not start: {tail}")
        return p, port

    def start(self, system):
        try:
            if system == "sqlite":
                p, port = self.start_offerd(system, self.db_copy(system))
            elif system in ("pg", "nginx-1", "nginx-2"):
                db = self.pg.create(system.replace("-", "_"), template=self.template)
                self.dbs[system] = db
                if system == "pg":
                    p, port = self.start_offerd(system, dsn(db))
                else:
                    n = int(system.split("-")[1])
                    self.extra[system] = []
                    for i in range(n):
                        q, qport = self.start_offerd(f"{system}-offerd{i + 1}", dsn(db))
                        self.extra[system].append((q, qport))
                    p, port = self.start_nginx(system, [qp for _, qp in self.extra[system]])
                    GROUPS[p.pid] = [q.pid for q, _ in self.extra[system]]
            else:
                raise SystemExit(f"unknown system {system} (BENCH_PG_SYSTEMS)")
        except RuntimeError as e:
            self.failed[system] = str(e)
            log(f"{system}: FAILED to start: {e}")
            self.stop_extra(system)
            return False
        self.procs[system] = p
        self.ports[system] = port
        log(f"{system}: listening on 127.0.0.1:{port} (pid {p.pid})")
        return True

    def start_nginx(self, system, backends):
        prefix = os.path.join(self.tmp, system)
        for d in ("tmp",):
            os.makedirs(os.path.join(prefix, d), exist_ok=True)
        port = B.free_port()
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(proxy_conf(prefix, port, backends, self.nginx_workers))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        p = B.Proc(system, [nginx, "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "error.log")],
                   os.path.join(self.tmp, f"{system}.log"))
        if not B.wait_http(p, port):
            tail = p.tail(5)
            p.stop()
            raise RuntimeError(f"nginx did not start: {tail}")
        return p, port

    def stop_extra(self, system):
        for q, _ in self.extra.pop(system, []):
            q.stop()

    def stop_all(self):
        super().stop_all()
        for system in list(self.extra):
            self.stop_extra(system)

    def wrk(self, system, scenario, conns, duration, sample=True):
        # The PostgreSQL backends serving this system: their CPU is the database's share of the
        # work (PostgreSQL runs apart from offerd, unlike SQLite inside it).
        db = self.dbs.get(system)
        pids = self.pg.backend_pids(db) if db and sample else []
        c0, t0 = B.cpu_seconds(pids), time.monotonic()
        run = super().wrk(system, scenario, conns, duration, sample)
        if run is not None:
            run["pg_cpu_pct"] = 100 * (B.cpu_seconds(pids) - c0) / (time.monotonic() - t0) if db else 0
            # bench.py counts every process outside the system's tree as "other" (noise): this
            # system's own PostgreSQL backends are not noise.
            run["other_cpu_pct"] = max(0.0, run["other_cpu_pct"] - run["pg_cpu_pct"])
            run["instances"] = len(self.extra.get(system, [])) or 1
        return run

    def check_durability(self, live):
        """Every 201 of the mixed load is an offer row in that system's database."""
        out = {}
        if "mix" not in self.scenarios:
            return out
        for system in live:
            acked = sum(r.get("writes_ok", 0) for r in self.runs
                        if r["system"] == system and r["scenario"] == "mix")
            q = "SELECT count(*) FROM offers WHERE message = 'Would this do?'"
            if system == "sqlite":
                db = sqlite3.connect(f"file:{os.path.join(self.tmp, 'sqlite.db')}?mode=ro", uri=True)
                rows = db.execute(q).fetchone()[0]
                db.close()
            else:
                rows = int(self.pg.psql(self.dbs[system], q))
            out[system] = {"acknowledged": acked, "rows": rows, "ok": rows >= acked}
        return out


# --- fan-out across instances ------------------------------------------------------------------------

MAIN = RT.MAIN_OFFER


class Instance:
    """One offerd for the fan-out cells, with room for BENCH_FANOUT_N held requests of one user."""

    def __init__(self, offerd, db, name, tmp, n, extra=()):
        self.port = B.free_port()
        cmd = [offerd, "--port", str(self.port), "--db", db, "--jwt-secret", RT.SECRET,
               "--access-log=0", "--rate-limit", "0", "--max-held", str(n + 1000),
               "--max-held-per-user", str(n + 1000), "--max-connections", str(n + 2000)]
        cmd += EXTRA_OFFERD_ARGS + list(extra)
        self.p = B.Proc(name, cmd, os.path.join(tmp, f"{name}.log"))
        if not B.wait_http(self.p, self.port):
            tail = self.p.tail(5)
            self.p.stop()
            raise RuntimeError(f"{name} did not start: {tail}")

    def held(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
        finally:
            c.close()
        m = re.search(r"^offerd_held_requests (\S+)", text, re.M)
        return int(float(m.group(1))) if m else -1

    def wait_held(self, n, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            h = self.held()
            if h >= n:
                return h
            time.sleep(0.05)
        raise RuntimeError(f"only {self.held()} of {n} held after {timeout} s")

    def stop(self):
        self.p.stop()


def start_redis(d):
    """A throw-away redis-server on a Unix socket in d (no TCP port, no persistence); returns
    (Proc, "unix://SOCKET") once it answers PING."""
    sock = os.path.join(d, "redis.sock")
    p = B.Proc("redis", ["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm",
                         "700", "--save", "", "--appendonly", "no", "--dir", d],
               os.path.join(d, "redis.log"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return p, "unix://" + sock
        except OSError:
            pass
        time.sleep(0.05)
    p.stop()
    raise RuntimeError("redis-server did not start")


class Fanout:
    def __init__(self, offerd, holdpoll, pg, tmp):
        self.offerd = offerd
        self.pg = pg
        self.tmp = tmp
        self.n = B.env_int("BENCH_FANOUT_N", 1000)
        self.writes = B.env_int("BENCH_FANOUT_WRITES", 24)
        self.modes = B.env_list("BENCH_FANOUT_MODES", "longpoll,sse")
        self.cells_wanted = B.env_list("BENCH_FANOUT_CELLS", "pg-cross,pg-same,sqlite-cross")
        # What rt.Client needs of its bench: holdpoll's path and its connect pacing.
        self.client_cfg = types.SimpleNamespace(holdpoll=holdpoll, inflight=256, connect_rate=20000)
        self.buyer = RT.jwt_hs256("clerk_rt_buyer")
        self.seller = RT.jwt_hs256("clerk_rt_seller")
        self.k = 0           # counters made so far on MAIN (they alternate seller, buyer)
        self.cells = []

    def counter_body(self):
        """The next counter on MAIN: seller and buyer alternate and converge by 10.00 a turn
        (from 10,000.00 and 5,000.00), so BENCH_FANOUT_WRITES up to a few hundred stay valid."""
        self.k += 1
        if self.k % 2:
            return self.seller, 10000 - 10 * self.k
        return self.buyer, 5000 + 10 * self.k

    def version(self, port):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("GET", f"/api/offers/{MAIN}", headers={"Authorization": f"Bearer {self.buyer}"})
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        if r.status != 200:
            raise RuntimeError(f"GET {MAIN}: {r.status}")
        return json.loads(body)["version"]

    def sub_request(self, mode, version):
        auth = {"Authorization": f"Bearer {self.buyer}"}
        if mode == "longpoll":
            return RT.http_request("GET", f"/api/offers/{MAIN}?since={version}&wait=60", auth)
        return RT.http_request("GET", f"/api/offers/{MAIN}/events", dict(auth, Accept="text/event-stream"))

    def write(self, conn):
        """POSTs the next counter to the writer; returns (t0 ns, ack ms)."""
        token, amount = self.counter_body()
        body = json.dumps({"amount": amount})
        t0 = time.monotonic_ns()
        conn.request("POST", f"/api/offers/{MAIN}/counter", body,
                     {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        ack_ms = (time.monotonic_ns() - t0) / 1e6
        if r.status != 201:
            raise RuntimeError(f"counter {self.k} answered {r.status}")
        return t0, ack_ms

    def run_cell(self, kind, mode):
        """kind: pg-cross (write on A, watchers on B, PostgreSQL), pg-same (write on B itself),
        sqlite-cross (A and B on one SQLite file); pgredis-cross and sqliteredis-cross: the same
        with a Redis bus alone (--bus unix://..., no LISTEN/NOTIFY on PostgreSQL)."""
        backend, hop = kind.split("-")
        redis = backend.endswith("redis")
        backend = backend[:-len("redis")] if redis else backend
        load_before = os.getloadavg()[0]
        d = tempfile.mkdtemp(prefix=f"{kind}-{mode}-", dir=self.tmp)
        if backend == "pg":
            db = dsn(self.pg.create(f"rt_{hop}_{mode}", template=self.pg_template))
        else:
            db = os.path.join(d, "rt.db")
            shutil.copy(self.sqlite_template, db)
        insts, clients = [], []
        writes = []
        redis_proc, extra = None, ()
        try:
            if redis:
                redis_proc, bus = start_redis(d)
                extra = ("--bus", bus)
            a = Instance(self.offerd, db, f"{kind}-{mode}-A", d, self.n, extra)
            insts.append(a)
            b = Instance(self.offerd, db, f"{kind}-{mode}-B", d, self.n, extra)
            insts.append(b)
            writer = a if hop == "cross" else b
            marker, skip = ("HTTP/1.", 0) if mode == "longpoll" else ("\\ndata:", 1)
            conn = http.client.HTTPConnection("127.0.0.1", writer.port, timeout=30)
            self.k = 0  # a fresh copy of the template: MAIN has no counter yet
            # One write before measuring, read back on B: the first write and read of a new
            # instance open and prepare its connections (about 100 ms on PostgreSQL), which is
            # start-up, not fan-out. Each HTTP thread opens its own connection at its first read,
            # so B is read on several connections at once, reaching every thread (without this
            # the first measured long-poll write paid one thread's connect: 91 ms p99, 35 after).
            self.write(conn)
            time.sleep(0.3)
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda _: self.version(b.port), range(64)))
            done = 0
            while done < self.writes:
                # holdpoll keeps at most 8 rounds per process: a new set of watchers every 8 writes.
                batch = min(8, self.writes - done)
                c = RT.Client(self.client_cfg, d, b.port, self.n,
                              self.sub_request(mode, self.version(b.port)), marker, skip,
                              f"watch{done}")
                clients.append(c)
                ready = c.wait_ready()
                if ready["connected"] != self.n or ready["early"]:
                    raise RuntimeError(f"holdpoll: {ready}")
                b.wait_held(self.n)
                for i in range(batch):
                    time.sleep(0.2)  # let the last round's re-polls settle on both sides
                    t0, ack_ms = self.write(conn)
                    res = c.go(t0)
                    res["ack_ms"] = ack_ms
                    writes.append(res)
                    if mode == "longpoll" and i + 1 < batch:
                        time.sleep(0.2)  # every answer in (and a close after it, if any)
                        failed = c.rearm(self.sub_request(mode, self.version(b.port)))
                        if failed:
                            raise RuntimeError(f"{failed} watchers could not re-poll")
                        b.wait_held(self.n)
                c.close()
                clients.remove(c)
                done += batch
            conn.close()
        finally:
            for c in clients:
                c.close()
            for i in insts:
                i.stop()
            if redis_proc:
                redis_proc.stop()
        cell = self.summarize(kind, mode, writes)
        # The machine's 1-minute load average around the cell (2 cores: above 2, processes wait
        # for a core; on a shared machine that includes other people's work).
        cell["load"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
        return cell

    def summarize(self, kind, mode, writes):
        got = [w for w in writes if w.get("received")]
        cell = {"kind": kind, "mode": mode, "n": self.n, "writes": len(writes), "per_write": writes,
                "missing": sum(w["n"] - w["received"] for w in writes)}
        if got:
            p99s = sorted(w["p99_ms"] for w in got)
            cell.update(
                p50_ms=statistics.median(w["p50_ms"] for w in got),
                p99_ms_median=statistics.median(p99s),
                # The 99th percentile over writes of each write's p99 over its watchers (with a few
                # dozen writes, the worst write's).
                p99_ms=p99s[min(len(p99s) - 1, int(0.99 * len(p99s)))],
                max_ms=max(w["max_ms"] for w in got),
                ack_ms=statistics.median(w["ack_ms"] for w in got))
        return cell

    def run(self):
        if not self.cells_wanted:
            return
        self.sqlite_template = os.path.join(self.tmp, "rt-template.db")
        RT.make_template_db(self.offerd, self.sqlite_template)
        if any(k.startswith("pg") for k in self.cells_wanted):
            self.pg_template = self.pg.create("rt_tpl")
            load_sqlite_into_pg(self.offerd, self.pg, self.sqlite_template, self.pg_template, self.tmp)
        for mode in self.modes:
            for kind in self.cells_wanted:
                try:
                    cell = self.run_cell(kind, mode)
                except (RuntimeError, OSError, http.client.HTTPException) as e:
                    log(f"fan-out {kind} {mode}: FAILED: {e}")
                    cell = {"kind": kind, "mode": mode, "n": self.n, "error": str(e)}
                self.cells.append(cell)
                if "p99_ms" in cell:
                    log(f"fan-out {kind:13s} {mode:8s} n={self.n} writes={cell['writes']} "
                        f"p50 {cell['p50_ms']:.2f} ms p99 {cell['p99_ms']:.2f} ms max {cell['max_ms']:.2f} ms "
                        f"ack {cell['ack_ms']:.2f} ms missing {cell['missing']}")


# --- report --------------------------------------------------------------------------------------

FANOUT_INFO = {
    "pg-cross": "PostgreSQL: write on A, watchers on B (LISTEN/NOTIFY)",
    "pg-same": "PostgreSQL: write on B, watchers on B (no hop)",
    "sqlite-cross": "SQLite file: write on A, watchers on B (log poll, 25 ms)",
    "pgredis-cross": "PostgreSQL: write on A, watchers on B (Redis bus alone, no LISTEN/NOTIFY)",
    "sqliteredis-cross": "SQLite file: write on A, watchers on B (Redis bus)",
}


def throughput_tables(data):
    summary = {(k["scenario"], k["conns"], k["system"]): k["summary"] for k in data["cells"]}
    extra = {}
    for r in data["runs"]:
        extra.setdefault((r["scenario"], r["conns"], r["system"]), []).append(r.get("pg_cpu_pct", 0))
    head = ["scenario", "conns", "system", "req/s", "p50 ms", "p99 ms", "server CPU", "pg CPU",
            "errors", "notes"]
    rows = []
    cfg = data["config"]
    for sc in cfg["scenarios"]:
        for c in cfg["conns"]:
            for sy in data["systems"]:
                s = summary.get((sc, c, sy))
                if not s:
                    continue
                notes = ""
                if sc == "mix":
                    notes = f"reads {B.fmt_rate(s['read_rps'])}/s, writes {B.fmt_rate(s['write_rps'])}/s"
                    if s["bad_statuses"]:
                        notes += f", {s['bad_statuses']} non-200/201"
                if s.get("noisy_runs"):
                    notes += ("; " if notes else "") + f"noisy ({s['noisy_runs']}/{s['n']})"
                pg_cpu = statistics.median(extra[(sc, c, sy)]) if sy != "sqlite" else None
                rows.append([B.SCENARIO_INFO[sc], str(c), sy, B.fmt_rate(s["rps"]), B.fmt_ms(s["p50_ms"]),
                             B.fmt_ms(s["p99_ms"]), f"{s['server_cpu_pct']:.0f}%",
                             "-" if pg_cpu is None else f"{pg_cpu:.0f}%", str(s["errors"]), notes])
    ratio_head = ["scenario", "conns", "pg / sqlite (req/s, p99)", "nginx-2 / nginx-1 (req/s, p99)",
                  "nginx-1 / pg (req/s, p99)"]
    ratio_rows = []
    targets = []

    def ratio(sc, c, a, b):
        x, y = summary.get((sc, c, a)), summary.get((sc, c, b))
        if not x or not y or not y["rps"]:
            return None, "n/a"
        r = x["rps"] / y["rps"]
        return r, f"{r:.2f}x, {x['p99_ms'] / y['p99_ms']:.2f}x" if y["p99_ms"] else f"{r:.2f}x"

    for sc in cfg["scenarios"]:
        for c in cfg["conns"]:
            r_pg, t_pg = ratio(sc, c, "pg", "sqlite")
            _, t_n = ratio(sc, c, "nginx-2", "nginx-1")
            _, t_p = ratio(sc, c, "nginx-1", "pg")
            ratio_rows.append([B.SCENARIO_INFO[sc], str(c), t_pg, t_n, t_p])
            if sc == "cond" and r_pg is not None:
                targets.append((f"304 on PostgreSQL >= 0.9x SQLite's req/s (c={c})", f"{r_pg:.2f}x",
                                r_pg >= 0.9))
    for sy, d in data.get("durability", {}).items():
        targets.append((f"mixed load on {sy}: every acknowledged write (201) is in the database",
                        f"{d['rows']} rows for {d['acknowledged']} 201s", d["ok"]))
    return (head, rows), (ratio_head, ratio_rows), targets


def fanout_tables(cells):
    head = ["mode", "cell", "watchers", "writes", "p50 ms", "p99 ms (median write)",
            "p99 ms (worst write)", "max ms", "POST ms", "missed", "load"]
    rows, targets = [], []
    for c in cells:
        info = FANOUT_INFO.get(c["kind"], c["kind"])
        if "error" in c or "p99_ms" not in c:
            rows.append([c["mode"], info, str(c["n"]), "-", "-", "-", "-", "-", "-",
                         c.get("error", "no write delivered")[:80], "-"])
            if c["kind"] == "pg-cross":
                targets.append((f"{c['mode']}: write on A reaches {c['n']} watchers on B, p99 <= 50 ms",
                                "not measured", False))
            continue
        rows.append([c["mode"], info, str(c["n"]), str(c["writes"]), B.fmt_ms(c["p50_ms"]),
                     B.fmt_ms(c["p99_ms_median"]), B.fmt_ms(c["p99_ms"]), B.fmt_ms(c["max_ms"]),
                     B.fmt_ms(c["ack_ms"]), str(c["missing"]),
                     "..".join(str(x) for x in c.get("load", [])) or "-"])
        if c["kind"] == "pg-cross":
            ok = c["p99_ms"] <= 50 and c["missing"] == 0
            targets.append((f"{c['mode']}: write on A reaches {c['n']} watchers on B, p99 <= 50 ms",
                            f"{B.fmt_ms(c['p99_ms'])} ms (worst of {c['writes']} writes), "
                            f"{c['missing']} missed", ok))
    return (head, rows), targets


def report(data, docs_path):
    parts = []
    targets = []
    when = data["finished_utc"]
    if data.get("throughput"):
        t = data["throughput"]
        (h1, r1), (h2, r2), tg = throughput_tables(t)
        targets += tg
        cfg = t["config"]
        failed = "".join(f"\n- **{k} did not run**: {m}" for k, m in t.get("failed", {}).items())
        others = sorted(r["other_cpu_pct"] for r in t["runs"])
        noise = (f" Noise: processes outside the benchmark used {others[len(others) // 2]:.0f}% of a "
                 f"core in the median wrk run, {others[-1]:.0f}% at most (`noisy` cells: 15% or more)."
                 if others else "")
        parts.append(f"""**Throughput** ({cfg['rounds']} round(s) of {cfg['duration']} s per wrk run, the systems
interleaved within each round, {cfg['warmup']} s warm-up each; medians over rounds). Data: {t['meta'].get('offers')}
offers on {t['meta'].get('products')} products, {t['meta'].get('users')} users (bench/gen_db.py), the same rows in
SQLite and in each PostgreSQL database. Systems: {'; '.join(f'`{s}` {SYSTEM_INFO.get(s, s)}' for s in t['systems'])}.
`server CPU` is offerd's (and nginx's) processes, `pg CPU` the PostgreSQL backends of that system's
database, both over wall time (200% = both cores).{noise}{failed}

{B.md_table(h1, r1)}

Ratios (req/s: higher is better; p99: lower is better):

{B.md_table(h2, r2)}
""")
    if data.get("fanout"):
        (h3, r3), tg = fanout_tables(data["fanout"]["cells"])
        targets += tg
        f = data["fanout"]
        parts.append(f"""**A write on one instance reaching watchers on another** ({f['n']} watchers held by
bench/realtime/holdpoll on instance B, long-polls `?since=V&wait=60` or SSE streams on one offer;
{f['writes']} counters POSTed one at a time, each timed from just before the POST until each watcher
has the new version; long-poll watchers re-poll between writes; one unmeasured write and 64 concurrent reads on B first). `p50` is the median over writes of
each write's median watcher; `p99` each write's 99th percentile watcher, the median write's and the
worst write's; `max` the last watcher of any write; `POST ms` the write's own answer time (the
median write's); `load` the machine's 1-minute load average before and after the cell (2 cores).

{B.md_table(h3, r3)}
""")
    th = ["target", "measured", "result"]
    tr = [[t, m, "PASS" if ok else "FAIL"] for t, m, ok in targets]
    md = f"""### Run of {when}

`{data['command']}`: {data['machine']}; PostgreSQL {data['pg']['version']} ({data['pg']['settings']}),
offerd {data['versions'].get('offerd', '?')}, nginx {data['versions'].get('nginx', '?')}, {data['versions'].get('wrk', '?')}.
Everything (wrk, nginx, every offerd, PostgreSQL, holdpoll) shares the same {os.cpu_count()} cores.

{chr(10).join(parts)}
**Targets** (issue #15):

{B.md_table(th, tr)}
"""
    print()
    print(md)
    if docs_path:
        try:
            with open(docs_path) as fh:
                text = fh.read()
        except FileNotFoundError:
            text = "# Benchmarks\n"
        with open(docs_path, "w") as fh:
            fh.write(B.replace_block(text, "pg", md))
        log(f"docs: {os.path.relpath(docs_path, ROOT)}")
    return targets


def main():
    ap = argparse.ArgumentParser(description="offerd on PostgreSQL and several instances (issue #15)")
    ap.add_argument("--offerd", default=os.path.join(ROOT, "build-bench", "src", "server", "offerd"))
    ap.add_argument("--holdpoll", default=os.path.join(HERE, "realtime", "build", "holdpoll"))
    ap.add_argument("--results", default=os.path.join(HERE, "results", "pg-results.json"))
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--report-only", action="store_true", help="re-render the docs from --results")
    args = ap.parse_args()
    if args.report_only:
        with open(args.results) as f:
            report(json.load(f), args.docs)
        return 0
    parts = B.env_list("BENCH_PARTS", "throughput,fanout")
    pg = Pg(os.environ.get("BENCH_PG_PREFIX", "offerd_bench_"),
            os.environ.get("BENCH_PG_ADMIN_DB", "postgres"))
    b = PgBench(args, pg)
    fan = Fanout(args.offerd, args.holdpoll, pg, b.tmp)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    data = {"command": os.environ.get("BENCH_COMMAND", "bench/pg.sh"), "machine": B.machine(),
            "versions": b.versions, "pg": {"version": pg.server_version(), "settings": pg.settings()},
            "started_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    status = 0
    try:
        if "throughput" in parts:
            try:
                b.run()
            finally:
                b.stop_all()
            summary = B.summarize(b.runs)
            data["throughput"] = {
                "config": {"duration": b.duration, "rounds": b.rounds, "warmup": b.warmup,
                           "conns": b.conns, "wrk_threads": b.wrk_threads, "scenarios": b.scenarios,
                           "write_share": b.write_share, "nginx_workers": b.nginx_workers},
                "systems": [s for s in b.systems if any(k[2] == s for k in summary)],
                "failed": b.failed, "meta": b.meta, "durability": b.durability,
                "cells": [{"scenario": k[0], "conns": k[1], "system": k[2],
                           "summary": dict(v, rps_spread=list(v["rps_spread"]))} for k, v in summary.items()],
                "runs": b.runs}
        if "fanout" in parts:
            fan.run()
            data["fanout"] = {"n": fan.n, "writes": fan.writes, "cells": fan.cells}
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        status = 130
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        log(f"FAILED: {e}")
        status = 1
    finally:
        b.stop_all()
        RT.stop_all()
        pg.drop_all()
        shutil.rmtree(b.tmp, ignore_errors=True)
    if status:
        return status
    data["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(data, f, indent=1)
    targets = report(data, args.docs)
    failed = [t for t, _, ok in targets if not ok]
    if failed:
        log(f"{len(failed)} target(s) not met: {'; '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
