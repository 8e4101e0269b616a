"""A hostile party probing the hub (a review's findings, each fixed): what it may read of the
ledger is decided by the same statements whether a record is hidden or missing (security.md
§3.4, §3.5); a suggestion tells nothing of a hidden notice the party does not meet (§3.6); and
another party's filings cannot make a list of conflicts cost its square (§3.9, §4)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.hub.scenario import HOUR, T0, vol
from tests.hub.test_hostile_need_to_know import MINIMA, _hub, _statements, _steps

from deconflict.engine import VolumeIndex
from deconflict.errors import NotFound
from deconflict.geo import Volume4D
from deconflict.hub import Hub, SimulatedClock, suggestions
from deconflict.hub.ledger_access import entries_about, visible_entry
from deconflict.hub.views import seen_details, view_conflict, view_conflicts
from deconflict.model import Agreement, Conflict, Disclosure


@pytest.mark.parametrize("viewer", ["P", "Q"])
@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_ledger_entries_of_a_hidden_notice_are_looked_up_as_of_a_missing_one(
    tmp_path, level, viewer
):
    """security.md §3.5: ``GET /v1/ledger/entries?record=HIDDEN&party=X`` (the owner named by
    the prober) found X's entries about its hidden notice, read each and worked out for each
    whether the prober may see the notice, so a hidden notice ran more statements than a missing
    one (more again for each amendment): its existence, and how often it was amended, told by
    the time the answer takes, to P under ``none`` and even to Q, which has no agreement with X.
    Both must run the same statements, as ``GET /v1/notices/{id}`` does."""
    hub, _ = _hub(tmp_path, level)
    hub.file_notice("X", [vol("x", lon=41.0)], "air-activity", "HIDDEN")
    hub.process()
    runs = {}
    for name in ("HIDDEN", "MISSING"):
        with _statements(hub) as seen:
            assert entries_about(hub, viewer, name, owner="X") == []
        runs[name] = seen
    assert runs["HIDDEN"] == runs["MISSING"]
    hub.close()


def _indexed_by_a_list_of_conflicts(tmp_path, monkeypatch, notices: int, one: bool) -> int:
    """How many volumes the suggestion searches index while P's open conflicts are viewed (as
    ``GET /v1/conflicts`` does), with X's ``notices`` small volumes all meeting P's one volume:
    each a notice of its own, or (``one``) all in one notice."""
    folder = tmp_path / f"{notices}-{one}"
    folder.mkdir()
    hub, _ = _hub(folder, Disclosure.FULL)
    hub.file_notice("P", [vol("p")], "air-activity", "VICTIM")
    small = [vol(f"x{k}", lon=39.0 + k * 1e-4, radius_m=100.0) for k in range(notices)]
    if one:
        hub.file_notice("X", small, "air-activity", "X-MANY")
    for k, volume in enumerate([] if one else small):
        hub.file_notice("X", [volume], "air-activity", f"X{k}")
    hub.process()
    indexed = []

    def counting(entries):
        listed = list(entries)
        indexed.append(len(listed))
        return VolumeIndex(listed)

    monkeypatch.setattr(suggestions, "VolumeIndex", counting)  # each index made for them
    views = view_conflicts(hub, "P", hub.list_conflicts("P", open_only=True))  # as the routes do
    monkeypatch.undo()
    assert len(views) == notices
    hub.close()
    return sum(indexed)


@pytest.mark.parametrize("one", [False, True], ids=["notices", "one-notice"])
def test_another_partys_filings_do_not_make_a_list_of_conflicts_quadratic(
    tmp_path, monkeypatch, one
):
    """security.md §4 (no party's input slows the hub for the others), §3.9 (a list costs what
    it shows): X files N small volumes that all meet P's one volume, as N notices or as one. P's
    list of conflicts (``GET /v1/conflicts``, and ``/v1/map``, on the hub thread, where every
    party's reads and writes run) works out a suggestion for each of the N conflicts, each
    against an index of all X's live volumes: N² work for a list of N, though every suggestion
    is for the same volume of P against the same party. Measured: 200 notices made P's list
    take 13.7 s of the hub thread; ONE filing of one notice with 300 small volumes (a record
    may hold 1,000) made it take 28 s, and every party waited meanwhile. The work must grow
    with what the list shows, not with its square."""
    few = _indexed_by_a_list_of_conflicts(tmp_path, monkeypatch, 5, one)
    many = _indexed_by_a_list_of_conflicts(tmp_path, monkeypatch, 20, one)
    assert many <= 4 * few, f"{few} volumes indexed for 5 conflicts, {many} for 20"


def _suggested(tmp_path, level: Disclosure, extra: Volume4D | None) -> tuple[float, float]:
    """The time and altitude deltas suggested to P for its one conflict, with X's hidden
    notice H0 on P's volume and, if given, ``extra``: another hidden notice of X that meets
    none of P's volumes."""
    folder = tmp_path / ("with" if extra else "without")
    folder.mkdir()
    hub, _ = _hub(folder, level)
    hub.file_notice("X", [vol("h0")], "air-activity", "H0")
    if extra is not None:
        hub.file_notice("X", [extra], "air-activity", "H1")
    hub.file_notice("P", [vol("p")], "air-activity", "PN")
    hub.process()
    (conflict,) = hub.list_conflicts("P", open_only=True)  # H1 meets nothing of P's
    suggestion = view_conflict(hub, "P", conflict).suggestion
    hub.close()
    assert suggestion is not None
    assert suggestion.time is not None
    assert suggestion.altitude is not None
    return suggestion.time.delta, suggestion.altitude.delta


@pytest.mark.parametrize(
    "extra",
    [
        vol("later", start_s=T0 + 8.5 * HOUR, end_s=T0 + 10 * HOUR),  # just after P's window
        vol("above", lower_m=8_600.0, upper_m=9_000.0),  # just above P's band
    ],
    ids=["later", "above"],
)
@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_a_suggestion_tells_nothing_of_a_hidden_notice_the_party_does_not_meet(
    tmp_path, level, extra
):
    """security.md §3 (V may not learn of a withheld notice, not even that it exists) and §3.6
    (probing is never covert): P has one conflict, with X's hidden H0. The adjustment suggested
    to P was searched against every live notice of X, each hidden one as its envelope, so a
    hidden H1 that meets none of P's volumes changed it: with H1 just after P's window the
    suggested time shift went from +7,400 s to -7,900 s; with H1 just above P's band the
    altitude change went from +7,400 m to +8,300 m. P learns that H1 exists and where (to a
    step), and X is told only of the conflict with H0, never that H1 was found. The suggestion
    must be the same whether or not such an H1 exists."""
    without = _suggested(tmp_path, level, None)
    with_hidden = _suggested(tmp_path, level, extra)
    assert with_hidden == without


@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_a_hidden_ledger_entry_is_looked_up_as_a_missing_one(tmp_path, level):
    """security.md §3.4 (a hidden entry and a missing one cannot be told apart), §3.5 (found by
    the same statements): ``GET /v1/ledger/proofs/inclusion?index=i`` reads entry ``i`` and
    then works out, by its kind, whether the caller may see it (a notice entry: the notice
    looked up as the caller; a conflict: the conflict; a notification: nothing more), while an
    index past the end is refused at once. So the time the 404 takes tells a prober which
    indexes hold X's hidden notice entries: when, and how often, X filed and amended notices.
    A hidden entry must run the same statements as a missing one."""
    hub, _ = _hub(tmp_path, level)
    hub.file_notice("X", [vol("x", lon=41.0)], "air-activity", "HIDDEN")
    hub.process()
    (hidden,) = [i for i in range(hub.ledger.size) if hub.ledger.entry(i).get("notice")]
    runs = {}
    for name, index in (("hidden", hidden), ("missing", hub.ledger.size + 10)):
        with _statements(hub) as seen, pytest.raises(NotFound) as refused:
            visible_entry(hub, "P", index)
        runs[name] = (seen, str(refused.value).replace(str(index), "?"))
    assert runs["hidden"] == runs["missing"]
    hub.close()


def test_every_entry_withheld_is_looked_up_as_a_missing_one(tmp_path):
    """security.md §3.4, §3.5, found by a second reader: the entries withheld from P since it
    sees X's notice in part (its start, its amendments, a conflict's resolution at the end of
    X's notice) and X's own entries about a conflict P sees ran more statements than an index
    than another refused entry (the conflicts that unlock the notice, the agreements read
    again), so the time a refusal took located them. Every refusal runs the same statements,
    at the same cost in SQLite's steps (an eighth reader: the notice or conflict an entry
    named was found, and cost steps more than a name nothing has)."""
    hub, clock = _hub(tmp_path, Disclosure.CONFLICTS_ONLY)
    hidden = vol("h", lon=41.0, start_s=T0 + HOUR, end_s=T0 + 10 * HOUR)
    hub.file_notice("X", [vol("near"), hidden], "air-activity", "XN")
    hub.file_notice("P", [vol("probe", lon=39.02, end_s=T0 + 11 * HOUR)], "air-activity", "PN")
    hub.process()
    for at in (2.0, 9.0, 10.5):
        clock.set(T0 + at * HOUR)
        if at == 9.0:
            moved = vol("h", lon=41.5, start_s=T0 + HOUR, end_s=T0 + 10 * HOUR)
            hub.amend_notice("X", "XN", 1, [vol("near"), moved])
        hub.tick()
        hub.process()
    runs: dict[str, tuple[list[str], int]] = {}  # what each kind of entry refused costs
    for index in range(hub.ledger.size):
        with _statements(hub) as seen, _steps(hub) as steps:
            try:
                visible_entry(hub, "P", index)
            except NotFound:
                runs.setdefault(hub.ledger.entry(index)["type"], (seen, steps[0]))
    withheld = {"notice.activated", "notice.amended", "conflict.resolved", "notification.created"}
    assert withheld <= set(runs)
    assert "party.added" in runs  # X's, which P has no business reading: the reference
    for kind, seen in runs.items():
        assert seen == runs["party.added"], kind
    hub.close()


def test_a_sweep_by_index_reads_no_kind_of_another_s_entries(tmp_path):
    """security.md §3.4, §3.5, found by an eighth reader: P (nothing disclosed by X, no
    agreement with Q) swept the ledger by index; each refusal looked up the notice or conflict
    the entry named, found when there was one, so the SQLite steps of a refusal told a notice
    entry from a conflict's or a notification's: when X and Q met, and were told. Every
    entry P may not read now costs the same."""
    hub, clock = _hub(tmp_path, Disclosure.NONE)
    hub.add_agreement(Agreement("xq", ("X", "Q"), minima=MINIMA))
    hub.tick()
    start = hub.ledger.size
    hub.file_notice("X", [vol("x")], "air-activity", "XN")
    hub.process()
    hub.file_notice("Q", [vol("q", lon=39.01)], "air-activity", "QN")
    hub.process()
    clock.advance(60)
    hub.deliver("X")
    hub.deliver("Q")
    hub.tick()
    costs: dict[str, tuple[int, int]] = {}
    for index in range(start, hub.ledger.size):
        with _statements(hub) as seen, _steps(hub) as steps, pytest.raises(NotFound):
            visible_entry(hub, "P", index)
        costs[hub.ledger.entry(index)["type"]] = (len(seen), steps[0])
    assert {"notice.filed", "conflict.detected", "notification.created"} <= set(costs)
    assert len(set(costs.values())) == 1, costs
    hub.close()


@pytest.mark.parametrize(("hidden", "missing"), [("X", "NOBODY"), ("mou", "NO-MOU")])
def test_ledger_entries_tell_a_party_nothing_of_parties_and_agreements_it_has_none_with(
    tmp_path, hidden, missing
):
    """security.md §2 (a party with no agreement with the victim may learn nothing of it, not
    even that it exists), §3.5: ``GET /v1/ledger/entries?record=X`` by Q, which has no agreement
    with X, found X's ``party.added`` entry (or the ``agreement.added`` of X and P's ``mou``),
    read it and only then refused it, so an existing party or agreement ran more statements
    than a made-up name: Q could test names for existence. Both must run the same."""
    hub, _ = _hub(tmp_path, Disclosure.NONE)
    hub.list_agreements()  # read whole once after the last was added, as any read does
    runs = {}
    for name in (hidden, missing):
        with _statements(hub) as seen:
            assert entries_about(hub, "Q", name) == []
        runs[name] = seen
    assert runs[hidden] == runs[missing]
    hub.close()


def _statements_of_a_view(tmp_path, level: Disclosure, notices: int) -> tuple[int, int]:
    """How many SQL statements P's list of its open conflicts and the map's details of them
    run, with X's ``notices`` notices each meeting P's one volume."""
    folder = tmp_path / f"{level}-{notices}"
    folder.mkdir()
    hub, _ = _hub(folder, level)
    hub.file_notice("P", [vol("p")], "air-activity", "VICTIM")
    for k in range(notices):
        hub.file_notice("X", [vol(f"x{k}", radius_m=100.0)], "air-activity", f"X{k}")
    hub.process()
    conflicts = hub.list_conflicts("P", open_only=True)
    assert len(conflicts) == notices
    with _statements(hub) as listed:
        views = view_conflicts(hub, "P", conflicts)
    with _statements(hub) as mapped:
        details = seen_details(hub, "P", conflicts)
    assert [v.detail for v in views] == details
    hub.close()
    return len(listed), len(mapped)


@pytest.mark.parametrize("level", list(Disclosure))
def test_a_list_of_conflicts_reads_the_store_a_fixed_number_of_times(tmp_path, level):
    """security.md §4: P's ``GET /v1/conflicts`` and ``/v1/map`` run on the hub thread, where
    every party's reads and writes wait their turn. Each conflict's other side was read as a
    notice of its own (and the map did it twice), so X, by filing many small notices on P's
    volume, made every one of P's lists cost a read per notice, and everyone else wait. The
    statements a list runs no longer grow with the conflicts it shows."""
    assert _statements_of_a_view(tmp_path, level, 3) == _statements_of_a_view(tmp_path, level, 12)


def test_a_notice_and_a_plan_of_one_id_are_suggested_for_each_its_own(tmp_path):
    """A party's notice and its plan may share an id (each kind has its own ids): the list of
    its conflicts worked out the suggestion of the notice's conflict from the plan's volume of
    the same id, read first (found by a second reader), and so advised a move that clears
    nothing. Each conflict in a list is suggested what it is suggested alone."""
    from tests.hub.scenario import make_hub

    hub, _ = make_hub(tmp_path)
    low = {"lower_m": 1_000.0, "upper_m": 2_000.0}
    high = {"lower_m": 6_000.0, "upper_m": 7_000.0, "lon": 38.5}
    hub.add_plan("usaf", [vol("v0", **high)], "R1")
    hub.file_notice("usaf", [vol("v0", **low)], "air-activity", "R1")
    hub.file_notice("faf", [vol("f1", **low)], "air-activity", "F1")
    hub.file_notice("faf", [vol("f2", **high)], "air-activity", "F2")
    hub.process()
    conflicts = hub.list_conflicts("usaf", open_only=True)
    assert sorted(c.side_of("usaf").kind for c in conflicts) == ["notice", "plan"]
    # As text: two reads of one volume are two footprints, which compare by identity.
    listed = [repr(v.suggestion) for v in view_conflicts(hub, "usaf", conflicts)]
    alone = [repr(view_conflict(hub, "usaf", c).suggestion) for c in conflicts]
    assert listed == alone
    assert "38.5" in "".join(alone)  # the plan's volume, in the plan's suggestion only
    assert ["38.5" in text for text in alone].count(True) == 1
    hub.close()


def _notices_read_for_a_list(tmp_path, monkeypatch, level: Disclosure, hidden: int) -> int:
    """How many notices the store returns while P's one conflict with X is viewed (as
    ``GET /v1/conflicts`` does), with ``hidden`` more live notices of X far from P's."""
    folder = tmp_path / f"{level}-{hidden}"
    folder.mkdir()
    hub, _ = _hub(folder, level)
    hub.file_notice("P", [vol("p")], "air-activity", "VICTIM")
    hub.file_notice("X", [vol("x0")], "air-activity", "X0")
    for k in range(hidden):
        hub.file_notice("X", [vol(f"far{k}", lon=45.0 + 0.01 * k)], "air-activity", f"F{k}")
    hub.process()
    read = []
    store_type = type(hub.store)
    real = store_type.list_notices

    def counted(self, *args, **kwargs):
        found = real(self, *args, **kwargs)
        read.append(len(found))
        return found

    monkeypatch.setattr(store_type, "list_notices", counted)
    (view,) = view_conflicts(hub, "P", hub.list_conflicts("P", open_only=True))
    monkeypatch.undo()
    assert view.suggestion is not None
    hub.close()
    return sum(read)


@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_a_list_of_conflicts_reads_none_of_the_other_partys_hidden_notices(
    tmp_path, monkeypatch, level
):
    """security.md §3.5, §3.9: P's suggestion against X was searched over a set built by
    reading every live notice of X, then finding which P may see: the rows read, the
    statements and the time of P's list grew with how many notices X holds that P may not
    see (2,000 more: 16 statements and 3 ms became 24 and 66 ms; found by a hostile probe), so
    a party with one conflict could count another's hidden notices. Now only what P may see
    and the notices of the hidden volumes it meets are read."""
    few = _notices_read_for_a_list(tmp_path, monkeypatch, level, 0)
    many = _notices_read_for_a_list(tmp_path, monkeypatch, level, 30)
    assert few == many


@pytest.mark.parametrize("relay", [None, "R"])
def test_a_notification_of_a_hidden_volume_does_not_name_its_notice(tmp_path, relay):
    """security.md §3.6, §3.8, under ``conflicts-only`` with unlock bounds: P's small notice
    unlocks X's volume v1, P's big one meets X's v2 of the same notice without unlocking it.
    The conflict view hides the big one's other side, but its notification named X's notice,
    visible for v1 (found by a hostile probe): P learned that this notice holds a hidden
    volume there, where a hidden volume of another notice told it nothing. A notification made
    without disclosing its notice does not name it to its recipient, in the list, the stream
    and the webhooks alike (all are made by this view), nor to the relay it goes through,
    which sees what P may see (a second reader found the relay still told)."""
    from deconflict.engine import SeparationMinima
    from deconflict.hub import Hub, SimulatedClock
    from deconflict.hub.views import view_notifications
    from deconflict.model import Agreement, Unlock

    hub = Hub.open(tmp_path / "hub.db", SimulatedClock(T0))
    for party in ("X", "P", *([relay] if relay else [])):
        hub.add_party(party)
    hub.add_agreement(
        Agreement(
            "mou",
            ("X", "P"),
            minima=SeparationMinima(1_000.0, 300.0, 0.0),
            relay=relay,
            default_disclosure=Disclosure.CONFLICTS_ONLY,
            unlock=Unlock(max_area_m2=1e8),
        )
    )
    hub.file_notice("X", [vol("v1"), vol("v2", lon=40.0)], "air-activity", "XN")
    hub.file_notice("P", [vol("small", lon=39.01)], "air-activity", "PS")
    hub.file_notice("P", [vol("big", lon=40.1, radius_m=20_000.0)], "air-activity", "PB")
    hub.process()
    views = {v.mine.record_id: v for v in view_conflicts(hub, "P", hub.list_conflicts("P"))}
    assert views["PS"].theirs.record_id == "XN"  # unlocked: named
    assert views["PB"].theirs.record_id is None  # not unlocked: hidden
    for viewer in ("P", *([relay] if relay else [])):
        told = {
            n.conflict_id: n.notice_id
            for n in view_notifications(hub, viewer, hub.list_notifications(viewer))
            if n.recipient == "P"
        }
        # Seen in part, X's notice is named by no notification to P, even where unlocked: its
        # versions and commitments count X's changes to volumes P may not see (§3.6).
        assert told == {views["PS"].id: None, views["PB"].id: None}, viewer
    hub.close()


@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY, Disclosure.FULL])
def test_a_resolution_told_is_given_by_index_too(tmp_path, level):
    """security.md §3.4, found by a tenth reader: a conflict cleared by a change is shown
    resolved as it happened, and its entries list its resolution; by index (what inclusion
    proofs are asked by) that entry was refused to a party seeing the other side in part. Each
    of the conflict's parties gets every entry it is listed, by index too."""
    hub, clock = _hub(tmp_path, level)
    hub.file_notice("X", [vol("x")], "air-activity", "XN")
    hub.file_notice("P", [vol("p", lon=39.01)], "air-activity", "PN")
    hub.process()
    clock.set(T0 + HOUR)
    hub.amend_notice("X", "XN", 1, [vol("moved", lon=41.0)])
    hub.process()
    clock.set(T0 + 2 * HOUR)
    hub.tick()
    for party in ("P", "X"):
        (conflict,) = hub.list_conflicts(party)
        listed = entries_about(hub, party, conflict.id)
        assert [e["type"] for _, e in listed] == ["conflict.detected", "conflict.resolved"]
        for index, entry in listed:
            assert visible_entry(hub, party, index) == entry
    hub.close()


