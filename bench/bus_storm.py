#!/usr/bin/env python3
"""bench/bus_storm.py - three offerd instances on one PostgreSQL database, woken only through a
Redis bus (--bus unix://..., no LISTEN/NOTIFY), under a write storm; issue #16.

    . /work/pg.env; bench/bus_storm.py [--offerd build/src/server/offerd] [--seconds 10]
                                       [--threads 8] [--kill-at 5]

Makes a database (BENCH_PG_PREFIX, default offerd_bench_, + storm) on the server the PG* variables
name and migrates it with offerd, starts a redis-server on a Unix socket in a temporary directory and
three instances on 127.0.0.1, and opens on each instance the seller's all-offers SSE stream
(/api/offers/events). Then --threads threads POST new offers (round robin over the instances) for
--seconds; at --kill-at seconds Redis drops every subscription (CLIENT KILL TYPE pubsub); --notify
runs the same with --bus notify instead (the LISTEN/NOTIFY reference, Redis idle). At the end
it checks that every stream received every offer created (none lost), and reports writes/s, the
delivery latency per instance (event arrival against the offer's createdAt, both wall clock on this
machine), and each instance's bus counters. Everything it started is stopped by pid; the database
is dropped.

SPDX-License-Identifier: MIT
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "realtime"))
import bench as B  # noqa: E402 - Proc, free_port, wait_http
import rt as RT  # noqa: E402 - jwt_hs256
from pg_bench import start_redis  # noqa: E402

PRODUCTS = 500


def psql(db, sql):
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


class Stream(threading.Thread):
    """The seller's all-offers SSE stream on one instance: (offer id, createdAt, arrival) per event."""

    def __init__(self, port, token):
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.seen = {}
        self.stop = False

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(f"GET /api/offers/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.token}"
                  f"\r\nAccept: text/event-stream\r\n\r\n".encode())
        s.settimeout(0.5)
        buf = b""
        while not self.stop:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            now_ms = time.time() * 1000
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.startswith(b"data: {"):
                    try:
                        o = json.loads(line[6:])
                    except ValueError:
                        continue
                    oid = o.get("id")
                    if oid and oid not in self.seen:
                        self.seen[oid] = (o.get("createdAt"), now_ms)
        s.close()


def iso_ms(text):
    t = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    return (time.mktime(t) - time.timezone) * 1000 + int(text[20:23])


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(offerd_bus_\w+) (\S+)$", text, re.M)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offerd", default=os.path.join(ROOT, "build-bench", "src", "server", "offerd"))
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--kill-at", type=float, default=5)
    ap.add_argument("--notify", action="store_true",
                    help="the reference: --bus notify (LISTEN/NOTIFY), no Redis, no kill")
    args = ap.parse_args()
    db = os.environ.get("BENCH_PG_PREFIX", "offerd_bench_") + "storm"
    tmp = tempfile.mkdtemp(prefix="bus-storm-")
    procs = []
    subprocess.run(["dropdb", "--if-exists", db], stderr=subprocess.DEVNULL)
    subprocess.run(["createdb", db], check=True)
    try:
        subprocess.run([args.offerd, "migrate", "--db", f"postgresql:///{db}"], check=True,
                       stdout=subprocess.DEVNULL)
        psql(db, "INSERT INTO users (id, clerk_id) VALUES ('u_seller', 'c_seller'), ('u_buyer', 'c_buyer');"
                 f"INSERT INTO products (id, user_id, title, price) SELECT 'p' || i, 'u_seller', 'p', 20000"
                 f" FROM generate_series(1, {PRODUCTS}) i")
        redis, bus = start_redis(tmp)
        procs.append(redis)
        ports = []
        for i in range(3):
            port = B.free_port()
            p = B.Proc(f"offerd{i}", [args.offerd, "--port", str(port), "--db", f"postgresql:///{db}",
                                      "--jwt-secret", RT.SECRET, "--access-log=0", "--rate-limit", "0",
                                      "--bus", "notify" if args.notify else bus], os.path.join(tmp, f"offerd{i}.log"))
            procs.append(p)
            if not B.wait_http(p, port):
                raise RuntimeError(f"offerd{i} did not start: {p.tail(5)}")
            ports.append(port)
        seller, buyer = RT.jwt_hs256("c_seller"), RT.jwt_hs256("c_buyer")
        streams = [Stream(port, seller) for port in ports]
        for s in streams:
            s.start()
        time.sleep(1)
        created, errors, lock = [], [0], threading.Lock()
        deadline = time.time() + args.seconds

        def writer(k):
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for port in ports]
            n = k
            while time.time() < deadline:
                c = conns[n % 3]
                body = json.dumps({"productId": f"p{n % PRODUCTS + 1}", "amount": 150})
                c.request("POST", "/api/offers", body, {"Authorization": f"Bearer {buyer}",
                                                         "Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                with lock:
                    if r.status == 201:
                        created.append(json.loads(data)["id"])
                    else:
                        errors[0] += 1
                n += args.threads

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(args.threads)]
        t0 = time.time()
        for t in threads:
            t.start()
        if 0 < args.kill_at < args.seconds and not args.notify:
            time.sleep(args.kill_at)
            subprocess.run(["redis-cli", "-s", bus[len("unix://"):], "CLIENT", "KILL", "TYPE",
                            "pubsub"], stdout=subprocess.DEVNULL)
        for t in threads:
            t.join()
        took = time.time() - t0
        time.sleep(3)  # the periodic read (1 s) catches up whatever a dropped subscription missed
        for s in streams:
            s.stop = True
        print(f"3 instances on PostgreSQL, " + ("--bus notify (LISTEN/NOTIFY)" if args.notify else
              f"Redis bus alone (unix socket), CLIENT KILL TYPE pubsub at {args.kill_at:.0f} s") +
              f"; {args.threads} writer threads for {args.seconds:.0f} s")
        print(f"writes: {len(created)} offers created in {took:.1f} s = {len(created) / took:.0f}/s, "
              f"{errors[0]} errors")
        print()
        print("| instance | offers seen / created | p50 ms | p99 ms | max ms | bus received | rejected "
              "| published | publish dropped | reconnects |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for i, (port, s) in enumerate(zip(ports, streams)):
            lat = sorted(arr - iso_ms(ca) for oid, (ca, arr) in s.seen.items() if oid in set(created))
            seen = sum(1 for oid in created if oid in s.seen)
            m = metrics(port)
            q = (lambda f: f"{lat[min(len(lat) - 1, int(f * len(lat)))]:.0f}") if lat else (lambda f: "-")
            print(f"| {i} | {seen} / {len(created)} | {statistics.median(lat):.0f} | {q(0.99)} | "
                  f"{lat[-1]:.0f} | {m.get('offerd_bus_messages_received_total', 0):.0f} | "
                  f"{m.get('offerd_bus_messages_rejected_total', 0):.0f} | "
                  f"{m.get('offerd_bus_messages_published_total', 0):.0f} | "
                  f"{m.get('offerd_bus_publish_dropped_total', 0):.0f} | "
                  f"{m.get('offerd_bus_reconnects_total', 0):.0f} |")
        return 0
    finally:
        for p in reversed(procs):
            p.stop()
        subprocess.run(["dropdb", "--if-exists", db], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
