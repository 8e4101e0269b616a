"""Need-to-know: what a party may see of another's notices, what unlocks a volume under
conflicts-only, and how a party is told of a volume it may not see (security.md §3)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconflict.engine import ConflictDetail
from deconflict.geo import Circle, Volume4D
from deconflict.model import (
    Agreement,
    Conflict,
    ConflictState,
    Disclosure,
    Notice,
    RecordKind,
    Resolution,
    Side,
    Unlock,
)
from deconflict.policy.need_to_know import (
    envelope,
    masked_detail,
    resolution_for,
    sees_other_side,
    sight,
    unlocks,
    visible_volume_ids,
)

T0 = 1_447_000_000.0


def _vol(vid: str, radius_m: float = 1_000.0, hours: float = 1.0, start_s: float = T0) -> Volume4D:
    return Volume4D.build(
        vid, Circle((39.0, 35.9), radius_m), 1_000.0, 2_000.0, start_s, start_s + hours * 3600
    )


def _notice(party: str = "usaf", version: int = 1) -> Notice:
    return Notice("N1", party, (_vol("a"), _vol("b")), "air-activity", T0 - 3600, version)


def _ag(**kwargs: object) -> Agreement:
    return Agreement("mou", ("usaf", "faf"), **kwargs)  # type: ignore[arg-type]


def _conflict(
    holder_kind: RecordKind = RecordKind.NOTICE, unlocks_it: bool = True, version: int = 1
) -> Conflict:
    """faf's record (notice or plan) meets usaf's notice N1's volume a."""
    mine = Side(holder_kind, "F1", 1, "f", "faf")
    theirs = Side(RecordKind.NOTICE, "N1", version, "a", "usaf")
    detail = ConflictDetail(T0, T0 + 3600, 0.0, 0.0, 0.0)
    return Conflict("C1", mine, theirs, detail, T0 - 60, a_unlocks=unlocks_it, b_unlocks=False)


@pytest.mark.parametrize(
    ("level", "conflicts", "expected"),
    [
        (Disclosure.FULL, [], {"a", "b"}),
        (Disclosure.CONFLICTS_ONLY, [_conflict()], {"a"}),
        (Disclosure.CONFLICTS_ONLY, [], set()),
        (Disclosure.CONFLICTS_ONLY, [_conflict(unlocks_it=False)], set()),
        (Disclosure.CONFLICTS_ONLY, [_conflict(version=2)], set()),  # an older version's
        (Disclosure.NONE, [_conflict()], set()),
    ],
)
def test_visible_volumes_follow_disclosure_and_unlocking(level, conflicts, expected):
    """Full shows every volume; conflicts-only those an open conflict at the current version
    unlocks; none nothing, whatever conflicts there are."""
    seen = visible_volume_ids(sight([_ag(default_disclosure=level)], "faf"), _notice(), conflicts)
    assert seen == expected


def test_a_resolved_conflict_unlocks_nothing():
    """Only open conflicts disclose a volume."""
    resolved = _conflict().resolve(T0)
    agreements = [_ag(default_disclosure=Disclosure.CONFLICTS_ONLY)]
    assert visible_volume_ids(sight(agreements, "faf"), _notice(), [resolved]) == set()
    assert resolved.state is ConflictState.RESOLVED


def test_a_party_with_no_agreement_sees_nothing():
    """security.md §2: a party with no agreement learns nothing of the others."""
    agreements = [_ag(default_disclosure=Disclosure.FULL)]
    raf = sight(agreements, "raf")
    assert raf.owners == ["raf"]
    assert visible_volume_ids(raf, _notice(), [_conflict()]) == set()


@pytest.mark.parametrize(
    ("kind", "volume", "bound", "expected"),
    [
        (RecordKind.NOTICE, _vol("v"), Unlock(), True),
        (RecordKind.NOTICE, _vol("v", radius_m=200_000.0), Unlock(), False),  # 126,000 km2
        (RecordKind.NOTICE, _vol("v", hours=72.0), Unlock(), False),  # past two days
        (RecordKind.PLAN, _vol("v"), Unlock(), False),  # plans unlock nothing by default
        (RecordKind.PLAN, _vol("v"), Unlock(plans=True), True),
        (RecordKind.PLAN, _vol("v", radius_m=200_000.0), Unlock(plans=True), False),
    ],
)
def test_a_volume_unlocks_within_the_agreements_bounds(kind, volume, bound, expected):
    """security.md §3.3: under conflicts-only one huge plan or notice does not disclose
    everything another party does; a plan unlocks only where the agreement lets plans."""
    agreements = [_ag(default_disclosure=Disclosure.CONFLICTS_ONLY, unlock=bound)]
    assert unlocks(agreements, "faf", "usaf", kind, volume) is expected


def test_nothing_unlocks_under_full_or_none():
    """Unlocking is a conflicts-only matter: under full or none there is nothing to unlock."""
    for level in (Disclosure.FULL, Disclosure.NONE):
        agreements = [_ag(default_disclosure=level)]
        assert not unlocks(agreements, "faf", "usaf", RecordKind.NOTICE, _vol("v"))


