"""Who may open a stream: ``POST /api/stream-ticket`` trades a Flex token for a ticket; streams check it.

``CINTEL_STREAM_AUTH=flex``: the plugin sends ``Authorization: Bearer <Flex token>`` and
``{"sessionId": "CA..."}``; the relay validates the token with Twilio, counts the ticket against the
identity's rate, checks the identity may watch the session, and answers ``{"ticket", "expiresAt",
"auth": "flex"}``. A ticket never outlives the Flex token it came from. The stream then needs
``?ticket=``; it is checked, and a per-identity stream slot taken, before anything is subscribed; the
stream ends when the ticket expires. ``none``: tickets are ``null`` and streams are open to anyone.
"""

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Optional, Tuple

from flask import Blueprint, jsonify, request

from ..errors import InvalidPayload, Unauthorized
from ..extension import relay
from ..ids import valid_session
from ..security import json_body
from ..server.bodies import takes_body
from . import tickets
from .flex import MIN_TICKET_SECONDS, FlexAuth
from .limits import Limits, Slot

logger = logging.getLogger(__name__)

bp = Blueprint("access", __name__)

#: A ticket request is one short JSON object; anything bigger is refused with 413 before it is read.
TICKET_MAX_BODY = 4096
#: Lifetime of a ticket from a Flex token whose expiry Twilio did not give.
UNKNOWN_EXPIRY_TICKET_SECONDS = 60


@dataclass
class Access:
    """The stream-access policy of an app (``relay().access``)."""

    mode: str
    ticket_secrets: Tuple[str, ...] = ()
    ticket_ttl: int = 0
    auth: Optional[FlexAuth] = None
    limits: Optional[Limits] = None

    def admit(self, session: str, ticket: Optional[str], address: str) -> Optional[Slot]:
        """Check a stream's ticket, count the open and take a slot for its identity (the caller releases it),
        before subscribing. Without stream auth only the open is counted, per client ``address``.

        :raises Unauthorized, Forbidden: a missing, forged, expired or other-session ticket.
        :raises RateLimited: too many opens this minute, or the identity has its maximum of streams open.
        """
        assert self.limits is not None  # init_app gives every mode its limits
        if self.mode == "none":
            self.limits.count_stream_open("address-" + hashlib.sha256(address.encode()).hexdigest()[:24])
            return None
        claims = self.authorize(session, ticket)
        assert claims is not None  # not "none" mode
        self.limits.count_stream_open(claims.identity)
        return self.limits.acquire_stream(claims.identity, claims.expires)

    def authorize(self, session: str, ticket: Optional[str]) -> Optional[tickets.Ticket]:
        """The ticket's claims when it opens ``session`` (None when streams are open): the check of a stream,
        without its slot, for reads of the same session (its report).

        :raises Unauthorized, Forbidden: a missing, forged, expired or other-session ticket.
        """
        if self.mode == "none":
            return None
        return tickets.verify(self.ticket_secrets, ticket, session)

    def identify(self, session: str, ticket: Optional[str]) -> Optional[str]:
        """Who may act on ``session`` as its stream is authorized: the ticket's identity (its keyed hash),
        None when streams are open.

        :raises Unauthorized, Forbidden: a missing, forged, expired or other-session ticket.
        """
        if self.mode == "none":
            return None
        return tickets.verify(self.ticket_secrets, ticket, session).identity


def policy(config, redis_client, commit=None) -> Access:
    """The access policy the config asks for (the app factory registers :data:`bp`, the ticket endpoint)."""
    limits = Limits(
        redis_client,
        config.max_streams_per_identity,
        config.tickets_per_minute,
        config.heartbeat_seconds,
        config.bad_tokens_per_minute,
        config.stream_opens_per_minute,
        commit,
    )
    if config.stream_auth == "flex":
        access = Access(
            mode="flex",
            ticket_secrets=config.ticket_secrets,
            ticket_ttl=config.ticket_ttl,
            auth=FlexAuth(config, redis_client, limits),
            limits=limits,
        )
    else:
        access = Access(mode="none", limits=limits)
        logger.warning(
            "CINTEL_STREAM_AUTH=none: streams are NOT authenticated, anyone who knows a Call SID can "
            "read its live transcript; use this for a local demo only, never in production"
        )
    return access


def _session_id() -> str:
    """``sessionId`` from the small JSON body of a ticket request."""
    request.max_content_length = TICKET_MAX_BODY
    body = json_body('{"sessionId": "CA..."}')
    session = body.get("sessionId") if isinstance(body, dict) else None
    if not isinstance(session, str):
        raise InvalidPayload(
            'send {"sessionId": "CA..."}: the Call SID (or conversation id) to stream.',
            fields={"sessionId": ["Missing or not a string."]},
        )
    return valid_session(session)


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send the agent's Flex token as Authorization: Bearer <manager.user.token>.",
            code="token_missing",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def _ticket_ttl(ttl: int, who) -> int:
    """``CINTEL_TICKET_TTL``, cut short so that the ticket expires no later than the Flex token."""
    if not who.expires:
        return min(ttl, UNKNOWN_EXPIRY_TICKET_SECONDS)
    left = int(who.expires - time.time())
    if left < MIN_TICKET_SECONDS:
        raise Unauthorized(
            "the Flex token expires now: wait for Flex to refresh it, then ask again.",
            code="token_expired",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return min(ttl, left)


@bp.post("/api/stream-ticket")
@takes_body(TICKET_MAX_BODY)
def stream_ticket():
    """A ticket for the caller to stream one session (``{"ticket": null}`` when streams are open)."""
    access = relay().access
    token = _bearer_token() if access.mode == "flex" else None
    session = _session_id()
    if access.mode == "none":
        return jsonify({"ticket": None, "auth": "none"})
    assert access.auth is not None and access.limits is not None and token is not None  # policy() gives flex both
    who = access.auth.identify(token, request.remote_addr or "")
    access.limits.count_ticket(who.key)
    access.auth.check_access(who, session)
    # The ticket names the identity by its keyed hash: it travels in a URL, and identities are PII.
    text, ticket = tickets.mint(access.ticket_secrets[0], session, who.key, _ticket_ttl(access.ticket_ttl, who))
    logger.info("stream ticket issued", extra={"identity": who.key, "session": session})
    response = jsonify({"ticket": text, "expiresAt": ticket.expires_at, "auth": "flex"})
    response.headers["Cache-Control"] = "no-store"
    return response
