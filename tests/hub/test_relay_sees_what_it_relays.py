"""security.md §3.6: the relay of an agreement sees what it relays and nothing more. A
twenty-third reader added to a memorandum relayed by CAOC (usaf's notices withheld from faf) a
second agreement of the two parties, with no relay, disclosing usaf's notices to faf in full:
CAOC then saw every usaf notice whole (listed, mapped, its ledger entries) and was sent its
filings, through an agreement it has no part in and cannot list; and a twenty-fourth found that
such an agreement's terms still shaped what the relay read, and that of two relays of the same
two parties only the first relayed. The agreements of two parties now all name the same relay,
or none: one that does not is refused, naming both. A store that holds one from before is read
as it was written (the relay is still shown only what its agreements show). A thirty-first
reader made a party the relay of another agreement: it then saw the other party whole, and a
change it was told of through its own relay, past the step that relay may be told, told the
relay that a hidden volume still held."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.scenario import HOUR, T0, make_hub, vol

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
    ("tried", "named"),
    [
        (_DIRECT, "'direct' would link parties 'usaf' and 'faf' directly, but agreement 'mou'"),
        (
            _agreement("relay-2", ("usaf", "faf"), relay="NATO"),
            "'relay-2' would link parties 'usaf' and 'faf' through relay 'NATO', but",
        ),
        (
            _agreement("three", ("faf", "NATO", "usaf"), relay="NATO"),
            "'three' would link parties 'faf' and 'usaf' through relay 'NATO', but",
        ),
    ],
)
def test_an_agreement_of_two_parties_through_another_relay_is_refused(
    tmp_path: Path, tried: Agreement, named: str
) -> None:
    """Refused naming both agreements and their relays, the member at fault ``/relay``, and
    nothing of it is kept. (NATO as the relay of a three-party agreement relays none of NATO's
    own pairs, but usaf and faf's.)"""
    hub, _ = make_hub(tmp_path, relay="CAOC")
    hub.add_party("NATO", "NATO")
    try:
        with pytest.raises(InvalidInput) as refused:
            hub.add_agreement(tried)
        assert refused.value.field == "/relay"
        assert str(refused.value).startswith(f"agreement {named}")
        assert "agreement 'mou' links them through relay 'CAOC'" in str(refused.value)
        assert [ag.id for ag in hub.list_agreements()] == ["mou"]
        assert [ag.id for ag in hub.store.list_agreements()] == ["mou"]
    finally:
        hub.close()


def test_a_second_agreement_through_the_same_relay_applies_its_stricter_terms(
    tmp_path: Path,
) -> None:
    """Agreements cannot be amended: to tighten the terms of two parties a relay stands
    between, an operator adds a second agreement through the same relay (the strictest terms
    apply), which the relay relays too. Wider minima find a conflict the first did not, and it
    is relayed."""
    hub, _ = make_hub(tmp_path, disclosure=Disclosure.NONE, relay="CAOC")
    try:
        hub.file_notice("usaf", [vol("u")], "air-activity", "U")
        hub.file_notice("faf", [vol("f", lon=39.2)], "air-activity", "F")  # 8 km apart
        hub.process()
        assert hub.list_conflicts("faf") == []
        wider = Agreement(
            id="wider",
            parties=("faf", "usaf"),
            minima=SeparationMinima(horizontal_m=9_260.0, vertical_m=300.0, time_s=0.0),
            relay="CAOC",
            default_disclosure=Disclosure.NONE,
        )
        hub.add_agreement(wider)
        hub.process()
        assert len(hub.list_conflicts("faf")) == 1
        relayed = hub.list_notifications("CAOC")
        assert {n.recipient for n in relayed if n.conflict_id} == {"usaf", "faf"}
        assert all(n.via == "CAOC" for n in relayed)
    finally:
        hub.close()


def test_two_parties_linked_directly_get_no_relay_by_a_second_agreement(tmp_path: Path) -> None:
    """The other order; a pair no agreement links yet may have a relay, two agreements of a
    pair with no relay between them stay allowed (their strictest terms apply), and a relay
    that is one of the two parties stands between no one."""
    hub, _ = make_hub(tmp_path)  # "mou": usaf and faf, no relay
    hub.add_party("CAOC", "Combined Air Operations Center")
    hub.add_party("raf", "Royal Air Force")
    try:
        with pytest.raises(InvalidInput) as refused:
            hub.add_agreement(_agreement("relayed", ("usaf", "faf"), relay="CAOC"))
        assert refused.value.field == "/relay"
        assert "but agreement 'mou' links them directly:" in str(refused.value)
        hub.add_agreement(_agreement("raf-faf", ("raf", "faf"), relay="CAOC"))
        hub.add_agreement(_agreement("also-direct", ("usaf", "faf")))
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
        with pytest.raises(InvalidInput, match="agreement 'raf-faf' links them through relay"):
            second.add_agreement(_agreement("raf-faf-direct", ("faf", "raf")))
    finally:
        second.close()
        first.close()


def _late_change(path: Path, faf_relays: bool) -> Hub:
    """usaf's volume, hidden from faf (none), meets faf's until 7:54; usaf moves it away at
    7:48, past the 15-minute step CAOC may be told (7:45). ``faf_relays``: faf is the relay of
    an agreement of usaf and raf disclosing usaf's notices in full, so faf sees them whole."""
    path.mkdir()
    hub, clock = make_hub(path, disclosure=Disclosure.NONE, relay="CAOC")
    hub.add_party("raf", "Royal Air Force")
    if faf_relays:
        hub.add_agreement(_agreement("usaf-raf", ("usaf", "raf"), relay="faf"))
    hub.file_notice("usaf", [vol("u", end_s=T0 + 7.9 * HOUR)], "air-activity", "U")
    hub.file_notice("faf", [vol("f", lon=39.01)], "air-activity", "F")
    hub.process()
    clock.advance(7.8 * HOUR)
    hub.amend_notice("usaf", "U", 1, [vol("u", lon=30.0, end_s=T0 + 7.9 * HOUR)])
    hub.process()
    return hub


def test_a_change_past_the_relay_s_step_goes_directly(tmp_path: Path) -> None:
    """faf, seeing usaf whole as the relay of another agreement, is told of the late change
    (its own sight), directly; CAOC reads the same with or without that agreement (it read a
    change at 7:48 with it: the hidden volume held past the step it may be told)."""
    plain = _late_change(tmp_path / "plain", faf_relays=False)
    relaying = _late_change(tmp_path / "relaying", faf_relays=True)
    try:
        assert relaying.sees_notice("faf", "usaf/U")
        assert not relaying.sees_notice("CAOC", "usaf/U")
        seen = _relay_sees(plain)
        assert seen["notifications"]
        assert _relay_sees(relaying) == seen
        changes = [
            n
            for n in relaying.list_notifications("faf")
            if n.recipient == "faf" and str(n.kind) == "change"
        ]
        assert len(changes) == 1
        assert changes[0].via is None
        assert [n for n in plain.list_notifications("faf") if str(n.kind) == "change"] == []
    finally:
        plain.close()
        relaying.close()


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
    assert said[0].startswith("agreement 'direct' would link parties 'usaf' and 'faf' directly")


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
