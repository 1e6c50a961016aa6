"""The reconnect storm: what a crashed replica does to the one left.

10,000 streams on replica A (and a few on B), webhooks flowing at a steady rate to both; A is SIGKILLed.
Every client reconnects to B, as a browser behind a load balancer would, resuming with its last event id
(``?lastEventId=``, as the plugin's EventSource does) after the plugin's jittered backoff
(plugin-cintel-rtt/src/feature/agent-assist/stream/backoff.ts); a refusal's ``Retry-After`` is honoured. Posters
act as Twilio does: retry until a 2xx, moving to B when A is gone.

A stream is *back* when B answers its request with 200 (the plugin's ``live``), and *caught up* when it has
received every event of its call that was acknowledged before it came back. Printed: the time from the kill
until every stream is back and until every stream is caught up, B's CPU and memory meanwhile, Redis's commands
meanwhile, and sent / acknowledged / delivered / lost / duplicated.

The clients are greenlets on gevent's sockets (no monkey-patching: the rest of the bench is asyncio), so
10,000 streams fit in this one process; its file-descriptor limit is raised to fit them, and the relays
started after inherit it. Loopback only, bounded in streams and in time, it stops by itself.
"""

import os
import random
import resource
import signal
import time

import gevent
import gevent.event
import orjson
import redis
from gevent import socket

from . import payloads
from .topology import PUBLIC_URL, TOKEN, Topology, cpu_seconds, rss_kib, worker_pids

#: The plugin's DEFAULT_BACKOFF (backoff.ts): 1 s doubling to 30 s, up to half of it taken off at random.
BACKOFF_INITIAL_S, BACKOFF_MAX_S, BACKOFF_FACTOR, BACKOFF_JITTER = 1.0, 30.0, 2, 0.5
#: No frame for this long means a dead stream (the relays send a keep-alive every 15 s). A browser's
#: EventSource has no shorter timeout for the response's head either: a client that gave up after a few
#: seconds would reconnect onto its own abandoned request, which is a storm the plugin does not make.
READ_TIMEOUT_S = 40
#: How long a webhook waits for its response before Twilio's retry (here: the poster's next attempt).
POST_TIMEOUT_S = 15


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Seconds before retry number ``attempt`` (1-based), as the plugin's ``backoffDelay``."""
    base = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * BACKOFF_FACTOR ** max(0, attempt - 1))
    return base * (1 - BACKOFF_JITTER * rng.random())


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit it); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the storm needs {needed} file descriptors and the hard limit is {hard}: raise it")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _address(url):
    host, port = url.split("//")[1].split(":")
    return host, int(port)


