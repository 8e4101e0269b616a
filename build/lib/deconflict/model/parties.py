"""Parties and the agreements between them: who shares notices with whom, and on what terms.

An agreement is the memorandum between two or more parties: the minimum lead time a notice must
give, the separation minima their activities must keep, an optional relay party that routes
notices between them, what each party may see of another's notices (per direction), how long a
recipient has to acknowledge what it is told, and two terms of need-to-know
(``policy.need_to_know``):
under "conflicts-only", which of a party's volumes may unlock another's they meet (``unlock``),
and how finely a party is told of a conflict with a volume it may not see (``resolution``).
There is deliberately no field for targets, purposes or weapons effects.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from deconflict.engine import SeparationMinima, check_minima_accepted
from deconflict.errors import InvalidInput
from deconflict.ranges import (
    MAX_ACK_DEADLINE_S,
    MAX_LEAD_TIME_S,
    MAX_RESOLUTION_HORIZONTAL_M,
    MAX_RESOLUTION_TIME_S,
    MAX_RESOLUTION_VERTICAL_M,
    MAX_UNLOCK_AREA_M2,
    MAX_UNLOCK_DURATION_S,
)

__all__ = [
    "Agreement",
    "Disclosure",
    "Party",
    "Resolution",
    "Unlock",
    "check_agreement_accepted",
]


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > 200:
        raise InvalidInput(f"{what} is longer than 200 characters")
    return value


def _check_seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except OverflowError:  # an integer of hundreds of digits (JSON allows them)
        raise InvalidInput(f"{what} is too large: {len(str(value))} digits") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput(f"{what} must be finite and >= 0, got {value!r}")
    return seconds


def _check_positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits (JSON allows them)
        raise InvalidInput(f"{what} is too large: {len(str(value))} digits") from None
    if not math.isfinite(number) or number <= 0:
        raise InvalidInput(f"{what} must be finite and > 0, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class Resolution:
    """How finely a party is told of a conflict with a volume it may not see: that volume's
    window and band are rounded outward to ``time_s`` and ``vertical_m`` steps, and the
    horizontal distance down to ``horizontal_m`` (``policy.need_to_know.envelope``)."""

    time_s: float = 900.0
    vertical_m: float = 150.0
    horizontal_m: float = 1_000.0

    def __post_init__(self) -> None:
        for name in ("time_s", "vertical_m", "horizontal_m"):
            object.__setattr__(self, name, _check_positive(getattr(self, name), name))

    def coarsest(self, other: Resolution) -> Resolution:
        return Resolution(
            max(self.time_s, other.time_s),
            max(self.vertical_m, other.vertical_m),
            max(self.horizontal_m, other.horizontal_m),
        )


@dataclass(frozen=True, slots=True)
class Unlock:
    """Under "conflicts-only", which of a party's volumes disclose another party's volume they
    conflict with: at most ``max_area_m2`` of footprint and ``max_duration_s`` of window, and a
    plan's only if ``plans`` (by default plans unlock nothing: a plan is private, so its owner's
    counterpart could not be told what it disclosed)."""

    max_area_m2: float = 5.0e10  # 50,000 km2: a circle of about 126 km radius
    max_duration_s: float = 2 * 86_400.0
    plans: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_area_m2", _check_positive(self.max_area_m2, "max_area_m2"))
        object.__setattr__(
            self, "max_duration_s", _check_positive(self.max_duration_s, "max_duration_s")
        )
        if not isinstance(self.plans, bool):
            raise InvalidInput(f"unlock plans must be true or false, got {self.plans!r}")


class Disclosure(StrEnum):
    """What a recipient may see of another party's notice, from most to least."""

    FULL = "full"
    #: only the volumes of a notice that conflict with the recipient's own activity
    CONFLICTS_ONLY = "conflicts-only"
    NONE = "none"

    @property
    def rank(self) -> int:
        return {"full": 2, "conflicts-only": 1, "none": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Party:
    """An organisation that files and receives notices."""

    id: str
    name: str

    def __post_init__(self) -> None:
        _check_id(self.id, "party id")
        _check_id(self.name, "party name")


@dataclass(frozen=True, slots=True)
class Agreement:
    """The memorandum between ``parties`` (two or more).

    ``disclosure`` maps an ordered pair (from_party, to_party) to what ``to_party`` may see of
    ``from_party``'s notices; a pair not listed gets ``default_disclosure``.
    """

    id: str
    parties: tuple[str, ...]
    min_lead_time_s: float = 0.0
    minima: SeparationMinima = field(default_factory=SeparationMinima)
    relay: str | None = None
    disclosure: Mapping[tuple[str, str], Disclosure] = field(default_factory=dict)
    default_disclosure: Disclosure = Disclosure.CONFLICTS_ONLY
    ack_deadline_s: float = 3600.0
    unlock: Unlock = field(default_factory=Unlock)
    resolution: Resolution = field(default_factory=Resolution)

    def __post_init__(self) -> None:
        _check_id(self.id, "agreement id")
        if isinstance(self.parties, str) or not isinstance(self.parties, Iterable):
            raise InvalidInput("agreement parties must be a sequence of party ids")
        parties = tuple(_check_id(p, "agreement party") for p in self.parties)
        if len(set(parties)) < 2 or len(set(parties)) != len(parties):
            raise InvalidInput(f"agreement {self.id!r} needs 2 or more distinct parties")
        object.__setattr__(self, "parties", parties)
        if self.relay is not None:
            _check_id(self.relay, "relay party")
        if not isinstance(self.minima, SeparationMinima):
            raise InvalidInput("agreement minima must be a SeparationMinima")
        for name in ("min_lead_time_s", "ack_deadline_s"):
            object.__setattr__(self, name, _check_seconds(getattr(self, name), name))
        if not isinstance(self.unlock, Unlock):
            raise InvalidInput("agreement unlock must be an Unlock")
        if not isinstance(self.resolution, Resolution):
            raise InvalidInput("agreement resolution must be a Resolution")
        try:
            default = Disclosure(self.default_disclosure)
            rules = {
                (str(a), str(b)): Disclosure(level)
                for (a, b), level in dict(self.disclosure).items()
            }
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"agreement {self.id!r}: bad disclosure: {error}") from None
        for a, b in rules:
            if a not in parties or b not in parties or a == b:
                raise InvalidInput(
                    f"agreement {self.id!r}: disclosure ({a!r}, {b!r}) must name two of its parties"
                )
        object.__setattr__(self, "default_disclosure", default)
        object.__setattr__(self, "disclosure", rules)

    def links(self, a: str, b: str) -> bool:
        """Whether both ``a`` and ``b`` are parties to this agreement (and differ)."""
        return a != b and a in self.parties and b in self.parties

    def disclosure_for(self, from_party: str, to_party: str) -> Disclosure:
        """What ``to_party`` may see of ``from_party``'s notices under this agreement."""
        if not self.links(from_party, to_party):
            return Disclosure.NONE
        return self.disclosure.get((from_party, to_party), self.default_disclosure)


