"""The Hub: the application service, the only place that composes store, engine and policy.

Every operation takes its time from the injected clock, so a scenario can be driven step by step
in simulated time: file notices and plans, then ``process()`` (run the detector over the change
log) and ``tick()`` (move notices along by time, escalate overdue notifications).

What a party may see is enforced here: its own records; other parties' notices as far as the
agreements disclose them (only the conflicting volumes under "conflicts-only"); never another
party's plans. A record a party may not see is ``NotFound``, exactly as one that does not exist.
A notice's or plan's id is its party's own (``model.ids``): the hub finds it by party and id.
Ids and free text are checked here, where input enters (``model.ids``).
The Hub is not thread-safe: one Hub per thread (or a queue in front of it).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from deconflict import policy
from deconflict.errors import AmbiguousId, InvalidInput, NotFound
from deconflict.geo import Volume4D
from deconflict.hub.adjustments import Adjustments
from deconflict.hub.clock import Clock, HeldClock, SystemClock
from deconflict.hub.consumer import LogConsumer, ProcessReport
from deconflict.hub.detector import Detector
from deconflict.hub.index_file import IndexFile
from deconflict.hub.ledger import HubLedger
from deconflict.hub.reports import Filing, TickReport
from deconflict.hub.sight import (
    SeenPage,
    open_conflicts,
    seen_notices,
    sees_conflict,
    shown_conflicts,
)
from deconflict.hub.suggestions import Suggestion
from deconflict.hub.ticker import Ticker
from deconflict.model import (
    Agreement,
    Conflict,
    Notice,
    NoticeState,
    Notification,
    Party,
    Plan,
    Resolution,
    accept_volumes,
    check_agreement_accepted,
)
from deconflict.model.ids import check_id, check_text, record_key
from deconflict.policy import need_to_know
from deconflict.settings import index_file_path, ledger_key_path
from deconflict.store import Store, open_store

__all__ = ["Filing", "Hub", "ProcessReport", "Suggestion", "TickReport"]

_NOTICE_CHUNK = 200  # notices read at a time while filling a page of those a party may see


class Hub:
    """The deconfliction hub over one store and one clock."""

    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        ledger_key: Path | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        index_file: IndexFile | None = None,
    ) -> None:
        """``monotonic`` times how long the ledger trusts what it last read of the store's
        halt (:class:`~deconflict.hub.ledger.HubLedger`), never the hub's own clock;
        ``index_file`` keeps the detector's index between runs (None: rebuilt from the store
        at each start)."""
        self._store = store
        # One time for a group of writes (held_time), else the clock as it reads.
        self._clock = HeldClock(clock if clock is not None else SystemClock())
        self._agreements: list[Agreement] = store.list_agreements()
        self._detector = Detector(store, self._agreements, index_file)
        self.ledger = HubLedger(store, self._clock, ledger_key, monotonic=monotonic)
        self._log = LogConsumer(store, self._detector, self._agreements, self._clock)
        self._adjustments = Adjustments(store, self._clock, self._current_agreements)
        # Parties found in the store: a party is never removed, so each is looked up once.
        self._parties_found: set[str] = set()
        key, agreements = self._detector.id_key, self._agreements
        self._ticker = Ticker(store, self._clock, self.ledger, key, agreements)
        # The detector's index is rebuilt when the hub first detects (or resyncs), not here:
        # most hubs opened never detect (serve's checks, a command-line call, an HTTP worker
        # while the detector process holds the lease), and at 10^6 volumes the rebuild is
        # most of a restart (docs/benchmarks.md, "Restart").

    @classmethod
    def open(
        cls,
        target: str | Path,
        clock: Clock | None = None,
        ledger_key: Path | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        index: bool = True,
    ) -> Hub:
        """A hub on the store ``target`` names: a SQLite file path (created as needed) or a
        ``postgresql://`` URL; the schema is migrated to the newest revision. Its ledger key
        file is ``ledger_key``, by default the ``ledger-key`` setting's (see
        :func:`deconflict.settings.ledger_key_path`); its detector keeps its index in the
        ``index-file`` setting's file unless ``index`` is False (:mod:`.index_file`)."""
        key = ledger_key if ledger_key is not None else ledger_key_path(str(target))
        path = index_file_path(str(target)) if index else None
        kept = None if path is None else IndexFile.at(path, key)
        return cls(open_store(target), clock, key, monotonic=monotonic, index_file=kept)

    def close(self) -> None:
        self._log.close()
        self._store.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def clock(self) -> Clock:
        """The clock the hub was given."""
        return self._clock.inner

    def held_time(self) -> contextlib.AbstractContextManager[float]:
        """One time for every write made meanwhile (a group of writes: see
        :class:`~deconflict.hub.clock.HeldClock`)."""
        return self._clock.held()

    @property
    def indexed(self) -> int:
        """How many volumes the detector's index holds (for tests and status): 0 until the
        hub first detects or resyncs, which build it (asking does not)."""
        return self._detector.size

    @property
    def rebuild_times(self) -> dict[str, float]:
        """Seconds the detector's last index rebuild spent in each part (see
        :meth:`deconflict.hub.detector.Detector.rebuild`); empty before the first."""
        return dict(self._detector.rebuild_times)

    # parties and agreements -------------------------------------------------------------------

    def add_party(self, party_id: str, name: str | None = None) -> Party:
        self.ledger.guard()
        check_id(party_id, "party id")
        if name is not None:
            check_text(name, "party name")
        party = Party(party_id, name if name is not None else party_id)
        self._store.add_party(party, self._clock.now())
        return party

    def list_parties(self) -> list[Party]:
        return self._store.list_parties()

    def _party(self, party_id: str) -> None:
        """InvalidInput unless ``party_id`` is a party (read from the store the first time:
        every filing asks)."""
        if party_id in self._parties_found:
            return
        try:
            self._store.get_party(party_id)
        except NotFound:
            raise InvalidInput(f"no party {party_id!r}") from None
        self._parties_found.add(party_id)

    def add_agreement(self, agreement: Agreement) -> Agreement:
        if not isinstance(agreement, Agreement):
            raise InvalidInput("add_agreement needs an Agreement")
        self.ledger.guard()
        check_agreement_accepted(agreement)
        check_id(agreement.id, "agreement id")
        named = [(f"/parties/{i}", p) for i, p in enumerate(agreement.parties)]
        for member, party in [*named, *([("/relay", agreement.relay)] if agreement.relay else [])]:
            try:
                self._party(party)
            except InvalidInput as error:
                error.field = member  # the agreement document's member
                raise
        check = partial(policy.check_relays, added=agreement)  # what is stored, in its turn
        self._store.add_agreement(agreement, self._clock.now(), check)
        self._agreements.append(agreement)
        return agreement

    def _current_agreements(self) -> list[Agreement]:
        """The agreements as stored now (another hub process may have added one), updated in
        place, since the detector shares the list."""
        self._agreements[:] = self._store.list_agreements()
        return self._agreements

    def list_agreements(self, party: str | None = None) -> list[Agreement]:
        return [
            ag
            for ag in self._current_agreements()
            if party is None or party in ag.parties or ag.relay == party
        ]

    # notices ----------------------------------------------------------------------------------

    def file_notice(
        self,
        party: str,
        volumes: Sequence[Volume4D],
        category: str,
        notice_id: str | None = None,
    ) -> Filing:
        """File a notice now; a notice with less than the agreed lead time is accepted, late."""
        self.ledger.guard()
        self._party(party)
        if notice_id is not None:
            check_id(notice_id, "notice id")
        check_text(category, "notice category")
        now = self._clock.now()
        notice = Notice(
            id=notice_id if notice_id is not None else f"N-{uuid.uuid4().hex[:12]}",
            party=party,
            volumes=accept_volumes(volumes, f"party {party!r}'s notice"),
            category=category,
            filed_at_s=now,
        )
        self._store.add_notice(notice)
        return Filing(notice, policy.check_lead_time(notice, self._current_agreements(), now))

    def _own_notice(self, party: str, notice_id: str) -> Notice:
        try:
            return self._store.get_notice(record_key(party, notice_id))
        except NotFound:
            raise NotFound(f"no notice {notice_id!r}") from None

    def amend_notice(
        self,
        party: str,
        notice_id: str,
        expected_version: int,
        volumes: Sequence[Volume4D],
        category: str | None = None,
    ) -> Filing:
        """A new version of ``party``'s notice; VersionConflict when ``expected_version`` is
        stale. The lead time is checked again, from now."""
        self.ledger.guard()
        notice = self._own_notice(party, notice_id)
        if category is not None:
            check_text(category, "notice category")
        now = self._clock.now()
        amended = notice.amend(accept_volumes(volumes, f"notice {notice_id!r}"), now, category)
        self._store.update_notice(amended, expected_version=expected_version, verb="amended")
        return Filing(amended, policy.check_lead_time(amended, self._current_agreements(), now))

    def cancel_notice(self, party: str, notice_id: str) -> Notice:
        """Cancel ``party``'s notice; its volumes leave the index at the next ``process()``."""
        self.ledger.guard()
        notice = self._own_notice(party, notice_id)
        cancelled = notice.cancel(self._clock.now())
        self._store.update_notice(cancelled, expected_version=notice.version, verb="cancelled")
        return cancelled

    def sees_notice(self, viewer: str, key: str) -> bool:
        """Whether ``viewer`` may see any of the notice ``key``, found by one query whatever
        the notice is: another party's hidden one, a missing one, the viewer's own (the
        ledger's access rules ask it of every entry, so an entry's kind and owner do not show
        in the statements run: security.md §3.5)."""
        self._current_agreements()
        return bool(self._seen(self._sight(viewer), keys=[key]).shown)

    def get_notice(self, viewer: str, notice_id: str, party: str | None = None) -> Notice:
        """``party``'s notice ``notice_id`` as ``viewer`` may see it (only the disclosed
        volumes), else NotFound. Without ``party``: the viewer's own notice of that id if it has
        one, else the one notice of that id it may see (AmbiguousId if it may see several).
        A notice it may not see is found by the same query that finds nothing, and refused
        with the same words (security.md §3.1, §3.5)."""
        self._current_agreements()
        sight = self._sight(viewer)
        owners = [o for o in sight.owners if party is None or o == party]
        keys = [record_key(owner, notice_id) for owner in owners]
        found = {n.party: n for n in self._seen(sight, keys=keys)}
        seen = [found[owner] for owner in owners if owner in found]
        if not seen:
            raise NotFound(f"no notice {notice_id!r}")
        if len(seen) > 1 and seen[0].party != viewer:
            raise AmbiguousId(
                f"you may see {len(seen)} notices with the id {notice_id!r}, of parties "
                + ", ".join(repr(s.party) for s in seen)
                + ": say whose"
            )
        return seen[0]

    def resolution_for(self, viewer: str, owner: str) -> Resolution:
        """How finely ``viewer`` sees ``owner``'s hidden volumes (the agreements as last read)."""
        return need_to_know.resolution_for(self._agreements, viewer, owner)

    def owners_seen_by(self, viewer: str) -> list[str]:
        """The parties whose notices ``viewer`` may see some of (agreements say), itself first."""
        self._current_agreements()
        return self._sight(viewer).owners

    def owners_seen_whole_by(self, viewer: str) -> frozenset[str]:
        """The parties whose notices ``viewer`` may see whole (agreements say), itself too."""
        return need_to_know.sight(self._current_agreements(), viewer).full

    def sees_whole(self, viewer: str, owner: str) -> bool:
        """Whether ``viewer`` may see ``owner``'s notices whole (the agreements as last read)."""
        return self._sight(viewer).sees_whole(owner)

    def _sight(self, viewer: str) -> need_to_know.Sight:
        return need_to_know.sight(self._agreements, viewer)

    def _seen(self, sight: need_to_know.Sight, **asked: Any) -> SeenPage:
        return seen_notices(self._store, sight, now_s=self._clock.now(), **asked)

    def list_notices(
        self,
        viewer: str,
        states: Sequence[NoticeState] | None = None,
        *,
        party: str | None = None,
        active: tuple[float, float] | None = None,
        keep: Callable[[Notice], bool] | None = None,
        after: Notice | tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> list[Notice]:
        """The notices ``viewer`` may see, each with only the volumes it may see, in filing
        order: ``party``'s, in ``states``, active at some moment of ``active`` (start, end),
        those ``keep`` keeps (as seen), filed after ``after`` (as shown; or a (filing time,
        key) place); at most ``limit`` (read from the
        store a chunk at a time until that many are found). The store finds only notices the
        viewer may see some of: a page costs what it shows, not what is hidden."""
        out: list[Notice] = []
        self._current_agreements()
        sight = self._sight(viewer)
        cursor = after if not isinstance(after, Notice) else (after.filed_at_s, after.key)
        chunk = None if limit is None else max(2 * limit, _NOTICE_CHUNK)
        while True:
            found = self._seen(
                sight,
                party=party,
                states=states,
                active=active,
                after=cursor,
                limit=chunk,
            )
            for seen in found.shown:
                if keep is None or keep(seen):
                    out.append(seen)
                    if limit is not None and len(out) == limit:
                        return out
            if chunk is None or found.read < chunk:
                return out
            cursor = found.cursor

    def visible_volumes(self, viewer: str, keys: Sequence[str]) -> dict[str, frozenset[str]]:
        """The ids of the volumes ``viewer`` may see (as :meth:`get_notice` shows them) of each
        notice of record ``keys`` it may see any of: read once for all of them."""
        self._current_agreements()
        seen = self._seen(self._sight(viewer), keys=list(keys))
        return {n.key: frozenset(v.id for v in n.volumes) for n in seen}

    # plans ------------------------------------------------------------------------------------

    def add_plan(self, party: str, volumes: Sequence[Volume4D], plan_id: str | None = None) -> Plan:
        """Record ``party``'s private plan; it is checked against other parties' notices."""
        self.ledger.guard()
        self._party(party)
        if plan_id is not None:
            check_id(plan_id, "plan id")
        plan = Plan(
            id=plan_id if plan_id is not None else f"P-{uuid.uuid4().hex[:12]}",
            party=party,
            volumes=accept_volumes(volumes, f"party {party!r}'s plan"),
            created_at_s=self._clock.now(),
        )
        self._store.add_plan(plan)
        return plan

    def get_plan(self, party: str, plan_id: str) -> Plan:
        """``party``'s own plan ``plan_id`` (no party sees another's plans)."""
        try:
            return self._store.get_plan(record_key(party, plan_id))
        except NotFound:
            raise NotFound(f"no plan {plan_id!r}") from None

    def list_plans(
        self,
        party: str,
        after: str | None = None,
        limit: int | None = None,
        active: tuple[float, float] | None = None,
    ) -> list[Plan]:
        """``party``'s current plans in creation order, after its plan ``after`` (NotFound if it
        has none), at most ``limit``, those active in ``active`` (start, end) if given."""
        key = None if after is None else record_key(party, after)
        return self._store.list_plans(party=party, after=key, limit=limit, active=active)

    def amend_plan(
        self, party: str, plan_id: str, expected_version: int, volumes: Sequence[Volume4D]
    ) -> Plan:
        self.ledger.guard()
        plan = self.get_plan(party, plan_id)
        amended = plan.amend(accept_volumes(volumes, f"plan {plan_id!r}"), self._clock.now())
        self._store.update_plan(amended, expected_version=expected_version, verb="amended")
        return amended

    def withdraw_plan(self, party: str, plan_id: str) -> Plan:
        self.ledger.guard()
        plan = self.get_plan(party, plan_id)
        withdrawn = plan.withdraw(self._clock.now())
        self._store.update_plan(withdrawn, expected_version=plan.version, verb="withdrawn")
        return withdrawn

    # detector and time ------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._store

    def resync(self, progress: Callable[[], None] | None = None) -> None:
        """Reload agreements and rebuild the detector's index from the store at its cursor (after
        another process may have written or detected: taking over the detector lease);
        ``progress`` is called as the rebuild goes, a page of records at a time."""
        self._agreements[:] = self._store.list_agreements()
        self._log.rebuild(progress)

    def save_index(self, fence: int | None = None) -> int | None:
        """Write the detector's index file at its position, once stored (fenced by the lease
        token it detects under); the bytes written, None if there was nothing to write."""
        return None if (write := self.index_write(fence)) is None else write()

    def index_write(self, fence: int | None = None) -> Callable[[], int] | None:
        """:meth:`save_index` with the write left to the caller's other thread."""
        return self._log.save_index(fence)

    def index_save_due(self, every_s: float, rows: int = 1) -> bool:
        """Whether the detector moved ``rows`` past its file, written ``every_s`` ago."""
        return self._log.save_due(every_s, rows)

    def process(self, limit: int | None = None, fence: int | None = None) -> ProcessReport:
        """Run the detector over the change-log rows not yet processed (at most ``limit``; with
        no limit, until none is left, including the rows its own outputs appended). With several
        hub processes on one store only the holder of the detector lease may run it, passing its
        token as ``fence``: a commit under a lost lease raises ``LeaseLost``."""
        return self._log.process(limit, fence)

    def store_cursor(self, fence: int | None = None) -> None:
        """Store how far the detector has read, if it read past rows with no outputs since it
        last stored it (fenced by the lease token it read them under, as every detection)."""
        self._log.store_cursor(fence)

    def tick(self) -> TickReport:
        """Move notices and notifications along by time, then digest and sign the ledger
        (:meth:`Ticker.tick <deconflict.hub.ticker.Ticker.tick>`)."""
        return self._ticker.tick()

    # conflicts, notifications, acknowledgement ------------------------------------------------

    def list_conflicts(
        self,
        party: str,
        open_only: bool = False,
        *,
        after: Conflict | None = None,
        limit: int | None = None,
    ) -> list[Conflict]:
        """``party``'s conflicts as it is shown them (:meth:`_seen_conflicts`), in detection
        order: those after ``after``, at most ``limit``. All of them are read a page at a time.
        The open ones are those *shown* open, read by what the party is told: those it is told
        open until past now, and those open in the store whose other side's owner it sees
        whole. Read by the store's state, the read touched those the store had resolved when
        the other party's notice ended (a hidden volume's end), and its cost told when
        (security.md §3.5); read from all it was ever shown, its cost grew with the hub's
        history, and another party could add to it (§4.2)."""
        self._current_agreements()
        key = None if after is None else (after.detected_at_s, after.id)
        if not open_only:
            return self._seen_conflicts(
                party, self._store.seen_conflicts(party, after=key, limit=limit)
            )
        shown = open_conflicts(self._store, party, self._agreements, self._clock.now())
        after_key = [c for c in shown if key is None or (c.detected_at_s, c.id) > key]
        return after_key if limit is None else after_key[:limit]

    def conflicts_told_after(self, party: str, after_s: float) -> list[Conflict]:
        """``party``'s conflicts, as it is shown them, whose window as it is told them ends
        after ``after_s`` (the map's): read without touching those that ended before."""
        self._current_agreements()
        return self._seen_conflicts(party, self._store.told_conflicts(party, after_s=after_s))

    def get_conflict(self, party: str, conflict_id: str) -> Conflict:
        self._current_agreements()  # read whatever is found: the same statements (§3.5)
        conflict = self._store.get_conflict(conflict_id)
        if not sees_conflict(party, conflict):
            raise NotFound(f"no conflict {conflict_id!r}")
        return self._seen_conflicts(party, [conflict])[0]

    def _seen_conflicts(self, party: str, conflicts: Sequence[Conflict]) -> list[Conflict]:
        """Each as ``party`` is shown it, under the agreements as last read."""
        return shown_conflicts(conflicts, party, self._agreements, self._clock.now())

    def list_notifications(
        self,
        party: str,
        since_s: float | None = None,
        *,
        after: Notification | None = None,
        limit: int | None = None,
    ) -> list[Notification]:
        """Notifications to ``party`` and those routed through it as a relay, oldest first: only
        those created at or after ``since_s``, only after ``after``, at most ``limit``."""
        return self._store.list_notifications(
            party,
            since_s=since_s,
            after=None if after is None else (after.created_at_s, after.id),
            limit=limit,
        )

    def deliver(self, party: str) -> list[Notification]:
        """Hand ``party`` its notifications not yet delivered, marking them delivered now (one
        transaction, one ledger entry: see ``Store.mark_delivered``), oldest first."""
        now = self._clock.now()
        undelivered = self._store.list_notifications(party, include_relayed=False, undelivered=True)
        marked = self._store.mark_delivered([(n.id, now) for n in undelivered])
        return sorted(marked, key=lambda n: (n.created_at_s, n.id))

    def undelivered_after(
        self, party: str, after: tuple[float, str] | None, limit: int
    ) -> list[Notification]:
        """``party``'s next ``limit`` notifications never delivered (addressed to it) after
        ``after``: ``Store.undelivered_after``."""
        return self._store.undelivered_after(party, after, limit)

    def latest_notifications(
        self, party: str, conflicts: Sequence[str], notices: Sequence[str]
    ) -> list[Notification]:
        """The latest notification to ``party`` about each of ``conflicts`` and ``notices``
        (keys): ``Store.latest_notifications``."""
        return self._store.latest_notifications(party, conflicts, notices)

    def get_notifications(self, party: str, ids: Sequence[str]) -> list[Notification]:
        """Those of ``ids`` that are notifications to ``party`` or relayed through it."""
        return [n for n in self._store.get_notifications(ids) if party in (n.recipient, n.via)]

    def queue_deliveries(self, sent: Sequence[tuple[str, float]]) -> None:
        """Record each notification of ``sent`` (id, when) as reached then, in batches (a
        stream's), for :meth:`mark_queued_deliveries`: see ``Store.queue_deliveries``."""
        self._store.queue_deliveries(sent)

    def mark_queued_deliveries(self, limit: int = 1000) -> list[Notification]:
        """Mark delivered the notifications queued as sent (at most ``limit``, oldest first):
        the detector lease holder's work, beside detection; see ``Store.mark_queued_deliveries``."""
        return self._store.mark_queued_deliveries(limit)

    def acknowledge(self, party: str, notification_id: str) -> Notification:
        """``party`` acknowledges a notification sent to it (only the recipient may)."""
        self.ledger.guard()
        notification = self._store.get_notification(notification_id)
        if notification.recipient != party:
            raise NotFound(f"no notification {notification_id!r} for party {party!r}")
        acknowledged = notification.acknowledge(self._clock.now())
        self._store.update_notification(acknowledged, "acknowledged")
        return acknowledged

    def suggest_adjustment(self, party: str, conflict_id: str) -> Suggestion:
        """How ``party`` could change its own volume in a conflict to clear it: the smallest
        time shift (never into the past) and the nearest altitude band (see
        :mod:`deconflict.hub.suggestions` for what they are searched against)."""
        conflict = self.get_conflict(party, conflict_id)
        found = self.suggest_adjustments(party, [conflict])
        if conflict.id not in found:  # amended away, and detection has not closed it yet
            mine = conflict.side_of(party)
            assert mine is not None  # get_conflict guarantees it
            gone = InvalidInput(
                f"conflict {conflict_id!r}: volume {mine.volume_id!r} is no longer in "
                f"{mine.kind} {mine.record_id!r}"
            )
            gone.field = "path:conflict_id"
            raise gone
        return found[conflict.id]

    def suggest_adjustments(
        self, party: str, conflicts: Sequence[Conflict]
    ) -> dict[str, Suggestion]:
        """The suggestion for each of ``party``'s ``conflicts`` (by id; none for a conflict
        whose volume was amended away before detection closed it), worked out from what the
        store holds now (:class:`~deconflict.hub.adjustments.Adjustments`)."""
        return self._adjustments.suggest(party, conflicts)
