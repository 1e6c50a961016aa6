"""Chaos under load on a Redis Cluster: webhooks across two replicas while one replica is SIGKILLed and
restarted and a master is failed over; then count what was sent, acknowledged, delivered, duplicated, lost.

Posters behave as Twilio does (retry until a 2xx, on either replica); subscribers as a browser behind a
load balancer does (reconnect to whichever replica answers, with Last-Event-ID).
"""

import asyncio
import json
import signal
import threading
import time

import redis

from cintel_relay.bus.keys import log_key
from tests.support import Relay
from tests.support.cluster import RedisCluster

from . import payloads
from .client import SSE, Poster
from .topology import CLIENT_ENV, PUBLIC_URL, TOKEN


class _Subscriber:
    """One call's stream that moves to the other replica when its replica dies, resuming from its last id."""

    def __init__(self, bases, session, received):
        self.bases, self.session, self.received = bases, session, received
        self.moves = 0

    async def run(self):
        last_id, k = None, 0
        while True:
            stream = SSE(
                self.bases[k % len(self.bases)],
                self.session,
                lambda data, now: self.received.append(payloads.parse_text(data["data"]["text"])),
            )
            stream.last_id = last_id
            try:
                await stream.open()
                await stream._read()
            except (OSError, asyncio.IncompleteReadError, RuntimeError):
                pass
            finally:
                last_id = stream.last_id or last_id
                stream.close()
            self.moves += 1
            k += 1
            await asyncio.sleep(0.2)


async def _post_until_acknowledged(bases, request, deadline):
    """True once a replica answered 2xx; tries each replica in turn, as Twilio retries."""
    k = 0
    while time.monotonic() < deadline:
        poster = Poster(bases[k % len(bases)])
        try:
            if await asyncio.wait_for(poster.post(request), 10) == 200:
                return True
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
            pass
        finally:
            if poster.writer:
                poster.writer.close()
        k += 1
        await asyncio.sleep(0.2)
    return False


def chaos(seconds=12, calls=20, rate=100, progress=print):
    """Figures of a bounded chaos run (see the module docstring)."""
    progress("  chaos: starting a 6-node Redis Cluster and two relays (WAIT for one replica)")
    cluster = RedisCluster().start()
    env = dict(
        SERVER_URL=PUBLIC_URL,
        TWILIO_AUTH_TOKEN=TOKEN,
        CINTEL_REDIS_MODE="cluster",
        CINTEL_REDIS_WAIT_REPLICAS="1",
        CINTEL_LOG_LEVEL="WARNING",
        **CLIENT_ENV,
    )
    relays = [Relay(cluster.url, **env).start() for _ in range(2)]
    bases = [r.url for r in relays]
    sessions = [payloads.call_sid(c) for c in range(calls)]
    total = rate * seconds
    requests = payloads.lines(calls, total // calls, TOKEN, PUBLIC_URL)
    victim = cluster.master_of(log_key(sessions[0]))
    actions = []

    def act(at, what, fn):
        def run():
            time.sleep(at)
            progress(f"  chaos: t={at:.1f}s {what}")
            fn()
            actions.append(what)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def fail_over():
        cluster.kill(victim)
        cluster.wait_failover(victim)
        cluster.restart(victim)  # it rejoins as the new master's replica

    async def run():
        received = {s: [[], []] for s in sessions}
        subscribers = [_Subscriber(bases[k:] + bases[:k], s, received[s][k]) for s in sessions for k in range(2)]
        tasks = [asyncio.ensure_future(sub.run()) for sub in subscribers]
        await asyncio.sleep(2)
        threads = [
            act(seconds * 0.25, "SIGKILL replica 1", lambda: relays[0].stop(signal.SIGKILL)),
            act(seconds * 0.4, "restart replica 1", relays[0].start),
            act(seconds * 0.55, f"SIGKILL the master on port {victim}; fail over; restart it", fail_over),
        ]
        acknowledged = set()
        deadline = time.monotonic() + seconds + 90
        start = time.perf_counter()

        async def send(i, request):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            if await _post_until_acknowledged(bases[i % 2 :] + bases[: i % 2], request, deadline):
                acknowledged.add((i % calls, i // calls))
            if i % rate == 0:
                progress(f"  chaos: {i}/{len(requests)} sent, {len(acknowledged)} acknowledged")

        await asyncio.gather(*(send(i, r) for i, r in enumerate(requests)))
        for thread in threads:
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 60)
        settle = time.monotonic() + 30
        while time.monotonic() < settle and any(
            len(set(got)) < len([a for a in acknowledged if a[0] == c])
            for c, s in enumerate(sessions)
            for got in received[s]
        ):
            await asyncio.sleep(0.2)
        for task in tasks:
            task.cancel()
        client = redis.RedisCluster(host="127.0.0.1", port=cluster.ports[1])
        delivered = duplicated = lost = out_of_order = 0
        for c, s in enumerate(sessions):
            log = [payloads.parse_text(json.loads(f[b"f"])["data"]["text"]) for _, f in client.xrange(log_key(s))]
            mine = {a for a in acknowledged if a[0] == c}
            for got in received[s]:
                delivered += len(set(got) & mine)
                duplicated += len(got) - len(set(got))
                lost += len(mine - set(got))
                out_of_order += int([g for g in got if g in set(log)] != [e for e in log if e in set(got)])
        return {
            "seconds": seconds,
            "calls": calls,
            "subscribers": len(subscribers),
            "sent": len(requests),
            "acknowledged": len(acknowledged),
            "delivered": delivered,
            "expected": 2 * len(acknowledged),
            "duplicated": duplicated,
            "lost": lost,
            "subscribers_out_of_order": out_of_order,
            "stream_moves": sum(sub.moves for sub in subscribers),
            "actions": actions,
        }

    try:
        return asyncio.run(run())
    finally:
        for relay in relays:
            relay.stop(signal.SIGKILL)
        cluster.stop()
