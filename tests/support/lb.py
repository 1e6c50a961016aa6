"""Test support: the project's own nginx config (deploy/nginx.conf) run by a real nginx on loopback."""

import os
import re
import shutil
import subprocess
import tempfile

from . import ROOT, answers, free_port, wait_for

NGINX_CONF = os.path.join(ROOT, "deploy", "nginx.conf")
_UPSTREAM_SERVER = re.compile(r"^(\s*)server relay:8000( [^;]*)?;$", re.M)
_LISTEN = re.compile(r"^(\s*)listen 8080;$", re.M)


def render(conf: str, upstream_ports, port: int) -> str:
    """The compose config with only its upstream servers and listen address swapped for loopback ones."""
    conf, upstreams = _UPSTREAM_SERVER.subn(
        lambda m: "\n".join(f"{m[1]}server 127.0.0.1:{p}{m[2] or ''};" for p in upstream_ports), conf
    )
    conf, listens = _LISTEN.subn(lambda m: f"{m[1]}listen 127.0.0.1:{port};", conf)
    assert (upstreams, listens) == (1, 1), "deploy/nginx.conf no longer has the upstream/listen lines tests render"
    return conf


class Nginx:
    """A real nginx in the foreground, as a child process, with its pid and temp files in a private prefix."""

    def __init__(self, upstream_ports):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.prefix = tempfile.mkdtemp(prefix="cintel-nginx-")
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(NGINX_CONF, encoding="utf-8") as fh:
            rendered = render(fh.read(), upstream_ports, self.port)
        with open(self.conf, "w", encoding="utf-8") as fh:
            fh.write(rendered)
        self.log = tempfile.TemporaryFile()
        self.proc = None

    def _argv(self, *extra):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return [
            nginx,
            "-p",
            self.prefix,
            "-c",
            self.conf,
            "-e",
            "stderr",
            "-g",
            f"pid {self.prefix}/nginx.pid; daemon off;",
            *extra,
        ]

    def start(self):
        check = subprocess.run(self._argv("-t"), capture_output=True, text=True)
        assert check.returncode == 0, f"nginx -t refused deploy/nginx.conf:\n{check.stderr}"
        self.proc = subprocess.Popen(self._argv(), stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: answers(self, "/lb-health"), what=f"nginx on port {self.port}")
        return self

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.prefix, ignore_errors=True)
