"""The detector: consumes the store's change log in order and writes conflicts and notifications.

It keeps the engine's in-memory index of every live notice volume and current plan volume, as the
change log stood at the detector's cursor. Each change-log row of a notice or plan names the
record's version and state after the change, so processing a row depends on the log alone, never
on how far later writes have got: results are the same whenever ``process()`` runs and across
restarts. On start the index is read back from the index file the last lease holder wrote, then
brought to the cursor from the log, or rebuilt from each record's last row up to the cursor
(:mod:`deconflict.hub.rebuild`).

Processing a row brings the record's volumes in the index to that version, resolves its open
conflicts that no longer hold (an older version, or the record is gone), detects conflicts of the
current volumes against other parties' notices and plans (never plan against plan), and notifies
whoever is to be told. Conflict and notification ids are derived from what they refer to, so a
conflict met twice is stored once, keyed by the store's ``ids`` secret (``store.secrets``), so
that an id a party sees names nothing it could guess (security.md §3.2).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from deconflict import policy
from deconflict.engine import SeparationMinima, VolumeIndex, describe
from deconflict.errors import NotFound
from deconflict.geo import Volume4D
from deconflict.hub.index_file import IndexFile, write_index
from deconflict.hub.pairs import Held, Pair, Room, by_pair
from deconflict.hub.rebuild import (
    RebuiltSides,
    RecordKeys,
    from_file,
    from_store,
    keys_of,
    prefix,
    record_keys,
    snapshot_of,
)
from deconflict.hub.telling import Teller, keyed_digest
from deconflict.model import (
    Agreement,
    Conflict,
    ConflictState,
    Disclosure,
    Notice,
    NoticeState,
    Notification,
    NotificationKind,
    Plan,
    PlanState,
    RecordKind,
    Side,
)
from deconflict.model.ids import split_key
from deconflict.policy import need_to_know
from deconflict.policy.need_to_know import (
    masked_detail,
    resolution_for,
    unlocks,
)
from deconflict.store import (
    Change,
    ChangeLog,
    Conflicts,
    Detection,
    Notices,
    Plans,
    Secrets,
    Units,
)

__all__ = ["Detector"]

_NEW_RECORD = ("filed", "added")  # verbs of a record's first change-log row
_REPLAY_PAGE = 1_000  # change-log rows a query (records a sign of life) in a replay
#: How soon after a rebuild from the store its index file is written: not at once (the start's
#: catch-up goes first), but well before the periodic write's turn.
_COLD_WRITE_S = 60.0


def conflict_id(key: bytes, a: Side, b: Side) -> str:
    """The same id for the same two volumes at the same versions, whichever side came first."""
    one, two = sorted([(str(s.kind), s.party, s.record_id, s.version, s.volume_id) for s in (a, b)])
    return "C-" + keyed_digest(key, *one, *two)


@dataclass
class _Outputs:
    new: list[Conflict] = field(default_factory=list)
    new_ids: set[str] = field(default_factory=set)  # of ``new``
    resolved: list[Conflict] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    # The pairs of volumes of ``new``, by each side's record (see Room).
    met: dict[tuple[RecordKind, str], list[Pair]] = field(default_factory=dict)

    def add(self, conflict: Conflict) -> None:
        self.new.append(conflict)
        for mine, theirs in ((conflict.a, conflict.b), (conflict.b, conflict.a)):
            pair = (mine.volume_id, theirs.kind, theirs.record_key, theirs.volume_id)
            self.met.setdefault((mine.kind, mine.record_key), []).append(pair)


class _Store(ChangeLog, Notices, Plans, Conflicts, Secrets, Units, Protocol):
    """What detection reads: the log, the records at the versions it names, the open conflicts,
    and the secret conflict ids are keyed with (it writes nothing: the consumer commits); a
    twin of it to read the next page on while the rebuild decodes one."""


def _carried(record: Notice | Plan, side: Side, since: Mapping[str, int]) -> bool:
    """Whether an open conflict of ``side``, of an earlier version of ``record``, is carried
    to this one: a notice's volume this version left as it was at that version (``since``:
    the record's ``Notice.changed_since``, read once for all its conflicts)."""
    if not isinstance(record, Notice) or side.version > record.version:
        return False
    return since.get(side.volume_id, record.version + 1) <= side.version


