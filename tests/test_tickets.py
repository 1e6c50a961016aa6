"""Stream tickets: genuine ones verify; forged, expired, tampered and other-session ones are refused."""

import base64
import json
import re

import pytest

from cintel_relay.access import tickets
from cintel_relay.errors import Forbidden, Unauthorized

SECRET = "s" * 40
SESSION = "CA" + "a" * 32
NOW = 1_800_000_000


def ticket(secret=SECRET, session=SESSION, identity="agent_dana", ttl=3600, now=NOW):
    return tickets.mint(secret, session, identity, ttl, now=now)[0]


def refused(text, session=SESSION, now=NOW + 1, secrets=(SECRET,)):
    with pytest.raises((Unauthorized, Forbidden)) as caught:
        tickets.verify(secrets, text, session, now=now)
    return caught.value.status, caught.value.code


def test_a_genuine_ticket_gives_its_claims():
    text, minted = tickets.mint(SECRET, SESSION, "agent_dana", 4 * 3600, now=NOW)
    claims = tickets.verify([SECRET], text, SESSION, now=NOW + 4 * 3600 - 1)
    assert claims == minted == (SESSION, "agent_dana", NOW, NOW + 4 * 3600)
    assert minted.expires_at == "2027-01-15T12:00:00Z"
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", text)  # goes into ?ticket= without escaping


def test_every_ticket_is_distinct():
    assert ticket() != ticket()


@pytest.mark.parametrize(
    "text, code",
    [
        (None, "ticket_missing"),
        ("", "ticket_missing"),
        ("garbage", "ticket_invalid"),
        ("v1.a.b.c", "ticket_invalid"),
        ("v1.%%%.$$$", "ticket_invalid"),
        ("v1." + "A" * 2000 + ".x", "ticket_invalid"),
        ("v1.é.é", "ticket_invalid"),
    ],
)
def test_malformed_tickets_are_401(text, code):
    assert refused(text) == (401, code)


def test_a_ticket_signed_with_another_secret_is_forged():
    assert refused(ticket(secret="x" * 40)) == (401, "ticket_invalid")


def test_an_expired_ticket_is_401():
    assert refused(ticket(ttl=60), now=NOW + 60) == (401, "ticket_expired")


def test_a_ticket_for_another_session_is_403():
    assert refused(ticket(session="CA" + "b" * 32)) == (403, "ticket_wrong_session")


def _claims(text):
    version, body, mac = text.split(".")
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))), mac


def _with_claims(claims, mac):
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"v1.{body}.{mac}"


@pytest.mark.parametrize(
    "change",
    [
        {"u": "supervisor_sam"},  # reuse by another identity
        {"s": "CA" + "b" * 32},  # move it to another call
        {"exp": NOW + 10**9},  # stretch its life
    ],
)
def test_tampered_claims_break_the_signature(change):
    claims, mac = _claims(ticket())
    assert refused(_with_claims({**claims, **change}, mac)) == (401, "ticket_invalid")


def test_secret_rotation_old_tickets_verify_until_the_old_secret_is_dropped():
    old = ticket(secret="o" * 40)
    assert tickets.verify(["n" * 40, "o" * 40], old, SESSION, now=NOW).identity == "agent_dana"
    assert refused(old, secrets=("n" * 40,)) == (401, "ticket_invalid")
