"""What of the ledger a party may see: the entries about it, and the proofs and receipts of those.

An entry names its record and the parties in the clear (a notice's id and filer, a notification's
recipient and relay, a conflict's or an agreement's parties), so reading an entry, or proving one,
tells that the record exists. A party therefore reads only the entries it could learn of through
the rest of the API, decided by the same rules:

- ``notice.*``: the filer, and a party that may see the notice whole now (its agreements
  disclose it); none of a notice it sees only in part;
- ``notification.*``: its recipient and the relay it went through, and so for
  ``notifications.delivered`` (a batch's deliveries, all to one recipient through one relay);
- ``conflict.*``: a party that may see the conflict (never the filer of a notice that met another
  party's private plan: the plan is not even metadata to it), its resolution only at the time it
  is shown resolved;
- ``agreement.*``: its parties and its relay; ``party.*``: that party alone.

Anything else, and any index past the end, is the same ``NotFound`` with the same words, so a
hidden entry and a missing one cannot be told apart. Tree sizes, roots, checkpoints and
consistency proofs name nothing and are for every party. An inclusion proof carries hashes of
neighbouring entries: those hold salted commitments or random ids, except ``party.added``, whose
few fields could be guessed from its leaf hash (a party's existence, which agreements tell
anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from deconflict.errors import InvalidInput, NotFound
from deconflict.geo.units import parse_rfc3339
from deconflict.hub.service import Hub
from deconflict.ledger import Opening
from deconflict.model import Conflict
from deconflict.model.ids import record_key
from deconflict.policy import need_to_know

__all__ = ["entries_about", "may_see_entry", "opening_for", "receipt_for", "visible_entry"]


def _sees(look: Callable[[], object]) -> bool:
    try:
        look()
    except NotFound:
        return False
    return True


def may_see_entry(hub: Hub, party: str, entry: Mapping[str, Any]) -> bool:
    """Whether ``party`` may read ``entry`` (see the module docstring)."""
    kind = str(entry.get("type", ""))
    entity = kind.split(".", 1)[0]
    if entity == "notice":
        notice, owner = str(entry.get("notice")), str(entry.get("party"))
        if owner == party:
            return True
        return _sees(lambda: hub.get_notice(party, notice, party=owner)) and _told_in_part(
            hub, party, owner, kind
        )
    if entity in ("notification", "notifications"):  # one, or a batch's deliveries
        return party in (entry.get("recipient"), entry.get("via"))
    if entity == "conflict":
        try:
            shown = hub.get_conflict(party, str(entry.get("conflict")))
        except NotFound:
            return False
        return _resolution_shown(shown, entry)
    if entity == "agreement":
        return any(a.id == entry.get("agreement") for a in hub.list_agreements(party))
    if entity in ("party", "private"):  # a party's own, or the digest of its private entries
        return entry.get("party") == party
    return False


def _told_in_part(hub: Hub, party: str, owner: str, kind: str) -> bool:
    """Whether ``party`` may read a ``kind`` entry of ``owner``'s notice it sees: only if it
    sees the owner whole. Seen in part, every entry is the whole notice's: its filing told it
    existed (and when) before anything in it could be seen; its amendments, start, end and
    cancellation, when and how often the owner changed volumes the party may not see (a
    cancellation's entry names the version it ends), and when they started and ended (§3.3).
    The party's own conflicts and notifications are its proof that it was told."""
    del kind  # no kind is told in part (the notice's filing was, until a fifth reader)
    return hub.sees_whole(party, owner)


def _resolution_shown(shown: Conflict, entry: Mapping[str, Any]) -> bool:
    """Whether a conflict's entry tells no more than the party is shown of the conflict: a
    ``conflict.resolved`` entry only when the party is shown it resolved at that time (one
    shown over when its window passed, ``need_to_know.seen_conflict``, was resolved at
    another time, the end of the other party's notice, which that time would tell)."""
    if entry.get("type") != "conflict.resolved":
        return True
    if shown.resolved_at_s is None:
        return False
    try:
        at = parse_rfc3339(str(entry.get("at")))
    except ValueError:
        return False
    return abs(at - shown.resolved_at_s) <= _SAME_TIME_S


_SAME_TIME_S = 1e-5  # the ledger writes times to the microsecond


def visible_entry(hub: Hub, party: str, index: int) -> dict[str, Any]:
    """Entry ``index`` if ``party`` may read it; else NotFound, as for an index past the end,
    found by the same statements whatever is at ``index`` (see :func:`_may_see_by_index`)."""
    try:
        entry = hub.ledger.entry(index)  # one query, for an index past the end too
    except NotFound:
        entry = {}
    if _may_see_by_index(hub, party, entry):
        return entry
    raise NotFound(f"no ledger entry {index}")


def _may_see_by_index(hub: Hub, party: str, entry: Mapping[str, Any]) -> bool:
    """:func:`may_see_entry`, for an entry asked for by its index, deciding by the same
    statements whatever the entry is, or if there is none: every lookup any kind needs is run
    for each, with the entry's own names where it has them. Deciding by kind ran a notice's
    lookup for a notice entry, a conflict's for a conflict's and nothing for an index past the
    end, so the time a refusal took told a prober sweeping the indexes which held another
    party's hidden notice entries: when and how often it filed (found by a hostile probe)."""
    entity = str(entry.get("type", "")).split(".", 1)[0]
    owner = str(entry.get("party") or "-")
    # Each lookup with the entry's own names only where the party may read what they name (a
    # notice of an owner it sees whole, a conflict it is in, a notification to or through
    # it), else with a name nothing has: a lookup that finds a row costs steps more than one
    # that finds none, and an eighth reader sweeping the indexes read each entry's kind by it.
    named = owner == party or hub.sees_whole(party, owner)
    notice_id = str(entry.get("notice") or "-") if named else "-"
    notice = hub.sees_notice(party, record_key(owner if named else "-", notice_id))
    # A conflict it is in is looked up by the entry's name, its resolution's entry too (told
    # when it was shown as it happened, and then its proof is asked by index); any other
    # entry by the name of a conflict the party is in, never one it may not see:
    # looked up so, every lookup finds a row, and a refused resolution of its own conflict
    # (appended when the store resolved it, at the end of the other's notice) costs what any
    # refusal does. (Looked up by "-" for others, the eighth reader's sweep told which index
    # held it.)
    stand_in = hub.store.a_seen_conflict(party)  # read for every entry
    named_conflict = str(entry.get("conflict") or "-")
    if party not in [str(p) for p in entry.get("parties") or ()]:
        named_conflict = stand_in or "-"
    try:
        conflict: Conflict | None = hub.get_conflict(party, named_conflict)
    except NotFound:
        conflict = None
    agreed = any(a.id == entry.get("agreement") for a in hub.list_agreements(party))
    if entity == "notice":
        kind = str(entry.get("type"))
        return owner == party or (notice and _told_in_part(hub, party, owner, kind))
    if entity == "conflict":
        told = entry.get("type") != "conflict.resolved" or (
            conflict is not None and _resolution_told(hub, party, conflict)
        )
        return (
            conflict is not None
            and conflict.id == entry.get("conflict")
            and told
            and _resolution_shown(conflict, entry)
        )
    if entity == "agreement":
        return agreed
    return may_see_entry(hub, party, entry)  # decided by the entry alone, no lookup


def entries_about(
    hub: Hub,
    party: str,
    record_id: str,
    owner: str | None = None,
    *,
    after: int = -1,
    limit: int | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """(index, entry) of the entries about ``record_id`` that ``party`` may read, oldest first
    (none, for a record it may not see, as for one that does not exist), after index ``after``,
    at most ``limit`` (each subject read no further: a notice's versions, which its owner may
    make as many of as it likes, cost a page what it holds). A notice's id is its party's own:
    ``owner``'s notice, or without ``owner`` the party's own and any other's it may see of
    that id."""
    # Only subjects the party may see are looked up in the log: a hidden notice, party or
    # agreement found there and refused only then ran more statements than a missing one
    # (security.md §3.5), so its existence showed in the time the answer took.
    owners = [owner] if owner is not None else hub.owners_seen_by(party)
    # A notice's entries are the whole notice's: read only for an owner the party sees whole.
    # Seen in part, none is told (:func:`_told_in_part`), and none is read: read and dropped, what
    # they cost counted the owner's amendments, and told when its hidden volumes started.
    subjects = [
        f"notice:{record_key(o, record_id)}"
        for o in owners
        if o == party
        or (_sees(partial(hub.get_notice, party, record_id, party=o)) and hub.sees_whole(party, o))
    ]
    subjects.append(f"notification:{record_id}")
    if any(a.id == record_id for a in hub.list_agreements(party)):
        subjects.append(f"agreement:{record_id}")
    if record_id == party:
        subjects.append(f"party:{record_id}")
    found = []
    for subject in subjects:
        # A notice's entries are all told (decided above): read no further than the page. The
        # others are few, and some may not be told: read whole, so that a page cut before the
        # party's own are dropped is not short of them (and ends the client's reading).
        whole = not subject.startswith("notice:")
        listed = hub.store.ledger_find(subject, after, None if whole else limit)
        read = hub.ledger.entries([index for index, _ in listed])
        for index, kind in listed:
            entry = read[index]
            # A notice's own entries are decided above, once, not looked up again each.
            decided = subject.startswith("notice:") and kind.startswith("notice.")
            if decided or may_see_entry(hub, party, entry):
                found.append((index, entry))
    # A conflict's, by the conflict as shown (found once), and read no further than is told:
    # its detection, and its resolution only when it was shown as it happened. Shown over
    # when its window as told passed, the store resolved it at the end of a notice (maybe at
    # a hidden volume's): that entry, read or not there yet, told when.
    try:
        shown: Conflict | None = hub.get_conflict(party, record_id)
    except NotFound:
        shown = None
    if shown is not None:
        told = 2 if _resolution_told(hub, party, shown) else 1
        for index, _ in hub.store.ledger_find(f"conflict:{record_id}", limit=told):
            entry = hub.ledger.entry(index)
            if index > after and _resolution_shown(shown, entry):
                found.append((index, entry))
    return sorted(found, key=lambda item: item[0])[:limit]


def _resolution_told(hub: Hub, party: str, shown: Conflict) -> bool:
    """Whether ``party`` is told the resolution of a conflict it is shown as ``shown``: when
    it sees the other side whole, or the conflict was shown resolved when a change cleared
    it (``need_to_know.seen_conflict``), not when its window as told passed."""
    if shown.resolved_at_s is None:
        return False
    other = shown.other_side(party)
    if other is None or hub.sees_whole(party, other.party):
        return True
    over = need_to_know.shown_over_at(shown, party, hub.resolution_for(party, other.party))
    return shown.resolved_at_s != over


def receipt_for(hub: Hub, party: str, record_id: str, *, sign: bool = True) -> bytes:
    """The receipt of ``record_id`` for ``party`` (a notice it filed, a notification to it or
    through it, a conflict of its plan), under a checkpoint that holds it (without ``sign``,
    a kept one only, else NotYetCommitted: the API's, security.md §3.4); one NotFound for
    anything else. A conflict of its plan's private entries are read no further than it is told, as
    the shared log's (:func:`entries_about`): its resolution only when it was shown as it
    happened. (The store resolved it at the end of the other's notice, maybe at a hidden
    volume's, and that entry's time told when, to the tick: a twenty-ninth reader.) The
    conflict is looked up whatever the id names, so the lookup tells nothing either."""
    try:
        shown: Conflict | None = hub.get_conflict(party, record_id)
    except NotFound:
        shown = None
    resolution_told = shown is not None and _resolution_told(hub, party, shown)

    def told(entry: dict[str, Any]) -> bool:
        if entry.get("type") != "conflict.resolved":
            return True
        return shown is not None and resolution_told and _resolution_shown(shown, entry)

    try:
        return hub.ledger.receipt(party, record_id, told, sign=sign)
    except NotFound:
        raise NotFound(f"no receipt for {record_id!r}") from None


def opening_for(hub: Hub, party: str, notice_id: str, version: int | None) -> Opening:
    """The opening of ``party``'s own notice's commitment; one NotFound for anything else."""
    if version is not None and version < 1:
        raise InvalidInput("a notice version is 1 or more")
    try:
        return hub.ledger.opening(party, notice_id, version)
    except NotFound:
        raise NotFound(f"no commitment to open for {notice_id!r}") from None
