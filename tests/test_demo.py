"""``cintel-relay demo``: the README's first command starts everything, signs everything, stops on Ctrl-C."""

import signal
import socket
import subprocess
import sys
import tempfile

import requests

from .support import ROOT, base_env, free_port, wait_for


def _get(url):
    try:
        return requests.get(url, timeout=2)
    except requests.RequestException:
        return None


def test_demo_serves_the_console_with_signed_simulated_calls_and_stops_on_ctrl_c():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out = tempfile.TemporaryFile()
    env = base_env(REDIS_URL="redis://127.0.0.1:1/0", CINTEL_VERIFY_SIGNATURES="false")  # the demo ignores these
    proc = subprocess.Popen([sys.executable, "-m", "cintel_relay.cli", "demo", "--port", str(port), "--speed", "20"],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: f"Live console:  {base}/console" in _read(out), timeout=40, what="the console URL")
        assert _get(base + "/readyz").json() == {"bus": "embedded", "ready": True, "signatures": True,
                                                 "streamAuth": "none"}
        assert "Live calls" in _get(base + "/console").text
        wait_for(lambda: _get(base + "/api/board").json()["calls"], timeout=20, what="calls on the board")
        wait_for(lambda: ": call ended" in _read(out), timeout=30, what="a simulated call to end")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(40) == 0, _read(out)
    finally:
        if proc.poll() is None:  # a failed check: still stop it with Ctrl-C, so it takes its relay along
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
    output = _read(out)
    assert "FAILED" not in output and " 0 failed;" in output and output.rstrip().endswith("Stopped.")
    assert _get(base + "/healthz") is None  # the relay went with it


def test_demo_refuses_a_busy_port():
    with tempfile.TemporaryFile() as out:
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "cintel_relay.cli", "demo", "--port", str(port)],
                                cwd=ROOT, env=base_env(), stdout=out, stderr=subprocess.STDOUT, timeout=30)
        held.close()
        assert result.returncode != 0
        assert f"port {port} on 127.0.0.1 is in use: pass --port" in _read(out)


def _read(handle) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")

