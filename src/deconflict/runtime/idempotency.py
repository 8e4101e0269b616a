"""A write with an ``Idempotency-Key``: done once, its first answer kept and given again.

The answer is stored in the database in the same transaction as the change the write made, so a
retry of the same request, on any worker, finds it whenever the change is there (even if the
worker that made it died before answering), and never finds one without the other. A key used
again for a different request (another fingerprint) is refused. In a group commit (see
:class:`~deconflict.runtime.runner.HubRunner`) two writes with one key in one batch run one
after the other in its transaction, so the second finds the first's answer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from deconflict.errors import InvalidInput
from deconflict.hub import Hub
from deconflict.runtime.runner import HubRunner
from deconflict.runtime.state import service_state
from deconflict.store.retry import Retryable
from deconflict.store.service_state import StoredResponse
from deconflict.store.transactions import DuplicateInUnit

__all__ = ["Answer", "KeyReused", "StoredResponse", "run_once"]

#: What a write answers: a status, a body as plain JSON values, headers.
Answer = tuple[int, Any, dict[str, str]]

_ATTEMPTS = 5  # runs of a write whose transaction the database aborted


class KeyReused(InvalidInput):
    """The Idempotency-Key was used for a different request."""


async def run_once(
    runner: HubRunner,
    party: str,
    key: str,
    fingerprint: str,
    act: Callable[[Hub], Answer],
    ttl_s: float,
    group: bool = False,
    detects: bool = True,
) -> tuple[StoredResponse, bool]:
    """``act``, a write by ``party``, on the hub thread unless ``party``'s ``key`` has an
    answer kept (for ``ttl_s``); the answer, and whether it was kept from before (a replay).
    ``group`` and ``detects`` as for :meth:`HubRunner.run_write`."""

    def job(hub: Hub) -> tuple[StoredResponse, bool]:
        # Alone in its own unit, a write whose new id is found stored at the commit answers
        # 409 as it does without a key (issue 19: it answered 503, retried for ever); in a
        # group, the group runs each of its writes again alone.
        alone = not hub.store.in_unit
        try:
            return unit(hub)
        except DuplicateInUnit as error:
            if alone:
                raise error.already_exists() from None
            raise

    def unit(hub: Hub) -> tuple[StoredResponse, bool]:
        state = service_state(hub)
        # One transaction (or a savepoint of the group's): the look-up, the change, the record.
        with hub.store.unit_of_work("answering an idempotent request"):
            now = time.time()
            stored = state.stored_response(party, key, now - ttl_s)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise KeyReused("this Idempotency-Key was used for a different request")
                return stored, True
            status, body, headers = act(hub)
            response = StoredResponse(fingerprint, status, body, headers)
            state.remember_response(party, key, response, now)
        return response, False

    for attempt in range(_ATTEMPTS):
        try:
            return await runner.run_write(job, party=party, group=group, detects=detects)
        except Retryable:  # the database aborted it (raced another worker): run it again
            if attempt + 1 == _ATTEMPTS:
                raise
            await asyncio.sleep(random.uniform(0.0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