@contextmanager
def _base(path: Path, parties: Sequence[str], *agreements: Agreement) -> Iterator[Hub]:
    """A store for twin hubs to be copied from (``shutil.copytree``), so that they share the
    secret that orders what each writes at one time (``ledger.unlinked``): ``parties`` and
    ``agreements``, and what the caller adds."""
    path.mkdir()
    with Hub.open(path / "hub.db", SimulatedClock(T0)) as hub:
        for party in parties:
            hub.add_party(party)
        for agreement in agreements:
            hub.add_agreement(agreement)
        yield hub


def _twin(base: Path, path: Path, clock: SimulatedClock) -> Hub:
    """A hub on a copy of ``base``'s store (sharing its secret), on ``clock``."""
    shutil.copytree(base, path)
    return Hub.open(path / "hub.db", clock)


def _swept_base(path: Path) -> Path:
    """The store ``_swept``'s hubs start from: X, P and Z, and their agreements."""
    mou = Agreement("mou", ("X", "P"), minima=MINIMA, default_disclosure=Disclosure.NONE)
    with _base(path, ("X", "P", "Z"), mou, Agreement("zx", ("X", "Z"), minima=MINIMA)):
        pass
    return path


def _swept(base: Path, path: Path, x_end_s: float) -> tuple[list[tuple[int, bool]], object]:
    """P's sweep of the ledger by index (each read's steps, and whether it was given) on a hub
    (from ``base``) where X's first notice, met by P's and hidden from it, ends at
    ``x_end_s``; Z's conflicts with X sit after P's in the indexes, as any hub's do."""
    clock = SimulatedClock(T0)
    hub = _twin(base, path, clock)
    hub.file_notice("Z", [vol("z1", lon=30.01)], "air-activity", "ZN1")
    hub.file_notice("X", [vol("xz", lon=30.0)], "air-activity", "XZ")
    hub.file_notice("Z", [vol("z2", lon=30.02)], "air-activity", "ZN2")
    hub.process()
    clock.set(T0 + 30)
    hub.file_notice("P", [vol("p1", lon=39.01, end_s=T0 + 9 * HOUR)], "air-activity", "PN1")
    hub.file_notice("P", [vol("p2", lon=40.01, end_s=T0 + 9 * HOUR)], "air-activity", "PN2")
    hub.process()
    clock.set(T0 + 60)
    hub.file_notice("X", [vol("x1", lon=39.0, end_s=x_end_s)], "air-activity", "XN1")
    hub.process()
    clock.set(T0 + 120)
    step_start = T0 + 7 * HOUR + (900 - T0 % 900)
    hub.file_notice("X", [vol("x2", lon=40.0, end_s=step_start + 400)], "air-activity", "XN2")
    hub.process()
    swept = []
    for index in range(hub.ledger.size + 2):
        with _steps(hub) as steps:
            try:
                visible_entry(hub, "P", index)
                given = True
            except NotFound:
                given = False
        swept.append((steps[0], given))
    shown = [(c.detail, c.state) for c in view_conflicts(hub, "P", hub.list_conflicts("P"))]
    hub.close()
    return swept, shown


