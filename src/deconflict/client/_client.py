"""The one client of the HTTP API: synchronous, over httpx, returning the API's JSON documents.

Errors come back as deconflict's own: a problem+json response becomes the error of the tree with
its status (404 ``NotFound``, 412 ``VersionConflict``, 409 ``InvalidTransition``, 400/413/422
``InvalidInput``), anything else a ``RemoteError`` carrying the status and the problem document.
Every POST carries an ``Idempotency-Key`` (a fresh one unless given), so a retried call is safe.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from deconflict.errors import (
    DeconflictError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotYetCommitted,
    VersionConflict,
)

__all__ = ["DETECTION_HEADER", "Client", "Event", "RemoteError"]

Json = Any
#: The header of an answer made before the hub checked the caller's own latest filings.
DETECTION_HEADER = "Deconflict-Detection"


class RemoteError(DeconflictError, RuntimeError):
    """The hub refused or failed a request; ``status`` and the ``problem`` document say why."""

    def __init__(self, status: int, message: str, problem: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.problem = dict(problem or {})


_BY_STATUS: dict[int, type[DeconflictError]] = {
    400: InvalidInput,
    404: NotFound,
    409: InvalidTransition,
    412: VersionConflict,
    413: InvalidInput,
    422: InvalidInput,
}


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event: its id (to resume after), its type and its decoded data."""

    id: str | None
    event: str
    data: Json


