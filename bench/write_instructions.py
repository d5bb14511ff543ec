#!/usr/bin/env python3
"""bench/write_instructions.py - instructions per write and per poll, per offerd thread kind.

Wall-clock figures (bench/mix_cost.sh) move with whatever else the machine runs; instruction counts
do not, so this measures a change to the write path on a busy machine without disturbing it.
offerd (a Release build) runs under valgrind's callgrind, one output per thread, in a few short
runs on fresh copies of a small database (bench/gen_db.py), each with the same warm-up (one GET
of each of WARM offers, so later polls of them are cache hits, and one list request with each
token the load sends, so its verification is cached as on a busy server, and one create, so the
writer thread's connection is open, as it is on a server that has written before):

  idle      the warm-up only: what every run pays besides its load
  polls     POLLS conditional-less GETs of the warm offers (cache hits)
  creates   WRITES creates (POST /api/offers), one at a time
  first     WRITES creates, each followed by its creator's GET of the new offer (the first poll)
  counters  WRITES creates, each followed by the product's seller countering it

Per poll = (polls - idle) / POLLS; per write = (creates - idle) / WRITES; the creator's first poll
= (first - creates) / WRITES; a counter = (counters - creates) / WRITES. Each is split into
libmicrohttpd's threads (HTTP), the writer thread, and the rest (notify, main). Writes are sent one
at a time, so the writer commits batches of one (group commit does not help here; the mix's writer
cost per write is lower). Prints a table and one line "WRITE_INSTRUCTIONS {json}". 127.0.0.1 only;
everything it starts it stops. About 30 s on the development machine.

    bench/write_instructions.sh                       # builds build-rel/ (Release), then runs this
    python3 bench/write_instructions.py --offerd build-rel/src/server/offerd --writes 100

SPDX-License-Identifier: MIT
"""
import argparse
import glob
import http.client
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "offerd-bench-secret-not-for-production-0123456789"


