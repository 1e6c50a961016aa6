"""A real redis-server process on a free loopback port."""

import os
import shutil
import subprocess
import tempfile

import redis

from .processes import free_port, wait_for

#: The password of the ``tls_redis`` fixture's server, as a provider's ``rediss://`` URL carries one.
TLS_REDIS_PASSWORD = "p4ssw0rd-from-the-addon"


class RedisServer:
    """A real redis-server on a free loopback port, which a test may stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.proc = None
        # Its own directory: a replica writes the RDB it syncs from its primary there, not in the checkout.
        self.dir = tempfile.mkdtemp(prefix="cintel-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    #: Extra redis-server arguments (a replica's ``--replicaof``).
    args: tuple = ()

    def listen_args(self) -> tuple:
        """How it listens: plain TCP on its port."""
        return ("--port", str(self.port))

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def start(self):
        """Start it and wait until it answers PING."""
        os.makedirs(self.dir, exist_ok=True)  # again, after a stop
        self.proc = subprocess.Popen(
            [
                "redis-server",
                *self.listen_args(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = self.client()
        try:
            wait_for(lambda: serves(client, self.proc), what=f"redis-server on port {self.port}")
        finally:
            client.close()
        return self

    def stop(self):
        """Kill it (as a crash would) and reap it."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class TLSRedisServer(RedisServer):
    """A redis-server that speaks only TLS, with a password (as Heroku Key-Value Store), using ``cert`` and
    ``key``; its URL is ``rediss://``."""

    def __init__(self, cert, key):
        super().__init__()
        self.url = f"rediss://:{TLS_REDIS_PASSWORD}@127.0.0.1:{self.port}/0"
        self.args = ("--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-auth-clients", "no")
        self.args += ("--requirepass", TLS_REDIS_PASSWORD)

    def listen_args(self) -> tuple:
        return ("--port", "0", "--tls-port", str(self.port))

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=TLS_REDIS_PASSWORD, ssl=True, ssl_cert_reqs=None)


class RedisReplica(RedisServer):
    """A redis-server replicating from ``primary``; :meth:`start` returns once it is in sync, as both sides see it: the
    replica's link is up, and the primary lists it online (WAIT counts only such replicas; the primary may see the
    replica online a moment after the replica sees its link up)."""

    def __init__(self, primary: RedisServer):
        super().__init__()
        self.primary_port = primary.port
        self.args = ("--replicaof", "127.0.0.1", str(primary.port))

    def start(self):
        super().start()
        client, primary = redis.Redis(port=self.port), redis.Redis(port=self.primary_port)
        wait_for(lambda: _synced(client), what="the replica to sync with its primary")
        wait_for(lambda: _online(primary, self.port), what="the primary to list the replica online")
        client.close()
        primary.close()
        return self


def _synced(client) -> bool:
    try:
        return client.info("replication").get("master_link_status") == "up"
    except (redis.RedisError, OSError):
        return False


def _online(primary, port: int) -> bool:
    try:
        info = primary.info("replication")
    except (redis.RedisError, OSError):
        return False
    return any(
        isinstance(v, dict) and v.get("port") == port and v.get("state") == "online"
        for k, v in info.items()
        if k.startswith("slave")
    )


def serves(client, proc: subprocess.Popen) -> bool:
    """True once the server answering ``client`` is ``proc``; AssertionError if ``proc`` exited (its port was taken
    since it was chosen: whoever answers there must not pass for it)."""
    if proc.poll() is not None:
        raise AssertionError(f"redis-server {' '.join(proc.args[1:])} exited with {proc.returncode}: port taken?")
    try:
        return client.info("server")["process_id"] == proc.pid
    except (redis.RedisError, OSError):
        return False


def flushed_client(url: str):
    """A fixture's body: ``yield from flushed_client(url)`` hands the test a client of an emptied Redis."""
    client = redis.Redis.from_url(url)
    client.flushall()
    yield client
    client.close()
