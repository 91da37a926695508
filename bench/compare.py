#!/usr/bin/env python3
"""Herald and Kamailio side by side, on this machine, over loopback (issues 7 and 27): for
each scenario the highest rate each side sustains for --seconds with fewer than 0.1 % failed
calls, found by stepping the offered rate up (doubling, then bisecting; a bounded number of
steps), the sides measured in turn at every step (Herald w1, Herald w2, Kamailio w2, Kamailio
w4, SIPp, Herald w1, …) so that a change in the machine's load hits all of them; each
side's CPU per call, p50 / p99 of the call's response time at that rate and peak memory, the
ratios issue 27 sets goals for, and SIPp's own ceiling (the same UAC against a SIPp UAS that
does no work). Writes a Markdown report and a gnuplot PNG chart under bench/results/.

    bench/compare.py [--herald-workers 1,2] [--kamailio-variants w2,w4]
                     [--scenarios options,register,register-refresh,register-auth,message,subscribe,
                                  publish,fanout,memory]
                     [--seconds 10] [--quick] [--max-rate 64000] [--start-rate 1000]
                     [--watchers 1000] [--publishes 20] [--fanout-rounds 2] [--no-ceiling] [--fresh]
                     [--max-p99 500] [--memory-count 100000]
                     [--out bench/results] [--keep]

Scenarios (bench/sipp): options (OPTIONS to the server), register (REGISTER, auth off: each
call adds a contact for one of 1,000 users, so AORs gather 100 and more bindings and every 200
lists them), register-refresh (REGISTER, auth off: each call refreshes the one binding of one
of 1,000 users, as phones do), register-auth (REGISTER / 401 / REGISTER with MD5 credentials / 200), message (MESSAGE from
a SIPp UAC relayed to a second SIPp instance registered as the recipient, auth off),
subscribe (SUBSCRIBE, 200, NOTIFY answered, un-SUBSCRIBE, 200, final NOTIFY answered),
publish (PUBLISH with PIDF, refresh, removal), fanout (--watchers SIPp watchers subscribed
to one presentity, then --publishes PUBLISHes sent back to back, every NOTIFY answered:
watchers x PUBLISHes per second until every watcher has the last state, and the NOTIFYs sent;
its SIPp ceiling is the NOTIFYs per second those watchers answer from a SIPp UAS that sends
them every update in a row),
memory (bytes per binding and per subscription: --memory-count REGISTERs, then as many held
SUBSCRIBEs, each into a fresh server over one TCP connection, memory before and after).

Sides: Herald, build/release's binary, once per --herald-workers count (`workers = N` in its
config; a count the binary refuses at start, as builds before one event loop per core refuse
2, is reported "n/a: this build refuses workers = N" and the run goes on without it); Kamailio
once per --kamailio-variants name: w2 is bench/kamailio/kamailio.cfg (children = tcp_children
= 2, the cores), w4 is kamailio-w4.cfg, Kamailio as presence deployments usually run it:
usrloc and presence in memory, 4 workers per transport (w2 keeps its state in memory too; the
two differ only in workers). bench/kamailio/README.md has every setting. No figure here is a
pass/fail criterion."""

import argparse
import datetime
import glob
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIPP_DIR = os.path.join(ROOT, "bench", "sipp")
KAM_DIR = os.path.join(ROOT, "bench", "kamailio")
# Kamailio's variants (--kamailio-variants): name -> (config file, worker processes per transport)
KAM_VARIANTS = {
    "w2": ("kamailio.cfg", 2),     # one worker per core: the reference of every run before issue 27
    "w4": ("kamailio-w4.cfg", 4),  # as presence deployments usually run it
}
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "bench", "kamailio"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import sipp_bench  # noqa: E402 -- free ports, the users file, REGISTER of a contact
from make_db import make_db  # noqa: E402
from ua import UA  # noqa: E402 -- the integration tests' user agent

DOMAIN = sipp_bench.DOMAIN
USERS = sipp_bench.USERS
KAM_SHM_MB = 2048
KAM_PKG_MB = 16


def log(*a):
    print(*a, flush=True)


def free_port_both():
    """A port free on 127.0.0.1 for UDP and TCP alike."""
    for _ in range(100):
        port = sipp_bench.free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


# -- memory -------------------------------------------------------------------------------

def group_pids(pgid):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getpgid(int(d)) == pgid:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(rf"{field}:\s+(\d+)", f.read())
            return int(m.group(1)) if m else 0
    except OSError:
        return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            m = re.search(r"^Pss:\s+(\d+)", f.read(), re.M)
            return int(m.group(1)) if m else 0
    except OSError:
        return 0