class _Conn:
    """A socket with a read buffer: HTTP heads and bodies, then SSE bytes."""

    def __init__(self, address, timeout):
        # Not create_connection: it resolves even a numeric address, through gevent's thread pool, which cost the
        # storm's client a second of CPU at the kill (10,000 reconnects), while B waited for their requests.
        self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except BaseException:
            self.sock.close()
            raise
        self.buffer = b""

    def head(self):
        """(status, headers lower-cased) of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        headers = {}
        for row in lines[1:]:
            name, _, value = row.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split(b" ", 2)[1]), headers

    def body(self, length):
        while len(self.buffer) < length:
            self._fill()
        self.buffer = self.buffer[length:]

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buffer += chunk

    def close(self):
        self.sock.close()


class Stream:
    """One agent's stream: opens on ``base``; after any failure reconnects to ``fallback`` with its last id."""

    def __init__(self, call, base, fallback, rng):
        self.call, self.session = call, payloads.call_sid(call)
        self.address, self.fallback = _address(base), _address(fallback)
        self.rng = rng
        self.last_id = None
        self.got = {}  # (call, n) -> when first received
        self.duplicates = 0
        self.live_at = None  # when the latest 200 came
        self.opens = self.failures = 0
        self.refusals = []  # (status, Retry-After or None)
        self.dropped = 0  # attempts on the fallback that ended before a response head (reset, closed, timed out)
        self.ready = gevent.event.Event()
        self.conn = None
        self.headed = False

    def run(self):
        while True:
            retry_after = 0.0
            on_fallback, self.headed = self.address == self.fallback, False
            try:
                retry_after = self._once()
            except (OSError, ValueError):
                self.dropped += on_fallback and not self.headed
            finally:
                if self.conn:
                    self.conn.close()
                    self.conn = None
            self.failures += 1
            # A load balancer sends every new connection to the replica that is left.
            self.address = self.fallback
            gevent.sleep(max(backoff_delay(self.failures, self.rng), retry_after))

    def _once(self):
        self.conn = _Conn(self.address, READ_TIMEOUT_S)
        query = f"?lastEventId={self.last_id}" if self.last_id else ""
        self.conn.sock.sendall(
            f"GET /api/stream/{self.session}{query} HTTP/1.1\r\nHost: bench\r\n"
            "Accept: text/event-stream\r\nConnection: close\r\n\r\n".encode()
        )
        status, headers = self.conn.head()
        self.headed = True
        if status != 200:
            retry_after = headers.get(b"retry-after")
            self.refusals.append((status, retry_after.decode() if retry_after else None))
            return float(retry_after) if retry_after and retry_after.isdigit() else 0.0
        self.live_at = time.monotonic()
        self.opens += 1
        self.failures = 0
        buffer, self.conn.buffer = self.conn.buffer, b""
        while True:
            # Chunked framing's size lines end up as rows of their own, which match nothing below.
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                self._block(block)
            chunk = self.conn.sock.recv(65536)
            if not chunk:
                return 0.0
            buffer += chunk

    def _block(self, block):
        now = time.monotonic()
        for row in block.split(b"\n"):
            if row.startswith(b"id: "):
                self.last_id = row[4:].strip().decode()
                continue
            start = row.find(b"data: {")
            if start < 0:
                continue
            data = orjson.loads(row[start + 6 :])
            kind = data.get("type")
            if kind == "initial":  # a fresh snapshot: what it holds counts as received, never as a duplicate
                for entry in data.get("transcript", ()):
                    self.got.setdefault(payloads.parse_text(entry["text"]), now)
                self.ready.set()
            elif kind == "transcript":
                key = payloads.parse_text(data["data"]["text"])
                if key in self.got:
                    self.duplicates += 1
                else:
                    self.got[key] = now


