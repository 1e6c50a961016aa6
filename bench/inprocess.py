"""Lone webhooks through the WSGI app in this process: the relay's CPU per webhook with less drift than a load test.

``python3 -m bench.inprocess [N] [ROUNDS] [--per-slot]``: a redis-server of its own, gevent patched as gunicorn's
worker patches it, the app built as ``wsgi.py`` builds it (every production check on), then N signed transcript
lines posted one after another as gunicorn would call the app (a WSGI environ, the body in memory). Prints, per
round, the relay's CPU (``process_time``) and Redis's (``INFO cpu``) per webhook, in ms; then the min and median.
``--per-slot`` delivers as on a Redis Cluster (route.lua, append.lua, board.lua: one call each) instead of
ingest.lua's one call, to weigh the two (docs/performance.md, issue 20).
"""

from gevent import monkey

monkey.patch_all()

import io  # noqa: E402  (after patching, as in a gevent worker)
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from . import payloads  # noqa: E402
from .topology import PUBLIC_URL, TOKEN  # noqa: E402


def _environ(request) -> dict:
    path, _, query = request.path.partition("?")
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": request.path,
        "SERVER_NAME": "bench.local",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "bench.local",
        "CONTENT_TYPE": request.content_type,
        "CONTENT_LENGTH": str(len(request.body)),
        "HTTP_X_TWILIO_SIGNATURE": request.signature,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
    }


def _post(app, request) -> str:
    status = []
    body = app(_environ(request), lambda s, h, e=None: status.append(s))
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return status[0]


def main(n: int = 2000, rounds: int = 5, per_slot: bool = False):
    from tests.support import RedisServer

    redis_server = RedisServer().start()
    os.environ.update(
        REDIS_URL=redis_server.url, SERVER_URL=PUBLIC_URL, TWILIO_AUTH_TOKEN=TOKEN, CINTEL_LOG_LEVEL="WARNING"
    )
    from cintel_relay import create_app
    from cintel_relay.config import load_config
    from cintel_relay.extension import relay
    from cintel_relay.logs import setup_logging

    setup_logging("WARNING")
    app = create_app(load_config())
    if per_slot:
        relay(app).bus.single_node = False
    client = redis_server.client()
    calls = 50
    for call in range(calls):
        assert _post(app, payloads.participant(call, TOKEN, PUBLIC_URL)).startswith("200")
    relay_ms, redis_ms = [], []
    for r in range(rounds):
        requests = [payloads.line(i % calls, r * n + i // calls, TOKEN, PUBLIC_URL) for i in range(n)]
        before = client.info("cpu")
        started = time.process_time()
        for request in requests:
            assert _post(app, request).startswith("200")
        relay_ms.append(1000 * (time.process_time() - started) / n)
        after = client.info("cpu")
        used = sum(after[k] - before[k] for k in ("used_cpu_user", "used_cpu_sys"))
        redis_ms.append(1000 * used / n)
        print(f"round {r + 1}: relay {relay_ms[-1]:.3f} ms, Redis {redis_ms[-1]:.3f} ms of CPU per webhook")
    print(
        f"relay min/median {min(relay_ms):.3f}/{statistics.median(relay_ms):.3f} ms; "
        f"Redis {min(redis_ms):.3f}/{statistics.median(redis_ms):.3f} ms"
    )
    redis_server.stop()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--per-slot"]
    main(*(int(a) for a in args[:2]), per_slot="--per-slot" in sys.argv[1:])
