"""The signature of an outbound delivery: ``X-Cintel-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.

The timestamp is in the signed text, so a receiver that refuses old timestamps refuses replays; the delivery id
(``X-Cintel-Delivery``, the same on every retry) lets it drop a delivery it already took.
"""

import hashlib
import hmac
from typing import Dict, Optional

DELIVERY_HEADER = "X-Cintel-Delivery"
TIMESTAMP_HEADER = "X-Cintel-Timestamp"
SIGNATURE_HEADER = "X-Cintel-Signature"
VERSION = "v1="
#: How old a timestamp :func:`verify` accepts by default, in seconds.
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return VERSION + mac.hexdigest()


def headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> Dict[str, str]:
    """The headers of one attempt of a delivery."""
    return {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str, timestamp: str, sent: str, body: bytes, now: float, tolerance: Optional[float] = TOLERANCE_SECONDS
) -> bool:
    """True when ``sent`` signs ``body`` at ``timestamp`` and the timestamp is within ``tolerance`` of ``now``."""
    if not timestamp.isdigit() or (tolerance is not None and abs(now - int(timestamp)) > tolerance):
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body).encode(), sent.encode())