def test_the_relay_sees_what_members_notices_unlock_never_what_plans_do():
    """security.md §3.6: a relay sees what it relays; what a party's plans unlock is never
    relayed, so the relay does not see it."""
    agreements = [
        Agreement(
            "mou",
            ("usaf", "faf"),
            relay="caoc",
            default_disclosure=Disclosure.CONFLICTS_ONLY,
            unlock=Unlock(plans=True),
        )
    ]
    caoc = sight(agreements, "caoc")
    assert visible_volume_ids(caoc, _notice(), [_conflict(RecordKind.NOTICE)]) == {"a"}
    assert visible_volume_ids(caoc, _notice(), [_conflict(RecordKind.PLAN)]) == set()
    assert visible_volume_ids(sight(agreements, "faf"), _notice(), [_conflict(RecordKind.PLAN)])


def test_sees_other_side_follows_the_level_and_the_unlock():
    """A party sees the other side of its conflict when disclosed whole, or unlocked."""
    conflict = _conflict()
    assert sees_other_side([_ag(default_disclosure=Disclosure.FULL)], conflict, "faf")
    only = [_ag(default_disclosure=Disclosure.CONFLICTS_ONLY)]
    assert sees_other_side(only, conflict, "faf")
    assert not sees_other_side(only, _conflict(unlocks_it=False), "faf")
    assert not sees_other_side([_ag(default_disclosure=Disclosure.NONE)], conflict, "faf")


def test_the_coarsest_resolution_of_the_linking_agreements_applies():
    """Where several agreements link two parties, a hidden volume is told at the coarsest."""
    agreements = [
        _ag(resolution=Resolution(600.0, 300.0, 500.0)),
        Agreement("b", ("faf", "usaf", "raf"), resolution=Resolution(1_800.0, 100.0, 2_000.0)),
    ]
    assert resolution_for(agreements, "faf", "usaf") == Resolution(1_800.0, 300.0, 2_000.0)
    assert resolution_for([], "faf", "usaf") == Resolution()


_times = st.floats(min_value=T0 - 86_400, max_value=T0 + 86_400, allow_nan=False)
_lengths = st.floats(min_value=1.0, max_value=20_000.0, allow_nan=False)
_alts = st.floats(min_value=-500.0, max_value=20_000.0, allow_nan=False)
_thick = st.floats(min_value=1.0, max_value=5_000.0, allow_nan=False)
_steps = st.sampled_from([60.0, 300.0, 900.0, 3_600.0])
_vsteps = st.sampled_from([30.0, 150.0, 300.0])


@settings(max_examples=200, derandomize=True, deadline=None)
@given(_times, _lengths, _alts, _thick, _steps, _vsteps)
def test_an_envelope_contains_its_volume_and_says_only_steps(start, length, lower, thick, dt, dz):
    """The envelope holds the volume, and its bounds are whole steps: what a party learns from
    an adjustment computed against it is no finer than the resolution (security.md §3.6)."""
    volume = Volume4D.build(
        "v", Circle((39.0, 35.9), 1_000.0), lower, lower + thick, start, start + length
    )
    outer = envelope(volume, Resolution(dt, dz, 1_000.0))
    assert outer.window.start_s <= volume.window.start_s
    assert outer.window.end_s >= volume.window.end_s
    assert outer.altitude.lower_m <= volume.altitude.lower_m
    assert outer.altitude.upper_m >= volume.altitude.upper_m
    for value, step in (
        (outer.window.start_s, dt),
        (outer.window.end_s, dt),
        (outer.altitude.lower_m, dz),
        (outer.altitude.upper_m, dz),
    ):
        assert math.isclose(value / step, round(value / step), abs_tol=1e-9)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(_times, _lengths, _times, _lengths, _steps, st.floats(min_value=0.0, max_value=1.0))
def test_a_masked_detail_depends_on_the_hidden_volume_only_through_its_steps(
    s1, l1, s2, l2, dt, nudge
):
    """Two hidden volumes with the same envelope give the viewer the same masked detail,
    wherever its own volume is: probing with its own volumes cannot tell them apart
    (security.md §3.6)."""
    resolution = Resolution(dt, 150.0, 1_000.0)
    circle = Circle((39.0, 35.9), 1_000.0)
    mine = Volume4D.build("m", circle, 0.0, 1_000.0, s1, s1 + l1)
    hidden = Volume4D.build("h", circle, 100.0, 900.0, s2, s2 + l2)
    outer = envelope(hidden, resolution)
    # Another volume inside the same envelope, its start moved within its first step.
    start = outer.window.start_s + nudge * min(dt, l2) * 0.999
    twin = Volume4D.build("t", circle, 120.0, 880.0, start, hidden.window.end_s)
    assert envelope(twin, resolution).window == outer.window
    assert masked_detail(mine, hidden, resolution) == masked_detail(mine, twin, resolution)
