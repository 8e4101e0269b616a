"""The Hub's own methods are an edge too (security.md §4.1): volumes and agreements built by a
caller that skipped the GeoJSON intake are checked against the accepted ranges there, so nothing
out of range reaches the store whichever way it comes in."""

from __future__ import annotations

import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol

from deconflict import ranges
from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidInput, InvalidVolume
from deconflict.geo import AltitudeBand, Circle, TimeWindow, Volume4D
from deconflict.model import Agreement

_YEAR_10000 = 253_402_315_200.0


def _unchecked(vid: str, start_s: float, end_s: float, radius_m: float = 5_000.0) -> Volume4D:
    """A volume put together from its parts, past intake's checks (as a library caller may)."""
    return Volume4D(
        vid,
        Circle((39.0, 35.95), radius_m),
        AltitudeBand(1_000.0, 8_000.0),
        TimeWindow(start_s, end_s),
    )


@pytest.mark.parametrize(
    ("vid", "start_s", "end_s", "radius_m"),
    [
        ("far", _YEAR_10000, _YEAR_10000 + HOUR, 5_000.0),
        ("early", -HOUR, HOUR, 5_000.0),
        ("long", T0, T0 + ranges.MAX_WINDOW_S + 1.0, 5_000.0),
        ("narrow", T0, T0 + HOUR, 0.01),
    ],
    ids=["year-10000", "before-1970", "longer-than-366-days", "narrower-than-a-metre"],
)
def test_every_filing_method_refuses_a_volume_out_of_range(tmp_path, vid, start_s, end_s, radius_m):
    """security.md §4.1: file_notice, amend_notice, add_plan and amend_plan refuse a volume
    outside the accepted ranges, naming it; nothing is stored."""
    volume = _unchecked(vid, start_s, end_s, radius_m)
    hub, _ = make_hub(tmp_path)
    with hub:
        with pytest.raises(InvalidVolume, match=volume.id):
            hub.file_notice("usaf", [volume], "air-activity", "N-BAD")
        with pytest.raises(InvalidVolume, match=volume.id):
            hub.add_plan("faf", [volume], "P-BAD")
        hub.file_notice("usaf", [vol("ok")], "air-activity", "N1")
        with pytest.raises(InvalidVolume, match=volume.id):
            hub.amend_notice("usaf", "N1", 1, [volume])
        hub.add_plan("faf", [vol("ok")], "P1")
        with pytest.raises(InvalidVolume, match=volume.id):
            hub.amend_plan("faf", "P1", 1, [volume])
        assert [n.id for n in hub.list_notices("usaf")] == ["N1"]
        assert hub.get_notice("usaf", "N1").version == 1
        assert [p.version for p in hub.list_plans("faf")] == [1]


def test_too_many_volumes_are_refused(tmp_path):
    """security.md §4.1: a record of more than MAX_VOLUMES volumes is refused."""
    hub, _ = make_hub(tmp_path)
    with hub:
        many = [vol(f"v{i}") for i in range(ranges.MAX_VOLUMES + 1)]
        with pytest.raises(InvalidInput, match="volumes, more than"):
            hub.file_notice("usaf", many, "air-activity")


@pytest.mark.parametrize(
    "terms",
    [
        {"ack_deadline_s": 1e12},
        {"min_lead_time_s": ranges.MAX_LEAD_TIME_S + 1},
        {"minima": SeparationMinima(horizontal_m=1e308)},
        {"minima": SeparationMinima(vertical_m=ranges.MAX_VERTICAL_M * 2)},
        {"minima": SeparationMinima(time_s=1e308)},
    ],
    ids=["ack-deadline", "lead-time", "horizontal", "vertical", "time"],
)
def test_add_agreement_refuses_terms_out_of_range(tmp_path, terms):
    """security.md §4.1: an agreement whose deadline, lead time or minima lie outside their
    ranges is refused by the hub, and not stored."""
    hub, _ = make_hub(tmp_path)
    with hub:
        with pytest.raises(InvalidInput, match="must be at most"):
            hub.add_agreement(Agreement(id="big", parties=("usaf", "faf"), **terms))
        assert [a.id for a in hub.list_agreements()] == ["mou"]
