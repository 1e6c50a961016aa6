"""The measurements. Each returns a dict of figures; none asserts anything."""

import asyncio
import os
import re
import resource
import shutil
import statistics
import tempfile
import time

import redis

from cintel_relay.bus.keys import channel
from cintel_relay.streams import sse

from . import payloads
from .client import SSE, Poster, close_all
from .topology import PUBLIC_URL, TOKEN, cpu_seconds, rss_kib


class CpuMeter:
    """CPU spent by each replica's workers and by Redis between :meth:`start` and :meth:`figures`, with
    Redis's per-command counts (``INFO commandstats``): what one webhook costs the whole system."""

    def __init__(self, replica_pids, redis_url):
        self._pids = replica_pids or []
        self._redis = redis.Redis.from_url(redis_url) if redis_url else None

    def _redis_cpu(self):
        info = self._redis.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    def start(self):
        self._cpu = [sum(cpu_seconds(p) for p in pids) for pids in self._pids]
        if self._redis:
            self._redis.config_resetstat()
            self._redis_start = self._redis_cpu()
        return self

    def figures(self, webhooks: int) -> dict:
        """CPU per webhook in ms: each replica, Redis, and all of them; Redis calls per webhook by command."""
        if not webhooks:
            return {}
        out = {}
        replicas = [sum(cpu_seconds(p) for p in pids) - before for pids, before in zip(self._pids, self._cpu)]
        for n, used in enumerate(replicas):
            out[f"cpu_ms_per_webhook_replica_{n + 1}"] = round(1000 * used / webhooks, 3)
        total = sum(replicas)
        if self._redis:
            used = self._redis_cpu() - self._redis_start
            total += used
            out["cpu_ms_per_webhook_redis"] = round(1000 * used / webhooks, 3)
            stats = self._redis.info("commandstats")
            calls = {k[len("cmdstat_") :]: v["calls"] for k, v in stats.items()}
            out["redis_calls_per_webhook"] = {
                k: round(v / webhooks, 2) for k, v in sorted(calls.items()) if v / webhooks >= 0.01
            }
            out["redis_webhooks_per_core_s"] = round(webhooks / used) if used else None
        if self._pids:
            out["cpu_ms_per_webhook_total"] = round(1000 * total / webhooks, 3)
        return out


class _HarnessCpu:
    """What the load itself costs the machine it shares with the measured server: this process (the subscribers,
    which parse every event) and the wrk processes it has waited for, in cores over the run's wall time."""

    def __init__(self):
        self._wall, self._own = time.perf_counter(), time.process_time()
        self._children = self._children_cpu()

    @staticmethod
    def _children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def figures(self) -> dict:
        wall = time.perf_counter() - self._wall
        return {
            "harness_cores_subscribers": round((time.process_time() - self._own) / wall, 2),
            "harness_cores_wrk": round((self._children_cpu() - self._children) / wall, 2),
        }


def percentiles(values_ms):
    values = sorted(values_ms)
    if not values:
        return {}
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.50), 3),
        "p90_ms": round(pick(0.90), 3),
        "p99_ms": round(pick(0.99), 3),
        "max_ms": round(values[-1], 3),
        "mean_ms": round(statistics.fmean(values), 3),
    }


async def add_participants(target, calls):
    """Start the calls as Twilio does: participants first, which also maps each conversation to its call."""
    poster = Poster(target)
    statuses = [await poster.post(payloads.participant(c, TOKEN, PUBLIC_URL)) for c in range(calls)]
    if set(statuses) != {200}:
        raise RuntimeError(f"the relay refused participants: {sorted(set(statuses))}; check TOKEN and SERVER_URL")


async def _open_streams(target, sessions, on_event=None, batch=500, ready_type="initial"):
    streams = [SSE(target, s, on_event, ready_type) for s in sessions]
    tasks = []
    for i in range(0, len(streams), batch):
        chunk = streams[i : i + batch]
        await asyncio.gather(*(s.open() for s in chunk))
        tasks += [asyncio.ensure_future(s.run()) for s in chunk]
        await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in chunk)), 60)
    return streams, tasks


