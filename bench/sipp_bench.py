#!/usr/bin/env python3
"""SIPp against the running `herald` binary on loopback: for each scenario, step the offered
rate up and report the highest rate sustained for the whole step with fewer than 0.1 %
failed calls, plus the server's resident memory per binding after a large registration.
Scenarios: REGISTER (auth off, digest); MESSAGE relayed to a registered SIPp recipient
(auth off, 407 + credentials); presence: SUBSCRIBE (a subscription's whole life: SUBSCRIBE,
NOTIFY, un-SUBSCRIBE, NOTIFY), PUBLISH (initial, refresh, remove), fan-out (one PUBLISH to a
presentity with 1,000 and 10,000 watchers, every NOTIFY answered) and bytes per subscription
at 100,000 subscriptions.

    bench/sipp_bench.py [--herald build/release/src/app/herald] [--seconds 10]
                        [--rates 1000,2000,4000,8000] [--bindings 100000]
                        [--scenarios register,message,presence] [--subscriptions 100000]
                        [--fanout 1000,10000]

Figures vary with the machine and its load: compare runs side by side, take medians. No
figure here is a pass/fail criterion."""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(ROOT, "bench", "sipp")
DOMAIN = "bench.example.com"
USERS = 1000


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Herald:
    def __init__(self, binary, data_dir, config):
        self.port = free_port()
        path = os.path.join(data_dir, "herald.toml")
        with open(path, "w") as f:
            f.write(config)
        self.log = open(os.path.join(data_dir, "herald.log"), "w")
        self.tcp_port = free_port()
        self.proc = subprocess.Popen([binary, "serve", "--config", path, "--data-dir", data_dir, "--listen",
                                      f"udp:127.0.0.1:{self.port}", "--listen", f"tcp:127.0.0.1:{self.tcp_port}",
                                      "--log-level", "warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(0.5)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def add_users(binary, data_dir):
    # One process per user is slow but uses the real command; 1,000 users take seconds.
    with open(os.path.join(data_dir, "users.csv"), "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(USERS):
            f.write(f"u{i};{DOMAIN};pw{i}\n")
    procs = []
    for i in range(USERS):
        procs.append(subprocess.Popen([binary, "user", "add", f"u{i}@{DOMAIN}", "--password", f"pw{i}",
                                       "--data-dir", data_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if len(procs) >= 8:
            procs.pop(0).wait()
    for p in procs:
        p.wait()


def sipp(scenario, port, rate, calls, data_dir, extra=("-inf", "users.csv")):
    """Runs SIPp; returns (successful, failed, elapsed seconds)."""
    start = time.time()
    out = subprocess.run(["sipp", "-sf", os.path.join(SCENARIOS, scenario), "-r", str(rate), "-m", str(calls), "-l",
                          str(max(rate, 100) * 4), "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout",
                          f"{calls // max(rate, 1) + 30}s", "-max_recv_loops", "10000", "-max_sched_loops", "10000",
                          *extra, f"127.0.0.1:{port}"], capture_output=True, text=True, cwd=data_dir)
    elapsed = time.time() - start
    ok = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", out.stdout)
    bad = re.search(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", out.stdout)
    return int(ok.group(1)) if ok else 0, int(bad.group(1)) if bad else calls, elapsed


def step_rates(name, scenario, port, rates, seconds, data_dir, extra=("-inf", "users.csv")):
    best = None
    for rate in rates:
        ok, failed, elapsed = sipp(scenario, port, rate, rate * seconds, data_dir, extra)
        total = ok + failed
        achieved = ok / elapsed if elapsed else 0
        good = total > 0 and failed / total < 0.001 and achieved >= 0.9 * rate
        print(f"  {name}: offered {rate}/s -> {ok} ok, {failed} failed, {achieved:.0f}/s achieved"
              f"{'' if good else '  (not sustained)'}", flush=True)
        if not good:
            break
        best = rate
    return best


def measure_bindings(args):
    """Bytes per binding in a fresh server: args.bindings new bindings over TCP. Over UDP a
    server transaction lives 32 s after its final response (Timer J), and freed memory is not
    returned to the system, so RSS would count the peak of live transactions; a server that
    ran the rate steps before would reuse their freed pages. Over TCP (Timer J = 0) they end
    at once: RSS then grows by what the bindings hold (memory and SQLite's page cache)."""
    data_dir = tempfile.mkdtemp(prefix="herald-bench-memory-")
    add_users(args.herald, data_dir)
    config = f'domains = ["{DOMAIN}"]\nauth = "off"\n[registrar]\nmax_expires = 3600\n'
    server = Herald(args.herald, data_dir, config)
    try:
        before = server.rss_kib()
        ok, failed, _ = sipp("register_uac.xml", server.tcp_port, 5000, args.bindings, data_dir,
                             ("-inf", "users.csv", "-t", "t1"))
        time.sleep(1)
        after = server.rss_kib()
        per = (after - before) * 1024 / max(ok, 1)
        print(f"  {ok} new bindings ({failed} failed): RSS {before} KiB -> {after} KiB, "
              f"{per:.0f} bytes per binding", flush=True)
        return (ok, before, after, per)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def bench_register(args, rates, results):
    for mode in ("off", "required"):
        data_dir = tempfile.mkdtemp(prefix=f"herald-bench-{mode}-")
        add_users(args.herald, data_dir)
        config = (f'domains = ["{DOMAIN}"]\nauth = "{mode}"\nauth_algorithms = ["MD5", "SHA-256"]\n'
                  "[registrar]\nmax_expires = 3600\n")
        server = Herald(args.herald, data_dir, config)
        try:
            print(f"REGISTER, auth {mode}:", flush=True)
            if mode == "off":
                results["REGISTER (auth off)"] = step_rates("REGISTER", "register_uac.xml", server.port, rates,
                                                            args.seconds, data_dir)
                results["memory"] = measure_bindings(args)
            else:
                # SIPp 3.6 cannot take per-call credentials from an injection file ([field]
                # inside [authentication] is mangled): one account, each call a full
                # REGISTER / 401 / REGISTER with credentials / 200 cycle.
                results["REGISTER (digest)"] = step_rates(
                    "REGISTER+401+REGISTER", "register_auth_uac.xml", server.port, rates, args.seconds,
                    data_dir, ("-s", "u0", "-au", "u0", "-ap", "pw0", "-auth_uri", DOMAIN, "-set", "domain", DOMAIN))
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


def register_contact(port, user, password, contact):
    """REGISTERs `contact` for user@DOMAIN with tests/integration/ua.py (digest when challenged)."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from ua import UA  # noqa: E402 -- the integration tests' user agent
    agent = UA(argparse.Namespace(host="127.0.0.1", port=port), user, DOMAIN, password=password)
    try:
        r = agent.register(expires=3600, contact=contact)
        if r is None or r.status != 200:
            sys.exit(f"could not register {contact} for {user}@{DOMAIN}: {r}")
    finally:
        agent.close()


def bench_message(args, rates, results):
    """MESSAGE relayed by Herald from a SIPp sender to a SIPp recipient whose contact is
    registered for the user `uas`; auth off, then every MESSAGE challenged (407) and sent
    again with credentials of the local user `sender`."""
    for mode in ("off", "required"):
        data_dir = tempfile.mkdtemp(prefix=f"herald-bench-message-{mode}-")
        for user in ("uas", "sender"):
            subprocess.run([args.herald, "user", "add", f"{user}@{DOMAIN}", "--password", "pw", "--data-dir",
                            data_dir], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        config = (f'domains = ["{DOMAIN}"]\nauth = "{mode}"\nauth_algorithms = ["MD5", "SHA-256"]\n'
                  "[registrar]\nmax_expires = 3600\n")
        server = Herald(args.herald, data_dir, config)
        uas = None
        try:
            uas_port = free_port()
            register_contact(server.port, "uas", "pw", f"sip:uas@127.0.0.1:{uas_port}")
            uas = subprocess.Popen(["sipp", "-sf", os.path.join(SCENARIOS, "message_uas.xml"), "-i", "127.0.0.1",
                                    "-p", str(uas_port), "-nostdin", "-max_recv_loops", "10000",
                                    "-max_sched_loops", "10000"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data_dir)
            time.sleep(0.5)
            print(f"MESSAGE, auth {mode}:", flush=True)
            extra = ("-s", "uas", "-set", "domain", DOMAIN)
            if mode == "off":
                results["MESSAGE (auth off)"] = step_rates("MESSAGE", "message_uac.xml", server.port, rates,
                                                           args.seconds, data_dir, extra)
            else:
                results["MESSAGE (407 + credentials)"] = step_rates(
                    "MESSAGE+407+MESSAGE", "message_auth_uac.xml", server.port, rates, args.seconds, data_dir,
                    extra + ("-set", "sender", "sender", "-au", "sender", "-ap", "pw", "-auth_uri", f"uas@{DOMAIN}"))
        finally:
            if uas is not None:
                uas.terminate()
                uas.wait(timeout=10)
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


def presence_server(args, prefix):
    """A fresh server with the presentity `p` and the watcher `w` (auth off: the watchers are
    in the presentity's domain, allowed by the default policy)."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    for user in ("p", "w"):
        subprocess.run([args.herald, "user", "add", f"{user}@{DOMAIN}", "--password", "pw", "--data-dir", data_dir],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = (f'domains = ["{DOMAIN}"]\nauth = "off"\n[presence]\nsubscribe_max_expires = 3600\n'
              "publish_max_expires = 3600\n")
    return data_dir, Herald(args.herald, data_dir, config)


PRESENCE_SET = ("-s", "p", "-set", "domain", DOMAIN)


def measure_subscriptions(args):
    """Bytes per subscription in a fresh server: args.subscriptions subscriptions over TCP
    (transactions end at once), each kept after its first NOTIFY was answered."""
    data_dir, server = presence_server(args, "herald-bench-subscriptions-")
    try:
        before = server.rss_kib()
        ok, failed, _ = sipp("subscribe_hold_uac.xml", server.tcp_port, 5000, args.subscriptions, data_dir,
                             PRESENCE_SET + ("-set", "watcher", "w", "-set", "expires", "3600", "-t", "t1"))
        time.sleep(1)
        after = server.rss_kib()
        per = (after - before) * 1024 / max(ok, 1)
        print(f"  {ok} subscriptions ({failed} failed): RSS {before} KiB -> {after} KiB, "
              f"{per:.0f} bytes per subscription", flush=True)
        return (ok, before, after, per)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def publish_once(port, note):
    """One PUBLISH for p@DOMAIN from tests/integration/ua.py; returns the final response."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    from ua import UA  # noqa: E402 -- the integration tests' user agent
    agent = UA(argparse.Namespace(host="127.0.0.1", port=port), "p", DOMAIN)
    try:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" '
                f'entity="sip:p@{DOMAIN}"><tuple id="bench"><status><basic>open</basic></status>'
                f"<note>{note}</note></tuple></presence>\n")
        agent.request("PUBLISH", f"sip:p@{DOMAIN}", headers=["Event: presence", "Expires: 600"], body=body,
                      content_type="application/pidf+xml")
        return agent.recv_response(timeout=10, final=True, method="PUBLISH")
    finally:
        agent.close()


def bench_fanout(args, watchers):
    """One PUBLISH to a presentity with `watchers` SIPp watchers (one SIPp process, UDP): the
    NOTIFYs answered per second, from the PUBLISH until the last watcher has answered."""
    data_dir, server = presence_server(args, "herald-bench-fanout-")
    proc = None
    try:
        rate = 2000
        proc = subprocess.Popen(["sipp", "-sf", os.path.join(SCENARIOS, "fanout_watcher_uac.xml"), "-r", str(rate),
                                 "-m", str(watchers), "-l", str(watchers + 100), "-i", "127.0.0.1", "-p", "0",
                                 "-nostdin", "-timeout", "300s", "-max_recv_loops", "10000", "-max_sched_loops",
                                 "10000", *PRESENCE_SET, "-set", "watcher", "w", "-set", "expires", "3600",
                                 f"127.0.0.1:{server.port}"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=data_dir)
        time.sleep(watchers / rate + 5)  # every watcher subscribed and told the first state
        start = time.time()
        r = publish_once(server.port, f"fan-out to {watchers}")
        if r is None or r.status != 200:
            sys.exit(f"PUBLISH for the fan-out failed: {r}")
        out, _ = proc.communicate(timeout=300)
        elapsed = time.time() - start
        ok = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", out)
        bad = re.search(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", out)
        told = int(ok.group(1)) if ok else 0
        print(f"  fan-out to {watchers}: {told} watchers told ({bad.group(1) if bad else '?'} failed) in "
              f"{elapsed:.2f} s after the PUBLISH: {told / elapsed:.0f} NOTIFY/s", flush=True)
        return (told, elapsed)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def bench_presence(args, rates, results):
    data_dir, server = presence_server(args, "herald-bench-presence-")
    try:
        print("SUBSCRIBE (subscribe, NOTIFY, un-subscribe, NOTIFY):", flush=True)
        results["SUBSCRIBE cycle"] = step_rates("SUBSCRIBE", "subscribe_uac.xml", server.port, rates, args.seconds,
                                                data_dir, PRESENCE_SET + ("-set", "watcher", "w"))
        print("PUBLISH (initial, refresh, remove):", flush=True)
        results["PUBLISH cycle"] = step_rates("PUBLISH", "publish_uac.xml", server.port, rates, args.seconds,
                                              data_dir, PRESENCE_SET)
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    for n in (int(x) for x in args.fanout.split(",")):
        results[f"fan-out {n}"] = bench_fanout(args, n)
    results["subscription memory"] = measure_subscriptions(args)


SCENARIO_SETS = {"register": bench_register, "message": bench_message, "presence": bench_presence}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--herald", default=os.path.join(ROOT, "build", "release", "src", "app", "herald"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rates", default="1000,2000,3000,4000,6000,8000,12000,16000")
    ap.add_argument("--bindings", type=int, default=100000)
    ap.add_argument("--subscriptions", type=int, default=100000)
    ap.add_argument("--fanout", default="1000,10000", help="watcher counts for the fan-out runs")
    ap.add_argument("--scenarios", default="register,message,presence",
                    help="comma-separated: register (REGISTER/s, bytes per binding), message (MESSAGE/s), "
                         "presence (SUBSCRIBE/s, PUBLISH/s, fan-out, bytes per subscription)")
    args = ap.parse_args()
    if not shutil.which("sipp"):
        sys.exit("sipp is not installed (package sip-tester)")
    rates = [int(r) for r in args.rates.split(",")]
    results = {}
    for name in args.scenarios.split(","):
        SCENARIO_SETS[name](args, rates, results)
    print("\nhighest rate with < 0.1 % failures:")
    for k, v in results.items():
        if k not in ("memory", "subscription memory") and not k.startswith("fan-out"):
            print(f"  {k}: {v if v else 'below the lowest step'} calls/s")


if __name__ == "__main__":
    main()