class Posters:
    """Webhooks at a steady rate, alternating between the replicas, each on its own connection and retried
    until a 2xx (moving on to the other replica), as Twilio sends and retries them: a replica that stalls
    does not slow the flow down; remembers when each was acknowledged."""

    def __init__(self, bases, calls, rate, seconds):
        self.addresses = [_address(b) for b in bases]
        self.calls, self.rate = calls, rate
        self.requests = payloads.lines(calls, max(1, rate * seconds // calls), TOKEN, PUBLIC_URL)
        self.acked = {}  # call -> {n: when acknowledged}
        self.attempted = self.failed = self.retries = 0
        self.greenlets = []

    def start(self, deadline):
        self.started = time.monotonic()
        return gevent.spawn(self._schedule, deadline)

    def _schedule(self, deadline):
        for i in range(len(self.requests)):
            gevent.sleep(max(0.0, self.started + i / self.rate - time.monotonic()))
            self.greenlets.append(gevent.spawn(self._post, i, deadline))
        gevent.joinall(self.greenlets)

    def _post(self, i, deadline):
        request, which = self.requests[i], i % len(self.addresses)
        raw = (
            f"POST {request.path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {request.content_type}\r\n"
            f"X-Twilio-Signature: {request.signature}\r\nContent-Length: {len(request.body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + request.body
        self.attempted += 1
        while True:
            conn = None
            try:
                conn = _Conn(self.addresses[which], POST_TIMEOUT_S)
                conn.sock.sendall(raw)
                status, _ = conn.head()
                if status == 200:
                    self.acked.setdefault(i % self.calls, {})[i // self.calls] = time.monotonic()
                    return
            except (OSError, ValueError):
                pass
            finally:
                if conn:
                    conn.close()
            if time.monotonic() > deadline:
                self.failed += 1
                return
            self.retries += 1
            which = (which + 1) % len(self.addresses)
            gevent.sleep(0.2)

    @property
    def acknowledged(self):
        return sum(len(v) for v in self.acked.values())


def _caught_up_at(stream, acked):
    """When ``stream`` had every event of its call acknowledged before it came back; None if it has not."""
    latest = stream.live_at
    for n, when in acked.get(stream.call, {}).items():
        if when <= stream.live_at:
            got = stream.got.get((stream.call, n))
            if got is None:
                return None
            latest = max(latest, got)
    return latest


def _post_participants(base, calls):
    """PARTICIPANT_ADDED for every call (maps each conversation to its call), 16 at a time."""
    address = _address(base)

    def chain(k):
        conn = _Conn(address, 10)
        try:
            for c in range(k, calls, 16):
                r = payloads.participant(c, TOKEN, PUBLIC_URL)
                conn.sock.sendall(
                    f"POST {r.path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {r.content_type}\r\n"
                    f"X-Twilio-Signature: {r.signature}\r\nContent-Length: {len(r.body)}\r\n\r\n".encode()
                    + r.body
                )
                status, headers = conn.head()
                conn.body(int(headers.get(b"content-length", b"0")))
                if status != 200:
                    raise SystemExit(f"the relay refused a participant with {status}")
        finally:
            conn.close()

    gevent.joinall([gevent.spawn(chain, k) for k in range(16)], raise_error=True)


def _open(streams, progress, what, batch=500):
    greenlets = []
    for i in range(0, len(streams), batch):
        chunk = streams[i : i + batch]
        greenlets += [gevent.spawn(s.run) for s in chunk]
        for s in chunk:
            if not s.ready.wait(60):
                raise SystemExit(f"a stream on {what} did not open within 60 s")
        progress(f"  storm: {i + len(chunk)}/{len(streams)} streams open on {what}")
    return greenlets


def storm(streams=10000, on_b=50, calls=1000, rate=200, warm=3, after=12, limit=45, progress=print) -> dict:
    """Figures of one storm (see the module docstring); ``limit`` bounds the wait after the kill, in seconds."""
    fds = raise_fd_limit(streams + on_b + 1000)
    progress(f"  storm: file-descriptor limit {fds}; starting redis-server and two single-worker relays")
    topology = Topology(replicas=2)
    rng = random.Random(25)
    greenlets: list = []
    posters = None
    try:
        a, b = topology.urls
        client = redis.Redis.from_url(topology.redis.url)
        _post_participants(a, calls)
        on_a = [Stream(n % calls, a, b, rng) for n in range(streams)]
        on_b_streams = [Stream(n % calls, b, b, rng) for n in range(on_b)]
        greenlets += _open(on_b_streams, progress, "B")
        greenlets += _open(on_a, progress, "A")
        everyone = on_a + on_b_streams
        b_pids = worker_pids(topology.relays[1].proc.pid)
        a_pid = topology.worker_pid(0)
        figures = {
            "streams_on_a": len(on_a),
            "streams_on_b": len(on_b_streams),
            "calls": calls,
            "rate_per_s": rate,
            "a_rss_mib_before": round(rss_kib(a_pid) / 1024, 1),
            "b_rss_mib_before": round(sum(rss_kib(p) for p in b_pids) / 1024, 1),
        }
        posters = Posters([a, b], calls, rate, warm + after)
        kill_deadline = time.monotonic() + warm + after + limit
        scheduler = posters.start(kill_deadline)
        gevent.sleep(warm)

        client.config_resetstat()
        redis_cpu = _redis_cpu(client)
        b_cpu = sum(cpu_seconds(p) for p in b_pids)
        own_cpu = time.process_time()
        killed = time.monotonic()
        os.killpg(topology.relays[0].proc.pid, signal.SIGKILL)
        progress(f"  storm: SIGKILLed replica A with {len(on_a)} streams; {posters.acknowledged} webhooks acknowledged")
        peak_rss = 0
        all_back = caught_up = None
        done = []
        next_report = killed
        while time.monotonic() < killed + limit:
            gevent.sleep(0.25)
            now = time.monotonic()
            peak_rss = max(peak_rss, sum(rss_kib(p) for p in b_pids))
            back = [s for s in on_a if s.live_at and s.live_at > killed]
            if all_back is None and len(back) == len(on_a):
                all_back = max(s.live_at for s in back)
            done = [t for t in (_caught_up_at(s, posters.acked) for s in back) if t is not None]
            if now >= next_report:
                progress(
                    f"  storm: t=+{now - killed:4.1f}s {len(back)}/{len(on_a)} back, {len(done)} caught up, "
                    f"{posters.acknowledged} acknowledged, B RSS {peak_rss / 1024:.0f} MiB"
                )
                next_report += 1
            if len(done) == len(on_a):
                caught_up = max(done)
                break
        end = time.monotonic()
        b_used = sum(cpu_seconds(p) for p in b_pids) - b_cpu
        own_used = time.process_time() - own_cpu
        back_times = sorted(s.live_at - killed for s in on_a if s.live_at and s.live_at > killed)
        stats = client.info("commandstats")
        commands = {k[len("cmdstat_") :]: v["calls"] for k, v in stats.items()}
        figures.update(
            all_back_s=round(all_back - killed, 2) if all_back else None,
            all_caught_up_s=round(caught_up - killed, 2) if caught_up else None,
            back_p50_s=round(back_times[len(back_times) // 2], 2) if back_times else None,
            caught_up_p50_s=round(sorted(done)[len(done) // 2] - killed, 2) if done else None,
            window_s=round(end - killed, 2),
            # the load generator's own CPU meanwhile: it shares the machine's cores with B and Redis
            client_cpu_s=round(own_used, 2),
            b_cpu_cores=round(b_used / (end - killed), 2),
            b_cpu_s=round(b_used, 2),
            b_cpu_ms_per_stream_back=round(1000 * b_used / len(back_times), 2) if back_times else None,
            b_rss_mib_peak=round(peak_rss / 1024, 1),
            redis_cpu_s=round(_redis_cpu(client) - redis_cpu, 2),
            redis_commands=sum(commands.values()),
            redis_commands_top={k: v for k, v in sorted(commands.items(), key=lambda kv: -kv[1])[:8]},
        )

        # The posters finish their schedule; then every stream gets its chance to receive every event.
        scheduler.join(timeout=max(0.0, kill_deadline - time.monotonic()))
        settle = time.monotonic() + 10
        while time.monotonic() < settle and any(_missing(s, posters.acked) for s in everyone):
            gevent.sleep(0.25)
        expected = sum(len(posters.acked.get(s.call, {})) for s in everyone)
        acks = sorted(t for by_n in posters.acked.values() for t in by_n.values() if t >= killed)
        acks.append(min(time.monotonic(), killed + after))  # a stall lasting to the end of the schedule counts
        lost = sum(_missing(s, posters.acked) for s in everyone)
        refusals = [r for s in everyone for r in s.refusals]
        figures.update(
            scheduled=len(posters.requests),
            sent=posters.attempted,
            acknowledged=posters.acknowledged,
            given_up=posters.failed,
            still_retrying=posters.attempted - posters.acknowledged - posters.failed,
            acknowledged_after_kill=len(acks) - 1,
            # the longest time after the kill, until the end of the schedule, in which no webhook was acknowledged
            webhook_stall_s=round(max(b - a for a, b in zip([killed] + acks, acks)), 2),
            post_retries=posters.retries,
            expected_deliveries=expected,
            delivered=expected - lost,
            lost=lost,
            duplicated=sum(s.duplicates for s in everyone),
            streams_not_back=sum(1 for s in on_a if not (s.live_at and s.live_at > killed)),
            stream_refusals=len(refusals),
            stream_refusals_without_retry_after=sum(1 for _, ra in refusals if ra is None),
            stream_refusals_by_status={
                str(st): sum(1 for s, _ in refusals if s == st) for st in {s for s, _ in refusals}
            },
            stream_retry_after_max_s=max((int(ra) for _, ra in refusals if ra and ra.isdigit()), default=None),
            stream_reopens=sum(s.opens for s in everyone) - len(everyone),
            # attempts on B that ended before any answer: a connection B reset or closed unanswered
            stream_attempts_dropped=sum(s.dropped for s in everyone),
        )
        figures["b_log"] = _log_summary(topology.relays[1].output())
        return figures
    finally:
        gevent.killall(greenlets + (posters.greenlets if posters else []), block=False)
        topology.close()


def _log_summary(output: str) -> dict:
    """B's warnings and errors during the run, counted by message (the relay logs JSON lines)."""
    counts: dict = {}
    for row in output.splitlines():
        try:
            record = orjson.loads(row)
        except orjson.JSONDecodeError:
            record = {"level": "RAW", "message": row[:120]}
        if not isinstance(record, dict) or record.get("level") in ("DEBUG", "INFO", None):
            continue
        key = f"{record.get('level')}: {record.get('message', '')}"[:120]
        if record.get("exception"):  # the exception's last line: its type and message
            key += " / " + record["exception"].strip().splitlines()[-1][:120]
        counts[key] = counts.get(key, 0) + 1
    return counts


def _missing(stream, acked):
    got = stream.got
    return sum(1 for n in acked.get(stream.call, {}) if (stream.call, n) not in got)


def _redis_cpu(client):
    info = client.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]
