"""A fake of the two Twilio APIs the relay asks about subscribers, on 127.0.0.1, speaking their documented shapes.

- ``POST /v1/Accounts/{AccountSid}/Tokens/validate`` (iam.twilio.com): Basic auth with the account SID
  and auth token, JSON ``{"token"}``; answers ``{valid, code, message, expiration, realm_user_id,
  identity, roles, worker_sid}``.
- ``GET /v1/Workspaces/{WorkspaceSid}/Tasks?EvaluateTaskAttributes=call_sid == "CA..."`` and
  ``GET /v1/Workspaces/{WorkspaceSid}/Tasks/{TaskSid}/Reservations?WorkerSid=WK...``
  (taskrouter.twilio.com): list pages ``{"tasks"|"reservations": [...], "meta": {"key": ...}}``.

Wrong credentials get Twilio's 401 error body. Tests can make it slow (``delay``), down (``down``) or
rate limiting (``throttled``: Twilio's 429 with ``Retry-After``).
"""

import base64
import json
import re
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .. import AUTH_TOKEN

ACCOUNT_SID = "AC" + "1f" * 16
WORKSPACE_SID = "WS" + "2e" * 16


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _error(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio:
    """The fake's state: users by token, tasks and their reservations, and every request it saw."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.fake = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.reset()

    def reset(self):
        self.users = {}
        self.tasks = []
        self.reservations = {}
        self.requests = []
        self.delay = 0.0
        self.down = False
        self.throttled = False

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, identity, roles=("agent",), worker_sid=None, expires_in=3600.0) -> str:
        """A signed-in Flex user; returns their (opaque) token."""
        token = "eyJ.fake-jwe." + uuid.uuid4().hex
        expiration = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
        self.users[token] = {
            "identity": identity,
            "roles": list(roles),
            "worker_sid": worker_sid,
            "realm_user_id": f"{identity}@example.com",
            "expiration": expiration.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        return token

    def add_task(self, call_sid, worker_sid, status="accepted") -> str:
        """A voice task for ``call_sid`` reserved by ``worker_sid`` with ``status``; returns the task SID."""
        task_sid = sid("WT")
        self.tasks.append(
            {
                "sid": task_sid,
                "account_sid": ACCOUNT_SID,
                "workspace_sid": WORKSPACE_SID,
                "assignment_status": "assigned",
                "task_channel_unique_name": "voice",
                "attributes": json.dumps({"call_sid": call_sid, "direction": "inbound", "from": "+15125550123"}),
            }
        )
        self.reservations[task_sid] = [
            {
                "sid": sid("WR"),
                "account_sid": ACCOUNT_SID,
                "workspace_sid": WORKSPACE_SID,
                "task_sid": task_sid,
                "worker_sid": worker_sid,
                "worker_name": "agent",
                "reservation_status": status,
            }
        ]
        return task_sid

    def calls(self, path_part: str) -> list:
        return [r for r in self.requests if path_part in r["path"]]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        """Quiet: the tests read ``fake.requests`` instead."""

    def _send(self, status: int, body: dict, headers=()):
        raw = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        try:
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the relay gave up waiting, as a timeout test wants it to

    def _authorized(self) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _handle(self, method: str):
        fake = self.server.fake
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        fake.requests.append(
            {"method": method, "path": url.path, "query": query, "body": body, "authorized": self._authorized()}
        )
        if fake.delay:
            time.sleep(fake.delay)
        if fake.down:
            return self._send(503, _error(503, 20503, "Service Unavailable"))
        if fake.throttled:
            return self._send(429, _error(429, 20429, "Too Many Requests"), headers=[("Retry-After", "7")])
        if not self._authorized():
            return self._send(401, _error(401, 20003, "Authentication Error - invalid username"))
        if method == "POST" and url.path == f"/v1/Accounts/{ACCOUNT_SID}/Tokens/validate":
            return self._send(200, self._validate(fake, body))
        tasks = f"/v1/Workspaces/{WORKSPACE_SID}/Tasks"
        if method == "GET" and url.path == tasks:
            match = re.fullmatch(r'call_sid == "(CA[0-9a-f]{32})"', query.get("EvaluateTaskAttributes", ""))
            found = [t for t in fake.tasks if match and json.loads(t["attributes"])["call_sid"] == match.group(1)]
            return self._send(200, {"tasks": found, "meta": {"key": "tasks", "page": 0, "page_size": 50}})
        reservations = re.fullmatch(re.escape(tasks) + r"/(WT[0-9a-f]{32})/Reservations", url.path)
        if method == "GET" and reservations:
            found = [
                r
                for r in fake.reservations.get(reservations.group(1), [])
                if r["worker_sid"] == query.get("WorkerSid", r["worker_sid"])
            ]
            return self._send(200, {"reservations": found, "meta": {"key": "reservations", "page": 0}})
        return self._send(404, _error(404, 20404, f"The requested resource {url.path} was not found"))

    @staticmethod
    def _validate(fake, body) -> dict:
        user = fake.users.get((body or {}).get("token"))
        if user is None:
            return {"valid": False, "code": 20101, "message": "Invalid Access Token"}
        expiration = datetime.fromisoformat(user["expiration"])
        if expiration <= datetime.now(timezone.utc):
            return {"valid": False, "code": 20104, "message": "Access Token expired or expiration date invalid"}
        return {"valid": True, "code": 0, "message": None, **user}

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")
