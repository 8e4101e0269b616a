"""Agreements applied: lead time, minima per pair, routing through relays, disclosure levels
(what they let a party see: tests/policy/test_need_to_know.py)."""

from __future__ import annotations

from deconflict import policy
from deconflict.engine import SeparationMinima
from deconflict.geo import Circle, Volume4D
from deconflict.model import Agreement, Disclosure, Notice


def _vol(vid: str, start_s: float = 10_000.0) -> Volume4D:
    return Volume4D.build(vid, Circle((39.0, 35.9), 1000.0), 0.0, 1000.0, start_s, start_s + 600)


def _notice(party: str = "usaf") -> Notice:
    return Notice("N1", party, (_vol("a"), _vol("b", 20_000.0)), "air-activity", filed_at_s=0.0)


def _ag(ident: str = "mou", parties=("usaf", "faf"), **kwargs) -> Agreement:
    return Agreement(ident, parties, **kwargs)


def test_late_notice_is_flagged_with_its_shortfall():
    """Lead time runs from filing to the earliest volume start; short of the minimum is late."""
    check = policy.check_lead_time(_notice(), [_ag(min_lead_time_s=12_000.0)], filed_at_s=500.0)
    assert check.lead_time_s == 9_500.0
    assert check.late
    assert check.shortfall_s == 2_500.0


def test_timely_notice_is_not_late_and_longest_minimum_applies():
    """The longest minimum of the party's agreements applies; meeting it exactly is on time."""
    agreements = [_ag(min_lead_time_s=100.0), _ag("b", ("usaf", "raf"), min_lead_time_s=9_000.0)]
    check = policy.check_lead_time(_notice(), agreements, filed_at_s=1_000.0)
    assert (check.required_s, check.late, check.shortfall_s) == (9_000.0, False, 0.0)


def test_minima_are_the_widest_across_linking_agreements():
    """Two agreements linking a pair give their dimension-wise widest minima; none gives None."""
    agreements = [
        _ag(minima=SeparationMinima(5_000.0, 100.0, 0.0)),
        _ag("b", ("faf", "usaf", "raf"), minima=SeparationMinima(1_000.0, 300.0, 60.0)),
    ]
    assert policy.minima_for(agreements, "faf", "usaf") == SeparationMinima(5_000.0, 300.0, 60.0)
    assert policy.minima_for(agreements, "faf", "raf") == SeparationMinima(1_000.0, 300.0, 60.0)
    assert policy.minima_for(agreements, "usaf", "rsaf") is None


def test_what_discloses_a_notice_goes_through_a_relay_only_of_an_agreement_that_does():
    """A relayed memorandum withholds usaf's notices from faf, a direct agreement shows them
    whole: what tells faf a notice whole goes directly (the relay sees what it relays, nothing
    more); the rest goes through the relay, and so does all of it when the relayed one shows
    them whole too."""
    relayed = _ag(relay="caoc", default_disclosure=Disclosure.NONE)
    direct = _ag("direct", default_disclosure=Disclosure.FULL)
    for agreements in ([relayed, direct], [direct, relayed]):
        assert policy.route(agreements, "usaf", "faf").via == "caoc"
        told = policy.route(agreements, "usaf", "faf", Disclosure.FULL)
        assert told == policy.Route("usaf", "faf", None)
    both = [_ag(relay="caoc", default_disclosure=Disclosure.FULL), direct]
    assert policy.route(both, "usaf", "faf", Disclosure.FULL).via == "caoc"


def test_route_goes_through_the_relay():
    """A notice between parties of an agreement with a relay goes through the relay."""
    agreements = [_ag(relay="caoc")]
    assert policy.route(agreements, "usaf", "faf") == policy.Route("usaf", "faf", "caoc")
    assert policy.route([_ag()], "usaf", "faf") == policy.Route("usaf", "faf", None)
    assert policy.route(agreements, "usaf", "raf") is None


def test_disclosure_differs_by_direction_and_owner_sees_all():
    """What faf sees of usaf is not what usaf sees of faf; the owner always sees all."""
    agreements = [_ag(disclosure={("usaf", "faf"): "full", ("faf", "usaf"): "none"})]
    assert policy.disclosure(agreements, "usaf", "faf") is Disclosure.FULL
    assert policy.disclosure(agreements, "faf", "usaf") is Disclosure.NONE
    assert policy.disclosure(agreements, "faf", "faf") is Disclosure.FULL