def load_gen_db():
    spec = importlib.util.spec_from_file_location("gen_db", os.path.join(HERE, "gen_db.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


class Client:
    """One kept-alive connection; every answer is checked, so a broken run never counts."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, token, body=None, want=200):
        headers = {"Authorization": "Bearer " + token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != want:
            raise SystemExit(f"{method} {path}: {r.status} {data[:200]!r} (wanted {want})")
        return r, data


def thread_kind(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if "writer_main" in text:
        return "writer"
    if "MHD_" in text:  # libmicrohttpd's workers (and its tiny accept/cleanup threads)
        return "http"
    return "other"


def totals(outdir):
    """Instructions per thread kind from callgrind's per-thread files."""
    kinds = {}
    for path in glob.glob(os.path.join(outdir, "cg.*")):
        ir = 0
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    ir = int(line.split()[1])
        kind = thread_kind(path)
        kinds[kind] = kinds.get(kind, 0) + ir
    return kinds


def one_run(args, work, name, load):
    db = os.path.join(work, "run.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    shutil.copy(os.path.join(work, "bench.db"), db)
    outdir = os.path.join(work, "cg-" + name)
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    port = free_port()
    log = open(os.path.join(work, name + ".log"), "w")
    cmd = ["valgrind", "--tool=callgrind", "--separate-threads=yes",
           "--callgrind-out-file=" + os.path.join(outdir, "cg.%p"),
           args.offerd, "--port", str(port), "--db", db, "--jwt-secret", SECRET,
           "--access-log=0", "--rate-limit", "0"]
    offerd = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or offerd.poll() is not None:
                    raise SystemExit("offerd did not start; see " + log.name)
                time.sleep(0.1)
        client = Client(port)
        for oid, token in args.warm_rows:
            client.call("GET", "/api/offers/" + oid, token)
        for token in args.warm_tokens:  # verified once here, as a busy server has them cached
            client.call("GET", "/api/offers?limit=1", token)
        pid, amount, token = args.warm_write  # the writer opens its connection: not per write
        client.call("POST", "/api/offers", token, json.dumps(
            {"productId": pid, "amount": float(amount)}), want=201)
        load(client)
        client.conn.close()
    finally:
        offerd.send_signal(signal.SIGTERM)
        try:
            offerd.wait(timeout=60)
        except subprocess.TimeoutExpired:
            offerd.kill()
            offerd.wait()
        log.close()
    return totals(outdir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--offerd", required=True)
    ap.add_argument("--polls", type=int, default=2000)
    ap.add_argument("--writes", type=int, default=150)
    ap.add_argument("--warm", type=int, default=50)
    ap.add_argument("--keep", help="keep the work directory here (callgrind files, logs)")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    gen = load_gen_db()
    work = args.keep or tempfile.mkdtemp(prefix="offerd-winstr-")
    os.makedirs(work, exist_ok=True)
    try:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_db.py"), "--offerd", args.offerd,
                        "--db", os.path.join(work, "bench.db"), "--out", work, "--offers", "2000",
                        "--users", "600", "--sellers", "200", "--products", "1000", "--seed", "6"],
                       check=True, stdout=subprocess.DEVNULL)
        rng = random.Random(18)
        reads = read_tsv(os.path.join(work, "tokens.tsv"))
        args.warm_rows = rng.sample(reads, args.warm)
        polls = [rng.choice(args.warm_rows) for _ in range(args.polls)]
        writes = read_tsv(os.path.join(work, "writes.tsv"))[:args.writes + 1]
        if len(writes) < args.writes + 1:
            raise SystemExit("not enough write targets in the generated database")
        args.warm_write = writes.pop()
        db = sqlite3.connect(os.path.join(work, "bench.db"))
        now = int(time.time())
        seller_token = {}
        for pid, _, _ in writes:
            (clerk,) = db.execute("SELECT u.clerk_id FROM products p JOIN users u ON u.id ="
                                  " p.user_id WHERE p.id = ?", (pid,)).fetchone()
            seller_token[pid] = gen.jwt_hs256({"exp": now + 86400, "iat": now, "nbf": now - 10,
                                               "sub": clerk}, SECRET)
        db.close()
        args.warm_tokens = sorted({w[2] for w in writes} | set(seller_token.values()))

        def create(client, pid, amount, token):
            body = json.dumps({"productId": pid, "amount": float(amount),
                               "message": "Would this do?"})
            r, data = client.call("POST", "/api/offers", token, body, want=201)
            return json.loads(data)["id"], r.getheader("ETag")

        def load_polls(client):
            for oid, token in polls:
                client.call("GET", "/api/offers/" + oid, token)

        def load_creates(client):
            for pid, amount, token in writes:
                create(client, pid, amount, token)

        def load_first(client):
            for pid, amount, token in writes:
                oid, etag = create(client, pid, amount, token)
                r, _ = client.call("GET", "/api/offers/" + oid, token)
                if r.getheader("ETag") != etag:
                    raise SystemExit(f"first poll of {oid}: ETag {r.getheader('ETag')} != {etag}")

        def load_counters(client):
            for pid, amount, token in writes:
                oid, _ = create(client, pid, amount, token)
                counter = json.dumps({"amount": float(amount) + 1, "message": "Meet me?"})
                client.call("POST", f"/api/offers/{oid}/counter", seller_token[pid], counter,
                            want=201)

        runs = {}
        for name, load in (("idle", lambda c: None), ("polls", load_polls),
                           ("creates", load_creates), ("first", load_first),
                           ("counters", load_counters)):
            runs[name] = one_run(args, work, name, load)
            print(f"{name}: {runs[name]}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    def per(a, b, n):
        return {k: (runs[a].get(k, 0) - runs[b].get(k, 0)) / n
                for k in ("http", "writer", "other")}

    result = {"poll": per("polls", "idle", args.polls),
              "write": per("creates", "idle", args.writes),
              "first_poll": per("first", "creates", args.writes),
              "counter": per("counters", "creates", args.writes),
              "polls": args.polls, "writes": args.writes}
    print(f"{'instructions per':<22}{'HTTP threads':>14}{'writer':>12}{'other':>12}{'total':>12}")
    for key, label in (("poll", "poll (cache hit)"), ("write", "create"),
                       ("first_poll", "creator's first poll"), ("counter", "counter")):
        v = result[key]
        print(f"{label:<22}{v['http']:>14,.0f}{v['writer']:>12,.0f}{v['other']:>12,.0f}"
              f"{sum(v.values()):>12,.0f}")
    print("WRITE_INSTRUCTIONS " + json.dumps(result))


if __name__ == "__main__":
    main()
