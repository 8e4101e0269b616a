"""Routes of the ledger: the hub's key, signed checkpoints, proofs, receipts and openings.

Who may see what (decided in :mod:`deconflict.hub.ledger_access`, explained there): an entry
names parties and record ids in the clear, so a party reads, proves and gets receipts only of the
entries about records it may see anyway; any other entry is ``404`` exactly as an index past the
end. The key, checkpoints and consistency proofs name nothing (sizes and roots) and are for any
caller with the read scope. Signing a checkpoint on demand is for the admin scope (the hub signs
one at every tick the log has grown, and a receipt comes under a fresh one anyway).

A receipt is sent as the exact bytes ``deconflict ledger verify-receipt`` checks (canonical JSON
and a newline): saved as it comes, it verifies offline with the hub's key alone.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from deconflict.api.auth import Scope
from deconflict.api.edge import INT_MAX, VERSION_MAX, EdgeRoute
from deconflict.api.openapi import not_yet
from deconflict.api.problems import ApiError, InvalidField
from deconflict.api.service import PAGED, Caller, link_next, need, service
from deconflict.errors import NotYetCommitted
from deconflict.hub import Hub
from deconflict.hub.ledger_access import entries_about, opening_for, receipt_for, visible_entry
from deconflict.hub.ledger_key import KeyMismatch
from deconflict.ledger import Checkpoint, Verifier
from deconflict.ledger.proofs import consistency_document, inclusion_document

__all__ = ["router"]

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], route_class=EdgeRoute)

_MAX_PAGE = 1000
T = TypeVar("T")
log = logging.getLogger("deconflict.api")


def _signing(work: Callable[[Hub], T]) -> Callable[[Hub], T]:
    """``work``, which may sign: a hub holding the wrong key (or none) answers 503 and says
    why in its own log only (the message names its files)."""

    def run(hub: Hub) -> T:
        try:
            return work(hub)
        except KeyMismatch as error:
            log.error("cannot sign the ledger: %s", error)
            raise ApiError(503, "the hub cannot sign its ledger now") from None

    return run


class KeyOut(BaseModel):
    """The hub's verifier key (C2SP signed-note): ``<name>+<hex key id>+<base64 key>``."""

    key: str
    origin: str = Field(description="The log's name: the first line of every checkpoint.")


