"""The floor: what gunicorn's gevent worker costs for a request that does nothing, next to one relay replica
answering the same signed webhooks. Both get the same wrk load and the same sequential client, so the
difference is what the relay itself spends on a webhook (Flask, validation, signature, Redis)."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time

from tests.support.processes import free_port, listening, wait_for

from . import payloads
from .scenarios import CpuMeter, add_participants, percentiles, wrk_count, wrk_script
from .topology import PUBLIC_URL, TOKEN, Topology, worker_pids


def app(environ, start_response):
    """A WSGI app that reads the body and answers a small JSON 200, as a webhook would."""
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "11")])
    return [b'{"ok":true}']


def _bare_gunicorn():
    port = free_port()
    proc = subprocess.Popen(
        # -c /dev/null: not the checkout's gunicorn.conf.py, which configures the relay
        [sys.executable, "-m", "gunicorn", "-c", "/dev/null", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "bench.floor:app"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    wait_for(lambda: listening(port), what="the bare gunicorn")
    return proc, f"http://127.0.0.1:{port}"


def _saturate(target, seconds, meter, connections=32, rate_cap=6000):
    # Enough distinct requests that wrk does not repeat one (a repeat is a cheaper duplicate for the relay).
    requests = payloads.lines(50, rate_cap * seconds // 50, TOKEN, PUBLIC_URL, start=10**7)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(wrk_script(requests, target.split("//")[1]))
    try:
        meter.start()
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", fh.name, target], capture_output=True, text=True
        ).stdout
    finally:
        os.unlink(fh.name)
    sent = wrk_count(out, r"(\d+) requests in")
    non2xx = wrk_count(out, r"Non-2xx or 3xx responses: (\d+)")
    figures = meter.figures(sent - non2xx)
    return {
        "accepted_per_s": round((sent - non2xx) / seconds),
        "errors": non2xx,
        "cpu_ms_per_request": figures.get("cpu_ms_per_webhook_replica_1"),
        **(
            {"cpu_ms_per_webhook_redis": figures["cpu_ms_per_webhook_redis"]}
            if "cpu_ms_per_webhook_redis" in figures
            else {}
        ),
    }


def _round_trips(target, count=1500, pause=0.004):
    """Sequential webhooks on one keep-alive connection: each request's time to its whole response."""
    host, port = target.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    for i, r in enumerate(payloads.lines(1, count, TOKEN, PUBLIC_URL, start=2 * 10**7)):
        raw = (
            f"POST {r.path} HTTP/1.1\r\nHost: bench.local\r\nContent-Type: application/json\r\n"
            f"X-Twilio-Signature: {r.signature}\r\nContent-Length: {len(r.body)}\r\n\r\n"
        ).encode() + r.body
        started = time.perf_counter()
        sock.sendall(raw)
        got = b""
        while not got.endswith(b"}"):
            got += sock.recv(65536)
        if i >= 100:  # the first ones warm caches and connections
            times.append((time.perf_counter() - started) * 1000)
        time.sleep(pause)
    sock.close()
    return {f"round_trip_{k}": v for k, v in percentiles(times).items() if k in ("p50_ms", "p99_ms")}


def floor(seconds=10, progress=print) -> dict:
    """Bare gunicorn (gevent) and one relay replica under the same load, one after the other."""
    results = {}
    progress("  floor: a bare gunicorn gevent worker")
    proc, target = _bare_gunicorn()
    try:
        meter = CpuMeter([worker_pids(proc.pid)], None)
        results["bare_gunicorn"] = {**_saturate(target, seconds, meter), **_round_trips(target)}
    finally:
        proc.terminate()
        proc.wait()
    progress("  floor: one relay replica and redis-server")
    topology = Topology(replicas=1)
    try:
        asyncio.run(add_participants(topology.urls[0], 50))
        meter = CpuMeter(topology.worker_pids, topology.redis.url)
        results["relay"] = {**_saturate(topology.urls[0], seconds, meter), **_round_trips(topology.urls[0])}
    finally:
        topology.close()
    return results
