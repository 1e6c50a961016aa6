"""Who is asking, and may they watch this call: Flex tokens checked by Twilio IAM, calls checked in TaskRouter.

Identity: the plugin sends the agent's Flex token (a JWE we cannot read); Twilio's token validation
endpoint answers with the user's identity, roles and worker. Positive answers are cached in Redis
under a hash of the token, never the token, for at most ``CINTEL_TOKEN_CACHE_SECONDS`` and never past
the token's expiry; refusals for ``REFUSAL_SECONDS``, so a bad token asked again costs Twilio nothing.
Failed checks are counted per client address, and past ``CINTEL_BAD_TOKENS_PER_MINUTE`` that address's
new tokens are refused before Twilio is asked. Authorization: supervisor roles watch any session; an
agent watches a call whose TaskRouter task has a reservation of their worker. Whatever cannot be
checked is refused (fail closed).
"""

import hashlib
import hmac
import logging
import re
import time
from datetime import datetime
from typing import NamedTuple, Optional, Tuple

import orjson
import requests

from ..bus.store import REDIS_ERRORS
from ..errors import TWILIO_SERVICES, Forbidden, Unauthorized, Unavailable
from ..ids import is_call_sid

logger = logging.getLogger(__name__)

#: Reservation states in which the call is, or was, this worker's: they may see it (and wrap it up).
WATCHING_STATES = {"accepted", "wrapping", "completed"}
#: Twilio's error code for an expired access token.
EXPIRED_TOKEN = 20104
#: Tasks of one call looked at (a transferred call has one task per leg).
MAX_TASKS = 20
#: How long Twilio's refusal of a token is remembered: a bad token retried costs no IAM call meanwhile.
REFUSAL_SECONDS = 30
#: The shortest ticket the relay mints. A cached validation is not used for a token's last such
#: seconds: Twilio is asked again, as it is the authority on whether the token still holds.
MIN_TICKET_SECONDS = 1
#: Keeps identity hashes from ever matching another use of the ticket secret.
_IDENTITY_DOMAIN = b"cintel-identity."


def identity_key(secret: str, identity: str) -> str:
    """A short, key-safe stand-in for an identity (or a client address) in Redis keys, tickets and logs.

    Keyed with the ticket secret: identities are PII, and an unkeyed hash of a guessable name is no
    disguise.
    """
    mac = hmac.new(secret.encode("utf-8"), _IDENTITY_DOMAIN + identity.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:24]


class Identity(NamedTuple):
    """A Flex user, as Twilio's token validation describes them."""

    identity: str
    roles: Tuple[str, ...]
    worker_sid: Optional[str]
    #: Epoch seconds at which the Flex token expires (0 when Twilio did not say).
    expires: float
    #: :func:`identity_key` of ``identity``.
    key: str


def token_key(token: str) -> str:
    return "cintel:auth:token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def access_key(worker_sid: str, session: str) -> str:
    return f"cintel:auth:access:{worker_sid}:{{{session}}}"


def _expiry(value) -> Optional[float]:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _unavailable(service: str, problem: str, suffix: str) -> Unavailable:
    return Unavailable(
        f"{TWILIO_SERVICES[service]} {problem}; the relay refuses access until it can check. Retry shortly.",
        code=f"{service}_{suffix}",
        source=service,
    )


