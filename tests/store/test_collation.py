"""A viewer's pages on a PostgreSQL database whose collation is not C: the notices it sees in
part are placed among the store's page in code-point order of their keys, and the next page
starts after the place the last one ended, so the store must order and compare keys the same
way (migration 0021), whatever the database's collation."""

from __future__ import annotations

import pytest
from tests.hub.scenario import HOUR, T0, vol
from tests.pg import scratch_database

from deconflict.engine import SeparationMinima
from deconflict.hub import Hub, SimulatedClock
from deconflict.model import Agreement, Disclosure

MINIMA = SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0)


@pytest.mark.postgres
def test_paging_skips_no_notice_on_a_database_of_another_collation():
    """Found by a seventh reader: on a database collated en-US ("W/a" before "W/B"; code points
    put "B" first), V's first page of one ended at W/B, the first in code points, and the next,
    asked of the store after W/B in its collation, began after W/a too: W/a was on no page."""
    clock = SimulatedClock(T0)
    with scratch_database("en-US") as url:
        hub = Hub.open(url, clock)
        try:
            for party in ("V", "W", "X"):
                hub.add_party(party)
            whole = {("W", "V"): Disclosure.FULL}
            hub.add_agreement(Agreement("wv", ("W", "V"), minima=MINIMA, disclosure=whole))
            part = {("X", "V"): Disclosure.CONFLICTS_ONLY}
            hub.add_agreement(Agreement("xv", ("X", "V"), minima=MINIMA, disclosure=part))
            clock.set(T0 + HOUR)  # W's two at one filing time
            for wid, lon in (("a", 30.0), ("B", 31.0)):
                hub.file_notice("W", [vol(wid, lon=lon)], "air-activity", wid)
            clock.set(T0 + 2 * HOUR)  # one V sees in part, unlocked by V's notice
            hub.file_notice("X", [vol("x")], "air-activity", "n")
            hub.file_notice("V", [vol("p", lon=39.01)], "air-activity", "p")
            hub.process()
            pages, after = [], None
            for _ in range(5):
                page = hub.list_notices("V", limit=1, after=after)
                if not page:
                    break
                pages.append(page[0].key)
                after = (page[0].filed_at_s, page[0].key)
            assert pages == ["W/B", "W/a", "V/p", "X/n"]
        finally:
            hub.close()
