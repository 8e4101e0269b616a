"""A list of notices by state costs what it holds of each owner in that state, not every notice
of the owners in any state (security.md §4.2): another party's cancelled notices, which a
party that sees it whole may list, did not change what the list shows but made each list (and
each suggestions' search set, the owner's live notices) cost 6 steps more a notice."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.scenario import vol
from tests.hub.test_hostile_need_to_know import _costs, _hub

from deconflict.model import Disclosure, NoticeState
from deconflict.store.base import Seen


@pytest.mark.parametrize("states", [[NoticeState.FILED], [NoticeState.FILED, NoticeState.ACTIVE]])
def test_a_list_by_state_does_not_cost_the_owner_s_other_notices(
    tmp_path: Path, states: list[NoticeState]
) -> None:
    costs = {}
    for cancelled in (2, 40):
        path = tmp_path / f"{cancelled}-{len(states)}"
        path.mkdir()
        hub, _ = _hub(path, Disclosure.FULL)
        try:
            hub.file_notice("X", [vol("live", lon=41.0)], "air-activity", "LIVE")
            for k in range(cancelled):
                hub.file_notice("X", [vol(f"c{k}", lon=20.0 + k * 0.1)], "air-activity", f"C{k}")
                hub.cancel_notice("X", f"C{k}")
            hub.process()
            shown = [n.key for n in hub.list_notices("P", states, party="X")]
            assert shown == ["X/LIVE"]
            costs[cancelled] = _costs(
                hub,
                [
                    lambda hub=hub: hub.list_notices("P", states, party="X"),
                    lambda hub=hub: hub.list_notices("P", states, party="X", limit=10),
                ],
            )
        finally:
            hub.close()
    assert costs[2] == costs[40]


def test_a_list_over_more_owners_and_states_than_a_statement_merges(tmp_path: Path) -> None:
    """A viewer that sees 450 parties whole lists by two states: past what one compound
    statement may merge (SQLite: 500 terms), the list is read as one range, not refused."""
    hub, _ = _hub(tmp_path, Disclosure.FULL)
    try:
        hub.file_notice("X", [vol("live", lon=41.0)], "air-activity", "LIVE")
        hub.process()
        owners = frozenset({"X", *(f"p{i}" for i in range(450))})
        states = [NoticeState.FILED, NoticeState.ACTIVE]
        for limit in (None, 5):
            found = hub.store.list_notices(None, states, seen=Seen(owners, {}), limit=limit)
            assert [n.key for n in found] == ["X/LIVE"]
            paged = hub.store.list_notices(None, seen=Seen(owners, {}), limit=limit)
            assert [n.key for n in paged] == ["X/LIVE"]
    finally:
        hub.close()


def test_a_state_asked_again_gives_the_same_list_at_the_same_cost(tmp_path: Path) -> None:
    """A twenty-third reader: ``state=filed`` repeated 133 times read each owner's range 133
    times (one range an owner and a state asked, just under the 400 a statement merges): the
    page held each notice that many times, and the read shared by every party cost 0.5 s
    against 0.03, which a burst of such lists made others' reads wait 11 s for."""
    hub, _ = _hub(tmp_path, Disclosure.FULL)
    try:
        for k in range(3):
            hub.file_notice("X", [vol(f"v{k}", lon=41.0 + k)], "air-activity", f"N{k}")
        hub.process()
        once = [NoticeState.FILED]
        again = once * 133
        assert [n.key for n in hub.list_notices("P", again)] == [
            n.key for n in hub.list_notices("P", once)
        ]
        assert len(hub.list_notices("P", again, limit=2)) == 2
        asked = [lambda: hub.list_notices("P", once), lambda: hub.list_notices("P", once, limit=2)]
        repeated = [
            lambda: hub.list_notices("P", again),
            lambda: hub.list_notices("P", again, limit=2),
        ]
        assert _costs(hub, asked) == _costs(hub, repeated)
    finally:
        hub.close()