class Server:
    """A server started in a process group of its own; its memory read when it stops: the sum
    over its processes of the proportional set size (shared memory counted once) and of each
    process's VmHWM (shared pages counted in every process touching them). The PSS is not
    sampled while SIPp runs: reading smaps_rollup walks every page table under the process's
    memory-map lock, and each sample held Herald's loop 11 ms (its heap grows under load,
    which needs that lock; Kamailio's shared memory is mapped once at start)."""
    name = "?"

    def __init__(self):
        self.proc = None
        self.peak_pss = 0

    def hwm_kib(self):
        return sum(status_kib(p, "VmHWM") for p in group_pids(self.proc.pid))

    def pss_now_kib(self):
        return sum(pss_kib(p) for p in group_pids(self.proc.pid))

    def cpu_seconds(self):
        """User + system CPU time so far of the server's processes (all of Kamailio's)."""
        return sum(cpu_seconds(p) for p in group_pids(self.proc.pid))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Returns (peak PSS sum, VmHWM sum) in KiB."""
        if self.proc is None:
            return (0, 0)
        self.peak_pss = max(self.peak_pss, sum(pss_kib(p) for p in group_pids(self.proc.pid)))
        hwm = self.hwm_kib()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # children of the group that outlive the leader
        for p in group_pids(self.proc.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        self.proc = None
        return (self.peak_pss, hwm)


def knows_option(binary, name):
    """Whether a herald binary reads the config option `name` (its name is in the binary)."""
    with open(binary, "rb") as f:
        return name.encode() in f.read()


class Herald(Server):
    """Herald serving with `workers` event loops. With check=False a start that fails is left
    to the caller (see herald_refusal); otherwise it ends the run."""
    name = "Herald"

    def __init__(self, binary, template_dir, work, auth, workers=1, check=True):
        super().__init__()
        self.data_dir = os.path.join(work, f"herald-{time.time_ns()}")
        shutil.copytree(template_dir, self.data_dir)
        self.port = free_port_both()
        self.tcp_port = self.port
        config = os.path.join(self.data_dir, "herald.toml")
        with open(config, "w") as f:
            f.write(f'domains = ["{DOMAIN}"]\nauth = "{"required" if auth else "off"}"\n'
                    'auth_algorithms = ["MD5", "SHA-256"]\n'
                    f'workers = {workers}\n')
            if ARGS is not None:  # top-level options come before the first table
                f.write("".join(f"{line}\n" for line in ARGS.herald_top_config))
            f.write("[registrar]\nmax_expires = 3600\n"
                    "[presence]\nsubscribe_max_expires = 3600\npublish_max_expires = 3600\n")
            # The PUBLISH and SUBSCRIBE scenarios keep hundreds of publications of one presentity
            # and subscriptions of one watcher alive at once; the default caps (8 publications a
            # presentity, the oldest making way; 200 subscriptions a watcher, 1,000 watchers a
            # presentity) would refuse them. Builds older than the caps do not know the options.
            if knows_option(binary, "max_publications"):
                f.write("max_publications = 1000\nmax_watchers = 1000000\nmax_subscriptions_per_watcher = 1000000\n")
        self.log = open(os.path.join(self.data_dir, "herald.log"), "w")
        self.proc = subprocess.Popen([binary, "serve", "--config", config, "--data-dir", self.data_dir,
                                      "--listen", f"udp:127.0.0.1:{self.port}", "--listen",
                                      f"tcp:127.0.0.1:{self.port}", "--log-level", "warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(0.7)
        if check and not self.alive():
            sys.exit(f"herald did not start: see {self.log.name}")


def herald_refusal(binary, template_dir, work, workers):
    """None when `binary` serves with `workers` event loops; otherwise the config error it
    stopped with when the error names the option (a build that does not take that many yet).
    Any other failure to start ends the run, as a Herald that does not start always has."""
    server = Herald(binary, template_dir, work, False, workers=workers, check=False)
    if server.alive():
        server.stop()
        return None
    server.proc.wait()
    with open(server.log.name) as f:
        text = f.read()
    server.proc = None
    if not re.search(r"\bworkers\b", text):
        sys.exit(f"herald did not start with workers = {workers}: see {server.log.name}")
    return text.strip().splitlines()[-1]


class Kamailio(Server):
    """Kamailio with one of bench/kamailio's configs (KAM_VARIANTS)."""
    name = "Kamailio"

    def __init__(self, db_template, work, auth, cfg="kamailio.cfg"):
        super().__init__()
        self.dir = os.path.join(work, f"kamailio-{time.time_ns()}")
        os.makedirs(self.dir)
        db = os.path.join(self.dir, "kamailio.sqlite")
        shutil.copy(db_template, db)
        self.port = free_port_both()
        self.tcp_port = self.port
        self.log = open(os.path.join(self.dir, "kamailio.log"), "w")
        self.proc = subprocess.Popen(["kamailio", "-f", os.path.join(KAM_DIR, cfg), "-DD", "-E", "-m", str(KAM_SHM_MB), "-M",
                                      str(KAM_PKG_MB), "-Y", self.dir, "--substdef", f"!KAM_PORT!{self.port}!",
                                      "--substdef", f"!KAM_DOMAIN!{DOMAIN}!", "--substdef", f"!KAM_DB!{db}!",
                                      *(["-A", "WITH_AUTH"] if auth else [])],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(1.5)
        if not self.alive():
            sys.exit(f"kamailio did not start: see {self.log.name}")


class Variant:
    """One server setting measured as a side of its own: Herald with a number of event loops,
    or Kamailio with one of its configs. `start(auth)` starts a fresh server; `na` says why
    the side is skipped (the build refuses the setting), None when it runs."""

    def __init__(self, key, label, kind, start, setting, na=None):
        self.key, self.label, self.kind, self.start, self.setting, self.na = key, label, kind, start, setting, na


def variants(args, env):
    """The sides of this run, in the order each step measures them: Herald at each
    --herald-workers count, then Kamailio's --kamailio-variants."""
    work = env["work"]
    sides = []
    for workers in args.herald_workers:
        refusal = herald_refusal(args.herald, env["herald_template"], work, workers)
        if refusal:
            log(f"Herald w{workers}: skipped, the build refuses workers = {workers}: {refusal}")
        sides.append(Variant(f"herald-w{workers}", f"Herald w{workers}", "herald",
                             lambda auth, w=workers: Herald(args.herald, env["herald_template"], work, auth,
                                                            workers=w),
                             f"`workers = {workers}`",
                             f"n/a: this build refuses workers = {workers}" if refusal else None))
    for name in args.kamailio_variants:
        cfg, workers = KAM_VARIANTS[name]
        sides.append(Variant(f"kamailio-{name}", f"Kamailio {name}", "kamailio",
                             lambda auth, c=cfg: Kamailio(env["kam_db"], work, auth, cfg=c),
                             f"`{cfg}`, children = tcp_children = {workers}"))
    return sides


class SippUas(Server):
    """A SIPp UAS (the ceiling's target, or the MESSAGE recipient)."""
    name = "SIPp UAS"

    def __init__(self, scenario, work, port=None, extra=()):
        super().__init__()
        self.port = port or free_port_both()
        self.tcp_port = self.port
        self.proc = subprocess.Popen(["sipp", "-sf", os.path.join(SIPP_DIR, scenario), "-i", "127.0.0.1", "-p",
                                      str(self.port), "-nostdin", "-max_recv_loops", "10000",
                                      "-max_sched_loops", "10000", "-buff_size", str(4 << 20), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work,
                                     start_new_session=True)
        time.sleep(0.4)


# -- SIPp runs ----------------------------------------------------------------------------

def rtd_copy(scenario, work):
    """A copy of the scenario with a response-time counter from the first request sent to the
    last message received (the whole call: one transaction for OPTIONS, REGISTER, MESSAGE;
    the 401 round too for REGISTER with digest; all four for the SUBSCRIBE cycle)."""
    path = os.path.join(work, "rtd_" + scenario)
    if not os.path.exists(path):
        with open(os.path.join(SIPP_DIR, scenario)) as f:
            text = f.read()
        text = re.sub(r"<send( |>)", r'<send start_rtd="1"\1', text, count=1)
        last = text.rfind("<recv ")
        text = text[:last] + '<recv rtd="1" ' + text[last + len("<recv "):]
        with open(path, "w") as f:
            f.write(text)
    return path


def sipp_run(scenario, port, rate, calls, work, extra):
    """SIPp UAC: (successful, failed, elapsed s, [response times ms], the UAC's own CPU s)."""
    path = rtd_copy(scenario, work)
    for old in glob.glob(os.path.join(work, "rtd_*_rtt.csv")):
        os.remove(old)
    start = time.time()
    with tempfile.TemporaryFile(mode="w+", dir=work) as screen:
        proc = subprocess.Popen(["sipp", "-sf", path, "-r", str(rate), "-m", str(calls), "-l",
                                 str(max(rate, 100) * 4), "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout",
                                 f"{calls // max(rate, 1) + 30}s", "-recv_timeout", "10000", "-max_recv_loops",
                                 "10000", "-max_sched_loops", "10000", "-buff_size", str(4 << 20), "-trace_rtt",
                                 "-rtt_freq", "100", *extra, f"127.0.0.1:{port}"],
                                stdout=screen, stderr=subprocess.DEVNULL, cwd=work)
        # wait4: the UAC's own user + system time, so that a step shows when the load
        # generator, not the server, runs out of core
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        uac_cpu = usage.ru_utime + usage.ru_stime
        screen.seek(0)
        stdout = screen.read()
    elapsed = time.time() - start
    ok = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", stdout)
    bad = re.search(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", stdout)
    times = []
    for csv in glob.glob(os.path.join(work, "rtd_*_rtt.csv")):
        with open(csv) as f:
            for line in f:
                parts = line.strip().split(";")
                if len(parts) >= 2:
                    try:
                        times.append(float(parts[1]))
                    except ValueError:
                        pass
        os.remove(csv)
    return (int(ok.group(1)) if ok else 0, int(bad.group(1)) if bad else calls, elapsed, times, uac_cpu)


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Search:
    """The highest sustained rate for one side: doubling from the start rate until a step
    fails, then bisecting between the best good and the lowest bad rate until they are
    within 10 % or the steps run out."""

    def __init__(self, name, start, max_rate, max_steps):
        self.name, self.rate, self.max_rate, self.steps_left = name, start, max_rate, max_steps
        self.good, self.bad, self.best = 0, None, None  # best: (rate, p50, p99, ok, failed, CPU µs/call)
        self.done = False

    def record(self, rate, sustained, result):
        self.steps_left -= 1
        if sustained:
            self.good = rate
            self.best = (rate, *result)
        else:
            self.bad = rate if self.bad is None else min(self.bad, rate)
        if self.bad is None:
            nxt = rate * 2
            if nxt > self.max_rate:
                self.done = True
        else:
            if self.bad - self.good <= max(0.1 * max(self.good, 1), 25):
                self.done = True
            nxt = (self.good + self.bad) // 2 if self.good else self.bad // 2
            if nxt < 10:
                self.done = True
        if self.steps_left <= 0:
            self.done = True
        self.rate = nxt


class Side:
    """One side of a comparison: a factory that starts its server (and helpers) and gives the
    port to aim SIPp at. Kept running for the whole scenario, or with --fresh started anew for
    every step so that no step inherits the state (bindings, queues, stored messages) an
    earlier, overloaded step left behind. Tracks the peak memory of its main server."""

    def __init__(self, name, factory, fresh):
        self.name, self.factory, self.fresh = name, factory, fresh
        self.running = None  # (port, main server, helpers)
        self.mem = (0, 0)

    def port(self, rate):
        if self.running is None:
            self.running = self.factory(rate)
        return self.running[0]

    def stop(self):
        if self.running is None:
            return
        _, main, helpers = self.running
        m = main.stop()
        self.mem = (max(self.mem[0], m[0]), max(self.mem[1], m[1]))
        for h in helpers:
            h.stop()
        self.running = None

    def step_done(self):
        if self.fresh:
            self.stop()


def step_search(label, sides, scenario, extra, args, work):
    """sides: [Side] searched in turn at every step (Herald w1, Herald w2, Kamailio w2, Kamailio
    w4, SIPp, then again), so that a change in the machine's load hits all of them.
    Returns {side: best or None}."""
    searches = {side.name: Search(side.name, args.start_rate, args.max_rate, args.max_steps) for side in sides}
    by_name = {side.name: side for side in sides}
    while not all(s.done for s in searches.values()):
        for name, s in searches.items():
            if s.done:
                continue
            rate = s.rate
            calls = rate * args.seconds
            port = by_name[name].port(rate)
            server = by_name[name].running[1]
            cpu_before = server.cpu_seconds()
            ok, failed, elapsed, times, uac_cpu = sipp_run(scenario, port, rate, calls, work, extra)
            uac_cores = uac_cpu / elapsed if elapsed else None
            cpu_us = (server.cpu_seconds() - cpu_before) * 1e6 / ok if ok else None
            by_name[name].step_done()
            total = ok + failed
            p50, p99 = percentile(times, 50), percentile(times, 99)
            sustained = (total > 0 and ok >= calls * 0.999 and failed / max(total, 1) < 0.001
                         and elapsed <= args.seconds * 1.15 + 2
                         and (args.max_p99 <= 0 or (p99 is not None and p99 <= args.max_p99)))
            log(f"  {label} {name:15} {rate:>6}/s: {ok} ok, {failed} failed, {elapsed:.1f} s, "
                f"p50 {fmt_ms(p50)} p99 {fmt_ms(p99)}, CPU {fmt_us(cpu_us)}/call, SIPp UAC {fmt_cores(uac_cores)}"
                f"{'' if sustained else '  (not sustained)'}")
            s.record(rate, sustained, (p50, p99, ok, failed, cpu_us, uac_cores))
    return {name: s.best for name, s in searches.items()}


def fmt_cores(v):
    return "-" if v is None else f"{v:.2f} core"


def fmt_us(v):
    return "-" if v is None else f"{v:.0f} µs"


def fmt_ms(v):
    if v is None:
        return "-"
    return "<1 ms" if v < 1 else (f"{v:.1f} ms" if v < 10 else f"{v:.0f} ms")


# -- scenarios ----------------------------------------------------------------------------

def users_extra():
    return ("-inf", "users.csv")


SCENARIOS = {
    # name: (title, UAC scenario, auth, extra SIPp args, ceiling UAS scenario or None)
    "options": ("OPTIONS", "options_uac.xml", False, (), "ceiling_options_uas.xml"),
    "register": ("REGISTER (auth off)", "register_uac.xml", False, ("-inf", "users.csv"),
                 "ceiling_register_list_uas.xml"),
    "register-refresh": ("REGISTER refresh (auth off)", "register_refresh_uac.xml", False, ("-inf", "users.csv"),
                         "ceiling_register_uas.xml"),
    "register-auth": ("REGISTER (digest, 401 + retry)", "register_auth_uac.xml", True,
                      ("-s", "u0", "-au", "u0", "-ap", "pw0", "-auth_uri", DOMAIN, "-set", "domain", DOMAIN),
                      "ceiling_register_auth_uas.xml"),
    "message": ("MESSAGE relayed (auth off)", "message_uac.xml", False, ("-s", "uas", "-set", "domain", DOMAIN),
                "message_uas.xml"),
    "subscribe": ("SUBSCRIBE cycle (4 transactions)", "subscribe_uac.xml", False,
                  ("-s", "p", "-set", "domain", DOMAIN, "-set", "watcher", "w"), "ceiling_subscribe_uas.xml"),
    "publish": ("PUBLISH cycle (3 transactions)", "publish_uac.xml", False, ("-s", "p", "-set", "domain", DOMAIN),
                "ceiling_publish_uas.xml"),
}


def register_contact_list(rate, seconds):
    """The Contact value of the register ceiling's 200: as many contacts as an AOR holds on
    average over a step of register_uac.xml at `rate` (each call adds one to one of USERS
    AORs, so from none to rate x seconds / USERS), spelled as the servers list them."""
    n = max(1, round(rate * seconds / USERS / 2))
    return ", ".join(f"<sip:u0-{i}@127.0.0.1:5060>;expires=3600" for i in range(n))


def register_uas(port, uas_port):
    agent = UA(argparse.Namespace(host="127.0.0.1", port=port), "uas", DOMAIN, password="pw")
    try:
        r = agent.register(expires=3600, contact=f"sip:uas@127.0.0.1:{uas_port}")
        if r is None or r.status != 200:
            sys.exit(f"could not register the MESSAGE recipient at port {port}: {r}")
    finally:
        agent.close()


def run_rate_scenario(key, args, env):
    title, scenario, auth, extra, ceiling = SCENARIOS[key]
    work = env["work"]
    log(f"{title}:")

    def server_side(make):
        def start(_rate):
            server = make()
            helpers = []
            if key == "message":  # the recipient: a SIPp UAS registered at this server
                uas = SippUas("message_uas.xml", work)
                helpers.append(uas)
                register_uas(server.port, uas.port)
            return (server.port, server, helpers)
        return start

    def ceiling_side(rate):
        extra = ()
        if ceiling == "ceiling_register_list_uas.xml":
            extra = ("-set", "contacts", register_contact_list(rate, args.seconds))
        c = SippUas(ceiling, work, extra=extra)
        return (c.port, c, [])

    sides = [Side(v.label, server_side(lambda v=v: v.start(auth)), args.fresh) for v in env["sides"] if not v.na]
    if ceiling and not args.no_ceiling:
        # the contact list depends on the step's rate: that UAS is started for each step
        sides.append(Side("SIPp", ceiling_side, args.fresh or ceiling == "ceiling_register_list_uas.xml"))
    try:
        best = step_search(key, sides, scenario, extra, args, work)
    finally:
        for side in sides:
            side.stop()
    by_label = {side.name: side for side in sides}
    measured = [v for v in env["sides"] if not v.na]
    return {"title": title, "sides": {v.key: best.get(v.label) for v in measured},
            "mem": {v.key: by_label[v.label].mem for v in measured},
            "ceiling": best.get("SIPp"), "ceiling_note": None if ceiling else "no SIPp UAS for this scenario"}


def fanout_once(server, args, work, watchers, publishes):
    """Watchers subscribe (SIPp, one process), then `publishes` PUBLISHes back to back over
    TCP; returns (NOTIFYs answered, watchers told, failed, seconds from the first PUBLISH to
    the last watcher told, [PUBLISH response times ms])."""
    proc = fanout_watchers(server.port, work, watchers)
    try:
        time.sleep(watchers / fanout_subscribe_rate(watchers) + 3)
        agent = UA(argparse.Namespace(host="127.0.0.1", port=server.tcp_port), "p", DOMAIN, transport="tcp")
        times = []
        etag = None
        cpu_before = server.cpu_seconds()
        start = time.time()
        try:
            for i in range(publishes):
                note = "final-state" if i == publishes - 1 else f"state {i}"
                body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="urn:ietf:params:xml:ns:pidf" '
                        f'entity="sip:p@{DOMAIN}"><tuple id="bench"><status><basic>open</basic></status>'
                        f"<note>{note}</note></tuple></presence>\n")
                headers = ["Event: presence", "Expires: 600"] + ([f"SIP-If-Match: {etag}"] if etag else [])
                t0 = time.time()
                agent.request("PUBLISH", f"sip:p@{DOMAIN}", headers=headers, body=body,
                              content_type="application/pidf+xml")
                r = agent.recv_response(timeout=60, final=True, method="PUBLISH")
                times.append((time.time() - t0) * 1000)
                if r is None or r.status != 200:
                    log(f"    PUBLISH {i} failed: {r.status if r else 'no answer'}")
                    break
                etag = r.get("SIP-ETag") or etag
        finally:
            agent.close()
        out, _ = proc.communicate(timeout=300)
        elapsed = time.time() - start
        cpu = server.cpu_seconds() - cpu_before
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    notifies, told, failed = fanout_counts(out, watchers)
    return (notifies, told, failed, elapsed, times, cpu)


def fanout_subscribe_rate(watchers):
    return min(1000, watchers)


def fanout_watchers(port, work, watchers):
    """The fan-out's watchers: one SIPp UAC subscribing `watchers` calls to p, each answering
    every NOTIFY until the final state."""
    return subprocess.Popen(["sipp", "-sf", os.path.join(SIPP_DIR, "fanout_series_watcher_uac.xml"), "-r",
                             str(fanout_subscribe_rate(watchers)), "-m", str(watchers), "-l", str(watchers + 100),
                             "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "300s", "-max_recv_loops",
                             "10000", "-max_sched_loops", "10000", "-buff_size", str(8 << 20), "-s", "p", "-set",
                             "domain", DOMAIN, "-set", "watcher", "w", "-set", "expires", "3600",
                             f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work,
                            start_new_session=True)


def fanout_counts(out, watchers):
    """(NOTIFYs answered after each subscription's first, watchers told the final state,
    failed) from the watchers' final screen."""
    ok = re.search(r"Successful call\s+\|\s+\d+\s+\|\s+(\d+)", out)
    bad = re.search(r"Failed call\s+\|\s+\d+\s+\|\s+(\d+)", out)
    # the screen's per-message counters: the NOTIFY lines of the scenario (first NOTIFY and the loop)
    notifies = 0
    for m in re.finditer(r"^\s*NOTIFY\s+<----------\s+(\d+)", out, re.M):
        notifies += int(m.group(1))
    told = int(ok.group(1)) if ok else 0
    failed = int(bad.group(1)) if bad else watchers
    # the subscription's first NOTIFY came before the series
    return (max(notifies - watchers, 0), told, failed)


def fanout_ceiling_once(work, watchers, publishes):
    """The same watchers against a SIPp UAS (ceiling_fanout_uas.xml) that sends each of them
    `publishes` NOTIFYs in a row, from one instant on, without composing or merging anything:
    (NOTIFYs answered after the first, watchers told, failed, seconds from the first watcher's
    series start to the last one's end by the UAS's clock)."""
    log_file = os.path.join(work, f"ceiling-fanout-{time.time_ns()}.log")
    started_ms = 400  # the UAS's start below
    lead_ms = started_ms + int(1000 * watchers / fanout_subscribe_rate(watchers)) + 2000
    uas = SippUas("ceiling_fanout_uas.xml", work,
                  extra=("-set", "series", str(publishes), "-set", "lead", str(lead_ms), "-trace_logs",
                         "-log_file", log_file))
    try:
        proc = fanout_watchers(uas.port, work, watchers)
        try:
            out, _ = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    finally:
        uas.stop()
    notifies, told, failed = fanout_counts(out, watchers)
    with open(log_file) as f:
        text = f.read()
    starts = [int(x) for x in re.findall(r"^start (\d+)", text, re.M)]
    ends = [int(x) for x in re.findall(r"^end (\d+)", text, re.M)]
    elapsed = (max(ends) - min(starts)) / 1000 if starts and ends else 0
    return (notifies, told, failed, elapsed)


def run_fanout(args, env):
    work = env["work"]
    title = f"fan-out: {args.watchers} watchers x {args.publishes} PUBLISHes"
    log(f"{title}:")
    result = {"title": title, "ceiling_note": "not measured (--no-ceiling)"}
    measured = [v for v in env["sides"] if not v.na]
    best = {}
    mem = {v.key: (0, 0) for v in measured}
    ceiling = None
    for rnd in range(args.fanout_rounds):
        if not args.no_ceiling:
            notifies, told, failed, elapsed = fanout_ceiling_once(work, args.watchers, args.publishes)
            rate = int(notifies / elapsed) if elapsed else 0
            log(f"  fanout SIPp UAS  round {rnd + 1}: {notifies} NOTIFYs answered after the first, {told} watchers "
                f"told the final state, {failed} failed, in {elapsed:.2f} s: {rate} NOTIFY/s")
            if failed == 0 and told == args.watchers and (ceiling is None or rate > ceiling[0]):
                ceiling = (rate, notifies, elapsed)
        for v in measured:
            server = v.start(False)
            try:
                notifies, told, failed, elapsed, times, cpu = fanout_once(server, args, work, args.watchers,
                                                                          args.publishes)
            finally:
                m = server.stop()
                mem[v.key] = (max(mem[v.key][0], m[0]), max(mem[v.key][1], m[1]))
            rate = int(args.watchers * args.publishes / elapsed) if elapsed else 0
            log(f"  fanout {v.label:15} round {rnd + 1}: {notifies} NOTIFYs answered after the first PUBLISH, {told} "
                f"watchers told the final state, {failed} failed, in {elapsed:.2f} s: {rate} updates/s, "
                f"{int(notifies / elapsed) if elapsed else 0} NOTIFY/s, CPU {cpu:.2f} s; PUBLISH "
                f"p50 {fmt_ms(percentile(times, 50))} p99 {fmt_ms(percentile(times, 99))}")
            if failed == 0 and told == args.watchers and (v.key not in best or rate > best[v.key][0][0]):
                cpu_us = cpu * 1e6 / (args.watchers * args.publishes)
                best[v.key] = ((rate, percentile(times, 50), percentile(times, 99), told, failed, cpu_us),
                               (notifies, told, failed, elapsed))
    result["sides"] = {v.key: best[v.key][0] if v.key in best else None for v in measured}
    result["detail"] = {v.key: best[v.key][1] if v.key in best else None for v in measured}
    result["mem"] = mem
    # SIPp's own ceiling is in NOTIFY/s (every update one NOTIFY); the rate ceiling column,
    # in updates/s, stays empty, and the report sets each side's NOTIFY/s against it
    result["ceiling"] = None
    result["notify_ceiling"] = ceiling
    if ceiling is None and not args.no_ceiling:
        result["ceiling_note"] = "SIPp UAS run failed"
    return result


MEMORY_KINDS = (
    # (what, UAC scenario, SIPp arguments): each call leaves one binding / one subscription behind
    ("binding", "register_uac.xml", ("-inf", "users.csv")),
    ("subscription", "subscribe_hold_uac.xml",
     ("-s", "p", "-set", "domain", DOMAIN, "-set", "watcher", "w", "-set", "expires", "3600")),
)


def memory_once(server, scenario, extra, count, work):
    """`count` calls of `scenario` into a fresh `server` over one TCP connection (transactions
    end with their final response there, so what remains is what the calls left behind);
    returns (calls done, KiB before, KiB after): the sum of the server's processes' PSS, so
    Kamailio's shared memory counts once and only where it was touched."""
    time.sleep(1.0)
    before = server.pss_now_kib()
    ok, failed, _, _, _ = sipp_run(scenario, server.tcp_port, 5000, count, work, extra + ("-t", "t1"))
    time.sleep(6.0)  # Kamailio keeps a completed transaction 5 s (tm wt_timer), even over TCP
    after = server.pss_now_kib()
    if failed:
        log(f"    {failed} calls failed")
    return ok, before, after


def run_memory(args, env):
    """Bytes per binding and per subscription at --memory-count of each, every side (fresh
    servers, interleaved)."""
    work = env["work"]
    n = args.memory_count
    log(f"memory: {n} bindings, {n} subscriptions:")
    rows = []
    for what, scenario, extra in MEMORY_KINDS:
        row = {"what": what, "count": n}
        for v in env["sides"]:
            if v.na:
                continue
            server = v.start(False)
            try:
                ok, before, after = memory_once(server, scenario, extra, n, work)
            finally:
                server.stop()
            per = (after - before) * 1024 / ok if ok else None
            row[v.key] = (ok, before, after, per)
            log(f"  {what:12} {v.label:15}: {ok} done, {before} KiB -> {after} KiB, "
                f"{per:.0f} bytes per {what}" if per is not None else f"  {what} {v.label}: no call done")
        rows.append(row)
    return {"title": f"memory at {n}", "kind": "memory", "rows": rows}


# -- report -------------------------------------------------------------------------------

def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        if m:
            cpu = m.group(1).strip()
    def first_line(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    sipp_v = "?"
    try:
        out = subprocess.run(["sipp", "-v"], capture_output=True, text=True, timeout=10)
        m = re.search(r"SIPp v[^\s,]+", out.stdout + out.stderr)
        sipp_v = m.group(0) if m else "?"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "herald": first_line([ARGS.herald, "--version"]), "kamailio": first_line(["kamailio", "-v"]),
            "sipp": sipp_v}


def mib(kib):
    return f"{kib / 1024:.0f} MiB" if kib else "-"


def quotient(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def cpu_of(best):
    """CPU µs per call of a side's best step, or None."""
    return best[5] if best and len(best) > 5 else None


def uac_of(best):
    return f"{best[6]:.2f}" if best and len(best) > 6 and best[6] is not None else "-"


# Issue 27's goals: Herald's CPU per call with two event loops within 10 % of one; Herald's
# (the better of its sides) at most a third of Kamailio's as deployments run it
WORKERS_GOAL = 1.10
KAMAILIO_GOAL = 1 / 3


def with_goal(value, goal):
    if value is None:
        return "-"
    return f"{value:.2f} ({'goal met' if value <= goal else 'goal missed'})"


def scenario_rows(key, r, sides):
    """The main table's rows of one rate or fan-out scenario: one per side, then SIPp's ceiling."""
    fanout = key == "fanout"
    title = f"{r['title']} ({'updates/s' if fanout else 'calls/s'})"
    c, nc = r.get("ceiling"), r.get("notify_ceiling")
    rows = []
    for i, v in enumerate(sides):
        scenario = title if i == 0 else ""
        if v.na:
            rows.append(f"| {scenario} | {v.label} | {v.na} | | | | | |")
            continue
        b = r["sides"].get(v.key)
        pss, hwm = r["mem"].get(v.key, (0, 0))
        if fanout:  # the side's NOTIFYs sent per second against SIPp's NOTIFY/s
            d = r["detail"].get(v.key)
            of_ceiling = f"{d[0] / d[3] / nc[0]:.2f} (NOTIFY/s)" if d and d[3] and nc and nc[0] else "-"
        else:
            of_ceiling = quotient(b[0] if b else None, c[0] if c else None)
        rows.append(f"| {scenario} | {v.label} | {b[0] if b else 'below lowest step'} | {fmt_us(cpu_of(b))} | "
                    f"{fmt_ms(b[1]) if b else '-'} / {fmt_ms(b[2]) if b else '-'} | {mib(pss)} ({mib(hwm)}) | "
                    f"{of_ceiling} | {uac_of(b)} |")
    if fanout:
        ceil = f"{nc[0]} NOTIFY/s" if nc else (r.get("ceiling_note") or "not found")
        rows.append(f"| | SIPp ceiling | {ceil} | | | | | |")
    else:
        ceil = c[0] if c else (r.get("ceiling_note") or "not found")
        latency = f"{fmt_ms(c[1])} / {fmt_ms(c[2])}" if c else ""
        rows.append(f"| | SIPp ceiling | {ceil} | | {latency} | | | {uac_of(c)} |")
    return rows


def ratio_columns(sides):
    """(header, cell(result)) for the ratios table: Herald's first side against Kamailio's first
    (the columns of the reports before issue 27: rate H/K and per core K/H), each further Herald
    side's CPU per call against the first's, and the better Herald side's CPU per call against
    Kamailio w4's (issue 27's goals). A ratio with a side that did not run reads n/a."""
    heralds = [v for v in sides if v.kind == "herald"]
    kams = [v for v in sides if v.kind == "kamailio"]

    def best(r, v):
        return None if v.na else r["sides"].get(v.key)

    def na_or(v, w, value):
        return "n/a" if v.na or w.na else value

    def best_herald(r):
        measured = [(cpu_of(best(r, h)), h.label) for h in heralds if cpu_of(best(r, h))]
        return min(measured) if measured else (None, None)

    columns = []
    if heralds and kams:
        h0, k0 = heralds[0], kams[0]
        columns.append((f"rate {h0.label} / {k0.label}",
                        lambda r: na_or(h0, k0, quotient(best(r, h0)[0] if best(r, h0) else None,
                                                         best(r, k0)[0] if best(r, k0) else None))))
        columns.append((f"per core K/H: CPU per call {k0.label} / {h0.label}",
                        lambda r: na_or(h0, k0, quotient(cpu_of(best(r, k0)), cpu_of(best(r, h0))))))
    for h in heralds[1:]:
        def scaling(r, h=h, h0=heralds[0]):
            a, b = cpu_of(best(r, h)), cpu_of(best(r, h0))
            return na_or(h, h0, with_goal(a / b if a and b else None, WORKERS_GOAL))
        columns.append((f"CPU per call {h.label} / {heralds[0].label} (goal <= {WORKERS_GOAL:.2f})", scaling))
    for k in kams:
        if k.key != "kamailio-w4":
            continue

        def against(r, k=k):
            cpu, label = best_herald(r)
            kcpu = cpu_of(best(r, k))
            if not cpu or not kcpu:
                return "-"
            return f"{with_goal(cpu / kcpu, KAMAILIO_GOAL)}, {label}"
        columns.append((f"CPU per call best Herald / {k.label} (goal <= 1/3)", against))
    return columns


def write_report(results, args, mach, started, sides):
    os.makedirs(args.out, exist_ok=True)
    stamp = started.strftime("%Y-%m-%d-%H%M")
    suffix = "-quick" if args.quick else ""
    base = os.path.join(args.out, f"{stamp}-compare{suffix}")
    heralds = [v for v in sides if v.kind == "herald"]
    kams = [v for v in sides if v.kind == "kamailio"]
    rated = {key: r for key, r in results.items() if r.get("kind") != "memory"}
    rows = []
    for key, r in rated.items():
        rows += scenario_rows(key, r, sides)
    columns = ratio_columns(sides)
    lines = [f"# Herald vs Kamailio, {started.strftime('%Y-%m-%d %H:%M UTC')}{' (--quick smoke run)' if args.quick else ''}",
             "",
             f"`bench/compare.py {' '.join(sys.argv[1:])}` ({'quick: ' if args.quick else ''}{args.seconds} s per step, "
             f"at most {args.max_steps} steps per side, start {args.start_rate}/s, doubling then bisecting; "
             "sustained = every call done within the step (+15 %), fewer than 0.1 % failed"
             + (f", p99 at most {args.max_p99:g} ms; " if args.max_p99 > 0 else "; ")
             + ("every server started anew for every step (--fresh))." if args.fresh else
                "each server started once per scenario and kept across its steps)."),
             "",
             "| machine | |", "| --- | --- |",
             f"| cores (nproc) | {mach['nproc']} |", f"| CPU | {mach['cpu']} |", f"| kernel | {mach['kernel']} |",
             f"| Herald | {mach['herald']} (build/release; "
             + "; ".join(f"{v.label}: {v.setting}" + (f" ({v.na})" if v.na else "") for v in heralds) + ") |",
             f"| Kamailio | {mach['kamailio']} ("
             + "; ".join(f"{v.label}: {v.setting}" for v in kams) + f"; -m {KAM_SHM_MB} -M {KAM_PKG_MB}) |",
             f"| SIPp | {mach['sipp']} |",
             ""]
    if rated:
        lines += ["| scenario | side | rate | CPU per call | p50 / p99 | peak PSS (sum of VmHWM) | rate / SIPp ceiling | "
                  "SIPp UAC cores |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |",
                  *rows,
                  ""]
        if columns:
            lines += ["| scenario | " + " | ".join(header for header, _ in columns) + " |",
                      "| --- |" + " --- |" * len(columns),
                      *(f"| {r['title']} | " + " | ".join(cell(r) for _, cell in columns) + " |"
                        for r in rated.values()),
                      ""]
        lines += [
             "- Sides, measured in turn at every step (" + ", ".join(v.label for v in sides) + ", SIPp): "
             + "; ".join(f"{v.label}, {v.setting}" for v in sides) + ". "
             "A side marked n/a was not run: the binary stopped at start with a config error on that setting "
             "(the same run takes it once the build accepts it). Both Kamailio configs keep bindings, "
             "subscriptions and presentities in memory (usrloc `db_mode 0`, presence `subs_db_mode 0`, "
             "`publ_cache 2`) and read SQLite on the request path only for digest credentials (auth_db); "
             "they differ only in worker processes per transport, 2 (w2) and 4 (w4) "
             "(bench/kamailio/README.md).",
             "- Rates: the highest offered rate sustained (calls/s; a call is the scenario's whole exchange). "
             "p50 / p99: the call's response time at that rate, from its first request sent to its last "
             "message received (SIPp response-time counter, `-trace_rtt`).",
             "- CPU per call: the server's user + system CPU time during the sustained step (all of its "
             "threads; all of Kamailio's processes), divided by the calls done. Ratios: rate H/K and per core "
             "K/H set the first Herald side against the first Kamailio side, as the single pair of the "
             "reports before issue 27 did (per core K/H: how many more calls Herald serves per core-second "
             "at that load); each further Herald side's CPU per call is set against the first's (goal: "
             f"at most {WORKERS_GOAL:.2f}); best Herald (the Herald side with the lower CPU per call) is set against "
             "Kamailio w4's (goal: at most 1/3). Each side's figure is at its own highest sustained rate; "
             "n/a: a side of the ratio did not run.",
             "- Memory: the summed proportional set size of the side's processes at the end of each step "
             "(shared memory counted once; not sampled during the step, which stalls the measured process) "
             "and, in brackets, the sum of each process's VmHWM (shared pages counted in every process; "
             "Herald is one process, so this is its peak RSS). Peaks over the whole scenario (all its steps).",
             "- SIPp ceiling: the same UAC against a SIPp UAS that answers without work "
             "(`bench/sipp/ceiling_*_uas.xml`; SIPp's built-in `-sn uas` serves only INVITE calls). "
             "Where a side's rate / SIPp ceiling nears 1, SIPp is the limit, not the server. "
             "REGISTER (auth off)'s UAS (`ceiling_register_list_uas.xml`) answers each REGISTER with a 200 "
             "listing as many contacts as the step's average AOR holds (rate x seconds / 1,000 users / 2), "
             "as the servers' 200s do; it is started anew for each step.",
             f"- SIPp shares the machine's {mach['nproc']} cores with every side. SIPp UAC cores: the UAC's own "
             "user + system CPU time over the step's length, at each side's sustained step (and at the "
             "ceiling's). Near 1, the load generator has used up its core: a higher rate would measure SIPp, "
             "whatever the server.",
             "- Fan-out: presence updates delivered per second, watchers x PUBLISHes / the time from the "
             "first PUBLISH until every watcher had answered the NOTIFY with the last state (PUBLISHes "
             "sent back to back over TCP, each after the previous 200; every NOTIFY answered). A notifier "
             "that merges states while a NOTIFY is outstanding (Herald: one outstanding per subscription, "
             "newest state wins, as RFC 6665 allows) sends fewer NOTIFYs: the NOTIFYs actually sent are "
             "below. p50 / p99 there are the PUBLISH response times; CPU per call is per update. Best of the "
             "rounds per side. Its SIPp ceiling is in NOTIFY/s: the same watchers against a SIPp UAS "
             "(`bench/sipp/ceiling_fanout_uas.xml`) that, from one instant on, sends each of them as many "
             "NOTIFYs in a row as there are PUBLISHes, each after the 200 of the one before, composing "
             "and merging nothing (the series timed by that UAS's clock); rate / SIPp ceiling sets "
             "each side's NOTIFYs sent per second against it.",
             "- REGISTER (auth off) uses register_uac.xml as bench/sipp_bench.py does: every call adds a new "
             "contact for one of 1,000 users, so bindings accumulate over the steps on every server and each "
             "200 lists all of the AOR's contacts; a later step meets more state than an earlier one. "
             "REGISTER refresh (register_refresh_uac.xml) is a registrar's usual load instead: each call "
             "refreshes the one binding of one of 1,000 users (a new Call-ID each time), so every 200 "
             "lists one contact.",
             ""]
    if "memory" in results:
        measured = [v for v in sides if not v.na]
        ref = measured[0] if measured else None
        lines += ["| memory | side | calls done | bytes each | / " + (ref.label if ref else "-") +
                  " | KiB before -> after |", "| --- | --- | --- | --- | --- | --- |"]
        for row in results["memory"]["rows"]:
            base_per = row.get(ref.key)[3] if ref and row.get(ref.key) else None
            for i, v in enumerate(sides):
                what = f"{row['count']} {row['what']}s" if i == 0 else ""
                x = None if v.na else row.get(v.key)
                if v.na:
                    lines.append(f"| {what} | {v.label} | {v.na} | | | |")
                    continue
                per = x[3] if x else None
                lines.append(f"| {what} | {v.label} | {x[0] if x else 0} | {f'{per:.0f}' if per is not None else '-'} | "
                             f"{quotient(per, base_per)} | {x[1] if x else '-'} -> {x[2] if x else '-'} |")
        lines += ["",
                  "- Memory per binding / subscription: the growth of the summed PSS of the server's processes "
                  "(Herald: one; Kamailio: all, its shared memory counted once and only where touched) over "
                  "the calls, each server fresh, over one TCP connection so that no transaction outlives "
                  "its final response; divided by the calls done. Bindings: each REGISTER adds a contact for "
                  "one of 1,000 users; subscriptions: each SUBSCRIBE from w to p is kept (Expires 3600) after "
                  "its first NOTIFY was answered. Herald's figure includes SQLite's page cache.",
                  ""]
    if "fanout" in results:
        r = results["fanout"]
        for v in sides:
            d = r["detail"].get(v.key)
            if d:
                lines.append(f"- fan-out, {v.label} (best round): {d[0]} NOTIFYs answered after the first PUBLISH "
                             f"({int(d[0] / d[3]) if d[3] else 0} NOTIFY/s), {d[1]} watchers told the final state, "
                             f"{d[2]} failed, {d[3]:.2f} s from the first PUBLISH to the last watcher told.")
        nc = r.get("notify_ceiling")
        if nc:
            lines.append(f"- fan-out, SIPp UAS (best round): {nc[1]} NOTIFYs answered after the first "
                         f"({nc[0]} NOTIFY/s) in {nc[2]:.2f} s.")
        lines.append("")
    if rated:
        lines.append(f"Chart: `{os.path.basename(base)}.png`.")
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    chart(results, base, args, sides)
    log(f"\nwrote {base}.md" + (f" and {base}.png" if os.path.exists(base + ".png") else ""))
    return base


# bar colours by kind, one shade per side of that kind in order
COLOURS = {"herald": ("#1f77b4", "#aec7e8", "#17becf", "#9edae5"),
           "kamailio": ("#d62728", "#ff9896", "#e377c2", "#f7b6d2")}


def chart(results, base, args, sides):
    """Clustered bars, one per side that ran (and SIPp's ceiling): the rate scenarios (calls/s)
    on the left, the fan-out (updates/s, another scale) on the right."""
    measured = [v for v in sides if not v.na]
    rates = base + ".rates.dat"
    fan = base + ".fanout.dat"
    with open(rates, "w") as f, open(fan, "w") as g:
        for key, r in results.items():
            if r.get("kind") == "memory":
                continue
            vals = [r["sides"].get(v.key) for v in measured] + [r.get("ceiling")]
            (g if key == "fanout" else f).write(f"\"{key}\" " + " ".join(str(x[0] if x else 0) for x in vals) + "\n")
    has_rates = any(k not in ("fanout", "memory") for k in results)
    has_fan = "fanout" in results
    if not has_rates and not has_fan:  # memory alone: a table, no chart
        os.remove(rates)
        os.remove(fan)
        return
    common = """set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set offsets 0,0,graph 0.15,0
set grid ytics
set xtics nomirror
"""
    def plot(data, with_ceiling):
        bars, shade = [], {"herald": 0, "kamailio": 0}
        for i, v in enumerate(measured):
            colour = COLOURS[v.kind][shade[v.kind] % len(COLOURS[v.kind])]
            shade[v.kind] += 1
            source = f'"{data}" using {i + 2}:xtic(1)' if i == 0 else f"'' using {i + 2}"
            bars.append(f'{source} title "{v.label}" lc rgb "{colour}"')
        if with_ceiling:
            bars.append(f"'' using {len(measured) + 2} title \"SIPp ceiling\" lc rgb \"#7f7f7f\"")
        return "plot " + ", ".join(bars) + "\n"
    skipped = "".join(f"; {v.label}: n/a" for v in sides if v.na)
    script = f"""set terminal pngcairo size 1200,600 noenhanced font ",10"
set output "{base}.png"
set multiplot title "Herald vs Kamailio on {os.cpu_count()} cores: highest sustained rate ({'--quick smoke run' if args.quick else f'{args.seconds} s steps'}){skipped}"
"""
    if has_rates:
        script += (f"set origin 0,0\nset size {0.75 if has_fan else 1},0.95\n" + common +
                   'set ylabel "calls/s"\nset key top right\n' + plot(rates, True))
    if has_fan:
        script += (f"set origin {0.75 if has_rates else 0},0\nset size {0.25 if has_rates else 1},0.95\n" + common +
                   'set ylabel "presence updates delivered/s"\nset key top right\n' + plot(fan, False))
    script += "unset multiplot\n"
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"gnuplot failed: {e} {getattr(e, 'stderr', '')}")
    for path in (rates, fan):
        os.remove(path)


# -- main ---------------------------------------------------------------------------------

def prepare(args):
    work = tempfile.mkdtemp(prefix="herald-compare-")
    herald_template = os.path.join(work, "herald-template")
    os.makedirs(herald_template)
    sipp_bench.add_users(args.herald, herald_template)  # u0..u999 and users.csv
    for user in ("uas", "sender", "p", "w"):
        subprocess.run([args.herald, "user", "add", f"{user}@{DOMAIN}", "--password", "pw", "--data-dir",
                        herald_template], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.copy(os.path.join(herald_template, "users.csv"), os.path.join(work, "users.csv"))
    os.remove(os.path.join(herald_template, "users.csv"))
    kam_db = os.path.join(work, "kamailio-template.sqlite")
    make_db(kam_db, DOMAIN, [(f"u{i}", f"pw{i}") for i in range(USERS)] +
            [(u, "pw") for u in ("uas", "sender", "p", "w")])
    return {"work": work, "herald_template": herald_template, "kam_db": kam_db}


ARGS = None


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--herald", default=os.path.join(ROOT, "build", "release", "src", "app", "herald"))
    ap.add_argument("--herald-option", dest="herald_top_config", action="append", default=[],
                    metavar="KEY=VALUE", help="a top-level option of Herald's config file, e.g. "
                    "'store_thread = false' (repeatable)")
    ap.add_argument("--herald-workers", default="1,2", metavar="N,N…",
                    help="Herald's sides: one per `workers` count (default 1,2); a count the build refuses "
                    "at start is reported n/a")
    ap.add_argument("--kamailio-variants", default=",".join(KAM_VARIANTS), metavar="NAME,NAME…",
                    help="Kamailio's sides (default w2,w4): w2 = bench/kamailio/kamailio.cfg, 2 workers "
                    "per transport; w4 = kamailio-w4.cfg, 4; both keep bindings, subscriptions and "
                    "presentities in memory (bench/kamailio/README.md)")
    ap.add_argument("--scenarios", default="options,register,register-refresh,register-auth,message,subscribe,publish,fanout,memory")
    ap.add_argument("--seconds", type=int, default=None, help="length of each rate step (default 10; --quick 3)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 3 s steps, at most 4 steps per side, "
                    "start 500/s, 200 watchers x 5 PUBLISHes, one fan-out round")
    ap.add_argument("--start-rate", type=int, default=None)
    ap.add_argument("--max-rate", type=int, default=64000)
    ap.add_argument("--max-steps", type=int, default=None,
                    help="rate steps per side and scenario (default 12: enough to double from 1000/s past "
                         "32,000/s and bisect to within 10 %%; --quick 4)")
    ap.add_argument("--watchers", type=int, default=None)
    ap.add_argument("--publishes", type=int, default=None)
    ap.add_argument("--fanout-rounds", type=int, default=None, help="fan-out runs per side, the best kept "
                    "(default 2; --quick 1)")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the SIPp ceiling runs")
    ap.add_argument("--fresh", action="store_true", help="start every server anew for every rate step (no step "
                    "inherits an earlier step's state; memory is then the peak of single steps)")
    ap.add_argument("--max-p99", type=float, default=500.0,
                    help="a step is sustained only with p99 at most this many ms (default 500: SIPp's first "
                    "retransmission, T1); 0 turns the rule off")
    ap.add_argument("--memory-count", type=int, default=None,
                    help="bindings and subscriptions for the memory scenario (default 100000; --quick 10000)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = ap.parse_args()
    try:
        args.herald_workers = [int(n) for n in args.herald_workers.split(",") if n]
    except ValueError:
        ap.error(f"--herald-workers: not a list of numbers: {args.herald_workers}")
    if any(n < 1 for n in args.herald_workers):
        ap.error("--herald-workers: each count must be at least 1")
    args.kamailio_variants = [name for name in args.kamailio_variants.split(",") if name]
    for name in args.kamailio_variants:
        if name not in KAM_VARIANTS:
            ap.error(f"--kamailio-variants: unknown variant {name} (known: {', '.join(KAM_VARIANTS)})")
    if not args.herald_workers and not args.kamailio_variants:
        ap.error("no side to measure")
    q = args.quick
    args.seconds = args.seconds or (3 if q else 10)
    args.start_rate = args.start_rate or (500 if q else 1000)
    args.max_steps = args.max_steps or (4 if q else 12)
    args.watchers = args.watchers or (200 if q else 1000)
    args.publishes = args.publishes or (5 if q else 20)
    args.fanout_rounds = args.fanout_rounds or (1 if q else 2)
    args.memory_count = args.memory_count or (10000 if q else 100000)
    ARGS = args
    for tool in ("sipp", "kamailio", "gnuplot"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (scripts/compare.sh installs it)")
    if not os.access(args.herald, os.X_OK):
        sys.exit(f"no herald binary at {args.herald} (scripts/compare.sh builds it)")
    started = datetime.datetime.now(datetime.timezone.utc)
    mach = machine()
    env = prepare(args)
    results = {}
    try:
        env["sides"] = variants(args, env)
        for key in args.scenarios.split(","):
            if key == "fanout":
                results[key] = run_fanout(args, env)
            elif key == "memory":
                results[key] = run_memory(args, env)
            elif key in SCENARIOS:
                results[key] = run_rate_scenario(key, args, env)
            else:
                sys.exit(f"unknown scenario {key}")
    finally:
        if results:
            write_report(results, args, mach, started, env["sides"])
        if args.keep:
            log(f"kept {env['work']}")
        else:
            shutil.rmtree(env["work"], ignore_errors=True)


if __name__ == "__main__":
    main()
