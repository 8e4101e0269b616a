"""Agreements applied: lead-time checks, separation minima per pair, routing through relays, and
the level of disclosure between two parties (what it lets a party see: ``policy.need_to_know``).

Pure functions over model records: no store, no clock. Where several agreements link two parties,
the strictest terms apply: the widest minima, the longest minimum lead time, the shortest
acknowledgement deadline, the widest disclosure (an agreement that grants more is the one that
says so); they all name the same relay, or none (``check_relays``). Plans are never visible to
other parties, and there is no field for targets or purposes to disclose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidInput
from deconflict.model import Agreement, Disclosure, Notice

__all__ = [
    "LeadCheck",
    "Route",
    "ack_deadline_s",
    "check_lead_time",
    "check_relays",
    "disclosure",
    "linked_parties",
    "minima_for",
    "relayed_by",
    "route",
    "search_minima",
]


@dataclass(frozen=True, slots=True)
class LeadCheck:
    """How much notice a notice gave: from filing to its earliest volume start."""

    lead_time_s: float
    required_s: float

    @property
    def late(self) -> bool:
        return self.lead_time_s < self.required_s

    @property
    def shortfall_s(self) -> float:
        """Seconds short of the agreed minimum lead time (0 when on time)."""
        return max(0.0, self.required_s - self.lead_time_s)


def _linking(agreements: Iterable[Agreement], a: str, b: str) -> list[Agreement]:
    return [ag for ag in agreements if ag.links(a, b)]


def _relay_between(ag: Agreement, a: str, b: str) -> str | None:
    """The relay ``ag`` puts between ``a`` and ``b``, if any (a relay that is one of them is
    none)."""
    return ag.relay if ag.relay is not None and ag.relay not in (a, b) else None


def check_relays(agreements: Iterable[Agreement], added: Agreement) -> None:
    """InvalidInput unless, with ``added`` among ``agreements``, every agreement linking two
    parties puts the same relay between them, or none does. A relay sees what it relays, under
    the terms of the agreements it relays; an agreement of the same two parties that it does
    not relay would shape what it reads (its minima finding the conflicts, its deadline dating
    them, its disclosure naming notices), and two relays would split the pair's conflicts
    between them (security.md §3.6). A second agreement through the same relay (stricter
    terms, say) is one more the relay relays."""
    existing = list(agreements)
    for i, a in enumerate(added.parties):
        for b in added.parties[i + 1 :]:
            mine = _relay_between(added, a, b)
            for other in _linking(existing, a, b):
                theirs = _relay_between(other, a, b)
                if theirs == mine:
                    continue
                error = InvalidInput(
                    f"agreement {added.id!r} would link parties {a!r} and {b!r} "
                    f"{_through(mine)}, but agreement {other.id!r} links them "
                    f"{_through(theirs)}: the agreements of two parties all name the same "
                    "relay, or none (a relay sees what it relays, under the agreements it "
                    "relays)"
                )
                error.field = "/relay"
                raise error


def _through(relay: str | None) -> str:
    return "directly" if relay is None else f"through relay {relay!r}"


def check_lead_time(
    notice: Notice, agreements: Iterable[Agreement], filed_at_s: float
) -> LeadCheck:
    """Lead time of ``notice`` filed at ``filed_at_s`` against the longest minimum of any agreement
    its party is in. A late notice is still accepted; the check says by how much it is late."""
    required = max(
        (ag.min_lead_time_s for ag in agreements if notice.party in ag.parties), default=0.0
    )
    return LeadCheck(lead_time_s=notice.start_s - filed_at_s, required_s=required)


def minima_for(agreements: Iterable[Agreement], a: str, b: str) -> SeparationMinima | None:
    """The widest minima across the agreements linking ``a`` and ``b``; None when none does
    (then their activities are not checked against each other)."""
    found: SeparationMinima | None = None
    for ag in _linking(agreements, a, b):
        found = ag.minima if found is None else found.widest(ag.minima)
    return found


def search_minima(agreements: Iterable[Agreement]) -> SeparationMinima:
    """Minima at least as wide as any agreement's: the reach of an index search."""
    out = SeparationMinima()
    for ag in agreements:
        out = out.widest(ag.minima)
    return out


def linked_parties(agreements: Iterable[Agreement], party: str) -> list[str]:
    """Every other party that shares an agreement with ``party``, in first-seen order."""
    out: list[str] = []
    for ag in agreements:
        if party in ag.parties:
            out.extend(p for p in ag.parties if p != party and p not in out)
    return out


def ack_deadline_s(agreements: Iterable[Agreement], a: str, b: str) -> float | None:
    """The shortest acknowledgement deadline (seconds) of the agreements linking ``a`` and ``b``."""
    return min((ag.ack_deadline_s for ag in _linking(agreements, a, b)), default=None)


def relayed_by(agreements: Iterable[Agreement], relay: str) -> list[Agreement]:
    """The agreements ``relay`` relays: all a relay may see by (it sees what it relays)."""
    return [ag for ag in agreements if ag.relay == relay]


def disclosure(agreements: Iterable[Agreement], owner: str, viewer: str) -> Disclosure:
    """What ``viewer`` may see of ``owner``'s notices: everything for the owner itself, else the
    widest level any linking agreement grants, else nothing."""
    if owner == viewer:
        return Disclosure.FULL
    levels = [ag.disclosure_for(owner, viewer) for ag in _linking(agreements, owner, viewer)]
    return max(levels, key=lambda level: level.rank, default=Disclosure.NONE)


@dataclass(frozen=True, slots=True)
class Route:
    """How something from ``sender`` reaches ``recipient``: directly, or through ``via``."""

    sender: str
    recipient: str
    via: str | None


def route(
    agreements: Sequence[Agreement],
    sender: str,
    recipient: str,
    disclosing: Disclosure | None = None,
) -> Route | None:
    """Through the relay of the first linking agreement that names one (a relay that is itself
    the sender or recipient is no detour); None when no agreement links them. With
    ``disclosing``, what is told discloses the sender's notices so: only through the relay of
    an agreement that discloses them so (the relay sees what it relays, nothing more), else
    directly."""
    linking = _linking(agreements, sender, recipient)
    if not linking:
        return None
    for ag in linking:
        if disclosing is not None and ag.disclosure_for(sender, recipient) is not disclosing:
            continue
        if ag.relay is not None and ag.relay not in (sender, recipient):
            return Route(sender, recipient, ag.relay)
    return Route(sender, recipient, None)
