"""The entries about a record come a page at a time, and a page costs what it holds
(security.md §4.2). A notice's owner may amend it as often as it likes: the entries about it
were read whole, a notice of 100,000 versions a 50 MB answer, and a read of the hub's shared
thread for as long, for every party that sees it whole (its owner too)."""

from __future__ import annotations

from pathlib import Path

from tests.hub.scenario import make_hub, vol
from tests.hub.test_hostile_need_to_know import _steps

from deconflict.hub import Hub
from deconflict.hub.ledger_access import entries_about


def _amended(hub: Hub, versions: int, between: bool = False) -> None:
    """usaf's notice U in ``versions`` versions (with ``between``, a notice of faf's filed after
    each: its entries between U's)."""
    hub.file_notice("usaf", [vol("u")], "air-activity", "U")
    for v in range(1, versions):
        if between:
            hub.file_notice("faf", [vol(f"f{v}", lon=20.0)], "air-activity", f"F{v}")
        hub.amend_notice("usaf", "U", v, [vol("u", upper_m=8_000.0 + v)])


def test_pages_of_a_notices_entries_are_its_entries(tmp_path: Path) -> None:
    hub, _ = make_hub(tmp_path)
    try:
        _amended(hub, 8, between=True)
        hub.cancel_notice("usaf", "U")
        hub.process()
        whole = entries_about(hub, "faf", "U", "usaf")
        assert [e["type"] for _, e in whole][-1] == "notice.cancelled"
        assert len(whole) == 9
        for limit in (1, 2, 3, 9, 10):
            pages, after = [], -1
            while True:
                page = entries_about(hub, "faf", "U", "usaf", after=after, limit=limit)
                pages += page
                if len(page) < limit:
                    break
                after = page[-1][0]
            assert pages == whole
        # After any index (here one of faf's F4's entry, between U's): those after it.
        other = whole[4][0] - 1
        assert other not in {index for index, _ in whole}
        assert entries_about(hub, "faf", "U", "usaf", after=other, limit=2) == whole[4:6]
    finally:
        hub.close()


def _page_steps(folder: Path, versions: int) -> tuple[int, int]:
    """SQLite's steps for a page of 5 of the notice's entries: the first, and one after its
    half-way version's entry."""
    folder.mkdir()
    hub, _ = make_hub(folder)
    try:
        _amended(hub, versions)
        hub.process()
        middle = entries_about(hub, "faf", "U", "usaf")[versions // 2][0]
        with _steps(hub) as first:
            assert len(entries_about(hub, "faf", "U", "usaf", limit=5)) == 5
        with _steps(hub) as later:
            assert len(entries_about(hub, "faf", "U", "usaf", after=middle, limit=5)) == 5
        return first[0], later[0]
    finally:
        hub.close()


def test_a_page_costs_what_it_holds_however_many_versions(tmp_path: Path) -> None:
    few = _page_steps(tmp_path / "few", 30)
    many = _page_steps(tmp_path / "many", 300)
    # The same but for an index level (a few steps a seek), not ten times as many: 308 and
    # 321 steps for both, measured.
    for a, b in zip(few, many, strict=True):
        assert b <= a + 60, (few, many)
