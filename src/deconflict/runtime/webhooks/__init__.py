"""Webhooks: a party's notifications POSTed to its URL, signed, retried with backoff, each with
a delivery id the receiver can deduplicate, and no party able to turn them against the hub.

One webhook per party (``PUT /v1/webhook``, read scope: it carries only what the party may read);
a new webhook is sent every notification the party has, oldest first. Each notification is sent
as the JSON the event stream sends, with the headers (Standard Webhooks)::

    Webhook-Id: <event id>                      the same id on every retry: deduplicate on it
    Webhook-Timestamp: <unix seconds>
    Webhook-Signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>

The parts:

- :mod:`.guard`: where a webhook may be sent (public addresses, in every notation; what the
  operator allows), checked when set and at every delivery;
- :mod:`.net`: the sender's network, connecting only to checked addresses;
- :mod:`.sealing`: secrets at rest, sealed with a key kept outside the database;
- :mod:`.registry`: the parties' webhooks as the service keeps them;
- :mod:`.window`: one receiver's deliveries under way (pure scheduling);
- :mod:`.sender`: every receiver delivered to on its own, concurrently, by the lease holder.

The routes that set them, ``PUT``, ``GET`` and ``DELETE /v1/webhook``, are the API's
(:mod:`deconflict.api.webhook_routes`).

Several workers may serve one database: webhooks and their cursors are kept in it (see
:mod:`deconflict.store.service_state`), so a webhook set through any worker is served, and only
the worker holding the detector lease sends.
"""

from deconflict.runtime.webhooks.guard import Destinations, parse_networks
from deconflict.runtime.webhooks.registry import Webhooks
from deconflict.runtime.webhooks.sealing import SecretLost, WebhookKey
from deconflict.runtime.webhooks.sender import SenderSettings, WebhookEvent, WebhookSender
from deconflict.runtime.webhooks.signing import sign
from deconflict.store.service_state import Webhook

__all__ = [
    "Destinations",
    "SecretLost",
    "SenderSettings",
    "Webhook",
    "WebhookEvent",
    "WebhookKey",
    "WebhookSender",
    "Webhooks",
    "parse_networks",
    "sign",
]
