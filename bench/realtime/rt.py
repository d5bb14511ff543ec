#!/usr/bin/env python3
"""bench/realtime/rt.py - issue #5's real-time benchmark: held long-polls, SSE streams and (issue
#17) WebSockets, offerd against nchan, in one run.

Started by bench/realtime/run.sh (which builds offerd and holdpoll first). For each round, each
N (1,000 and 10,000) and each transport (long-poll, SSE, WebSocket), and each system in an order that rotates
per round, one *cell*:

  1. start the system fresh on a free 127.0.0.1 port (offerd on its own copy of the database;
     nginx + nchan as a non-daemon child with its own prefix in the temp directory);
  2. warm it up: hold BENCH_WARM (200) requests on another offer / channel and wake them once;
  3. sample RSS (offerd: its VmRSS; nchan: the sum over nginx's worker processes);
  4. hold N requests with holdpoll (one epoll loop, N sockets) and wait until the server itself
     counts N held (offerd: offerd_held_requests in /metrics; nchan: nchan_stub_status);
  5. sample RSS again: (after - before) / N is the memory per held connection;
  6. make one write and time when it reaches each of the N (holdpoll stamps every delivery with
     CLOCK_MONOTONIC, t0 is stamped just before the write is sent):
       offerd      POST /api/offers/{id}/counter as the seller (offerd's own write path: the
                   commit is on disk, synchronous=FULL, then the waiters are woken)
       offerd-ext  (long-poll only) the same offer changed by an outside writer: an UPDATE through
                   Python's sqlite3 module, found by offerd's change-log poll (--change-poll-ms 25)
       nchan       POST /pub/{channel} with a body the size of offerd's offer JSON
     For offerd SSE and WebSocket the same sockets then see a second write, the outside UPDATE
     (reported as "offerd-ext");
     WebSocket: holdpoll -w does the upgrade (token in its Authorization header), offerd's
     sockets subscribe with the offer's current version (nothing comes at subscribe) and count
     as held once offerd_ws_subscriptions says so; nchan's subscribe at /ws/{channel}
     (nchan_subscriber websocket); a close frame or an error message fails the cell;
  7. long-poll only: every watcher polls again on its kept-alive connection (nchan with its
     Last-Modified/Etag cursor), RSS is sampled again with N held ("re-poll": the memory of a
     connection that has served a request before), and a second write is timed;
  8. stop the system (the warm-up connections stay open until here).
Then, once: the largest request head offerd accepts at each swept --connection-memory, and the
--connection-memory sweep of offerd at BENCH_SWEEP_N held long-polls and streams.

Medians over rounds go to the table; results.json keeps every cell. Writes the results section of
docs/benchmarks-realtime.md.

Environment (defaults in brackets): BENCH_NS [1000,10000], BENCH_ROUNDS [3],
BENCH_MODES [longpoll,sse,ws] (ws alone writes its own doc section and results-ws.json), BENCH_SYSTEMS [offerd,offerd-ext,nchan], BENCH_THREADS [2] (offerd
--threads and nginx worker_processes), BENCH_SWEEP [4096,6144,8192,16384] ("" skips it),
BENCH_SWEEP_N [largest N], BENCH_SWEEP_MODES [longpoll,sse], BENCH_WARM [200],
BENCH_INFLIGHT [256] (connects in flight), BENCH_CONNECT_RATE [20000] (connects per second),
BENCH_DOC [docs/benchmarks-realtime.md], BENCH_RESULTS [bench/realtime/results], BENCH_REPOLL [1] (long-poll cells: re-poll and a
second write), BENCH_QUIET_PCT [20] / BENCH_QUIET_WAIT [15] / BENCH_QUIET_BUDGET [120] (before
each cell, wait up to BENCH_QUIET_WAIT seconds, and BENCH_QUIET_BUDGET in all, for other processes
to use less than BENCH_QUIET_PCT % of a core).

SPDX-License-Identifier: MIT
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SECRET = "offerd-realtime-bench-secret-not-for-production-0123"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PRICE = 1_000_000          # pence: 10,000.00
OFFER_AMOUNT = 500_000     # pence: 5,000.00, so counters have room in between
MAIN_OFFER = "rt_offer_main"
WARM_OFFER = "rt_offer_warm"
NGINX_MODULE_CANDIDATES = ["/usr/lib/nginx/modules/ngx_nchan_module.so",
                           "/usr/share/nginx/modules/ngx_nchan_module.so"]


def env_list(name, default):
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


def env_int(name, default):
    return int(os.environ.get(name, default))


def log(msg):
    print(f"[rt {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- tokens, data -------------------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(sub, secret=SECRET, ttl_s=86400):
    now = int(time.time())
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps({"sub": sub, "iat": now, "exp": now + ttl_s},
                             separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def make_template_db(offerd, path):
    subprocess.run([offerd, "migrate", "--db", path], check=True, stdout=subprocess.DEVNULL)
    far = int(time.time() * 1000) + 365 * 86400 * 1000
    db = sqlite3.connect(path)
    db.executescript(f"""
        INSERT INTO users(id, clerk_id, email, first_name, last_name) VALUES
          ('rt_buyer', 'clerk_rt_buyer', 'buyer@example.com', 'Bea', 'Buyer'),
          ('rt_seller', 'clerk_rt_seller', 'seller@example.com', 'Sol', 'Seller');
        INSERT INTO products(id, user_id, title, price) VALUES
          ('rt_prod_main', 'rt_seller', 'Titleist TSR3 Driver 9.0', {PRICE}),
          ('rt_prod_warm', 'rt_seller', 'Ping G430 Irons 5-PW', {PRICE});
        INSERT INTO product_images(id, product_id, url, sort_order) VALUES
          ('rt_img_main', 'rt_prod_main', 'https://images.example.com/tsr3.jpg', 0),
          ('rt_img_warm', 'rt_prod_warm', 'https://images.example.com/g430.jpg', 0);
        INSERT INTO offers(id, amount, product_id, buyer_id, seller_id, expires_at) VALUES
          ('{MAIN_OFFER}', {OFFER_AMOUNT}, 'rt_prod_main', 'rt_buyer', 'rt_seller', {far}),
          ('{WARM_OFFER}', {OFFER_AMOUNT}, 'rt_prod_warm', 'rt_buyer', 'rt_seller', {far});
    """)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def offer_version(db_path, offer_id):
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT version FROM offers WHERE id = ?", (offer_id,)).fetchone()[0]
    finally:
        db.close()


def http_request(method, path, headers=None, body=None):
    hdr = {"Host": "127.0.0.1"}
    hdr.update(headers or {})
    if body is not None:
        hdr["Content-Length"] = str(len(body))
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in hdr.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return raw + (body or b"")


def ws_upgrade_request(path, token):
    """An RFC 6455 upgrade; holdpoll puts a fresh random key in place of @WSKEY@ per socket."""
    return http_request("GET", path, {"Authorization": f"Bearer {token}", "Upgrade": "websocket",
                                      "Connection": "Upgrade", "Sec-WebSocket-Key": "@WSKEY@",
                                      "Sec-WebSocket-Version": "13"})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- /proc ---------------------------------------------------------------------------------------

def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def proc_cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])  # utime + stime
    except (OSError, IndexError):
        return 0


def proc_cpu_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat: finer than utime/stime's ticks)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(d))
    return kids


def own_cpu_s():
    import resource
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def machine_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle


# --- processes -----------------------------------------------------------------------------------

STARTED = []   # every Popen this script started, stopped by pid on exit
TEMP_DIRS = []  # every Bench's temporary directory, removed on a signal


def start(args, **kw):
    p = subprocess.Popen(args, **kw)
    STARTED.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in STARTED:
        STARTED.remove(p)


def stop_all():
    for p in list(STARTED):
        try:
            stop(p, timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# --- systems -------------------------------------------------------------------------------------

NCHAN_CONF = """\
# nginx + nchan for the offerd real-time benchmark (bench/realtime/rt.py).
load_module {module};
worker_processes {workers};
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections {conns}; use epoll; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    tcp_nodelay on;
    keepalive_timeout 65;
    nchan_shared_memory_size 256M;
    server {{
        listen 127.0.0.1:{port} backlog=1024;  # as offerd (MHD_OPTION_LISTEN_BACKLOG_SIZE)
        location ~ ^/sub/(\\w+)$ {{
            nchan_subscriber longpoll;
            nchan_channel_id $1;
        }}
        location ~ ^/ev/(\\w+)$ {{
            nchan_subscriber eventsource;
            nchan_channel_id $1;
        }}
        location ~ ^/ws/(\\w+)$ {{
            nchan_subscriber websocket;
            nchan_channel_id $1;
        }}
        location ~ ^/pub/(\\w+)$ {{
            nchan_publisher;
            nchan_channel_id $1;
        }}
        location = /nchan_status {{ nchan_stub_status; }}
    }}
}}
"""


class Offerd:
    kind = "offerd"

    def __init__(self, bench, cell_dir, conn_mem=None):
        self.b = bench
        self.mode = "longpoll"  # what held() counts; a cell sets its own
        self.db = os.path.join(cell_dir, "offerd.db")
        shutil.copy(bench.template_db, self.db)
        args = [bench.offerd, "--bind", "127.0.0.1", "--port", "0", "--db", self.db,
                "--jwt-secret", SECRET, "--access-log=0", "--threads", str(bench.threads),
                "--max-held", str(bench.max_n + 1000),
                "--max-held-per-user", str(bench.max_n + 1000),
                "--max-connections", str(bench.max_n + 2000)]
        help_text = bench.offerd_help(bench.offerd)
        if "--rate-limit" in help_text:
            args += ["--rate-limit", "0"]  # every watcher here is one user, by design
        if "--max-connections-per-ip" in help_text:
            args += ["--max-connections-per-ip", "0"]  # and every connection is from 127.0.0.1
        if conn_mem:
            args += ["--connection-memory", str(conn_mem)]
        self.args = args
        self.err = open(os.path.join(cell_dir, "offerd.log"), "w")
        self.p = start(args, stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.p.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"offerd did not start: {line!r} (see {self.err.name})")
        self.port = int(line.rsplit(":", 1)[1])
        self.pid = self.p.pid

    def stop(self):
        stop(self.p)
        self.err.close()

    def pids(self):
        return [self.pid]

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
        finally:
            c.close()
        return {k: float(v) for k, _, v in (line.partition(" ") for line in text.splitlines()
                                            if line and not line.startswith("#"))
                if v.replace(".", "", 1).replace("e+", "", 1).isdigit()}

    def held(self):
        # WebSockets: subscribed offers (one per socket here), so a socket counts once its
        # subscription is through, not at the upgrade.
        m = self.metrics()
        key = "offerd_ws_subscriptions" if self.mode == "ws" else "offerd_held_requests"
        return int(m.get(key, -1))

    def subscribe_message(self, key):
        """With the current version: offerd sends nothing at subscribe, only the next change."""
        v = offer_version(self.db, key)
        return json.dumps({"type": "subscribe", "ids": [key], "versions": {key: v}},
                          separators=(",", ":")).encode()

    def sub_request(self, mode, key):
        auth = {"Authorization": f"Bearer {self.b.buyer_token}"}
        if mode == "ws":
            return ws_upgrade_request("/api/ws", self.b.buyer_token)
        if mode == "longpoll":
            v = offer_version(self.db, key)
            return http_request("GET", f"/api/offers/{key}?since={v}&wait=60", auth)
        return http_request("GET", f"/api/offers/{key}/events",
                            dict(auth, Accept="text/event-stream"))

    def marker(self, mode):
        if mode == "ws":
            return ("ws", 0)  # holdpoll -w: every text message counts; nothing at subscribe
        return ("HTTP/1.", 0) if mode == "longpoll" else ("\\ndata:", 1)

    def write_request(self, key, k=1):
        # Turns alternate and counters converge: the seller comes down from 10,000.00 to 7,500,
        # then the buyer goes up from 5,000 to 6,000.
        amount, token = (7500, self.b.seller_token) if k == 1 else (6000, self.b.buyer_token)
        body = json.dumps({"amount": amount}).encode()
        return http_request("POST", f"/api/offers/{key}/counter",
                            {"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json"}, body)

    def rearm_request(self, key):
        """The next long-poll on the same connection, as a client that got the new version."""
        return self.sub_request("longpoll", key)

    def outside_write(self, key, client):
        """An UPDATE by another process (Python's sqlite3), t0 just before it starts."""
        db = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            t0 = time.monotonic_ns()
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE offers SET message = ? WHERE id = ?",
                       (f"outside write {t0}", key))
            db.execute("COMMIT")
        finally:
            db.close()
        return client.go(t0)


