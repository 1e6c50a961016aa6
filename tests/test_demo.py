"""``cintel-relay demo``: the README's first command starts everything, signs everything, and takes its
relay along however it ends (Ctrl-C, kill, the terminal closing, a script's background job)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile

import pytest
import requests

from .support import ROOT, base_env, free_port, wait_for


@pytest.fixture
def output():
    """Makes files for demos' output, closed after the test."""
    files = []

    def make():
        files.append(tempfile.TemporaryFile())
        return files[-1]

    yield make
    for handle in files:
        handle.close()


def _get(url):
    try:
        return requests.get(url, timeout=2)
    except requests.RequestException:
        return None


def _read(handle) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def start_demo(port, out, sigint=signal.SIG_DFL, *args):
    """The demo on ``port``, with SIGINT as a terminal gives it (or ignored, as in a script's background job)."""
    env = base_env(REDIS_URL="redis://127.0.0.1:1/0", CINTEL_VERIFY_SIGNATURES="false")  # the demo ignores these
    return subprocess.Popen(
        [sys.executable, "-m", "cintel_relay.cli", "demo", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint),
    )


def wait_ready(port, out):
    wait_for(
        lambda: f"Live console:  http://127.0.0.1:{port}/console" in _read(out), timeout=40, what="the console URL"
    )


def relay_pids(port) -> list:
    """gunicorn processes (master or worker) of this user listening for the demo on ``port``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmd, open(f"/proc/{pid}/environ", "rb") as env:
                if b"gunicorn" in cmd.read() and f"PORT={port}\0".encode() in env.read():
                    pids.append(int(pid))
        except OSError:  # gone meanwhile, or not ours
            continue
    return pids


def listening(port) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stopped(proc, out, port):
    """The demo's exit status, once it has exited; it must have printed that it stopped."""
    try:
        status = proc.wait(40)
    finally:
        if proc.poll() is None:  # a failed check: kill -9 would leave the relay, so take it down too
            for pid in relay_pids(port):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
    assert _read(out).rstrip().endswith("Stopped."), _read(out)
    return status


def test_demo_serves_the_console_with_signed_simulated_calls_and_stops_on_ctrl_c(output):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = output()
    proc = start_demo(port, out, signal.SIG_DFL, "--speed", "20")
    wait_ready(port, out)
    assert _get(base + "/readyz").json() == {"bus": "embedded", "ready": True, "signatures": True, "streamAuth": "none"}
    assert "Live calls" in _get(base + "/console").text
    wait_for(lambda: _get(base + "/api/board").json()["calls"], timeout=20, what="calls on the board")
    wait_for(lambda: ": call ended" in _read(out), timeout=30, what="a simulated call to end")
    proc.send_signal(signal.SIGINT)
    assert stopped(proc, out, port) == 0
    output = _read(out)
    assert "FAILED" not in output and " 0 failed;" in output
    assert _get(base + "/healthz") is None  # the relay went with it


@pytest.mark.parametrize(
    "sigint, endings",
    [
        (signal.SIG_DFL, [signal.SIGTERM]),
        (signal.SIG_DFL, [signal.SIGHUP]),
        (signal.SIG_IGN, [signal.SIGINT, signal.SIGTERM]),  # a script's background job: Ctrl-C is not for it
    ],
    ids=["sigterm", "sighup", "sigint-ignored-then-sigterm"],
)
def test_every_ending_stops_the_relay_and_the_port_serves_a_new_demo_at_once(output, sigint, endings):
    port = free_port()
    out = output()
    proc = start_demo(port, out, sigint)
    wait_ready(port, out)
    assert relay_pids(port)
    assert _get(f"http://127.0.0.1:{port}/readyz").ok  # leaves a connection closing (TIME_WAIT) on the port
    for sig in endings:
        proc.send_signal(sig)
    assert stopped(proc, out, port) == 0
    assert not listening(port) and relay_pids(port) == []

    again = output()
    second = start_demo(port, again)
    wait_ready(port, again)
    second.send_signal(signal.SIGTERM)
    assert stopped(second, again, port) == 0
    assert relay_pids(port) == []


def test_allowed_origins_reach_the_relays_cors_list(output):
    port = free_port()
    out = output()
    harness = "http://localhost:8080"
    proc = start_demo(port, out, signal.SIG_DFL, "--allow-origin", harness, "--allow-origin", "http://127.0.0.1:8081")
    wait_ready(port, out)
    try:
        for origin, allowed in (
            (harness, True),
            ("http://127.0.0.1:8081", True),
            ("http://localhost:3000", True),
            ("https://flex.twilio.com", True),
            ("http://localhost:9999", False),
        ):
            preflight = requests.options(
                f"http://127.0.0.1:{port}/api/stream-ticket",
                timeout=5,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert (preflight.headers.get("Access-Control-Allow-Origin") == origin) is allowed, origin
    finally:
        proc.send_signal(signal.SIGTERM)
        assert stopped(proc, out, port) == 0


def test_an_allowed_origin_that_is_not_one_is_refused_before_anything_starts():
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cintel_relay.cli",
            "demo",
            "--port",
            str(port),
            "--allow-origin",
            "localhost:8080/harness",
        ],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "'localhost:8080/harness' is not an origin" in result.stderr
    assert relay_pids(port) == []


def test_demo_refuses_a_busy_port():
    with tempfile.TemporaryFile() as out, socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "cintel_relay.cli", "demo", "--port", str(port)],
            cwd=ROOT,
            env=base_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=30,
        )
        assert result.returncode != 0
        assert f"port {port} on 127.0.0.1 is in use: pass --port" in _read(out)
