#!/usr/bin/env python3
"""Flood fairness, side by side: one source floods Herald with OPTIONS at full speed (SIPp,
send-only, from 127.0.0.2) while another sends 10 OPTIONS a second (from 127.0.0.3) and
times each answer. Each round runs Herald twice, fresh: with the per-source request budget
([security] requests_per_second, default 200) and without it (requests_per_second = 0), the
same binary, the same flood; rounds alternate so that the machine's load hits both.

Prints per run: the flood's offered rate, the measured source's answered share and its
p50 / p99 / max response time, and Herald's CPU; then the medians per setting. The issue's
goal: the measured source keeps >= 99 % answered with p99 <= 50 ms during the flood.

Example: bench/flood.py build/release/src/app/herald --seconds 15 --rounds 3
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood_sent(data):
    """Requests the flood has sent so far (SIPp's statistics file, written each second)."""
    try:
        with open(os.path.join(data, "flood.csv")) as f:
            rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    except FileNotFoundError:
        return 0
    if len(rows) < 2:
        return 0
    return int(rows[-1][rows[0].index("OutgoingCall(C)")])


def run(binary, budget, seconds, work):
    port = free_port()
    data = tempfile.mkdtemp(prefix="herald-flood-", dir=work)
    config = os.path.join(data, "herald.toml")
    with open(config, "w") as f:
        f.write('domains = ["example.com"]\nauth = "off"\n[security]\ntrusted = []\n'
                f"requests_per_second = {200 if budget else 0}\nrequest_burst = 400\n")
    log = open(os.path.join(data, "herald.log"), "w")
    herald = subprocess.Popen([binary, "serve", "--config", config, "--data-dir", data, "--listen",
                               f"udp:127.0.0.1:{port}", "--log-level", "error"], stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.7)
    flood = subprocess.Popen(["sipp", "-sf", os.path.join(HERE, "sipp", "flood_uac.xml"), "-i", "127.0.0.2", "-p", "0",
                              "-r", "200000", "-rp", "1000", "-l", "1000000", "-m", str(200000 * seconds), "-nostdin",
                              "-timeout", f"{seconds + 5}s", "-max_sched_loops", "10000", "-trace_stat", "-stf",
                              os.path.join(data, "flood.csv"), "-fd", "1", f"127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data)
    time.sleep(1.0)  # the flood is on
    cpu_before = cpu_seconds(herald.pid)
    sent_before, measure_start = flood_sent(data), time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.3", 0))
    sock.settimeout(0.5)
    times, lost = [], 0
    measured = max(seconds - 3, 2) * 10
    for i in range(measured):
        branch = f"z9hG4bK-fair-{i}-{time.time_ns()}"
        msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.3:{sock.getsockname()[1]};"
               f"branch={branch};rport\r\nFrom: <sip:fair@example.com>;tag={i}\r\nTo: <sip:127.0.0.1>\r\n"
               f"Call-ID: fair-{i}-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
               "Content-Length: 0\r\n\r\n").encode()
        start = time.perf_counter()
        sock.sendto(msg, ("127.0.0.1", port))
        got = None
        while True:
            try:
                data_in = sock.recv(65536)
            except socket.timeout:
                break
            if branch.encode() in data_in:
                got = time.perf_counter() - start
                break
        if got is None:
            lost += 1
        else:
            times.append(got * 1000)
            time.sleep(max(0.1 - got, 0))
    cpu = cpu_seconds(herald.pid) - cpu_before
    measured_for = time.monotonic() - measure_start
    time.sleep(1.1)  # SIPp's next statistics line
    flood_rate = (flood_sent(data) - sent_before) / (time.monotonic() - measure_start)
    flood.kill()
    flood.wait()
    herald.terminate()
    herald.wait(timeout=10)
    log.close()
    shutil.rmtree(data, ignore_errors=True)
    times.sort()
    pick = lambda p: times[min(len(times) - 1, int(len(times) * p / 100))] if times else float("nan")  # noqa: E731
    return {"flood": flood_rate, "answered": 100.0 * len(times) / measured, "p50": pick(50), "p99": pick(99),
            "max": times[-1] if times else float("nan"), "cpu": cpu / measured_for}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("herald", help="the herald binary (a Release build)")
    parser.add_argument("--seconds", type=int, default=15, help="flood length per run (default 15)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running both settings (default 3)")
    args = parser.parse_args()
    if not shutil.which("sipp"):
        sys.exit("flood.py needs SIPp (Debian package sip-tester)")
    work = tempfile.mkdtemp(prefix="herald-flood-")
    results = {True: [], False: []}
    for r in range(args.rounds):
        for budget in (True, False):
            out = run(args.herald, budget, args.seconds, work)
            results[budget].append(out)
            print(f"round {r + 1}, budget {'on ' if budget else 'off'}: flood {out['flood']:,.0f}/s, "
                  f"answered {out['answered']:.1f} %, "
                  f"p50 {out['p50']:.2f} ms, p99 {out['p99']:.2f} ms, max {out['max']:.2f} ms, "
                  f"Herald CPU {out['cpu']:.2f} core", flush=True)
    for budget in (True, False):
        rows = results[budget]
        med = {k: statistics.median(row[k] for row in rows) for k in ("flood", "answered", "p50", "p99", "max", "cpu")}
        print(f"median, budget {'on ' if budget else 'off'}: flood {med['flood']:,.0f}/s, "
              f"answered {med['answered']:.1f} %, p50 {med['p50']:.2f} ms, "
              f"p99 {med['p99']:.2f} ms, max {med['max']:.2f} ms, Herald CPU {med['cpu']:.2f} core")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