def test_a_sweep_by_index_costs_nothing_of_the_order_of_hidden_ends(tmp_path):
    """security.md §3.5, found by an eleventh reader: each read by index looked up the first
    conflict P is in, found by ORDER BY ... LIMIT 1, whose sorter costs steps by the order the
    rows come in; the index orders them by X's told-until, the end of X's hidden volume, so
    every read's cost told how X's hidden ends ranked, below the agreed step. Two hubs where X's
    volume ends 100 or 700 s past one step, before or after another's 400 (told alike), cost
    P the same, read by read."""
    step_start = T0 + 7 * HOUR + (900 - T0 % 900)
    base = _swept_base(tmp_path / "base")
    early = _swept(base, tmp_path / "early", step_start + 100)
    late = _swept(base, tmp_path / "late", step_start + 700)
    assert early == late


def test_by_index_a_party_is_given_only_what_its_record_s_entries_list(tmp_path):
    """security.md §3.4, found by an eleventh reader: X's notice ended exactly where P's window
    as told did, and the store resolved the conflict at the time P is shown it over: by index
    the resolution's entry was given (its time matched), though its record's entries withhold
    it (it was not shown as it happened), and its being given told that X's notice had no
    later volume. By index and by record, P is given the same entries."""
    from deconflict.hub import Hub, SimulatedClock

    clock = SimulatedClock(T0)
    hub = Hub.open(tmp_path / "hub.db", clock)
    for party in ("X", "P"):
        hub.add_party(party)
    hub.add_agreement(
        Agreement("mou", ("X", "P"), minima=MINIMA, default_disclosure=Disclosure.NONE)
    )
    on_step = T0 + 8 * HOUR + (900 - T0 % 900)
    hub.file_notice("X", [vol("x", lon=41.0, end_s=on_step)], "air-activity", "XN")
    p = vol("p", lon=41.01, start_s=T0 + 5 * HOUR, end_s=T0 + 13 * HOUR)
    hub.file_notice("P", [p], "air-activity", "PN")
    hub.process()
    for at in (T0 + 6 * HOUR, on_step, T0 + 12 * HOUR):
        clock.set(at)
        hub.tick()
        hub.process()
    (conflict,) = hub.list_conflicts("P")
    listed = [
        i for i, e in entries_about(hub, "P", conflict.id) if e["type"].startswith("conflict.")
    ]
    given = []
    for index in range(hub.ledger.size):
        try:
            entry = visible_entry(hub, "P", index)
            if entry.get("conflict") == conflict.id and entry["type"].startswith("conflict."):
                given.append(index)
        except NotFound:
            pass
    assert given == listed
    assert hub.store.get_conflict(conflict.id).resolved_at_s == conflict.resolved_at_s
    hub.close()