def check_agreement_accepted(agreement: Agreement) -> Agreement:
    """``agreement`` if intake may accept it: its lead time, acknowledgement deadline and
    separation minima within their ranges (``deconflict.ranges``), so that what is derived from
    them (a deadline is the time told plus ``ack_deadline_s``) can be shown; else InvalidInput
    naming the field. An agreement read back from the store is not checked again."""
    for name, longest in (
        ("min_lead_time_s", MAX_LEAD_TIME_S),
        ("ack_deadline_s", MAX_ACK_DEADLINE_S),
    ):
        value = getattr(agreement, name)
        if value > longest:
            raise InvalidInput(
                f"agreement {agreement.id!r}: {name} must be at most {longest:,.0f} s "
                f"({longest / 86_400:g} days), got {value:g}"
            )
    check_minima_accepted(agreement.minima)
    for name, value, most in (
        ("resolution.time_s", agreement.resolution.time_s, MAX_RESOLUTION_TIME_S),
        ("resolution.vertical_m", agreement.resolution.vertical_m, MAX_RESOLUTION_VERTICAL_M),
        ("resolution.horizontal_m", agreement.resolution.horizontal_m, MAX_RESOLUTION_HORIZONTAL_M),
        ("unlock.max_duration_s", agreement.unlock.max_duration_s, MAX_UNLOCK_DURATION_S),
        ("unlock.max_area_m2", agreement.unlock.max_area_m2, MAX_UNLOCK_AREA_M2),
    ):
        if value > most:
            raise InvalidInput(f"agreement {agreement.id!r}: {name} must be at most {most:g}")
    return agreement
