"""The signature of one webhook delivery (Standard Webhooks): what a receiver checks to know the
hub sent it, unchanged. Receivers compute it from the secret they were given when the webhook was
set, the ``Webhook-Id`` and ``Webhook-Timestamp`` headers and the body as received."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["sign"]


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The ``Webhook-Signature`` value: ``v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>``."""
    message = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