class Detector:
    """Owns the engine index and turns change-log rows into detections."""

    def __init__(
        self, store: _Store, agreements: Sequence[Agreement], index_file: IndexFile | None = None
    ) -> None:
        """``index_file``: where the index is kept between runs (None: rebuilt from the store
        at every start)."""
        self._store = store
        self._file = index_file
        self._saved_at = (-1, 0.0)  # the position the index file was last written at, and when
        self._agreements = agreements
        self._id_key = store.hub_secret("ids")
        self._tell = Teller(agreements, self._id_key)  # who is told, and how
        self._index: VolumeIndex | None = None  # built when first needed: see index
        self._sides: dict[str, Side] = {}
        # The sides of the rebuild's volumes, by the index's slot (a bulk load's are its order),
        # each made a Side when asked for (see side).
        self._rebuilt = RebuiltSides()
        # Each indexed record's volumes' keys, by the keys' common prefix (see _prefix).
        self._keys: dict[str, RecordKeys] = {}
        # A pass's conflicts found (by id, and by each side's record) and resolved, not yet
        # committed: read with the store's (see begin_pass).
        self._found: dict[str, Conflict] = {}
        self._found_by_record: dict[tuple[RecordKind, str], list[Conflict]] = {}
        self._cleared: set[str] = set()
        self._ahead: dict[str, Notice] = {}  # see read_ahead
        #: seconds the last :meth:`rebuild` spent reading (pages waited for, or the file),
        #: building the volumes (JSON read, footprints built in bulk), naming their sides,
        #: loading the index, and applying the rows after the file's position
        self.rebuild_times: dict[str, float] = {}

    # index ------------------------------------------------------------------------------------

    @property
    def index(self) -> VolumeIndex:
        """The index, rebuilt from the store when first asked for (:meth:`rebuild`): a hub
        process that never detects (an HTTP worker on standby, a command-line call, ``serve``'s
        checks before it starts) never reads every live record."""
        return self._index if self._index is not None else self.rebuild()

    @property
    def built(self) -> bool:
        """Whether the index has been built (see :attr:`index`)."""
        return self._index is not None

    @property
    def size(self) -> int:
        """How many volumes the index holds (0 until it is built: it is not built here)."""
        return 0 if self._index is None else len(self._index)

    def rebuild(self, progress: Callable[[], None] | None = None) -> VolumeIndex:
        """Index every record that was live at the detector's cursor, at its version then (the
        index returned; a rebuild that fails leaves none, to be rebuilt when next needed).

        From the index file when there is one that holds (:mod:`deconflict.hub.index_file`:
        the arrays as written at a position of the change log, the rows after it applied
        here), else from the store's records (:func:`deconflict.hub.rebuild.from_store`). How
        long each part took is kept in :attr:`rebuild_times`; ``progress`` is called as the
        rebuild goes (a lease keeper's sign of life)."""
        self._index = None
        cursor = self._store.detector_cursor()
        key = self._file_key()
        rebuilt = None
        if key is not None and self._file is not None:
            rebuilt = from_file(self._store, self._file.path, key, cursor, progress)
        if rebuilt is None:
            rebuilt = from_store(self._store, cursor, progress)
        self._index = rebuilt.index
        self._sides, self._rebuilt, self._keys = {}, rebuilt.rows, rebuilt.keys
        self.rebuild_times = rebuilt.times
        if rebuilt.position is not None:
            started = time.perf_counter()
            try:
                self._replay(rebuilt.position, cursor, progress)
            except BaseException:
                self._index = None  # not brought up to date: rebuilt when next needed
                raise
            self.rebuild_times["replay_s"] = time.perf_counter() - started
        # Rebuilt from the store: no file holds this index, and a crash would cost the next
        # start the same rebuild; the file is due soon (:data:`_COLD_WRITE_S`), moved on or not.
        at = -1 if rebuilt.position is None else rebuilt.position  # where the file stands
        self._saved_at = (at, time.monotonic())
        return rebuilt.index

    def _file_key(self) -> bytes | None:
        """The index file's key: the ledger key's (its file's), bound to this store's secret,
        so that another store's file (a database replaced, one test's after another's) is
        refused by its tag; None without a file or a ledger key."""
        found = None if self._file is None else self._file.key()
        if found is None:
            return None
        return hashlib.blake2b(self._id_key, key=found, digest_size=32).digest()

    def _replay(self, position: int, cursor: int, progress: Callable[[], None] | None) -> None:
        """Bring the index from change ``position`` to ``cursor``: each record a row in
        between names, to its state at its last such row (nothing detected: those rows were)."""
        last: dict[tuple[str, str], Change] = {}
        while position < cursor:
            changes = [
                c for c in self._store.changes_after(position, _REPLAY_PAGE) if c.seq <= cursor
            ]
            if not changes:
                break
            for change in changes:  # a row naming no version changes no volume (see detect)
                if change.entity in ("notice", "plan") and change.version is not None:
                    last[(change.entity, change.entity_id)] = change
            position = changes[-1].seq
            if progress is not None:
                progress()
        for done, change in enumerate(last.values(), 1):
            if progress is not None and not done % _REPLAY_PAGE:
                progress()  # a read a record: some milliseconds each on PostgreSQL
            record, live = self._record_at(change)
            if record is None:  # as detect: a record not found is left as it is
                continue
            kind = RecordKind(change.entity)
            self._remove(kind, record.key)
            if live:
                self._insert(kind, record)

    def save(self, cursor: int) -> Callable[[], int] | None:
        """The index as it stands at ``cursor``, the detector's position, which the caller
        has stored (:meth:`LogConsumer.save_index`), taken now; and the write of it to the
        index file, to be made on any thread (it reads nothing the detector changes): the
        bytes it writes. None when there is nothing to write (no file configured, no ledger
        key yet, nothing detected)."""
        # Tried now, written or not: not tried again before the period (with no ledger key
        # yet, or nothing detected, every tick would try).
        self._saved_at = (cursor, time.monotonic())
        key = self._file_key()
        if key is None or self._index is None or self._file is None:
            return None
        snapshot = snapshot_of(self._store, self._index, self._sides, self._rebuilt, cursor)
        if snapshot is None:
            return None
        return partial(write_index, self._file.path, key, snapshot)

    def save_due(self, cursor: int, every_s: float, rows: int = 1) -> bool:
        """Whether the index file is to be written again: the detector has moved on to
        ``cursor``, ``rows`` change-log rows or more past the file's position, and
        ``every_s`` have passed since it was written (or read); or it was rebuilt from the
        store :data:`_COLD_WRITE_S` ago (or ``every_s``, if sooner)."""
        if self._file is None or self._index is None:
            return False
        at, when = self._saved_at
        if at < 0:
            return time.monotonic() - when >= min(every_s, _COLD_WRITE_S)
        return cursor - at >= max(rows, 1) and time.monotonic() - when >= every_s

    def _record_at(self, change: Change) -> tuple[Notice | Plan | None, bool]:
        """The record a change-log row names, at that row's version, and whether it was live."""
        if change.version is None or change.state is None:
            return None, False
        try:
            if change.entity == "notice":
                ahead = self._ahead.get(change.entity_id)
                if ahead is not None and ahead.version == change.version:
                    return ahead, NoticeState(change.state).live
                notice = self._store.get_notice_version(change.entity_id, change.version)
                return notice, NoticeState(change.state).live
            if change.entity == "plan":
                plan = self._store.get_plan_version(change.entity_id, change.version)
                return plan, PlanState(change.state) is PlanState.CURRENT
        except NotFound:
            pass
        return None, False

    def read_ahead(self, changes: Sequence[Change]) -> None:
        """Read the notices these change-log rows name in one query, for :meth:`detect` to
        take instead of one read each (a row at a version older than the notice's is still
        read on its own); ``read_ahead(())`` forgets them."""
        ids = [c.entity_id for c in changes if c.entity == "notice" and c.version is not None]
        self._ahead = self._store.get_notices(ids) if ids else {}

    def _insert(self, kind: RecordKind, record: Notice | Plan) -> list[Side]:
        sides = []
        for side, volume in self._register(kind, record):
            self.index.insert(side.key, record.party, volume)
            sides.append(side)
        return sides

    def _register(self, kind: RecordKind, record: Notice | Plan) -> list[tuple[Side, Volume4D]]:
        """The sides of ``record``'s volumes, remembered by key (the index is the caller's)."""
        out = []
        for volume in record.volumes:
            side = Side(kind, record.id, record.version, volume.id, record.party)
            self._sides[side.key] = side
            out.append((side, volume))
        self._keys[prefix(kind, record.key)] = record_keys([side.key for side, _ in out])
        return out

    def _remove(self, kind: RecordKind, record_key: str) -> None:
        for key in keys_of(self._keys.pop(prefix(kind, record_key), ())):
            self.index.remove(key)
            self._sides.pop(key, None)

    def side(self, key: str) -> Side | None:
        """The side of an indexed volume: one registered since the rebuild (a key inserted
        again is registered again), else the rebuild's row at the key's slot."""
        found = self._sides.get(key)
        if found is None and self._index is not None:
            slot = self._index.slot(key)
            row = self._rebuilt.row(slot) if slot is not None else None
            if row is not None:
                prefix, version, volume_id, party = row
                kind, _, record_key = prefix[:-1].partition(":")
                found = Side(RecordKind(kind), split_key(record_key)[1], version, volume_id, party)
        return found

    @property
    def id_key(self) -> bytes:
        """The store's ``ids`` secret: it keys the ids the detector makes, and the order in
        which what the hub does at one time is written (:mod:`deconflict.ledger.unlinked`)."""
        return self._id_key

    # detection --------------------------------------------------------------------------------

    def begin_pass(self) -> None:
        """Start a pass whose detections are committed together at its end: until then, what
        they found and resolved is read with what the store holds (a change that amends or
        cancels a record reads its open conflicts). Committed before each such change, a
        pass's commits fell where the hidden changes were, and a party's own entries told
        where (a fifteenth reader: security.md §3.4)."""
        self._found.clear()
        self._found_by_record.clear()
        self._cleared.clear()

    def end_pass(self) -> None:
        """End a pass: what it found is the store's once committed, or never (a commit that
        failed: the index is rebuilt from the store)."""
        self.begin_pass()

    def _open_conflicts(self, kind: RecordKind, key: str) -> list[Conflict]:
        """The open conflicts of a record: the store's, and the pass's not yet committed."""
        stored = self._store.list_conflicts(state=ConflictState.OPEN, record=(kind, key))
        found = self._found_by_record.get((kind, key), [])
        return [c for c in (*stored, *found) if c.id not in self._cleared]

    def _pair_minima(self, a: str, b: str) -> SeparationMinima | None:
        return policy.minima_for(self._agreements, a, b)

    def detect(self, change: Change, now_s: float) -> Detection:
        """The outputs of one change-log row (not yet committed); updates the index."""
        out = _Outputs()
        if change.entity == "notice":
            self._notice_changed(change, now_s, out)
        elif change.entity == "plan":
            self._plan_changed(change, now_s, out)
        elif change.kind == "agreement.added":
            self._agreement_added(change, now_s, out)
        for conflict in out.new:
            self._found[conflict.id] = conflict
            for side in {(s.kind, s.record_key) for s in (conflict.a, conflict.b)}:
                self._found_by_record.setdefault(side, []).append(conflict)
        self._cleared.update(c.id for c in out.resolved)
        return Detection(change.seq, now_s, out.new, out.resolved, out.notifications)

    def _notice_changed(self, change: Change, now_s: float, out: _Outputs) -> None:
        notice, live = self._record_at(change)
        if not isinstance(notice, Notice):
            return
        self._refresh(RecordKind.NOTICE, notice, live, change, now_s, out)
        if change.verb == "filed":
            out.notifications += self._tell.notice(
                notice, NotificationKind.NOTICE, change.seq, now_s
            )
        elif change.verb in ("amended", "cancelled"):
            out.notifications += self._tell.notice(
                notice, NotificationKind.CHANGE, change.seq, now_s
            )

    def _plan_changed(self, change: Change, now_s: float, out: _Outputs) -> None:
        plan, live = self._record_at(change)
        if isinstance(plan, Plan):
            self._refresh(RecordKind.PLAN, plan, live, change, now_s, out)

    def _refresh(
        self,
        kind: RecordKind,
        record: Notice | Plan,
        live: bool,
        change: Change,
        now_s: float,
        out: _Outputs,
    ) -> None:
        version, party = record.version, record.party
        self._remove(kind, record.key)
        new_record = change.verb in _NEW_RECORD  # no conflict can name it yet: nothing to read
        # The open conflicts of volumes this version leaves as they were, by the pair they
        # hold: carried over, not resolved and detected again (which told a party that may not
        # see the notice when and how often its owner amended it: security.md §3.6).
        kept: dict[Pair, Conflict] = {}
        carried: list[Pair] = []
        held = [] if new_record else self._open_conflicts(kind, record.key)
        since = record.changed_since() if held and isinstance(record, Notice) else {}
        for pair, mine, conflict in by_pair(kind, record.key, held):
            if live and (mine.version == version or _carried(record, mine, since)):
                # Found again below by its pair, which its id no longer names once either
                # side was carried.
                kept[pair] = conflict
                if mine.version != version:
                    carried.append(pair)
            else:
                self._resolve(conflict, change, now_s, out, party)
        if not live:
            return
        volumes = {v.id: v for v in record.volumes}
        sides = [(side, volumes[side.volume_id]) for side in self._insert(kind, record)]
        self._detect(sides, kept, new_record, change, now_s, out)
        for pair in carried:  # carried, but no longer in conflict (the minima changed)
            if pair in kept:
                self._resolve(kept[pair], change, now_s, out, party)

    def _detect(
        self,
        sides: Iterable[tuple[Side, Volume4D]],
        kept: dict[Pair, Conflict],
        new_record: bool,
        change: Change,
        now_s: float,
        out: _Outputs,
        among: frozenset[str] | None = None,
    ) -> None:
        """The conflicts of one record's volumes (``sides``) with the other parties' indexed
        volumes (only ``among``'s, if given) that are not already held: those ``kept`` (its
        open ones, by the pair they hold: taken out of it as met again), found earlier in the
        pass, or (but for a ``new_record``'s) stored; of each pair of records, those it lists
        (:mod:`deconflict.hub.pairs`: the rest is neither described nor written)."""
        reach = policy.search_minima(self._agreements)
        sides = list(sides)
        if not sides:
            return
        mine = sides[0][0]  # what the change found of the record already is told (an agreement's)
        room = Room(out.met.get((mine.kind, mine.record_key), ()))
        for place, (side, volume) in enumerate(sides):
            party, kind = side.party, side.kind
            start_s, end_s = volume.window.start_s, volume.window.end_s
            for entry in self.index.conflicts_with(volume, party, reach, self._pair_minima):
                if among is not None and entry.party not in among:
                    continue
                other = self.side(entry.key)
                assert other is not None  # every indexed volume has its side
                if kind is RecordKind.PLAN and other.kind is RecordKind.PLAN:
                    continue
                record = (other.kind, other.record_key)
                held = (side.volume_id, *record, other.volume_id)
                kept_one = kept.pop(held, None)
                told = kept_one is not None or room.found(held)
                # One of an earlier version's, carried over: listed no more if not chosen (but
                # by an agreement's search, ``among``, which lists what its terms make).
                old = kept_one is not None and kept_one.side_of(party) != side and among is None
                carried = kept_one if old else None
                window = entry.volume.window
                if min(end_s, window.end_s) <= now_s:
                    # Over already: it needs no warning, and telling it told a party probing
                    # with past windows whether the other's notice was still live.
                    continue
                both = (max(start_s, window.start_s), min(end_s, window.end_s))
                room.meet(record, place, (side, volume), (other, entry.volume), both, told, carried)
        chosen, dropped = room.chosen()
        for conflict in dropped:  # no change of theirs clears it: the new listing tells it all
            out.resolved.append(conflict.resolve(now_s))
        for listed, more in chosen:
            a, b, va, vb = listed.mine, listed.other, listed.volume, listed.theirs
            cid = conflict_id(self._id_key, a, b)
            if cid in out.new_ids or (not new_record and self._stored(cid)):
                continue
            resolution = resolution_for(self._agreements, a.party, b.party)
            conflict = Conflict(
                cid,
                a,
                b,
                describe(va, vb),
                now_s,
                a_unlocks=unlocks(self._agreements, a.party, b.party, a.kind, va),
                b_unlocks=unlocks(self._agreements, b.party, a.party, b.kind, vb),
                a_masked=masked_detail(va, vb, resolution),
                b_masked=masked_detail(vb, va, resolution),
                more_pairs=more,
            )
            out.new_ids.add(cid)
            out.add(conflict)
            out.notifications += self._tell.conflict(
                conflict, NotificationKind.CONFLICT, change.seq, now_s
            )

    def _agreement_added(self, change: Change, now_s: float, out: _Outputs) -> None:
        """An agreement added at once: the conflicts its terms make are found and told with
        their true lead time, and a party it newly shows another's notices whole is told of
        those live (it was told of changes to notices it was never told of). It was first
        found when one of the activities started, its lead time none: a twenty-fourth reader.
        Only the pairs of its parties whose minima it widened (or that it links anew) are
        searched, from their notices' volumes in the index (the records as the log stands at
        this row; every conflict has a notice's side), so an agreement that changes nothing
        costs nothing, and the search never counts a party's plans (a twenty-fifth reader)."""
        added = next((ag for ag in self._agreements if ag.id == change.entity_id), None)
        if added is None:
            return
        before = [ag for ag in self._agreements if ag.id != added.id]
        pairs = [(a, b) for a in added.parties for b in added.parties if a != b]
        wider = {
            (a, b)
            for a, b in pairs
            if policy.minima_for(before, a, b) != policy.minima_for(self._agreements, a, b)
        }
        shown = {  # (owner, viewer): the owner's notices newly shown the viewer whole
            (a, b)
            for a, b in pairs
            if policy.disclosure(before, a, b) is not Disclosure.FULL
            and policy.disclosure(self._agreements, a, b) is Disclosure.FULL
        }
        if not wider and not shown:
            return
        to_tell: dict[str, tuple[int, list[str]]] = {}  # notice key: (version, viewers)
        for record_prefix, record_keys_kept in list(self._keys.items()):
            kind, _, record_key = record_prefix[:-1].partition(":")
            owner = split_key(record_key)[0]
            if RecordKind(kind) is not RecordKind.NOTICE or owner not in added.parties:
                continue
            among = frozenset(b for a, b in wider if a == owner)
            held = Held(partial(self._held, RecordKind.NOTICE, record_key))
            version = 0
            sides = []
            for key in keys_of(record_keys_kept):
                entry, side = self.index.get(key), self.side(key)
                if entry is None or side is None:
                    continue
                version = side.version
                sides.append((side, entry.volume))
            if among:
                self._detect(sides, held, False, change, now_s, out, among)
            viewers = sorted(b for a, b in shown if a == owner)
            if viewers and version:
                to_tell[record_key] = (version, viewers)
        current = self._store.get_notices(list(to_tell)) if to_tell else {}
        for record_key, (version, viewers) in sorted(to_tell.items()):
            notice = current.get(record_key)
            if notice is None or notice.version != version:
                notice = self._store.get_notice_version(record_key, version)
            out.notifications += self._tell.notice(
                notice, NotificationKind.NOTICE, change.seq, now_s, to=viewers
            )

    def _held(self, kind: RecordKind, record_key: str) -> dict[Pair, Conflict]:
        """A record's open conflicts by the pair they hold, whatever versions they name."""
        found = self._open_conflicts(kind, record_key)
        return {pair: conflict for pair, _, conflict in by_pair(kind, record_key, found)}

    def _resolve(
        self, conflict: Conflict, change: Change, now_s: float, out: _Outputs, party: str
    ) -> None:
        resolved = conflict.resolve(now_s)
        out.resolved.append(resolved)
        if change.verb == "ended":  # activity that is over needs no warning
            return
        # Nor does a conflict past its cutoff for a party (``need_to_know.change_cutoff``):
        # told then, a change told a party that may not see the notice whole that it was still
        # live. The party whose own change cleared the conflict knows it already.
        late = [p for p in conflict.parties if now_s >= self._cutoff(conflict, p)]
        skip = {party, *late}
        out.notifications += self._tell.conflict(
            resolved, NotificationKind.CHANGE, change.seq, now_s, skip
        )

    def _cutoff(self, conflict: Conflict, party: str) -> float:
        other = conflict.other_side(party)
        resolution = resolution_for(self._agreements, party, other.party if other else party)
        sight = need_to_know.sight(self._agreements, party)
        return need_to_know.change_cutoff(conflict, party, sight, resolution)

    def _stored(self, cid: str) -> bool:
        if cid in self._found:  # found earlier in the pass
            return True
        try:
            self._store.get_conflict(cid)
        except NotFound:
            return False
        return True
