"""A real Redis Cluster for tests: six redis-server processes (3 masters, 3 replicas) on free ports."""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile

import redis

from . import wait_for
from .redis_server import serves


def free_cluster_ports(count: int) -> list[int]:
    """``count`` distinct free ports below the ephemeral range, each with its cluster bus port (+10000) free too.

    Distinct matters: two nodes given one port would leave the second unable to bind while the first answers
    for it, and the cluster would never be whole."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 22767)
        if port in ports:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        ports.append(port)
    return ports


class RedisCluster:
    """Six cluster-enabled redis-server processes joined by ``redis-cli --cluster create``."""

    def __init__(self, node_timeout_ms: int = 2000):
        self.ports = free_cluster_ports(6)
        self.node_timeout_ms = node_timeout_ms
        self.dir = tempfile.mkdtemp(prefix="cintel-cluster-")
        self.procs = {}

    @property
    def url(self) -> str:
        """A URL naming one node, as a managed cluster's configuration endpoint would."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def _start_node(self, port: int):
        workdir = os.path.join(self.dir, str(port))
        os.makedirs(workdir, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(self.node_timeout_ms),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port)
        try:
            wait_for(lambda: serves(client, self.procs[port]), what=f"cluster node on port {port}")
        finally:
            client.close()

    def start(self):
        """Six nodes made one cluster, every replica in sync; if that fails, no node is left running."""
        try:
            for port in self.ports:
                self._start_node(port)
            subprocess.run(
                [
                    "redis-cli",
                    "--cluster",
                    "create",
                    *[f"127.0.0.1:{p}" for p in self.ports],
                    "--cluster-replicas",
                    "1",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            # A replica's first sync waits for a scheduler slot on a busy machine: give it a minute.
            wait_for(self.healthy, timeout=60, what="cluster_state:ok with 3 masters and 3 replicas")
        except BaseException:
            self.stop()
            raise
        return self

    def info(self, port: int) -> dict:
        return redis.Redis(host="127.0.0.1", port=port).info("replication")

    def healthy(self) -> bool:
        """Every live node says the cluster is ok, every master has its replica, and every replica's link to
        its master is up (a replica that never synced will not take over: its data is too old to be trusted)."""
        try:
            live = [p for p, proc in self.procs.items() if proc.poll() is None]
            states = [redis.Redis(host="127.0.0.1", port=p).cluster("info")["cluster_state"] for p in live]
            roles = {p: self.info(p) for p in live}
            masters = [p for p, info in roles.items() if info["role"] == "master"]
            return (
                all(s == "ok" for s in states)
                and len(masters) == 3
                and all(roles[p]["connected_slaves"] >= 1 for p in masters)
                and all(info["master_link_status"] == "up" for info in roles.values() if info["role"] == "slave")
            )
        except (redis.RedisError, OSError):
            return False

    def client(self) -> redis.RedisCluster:
        """A cluster client that starts from a live node (the first may have been killed)."""
        port = next(p for p in self.ports if self.procs[p].poll() is None)
        return redis.RedisCluster(host="127.0.0.1", port=port)

    def master_of(self, key: str) -> int:
        """The port of the master that owns ``key``'s slot."""
        with self.client() as client:
            return client.get_node_from_key(key).port

    def kill(self, port: int):
        """SIGKILL a node, as a crashed host would be lost."""
        self.procs[port].send_signal(signal.SIGKILL)
        self.procs[port].wait()

    def restart(self, port: int):
        """Start a killed node again: it rejoins from its nodes.conf, as a replica of whoever took over."""
        self._start_node(port)

    def wait_failover(self, dead: int, timeout: float = 30):
        """Wait until a replica took over the dead master's slots and the cluster is ok again."""

        def promoted():
            try:
                live = [p for p, proc in self.procs.items() if proc.poll() is None]
                ok = all(redis.Redis(host="127.0.0.1", port=p).cluster("info")["cluster_state"] == "ok" for p in live)
                masters = [p for p in live if self.info(p)["role"] == "master"]
                return ok and len(masters) == 3
            except (redis.RedisError, OSError):
                return False

        wait_for(promoted, timeout=timeout, interval=0.2, what=f"a replica to take over from port {dead}")

    def stop(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
