"""Twilio's control plane for ``cintel-relay setup``: Intelligence v3 and Orchestrator (Conversations v2) configurations.

Paths, bodies, paging and the 202 operations follow twilio/twilio-oai ``spec/json/twilio_intelligence_v3.json``
and ``spec/json/twilio_conversations_v2.json``:

- ``/v3/ControlPlane/Configurations`` on intelligence.twilio.com: list (``items``), create (201), and
  ``/{id}`` update (PUT, 200) and delete (204), synchronously.
- ``/v3/ControlPlane/Operators`` on intelligence.twilio.com: list (``items``, Twilio-authored and custom), create
  (201; ``displayName``, ``prompt`` and ``outputFormat`` required), and ``/{id}`` update (PUT, a full replacement,
  200) and delete (204); Twilio assigns the id and bumps ``version`` on each update.
- ``/v2/ControlPlane/Configurations`` on conversations.twilio.com: list (``configurations``); create,
  update (PUT) and delete answer 202 with ``{statusUrl, related}``; the operation at ``statusUrl`` is
  ``PENDING`` until it is ``COMPLETED`` or ``FAILED`` (with an RFC 9457 ``error``).
- Lists are token-paged: ``pageSize``/``pageToken`` in, ``meta{key, pageSize, nextToken}`` out.
- Read back for reconciling a call's report (:mod:`cintel_relay.reports.reconcile`): ``GET /v3/OperatorResults
  ?conversationId=`` (``items``) and ``GET /v2/Conversations/{ConversationSid}/Communications``
  (``communications``).

Requests go through twilio-python's ``Client.request``, which brings its authentication (account SID
and auth token, or API key and secret), User-Agent and JSON encoding. The generated resources
(``client.intelligence.v3.configurations``, ``client.conversations.v2.configurations``) are not used:
in twilio 9.13 their Orchestrator writes drop the ``Idempotency-Key`` header (the generated code
rebuilds ``headers`` after setting it), the Orchestrator delete returns the 202 operation as a bare
"success" value, and their base URLs can only be moved by mutating the client's domain objects, while
the relay must reach ``CINTEL_INTELLIGENCE_URL`` and ``CINTEL_CONVERSATIONS_URL`` (a fake, in tests).
"""

import json
import time
import uuid
from typing import Callable, Iterator, Mapping, Optional
from urllib.parse import urljoin, urlsplit

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

INTELLIGENCE_CONFIGURATIONS = "/v3/ControlPlane/Configurations"
ORCHESTRATOR_CONFIGURATIONS = "/v2/ControlPlane/Configurations"
OPERATOR_RESULTS = "/v3/OperatorResults"
OPERATORS = "/v3/ControlPlane/Operators"
#: The spec's largest page; fewer round trips for accounts with many configurations.
PAGE_SIZE = 1000
#: Retry-After is honoured within these bounds (seconds) while an operation is pending.
MIN_POLL, MAX_POLL = 0.2, 10.0
#: Bounds on what a list may cost: an account has a handful of configurations, so a list that runs past
#: these is a control plane that is not Twilio's, or a broken one.
MAX_PAGES = 50
#: The most of one answer read; a page of 1000 configurations is well under it.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


def _object(value) -> dict:
    """``value`` when it is a JSON object, else an empty one: a malformed part reads as absent."""
    return value if isinstance(value, dict) else {}


class ControlPlaneError(Exception):
    """Twilio could not be asked, or refused; the message says what to do. Never carries a secret."""


class CredentialsRefused(ControlPlaneError):
    """Twilio answered 401/403 to the configured credentials."""


class TwilioRefused(ControlPlaneError):
    """Twilio answered another 4xx/5xx; the message is Twilio's, naming the field it objected to."""

    def __init__(self, what: str, status: int, body: dict):
        self.status = status
        self.code = body.get("code")
        detail = body.get("message") or body.get("detail") or body.get("title") or "no reason given"
        params = _object(body.get("params"))
        extra = "".join(f"; {k}: {v}" for k, v in params.items() if k != "twilioErrorCodeUrl")
        code = f", error {self.code}" if self.code else ""
        super().__init__(f"Twilio refused to {what} (HTTP {status}{code}): {detail}{extra}")


