#!/usr/bin/env python3
"""Two or more Herald builds side by side at one fixed offered rate: the way a change is
measured before it lands (bench/results/*-session*.md quote its figures).

Each round runs every build in turn, fresh, on one of compare.py's scenarios, at RATE calls/s
for SECONDS; the builds alternate so that a change in the machine's load hits all of them.
Prints, per run, the calls done and failed, p50 / p99 response time, the server's user +
system CPU a call, the SIPp UAC's cores, Herald's peak RSS and the UDP receive-buffer drops
(Herald's socket, and the whole machine's RcvbufErrors); then each build's median CPU a call.
Compare medians within one invocation: this machine's load varies from hour to hour.

Example: bench/side_by_side.py register 16000 10 /tmp/old/herald build/release/src/app/herald --rounds 3
Needs what scripts/compare.sh installs (SIPp, and Kamailio's SQLite schema for the shared set-up).
"""
import argparse
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the servers, SIPp runs and scenarios of the comparison)


def udp_drops(port):
    """(drops counted on the sockets bound to port, the machine's Udp RcvbufErrors)."""
    own = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    own += int(fields[-1])
    with open("/proc/net/snmp") as f:
        udp = [line.split() for line in f if line.startswith("Udp:")]
    return own, int(dict(zip(udp[0][1:], udp[1][1:]))["RcvbufErrors"])


def run_once(binary, scenario, rate, seconds, env):
    _title, sipp_scenario, auth, extra, _ceiling = compare.SCENARIOS[scenario]
    herald = compare.Herald(binary, env["herald_template"], env["work"], auth)
    helpers = []
    try:
        if scenario == "message":
            uas = compare.SippUas("message_uas.xml", env["work"])
            helpers.append(uas)
            compare.register_uas(herald.port, uas.port)
        drops_before = udp_drops(herald.port)
        cpu_before = herald.cpu_seconds()
        ok, failed, elapsed, times, uac_cpu = compare.sipp_run(sipp_scenario, herald.port, rate, rate * seconds,
                                                               env["work"], extra)
        cpu = (herald.cpu_seconds() - cpu_before) * 1e6 / max(ok, 1)
        drops_after = udp_drops(herald.port)
    finally:
        _pss, hwm_kib = herald.stop()
        for helper in helpers:
            helper.stop()
    print(f"  {binary}: {ok} ok, {failed} failed, {elapsed:.1f} s, p50 {compare.percentile(times, 50)} ms "
          f"p99 {compare.percentile(times, 99)} ms, CPU {cpu:.1f} µs/call, SIPp UAC {uac_cpu / elapsed:.2f} core, "
          f"peak RSS {hwm_kib // 1024} MiB, drops: Herald's socket {drops_after[0] - drops_before[0]}, "
          f"RcvbufErrors {drops_after[1] - drops_before[1]}", flush=True)
    return cpu


def main():
    scenarios = [name for name in compare.SCENARIOS if name not in ("fanout", "memory")]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=scenarios)
    ap.add_argument("rate", type=int, help="offered calls a second")
    ap.add_argument("seconds", type=int, help="length of each run")
    ap.add_argument("binaries", nargs="+", help="Herald builds to compare")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each build (default 3)")
    ap.add_argument("--herald-option", dest="herald_top_config", action="append", default=[],
                    metavar="KEY=VALUE", help="a top-level option of Herald's config file for every build "
                    "(repeatable)")
    args = ap.parse_args()
    compare.ARGS = argparse.Namespace(herald=args.binaries[0], herald_top_config=args.herald_top_config)
    env = compare.prepare(compare.ARGS)
    cpu = [[] for _ in args.binaries]  # by position: the same build may be given twice (an A/A run)
    try:
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}:", flush=True)
            for index, binary in enumerate(args.binaries):
                cpu[index].append(run_once(binary, args.scenario, args.rate, args.seconds, env))
    finally:
        shutil.rmtree(env["work"], ignore_errors=True)
    for binary, runs in zip(args.binaries, cpu):
        print(f"{binary}: median CPU {statistics.median(runs):.1f} µs/call over {len(runs)} runs")


if __name__ == "__main__":
    main()