def test_a_tick_orders_what_it_moves_so_no_party_can_link_a_filing_to_its_start(tmp_path):
    """security.md §3.4, found by a twelfth reader: a tick appended the notices it moved in
    filing order, so the indexes of P's own ``notice.activated`` entries, placed among those
    of a hidden notice moved in the same tick, told between which of P's filings it was
    filed: P linked its filing entry to its start. Two hubs on one secret (one store, copied)
    where X, with no agreement with P, files at T0+100 s or T0+300 s between P's three: P's
    entries are at the same indexes."""
    base = tmp_path / "base"
    with _base(base, ("X", "P", "W"), Agreement("pw", ("P", "W"), minima=MINIMA)):
        pass
    seen = []
    for x_at in (100.0, 300.0):
        clock = SimulatedClock(T0)
        with _twin(base, tmp_path / str(x_at), clock) as hub:
            filings = [(0.0, "P", "S0"), (200.0, "P", "S1"), (400.0, "P", "S2"), (x_at, "X", "XN")]
            for k, (at, party, notice_id) in enumerate(sorted(filings)):
                clock.set(T0 + at)
                hub.file_notice(party, [vol(notice_id, lon=39.0 + k)], "air-activity", notice_id)
                hub.process()
            clock.set(T0 + 6 * HOUR + 60.0)
            hub.tick()
            hub.process()
            seen.append(
                [
                    [i for i, e in entries_about(hub, "P", n) if e["type"] == "notice.activated"]
                    for n in ("S0", "S1", "S2")
                ]
            )
    assert seen[0] == seen[1]