class OperationFailed(ControlPlaneError):
    """An Orchestrator operation ended FAILED."""


def credentials(config) -> Optional[tuple]:
    """The (username, password) pair Twilio's APIs take: the API key if configured, else the account's auth token."""
    if config.twilio_api_key:
        return config.twilio_api_key, config.twilio_api_secret
    if config.twilio_account_sid and config.twilio_auth_token:
        return config.twilio_account_sid, config.twilio_auth_token
    return None


def missing_credentials(env: Mapping[str, str]) -> Optional[str]:
    """One line naming what to set when ``env`` has no Twilio credentials at all (``setup`` and ``check`` need
    them; the local demo does not), else None."""
    token = env.get("TWILIO_AUTH_TOKEN", "").strip()
    key = env.get("TWILIO_API_KEY", "").strip() and env.get("TWILIO_API_SECRET", "").strip()
    if token or key:
        return None
    return (
        "no Twilio credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (Console > Account Info), and "
        "optionally TWILIO_API_KEY and TWILIO_API_SECRET; `cintel-relay demo` runs without any"
    )


def _json(response) -> dict:
    try:
        body = json.loads(response.text or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _read_bounded(response, *args, **kwargs):
    """A requests response hook: read the body, at most :data:`MAX_ANSWER_BYTES`, before requests reads it whole."""
    data = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    if len(data) > MAX_ANSWER_BYTES:
        response.close()
        raise ControlPlaneError(
            f"an answer from {urlsplit(response.url).netloc} is larger than {MAX_ANSWER_BYTES // 2**20} MiB: not read; "
            "check CINTEL_INTELLIGENCE_URL / CINTEL_CONVERSATIONS_URL"
        )
    response._content, response._content_consumed = data, True
    return response


def _malformed(what: str, problem: str) -> ControlPlaneError:
    return ControlPlaneError(f"Twilio's answer when asked to {what} is malformed ({problem}): not used")


def _retry_after(response, default: float = 1.0) -> float:
    try:
        seconds = float((response.headers or {}).get("Retry-After", default))
    except (TypeError, ValueError):
        seconds = default
    return min(max(seconds, MIN_POLL), MAX_POLL)


class ControlPlane:
    """One account's Intelligence and Orchestrator configurations, over twilio-python's HTTP client."""

    def __init__(self, config, progress: Callable[[str], None], timeout: float = 15.0, wait: float = 300.0):
        pair = credentials(config)
        if pair is None:
            raise ControlPlaneError(
                "no Twilio credentials: set TWILIO_API_KEY and TWILIO_API_SECRET (an API key), "
                "or TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            )
        http = TwilioHttpClient(timeout=timeout, request_hooks={"response": [_read_bounded]})
        self.client = Client(pair[0], pair[1], account_sid=config.twilio_account_sid, http_client=http)
        self.intelligence = config.intelligence_url + INTELLIGENCE_CONFIGURATIONS
        self.orchestrator = config.conversations_url + ORCHESTRATOR_CONFIGURATIONS
        #: The only places the credentials go: the two configured APIs.
        self._origins = {_origin(config.intelligence_url), _origin(config.conversations_url)}
        self.progress = progress
        self.wait = wait

    def _call(self, what: str, method: str, url: str, body=None, params=None, headers=None):
        if _origin(url) not in self._origins:
            raise ControlPlaneError(
                f"Twilio's answer named {urlsplit(url).netloc or url!r} to {what}, not one of the configured Twilio "
                "APIs: not asked, so the credentials go nowhere else"
            )
        headers = dict(headers or {}, Accept="application/json")
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.client.request(method, url, params=params, data=body, headers=headers)
        except requests.RequestException as exc:
            raise ControlPlaneError(
                f"cannot reach Twilio to {what} ({type(exc).__name__}) at {url}: check the "
                "network, or CINTEL_INTELLIGENCE_URL / CINTEL_CONVERSATIONS_URL if you set them"
            ) from exc
        except TwilioException as exc:  # twilio-python raises the plain base class for some failures
            raise ControlPlaneError(f"twilio-python could not {what}: {exc}") from exc
        if response.status_code in (401, 403):
            raise CredentialsRefused(
                f"Twilio refused the credentials (HTTP {response.status_code}) when asked to {what}: check "
                "TWILIO_API_KEY/TWILIO_API_SECRET, or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN, and that the key may "
                "use Conversation Intelligence and Conversation Orchestrator"
            )
        if response.status_code >= 400:
            raise TwilioRefused(what, response.status_code, _json(response))
        if 300 <= response.status_code < 400:
            raise ControlPlaneError(
                f"Twilio answered HTTP {response.status_code} (a redirect, not followed) when asked to {what}: check "
                "CINTEL_INTELLIGENCE_URL / CINTEL_CONVERSATIONS_URL if you set them"
            )
        return response

    def _list(self, what: str, url: str, query: Optional[dict] = None) -> Iterator[dict]:
        token, page, seen = None, 1, set()
        while True:
            self.progress(f"reading {what} (page {page})")
            params = {**(query or {}), "pageSize": PAGE_SIZE, **({"pageToken": token} if token else {})}
            body = _json(self._call(f"list {what}", "GET", url, params=params))
            meta = body.get("meta") or {}
            if not isinstance(meta, dict):
                raise _malformed(f"list {what}", "meta is not an object")
            items = body.get(meta.get("key") or "", [])
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise _malformed(f"list {what}", "the list is not a list of objects")
            yield from items
            token = meta.get("nextToken")
            if token is not None and not isinstance(token, str):
                raise _malformed(f"list {what}", "nextToken is not a string")
            if not token or token in seen:
                return
            if page >= MAX_PAGES:
                raise ControlPlaneError(
                    f"the list of {what} runs past {MAX_PAGES} pages of {PAGE_SIZE}: stopped reading it (an account "
                    "has a handful; check CINTEL_INTELLIGENCE_URL / CINTEL_CONVERSATIONS_URL if you set them)"
                )
            seen.add(token)
            page += 1

    def operator_results(self, conversation_id: str) -> Iterator[dict]:
        """Every Conversation Intelligence operator result of a conversation, page by page."""
        url = self.intelligence.replace(INTELLIGENCE_CONFIGURATIONS, OPERATOR_RESULTS)
        return self._list("operator results", url, {"conversationId": conversation_id})

    def communications(self, conversation_id: str) -> Iterator[dict]:
        """Every communication of a conversation, page by page."""
        base = self.orchestrator.replace(ORCHESTRATOR_CONFIGURATIONS, "")
        return self._list("communications", f"{base}/v2/Conversations/{conversation_id}/Communications")

    def intelligence_configurations(self) -> Iterator[dict]:
        """Every Conversation Intelligence configuration of the account, page by page."""
        return self._list("Conversation Intelligence configurations", self.intelligence)

    def orchestrator_configurations(self) -> Iterator[dict]:
        """Every Conversation Orchestrator configuration of the account, page by page."""
        return self._list("Conversation Orchestrator configurations", self.orchestrator)

    def create_intelligence(self, body: dict) -> dict:
        """Create an Intelligence configuration; Twilio's answer (with ids) is returned."""
        return _json(self._call("create the Conversation Intelligence configuration", "POST", self.intelligence, body))

    def update_intelligence(self, config_id: str, body: dict) -> dict:
        """Replace an Intelligence configuration's name, description and rules (rules keep the ids sent)."""
        return _json(
            self._call(
                "update the Conversation Intelligence configuration", "PUT", f"{self.intelligence}/{config_id}", body
            )
        )

    def delete_intelligence(self, config_id: str) -> None:
        """Delete an Intelligence configuration."""
        self._call("delete the Conversation Intelligence configuration", "DELETE", f"{self.intelligence}/{config_id}")

    def operators(self) -> Iterator[dict]:
        """Every language operator of the account (Twilio-authored and custom), page by page."""
        return self._list("language operators", self.intelligence.replace(INTELLIGENCE_CONFIGURATIONS, OPERATORS))

    def create_operator(self, body: dict) -> dict:
        """Create a custom language operator; Twilio's answer (with the id it assigned) is returned."""
        url = self.intelligence.replace(INTELLIGENCE_CONFIGURATIONS, OPERATORS)
        return _json(self._call("create the language operator", "POST", url, body))

    def update_operator(self, operator_id: str, body: dict) -> dict:
        """Replace a custom language operator's definition (same id, next version)."""
        url = self.intelligence.replace(INTELLIGENCE_CONFIGURATIONS, OPERATORS) + f"/{operator_id}"
        return _json(self._call("update the language operator", "PUT", url, body))

    def delete_operator(self, operator_id: str) -> None:
        """Delete a custom language operator."""
        url = self.intelligence.replace(INTELLIGENCE_CONFIGURATIONS, OPERATORS) + f"/{operator_id}"
        self._call("delete the language operator", "DELETE", url)

    def create_orchestrator(self, body: dict) -> Optional[str]:
        """Create an Orchestrator configuration, wait for Twilio to finish, and return its id."""
        what = "create the Conversation Orchestrator configuration"
        return self._follow(what, self._call(what, "POST", self.orchestrator, body, headers=self._once()))

    def update_orchestrator(self, config_id: str, body: dict) -> str:
        """Replace an Orchestrator configuration and wait for Twilio to finish."""
        what = "update the Conversation Orchestrator configuration"
        url = f"{self.orchestrator}/{config_id}"
        return self._follow(what, self._call(what, "PUT", url, body, headers=self._once())) or config_id

    def delete_orchestrator(self, config_id: str) -> None:
        """Delete an Orchestrator configuration and wait for Twilio to finish."""
        what = "delete the Conversation Orchestrator configuration"
        self._follow(what, self._call(what, "DELETE", f"{self.orchestrator}/{config_id}", headers=self._once()))

    @staticmethod
    def _once() -> dict:
        """A fresh idempotency key: a write retried by the HTTP stack is applied once."""
        return {"Idempotency-Key": str(uuid.uuid4())}

    def _follow(self, what: str, accepted) -> Optional[str]:
        """Poll the operation a 202 names until it ends; the configuration id it reports, if any."""
        body = _json(accepted)
        url = body.get("statusUrl") or (accepted.headers or {}).get("Location")
        if not url or not isinstance(url, str):
            raise ControlPlaneError(f"Twilio accepted the request to {what} but named no operation to follow")
        # Followed only on a configured API (see _call): the request carries the credentials.
        url = urljoin(self.orchestrator, url)
        related = _object(body.get("related"))
        deadline = time.monotonic() + self.wait
        delay, waited = _retry_after(accepted), 0.0
        while True:
            time.sleep(delay)
            waited += delay
            response = self._call(f"follow the operation to {what}", "GET", url)
            operation = _json(response)
            status = operation.get("status")
            self.progress(f"waiting for Twilio to {what}: {status or 'no status'} after {waited:.1f} s")
            related = _object(operation.get("related")) or related
            if status == "COMPLETED":
                config_id = related.get("configurationId")
                return config_id if isinstance(config_id, str) else None
            if status == "FAILED":
                error = _object(operation.get("error"))
                reason = error.get("detail") or error.get("title") or "no reason given"
                raise OperationFailed(
                    f"Twilio could not {what}: operation {operation.get('operationId', url)} FAILED: {reason}"
                )
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"Twilio had not finished the request to {what} after {self.wait:g} s "
                    f"(operation {url} is {status}): look in Console, then run the command again"
                )
            delay = _retry_after(response, delay)