class Nchan:
    kind = "nchan"

    def __init__(self, bench, cell_dir):
        self.b = bench
        prefix = os.path.join(cell_dir, "nginx")
        for d in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            os.makedirs(os.path.join(prefix, d), exist_ok=True)
        self.port = free_port()
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NCHAN_CONF.format(module=bench.nchan_module, workers=bench.threads,
                                      nofile=bench.max_n * 2 + 4096,
                                      conns=bench.max_n + 4096, prefix=prefix, port=self.port))
        self.err = open(os.path.join(cell_dir, "nginx.out"), "w")
        self.p = start([bench.nginx, "-p", prefix, "-c", conf, "-e",
                        os.path.join(prefix, "error.log")], stdout=self.err, stderr=self.err)
        self.pid = self.p.pid
        deadline = time.time() + 10
        while True:
            try:
                self.status()
                break
            except OSError:
                if self.p.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"nginx did not start (see {prefix}/error.log)")
                time.sleep(0.05)
        while len(self.workers()) < bench.threads and time.time() < deadline:
            time.sleep(0.05)

    def stop(self):
        stop(self.p, sig=signal.SIGTERM)
        self.err.close()

    def workers(self):
        return children_of(self.pid)

    def pids(self):
        return self.workers()

    def status(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", "/nchan_status")
            r = c.getresponse()
            text = r.read().decode()
        finally:
            c.close()
        return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)

    def held(self):
        return int(self.status().get("subscribers", -1))

    def subscribe_message(self, key):
        """Nothing: the channel is in the URL (nchan would take a frame sent on a subscriber
        socket as nothing it has to act on)."""
        return b""

    def sub_request(self, mode, key):
        # The same Authorization header as offerd gets (nchan ignores it): equal request sizes.
        auth = {"Authorization": f"Bearer {self.b.buyer_token}"}
        if mode == "ws":
            return ws_upgrade_request(f"/ws/{key}", self.b.buyer_token)
        if mode == "longpoll":
            return http_request("GET", f"/sub/{key}", auth)
        return http_request("GET", f"/ev/{key}", dict(auth, Accept="text/event-stream"))

    def marker(self, mode):
        if mode == "ws":
            return ("ws", 0)
        return ("HTTP/1.", 0) if mode == "longpoll" else ("\\ndata:", 0)

    def write_request(self, key, k=1):
        return http_request("POST", f"/pub/{key}", {"Content-Type": "application/json"},
                            self.b.payload)

    def rearm_request(self, key):
        """The next long-poll with nchan's cursor (Last-Modified / Etag of the message just
        delivered), as nchan's own client does; without it the old message comes back at once."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", f"/sub/{key}")
            r = c.getresponse()
            r.read()
            lm, et = r.getheader("Last-Modified"), r.getheader("Etag")
        finally:
            c.close()
        if r.status != 200 or not lm or et is None:
            raise RuntimeError(f"nchan cursor: {r.status} {lm!r} {et!r}")
        return http_request("GET", f"/sub/{key}",
                            {"Authorization": f"Bearer {self.b.buyer_token}",
                             "If-Modified-Since": lm, "If-None-Match": et})


class Client:
    """One holdpoll process: N held requests, commands on stdin, results on stdout."""

    def __init__(self, bench, cell_dir, port, n, request, marker, skip, name, ws_subscribe=None):
        self.req_path = os.path.join(cell_dir, f"{name}.req")
        with open(self.req_path, "wb") as f:
            f.write(request)
        self.cell_dir = cell_dir
        self.err = open(os.path.join(cell_dir, f"{name}.holdpoll.err"), "w")
        ws_args = []
        if ws_subscribe is not None:  # WebSocket: the first text frame each socket sends
            sub_path = os.path.join(cell_dir, f"{name}.subscribe")
            with open(sub_path, "wb") as f:
                f.write(ws_subscribe)
            ws_args = ["-w", sub_path]
        self.p = start([bench.holdpoll, "-p", str(port), "-n", str(n), "-r", self.req_path,
                        "-m", marker, "-s", str(skip), "-c", str(bench.inflight),
                        "-R", str(bench.connect_rate),
                        "-t", "20000", "-T", "120000"] + ws_args,
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.fires = 0

    def wait_ready(self):
        line = self.p.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"holdpoll: {line.strip() or 'exited'} (see {self.err.name})")
        ready = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
        self.check_ws(ready)
        return ready

    def check_ws(self, result):
        """A WebSocket closed by the server, refused at the handshake, or sent an error message
        fails the cell: every socket must really be subscribed."""
        bad = {k: result.get(k, 0) for k in ("ws_closes", "ws_errors", "ws_bad_handshake")}
        if any(bad.values()):
            raise RuntimeError(f"holdpoll: WebSocket trouble {bad} (see {self.err.name})")

    def _result(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"holdpoll exited (see {self.err.name})")
        result = json.loads(line)
        self.check_ws(result)
        return result

    def fire(self, request):
        self.fires += 1
        path = os.path.join(self.cell_dir, f"write{self.fires}.req")
        with open(path, "wb") as f:
            f.write(request)
        self.p.stdin.write(f"FIRE {path}\n")
        self.p.stdin.flush()
        return self._result()

    def rearm(self, request):
        path = os.path.join(self.cell_dir, "rearm.req")
        with open(path, "wb") as f:
            f.write(request)
        self.p.stdin.write(f"REARM {path}\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line.startswith("REARMED"):
            raise RuntimeError(f"holdpoll: {line.strip() or 'exited'} (see {self.err.name})")
        return int(line.split("failed=")[1])

    def go(self, t0_ns):
        self.p.stdin.write(f"GO {t0_ns}\n")
        self.p.stdin.flush()
        return self._result()

    def close(self):
        try:
            self.p.stdin.write("QUIT\n")
            self.p.stdin.flush()
        except OSError:
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        stop(self.p)
        self.err.close()


# --- the benchmark -------------------------------------------------------------------------------

class Bench:
    def __init__(self):
        self.offerd = os.environ.get("OFFERD_BIN", os.path.join(ROOT, "build-rt/src/server/offerd"))
        self.holdpoll = os.environ.get("HOLDPOLL_BIN", os.path.join(HERE, "build/holdpoll"))
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nchan_module = next((m for m in NGINX_MODULE_CANDIDATES if os.path.exists(m)), None)
        self.ns = [int(x) for x in env_list("BENCH_NS", "1000,10000")]
        self.max_n = max(self.ns + [env_int("BENCH_SWEEP_N", max(self.ns))])
        self.rounds = env_int("BENCH_ROUNDS", 3)
        self.modes = env_list("BENCH_MODES", "longpoll,sse,ws")
        self.systems = env_list("BENCH_SYSTEMS", "offerd,offerd-ext,nchan")
        self.threads = env_int("BENCH_THREADS", 2)
        self.sweep = [int(x) for x in env_list("BENCH_SWEEP", "4096,6144,8192,16384")]
        self.head_limits = {}
        self.sweep_n = env_int("BENCH_SWEEP_N", max(self.ns))
        self.sweep_modes = env_list("BENCH_SWEEP_MODES", "longpoll,sse")
        self.warm = env_int("BENCH_WARM", 200)
        self.inflight = env_int("BENCH_INFLIGHT", 256)
        self.connect_rate = env_int("BENCH_CONNECT_RATE", 20000)
        self.command = os.environ.get("BENCH_COMMAND", "bench/realtime/run.sh")
        self.repoll = os.environ.get("BENCH_REPOLL", "1") != "0"
        self.quiet_pct = float(os.environ.get("BENCH_QUIET_PCT", "20"))
        self.quiet_wait = env_int("BENCH_QUIET_WAIT", 15)
        self.quiet_budget = env_int("BENCH_QUIET_BUDGET", 120)
        self.doc = os.environ.get("BENCH_DOC", os.path.join(ROOT, "docs/benchmarks-realtime.md"))
        self.results_dir = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "results"))
        self.tmp = tempfile.mkdtemp(prefix="offerd-rt-")
        TEMP_DIRS.append(self.tmp)
        os.chmod(self.tmp, 0o755)
        self.buyer_token = jwt_hs256("clerk_rt_buyer")
        self.seller_token = jwt_hs256("clerk_rt_seller")
        self.cells = []
        self.sweep_cells = []
        self.cell_seq = 0
        if "nchan" in self.systems and not self.nchan_module:
            raise SystemExit("rt: ngx_nchan_module.so not found (apt-get install libnginx-mod-nchan)")

    # -- setup --

    def offerd_help(self, binary, _cache={}):
        if binary not in _cache:
            _cache[binary] = subprocess.run([binary, "--help"], capture_output=True,
                                            text=True).stdout
        return _cache[binary]

    def setup(self):
        self.template_db = os.path.join(self.tmp, "template.db")
        make_template_db(self.offerd, self.template_db)
        # Learn the size of offerd's answer to a woken watcher: nchan publishes that many bytes.
        d = self.cell_dir("probe")
        o = Offerd(self, d)
        try:
            c = http.client.HTTPConnection("127.0.0.1", o.port, timeout=5)
            body = json.dumps({"amount": 7500})
            c.request("POST", f"/api/offers/{MAIN_OFFER}/counter", body,
                      {"Authorization": f"Bearer {self.seller_token}",
                       "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 201:
                raise RuntimeError(f"probe counter answered {r.status}")
            c.request("GET", f"/api/offers/{MAIN_OFFER}",
                      headers={"Authorization": f"Bearer {self.buyer_token}"})
            r = c.getresponse()
            self.payload = r.read()
            if r.status != 200:
                raise RuntimeError(f"probe GET answered {r.status}")
            c.close()
        finally:
            o.stop()
        log(f"offerd's offer JSON is {len(self.payload)} bytes; nchan publishes that many")

    def cell_dir(self, name):
        self.cell_seq += 1
        d = os.path.join(self.tmp, f"{self.cell_seq:03d}-{name}")
        os.makedirs(d)
        return d

    # -- one cell --

    def wait_held(self, server, n, timeout=60):
        deadline = time.time() + timeout
        held = -1
        while time.time() < deadline:
            held = server.held()
            if held >= n:
                return held
            time.sleep(0.05)
        raise RuntimeError(f"{server.kind}: only {held} of {n} held after {timeout} s")

    def rss(self, server):
        tot = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0, "RssShmem": 0}
        for pid in server.pids():
            for k, v in proc_status(pid).items():
                tot[k] += v
        return tot

    def cpu(self, server):
        """The server's CPU seconds so far (every thread of every process of it)."""
        return sum(proc_cpu_ns(p) for p in server.pids()) / 1e9

    def wait_quiet(self):
        """Waits (up to BENCH_QUIET_WAIT s) until the rest of the machine uses less than
        BENCH_QUIET_PCT % of a core, so that other work on a shared machine does not land in a
        cell. Returns the load seen last and the seconds waited."""
        t0 = time.time()
        while True:
            busy0, ours0, w0 = machine_busy_ticks(), own_cpu_s(), time.time()
            time.sleep(1.0)
            dt = time.time() - w0
            other = 100.0 * ((machine_busy_ticks() - busy0) / CLK_TCK - (own_cpu_s() - ours0)) / dt
            waited = time.time() - t0
            if other < self.quiet_pct or waited >= min(self.quiet_wait, self.quiet_budget):
                self.quiet_budget = max(0, self.quiet_budget - int(waited))
                if waited > 1.5:
                    log(f"waited {waited:.0f} s for other load to settle (now {other:.0f}% of a core)")
                return max(0.0, other), waited

    def run_cell(self, system, mode, n, conn_mem=None):
        name = f"{system}-{mode}-{n}" + (f"-mem{conn_mem}" if conn_mem else "")
        cell_quiet = self.wait_quiet()
        d = self.cell_dir(name)
        cell = {"system": system, "mode": mode, "n": n, "conn_mem": conn_mem,
                "other_cpu_pct_before": cell_quiet[0], "quiet_wait_s": cell_quiet[1]}
        t_cell = time.time()
        busy0 = machine_busy_ticks()
        ours0 = own_cpu_s()
        server = Nchan(self, d) if system == "nchan" else Offerd(self, d, conn_mem)
        server.mode = mode
        clients = []
        try:
            uniq = f"{self.cell_seq:03d}{os.getpid()}"
            main_key = MAIN_OFFER if server.kind == "offerd" else f"ch{uniq}"
            warm_key = WARM_OFFER if server.kind == "offerd" else f"warm{uniq}"
            marker, skip = server.marker(mode)
            # warm-up: the same path on another key, so first-use allocations are not counted
            def ws_sub(key):
                return server.subscribe_message(key) if mode == "ws" else None
            w = Client(self, d, server.port, self.warm, server.sub_request(mode, warm_key),
                       marker, skip, "warm", ws_sub(warm_key))
            clients.append(w)
            w.wait_ready()
            self.wait_held(server, self.warm)
            wr = w.fire(server.write_request(warm_key))
            if wr["received"] != self.warm:
                raise RuntimeError(f"warm-up: {wr}")
            # The warm-up connections stay open to the end of the cell: streams stay held, and
            # long-polls sit idle on keep-alive. Closing them would leave offerd's suspended
            # streams held until their next heartbeat (a suspended connection does not see its
            # client go), and that memory would be freed (and reused) during the measurement.
            base = self.warm if mode in ("sse", "ws") else 0
            deadline = time.time() + 10
            while server.held() != base and time.time() < deadline:
                time.sleep(0.05)
            cell["held_base"] = server.held()
            time.sleep(0.3)
            cell["rss_before"] = self.rss(server)
            cpu0 = self.cpu(server)
            c = Client(self, d, server.port, n, server.sub_request(mode, main_key), marker, skip,
                       "main", ws_sub(main_key))
            clients.append(c)
            ready = c.wait_ready()
            cell["setup_ms"] = ready["setup_ms"]
            cell["setup_retried"] = ready.get("retried", 0)
            if ready["connected"] != n or ready["early"]:
                raise RuntimeError(f"{name}: holdpoll {ready}")
            cell["held"] = self.wait_held(server, n + cell["held_base"]) - cell["held_base"]
            time.sleep(0.5)
            cell["rss_after"] = self.rss(server)
            cell["cpu_hold_s"] = self.cpu(server) - cpu0
            delta = cell["rss_after"]["VmRSS"] - cell["rss_before"]["VmRSS"]
            cell["rss_per_conn"] = delta / n
            cell["anon_per_conn"] = (cell["rss_after"]["RssAnon"] -
                                     cell["rss_before"]["RssAnon"]) / n
            # the write
            cpu1 = self.cpu(server)
            ccpu1 = proc_cpu_ns(c.p.pid) / 1e9
            if system == "offerd-ext":
                r = server.outside_write(main_key, c)
            else:
                r = c.fire(server.write_request(main_key))
            cell["cpu_wake_s"] = self.cpu(server) - cpu1
            cell["client_cpu_wake_s"] = proc_cpu_ns(c.p.pid) / 1e9 - ccpu1
            cell["wake"] = r
            if system == "offerd" and mode in ("sse", "ws") and "offerd-ext" in self.systems:
                time.sleep(0.3)
                cell["wake_ext"] = server.outside_write(main_key, c)
            if mode == "longpoll" and self.repoll:
                # Every watcher polls again on its keep-alive connection, as browsers do: the
                # memory of a connection that has served a request before, and a second wake.
                time.sleep(0.5)  # let every answer (and a close after it, if any) arrive
                failed = c.rearm(server.rearm_request(main_key))
                if failed:
                    raise RuntimeError(f"{name}: {failed} connections could not re-poll")
                self.wait_held(server, n)
                time.sleep(0.5)
                cell["rss_after_repoll"] = self.rss(server)
                cell["rss_per_conn_repoll"] = (cell["rss_after_repoll"]["VmRSS"] -
                                               cell["rss_before"]["VmRSS"]) / n
                cpu2 = self.cpu(server)
                if system == "offerd-ext":
                    r2 = server.outside_write(main_key, c)
                else:
                    r2 = c.fire(server.write_request(main_key, 2))
                cell["cpu_wake2_s"] = self.cpu(server) - cpu2
                cell["wake2"] = r2
            c.close()
            clients.remove(c)
        finally:
            for cl in clients:
                cl.close()
            server.stop()
        elapsed = time.time() - t_cell
        cell["elapsed_s"] = elapsed
        busy = (machine_busy_ticks() - busy0) / CLK_TCK
        # Everything this cell ran has exited and been reaped by now (nginx workers by their
        # master), so RUSAGE_CHILDREN holds it: the rest is someone else's load.
        cell["other_cpu_pct"] = max(0.0, 100.0 * (busy - (own_cpu_s() - ours0)) / elapsed)
        w = cell["wake"]
        log(f"{name:28s} rss/conn {cell['rss_per_conn']:8.0f} B  "
            f"wake p50 {w['p50_ms']:8.2f}  p99 {w['p99_ms']:8.2f}  max {w['max_ms']:8.2f} ms  "
            f"recv {w['received']}/{w['n']}  ack {w['ack_ms']:.2f} ms ({w['ack_status']})"
            + (f"  | ext p50 {cell['wake_ext']['p50_ms']:.2f} max {cell['wake_ext']['max_ms']:.2f}"
               if "wake_ext" in cell else "")
            + (f"  | re-poll rss/conn {cell['rss_per_conn_repoll']:.0f} B p50 "
               f"{cell['wake2']['p50_ms']:.2f} max {cell['wake2']['max_ms']:.2f} "
               f"recv {cell['wake2']['received']}" if "wake2" in cell else ""))
        return cell

    def head_limit(self, conn_mem):
        """The largest request head (request line + headers) offerd answers with this
        --connection-memory; one byte more and libmicrohttpd closes without an answer."""
        d = self.cell_dir(f"head-{conn_mem}")
        s = Offerd(self, d, conn_mem)

        def answered(pad):
            req = http_request("GET", f"/api/offers/{MAIN_OFFER}",
                               {"Authorization": f"Bearer {self.buyer_token}",
                                "Cookie": "pad=" + "a" * pad})
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
                c.sendall(req)
                data = c.recv(64)
            return data.startswith(b"HTTP/1.1 200"), len(req)
        try:
            lo, hi = 0, conn_mem
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if answered(mid)[0]:
                    lo = mid
                else:
                    hi = mid - 1
            return answered(lo)[1]
        finally:
            s.stop()

    def run(self):
        self.started = datetime.datetime.now(datetime.timezone.utc)
        import report  # bench/realtime/report.py
        self.versions = None
        self.versions = report.versions(self)
        self.setup()
        for rnd in range(self.rounds):
            for n in self.ns:
                for mode in self.modes:
                    systems = [s for s in self.systems
                               if not (s == "offerd-ext" and mode in ("sse", "ws"))]
                    k = rnd % len(systems)
                    order = systems[k:] + systems[:k]
                    for s in order:
                        try:
                            cell = self.run_cell(s, mode, n)
                        except Exception as e:  # noqa: BLE001 - record and go on
                            log(f"{s} {mode} {n}: FAILED: {e}")
                            cell = {"system": s, "mode": mode, "n": n, "error": str(e)}
                        cell["round"] = rnd
                        self.cells.append(cell)
        for mem in self.sweep:
            try:
                self.head_limits[mem] = self.head_limit(mem)
            except Exception as e:  # noqa: BLE001
                log(f"head limit at {mem}: {e}")
        for mode in self.sweep_modes if self.sweep else []:
            for mem in self.sweep:
                try:
                    cell = self.run_cell("offerd", mode, self.sweep_n, conn_mem=mem)
                except Exception as e:  # noqa: BLE001
                    log(f"sweep {mode} {mem}: FAILED: {e}")
                    cell = {"system": "offerd", "mode": mode, "n": self.sweep_n,
                            "conn_mem": mem, "error": str(e)}
                self.sweep_cells.append(cell)
        self.finished = datetime.datetime.now(datetime.timezone.utc)


def main():
    b = Bench()
    import report  # noqa: E402 - bench/realtime/report.py, next to this file
    try:
        b.run()
    finally:
        stop_all()
    report.write(b)
    shutil.rmtree(b.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, HERE)

    def on_signal(signum, _frame):
        stop_all()
        for d in TEMP_DIRS:
            shutil.rmtree(d, ignore_errors=True)
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    main()
