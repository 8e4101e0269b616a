"""Notices and plans: a party's activity as 4D volumes, and the notice state machine.

A notice is advance notice given to other parties; a plan is a party's own planned activity,
private to it and only checked against others' notices. A notice moves

    filed -> active -> ended          (by time: first volume start, last volume end)
    filed | active -> cancelled       (by its party)

and an amendment makes a new version of a filed or active notice (same id, version + 1). Any
other change raises :class:`~deconflict.errors.InvalidTransition`. Records are frozen: every
change returns a new record. Times are seconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from deconflict.errors import InvalidInput, InvalidTransition
from deconflict.geo import Volume4D
from deconflict.geo.volume import check_accepted
from deconflict.model.ids import check_id, record_key
from deconflict.model.parties import _check_id
from deconflict.ranges import MAX_VOLUMES

__all__ = ["Notice", "NoticeState", "Plan", "PlanState", "accept_volumes", "check_volumes"]


def check_volumes(volumes: Sequence[Volume4D], what: str) -> tuple[Volume4D, ...]:
    """At least one volume, all Volume4D, ids unique within the record."""
    if isinstance(volumes, Volume4D) or not isinstance(volumes, Sequence):
        raise InvalidInput(f"{what} volumes must be a list of Volume4D")
    out = tuple(volumes)
    if not out:
        raise InvalidInput(f"{what} needs at least one volume")
    seen: set[str] = set()
    for volume in out:
        if not isinstance(volume, Volume4D):
            raise InvalidInput(f"{what} volumes must be Volume4D, got {type(volume).__name__}")
        _check_id(volume.id, f"{what} volume id")
        if volume.id in seen:
            raise InvalidInput(f"{what} has two volumes with id {volume.id!r}")
        seen.add(volume.id)
    return out


def accept_volumes(volumes: Sequence[Volume4D], what: str) -> tuple[Volume4D, ...]:
    """:func:`check_volumes`, and what intake accepts (``deconflict.ranges``): at most
    ``MAX_VOLUMES`` volumes, each within the accepted ranges (``geo.volume.check_accepted``),
    each volume id a chosen id (``model.ids``). For the edge where a record comes in; a record
    read back is not checked again."""
    out = check_volumes(volumes, what)
    if len(out) > MAX_VOLUMES:
        raise InvalidInput(f"{what} has {len(out)} volumes, more than the {MAX_VOLUMES} accepted")
    for volume in out:
        check_accepted(volume)
        check_id(volume.id, f"{what}: volume id")
    return out


class NoticeState(StrEnum):
    FILED = "filed"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"

    @property
    def live(self) -> bool:
        """Whether a notice in this state still describes activity to come or under way."""
        return self in (NoticeState.FILED, NoticeState.ACTIVE)


_NOTICE_MOVES = {
    NoticeState.FILED: {NoticeState.ACTIVE, NoticeState.CANCELLED},
    NoticeState.ACTIVE: {NoticeState.ENDED, NoticeState.CANCELLED},
    NoticeState.ENDED: set(),
    NoticeState.CANCELLED: set(),
}


class _Spanned:
    """The time a record's volumes span: a notice's, a plan's."""

    __slots__ = ()
    volumes: tuple[Volume4D, ...]

    @property
    def start_s(self) -> float:
        """Earliest volume start."""
        return min(v.window.start_s for v in self.volumes)

    @property
    def end_s(self) -> float:
        """Latest volume end."""
        return max(v.window.end_s for v in self.volumes)