def test_a_tick_writes_in_an_order_of_its_own_so_no_start_is_linked_to_its_end(tmp_path):
    """security.md §3.4, found by a thirteenth reader: keyed by the hub's secret alone, a
    notice's place in a tick's order was the same at every tick, so its start and its end sat
    at the same rank among a watcher's entries, and a party with no agreement paired hidden
    starts with their ends (how long another's notices last). Twenty notices starting in one
    tick and ending in another: the two ticks write them in different orders (all twenty in
    the same order by chance: once in 20!)."""
    clock = SimulatedClock(T0)
    with Hub.open(tmp_path / "hub.db", clock) as hub:
        hub.add_party("X")
        ids = [f"N{k}" for k in range(20)]
        for k, notice_id in enumerate(ids):
            hub.file_notice("X", [vol(notice_id, lon=30.0 + k)], "air-activity", notice_id)
        orders = []
        for at, kind in ((6 * HOUR, "notice.activated"), (8 * HOUR, "notice.ended")):
            clock.set(T0 + at + 60.0)
            hub.tick()
            place = {
                n: next(i for i, e in entries_about(hub, "X", n) if e["type"] == kind) for n in ids
            }
            orders.append(sorted(ids, key=place.__getitem__))
    assert orders[0] != orders[1]


def _label(conflict: Conflict, party: str) -> tuple[str, str]:
    """A conflict by the other side's party and ``party``'s own record."""
    mine = conflict.a if conflict.a.party == party else conflict.b
    other = conflict.other_side(party)
    assert other is not None
    return other.party, mine.record_id


