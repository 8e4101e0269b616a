"""Hostile parties against need-to-know: how another party's hidden volumes are grouped in its
notices, and where a hidden volume lies that none of the party's own volumes' conflicts told it
of, is not learned from the party's conflicts, notifications or suggestions (security.md §3.5,
§3.6; a twentieth reader). Twin hubs that differ only in that hidden fact: the prober's answers
and what SQLite does for them are the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.hub.scenario import HOUR, T0, vol
from tests.hub.test_hostile_need_to_know import _hub, _statements, _steps

from deconflict.api.schemas import conflict_out
from deconflict.hub import Hub
from deconflict.hub.views import view_conflicts
from deconflict.model import Disclosure
from deconflict.runtime.events import notifications_seen


def _shown(views: list[Any]) -> list[str]:
    """The conflict views as a party reads them, without the ids the twins make apart."""
    out = []
    for view in views:
        body = conflict_out(view).model_dump(mode="json")
        body.pop("id")
        if body.get("suggestion"):
            body["suggestion"].pop("conflict_id", None)
        out.append(json.dumps(body, sort_keys=True))
    return sorted(out)


def _observed(hub: Hub, reads: dict[str, Any]) -> dict[str, tuple[Any, int, int]]:
    """Each read's answer, SQLite's steps and the statements run for it."""
    out = {}
    for name, read in reads.items():
        with _steps(hub) as steps, _statements(hub) as statements:
            answer = read()
        out[name] = (answer, steps[0], len(statements))
    return out


def _grouped(path: Path, together: bool) -> Hub:
    """X -> P ``none``: P's notices A and B meet X's hidden volumes h1 and h2, which are in one
    notice of X (``together``: N = [h1, h2], M = [h3]) or in two (N = [h1, h3], M = [h2])."""
    path.mkdir()
    hub, _ = _hub(path, Disclosure.NONE)
    h1, h2, h3 = vol("h1", lon=39.0), vol("h2", lon=40.0), vol("h3", lon=20.0)
    hub.file_notice("X", [h1, h2] if together else [h1, h3], "air-activity", "N")
    hub.file_notice("X", [h3] if together else [h2], "air-activity", "M")
    hub.process()
    hub.file_notice("P", [vol("a", lon=39.0)], "air-activity", "A")
    hub.file_notice("P", [vol("b", lon=40.0)], "air-activity", "B")
    hub.process()
    return hub


def test_conflicts_do_not_tell_how_the_hidden_volumes_met_are_grouped(tmp_path: Path) -> None:
    """§3.5: the suggestions' read of the hidden volumes a party meets looked each (notice,
    version) up once, so its list of conflicts, each conflict and its map cost 23 steps less
    when the two hidden volumes it met were in one notice than in two: it counted the other's
    notices it meets. One lookup a conflict now, whatever the notices."""
    seen = {}
    for together in (True, False):
        hub = _grouped(tmp_path / f"together-{together}", together)
        try:
            ids = {c.side_of("P").volume_id: c.id for c in hub.list_conflicts("P")}  # type: ignore[union-attr]
            seen[together] = _observed(
                hub,
                {
                    "list": lambda hub=hub: _shown(
                        view_conflicts(hub, "P", hub.list_conflicts("P"))
                    ),
                    "open": lambda hub=hub: _shown(
                        view_conflicts(hub, "P", hub.list_conflicts("P", True))
                    ),
                    "one": lambda hub=hub, ids=ids: _shown(
                        view_conflicts(hub, "P", [hub.get_conflict("P", ids["a"])])
                    ),
                },
            )
        finally:
            hub.close()
    assert len(seen[True]["list"][0]) == 2
    assert seen[True] == seen[False]


@pytest.mark.parametrize("plan", [True, False], ids=["a plan", "a notice past the bounds"])
def test_a_notification_does_not_tell_which_notice_holds_a_hidden_volume(
    tmp_path: Path, plan: bool
) -> None:
    """§3.5, §3.8: under ``conflicts-only`` P sees X's notice N in part (its notice A unlocks
    h1); its plan (or a notice past what may unlock) meets the hidden h2, in N or in another
    notice M. The notification of that conflict names no notice, but reading it read N only
    when h2 was in N (two statements more): the notices a party's conflicts unlock are now
    read whatever a read asks of them."""
    seen = {}
    for twin in ("in N", "in M"):
        (tmp_path / twin).mkdir()
        hub, _ = _hub(tmp_path / twin, Disclosure.CONFLICTS_ONLY)
        try:
            h1, h2, h3 = vol("h1", lon=39.0), vol("h2", lon=40.0), vol("h3", lon=20.0)
            hub.file_notice("X", [h1, h2] if twin == "in N" else [h1, h3], "air-activity", "N")
            hub.file_notice("X", [h3] if twin == "in N" else [h2], "air-activity", "M")
            hub.process()
            hub.file_notice("P", [vol("a", lon=39.0)], "air-activity", "A")
            probe = vol("p", lon=40.0, start_s=T0 + 6 * HOUR, end_s=T0 + 60 * HOUR)
            if plan:
                hub.add_plan("P", [vol("p", lon=40.0)], "PL")
            else:
                hub.file_notice("P", [probe], "air-activity", "B")
            hub.process()
            (target,) = [
                c
                for c in hub.list_conflicts("P")
                if c.side_of("P").volume_id == "p"  # type: ignore[union-attr]
            ]
            notes = [n for n in hub.list_notifications("P") if n.conflict_id == target.id]
            assert notes

            def notified(hub: Hub = hub, notes: list[Any] = notes) -> list[str]:
                out = []
                for note in notifications_seen(hub, "P", notes):
                    body = note.model_dump(mode="json")
                    for field in ("id", "conflict_id", "created_at", "ack_deadline"):
                        body.pop(field)
                    out.append(json.dumps(body, sort_keys=True))
                return out

            seen[twin] = _observed(
                hub,
                {
                    "notification": notified,
                    "conflict": lambda hub=hub, cid=target.id: _shown(
                        view_conflicts(hub, "P", [hub.get_conflict("P", cid)])
                    ),
                },
            )
        finally:
            hub.close()
    assert seen["in N"] == seen["in M"]


def test_a_suggestion_is_not_searched_against_a_hidden_volume_its_volume_does_not_meet(
    tmp_path: Path,
) -> None:
    """§3.6: under ``none`` P's volume A meets X's hidden h1 and its volume B meets h2. A's
    suggestion was searched against h2 too, as its envelope with its footprint exact: moved
    9 km, h2 moved A's time suggestion (+183 against +63 min), so P learned whether A's shifts
    came within the minimum of a volume no conflict of A told it of. A volume's suggestion is
    now searched against the hidden volumes it meets."""
    seen = {}
    for twin, h2_lon in (("near", 39.30), ("far", 39.40)):
        (tmp_path / twin).mkdir()
        hub, clock = _hub(tmp_path / twin, Disclosure.NONE)
        try:
            clock.set(T0 + 5.9 * HOUR)
            h1 = vol("h1", lon=39.0, start_s=T0 + 6 * HOUR, end_s=T0 + 7 * HOUR)
            h2 = vol("h2", lon=h2_lon, radius_m=2_000.0, start_s=T0 + 7 * HOUR, end_s=T0 + 9 * HOUR)
            hub.file_notice("X", [h1, h2], "air-activity", "XN")
            hub.process()
            a = vol("a", lon=39.17, radius_m=12_000.0, start_s=T0 + 6 * HOUR, end_s=T0 + 7 * HOUR)
            b = vol("b", lon=39.35, radius_m=3_000.0, start_s=T0 + 7 * HOUR, end_s=T0 + 9 * HOUR)
            hub.file_notice("P", [a], "air-activity", "PA")
            hub.file_notice("P", [b], "air-activity", "PB")
            hub.process()
            seen[twin] = _shown(view_conflicts(hub, "P", hub.list_conflicts("P")))
        finally:
            hub.close()
    assert len(seen["near"]) == 2
    assert all('"suggestion": {' in view for view in seen["near"])
    assert seen["near"] == seen["far"]
