"""security.md §2: the relay of an agreement sees what it relays and nothing more. A twenty-third
reader added to a memorandum relayed by CAOC (usaf's notices withheld from faf) a second
agreement of the two parties, with no relay, disclosing usaf's notices to faf in full: CAOC then
saw every usaf notice whole (listed, mapped, its ledger entries) and was sent its filings,
through an agreement it has no part in and cannot list. Two hubs that differ only by that
second agreement now look the same to the relay; the parties see what each agreement grants."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.scenario import make_hub, vol

from deconflict.engine import SeparationMinima
from deconflict.hub import Hub
from deconflict.hub.ledger_access import may_see_entry
from deconflict.hub.views import view_notifications
from deconflict.model import Agreement, Disclosure

_KEYS = ("usaf/S", "usaf/U", "faf/F")


def _run(path: Path, disclosure: Disclosure, direct: bool) -> Hub:
    path.mkdir()
    hub, clock = make_hub(path, disclosure=disclosure, relay="CAOC")
    if direct:
        hub.add_agreement(
            Agreement(
                id="direct",
                parties=("usaf", "faf"),
                min_lead_time_s=2 * 3600.0,
                minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
                default_disclosure=Disclosure.FULL,
                ack_deadline_s=900.0,
            )
        )
    hub.file_notice("usaf", [vol("s", lon=30.0)], "air-activity", "S")  # meets nothing
    hub.file_notice("usaf", [vol("u")], "air-activity", "U")
    hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")  # meets U
    hub.process()
    clock.advance(60.0)
    hub.amend_notice("usaf", "U", 1, [vol("u", upper_m=7_000.0)])
    hub.process()
    return hub


_NAMES = ("type", "kind", "recipient", "via", "notice", "notice_party", "notice_version")


def _relay_sees(hub: Hub) -> dict[str, object]:
    shown = view_notifications(hub, "CAOC", hub.list_notifications("CAOC"))
    entries = [hub.ledger.entry(i) for i in range(hub.ledger.size)]
    readable = [e for e in entries if may_see_entry(hub, "CAOC", e)]
    return {
        "entries": sorted(tuple(str(e.get(name)) for name in _NAMES) for e in readable),
        "notices": [n.key for n in hub.list_notices("CAOC")],
        "sees": [hub.sees_notice("CAOC", key) for key in _KEYS],
        "notifications": sorted(
            (
                n.recipient,
                n.via,
                str(n.kind),
                n.notice_id,
                n.notice_party,
                n.conflict_id is not None,
                n.created_at_s,
                n.ack_deadline_s,
                n.lead_time_s,
            )
            for n in shown
        ),
    }


@pytest.mark.parametrize("disclosure", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_an_agreement_the_relay_does_not_relay_shows_it_nothing(
    tmp_path: Path, disclosure: Disclosure
) -> None:
    relayed_only = _run(tmp_path / "relayed", disclosure, direct=False)
    with_direct = _run(tmp_path / "direct", disclosure, direct=True)
    try:
        seen = _relay_sees(relayed_only)
        assert seen["notifications"], "the relay relays the conflict's notifications"
        assert _relay_sees(with_direct) == seen
        # faf sees usaf's notices whole under the direct agreement, and is told of its filings.
        assert with_direct.sees_notice("faf", "usaf/S")
        assert not relayed_only.sees_notice("faf", "usaf/S")
        told = [n for n in with_direct.list_notifications("faf") if n.notice_id == "S"]
        assert told
        assert all(n.via is None for n in told)
    finally:
        relayed_only.close()
        with_direct.close()
