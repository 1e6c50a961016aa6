"""The relay against a server that is not the relay (Twilio's Node sample server), by the same harness, under
the same load, on the same machine, in one run, alternating: round after round, the relay (redis-server and two
single-worker replicas, every production check on) and then the sample's one process, each freshly started.

The sample is not part of this repository: give its folder with ``--sample-dir`` or ``CINTEL_BENCH_SAMPLE_DIR``.
It is copied to a temporary directory and installed there with ``npm ci`` for the run, then removed.

Each side gets the throughput scenario (two wrk processes of 32 connections and 50 subscribers per set, two
sets: on the relay one per replica, on the sample both on its one process, so it writes each event to two
streams as the relay's replicas do) and the latency scenario (200 webhooks/s, posted to the first target and
read on the last), with the CPU of the whole system: both replicas and Redis, or the node process.
"""

import os
import shutil
import statistics
import subprocess
import tempfile

from tests.support.processes import free_port, listening, wait_for

from . import scenarios
from .topology import Topology

SAMPLE_DIR_ENV = "CINTEL_BENCH_SAMPLE_DIR"

#: The figures compared, and which way is better (True: higher).
COMPARED = {
    "accepted_per_s": True,
    "delivered_per_s": True,
    "cpu_ms_per_webhook_total": False,
    "wrk_latency_p50_ms": False,
    "wrk_latency_p99_ms": False,
    "latency_p50_ms": False,
    "latency_p99_ms": False,
    "errors": False,
}