def _detected_entry(hub: Hub, party: str, conflict_id: str) -> int:
    """The index of the ``conflict.detected`` entry of a conflict ``party`` is in."""
    entries = entries_about(hub, party, conflict_id)
    return next(i for i, e in entries if e["type"] == "conflict.detected")


_PZ = Agreement("pz", ("P", "Z"), minima=MINIMA, default_disclosure=Disclosure.FULL)


class _MovingClock(SimulatedClock):
    """A clock that moves a millisecond at every reading, as a hub's does while it works."""

    def now(self) -> float:
        return self.advance(0.001)


@pytest.mark.parametrize("level", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_one_detection_pass_tells_no_party_where_a_hidden_filing_fell_in_it(tmp_path, level):
    """security.md §3.4, found by a fourteenth reader: each change of a detection pass was
    detected at its own reading of the clock, and its entries written in the change log's
    order, so P's own conflicts (their detection times, their order, their entries' indexes)
    placed X's hidden filing between P's two filings or after them, and timed the work
    between (a private plan's size). Two hubs on one secret whose clocks move at every
    reading, where X files between P's two filings or after them, in one pass: P's
    conflicts are shown in the same order, at one time, and their entries in the same
    order."""
    base = tmp_path / "base"
    mou = Agreement("mou", ("X", "P"), minima=MINIMA, disclosure={("X", "P"): level})
    with _base(base, ("X", "P", "Z"), mou, _PZ) as hub:
        for notice_id, lon in (("ZA", 36.0), ("ZB", 33.0)):
            hub.file_notice("Z", [vol(notice_id, lon=lon)], "air-activity", notice_id)
        hub.process()
    seen = []
    for x_between in (True, False):
        with _twin(base, tmp_path / str(x_between), _MovingClock(T0 + 60.0)) as hub:
            filings = [("P", "PA", 36.0), ("X", "XN", 36.0), ("P", "PB", 33.0)]
            for party, notice_id, lon in filings if x_between else [filings[i] for i in (0, 2, 1)]:
                hub.file_notice(party, [vol(notice_id, lon=lon)], "air-activity", notice_id)
            hub.process()
            shown = hub.list_conflicts("P")

            placed = {c.id: _detected_entry(hub, "P", c.id) for c in shown}
            seen.append(
                (
                    [_label(c, "P") for c in shown],
                    {c.detected_at_s for c in shown},
                    [_label(c, "P") for c in sorted(shown, key=lambda c: placed[c.id])],
                )
            )
    assert len(seen[0][0]) == 3  # with Z at PA and PB, with X at PA
    assert len(seen[0][1]) == 1  # one time for the pass
    assert seen[0] == seen[1]


def test_a_hidden_change_does_not_split_a_pass_where_a_party_can_see(tmp_path):
    """security.md §3.4, found by a fifteenth reader: a detection pass committed what it had
    found before each change that reads conflicts (an amendment, a cancellation), so such a
    change of X's, hidden from P (here the amendment of a private plan, by a party P has no
    agreement with), cut P's entries of the pass into those before it and those after, and P
    learned that X changed a plan, and between which of its own filings. A pass is one
    commit: with the amendment among P's ten filings or not, on one secret, P's conflicts'
    entries come in the same order."""
    base = tmp_path / "base"
    with _base(base, ("X", "P", "Z"), _PZ, Agreement("xz", ("X", "Z"), minima=MINIMA)) as hub:
        hub.file_notice("Z", [vol("za", lon=36.0)], "air-activity", "ZA")
        hub.add_plan("X", [vol("xp", lon=20.0)], "XP")
        hub.process()
    orders = []
    for amended in (True, False):
        with _twin(base, tmp_path / str(amended), SimulatedClock(T0 + 60.0)) as hub:
            for k in range(10):
                hub.file_notice("P", [vol(f"p{k}", lon=36.0)], "air-activity", f"P{k}")
                if amended and k == 4:
                    hub.amend_plan("X", "XP", 1, [vol("xp", lon=21.0)])
            hub.process()
            shown = hub.list_conflicts("P")
            assert len(shown) == 10
            placed = {c.id: _detected_entry(hub, "P", c.id) for c in shown}
            orders.append([_label(c, "P") for c in sorted(shown, key=lambda c: placed[c.id])])
    assert orders[0] == orders[1]


def _statements_of_a_withdrawal(tmp_path: Path, k: int) -> int:
    """How many SQL statements the detection of P's withdrawal of a plan of ``k`` volumes runs,
    the plan meeting X's notice of ``k`` volumes in one place (k * k conflicts)."""
    folder = tmp_path / f"w{k}"
    folder.mkdir()
    hub, _ = _hub(folder, Disclosure.NONE)
    try:
        hub.file_notice("X", [vol(f"x{i}") for i in range(k)], "air-activity", "XN")
        hub.add_plan("P", [vol(f"p{i}") for i in range(k)], "PP")
        hub.process()
        assert len(hub.list_conflicts("P", open_only=True)) == k * k
        hub.withdraw_plan("P", "PP")
        with _statements(hub) as seen:
            hub.process()
        assert hub.list_conflicts("P", open_only=True) == []
        return len(seen)
    finally:
        hub.close()


def test_a_withdrawal_looks_up_its_conflicts_commitments_at_once(tmp_path):
    """The entries of a pass that resolves many conflicts refer to each one's detection: looked
    up one conflict at a time (two statements each), a plan withdrawn from 22,500 conflicts ran
    45,050 statements, and held every other party's filing for seconds (a forty-fourth reader).
    They are looked up at once: the statements do not grow with the conflicts."""
    assert _statements_of_a_withdrawal(tmp_path, 3) == _statements_of_a_withdrawal(tmp_path, 8)
