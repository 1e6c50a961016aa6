"""Relay processes under test: real gunicorn (gevent worker) replicas, started and stopped by a factory."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

from .processes import ROOT, answers, free_port, wait_for
from .signing import AUTH_TOKEN

#: How the Procfile and the Dockerfile start the relay: the settings validated, then gunicorn.
SERVE = [sys.executable, "-m", "cintel_relay.cli", "serve"]
#: Stands for "the session's redis-server" in :meth:`RelayFactory.__call__`; ``None`` means the embedded bus.
SESSION_REDIS = object()


def base_env(redis_url=None, **extra):
    """This process's environment without relay settings, plus the tests' auth token, Flex number and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CINTEL_", "TWILIO_", "REDIS_", "SERVER_URL"))}
    env.update(TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_FLEX_PHONE_NUMBER="+18005550199", CINTEL_HEARTBEAT_SECONDS="1")
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Relay:
    """A real gunicorn process running the relay with the gevent worker; start it again after a stop."""

    def __init__(self, redis_url=None, workers=1, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        #: The relay's own directory: its metrics files and its log, removed when it stops.
        self.home = tempfile.mkdtemp(prefix="cintel-relay-test-")
        self.metrics_dir = os.path.join(self.home, "metrics")
        self.log_path = os.path.join(self.home, "relay.log")
        self._earlier_output = ""  # what the relay wrote before it was stopped (and maybe started again)
        self.env = base_env(
            redis_url,
            PORT=self.port,
            WEB_CONCURRENCY=workers,
            CINTEL_BIND_HOST="127.0.0.1",
            PROMETHEUS_MULTIPROC_DIR=self.metrics_dir,
            **env,
        )
        self.proc = None

    def start(self):
        """Start gunicorn and wait until it answers and every worker has built the app."""
        os.makedirs(self.metrics_dir, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                SERVE, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(self._healthy, timeout=30, what=f"relay on port {self.port}")
        wait_for(lambda: len(self.worker_pids()) >= self.workers, timeout=30, what="every worker to load the app")
        return self

    def worker_pids(self) -> set:
        """Workers that have built the app (and so handle signals): each writes its metrics file then."""
        return {name.rsplit("_", 1)[1].split(".")[0] for name in os.listdir(self.metrics_dir) if name.endswith(".db")}

    def _healthy(self):
        return answers(self, "/healthz")

    def output(self) -> str:
        """Everything gunicorn and the app have written so far, over every start."""
        try:
            with open(self.log_path, "rb") as log:
                return self._earlier_output + log.read().decode("utf-8", "replace")
        except FileNotFoundError:  # stopped: its directory is gone
            return self._earlier_output

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send ``sig`` to gunicorn's process group, wait for it, and remove its directory (keeping its output)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout)
        self._earlier_output = self.output()
        shutil.rmtree(self.home, ignore_errors=True)


class RelayFactory:
    """Starts relays on a default Redis and stops every relay it started (the ``start_relay`` fixtures)."""

    def __init__(self, redis_url=None):
        self.redis_url = redis_url
        self.started = []

    def __call__(self, redis_url=SESSION_REDIS, workers=1, **env) -> Relay:
        """A started relay on ``redis_url`` (default: the factory's; ``None``: embedded) with ``env`` overrides."""
        relay = Relay(self.redis_url if redis_url is SESSION_REDIS else redis_url, workers, **env)
        self.started.append(relay)
        return relay.start()

    def stop_all(self, sig=signal.SIGTERM):
        """Stop every relay started here, even those a test already stopped (their directories go too)."""
        for relay in self.started:
            relay.stop(sig)
