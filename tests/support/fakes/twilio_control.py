"""A fake of Twilio's two control-plane APIs ``cintel-relay setup`` writes to, on 127.0.0.1, shaped by their specs.

twilio/twilio-oai ``spec/json/twilio_intelligence_v3.json`` (one server, like intelligence.twilio.com):
``GET/POST /v3/ControlPlane/Configurations`` (list ``{items, meta}``; create 201) and ``GET/PUT/DELETE
/v3/ControlPlane/Configurations/{id}`` (200, 200, 204); errors ``{code, message, httpStatusCode, userError}``.
Language operators: ``GET/POST /v3/ControlPlane/Operators`` (Twilio's four authored ones, ``author`` TWILIO, and
custom ones, SELF; create 201 needs ``displayName`` 1-128, ``prompt``, ``outputFormat``) and ``GET/PUT/DELETE
/v3/ControlPlane/Operators/{id}`` (a PUT replaces the definition and bumps ``version``); a rule may only name an
operator the account has.

Its data plane, for reconciling a call's report: ``GET /v3/OperatorResults?conversationId=`` (``items``) and
``GET /v2/Conversations/{ConversationSid}/Communications`` (``communications``), paged the same way.

``spec/json/twilio_conversations_v2.json`` (another server, like conversations.twilio.com):
``GET/POST /v2/ControlPlane/Configurations``, ``GET/PUT/DELETE /v2/ControlPlane/Configurations/{id}``;
writes answer 202 ``{statusUrl, related}`` and take effect when the operation at ``GET
/v2/ControlPlane/Operations/{id}`` has been polled ``operation_polls`` times (``PENDING``, then
``COMPLETED``, or ``FAILED`` with an RFC 9457 ``error`` when ``fail_operations``); errors ``{code,
message, more_info, status}``.

Both check Basic auth (account SID + auth token, or API key + secret), refuse with a 400 naming the
field any body the spec refuses (required fields, enums, lengths, patterns, ranges), page lists by
``pageToken`` (``page_size`` caps a page, as a server may), and log every request for the tests.
"""

import base64
import json
import random
import re
import string
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cintel_relay.operators import TWILIO_OPERATORS

from .. import AUTH_TOKEN, ROOT, TICKET_SECRET, base_env
from ..fakes.twilio import ACCOUNT_SID, WORKSPACE_SID

API_KEY = "SK" + "3d" * 16
API_SECRET = "fake-api-secret-5f0c2b9a"
MEMORY_STORE = "mem_store_01k1etk2y5f1y9fpe2epfdtvv2"
CHANNELS = {"VOICE", "SMS", "RCS", "WHATSAPP", "CHAT"}
GROUPINGS = {"GROUP_BY_PROFILE", "GROUP_BY_PARTICIPANT_ADDRESSES", "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE"}
TRIGGERS = {"COMMUNICATION", "CONVERSATION_END", "CONVERSATION_INACTIVE"}
OUTPUT_FORMATS = {"TEXT", "JSON", "CLASSIFICATION", "EXTRACTION"}
_URI = re.compile(r"https?://[^/\s]+(/\S*)?")