def latency(targets, rate=200, calls=50, seconds=10, progress=print, meter=None, ready_type="initial"):
    """Webhook posted to the first replica -> event read by a subscriber on the last one."""
    meter = meter or CpuMeter(None, None)

    async def run():
        sent, latencies = {}, []

        def on_event(data, now):
            key = payloads.parse_text(data["data"]["text"])
            if key in sent:
                latencies.append((now - sent.pop(key)) * 1000)

        await add_participants(targets[0], calls)
        streams, tasks = await _open_streams(
            targets[-1], [payloads.call_sid(c) for c in range(calls)], on_event, ready_type=ready_type
        )
        total = int(rate * seconds)
        requests = payloads.lines(calls, total // calls + 1, TOKEN, PUBLIC_URL)[:total]
        posters = [Poster(targets[0]) for _ in range(8)]
        errors = 0
        meter.start()
        start = time.perf_counter()

        async def send(i, request):
            nonlocal errors
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            poster = posters[i % len(posters)]
            key = (i % calls, i // calls)
            sent[key] = time.perf_counter()
            if await poster.post(request) != 200:
                errors += 1
            if i % rate == 0:
                progress(f"  latency: {i}/{total} sent")

        # one sender chain per poster connection keeps each connection's requests in order
        async def chain(k):
            for i in range(k, total, len(posters)):
                await send(i, requests[i])

        await asyncio.gather(*(chain(k) for k in range(len(posters))))
        deadline = time.perf_counter() + 5
        while sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        close_all(streams, tasks)
        return {
            "rate_per_s": rate,
            "calls": calls,
            "events": total,
            "lost": len(sent),
            "errors": errors,
            **percentiles(latencies),
            **meter.figures(total - errors),
        }

    return asyncio.run(run())


def wrk_script(requests, host):
    """A wrk Lua script that sends each pre-signed request once, in order, then repeats from the start."""
    rows = []
    for r in requests:
        raw = (
            f"POST {r.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-Twilio-Signature: {r.signature}\r\nContent-Length: {len(r.body)}\r\n\r\n"
        ).encode() + r.body
        rows.append(_lua_string(raw))
    return (
        "local requests = {" + ",\n".join(rows) + "}\nlocal i = 0\n"
        "request = function() i = i + 1; if i > #requests then i = 1 end; return requests[i] end\n"
    )


def _lua_string(raw: bytes) -> str:
    """A Lua string literal for raw bytes (long brackets would turn CRLF into LF)."""
    return (
        '"'
        + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\%03d" % ord(c) for c in raw.decode("latin-1"))
        + '"'
    )


#: Distinct signed webhooks per second the throughput scenario prepares (``--rate-cap``).
RATE_CAP = 10000


def throughput(
    targets, seconds=10, calls=50, connections=32, rate_cap=RATE_CAP, progress=print, meter=None, ready_type="initial"
):
    """Saturating signed webhooks (wrk, one per replica) while subscribers on every replica count deliveries.

    ``rate_cap`` webhooks a second are signed ahead of time, each a distinct transcript line; a server faster
    than that gets them again from the start (``repeated``), and its figures are then bounded by the cap.
    ``targets`` may name one server twice: two wrk processes and two sets of subscribers on it, the same
    load a pair of replicas gets (how the sample server is measured)."""
    meter = meter or CpuMeter(None, None)
    if shutil.which("wrk") is None:
        raise SystemExit(
            "the throughput scenario drives load with wrk: install it (apt-get install -y wrk) "
            "or run the other scenarios with --only latency,streams,memory"
        )
    per_target = int(rate_cap * seconds / len(targets))
    progress(f"  throughput: signing {per_target * len(targets)} requests")
    batches, scripts = [], []
    for k, target in enumerate(targets):
        requests = payloads.lines(calls, per_target // calls, TOKEN, PUBLIC_URL, start=k * per_target)
        batches.append(requests)
        fh = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        fh.write(wrk_script(requests, target.split("//")[1]))
        fh.close()
        scripts.append(fh.name)

    async def run():
        delivered = [set() for _ in targets]

        def counter(k):
            return lambda data, now: delivered[k].add(payloads.parse_text(data["data"]["text"]))

        await add_participants(targets[0], calls)
        opened = [
            await _open_streams(t, [payloads.call_sid(c) for c in range(calls)], counter(k), ready_type=ready_type)
            for k, t in enumerate(targets)
        ]
        progress(f"  throughput: {calls} subscribers on each of {len(targets)} replicas; running wrk {seconds}s")
        meter.start()
        harness = _HarnessCpu()
        procs = [
            await asyncio.create_subprocess_exec(
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script,
                target,
                stdout=asyncio.subprocess.PIPE,
            )
            for script, target in zip(scripts, targets, strict=True)
        ]
        outputs = [(await p.communicate())[0].decode() for p in procs]
        sent = sum(wrk_count(o, r"(\d+) requests in") for o in outputs)
        non2xx = sum(wrk_count(o, r"Non-2xx or 3xx responses: (\d+)") for o in outputs)
        socket_errors = sum(
            sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", o))
            for o in outputs
            if "Socket errors" in o
        )
        unique_sent = min(sent, per_target * len(targets))
        if sent > unique_sent:
            progress(
                f"  throughput: wrk sent {sent} requests, more than the {unique_sent} distinct ones signed: "
                f"these figures are bounded by the cap of {rate_cap}/s; raise it with --rate-cap"
            )
        deadline = time.perf_counter() + 15
        while any(len(d) < unique_sent for d in delivered) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        reconnects = sum(s.reconnects for streams, _ in opened for s in streams)
        for streams, tasks in opened:
            close_all(streams, tasks)
        return {
            "seconds": seconds,
            "stream_reconnects": reconnects,
            "connections_per_replica": connections,
            "requests": sent,
            "accepted_per_s": round((sent - non2xx) / seconds),
            "errors": non2xx + socket_errors,
            "unique_events": unique_sent,
            "repeated": sent - unique_sent,
            "delivered_per_replica": [len(d) for d in delivered],
            "delivered_per_s": round(min(len(d) for d in delivered) / seconds),
            "all_delivered": all(len(d) >= unique_sent for d in delivered),
            # wrk's response times under saturating load, the worse of the wrk processes
            **{
                f"wrk_latency_{q}_ms": max(_wrk_latency_ms(o, pct) for o in outputs)
                for q, pct in (("p50", "50"), ("p99", "99"))
            },
            **meter.figures(sent - non2xx),
            **harness.figures(),
        }

    try:
        return asyncio.run(run())
    finally:
        for script in scripts:
            os.unlink(script)


def _wrk_latency_ms(output, percent):
    """One percentile of wrk's ``--latency`` distribution, in ms (0.0 when wrk printed none)."""
    match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if not match:
        return 0.0
    return round(float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)], 3)


def wrk_count(output, pattern):
    match = re.search(pattern, output)
    return int(match.group(1)) if match else 0


def _redis_connections(redis_url, pid):
    names = [c.get("name", "") for c in redis.Redis.from_url(redis_url).client_list()]
    return sum(1 for n in names if n.startswith(f"cintel-relay:{pid}"))


def streams(target, worker_pid, redis_url, count=19000, sessions=1000, progress=print):
    """Idle streams held by one worker: RSS per stream, Redis connections, one event delivered to each."""

    async def run():
        base_rss = rss_kib(worker_pid)
        got = {}

        def on_event(data, now):
            call, _ = payloads.parse_text(data["data"]["text"])
            got[call] = got.get(call, 0) + 1

        figures = {}
        held, tasks = [], []
        for step in (10, 5000, count):
            more, more_tasks = await _open_streams(
                target, [payloads.call_sid(i % sessions) for i in range(len(held), step)], on_event
            )
            held += more
            tasks += more_tasks
            figures[f"redis_connections_at_{step}"] = _redis_connections(redis_url, worker_pid)
            progress(f"  streams: {len(held)} open, worker RSS {rss_kib(worker_pid) / 1024:.0f} MiB")
        await asyncio.sleep(2)
        rss = rss_kib(worker_pid)
        posters = [Poster(target) for _ in range(16)]
        requests = [payloads.line(c, 10**6, TOKEN, PUBLIC_URL) for c in range(sessions)]  # an unused line number
        started = time.perf_counter()
        await asyncio.gather(*(_post_all(p, requests[k::16]) for k, p in enumerate(posters)))
        deadline = time.perf_counter() + 60
        while sum(got.values()) < count and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        fanout_s = time.perf_counter() - started
        close_all(held, tasks)
        figures.update(
            streams=len(held),
            worker_rss_mib=round(rss / 1024, 1),
            rss_per_stream_kib=round((rss - base_rss) / len(held), 2),
            events_delivered=sum(got.values()),
            fanout_seconds=round(fanout_s, 2),
        )
        return figures

    return asyncio.run(run())


def fanout(target, worker_pid, redis_url, calls=50, rate=4000, seconds=8, progress=print):
    """One worker's cost of fanning events out, alone: ``calls`` streams on it, and frames published straight to
    their channels (as the ingest script publishes them) at ``rate`` a second; the worker's CPU per frame."""
    client = redis.Redis.from_url(redis_url)
    sessions = [payloads.call_sid(c) for c in range(calls)]
    total = rate * seconds
    step = max(1, rate // 100)  # published every 10 ms

    def publish():
        started, stamp = time.perf_counter(), int(time.time() * 1000)
        for first in range(0, total, step):
            pipe = client.pipeline(transaction=False)
            for n in range(first, min(total, first + step)):
                session = sessions[n % calls]
                frame = payloads.transcript_frame(n % calls, n // calls)
                pipe.publish(channel(session), sse.frame(frame, f"{stamp}-{n}"))
            pipe.execute()
            time.sleep(max(0.0, started + (first + step) / rate - time.perf_counter()))

    async def run():
        got = [0]

        def on_event(data, now):
            got[0] += 1

        streams, tasks = await _open_streams(target, sessions, on_event)
        progress(f"  fanout: {calls} streams on one worker; publishing {rate} frames/s for {seconds}s")
        before = cpu_seconds(worker_pid)
        await asyncio.to_thread(publish)
        deadline = time.perf_counter() + 15
        while got[0] < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        used = cpu_seconds(worker_pid) - before
        close_all(streams, tasks)
        return {
            "streams": calls,
            "frames_per_s": rate,
            "frames": total,
            "delivered": got[0],
            "worker_cpu_us_per_frame": round(1e6 * used / total, 1),
        }

    return asyncio.run(run())


async def _post_all(poster, requests):
    return [await poster.post(r) for r in requests]


def memory(target, worker_pid, redis_url, events=100000, calls=1000, progress=print):
    """Relay RSS and Redis memory over a long run; then the calls complete and their data expires."""
    client = redis.Redis.from_url(redis_url)

    async def run():
        posters = [Poster(target) for _ in range(16)]
        figures = {
            "relay_rss_before_mib": round(rss_kib(worker_pid) / 1024, 1),
            "redis_used_before_mib": round(client.info("memory")["used_memory"] / 2**20, 1),
        }
        per_call = events // calls
        for half in (0, 1):
            requests = payloads.lines(calls, per_call // 2, TOKEN, PUBLIC_URL, start=half * (per_call // 2))
            for i in range(0, len(requests), 5000):
                chunk = requests[i : i + 5000]
                await asyncio.gather(*(_post_all(p, chunk[k::16]) for k, p in enumerate(posters)))
                progress(f"  memory: {half * len(requests) + i + len(chunk)}/{events} events posted")
            figures[f"relay_rss_after_{(half + 1) * events // 2}_mib"] = round(rss_kib(worker_pid) / 1024, 1)
            figures[f"redis_used_after_{(half + 1) * events // 2}_mib"] = round(
                client.info("memory")["used_memory"] / 2**20, 1
            )
        figures["redis_keys"] = client.dbsize()
        completions = [payloads.completed(c, TOKEN, PUBLIC_URL) for c in range(calls)]
        await asyncio.gather(*(_post_all(p, completions[k::16]) for k, p in enumerate(posters)))
        ttl = max(client.ttl(k) for k in client.scan_iter("cintel:{*}:log", count=1000))
        progress(f"  memory: calls completed; waiting {ttl + 1}s for their data to expire")
        await asyncio.sleep(ttl + 1)
        figures["redis_used_after_expiry_mib"] = round(client.info("memory")["used_memory"] / 2**20, 1)
        figures["redis_keys_after_expiry"] = client.dbsize()
        figures["relay_rss_end_mib"] = round(rss_kib(worker_pid) / 1024, 1)
        return figures

    return asyncio.run(run())
