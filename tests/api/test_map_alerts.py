"""The map's alerts cost what the map draws, not what the caller was ever told (security.md
§4.2): another party's filing of many volumes onto the caller's and its cancellation leave the
caller two notifications a volume for good, and each map the caller drew read them all, on the
reader all parties share (a twentieth reader: 204,517 steps with 4,004 of them, 463 with none).
The latest notification about each thing drawn is now found by what it is about."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.hub.scenario import HOUR, T0, make_hub, vol
from tests.hub.test_hostile_need_to_know import _steps

from deconflict.api.auth import Principal, Scope
from deconflict.api.mapview import map_view
from deconflict.geo.units import epoch_to_rfc3339
from deconflict.hub import Hub


class _Inline:
    """The service's runner and pool for heavy work, running each call at once, here."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def read(self, fn: Any, party: str | None = None) -> Any:
        return fn(self.hub)

    async def run(self, fn: Any) -> Any:
        return fn()


def _map(hub: Hub, party: str, start_s: float, end_s: float) -> tuple[dict[str, Any], int]:
    """``GET /v1/map?start=&end=`` as ``party``, and the SQLite steps its read took."""
    inline = _Inline(hub)
    service = SimpleNamespace(runner=inline, heavy=inline, map_history_s=86_400.0)
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(service=service)))
    caller = Principal(party=party, scopes=frozenset(Scope), issuer="test", subject=party)
    start, end = epoch_to_rfc3339(start_s), epoch_to_rfc3339(end_s)
    with _steps(hub) as steps:
        drawn = asyncio.run(map_view(request, caller, start=start, end=end))
    return drawn, steps[0]


def _twin(path: Path, filings: int, amendments: int) -> tuple[dict[str, Any], int, int]:
    """usaf's long notice; faf's notice G meeting it in the hour the map draws (a conflict and
    a notice, each with its alert), amended ``amendments`` times (each a notification to
    usaf about G); faf's ``filings`` notices of 100 small volumes on usaf's (a conflict each,
    as a pair of records lists 100: ``hub.pairs``), each then cancelled; a day later, usaf's
    map of the next hour: what it draws, its steps, and how many notifications usaf holds."""
    hub, clock = make_hub(path)
    try:
        long = vol("u", start_s=T0 + HOUR, end_s=T0 + 300 * 24 * HOUR)
        hub.file_notice("usaf", [long], "air-activity", "U")
        near = vol("g", lon=39.01, start_s=T0 + 24 * HOUR, end_s=T0 + 25 * HOUR)
        hub.file_notice("faf", [near], "air-activity", "G")
        for version in range(1, amendments + 1):
            hub.amend_notice("faf", "G", version, [near])
        hub.process()
        for k in range(filings):
            start = T0 + 2 * HOUR + k * HOUR
            small = [  # 100 small volumes, all within usaf's
                vol(
                    f"f{i}",
                    radius_m=100.0,
                    lon=39.0 + (i % 20) * 0.001,
                    lat=35.95 + (i // 20) * 0.001,
                    start_s=start + i,
                    end_s=start + i + 60,
                )
                for i in range(100)
            ]
            hub.file_notice("faf", small, "air-activity", f"F{k}")
            hub.process()
            hub.cancel_notice("faf", f"F{k}")
            hub.process()
        clock.set(T0 + 24 * HOUR)
        hub.process()
        drawn, steps = _map(hub, "usaf", clock.now(), clock.now() + HOUR)
        return drawn, steps, len(hub.list_notifications("usaf"))
    finally:
        hub.close()


def _without_ids(drawn: dict[str, Any]) -> list[dict[str, Any]]:
    """The features, without the ids each hub makes with its own key."""
    out = []
    for feature in drawn["features"]:
        properties = {
            k: v for k, v in feature["properties"].items() if k not in ("notification", "conflict")
        }
        if feature["properties"]["kind"] == "conflict":
            properties.pop("id")
        out.append({**feature, "id": None, "properties": properties})
    return out


def _kinds(drawn: dict[str, Any]) -> list[tuple[str, bool]]:
    """What the map draws: each feature's kind, and whether it carries an alert."""
    return sorted(
        (f["properties"]["kind"], bool(f["properties"].get("alert"))) for f in drawn["features"]
    )


def test_the_map_s_alerts_do_not_cost_what_another_party_made_the_caller_be_told(
    tmp_path: Path,
) -> None:
    """Filings and their cancellations onto the caller's volume: the same map, with a
    conflict and another's notice drawn, each with its alert, and the same steps but for an
    index level or two (41,208 more with 800 notifications before; then some 6 more a filing
    of the other party's, whose live notices the suggestions' search set read in filing order,
    every notice of the party asked its state: migration 0031)."""
    (tmp_path / "quiet").mkdir()
    (tmp_path / "flooded").mkdir()
    quiet, quiet_steps, quiet_told = _twin(tmp_path / "quiet", 0, 1)
    flooded, flooded_steps, flooded_told = _twin(tmp_path / "flooded", 4, 1)
    assert flooded_told >= quiet_told + 800  # two a volume, each filing and its cancellation
    assert _kinds(quiet) == [("conflict", True), ("notice", False), ("notice", True)]
    assert _without_ids(flooded) == _without_ids(quiet)
    assert quiet_steps <= flooded_steps <= quiet_steps + 4


def test_a_notice_s_alert_does_not_cost_its_changes(tmp_path: Path) -> None:
    """Another's notice amended 2 or 12 times (a notification to the caller each): the map's
    read of its alert is a seek to the latest, the same steps."""
    (tmp_path / "few").mkdir()
    (tmp_path / "many").mkdir()
    few, few_steps, few_told = _twin(tmp_path / "few", 0, 2)
    many, many_steps, many_told = _twin(tmp_path / "many", 0, 12)
    assert many_told >= few_told + 10
    assert _kinds(many) == _kinds(few)
    assert many_steps == few_steps
