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

from ..config import load_config
from ..errors import ConfigError
from ..settings import default
from . import player as simulator

HOST = "127.0.0.1"
#: Origins the demo's relay allows besides the default (Flex's): the plugin's local Flex run.
DEMO_ORIGINS = ("http://localhost:3000",)
#: Signals that end the demo as Ctrl-C does: a ``kill``, and the terminal closing.
ENDINGS = (signal.SIGTERM, signal.SIGHUP)
#: How long the relay may take to start, and to stop once asked.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 25.0


def demo_env(environ, port: int, token: str, origins=()) -> dict:
    """The relay's environment for the demo: embedded bus, one worker, loopback only, signatures on.

    CORS allows the default origins, the plugin's local ones and ``origins`` (``--allow-origin``).
    """
    env = {k: v for k, v in environ.items() if not k.startswith(("CINTEL_", "TWILIO_", "REDIS_", "SERVER_URL"))}
    env.pop("WEB_CONCURRENCY", None)
    allowed = dict.fromkeys((*default("CINTEL_CORS_ORIGINS"), *DEMO_ORIGINS, *origins))
    env.update(
        PORT=str(port),
        CINTEL_BIND_HOST=HOST,
        TWILIO_AUTH_TOKEN=token,
        CINTEL_STREAM_AUTH="none",
        CINTEL_CORS_ORIGINS=",".join(allowed),
    )
    return env


def port_free(port: int) -> bool:
    """True when the relay could listen on ``port``: nothing listens there (connections closing do not count)."""
    with socket.socket() as probe:
        # As gunicorn binds: SO_REUSEADDR lets a port whose last connections are in TIME_WAIT (a demo
        # stopped a moment ago) be bound again, while a port something listens on stays refused.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def start_relay(port: int, token: str, log, origins=(), **extra_env) -> subprocess.Popen:
    """Start the relay with the demo settings (plus ``extra_env``) and wait until it is ready.

    It runs in its own session, so Ctrl-C reaches only this command, which then stops it gracefully.

    :raises ConfigError: for a setting the relay would refuse (an ``--allow-origin`` that is not an origin).
    """
    env = {**demo_env(os.environ, port, token, origins), **extra_env}
    load_config(env)
    argv = [sys.executable, "-m", "cintel_relay.cli", "serve"]
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
    """Run the demo until Ctrl-C, SIGTERM or SIGHUP; the relay stops with it, however it ends."""
    try:
        port = args.port or int(os.environ.get("PORT") or default("PORT"))
    except ValueError:
        sys.exit(f"cintel-relay demo: PORT={os.environ['PORT']!r} is not a port number: pass --port or fix PORT.")
    if not port_free(port):
        sys.exit(f"cintel-relay demo: port {port} on {HOST} is in use: pass --port with a free port.")
    # SIGTERM and SIGHUP end the demo as Ctrl-C does (KeyboardInterrupt), so the relay is stopped on
    # every ending. SIGINT keeps its disposition: ignored in a script's background job, as the shell asked.
    for sig in ENDINGS:
        signal.signal(sig, signal.default_int_handler)
    token = secrets.token_hex(16)
    log = tempfile.NamedTemporaryFile(prefix="cintel-relay-demo-", suffix=".log", delete=False)
    base = f"http://{HOST}:{port}"
    print(f"Starting the relay on {base} (embedded bus, signatures checked with a generated token)...", flush=True)
    try:
        proc = start_relay(port, token, log, args.allow_origin or ())
    except (ConfigError, RuntimeError) as exc:
        sys.exit(f"cintel-relay demo: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)
    try:
        print(
            f"\n  Live console:  {base}/console\n\n"
            f"Simulated calls are playing into the relay (relay log: {log.name}). Press Ctrl-C to stop.\n",
            flush=True,
        )
        args.loop, args.quiet = True, True
        simulator.simulate(args, base, token, threading.Event())
    except KeyboardInterrupt:
        print("Interrupted before the calls' summary.", flush=True)  # an ending asked for: the relay stops below
    finally:
        for sig in (signal.SIGINT, *ENDINGS):  # a second Ctrl-C or kill must not leave the relay running
            signal.signal(sig, signal.SIG_IGN)
        stop_relay(proc)  # first: after SIGHUP the terminal may be gone, and printing fail
        log.close()
    print("Stopped.", flush=True)