def _refused(code: str) -> Unauthorized:
    if code == "token_expired":
        return Unauthorized(
            "the Flex token has expired: reload Flex to sign in again.",
            code="token_expired",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Unauthorized(
        "Twilio did not accept the Flex token: send manager.user.token of a signed-in user.",
        code="token_invalid",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


class FlexAuth:
    """Validates Flex tokens and decides who may watch which session. One per app."""

    def __init__(self, config, redis_client, limits):
        self._config = config
        self._redis = redis_client
        self._limits = limits
        self._secret = config.ticket_secrets[0]
        self._http = requests.Session()
        self._http.auth = (config.twilio_account_sid or "", config.twilio_auth_token or "")

    def _get_json(self, method: str, url: str, service: str, **kw):
        """(status, JSON object) of a call to Twilio; 503 when Twilio is slow, down or garbled."""
        timeout = self._config.auth_timeout
        try:
            response = self._http.request(method, url, timeout=timeout, **kw)
        except requests.Timeout:
            logger.warning("%s timed out", service, extra={"timeout": timeout})
            raise _unavailable(service, f"did not answer within {timeout:g}s", "timeout") from None
        except requests.RequestException as exc:
            logger.warning("%s unreachable (%s)", service, type(exc).__name__)
            raise _unavailable(service, "is unreachable", "unavailable") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429:
            retry = response.headers.get("Retry-After", "")
            logger.warning("%s is rate limiting the relay", service)
            raise Unavailable(
                f"{TWILIO_SERVICES[service]} is rate limiting the relay; retry shortly.",
                code=f"{service}_rate_limited",
                source=service,
                headers={"Retry-After": retry if retry.isascii() and retry.isdigit() else "5"},
            )
        if response.status_code >= 500 or not isinstance(body, dict):
            logger.warning("%s answered %s", service, response.status_code)
            raise _unavailable(service, f"answered HTTP {response.status_code}", "unavailable")
        return response.status_code, body

    def key(self, identity: str) -> str:
        """:func:`identity_key` under this relay's secret."""
        return identity_key(self._secret, identity)

    def identify(self, token: str, address: str) -> Identity:
        """The Flex user behind ``token``, asked for from client ``address``.

        :raises Unauthorized: Twilio says the token is invalid or expired (now, or in the last
            ``REFUSAL_SECONDS``).
        :raises RateLimited: ``address`` had too many tokens refused this minute; Twilio is not asked.
        :raises Unavailable: Twilio cannot be asked, rate limits the relay or refuses its own credentials.
        """
        key = token_key(token)
        try:
            cached = self._redis.get(key)
        except REDIS_ERRORS:
            raise Unavailable("Redis is unreachable, so tokens cannot be checked; retry shortly.") from None
        data = orjson.loads(cached) if cached else {}
        if "refused" in data:
            raise _refused(data["refused"])
        if data.get("expires", 0) > time.time() + MIN_TICKET_SECONDS:  # else the token (nearly) expired: ask again
            return Identity(
                data["identity"], tuple(data["roles"]), data["worker_sid"], data["expires"], self.key(data["identity"])
            )
        counted = self._limits.admit_unknown_token(self.key(address))
        try:
            who = self._ask_twilio(token, key)
        except Unauthorized as exc:
            self._store(key, {"refused": exc.code}, REFUSAL_SECONDS)
            raise
        except BaseException:
            self._limits.token_was_valid(counted)  # not Twilio's verdict on the token: it does not count
            raise
        self._limits.token_was_valid(counted)
        return who

    def _ask_twilio(self, token: str, key: str) -> Identity:
        url = f"{self._config.iam_url}/v1/Accounts/{self._config.twilio_account_sid}/Tokens/validate"
        status, body = self._get_json(
            "POST", url, "token_validation", json={"token": token}, headers={"Cache-Control": "no-cache"}
        )
        if "valid" not in body:
            logger.error("Twilio token validation refused the relay's credentials (HTTP %s)", status)
            raise Unavailable(
                "Twilio refused the relay's own credentials for token validation: the operator must "
                "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
                code="token_validation_refused",
            )
        expires = _expiry(body.get("expiration"))
        if body.get("code") == EXPIRED_TOKEN or (expires is not None and expires <= time.time()):
            raise _refused("token_expired")
        if body["valid"] is not True or not body.get("identity"):
            raise _refused("token_invalid")
        roles = body.get("roles") if isinstance(body.get("roles"), list) else []
        identity = str(body["identity"])
        who = Identity(
            identity, tuple(str(r) for r in roles), body.get("worker_sid") or None, expires or 0.0, self.key(identity)
        )
        ttl = int(min(self._config.token_cache_seconds, who.expires - time.time()))
        if ttl > 0:
            self._store(
                key,
                {"identity": who.identity, "roles": who.roles, "worker_sid": who.worker_sid, "expires": who.expires},
                ttl,
            )
        return who

    def _store(self, key: str, value: dict, ttl: int):
        try:
            self._redis.set(key, orjson.dumps(value), ex=ttl)
        except REDIS_ERRORS:
            raise Unavailable("Redis is unreachable, so tokens cannot be checked; retry shortly.") from None

    def is_supervisor(self, who: Identity) -> bool:
        return bool(set(who.roles) & set(self._config.supervisor_roles))

    def check_access(self, who: Identity, session: str):
        """Return if ``who`` may watch ``session``.

        :raises Forbidden: an agent asking for a call that is not theirs, or for a non-call session.
        :raises Unavailable: TaskRouter cannot be asked.
        """
        if self.is_supervisor(who):
            return
        if not who.worker_sid:
            raise Forbidden(
                "this Flex user has no TaskRouter worker and no supervisor role: only supervisors and "
                "the agent handling a call may watch it.",
                code="not_your_call",
            )
        if not is_call_sid(session):
            raise Forbidden(
                "agents may watch calls (CA...) assigned to them; other sessions are for supervisors.",
                code="not_your_call",
            )
        key = access_key(who.worker_sid, session)
        try:
            if self._redis.exists(key):
                return
        except REDIS_ERRORS:
            raise Unavailable("Redis is unreachable, so access cannot be checked; retry shortly.") from None
        if not self._handled_by(who.worker_sid, session):
            logger.info("agent refused a call that is not theirs", extra={"identity": who.key})
            raise Forbidden(
                "this call is not assigned to you: agents may watch only their own calls.", code="not_your_call"
            )
        if self._config.access_cache_seconds:
            try:
                self._redis.set(key, "1", ex=self._config.access_cache_seconds)
            except REDIS_ERRORS:
                raise Unavailable("Redis is unreachable, so access cannot be checked; retry shortly.") from None

    def _handled_by(self, worker_sid: str, call_sid: str) -> bool:
        """True when a task of this call has a live or finished reservation of this worker."""
        base = f"{self._config.taskrouter_url}/v1/Workspaces/{self._config.taskrouter_workspace_sid}/Tasks"
        tasks = self._taskrouter(
            base, "tasks", {"EvaluateTaskAttributes": f'call_sid == "{call_sid}"', "PageSize": MAX_TASKS}
        )
        for task in tasks:
            sid = task.get("sid") if isinstance(task, dict) else None
            if not isinstance(sid, str) or not re.fullmatch(r"WT[0-9a-fA-F]{32}", sid):
                continue
            for reservation in self._taskrouter(
                f"{base}/{sid}/Reservations", "reservations", {"WorkerSid": worker_sid}
            ):
                if (
                    isinstance(reservation, dict)
                    and reservation.get("worker_sid") == worker_sid
                    and reservation.get("reservation_status") in WATCHING_STATES
                ):
                    return True
        return False

    def _taskrouter(self, url: str, key: str, params: dict) -> list:
        status, body = self._get_json("GET", url, "taskrouter", params=params)
        if status != 200 or not isinstance(body.get(key), list):
            logger.error("TaskRouter answered %s to a %s query", status, key)
            raise Unavailable(
                "TaskRouter refused the relay's query: the operator must check "
                "CINTEL_TASKROUTER_WORKSPACE_SID, TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN.",
                code="taskrouter_refused",
            )
        return body[key]