class Client:
    """A party's connection to a hub at ``url`` with a bearer ``token``.

    ``detection_pending`` says whether the last answer was made before the hub had checked
    this party's own latest filings (``Deconflict-Detection: pending``: a hub starting, or
    behind): conflicts it lists may be missing those of the filings, which come as they are
    found (the event stream, webhooks, a later read)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
        )
        self.detection_pending = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # the one request method -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Json = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one request; a non-2xx answer raises the matching error."""
        sent = dict(headers or {})
        if method == "POST":
            sent["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        try:
            response = self._http.request(method, path, json=body, params=params, headers=sent)
        except httpx.HTTPError as error:
            raise RemoteError(0, f"cannot reach the hub: {error}") from None
        if response.is_success:
            self.detection_pending = response.headers.get(DETECTION_HEADER) == "pending"
            return response
        raise _error(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> Json:
        return self.request(method, path, **kwargs).json()

    # notices ----------------------------------------------------------------------------------

    def file_notice(
        self,
        features: Sequence[Json],
        category: str = "air-activity",
        notice_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Json:
        body = {"type": "FeatureCollection", "features": list(features), "category": category}
        if notice_id is not None:
            body["id"] = notice_id
        return self._json("POST", "/v1/notices", body=body, idempotency_key=idempotency_key)

    def list_notices(
        self,
        states: Sequence[str] | None = None,
        party: str | None = None,
        start: str | None = None,
        end: str | None = None,
        *,
        after: str | None = None,
        limit: int | None = None,
        page: int | None = None,
    ) -> Json:
        """The notices the caller may see, in filing order (after notice ``after``, if given):
        with ``limit``, one page of at most that many; without, all of them (``page`` at a
        time, default the hub's most)."""
        params = {"state": list(states or []), "party": party, "start": start, "end": end}
        return self._pages("/v1/notices", params, after, limit, page)

    def _pages(
        self,
        path: str,
        params: Mapping[str, Any],
        after: str | None,
        limit: int | None,
        page: int | None,
    ) -> list[Json]:
        """One page (with ``limit``), or every page, following the hub's ``Link: rel=next``."""
        asked = {**params, "after": after, "limit": limit if limit is not None else page}
        response = self.request("GET", path, params=_present(asked))
        found = list(response.json())
        while limit is None and "next" in response.links:
            response = self.request("GET", response.links["next"]["url"])
            found += response.json()
        return found

    def get_notice(self, notice_id: str, party: str | None = None) -> Json:
        """A notice as the caller may see it: its own of that id, or ``party``'s (a notice's
        id is its party's own)."""
        params = {} if party is None else {"party": party}
        return self._json("GET", f"/v1/notices/{notice_id}", params=params)

    def amend_notice(
        self,
        notice_id: str,
        version: int,
        features: Sequence[Json] | None = None,
        category: str | None = None,
    ) -> Json:
        body = _present(
            {"features": None if features is None else list(features), "category": category}
        )
        return self._json(
            "PATCH", f"/v1/notices/{notice_id}", body=body, headers={"If-Match": f'"{version}"'}
        )

    def cancel_notice(self, notice_id: str) -> Json:
        return self._json("POST", f"/v1/notices/{notice_id}/cancel")

    # plans, conflicts, notifications ------------------------------------------------------------

    def add_plan(self, features: Sequence[Json], plan_id: str | None = None) -> Json:
        body: dict[str, Any] = {"type": "FeatureCollection", "features": list(features)}
        if plan_id is not None:
            body["id"] = plan_id
        return self._json("POST", "/v1/plans", body=body)

    def get_plan(self, plan_id: str) -> Json:
        """One of the caller's own plans (its ``version`` is what an amendment names)."""
        return self._json("GET", f"/v1/plans/{plan_id}")

    def amend_plan(self, plan_id: str, version: int, features: Sequence[Json]) -> Json:
        """Give one of the caller's own plans new volumes; ``version`` is its current one
        (VersionConflict if it has changed since)."""
        body = {"type": "FeatureCollection", "features": list(features)}
        return self._json(
            "PUT", f"/v1/plans/{plan_id}", body=body, headers={"If-Match": f'"{version}"'}
        )

    def withdraw_plan(self, plan_id: str) -> Json:
        return self._json("POST", f"/v1/plans/{plan_id}/withdraw")

    def list_plans(
        self, after: str | None = None, limit: int | None = None, *, page: int | None = None
    ) -> Json:
        """The caller's own current plans, oldest first (after plan ``after``, if given): with
        ``limit``, one page of at most that many; without, all of them, asked for ``page`` at a
        time (default: the hub's most), following the hub's ``Link: rel="next"``."""
        return self._pages("/v1/plans", {}, after, limit, page)

    def conflicts(
        self,
        open_only: bool = False,
        after: str | None = None,
        limit: int | None = None,
        *,
        page: int | None = None,
    ) -> Json:
        """The caller's conflicts (only the open ones, with ``open_only``), oldest first
        (after conflict ``after``, if given): with ``limit``, one page of at most that many;
        without, all of them, asked for ``page`` at a time (default: the hub's most),
        following the hub's ``Link: rel="next"``."""
        return self._pages("/v1/conflicts", {"open": open_only}, after, limit, page)

    def notifications(
        self, after: str | None = None, limit: int | None = None, *, page: int | None = None
    ) -> Json:
        """The caller's notifications, oldest first (after notification ``after``, if given):
        with ``limit``, one page of at most that many; without, all of them, asked for ``page``
        at a time (default: the hub's most), following the hub's ``Link: rel="next"``."""
        return self._pages("/v1/notifications", {}, after, limit, page)

    def ack(self, notification_id: str) -> Json:
        return self._json("POST", f"/v1/notifications/{notification_id}/ack")

    def agreements(self) -> Json:
        return self._json("GET", "/v1/agreements")

    def add_agreement(self, agreement: Mapping[str, Any]) -> Json:
        return self._json("POST", "/v1/agreements", body=dict(agreement))

    def parties(self) -> Json:
        """The parties the token's party knows of (every party with the admin scope)."""
        return self._json("GET", "/v1/parties")

    def add_party(self, party_id: str, name: str | None = None) -> Json:
        return self._json("POST", "/v1/parties", body=_present({"id": party_id, "name": name}))

    # the ledger ---------------------------------------------------------------------------------

    def ledger_key(self) -> Json:
        """``{"key": <verifier key>, "origin": <log name>}``."""
        return self._json("GET", "/v1/ledger/key")

    def checkpoint(self, *, fresh: bool = False) -> Json:
        """The latest signed checkpoint; ``fresh`` has the hub sign one now (admin scope)."""
        return self._json("POST" if fresh else "GET", "/v1/ledger/checkpoint")

    def checkpoints(self, since: int = 0, limit: int = 100) -> Json:
        return self._json("GET", "/v1/ledger/checkpoints", params={"since": since, "limit": limit})

    def ledger_entries(
        self,
        record_id: str,
        after: int | None = None,
        limit: int | None = None,
        *,
        party: str | None = None,
        page: int | None = None,
    ) -> Json:
        """``[{"index": ..., "entry": {...}}]``: the entries about one record (``party``'s
        notice, if given), oldest first (after index ``after``, if given): with ``limit``, one
        page of at most that many; without, all of them, asked for ``page`` at a time
        (default: the hub's most), following the hub's ``Link: rel="next"``."""
        asked = _present({"record": record_id, "party": party})
        since = None if after is None else str(after)
        return self._pages("/v1/ledger/entries", asked, since, limit, page)

    def inclusion_proof(self, index: int, size: int | None = None) -> Json:
        params = _present({"index": index, "size": size})
        return self._json("GET", "/v1/ledger/proofs/inclusion", params=params)

    def consistency_proof(self, first: int, second: int | None = None) -> Json:
        params = _present({"first": first, "second": second})
        return self._json("GET", "/v1/ledger/proofs/consistency", params=params)

    def receipt(
        self,
        record_id: str,
        *,
        wait_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> bytes:
        """The receipt file, byte for byte (check it with ``deconflict.ledger.verify_receipt``).
        An entry the hub does not yet give one for (not yet under a kept checkpoint, which the
        hub signs within seconds; or a private entry before its digest, every few minutes:
        ``202`` with ``Retry-After``) is asked again after the hub's ``Retry-After`` while that
        keeps within ``wait_s`` in all, else NotYetCommitted (its ``retry_after_s`` says when
        to ask)."""
        waited = 0.0
        while True:
            response = self.request("GET", f"/v1/ledger/receipts/{record_id}")
            if response.status_code != 202:
                return response.content
            error = _not_yet(response)
            if waited + error.retry_after_s > wait_s:
                raise error
            sleep(error.retry_after_s)
            waited += error.retry_after_s

    def opening(self, notice_id: str, version: int | None = None) -> Json:
        """``{"commitment", "salt", "content"}`` of one's own notice (version default: current)."""
        params = _present({"version": version})
        return self._json("GET", f"/v1/ledger/openings/{notice_id}", params=params)

    def events(self, last_event_id: str | None = None, *, once: bool = False) -> Iterator[Event]:
        """The party's notifications as server-sent events, after ``last_event_id``; with
        ``once``, what is pending, then the stream ends."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        params = {"once": "true"} if once else {}
        try:
            with self._http.stream(
                "GET", "/v1/events", headers=headers, params=params, timeout=None
            ) as response:
                if not response.is_success:
                    response.read()
                    raise _error(response)
                yield from _parse_events(response.iter_lines())
        except httpx.HTTPError as error:
            raise RemoteError(0, f"the event stream failed: {error}") from None


def _present(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None and v != []}


def _not_yet(response: httpx.Response) -> NotYetCommitted:
    """The hub's ``202``: what it says, and its ``Retry-After`` (seconds; 1 if unreadable)."""
    try:
        retry_after_s = max(1.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        retry_after_s = 1.0
    try:
        detail = str(response.json().get("detail", "not yet"))
    except (ValueError, AttributeError):
        detail = "not yet"
    return NotYetCommitted(detail, retry_after_s)


def _error(response: httpx.Response) -> DeconflictError:
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text or response.reason_phrase}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)}
    detail = str(problem.get("detail") or response.reason_phrase)
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        return RemoteError(response.status_code, f"{response.status_code}: {detail}", problem)
    error = kind(detail)
    error.status = response.status_code
    return error


def _parse_events(lines: Iterator[str]) -> Iterator[Event]:
    event_id: str | None = None
    kind = "message"
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield Event(event_id, kind, json.loads("\n".join(data)))
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "event":
            kind = value
        elif name == "data":
            data.append(value)
