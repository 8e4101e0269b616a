"""The webhook of each party, as the service keeps it: set (its URL checked, its secret sealed),
read, removed, its cursor moved. Rows live in the hub's database (see
:mod:`deconflict.store.service_state`), read and written on the hub thread through the runner;
the secret is sealed and opened here, with the service's webhook key (:mod:`.sealing`). A
webhook's row shows nothing the detector makes, so no call here waits for a detection
(``party=None``)."""

from __future__ import annotations

import asyncio
import logging
import secrets

from deconflict.runtime.runner import HubRunner
from deconflict.runtime.state import service_state
from deconflict.runtime.webhooks.guard import Destinations
from deconflict.runtime.webhooks.sealing import SecretLost, WebhookKey
from deconflict.store.service_state import Webhook

__all__ = ["Webhooks"]

log = logging.getLogger("deconflict.runtime")


class Webhooks:
    """The parties' webhooks on ``runner``'s hub: URLs checked by ``destinations`` when set,
    secrets sealed with ``key``. ``version`` counts the changes made through this object (the
    sender of the same process looks again at once)."""

    def __init__(self, runner: HubRunner, key: WebhookKey, destinations: Destinations) -> None:
        self._runner = runner
        self.key = key
        self.destinations = destinations
        self.version = 0
        self._checking: dict[str, asyncio.Lock] = {}

    async def put(self, party: str, url: str, secret: str | None) -> tuple[Webhook, str]:
        """Set ``party``'s webhook (a new secret unless one is given; its cursor stays): the
        stored row and the secret. RefusedDestination if the URL may not be sent to. One
        check at a time per party, on its share of the resolver's threads: a party setting
        slow names again and again holds no more of them than that."""
        async with self._checking.setdefault(party, asyncio.Lock()):
            await self.destinations.for_party(party).check(url)
        chosen = secret or secrets.token_urlsafe(32)
        sealed = self.key.seal(party, chosen)
        hook = await self._runner.run(
            lambda hub: service_state(hub).put_webhook(party, url, sealed), party=None
        )
        self.version += 1
        return hook, chosen

    async def get(self, party: str) -> Webhook | None:
        return await self._runner.run(lambda hub: service_state(hub).get_webhook(party), party=None)

    async def all(self) -> list[Webhook]:
        return await self._runner.run(lambda hub: service_state(hub).list_webhooks(), party=None)

    async def delete(self, party: str) -> bool:
        done = await self._runner.run(
            lambda hub: service_state(hub).delete_webhook(party), party=None
        )
        self.version += 1
        return done

    async def advance(self, party: str, expected: str | None, cursor: str) -> bool:
        """Move ``party``'s cursor from ``expected`` to ``cursor``; False if it had moved."""
        return await self._runner.run(
            lambda hub: service_state(hub).advance_webhook(party, expected, cursor), party=None
        )

    def secret(self, hook: Webhook) -> str:
        """The secret that signs ``hook``'s deliveries; SecretLost if this hub cannot open it."""
        if hook.sealed is not None:
            return self.key.open(hook.party, hook.sealed)
        if hook.clear_secret is not None:  # a row from before migration 0014, not yet sealed
            return hook.clear_secret
        raise SecretLost(f"the webhook of {hook.party!r} has no secret: set it again")

    def secret_lost(self, hook: Webhook) -> bool:
        try:
            self.secret(hook)
        except SecretLost:
            return True
        return False

    async def seal_clear_secrets(self) -> None:
        """Seal the secrets still in clear (rows from before migration 0014), with a warning."""
        key = self.key
        sealed = await self._runner.run(
            lambda hub: service_state(hub).seal_webhook_secrets(key.seal), party=None
        )
        if sealed:
            log.warning(
                "the webhook secrets of %s were sealed with webhook key %s and erased from the "
                "database; old database backups still hold them in clear",
                ", ".join(sealed),
                key.key_id,
            )
