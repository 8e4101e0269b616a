"""What the Hub's operations report: a filing with its lead time, and what a tick did."""

from __future__ import annotations

from dataclasses import dataclass, field

from deconflict import policy
from deconflict.model import Notice, Notification

__all__ = ["Filing", "TickReport"]


@dataclass(frozen=True, slots=True)
class Filing:
    """A filed (or amended) notice and how much lead time it gave; late notices are accepted."""

    notice: Notice
    lead: policy.LeadCheck

    @property
    def late(self) -> bool:
        return self.lead.late

    @property
    def shortfall_s(self) -> float:
        return self.lead.shortfall_s


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one ``tick()`` did: notices moved by time and notifications escalated."""

    activated: list[Notice] = field(default_factory=list)
    ended: list[Notice] = field(default_factory=list)
    escalated: list[Notification] = field(default_factory=list)
