"""Twilio's control plane for ``cintel-relay setup``: Intelligence v3 and Orchestrator (Conversations v2) configurations.

Paths, bodies, paging and the 202 operations follow twilio/twilio-oai ``spec/json/twilio_intelligence_v3.json``
and ``spec/json/twilio_conversations_v2.json``:

- ``/v3/ControlPlane/Configurations`` on intelligence.twilio.com: list (``items``), create (201), and
  ``/{id}`` update (PUT, 200) and delete (204), synchronously.
- ``/v2/ControlPlane/Configurations`` on conversations.twilio.com: list (``configurations``); create,
  update (PUT) and delete answer 202 with ``{statusUrl, related}``; the operation at ``statusUrl`` is
  ``PENDING`` until it is ``COMPLETED`` or ``FAILED`` (with an RFC 9457 ``error``).
- Lists are token-paged: ``pageSize``/``pageToken`` in, ``meta{key, pageSize, nextToken}`` out.

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
from typing import Callable, Iterator, Optional

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

INTELLIGENCE_CONFIGURATIONS = "/v3/ControlPlane/Configurations"
ORCHESTRATOR_CONFIGURATIONS = "/v2/ControlPlane/Configurations"
#: The spec's largest page; fewer round trips for accounts with many configurations.
PAGE_SIZE = 1000
#: Retry-After is honoured within these bounds (seconds) while an operation is pending.
MIN_POLL, MAX_POLL = 0.2, 10.0


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
        params = body.get("params") or {}
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


def _json(response) -> dict:
    try:
        body = json.loads(response.text or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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
        self.client = Client(
            pair[0], pair[1], account_sid=config.twilio_account_sid, http_client=TwilioHttpClient(timeout=timeout)
        )
        self.intelligence = config.intelligence_url + INTELLIGENCE_CONFIGURATIONS
        self.orchestrator = config.conversations_url + ORCHESTRATOR_CONFIGURATIONS
        self.progress = progress
        self.wait = wait

    def _call(self, what: str, method: str, url: str, body=None, params=None, headers=None):
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
        return response

    def _list(self, what: str, url: str) -> Iterator[dict]:
        token, page, seen = None, 1, set()
        while True:
            self.progress(f"reading {what} (page {page})")
            params = {"pageSize": PAGE_SIZE, **({"pageToken": token} if token else {})}
            body = _json(self._call(f"list {what}", "GET", url, params=params))
            meta = body.get("meta") or {}
            yield from body.get(meta.get("key") or "", [])
            token = meta.get("nextToken")
            if not token or token in seen:
                return
            seen.add(token)
            page += 1

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
        if not url:
            raise ControlPlaneError(f"Twilio accepted the request to {what} but named no operation to follow")
        related = body.get("related") or {}
        deadline = time.monotonic() + self.wait
        delay, waited = _retry_after(accepted), 0.0
        while True:
            time.sleep(delay)
            waited += delay
            response = self._call(f"follow the operation to {what}", "GET", url)
            operation = _json(response)
            status = operation.get("status")
            self.progress(f"waiting for Twilio to {what}: {status or 'no status'} after {waited:.1f} s")
            related = operation.get("related") or related
            if status == "COMPLETED":
                return related.get("configurationId")
            if status == "FAILED":
                error = operation.get("error") or {}
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