class Sample:
    """Twilio's Node sample server: installed once in a temporary copy, started afresh for each round."""

    def __init__(self, source: str):
        if not os.path.isfile(os.path.join(source, "index.js")) or not os.path.isfile(
            os.path.join(source, "package-lock.json")
        ):
            raise SystemExit(f"{source} is not the sample server's folder (no index.js and package-lock.json there)")
        self.source = source
        self.home = tempfile.mkdtemp(prefix="cintel-bench-sample-")
        self.proc = None
        self.url = None

    def install(self, progress=print):
        # Files one by one: the source may be read-only, and its folder's mode must not come along.
        for name in ("index.js", "package.json", "package-lock.json", "LICENSE"):
            if os.path.exists(os.path.join(self.source, name)):
                shutil.copyfile(os.path.join(self.source, name), os.path.join(self.home, name))
        progress(f"  versus: npm ci for the sample in {self.home}")
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=self.home, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"npm ci for the sample failed:\n{done.stderr[-2000:]}")
        return self

    def start(self):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SERVER_URL", "PORT"))}
        env.update(
            PORT=str(port),
            TWILIO_FLEX_PHONE_NUMBER="+18005550199",
            TWILIO_ACCOUNT_SID="AC00000000000000000000000000000001",
            TWILIO_AUTH_TOKEN="x",
            TWILIO_API_KEY="SK0",
            TWILIO_API_SECRET="x",
            SERVER_URL="http://bench.local",
        )
        # Its console.log lines go to /dev/null: it still formats every one (part of its cost, as deployed).
        self.proc = subprocess.Popen(
            ["node", "index.js"], cwd=self.home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{port}"
        wait_for(lambda: listening(port), timeout=30, what="the sample server")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def close(self):
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def _relay_round(seconds, rate_cap, progress):
    figures = {}
    for name in ("throughput", "latency"):
        topology = Topology(replicas=2, CINTEL_COMPLETED_TTL=10)
        try:
            meter = scenarios.CpuMeter(topology.worker_pids, topology.redis.url)
            if name == "throughput":
                figures[name] = scenarios.throughput(
                    topology.urls, seconds=seconds, rate_cap=rate_cap, progress=progress, meter=meter
                )
            else:
                figures[name] = scenarios.latency(topology.urls, seconds=seconds, progress=progress, meter=meter)
        finally:
            topology.close()
    return figures


def _sample_round(sample, seconds, rate_cap, progress):
    figures = {}
    for name in ("throughput", "latency"):
        sample.start()
        try:
            meter = scenarios.CpuMeter([[sample.proc.pid]], None)
            targets = [sample.url, sample.url]
            if name == "throughput":
                figures[name] = scenarios.throughput(
                    targets, seconds=seconds, rate_cap=rate_cap, progress=progress, meter=meter, ready_type="connected"
                )
            else:
                figures[name] = scenarios.latency(
                    targets, seconds=seconds, progress=progress, meter=meter, ready_type="connected"
                )
        finally:
            sample.stop()
    return figures


def _flat(figures):
    """The compared figures of one side's round."""
    throughput, latency = figures["throughput"], figures["latency"]
    return {
        "accepted_per_s": throughput["accepted_per_s"],
        "delivered_per_s": throughput["delivered_per_s"],
        "all_delivered": throughput["all_delivered"],
        "repeated": throughput["repeated"],
        # the load's own CPU on the shared cores (subscribers and wrk): the server had the rest
        "harness_cores": round(throughput["harness_cores_subscribers"] + throughput["harness_cores_wrk"], 2),
        "cpu_ms_per_webhook_total": throughput.get("cpu_ms_per_webhook_total"),
        "wrk_latency_p50_ms": throughput["wrk_latency_p50_ms"],
        "wrk_latency_p99_ms": throughput["wrk_latency_p99_ms"],
        "latency_p50_ms": latency.get("p50_ms"),
        "latency_p99_ms": latency.get("p99_ms"),
        "latency_lost": latency["lost"],
        "errors": throughput["errors"] + latency["errors"],
    }


def ratios(relay: dict, sample: dict) -> dict:
    """Relay / sample for each compared figure (None where the sample's is 0 or missing)."""
    out = {}
    for key in COMPARED:
        a, b = relay.get(key), sample.get(key)
        out[key] = round(a / b, 2) if a is not None and b else None
    return out


def versus(sample_dir=None, seconds=10, rounds=3, rate_cap=scenarios.RATE_CAP, progress=print) -> dict:
    """Rounds of relay then sample; each round's figures and ratios, and the medians over the rounds."""
    sample_dir = sample_dir or os.environ.get(SAMPLE_DIR_ENV)
    if not sample_dir:
        raise SystemExit(f"versus needs the sample server's folder: --sample-dir DIR or {SAMPLE_DIR_ENV}=DIR")
    sample = Sample(sample_dir).install(progress)
    results = {"seconds": seconds, "rate_cap": rate_cap, "rounds": []}
    try:
        for n in range(rounds):
            progress(f"  versus: round {n + 1}/{rounds}: the relay (redis-server and two single-worker replicas)")
            relay = _flat(_relay_round(seconds, rate_cap, progress))
            progress(f"  versus: round {n + 1}/{rounds}: the sample (one node process)")
            theirs = _flat(_sample_round(sample, seconds, rate_cap, progress))
            results["rounds"].append({"relay": relay, "sample": theirs, "relay_over_sample": ratios(relay, theirs)})
            progress(f"  versus: round {n + 1}: relay/sample {results['rounds'][-1]['relay_over_sample']}")
    finally:
        sample.close()
    for side in ("relay", "sample", "relay_over_sample"):
        results[f"median_{side}"] = {
            key: _median([r[side].get(key) for r in results["rounds"]]) for key in COMPARED if key != "errors"
        }
    for side in ("relay", "sample"):
        results[f"{side}_errors"] = sum(r[side]["errors"] for r in results["rounds"])
    results["relay_all_delivered"] = all(r["relay"]["all_delivered"] for r in results["rounds"])
    # a side that ran past the distinct webhooks signed was held back by the cap, not by its own speed
    results["rounds_bounded_by_the_cap"] = sum(
        1 for r in results["rounds"] if r["relay"]["repeated"] or r["sample"]["repeated"]
    )
    return results


def _median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None
