"""Processes under test: free loopback ports, waiting for a condition, whether a server answers yet."""

import os
import socket
import time

import requests

#: The repository's root (tests run processes from there, as a user would).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """``predicate()``'s first truthy value, polling; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def answers(server, path) -> bool:
    """True once ``server`` (with ``proc``, ``url`` and ``output()``) answers 2xx on ``path``; raises if it died."""
    if server.proc.poll() is not None:
        raise AssertionError(f"{server.url} exited with {server.proc.returncode}:\n{server.output()}")
    try:
        return requests.get(server.url + path, timeout=1).ok
    except requests.RequestException:
        return False


def listening(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False
