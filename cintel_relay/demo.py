"""``cintel-relay demo``: the relay on the embedded bus, simulated calls looping into it, and the console.

Everything stays on 127.0.0.1 and needs no Twilio account: a fresh auth token is generated for the run
and shared with the simulator, so webhook signatures stay checked exactly as in production.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

from . import simulator

HOST = "127.0.0.1"
#: How long the relay may take to start, and to stop once asked.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 25.0


def demo_env(environ, port: int, token: str) -> dict:
    """The relay's environment for the demo: embedded bus, one worker, loopback only, signatures on."""
    env = {k: v for k, v in environ.items() if not k.startswith(("CINTEL_", "TWILIO_", "REDIS_", "SERVER_URL"))}
    env.pop("WEB_CONCURRENCY", None)
    env.update(PORT=str(port), CINTEL_BIND_HOST=HOST, TWILIO_AUTH_TOKEN=token, CINTEL_STREAM_AUTH="none")
    return env


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def start_relay(port: int, token: str, log, **extra_env) -> subprocess.Popen:
    """Start gunicorn with the demo settings (plus ``extra_env``) and wait until it is ready.

    It runs in its own session, so Ctrl-C reaches only this command, which then stops it gracefully.
    """
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:cintel_relay.gunicorn_conf", "cintel_relay.wsgi:app"]
    proc = subprocess.Popen(argv, env={**demo_env(os.environ, port, token), **extra_env}, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_ready(proc, port, log.name)
    except BaseException:  # not ready, or Ctrl-C while starting: never leave the relay behind
        stop_relay(proc)
        raise
    return proc


def _wait_ready(proc: subprocess.Popen, port: int, log_name: str):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the relay exited with status {proc.returncode}; its log is {log_name}")
        try:
            if requests.get(f"http://{HOST}:{port}/readyz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the relay did not become ready within {START_TIMEOUT:.0f}s; its log is {log_name}")


def stop_relay(proc: subprocess.Popen):
    """SIGTERM (streams end at once, the rest drains), then SIGKILL if it is still there."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main(args):
    """Run the demo until Ctrl-C."""
    port = args.port or int(os.environ.get("PORT", "8000"))
    if not port_free(port):
        sys.exit(f"cintel-relay demo: port {port} on {HOST} is in use: pass --port with a free port.")
    token = secrets.token_hex(16)
    log = tempfile.NamedTemporaryFile(prefix="cintel-relay-demo-", suffix=".log", delete=False)
    base = f"http://{HOST}:{port}"
    print(f"Starting the relay on {base} (embedded bus, signatures checked with a generated token)...", flush=True)
    try:
        proc = start_relay(port, token, log)
    except RuntimeError as exc:
        sys.exit(f"cintel-relay demo: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)
    print(f"\n  Live console:  {base}/console\n\n"
          f"Simulated calls are playing into the relay (relay log: {log.name}). Press Ctrl-C to stop.\n", flush=True)
    args.loop, args.quiet = True, True
    try:
        simulator.simulate(args, base, token, threading.Event())
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave the relay running
        print("Stopping the relay...", flush=True)
        stop_relay(proc)
        log.close()
    print("Stopped.")