class CheckpointOut(BaseModel):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) and what it says."""

    origin: str
    size: int = Field(description="Tree size: how many entries the checkpoint covers.")
    root: str = Field(description="Root hash, base64 (RFC 9162).")
    note: str = Field(description="The signed note; check it with the hub's key.")


class EntryOut(BaseModel):
    """One ledger entry (its canonical JSON is the leaf) and where it is."""

    index: int
    entry: dict[str, Any]


class InclusionOut(BaseModel):
    """An entry and its inclusion proof (RFC 9162 audit path, the leaf's sibling first)."""

    index: int
    tree_size: int
    entry: dict[str, Any]
    proof: list[str] = Field(description="Hashes, base64.")


class ConsistencyOut(BaseModel):
    """A consistency proof (RFC 9162) from tree size ``first`` to ``second``."""

    first: int
    second: int
    proof: list[str] = Field(description="Hashes, base64.")


class ReceiptOut(BaseModel):
    """A receipt (canonical JSON, RFC 8785): the entry, its inclusion proof, a checkpoint."""

    checkpoint: str
    entry: dict[str, Any]
    format: str
    inclusion_proof: list[str]
    index: int


class OpeningOut(BaseModel):
    """What opens a commitment: ``SHA-256(salt || canonical JSON of content)``."""

    commitment: str
    salt: str = Field(description="32 bytes, hex.")
    content: Any


def _checkpoint_out(note: str) -> CheckpointOut:
    """What a kept checkpoint says (the hub signed it; the caller checks the signature)."""
    checkpoint = Checkpoint.parse(note.rpartition("\n\n")[0] + "\n")
    root = base64.b64encode(checkpoint.root).decode()
    return CheckpointOut(origin=checkpoint.origin, size=checkpoint.size, root=root, note=note)


@router.get("/key", response_model=KeyOut)
async def key(request: Request, principal: Caller) -> KeyOut:
    """The hub's public key, which every checkpoint and receipt is checked with."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> KeyOut | None:
        public = hub.store.ledger_public_key()  # as registered: no key file needed to read it
        return None if public is None else KeyOut(key=public, origin=Verifier.parse(public).name)

    def register(hub: Hub) -> KeyOut:  # none registered yet: the key file's, registered now
        public = hub.ledger.public_key
        return KeyOut(key=public, origin=Verifier.parse(public).name)

    runner = service(request).runner
    found = await runner.read(read, party=principal.party)
    return found if found is not None else await runner.run(register, party=principal.party)


@router.get("/checkpoint", response_model=CheckpointOut)
async def latest_checkpoint(request: Request, principal: Caller) -> CheckpointOut:
    """The latest signed checkpoint (one is signed first if none is kept yet)."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> CheckpointOut:
        kept = hub.store.ledger_latest_checkpoint()
        return _checkpoint_out(hub.ledger.checkpoint() if kept is None else kept[1])

    return await service(request).runner.run(_signing(read), party=principal.party)


@router.post("/checkpoint", response_model=CheckpointOut)
async def sign_checkpoint(request: Request, principal: Caller) -> CheckpointOut:
    """Sign the log as it is now (admin scope); the last one kept if it has not grown."""
    need(principal, Scope.ADMIN)
    sign = _signing(lambda hub: _checkpoint_out(hub.ledger.checkpoint()))
    return await service(request).runner.run(sign, party=principal.party)


@router.get("/checkpoints", response_model=list[CheckpointOut])
async def list_checkpoints(
    request: Request,
    principal: Caller,
    since: Annotated[int, Query(ge=0, description="Only checkpoints of this size or more.")] = 0,
    limit: Annotated[int, Query(ge=1, le=_MAX_PAGE, description="At most this many.")] = 100,
) -> list[CheckpointOut]:
    """The kept checkpoints, oldest first: a party checks each extends the last it holds."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> list[CheckpointOut]:
        notes = hub.store.ledger_checkpoints_page(since, limit)
        return [_checkpoint_out(note) for _size, note in notes]

    return await service(request).runner.read(read, party=principal.party)


_ENTRIES_PAGE = 1000  # entries in a page, at most


@router.get("/entries", response_model=list[EntryOut], responses=PAGED)
async def entries(
    request: Request,
    response: Response,
    principal: Caller,
    record: Annotated[str, Query(min_length=1, description="A notice, notification, ... id.")],
    party: Annotated[
        str | None,
        Query(description="Whose notice ``record`` is (a notice's id is its party's own)."),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=INT_MAX, description="Only those after this index (a page's last)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=_ENTRIES_PAGE, description="At most this many.")] = (
        _ENTRIES_PAGE
    ),
) -> list[EntryOut]:
    """The entries about one record the caller may see, oldest first (none for a record it may
    not see), a page at a time: a full page carries ``Link: <...>; rel="next"``, the URL of
    the next. Their indexes are what inclusion proofs are asked for."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> list[EntryOut]:
        since = -1 if after is None else after
        found = entries_about(hub, principal.party, record, party, after=since, limit=limit)
        return [EntryOut(index=index, entry=entry) for index, entry in found]

    page = await service(request).runner.read(read, party=principal.party)
    if len(page) == limit:
        link_next(request, response, str(page[-1].index), limit)
    return page


@router.get("/proofs/inclusion", response_model=InclusionOut)
async def inclusion(
    request: Request,
    principal: Caller,
    index: Annotated[int, Query(ge=0, description="The entry's leaf index.")],
    size: Annotated[
        int | None, Query(ge=1, description="Tree size of the checkpoint (default: now).")
    ] = None,
) -> InclusionOut:
    """An entry about the caller's records and its inclusion proof in the tree of ``size``."""

    def read(hub: Hub) -> InclusionOut:
        entry = visible_entry(hub, principal.party, index)
        need(principal, Scope.READ)
        now = hub.ledger.size
        tree_size = now if size is None else size
        if tree_size > now:
            raise InvalidField("query:size", f"size {tree_size} is above the log's size {now}")
        if index >= tree_size:
            raise InvalidField("query:size", f"entry {index} is not in a tree of size {tree_size}")
        proof = hub.ledger.inclusion(index, tree_size)
        return InclusionOut.model_validate(inclusion_document(index, tree_size, entry, proof))

    # On the hub thread: a proof builds the subtree hashes it lacks, a write.
    return await service(request).runner.run(read, party=principal.party)


@router.get("/proofs/consistency", response_model=ConsistencyOut)
async def consistency(
    request: Request,
    principal: Caller,
    first: Annotated[int, Query(ge=1, description="The older tree size.")],
    second: Annotated[int | None, Query(ge=1, description="The newer size (default: now).")] = None,
) -> ConsistencyOut:
    """The proof that the tree of size ``second`` extends the tree of size ``first``."""
    need(principal, Scope.READ)

    def read(hub: Hub) -> ConsistencyOut:
        now = hub.ledger.size
        newer = now if second is None else second
        if newer > now:
            raise InvalidField("query:second", f"size {newer} is above the log's size {now}")
        if first > newer:
            raise InvalidField("query:first", f"size {first} is above size {newer}")
        proof = hub.ledger.consistency(first, newer)
        return ConsistencyOut.model_validate(consistency_document(first, newer, proof))

    # On the hub thread: a proof builds the subtree hashes it lacks, a write.
    return await service(request).runner.run(read, party=principal.party)


@router.get(
    "/receipts/{record_id}",
    response_class=Response,
    responses={
        200: {"model": ReceiptOut, "description": "The receipt file, byte for byte."},
        **not_yet(
            "An entry no kept checkpoint holds yet (the hub's tick signs one within seconds), "
            "or a private entry (of a plan's conflict), whose receipt comes at its digest."
        ),
    },
)
async def receipt(record_id: str, request: Request, principal: Caller) -> Response:
    """The receipt of a notice the caller filed (its filing), or of a notification to it or
    relayed through it (its latest entry: the acknowledgement once there is one), under the
    newest kept checkpoint that holds its entry: one is never signed for a receipt (the kept
    checkpoints are every party's to read)."""

    def read(hub: Hub) -> bytes:
        try:
            data = receipt_for(hub, principal.party, record_id, sign=False)
        except NotYetCommitted:  # found, so a token without the scope is refused, not told to wait
            need(principal, Scope.READ)
            raise
        need(principal, Scope.READ)
        return data

    # On the hub thread, as the proofs: an inclusion proof builds the subtree hashes it lacks.
    data = await service(request).runner.run(_signing(read), party=principal.party)
    return Response(data, media_type="application/json")


@router.get("/openings/{notice_id}", response_model=OpeningOut)
async def opening(
    notice_id: str,
    request: Request,
    principal: Caller,
    version: Annotated[
        int | None, Query(ge=1, le=VERSION_MAX, description="Version (default: current).")
    ] = None,
) -> OpeningOut:
    """The salt and content that open the commitment to one of the caller's own notices (to
    hand an arbiter with the receipt that holds the commitment)."""

    def read(hub: Hub) -> OpeningOut:
        found = opening_for(hub, principal.party, notice_id, version)
        need(principal, Scope.READ)
        return OpeningOut(**found.to_json())

    return await service(request).runner.read(read, party=principal.party)
