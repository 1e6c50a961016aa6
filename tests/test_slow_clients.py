"""Slow request bodies against a real gunicorn with a small connection pool: clients that send headers, then
drip the body a byte at a time, get 408 (or 503 when too many bodies are arriving at once) and are
disconnected, while health checks and streams are still served."""

import select
import threading
import time

import pytest
import requests

from .support import CALL_SID, Relay, SSEClient, running, wait_for
from .support.raw_http import connect, head, read_answer

POOL = 30
ATTACKERS = 30
BODY_TIMEOUT = 2


@pytest.fixture(scope="module")
def small_relay(redis_server):
    yield from running(Relay(redis_server.url, CINTEL_WORKER_CONNECTIONS=POOL, CINTEL_BODY_TIMEOUT=BODY_TIMEOUT))


def slow_client(port, answers, stop):
    """Keep a slow body arriving, one byte every half second; reconnect whenever the relay answers."""
    while not stop.is_set():
        try:
            sock = connect(port)
        except OSError:
            continue
        with sock:
            sock.sendall(
                head(
                    "POST",
                    "/webhook/cor-event?bodySHA256=00",
                    "Content-Type: application/json",
                    "Content-Length: 1000",
                    "X-Twilio-Signature: junk",
                )
            )
            while not stop.is_set():
                readable, _, _ = select.select([sock], [], [], 0.5)
                if readable:
                    status, _, closed = read_answer(sock, timeout=5)
                    answers.append((status, closed))
                    break
                try:
                    sock.send(b" ")
                except OSError:
                    # The relay answered and closed between our select and this send: read what it said. (If the
                    # close came as a reset, the kernel may have dropped the answer: status None, still closed.)
                    status, _, _ = read_answer(sock, timeout=1)
                    answers.append((status, True))
                    break


def test_slow_bodies_time_out_and_never_lock_out_health_checks_or_streams(small_relay):
    answers, stop = [], threading.Event()
    threads = [
        threading.Thread(target=slow_client, args=(small_relay.port, answers, stop), daemon=True)
        for _ in range(ATTACKERS)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: any(status == 503 for status, _ in answers),
            timeout=10,
            what="the relay to refuse bodies beyond the ones it reads at once",
        )
        for _ in range(3):
            assert requests.get(small_relay.url + "/healthz", timeout=5).status_code == 200
        stream = SSEClient(small_relay.url, CALL_SID)
        assert stream.next_event(timeout=5)[1]["type"] == "connected"
        wait_for(
            lambda: any(status == 408 for status, _ in answers),
            timeout=BODY_TIMEOUT + 10,
            what="a slow body to run out of time",
        )
        assert requests.get(small_relay.url + "/healthz", timeout=5).status_code == 200
        stream.close()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    # Nothing but 408 and 503; None is an answer the client's own reset made unreadable (see slow_client).
    assert {status for status, _ in answers} - {None} <= {408, 503}
    assert all(closed for _, closed in answers), "every refused slow client is disconnected"
    output = small_relay.output()
    assert '"level":"ERROR"' not in output and "Traceback" not in output


def test_a_body_that_arrives_in_pieces_within_the_deadline_is_served(small_relay):
    body = b'{"sessionId": "%s"}' % CALL_SID.encode()
    with connect(small_relay.port) as sock:
        sock.sendall(
            head(
                "POST",
                "/api/stream-ticket",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                "Connection: close",
            )
        )
        for piece in (body[:10], body[10:20], body[20:]):
            sock.sendall(piece)
            time.sleep(0.2)
        status, answer, _ = read_answer(sock)
    assert status == 200 and b'"auth":"none"' in answer
