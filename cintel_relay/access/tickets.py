"""Stream tickets: short signed strings that let an EventSource (which cannot send headers) open one stream.

A ticket is ``v1.<claims>.<mac>``: base64url JSON claims (session, identity, issued, expires, nonce) and
an HMAC-SHA256 of them under a server secret. It is bound to one session and one identity and checked
at connect time only; see docs/security.md for why its lifetime covers a whole call. Pure functions,
no I/O.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from datetime import datetime, timezone
from typing import NamedTuple, Optional, Sequence, Tuple

import orjson

from ..errors import Forbidden, Unauthorized

VERSION = "v1"
#: Keeps a ticket's MAC from ever matching another use of the same secret.
_DOMAIN = b"cintel-stream-ticket."
#: Longer than any ticket we mint; anything longer is refused before any work is done on it.
MAX_LENGTH = 1024


class Ticket(NamedTuple):
    """The claims of a verified ticket."""

    session: str
    #: Who it was issued to, as the relay keys identities (a hash: the ticket travels in a URL).
    identity: str
    issued: int
    expires: int

    @property
    def expires_at(self) -> str:
        """Expiry as ISO 8601 UTC, as the ticket endpoint reports it."""
        return datetime.fromtimestamp(self.expires, timezone.utc).isoformat().replace("+00:00", "Z")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), _DOMAIN + body.encode("ascii"), hashlib.sha256).digest()


def mint(secret: str, session: str, identity: str, ttl: int, now: Optional[float] = None) -> Tuple[str, Ticket]:
    """A new ticket for ``identity`` to stream ``session`` for ``ttl`` seconds: ``(string, Ticket)``."""
    issued = int(time.time() if now is None else now)
    ticket = Ticket(session, identity, issued, issued + ttl)
    claims = {"s": session, "u": identity, "iat": issued, "exp": ticket.expires, "n": secrets.token_urlsafe(9)}
    body = f"{VERSION}.{_b64(orjson.dumps(claims))}"
    return f"{body}.{_b64(_mac(secret, body))}", ticket


def verify(secrets_: Sequence[str], text: Optional[str], session: str, now: Optional[float] = None) -> Ticket:
    """The ticket's claims if ``text`` is a genuine, unexpired ticket for ``session``.

    :raises Unauthorized: missing, malformed, forged (no secret matches) or expired.
    :raises Forbidden: genuine, but for another session.
    """
    if not text:
        raise Unauthorized(
            "this stream needs a ticket: POST /api/stream-ticket with your Flex token, then open "
            "the stream with ?ticket=<ticket>.",
            code="ticket_missing",
        )
    invalid = Unauthorized(
        "the ticket is not one this relay issued: get a new one from POST /api/stream-ticket.", code="ticket_invalid"
    )
    parts = text.split(".")
    if len(text) > MAX_LENGTH or len(parts) != 3 or parts[0] != VERSION:
        raise invalid
    body = f"{parts[0]}.{parts[1]}"
    try:
        mac = _unb64(parts[2])
        if not any(hmac.compare_digest(mac, _mac(secret, body)) for secret in secrets_):
            raise invalid
        claims = orjson.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise invalid from None
    try:
        ticket = Ticket(str(claims["s"]), str(claims["u"]), int(claims["iat"]), int(claims["exp"]))
    except (KeyError, TypeError, ValueError):
        raise invalid from None
    if ticket.expires <= (time.time() if now is None else now):
        raise Unauthorized(
            "the ticket has expired: get a new one from POST /api/stream-ticket and reconnect.", code="ticket_expired"
        )
    if ticket.session != session:
        raise Forbidden(
            "the ticket is for another session: get a ticket for this one from POST /api/stream-ticket.",
            code="ticket_wrong_session",
        )
    return ticket
