"""security.md §3.6: the relay of an agreement sees what it relays and nothing more. A
twenty-third reader added to a memorandum relayed by CAOC (usaf's notices withheld from faf) a
second agreement of the two parties, with no relay, disclosing usaf's notices to faf in full:
CAOC then saw every usaf notice whole (listed, mapped, its ledger entries) and was sent its
filings, through an agreement it has no part in and cannot list; and a twenty-fourth found that
such an agreement's terms still shaped what the relay read, and that of two relays of the same
two parties only the first relayed. Two parties with a relay between them are now linked by its
agreement alone: a second agreement of theirs is refused, naming both. A store that holds one
from before is read as it was written (the relay is still shown only what its agreement shows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.scenario import make_hub, vol

from deconflict.engine import SeparationMinima
from deconflict.errors import InvalidInput
from deconflict.hub import Hub
from deconflict.hub.ledger_access import may_see_entry
from deconflict.hub.views import view_notifications
from deconflict.model import Agreement, Disclosure

_KEYS = ("usaf/S", "usaf/U", "faf/F")


def _agreement(ident: str, parties: tuple[str, ...], relay: str | None = None) -> Agreement:
    return Agreement(
        id=ident,
        parties=parties,
        min_lead_time_s=2 * 3600.0,
        minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
        relay=relay,
        default_disclosure=Disclosure.FULL,
        ack_deadline_s=900.0,
    )


_DIRECT = _agreement("direct", ("usaf", "faf"))


def _run(path: Path, disclosure: Disclosure, direct: bool, tried: Agreement | None = None) -> Hub:
    """The scenario under the memorandum relayed by CAOC; ``direct``: a store from before the
    hub refused a second agreement of the two holds ``_DIRECT`` too; ``tried``: an agreement
    the hub was asked to add (and refused)."""
    path.mkdir()
    hub, clock = make_hub(path, disclosure=disclosure, relay="CAOC")
    if direct:
        hub.store.add_agreement(_DIRECT, clock.now())
        hub.list_agreements()  # read again, as a hub started on that store would
    if tried is not None:
        with pytest.raises(InvalidInput):
            hub.add_agreement(tried)
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


@pytest.mark.parametrize(
    ("tried", "field", "named"),
    [
        (_DIRECT, "/parties", "'usaf' and 'faf' are already linked by agreement 'mou' through"),
        (_agreement("relay-2", ("usaf", "faf"), relay="NATO"), "/relay", "'usaf' and 'faf' are"),
        (_agreement("three", ("faf", "NATO", "usaf"), relay="NATO"), "/relay", "'faf' and 'usaf'"),
    ],
)
def test_a_second_agreement_of_two_parties_a_relay_stands_between_is_refused(
    tmp_path: Path, tried: Agreement, field: str, named: str
) -> None:
    """Refused naming both agreements and the member at fault, and nothing of it is kept: the
    hub the refusal was asked of looks to the relay and to both parties as one never asked.
    (NATO as the relay of a three-party agreement relays none of NATO's own pairs, but
    usaf and faf's.)"""
    asked = tmp_path / "asked"
    asked.mkdir()
    hub, _ = make_hub(asked, relay="CAOC")
    hub.add_party("NATO", "NATO")
    try:
        with pytest.raises(InvalidInput) as refused:
            hub.add_agreement(tried)
        assert refused.value.field == field
        assert f"agreement {tried.id!r}: parties {named}" in str(refused.value)
        assert "by agreement 'mou'" in str(refused.value)
        assert [ag.id for ag in hub.list_agreements()] == ["mou"]
        assert [ag.id for ag in hub.store.list_agreements()] == ["mou"]
    finally:
        hub.close()


def test_a_relayed_agreement_over_two_parties_already_linked_is_refused(tmp_path: Path) -> None:
    """The other order: two parties linked directly get no relay by a second agreement; a pair
    no agreement links yet may have one, and two agreements of a pair with no relay between
    them stay allowed (their strictest terms apply)."""
    hub, _ = make_hub(tmp_path)  # "mou": usaf and faf, no relay
    hub.add_party("CAOC", "Combined Air Operations Center")
    hub.add_party("raf", "Royal Air Force")
    try:
        with pytest.raises(InvalidInput) as refused:
            hub.add_agreement(_agreement("relayed", ("usaf", "faf"), relay="CAOC"))
        assert refused.value.field == "/relay"
        assert "already linked by agreement 'mou';" in str(refused.value)
        hub.add_agreement(_agreement("raf-faf", ("raf", "faf"), relay="CAOC"))
        hub.add_agreement(_agreement("also-direct", ("usaf", "faf")))
        # A relay that is one of the two parties stands between no one.
        hub.add_agreement(_agreement("raf-usaf", ("raf", "usaf"), relay="raf"))
        hub.add_agreement(_agreement("raf-usaf-2", ("raf", "usaf")))
        assert {ag.id for ag in hub.list_agreements()} == {
            "mou",
            "raf-faf",
            "also-direct",
            "raf-usaf",
            "raf-usaf-2",
        }
    finally:
        hub.close()


def test_the_check_reads_the_store_not_a_hub_process_s_own_list(tmp_path: Path) -> None:
    """Two hub processes on one store: what one added is checked by the other's adding, read in
    its write turn (its own list, read when it opened, does not hold it)."""
    first, clock = make_hub(tmp_path)
    first.add_party("CAOC", "Combined Air Operations Center")
    first.add_party("raf", "Royal Air Force")
    second = Hub.open(tmp_path / "hub.db", clock)
    try:
        first.add_agreement(_agreement("raf-faf", ("raf", "faf"), relay="CAOC"))
        with pytest.raises(InvalidInput, match="already linked by agreement 'raf-faf' through"):
            second.add_agreement(_agreement("raf-faf-direct", ("faf", "raf")))
    finally:
        second.close()
        first.close()


def test_serve_says_at_start_which_stored_agreements_it_would_refuse_now(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store from before holds both: kept and applied as stored, and named in the log."""
    from deconflict.cli.serve import _refuse_a_broken_ledger

    hub, clock = make_hub(tmp_path, relay="CAOC")
    clock.advance(1.0)  # stored after "mou" (agreements are read in the order stored)
    hub.store.add_agreement(_DIRECT, clock.now())
    hub.close()
    with caplog.at_level("WARNING", logger="deconflict.agreements"):
        _refuse_a_broken_ledger(str(tmp_path / "hub.db"))
    said = [r.getMessage() for r in caplog.records if r.name == "deconflict.agreements"]
    assert len(said) == 1
    assert said[0].startswith("agreement 'direct': parties 'usaf' and 'faf' are already linked")


@pytest.mark.parametrize("disclosure", [Disclosure.NONE, Disclosure.CONFLICTS_ONLY])
def test_an_agreement_the_relay_does_not_relay_shows_it_nothing(
    tmp_path: Path, disclosure: Disclosure
) -> None:
    """A store from before holds the direct agreement too: the relay sees what it sees
    without it; and the hub asked to add it (refused) is the same to the relay."""
    relayed_only = _run(tmp_path / "relayed", disclosure, direct=False)
    with_direct = _run(tmp_path / "direct", disclosure, direct=True)
    asked = _run(tmp_path / "asked", disclosure, direct=False, tried=_DIRECT)
    try:
        seen = _relay_sees(relayed_only)
        assert seen["notifications"], "the relay relays the conflict's notifications"
        assert _relay_sees(with_direct) == seen
        assert _relay_sees(asked) == seen
        assert not asked.sees_notice("faf", "usaf/S")
        # faf sees usaf's notices whole under the direct agreement, and is told of its filings.
        assert with_direct.sees_notice("faf", "usaf/S")
        assert not relayed_only.sees_notice("faf", "usaf/S")
        told = [n for n in with_direct.list_notifications("faf") if n.notice_id == "S"]
        assert told
        assert all(n.via is None for n in told)
    finally:
        for hub in (relayed_only, with_direct, asked):
            hub.close()
