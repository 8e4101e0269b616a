"""Who is told of what the detector found, and how: the notifications a filed or changed notice
and a conflict found or cleared make, each to whom, through which relay, named how far, with
what lead time and acknowledgement deadline (``policy.rules``, ``policy.need_to_know``).

A notification's id is a keyed digest of what it tells (the change-log row, the recipient, the
kind, the sender, the notice and the conflict), so a change processed twice tells the same, and
an id names nothing a party could guess (security.md §3.2).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence

from deconflict import policy
from deconflict.model import (
    Agreement,
    Conflict,
    Disclosure,
    Notice,
    Notification,
    NotificationKind,
    RecordKind,
)
from deconflict.policy import need_to_know

__all__ = ["Teller", "keyed_digest"]


def keyed_digest(key: bytes, *parts: object) -> str:
    """A keyed digest of ``parts`` (each written with its length, so none can stand for two)."""
    text = "".join(f"{len(str(part))}:{part}" for part in parts)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:24]


class Teller:
    """The notifications of a detection, under ``agreements`` (the detector's list, which it
    keeps current), their ids keyed with ``id_key``."""

    def __init__(self, agreements: Sequence[Agreement], id_key: bytes) -> None:
        self._agreements = agreements
        self._id_key = id_key

    def notice(
        self,
        notice: Notice,
        kind: NotificationKind,
        seq: int,
        now_s: float,
        to: Collection[str] | None = None,
    ) -> list[Notification]:
        """Every party that may see ``notice`` in full (of ``to``, if given) is told it was
        filed or changed (through the relay of an agreement that discloses it so, else
        directly: a relay sees what it relays, nothing more)."""
        told = []
        linked = policy.linked_parties(self._agreements, notice.party)
        for party in linked if to is None else [p for p in linked if p in to]:
            if policy.disclosure(self._agreements, notice.party, party) is Disclosure.FULL:
                told.append(
                    self._one(
                        notice.party,
                        party,
                        kind,
                        seq,
                        now_s,
                        notice.start_s - now_s,
                        notice_id=notice.id,
                        disclosing=Disclosure.FULL,
                    )
                )
        return [n for n in told if n is not None]

    def conflict(
        self,
        conflict: Conflict,
        kind: NotificationKind,
        seq: int,
        now_s: float,
        skip: Collection[str] = (),
    ) -> list[Notification]:
        """Each side's party (but those in ``skip``) is told, unless the other side is a plan
        (plans stay private). A party that may not see the other side is told at the
        agreement's resolution (its lead time from the masked conflict's start) and without the
        notice being named, as is one that sees it only in part; through a relay, its lead
        time is no finer than the relay may be told (``need_to_know.relay_told_start``)."""
        told = []
        for mine, other in ((conflict.a, conflict.b), (conflict.b, conflict.a)):
            if other.kind is RecordKind.PLAN or mine.party in skip:
                continue
            sees = need_to_know.sees_other_side(self._agreements, conflict, mine.party)
            start = conflict.detail.start_s
            if not sees:
                resolution = need_to_know.resolution_for(self._agreements, mine.party, other.party)
                start = need_to_know.told_detail(conflict, mine.party, resolution).start_s
            # Named (with its version and commitment, in the ledger) only to a party that sees
            # the notice whole (its versions count changes to the others); and, read by a relay
            # too (its entry is one), only where the agreements the relay relays show it whole.
            named = sees and self._whole(self._agreements, other.party, mine.party)
            path = policy.route(self._agreements, other.party, mine.party)
            via = path.via if path is not None and mine.kind is RecordKind.NOTICE else None
            if (
                via is not None
                and kind is NotificationKind.CHANGE
                and now_s
                >= need_to_know.relay_change_cutoff(self._agreements, conflict, mine.party, via)
            ):
                via = None  # past what its relay may be told: told directly
            if via is not None:
                # Its relay reads it too: no finer than the relay may be told (never later).
                start = min(start, need_to_know.relay_told_start(self._agreements, conflict, via))
                named = named and self._whole(
                    policy.relayed_by(self._agreements, via), other.party, mine.party
                )
            told.append(
                self._one(
                    other.party,
                    mine.party,
                    kind,
                    seq,
                    now_s,
                    start - now_s,
                    notice_id=other.record_id,
                    conflict=conflict.id,
                    discloses=named,
                    private=mine.kind is RecordKind.PLAN,
                    direct=via is None,
                )
            )
        return [n for n in told if n is not None]

    @staticmethod
    def _whole(agreements: Sequence[Agreement], owner: str, viewer: str) -> bool:
        return policy.disclosure(agreements, owner, viewer) is Disclosure.FULL

    def _one(
        self,
        sender: str,
        recipient: str,
        kind: NotificationKind,
        seq: int,
        now_s: float,
        lead_time_s: float,
        notice_id: str | None = None,
        conflict: str | None = None,
        *,
        discloses: bool = True,
        private: bool = False,
        direct: bool = False,
        disclosing: Disclosure | None = None,
    ) -> Notification | None:
        """``recipient`` told about ``sender``'s notice ``notice_id`` (and ``conflict``), None
        if no agreement links them: ``discloses`` whether it names the notice; ``private``
        whether it is about the recipient's own plan, which goes to it directly, never through
        a relay; ``direct``: told directly, not through a relay; ``disclosing``: how it
        discloses the notice (``policy.route``)."""
        path = policy.route(self._agreements, sender, recipient, disclosing)
        deadline = policy.ack_deadline_s(self._agreements, sender, recipient)
        if path is None or deadline is None:
            return None
        digest = keyed_digest(self._id_key, seq, recipient, kind, sender, notice_id, conflict)
        return Notification(
            id="M-" + digest,
            recipient=recipient,
            kind=kind,
            created_at_s=now_s,
            ack_deadline_s=now_s + deadline,
            lead_time_s=lead_time_s,
            notice_id=notice_id,
            notice_party=None if notice_id is None else sender,
            conflict_id=conflict,
            via=None if private or direct else path.via,
            discloses_notice=discloses,
            private=private,
        )
