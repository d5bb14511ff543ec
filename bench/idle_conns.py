#!/usr/bin/env python3
# bench/idle_conns.py - does a crowd of idle keep-alive connections slow other requests down?
#
# Usage: bench/idle_conns.py OFFERD_BINARY [IDLE=9000] [SECONDS=5]
# Starts offerd (--threads 4, a scratch SQLite file under /tmp), opens IDLE keep-alive connections
# that each make one request and then sit idle, then times back-to-back /healthz requests on one
# more connection for SECONDS and prints p50, p99 and the worst. The --request-timeout checker
# looks at every idle connection twice a second; run it on two builds to compare (its max is what
# a stall under a checker lock shows up in). Loopback only; stops offerd itself.
#
# SPDX-License-Identifier: MIT
import resource, shutil, socket, subprocess, sys, tempfile, time
h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
binary = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 9000
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
work = tempfile.mkdtemp(prefix="offerd-idle-")
p = subprocess.Popen([binary, "--port", "0", "--db", work + "/t.db", "--jwt-secret", "x"*32,
                      "--threads", "4", "--max-connections", "20000", "--access-log=0"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    line = p.stdout.readline(); port = int(line.strip().rsplit(":", 1)[1])
    req = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); s.recv(4096); socks.append(s)
    time.sleep(1.5)
    probe = socket.create_connection(("127.0.0.1", port)); lat = []
    t_end = time.time() + seconds
    while time.time() < t_end:
        t0 = time.perf_counter(); probe.sendall(req); probe.recv(4096); lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    print(f"{n} idle: {len(lat)} probes, p50 {lat[len(lat)//2]:.3f} ms, p99 {lat[int(len(lat)*0.99)]:.3f} ms, max {lat[-1]:.3f} ms")
    for s in socks: s.close()
finally:
    p.terminate(); p.wait()
    shutil.rmtree(work, ignore_errors=True)
