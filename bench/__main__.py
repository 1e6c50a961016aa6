"""Run the benchmarks and print figures as a table and as JSON.

    python3 -m bench                      # every scenario on a topology it starts itself
    python3 -m bench --only latency,throughput
    python3 -m bench --targets http://a:8000,http://b:8000 --redis redis://r:6379 --worker-pid 1234
    python3 -m bench --only versus --sample-dir /path/to/sample-server   # or CINTEL_BENCH_SAMPLE_DIR
    python3 -m bench --only storm --streams 10000

Targets started elsewhere must share TWILIO_AUTH_TOKEN=bench-auth-token and SERVER_URL=http://bench.local
(signatures are computed ahead of time for that URL).
"""

import argparse
import json
import os
import sys
import time

from . import chaos, floor, scenarios, storm, versus
from .topology import Topology, machine

ALL = ("latency", "throughput", "floor", "streams", "fanout", "memory", "chaos")
#: Not in the default run: versus needs the sample server's folder, storm takes the machine for about 2.5 minutes.
EXTRA = ("versus", "storm")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        default=",".join(ALL),
        help=f"comma-separated subset of {', '.join(ALL + EXTRA)} (default: {', '.join(ALL)})",
    )
    parser.add_argument("--targets", help="relay base URLs (default: start redis-server and two relays)")
    parser.add_argument("--redis", help="the targets' Redis URL (for connection and memory figures)")
    parser.add_argument("--worker-pid", type=int, help="pid of the first target's single worker (for RSS)")
    parser.add_argument("--seconds", type=int, default=10, help="duration of the latency and throughput runs")
    parser.add_argument(
        "--streams", type=int, help="idle streams to hold on one worker (default 19000; storm: streams on A, 10000)"
    )
    parser.add_argument(
        "--sample-dir",
        help=f"versus: the folder of Twilio's Node sample server (default: ${versus.SAMPLE_DIR_ENV})",
    )
    parser.add_argument("--rounds", type=int, default=3, help="versus: rounds of relay then sample")
    parser.add_argument(
        "--rate-cap",
        type=int,
        default=scenarios.RATE_CAP,
        help=f"throughput, versus: distinct webhooks a second signed ahead (default {scenarios.RATE_CAP}); "
        "a server faster than that gets them again, and its figures are bounded by it",
    )
    parser.add_argument("--rate", type=int, default=200, help="storm: webhooks per second while it runs")
    parser.add_argument("--events", type=int, default=100000, help="events in the memory run")
    parser.add_argument(
        "--wait-replicas",
        type=int,
        default=0,
        help="start this many Redis replicas and run with CINTEL_REDIS_WAIT_REPLICAS set to it",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(ALL + EXTRA)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}: choose from {', '.join(ALL + EXTRA)}")

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    results = {"machine": machine()}
    for name in chosen:
        progress(f"== {name}")
        started = time.monotonic()
        topology = None
        # their own processes: a cluster and relays it breaks; a bare gunicorn; the sample; a replica it kills
        if name in ("chaos", "floor"):
            run = chaos.chaos if name == "chaos" else floor.floor
            results[name] = run(seconds=args.seconds, progress=progress)
        elif name == "versus":
            results[name] = versus.versus(
                args.sample_dir, args.seconds, args.rounds, rate_cap=args.rate_cap, progress=progress
            )
        elif name == "storm":
            results[name] = storm.storm(streams=args.streams or 10000, rate=args.rate, progress=progress)
        if name in ("chaos", "floor", "versus", "storm"):
            results[name]["took_s"] = round(time.monotonic() - started, 1)
            results[name]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
            continue
        if args.targets:
            targets, redis_url, pid = args.targets.split(","), args.redis, args.worker_pid
        else:  # a fresh topology per scenario, so one scenario's memory or data does not skew the next
            progress("  starting redis-server and two single-worker relays on loopback")
            topology = Topology(
                replicas=2,
                redis_replicas=args.wait_replicas,
                CINTEL_COMPLETED_TTL=10,
                CINTEL_REDIS_WAIT_REPLICAS=args.wait_replicas,
            )
            targets, redis_url, pid = topology.urls, topology.redis.url, topology.worker_pid(0)
        meter = scenarios.CpuMeter(topology.worker_pids if topology else [[pid]] if pid else None, redis_url)
        try:
            if name == "latency":
                results[name] = scenarios.latency(targets, seconds=args.seconds, progress=progress, meter=meter)
            elif name == "throughput":
                results[name] = scenarios.throughput(
                    targets, seconds=args.seconds, rate_cap=args.rate_cap, progress=progress, meter=meter
                )
            elif not (redis_url and pid):
                progress(f"  skipped: {name} needs --redis and --worker-pid with --targets")
                continue
            elif name == "fanout":
                results[name] = scenarios.fanout(targets[0], pid, redis_url, progress=progress)
            elif name == "streams":
                count = args.streams or 19000
                results[name] = scenarios.streams(targets[0], pid, redis_url, count=count, progress=progress)
            else:
                results[name] = scenarios.memory(targets[0], pid, redis_url, events=args.events, progress=progress)
        finally:
            if topology:
                topology.close()
        results[name]["took_s"] = round(time.monotonic() - started, 1)
        results[name]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(table(results))
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


def table(results) -> str:
    rows = [f"{'scenario':<12} {'figure':<32} value", "-" * 60]
    for name in ALL + EXTRA:
        for key, value in results.get(name, {}).items():
            rows.append(f"{name:<12} {key:<32} {value}")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
