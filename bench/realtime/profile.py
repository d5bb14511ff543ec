#!/usr/bin/env python3
"""bench/realtime/profile.py - where offerd's time goes when one write wakes N held requests.

    bench/realtime/profile.py [longpoll|sse] [N] [hold|wake]

PROFILE_CONNECTION_MEMORY=BYTES passes --connection-memory. OFFERD_BIN picks the binary.
Builds nothing: run bench/realtime/run.sh once first (it builds holdpoll), and build offerd with
symbols into bench/realtime/build/offerd-rwdi (run.sh --profile does both). Starts that offerd,
holds N requests with holdpoll, and records `perf record -g` on offerd only during the phase asked
for (hold: the N requests arriving and being suspended; wake: one counter write and the fan-out),
then prints the top of `perf report` by DSO and by symbol, and the CPU offerd used in the phase.
The perf data stays in bench/realtime/results/perf-<mode>-<N>-<phase>.data.

SPDX-License-Identifier: MIT
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import rt  # noqa: E402


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "longpoll"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    phase = sys.argv[3] if len(sys.argv) > 3 else "wake"
    os.environ.setdefault("BENCH_SYSTEMS", "offerd")
    b = rt.Bench()
    b.offerd = os.environ.get("OFFERD_BIN", os.path.join(HERE, "build/offerd-rwdi/src/server/offerd"))
    os.makedirs(b.results_dir, exist_ok=True)
    out = os.path.join(b.results_dir, f"perf-{mode}-{n}-{phase}.data")
    perf = None
    try:
        b.setup()
        d = b.cell_dir("profile")
        mem = os.environ.get("PROFILE_CONNECTION_MEMORY")
        s = rt.Offerd(b, d, int(mem) if mem else None)
        s.mode = mode
        marker, skip = s.marker(mode)

        def record():
            p = rt.start(["perf", "record", "-F", "2000", "--call-graph", "dwarf,16384", "-p", str(s.pid), "-o", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            return p
        if phase == "hold":
            perf = record()
        cpu0 = b.cpu(s)
        c = rt.Client(b, d, s.port, n, s.sub_request(mode, rt.MAIN_OFFER), marker, skip, "main")
        ready = c.wait_ready()
        b.wait_held(s, n)
        cpu_hold = b.cpu(s) - cpu0
        if phase == "wake":
            perf = record()
        cpu0 = b.cpu(s)
        r = c.fire(s.write_request(rt.MAIN_OFFER))
        cpu_wake = b.cpu(s) - cpu0
        rt.stop(perf, sig=2, timeout=30)
        c.close()
        s.stop()
        print(f"hold: setup {ready['setup_ms']:.0f} ms, offerd CPU {cpu_hold:.2f} s "
              f"({cpu_hold / n * 1e6:.0f} us per held request)")
        print(f"wake: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms,"
              f" offerd CPU {cpu_wake:.2f} s ({cpu_wake / n * 1e6:.0f} us per woken request)")
    finally:
        rt.stop_all()
        shutil.rmtree(b.tmp, ignore_errors=True)
    for sort in ("dso", "dso,symbol"):
        rep = subprocess.run(["perf", "report", "-i", out, "--no-children", "-g", "none",
                              "--percent-limit", "0.7", "--sort", sort],
                             capture_output=True, text=True).stdout
        print("\n".join(line for line in rep.splitlines()
                        if line.strip() and not line.startswith("#")))
        print()
    print(f"perf data: {out}  (perf report -i {out} --children)")


if __name__ == "__main__":
    main()
