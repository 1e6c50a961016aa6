"""Processes under test: free loopback ports, waiting for a condition, whether a server answers yet, fixtures that
run a server for their tests, and the command run as a user runs it."""

import os
import socket
import subprocess
import sys
import time

import requests

#: The repository's root (tests run processes from there, as a user would).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


#: Every port :func:`free_port` handed out in this process: the kernel may offer a released port again, and two
#: servers given one port would have the second fail to bind while the first answers for both.
_given: set[int] = set()


def free_port() -> int:
    """A loopback port that was free a moment ago, never one handed out before in this process."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


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


def running(process):
    """A fixture's body: ``yield from running(Server())`` starts the server, hands it to the tests, then stops it."""
    started = process.start()
    yield started
    started.stop()


def running_all(processes):
    """``yield from running_all(Relay(url) for _ in range(2))``: each started in turn, handed to the tests as a
    list, then each stopped."""
    started = [process.start() for process in processes]
    yield started
    for process in started:
        process.stop()


def run_command(*args: str, env=None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``cintel-relay ARGS`` (``python -m cintel_relay``) from the source tree, its output captured as text; ``env``
    replaces the environment when given."""
    command = [sys.executable, "-m", "cintel_relay", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