def ttid(prefix: str) -> str:
    """A Twilio type-tagged id: ``<prefix>_`` then 26 base-32 characters, the first 0-7."""
    tail = random.choices(string.digits + string.ascii_lowercase[:22], k=25)
    return f"{prefix}_{random.choice('01234567')}" + "".join(tail)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Invalid(Exception):
    """The body breaks the spec at ``field``."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"Invalid request body: {field} {problem}")


def _need(ok: bool, field: str, problem: str) -> None:
    if not ok:
        raise Invalid(field, problem)


def _obj(value, field: str) -> dict:
    _need(isinstance(value, dict), field, "must be an object")
    return value


def _str(body: dict, key: str, at: str, required=False, max_len=None, pattern=None, enum=None, min_len=0):
    field = f"{at}{key}"
    if key not in body:
        _need(not required, field, "is required")
        return
    value = body[key]
    _need(isinstance(value, str), field, "must be a string")
    _need(min_len <= len(value) <= (max_len or len(value)), field, f"must be {min_len} to {max_len} characters")
    _need(pattern is None or re.fullmatch(pattern, value), field, f"must match {pattern}")
    _need(enum is None or value in enum, field, f"must be one of {', '.join(sorted(enum or ()))}")


def _list(body: dict, key: str, at: str, required=False, max_items=None, min_items=0) -> list:
    field = f"{at}{key}"
    if key not in body:
        _need(not required, field, "is required")
        return []
    value = body[key]
    _need(isinstance(value, list), field, "must be an array")
    _need(min_items <= len(value) <= (max_items or len(value)), field, f"must have {min_items} to {max_items} items")
    return value


def validate_operator(body) -> None:
    """``CreateOperator`` / ``UpdateOperator``: a ``LanguageOperator`` with displayName, prompt and outputFormat."""
    _obj(body, "body")
    _str(body, "displayName", "", required=True, min_len=1, max_len=128)
    _str(body, "description", "")
    _str(body, "prompt", "", required=True, min_len=1)
    _str(body, "outputFormat", "", required=True, enum=OUTPUT_FORMATS)
    if "outputSchema" in body:
        _obj(body["outputSchema"], "outputSchema")


def validate_intelligence(body, rule_ids=None, operators=None) -> None:
    """``CreateConfigurationRequest`` (``rule_ids`` None) or ``UpdateConfigurationRequest`` (ids the rules may name)."""
    _obj(body, "body")
    _str(body, "displayName", "", required=True, min_len=1, max_len=128)
    _str(body, "description", "")
    for r, rule in enumerate(_list(body, "rules", "", required=True, max_items=5)):
        at = f"rules[{r}]."
        _obj(rule, at[:-1])
        if rule_ids is not None and "id" in rule:
            _need(rule["id"] in rule_ids, f"{at}id", "names no rule of this configuration")
        for o, operator in enumerate(_list(rule, "operators", at, required=True, min_items=1, max_items=5)):
            _obj(operator, f"{at}operators[{o}]")
            _str(operator, "id", f"{at}operators[{o}].", required=True)
            if operators is not None:
                _need(operator["id"] in operators, f"{at}operators[{o}].id", "names no operator of this account")
            _need(isinstance(operator.get("version", 1), int), f"{at}operators[{o}].version", "must be an integer")
            _need(
                isinstance(operator.get("parameters", {}), dict), f"{at}operators[{o}].parameters", "must be an object"
            )
        for t, trigger in enumerate(_list(rule, "triggers", at, max_items=1)):
            _str(_obj(trigger, f"{at}triggers[{t}]"), "on", f"{at}triggers[{t}].", required=True, enum=TRIGGERS)
            count = _obj(trigger.get("parameters", {}), f"{at}triggers[{t}].parameters").get("count", 1)
            _need(isinstance(count, int) and 1 <= count <= 20, f"{at}triggers[{t}].parameters.count", "must be 1 to 20")
        for a, action in enumerate(_list(rule, "actions", at, required=True, max_items=2)):
            where = f"{at}actions[{a}]."
            _obj(action, where[:-1])
            _str(action, "type", where, required=True, enum={"WEBHOOK"})
            _str(action, "method", where, required=True, enum={"POST"})
            _str(action, "url", where, required=True, pattern=_URI.pattern)
        context = _obj(rule.get("context", {}), f"{at}context")
        memory = _obj(context.get("memory", {}), f"{at}context.memory")
        _need(isinstance(memory.get("enabled", False), bool), f"{at}context.memory.enabled", "must be a boolean")
        if "knowledge" in context:
            _list(
                _obj(context["knowledge"], f"{at}context.knowledge"),
                "bases",
                f"{at}context.knowledge.",
                required=True,
                min_items=1,
            )


def validate_orchestrator(body, fake, update=False) -> None:
    """The create (POST) or update (PUT) body of an Orchestrator configuration."""
    _obj(body, "body")
    _str(body, "displayName", "", required=not update, max_len=32, pattern=r"[a-zA-Z0-9-_ ]+")
    _str(body, "description", "", required=True, max_len=512)
    _str(body, "conversationGroupingType", "", required=True, enum=GROUPINGS)
    _str(body, "memoryStoreId", "", required=True)
    _need(
        body["memoryStoreId"] in fake.memory_stores,
        "memoryStoreId",
        f"{body['memoryStoreId']} is not a Memory Store of this account",
    )
    _need(not update or "channelSettings" in body, "channelSettings", "is required")
    for channel, settings in _obj(body.get("channelSettings", {}), "channelSettings").items():
        at = f"channelSettings.{channel}."
        _need(channel in CHANNELS, f"channelSettings.{channel}", f"must be one of {', '.join(sorted(CHANNELS))}")
        timeouts = _obj(_obj(settings, at[:-1]).get("statusTimeouts", {}), f"{at}statusTimeouts")
        for key, value in timeouts.items():
            _need(isinstance(value, int) and value >= 1, f"{at}statusTimeouts.{key}", "must be an integer of 1 or more")
        for i, rule in enumerate(_list(settings, "captureRules", at)):
            _str(_obj(rule, f"{at}captureRules[{i}]"), "from", f"{at}captureRules[{i}].", required=True)
            _str(rule, "to", f"{at}captureRules[{i}].", required=True)
    for i, callback in enumerate(_list(body, "statusCallbacks", "", max_items=2)):
        _str(
            _obj(callback, f"statusCallbacks[{i}]"),
            "url",
            f"statusCallbacks[{i}].",
            required=True,
            pattern=_URI.pattern,
        )
        _str(callback, "method", f"statusCallbacks[{i}].", enum={"POST", "GET"})
    for i, linked in enumerate(_list(body, "intelligenceConfigurationIds", "", max_items=5)):
        _need(
            linked in fake.intelligence,
            f"intelligenceConfigurationIds[{i}]",
            f"{linked!r} is not an Intelligence configuration of this account",
        )
    _need(isinstance(body.get("memoryExtractionEnabled", False), bool), "memoryExtractionEnabled", "must be a boolean")


class FakeControlPlane:
    """The fake's state: configurations of both APIs, pending operations, and every request seen."""

    def __init__(self):
        self.lock = threading.Lock()
        self.servers = {}
        for api in ("intelligence", "conversations"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.fake, server.api = self, api
            self.servers[api] = server
        self.intelligence_url = f"http://127.0.0.1:{self.servers['intelligence'].server_address[1]}"
        self.conversations_url = f"http://127.0.0.1:{self.servers['conversations'].server_address[1]}"
        self.reset()

    def reset(self):
        self.intelligence, self.orchestrator, self.operations = {}, {}, {}
        #: Language operators by id: Twilio's own (author TWILIO), then custom ones (SELF).
        self.operators = {
            operator_id: {"id": operator_id, "displayName": op.name, "version": 1, "author": "TWILIO"}
            for operator_id, op in TWILIO_OPERATORS.items()
        }
        self.requests = []
        self.page_size = None
        self.operation_polls = 2
        self.fail_operations = False
        self.memory_stores = {MEMORY_STORE}
        #: A hostile control plane: ``(api, method, path, query) -> (status, body, headers) or None``; a body
        #: that is bytes is sent as is. None answers as Twilio does.
        self.hostile = None
        #: What the data plane holds: operator results (Intelligence v3), communications by conversation (v2).
        self.operator_results, self.communications = [], {}

    def start(self):
        for server in self.servers.values():
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    @property
    def writes(self) -> list:
        """Every request that could change something (POST, PUT, PATCH, DELETE), refused or not."""
        return [r for r in self.requests if r["method"] != "GET"]

    def add_intelligence(self, display_name: str, description: str = "", rules=()) -> dict:
        """A configuration someone else made (in Console, or another tool)."""
        resource = {
            "accountId": ACCOUNT_SID,
            "id": ttid("intelligence_configuration"),
            "displayName": display_name,
            "description": description,
            "version": 1,
            "dateCreated": _now(),
            "dateUpdated": _now(),
            "rules": [{"id": ttid("intelligence_configurationrule"), **rule} for rule in rules],
        }
        self.intelligence[resource["id"]] = resource
        return resource

    def add_operator(self, body: dict, author: str = "SELF") -> dict:
        """A language operator: created through the API, or someone else's (made in Console)."""
        resource = {"id": ttid("intelligence_operator"), "version": 1, "author": author, **body}
        self.operators[resource["id"]] = resource
        return resource

    def add_orchestrator(self, display_name: str, description: str = "someone else's", **fields) -> dict:
        """An Orchestrator configuration someone else made."""
        resource = {
            "id": ttid("conv_configuration"),
            "displayName": display_name,
            "description": description,
            "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
            "memoryStoreId": MEMORY_STORE,
            "createdAt": _now(),
            "updatedAt": _now(),
            "version": 1,
            **fields,
        }
        self.orchestrator[resource["id"]] = resource
        return resource


def intelligence_error(status: int, message: str) -> dict:
    """The Intelligence v3 error body."""
    return {"code": 20001 if status == 400 else 20404, "message": message, "httpStatusCode": status, "userError": True}


def conversations_error(status: int, message: str) -> dict:
    """The Conversations v2 error body (also what Twilio's edge answers a refused login with)."""
    code = {400: 20001, 401: 20003, 404: 20404}.get(status, 20500)
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        """Quiet: the tests read ``fake.requests``."""

    def _send(self, status: int, body=None, headers=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _user(self):
        try:
            kind, _, encoded = self.headers.get("Authorization", "").partition(" ")
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        valid = {(ACCOUNT_SID, AUTH_TOKEN), (API_KEY, API_SECRET)}
        return user if kind == "Basic" and (user, password) in valid else None

    def _handle(self, method: str):
        fake, api = self.server.fake, self.server.api
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        user = self._user()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        error = intelligence_error if api == "intelligence" else conversations_error
        with fake.lock:
            fake.requests.append(
                {
                    "api": api,
                    "method": method,
                    "path": url.path,
                    "query": query,
                    "body": body,
                    "user": user,
                    "idempotency_key": self.headers.get("Idempotency-Key"),
                }
            )
            if user is None:
                return self._send(401, conversations_error(401, "Authenticate"))
            answer = fake.hostile and fake.hostile(api, method, url.path, query)
            if answer:
                return self._send(*answer)
            try:
                routes = _intelligence if api == "intelligence" else _conversations
                return self._send(*routes(self, fake, method, url.path, query, body))
            except Invalid as exc:
                return self._send(400, error(400, str(exc)))
            except KeyError as exc:
                return self._send(404, error(404, f"The requested resource {exc.args[0]} was not found"))

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")


def _page(items: list, key: str, query: dict, cap) -> tuple:
    size = int(query.get("pageSize", 50))
    _need(1 <= size <= 1000, "pageSize", "must be 1 to 1000")
    size = min(size, cap or size)
    try:
        start = int(base64.urlsafe_b64decode(query.get("pageToken", "MA==")).decode())
    except ValueError:
        raise Invalid("pageToken", "is not a token this API gave") from None
    page = items[start : start + size]
    meta = {"key": key, "pageSize": len(page)}
    if start + size < len(items):
        meta["nextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
    return 200, {key: page, "meta": meta}


def _intelligence(handler, fake, method, path, query, body) -> tuple:
    if path == "/v3/OperatorResults" and method == "GET":
        wanted = query.get("conversationId")
        results = [r for r in fake.operator_results if wanted is None or r["conversationId"] == wanted]
        return _page(results, "items", query, fake.page_size)
    if path.startswith("/v3/ControlPlane/Operators"):
        return _operators(fake, method, path, query, body)
    base = "/v3/ControlPlane/Configurations"
    if path == base and method == "GET":
        return _page(list(fake.intelligence.values()), "items", query, fake.page_size)
    if path == base and method == "POST":
        validate_intelligence(body, operators=fake.operators)
        return 201, fake.add_intelligence(body["displayName"], body.get("description", ""), body["rules"])
    resource = _item(fake.intelligence, base, "intelligence_configuration", path)
    if method == "GET":
        return 200, resource
    if method == "DELETE":
        del fake.intelligence[resource["id"]]
        return 204, None
    if method == "PUT":
        validate_intelligence(body, rule_ids={r["id"] for r in resource["rules"]}, operators=fake.operators)
        resource.update(
            displayName=body["displayName"],
            description=body.get("description", ""),
            version=resource["version"] + 1,
            dateUpdated=_now(),
            rules=[{**rule, "id": rule.get("id") or ttid("intelligence_configurationrule")} for rule in body["rules"]],
        )
        return 200, resource
    raise KeyError(path)


def _item(store: dict, base: str, kind: str, path: str) -> dict:
    """The resource of ``store`` that ``path`` names (``base/<a Twilio id of kind>``); KeyError for any other path
    (the server answers 404)."""
    match = re.fullmatch(re.escape(base) + "/(" + kind + r"_[0-7][0-9a-z]{25})", path)
    if not match:
        raise KeyError(path)
    return store[match.group(1)]


def _operators(fake, method, path, query, body) -> tuple:
    base = "/v3/ControlPlane/Operators"
    if path == base and method == "GET":
        return _page(list(fake.operators.values()), "items", query, fake.page_size)
    if path == base and method == "POST":
        validate_operator(body)
        return 201, fake.add_operator(body)
    resource = _item(fake.operators, base, "intelligence_operator", path)
    if method == "GET":
        return 200, resource
    _need(resource["author"] == "SELF", "id", "is a Twilio-authored operator, which cannot be changed")
    if method == "DELETE":
        _need(
            not any(
                o.get("id") == resource["id"]
                for c in fake.intelligence.values()
                for r in c["rules"]
                for o in r["operators"]
            ),
            "id",
            "is used by a rule of an Intelligence configuration",
        )
        del fake.operators[resource["id"]]
        return 204, None
    if method == "PUT":
        validate_operator(body)
        fake.operators[resource["id"]] = {
            "id": resource["id"],
            "version": resource["version"] + 1,
            "author": "SELF",
            **body,
        }
        return 200, fake.operators[resource["id"]]
    raise KeyError(path)


def _conversations(handler, fake, method, path, query, body) -> tuple:
    communications = re.fullmatch(r"/v2/Conversations/([^/]+)/Communications", path)
    if communications and method == "GET":
        return _page(fake.communications.get(communications.group(1), []), "communications", query, fake.page_size)
    base = "/v2/ControlPlane/Configurations"
    if path == base and method == "GET":
        return _page(list(fake.orchestrator.values()), "configurations", query, fake.page_size)
    operation = re.fullmatch(r"/v2/ControlPlane/Operations/(proc_job_[0-7][0-9a-z]{25})", path)
    if operation and method == "GET":
        return 200, _poll(fake, fake.operations[operation.group(1)])
    if path == base and method == "POST":
        validate_orchestrator(body, fake)
        return _accept(handler, fake, "create", ttid("conv_configuration"), body)
    resource = _item(fake.orchestrator, base, "conv_configuration", path)
    if method == "GET":
        return 200, resource
    if method == "PUT":
        validate_orchestrator(body, fake, update=True)
        return _accept(handler, fake, "update", resource["id"], body)
    if method == "DELETE":
        return _accept(handler, fake, "delete", resource["id"], None)
    raise KeyError(path)


def _accept(handler, fake, kind: str, config_id: str, body) -> tuple:
    op_id = ttid("proc_job")
    status_url = f"{fake.conversations_url}/v2/ControlPlane/Operations/{op_id}"
    fake.operations[op_id] = {
        "operationId": op_id,
        "status": "PENDING",
        "createdAt": _now(),
        "statusUrl": status_url,
        "related": {"configurationId": config_id},
        "_kind": kind,
        "_body": body,
        "_polls": fake.operation_polls,
        "_fail": fake.fail_operations,
    }
    headers = {"Operation-Id": op_id, "Location": status_url, "Retry-After": "0"}
    return 202, {"statusUrl": status_url, "related": {"configurationId": config_id}}, headers


def _poll(fake, operation: dict) -> dict:
    """One poll: PENDING while polls remain, then the write takes effect (or the operation fails)."""
    if operation["status"] == "PENDING":
        if operation["_polls"] > 0:
            operation["_polls"] -= 1
        elif operation["_fail"]:
            operation.update(
                status="FAILED",
                completedAt=_now(),
                error={
                    "type": "https://www.twilio.com/docs/errors/20500",
                    "title": "Internal error",
                    "status": 500,
                    "detail": "The configuration could not be provisioned; retry later",
                },
            )
        else:
            config_id = operation["related"]["configurationId"]
            if operation["_kind"] == "delete":
                del fake.orchestrator[config_id]
            else:
                previous = fake.orchestrator.get(config_id, {"createdAt": _now(), "version": 0})
                fake.orchestrator[config_id] = {
                    **operation["_body"],
                    "id": config_id,
                    "createdAt": previous["createdAt"],
                    "updatedAt": _now(),
                    "version": previous["version"] + 1,
                }
            operation.update(status="COMPLETED", completedAt=_now(), error=None)
    return {k: v for k, v in operation.items() if not k.startswith("_")}


def relay_env(fake: FakeControlPlane, **extra) -> dict:
    """A production relay's environment (Flex stream auth, an API key) whose Twilio APIs are ``fake``."""
    settings = dict(
        SERVER_URL="https://relay.example.com",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_API_KEY=API_KEY,
        TWILIO_API_SECRET=API_SECRET,
        CINTEL_MEMORY_STORE_ID=MEMORY_STORE,
        CINTEL_TICKET_SECRET=TICKET_SECRET,
        CINTEL_TASKROUTER_WORKSPACE_SID=WORKSPACE_SID,
        CINTEL_INTELLIGENCE_URL=fake.intelligence_url,
        CINTEL_CONVERSATIONS_URL=fake.conversations_url,
    )
    return base_env(**{**settings, **extra})


def run_setup(env: dict, *args: str):
    """The real command, in a subprocess of this interpreter: ``cintel-relay setup ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "cintel_relay.cli", "setup", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