@dataclass(frozen=True, slots=True)
class Notice(_Spanned):
    """A party's advance notice of activity: volumes, a free category, a state and a version."""

    id: str
    party: str
    volumes: tuple[Volume4D, ...]
    category: str
    filed_at_s: float
    version: int = 1
    state: NoticeState = NoticeState.FILED
    updated_at_s: float | None = None
    #: For each volume, the version it last changed at (empty: all at ``version``): an
    #: amendment leaves the volumes it does not change, and their conflicts, as they were.
    volume_versions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_id(self.id, "notice id")
        _check_id(self.party, "notice party")
        _check_id(self.category, "notice category")
        object.__setattr__(self, "volumes", check_volumes(self.volumes, f"notice {self.id!r}"))
        object.__setattr__(self, "state", NoticeState(self.state))
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise InvalidInput(f"notice version must be an integer >= 1, got {self.version!r}")
        since = tuple(self.volume_versions)
        if since and (
            len(since) != len(self.volumes)
            or not all(type(v) is int and 1 <= v <= self.version for v in since)
        ):
            raise InvalidInput(
                f"notice {self.id!r} volume versions must be one version from 1 to "
                f"{self.version} for each of its {len(self.volumes)} volumes, got {since!r}"
            )
        object.__setattr__(self, "volume_versions", since)

    def changed_since(self) -> dict[str, int]:
        """The version at which each volume last changed, by its id (the current one where
        none is recorded): read once for many (asked one volume at a time, by scanning the
        volumes, a notice's conflicts each scanned them: an amendment of 1,000 volumes holding
        1,000 conflicts took a second of the hub's thread; a thirty-fifth reader)."""
        if not self.volume_versions:
            return {volume.id: self.version for volume in self.volumes}
        return {v.id: since for v, since in zip(self.volumes, self.volume_versions, strict=True)}

    @property
    def key(self) -> str:
        """The hub-wide key of this notice (its id is its party's own: ``model.ids``)."""
        return record_key(self.party, self.id)

    def _move(self, to: NoticeState, at_s: float) -> Notice:
        if to not in _NOTICE_MOVES[self.state]:
            raise InvalidTransition(f"notice {self.id!r} cannot go from {self.state} to {to}")
        return replace(self, state=to, updated_at_s=at_s)

    def activate(self, at_s: float) -> Notice:
        return self._move(NoticeState.ACTIVE, at_s)

    def end(self, at_s: float) -> Notice:
        return self._move(NoticeState.ENDED, at_s)

    def cancel(self, at_s: float) -> Notice:
        return self._move(NoticeState.CANCELLED, at_s)

    def amend(
        self, volumes: Sequence[Volume4D], at_s: float, category: str | None = None
    ) -> Notice:
        """The next version with new volumes (and category); only while filed or active. A
        volume given unchanged keeps the version it last changed at."""
        if not self.state.live:
            raise InvalidTransition(f"notice {self.id!r} is {self.state}: it cannot be amended")
        version = self.version + 1
        before, changed = {v.id: v for v in self.volumes}, self.changed_since()
        since = tuple(
            changed[v.id] if v.id in before and before[v.id].same_as(v) else version
            for v in volumes
        )
        return replace(
            self,
            volumes=tuple(volumes),
            category=self.category if category is None else category,
            version=version,
            updated_at_s=at_s,
            volume_versions=since,
        )


class PlanState(StrEnum):
    CURRENT = "current"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Plan(_Spanned):
    """A party's own planned activity: private to it, checked against others' notices."""

    id: str
    party: str
    volumes: tuple[Volume4D, ...]
    created_at_s: float
    version: int = 1
    state: PlanState = PlanState.CURRENT
    updated_at_s: float | None = None

    def __post_init__(self) -> None:
        _check_id(self.id, "plan id")
        _check_id(self.party, "plan party")
        object.__setattr__(self, "volumes", check_volumes(self.volumes, f"plan {self.id!r}"))
        object.__setattr__(self, "state", PlanState(self.state))

    @property
    def key(self) -> str:
        """The hub-wide key of this plan (its id is its party's own: ``model.ids``)."""
        return record_key(self.party, self.id)

    def amend(self, volumes: Sequence[Volume4D], at_s: float) -> Plan:
        if self.state is not PlanState.CURRENT:
            raise InvalidTransition(f"plan {self.id!r} is withdrawn: it cannot be amended")
        return replace(self, volumes=tuple(volumes), version=self.version + 1, updated_at_s=at_s)

    def withdraw(self, at_s: float) -> Plan:
        if self.state is not PlanState.CURRENT:
            raise InvalidTransition(f"plan {self.id!r} is already withdrawn")
        return replace(self, state=PlanState.WITHDRAWN, updated_at_s=at_s)
