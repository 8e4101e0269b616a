"""hub.views: what a party is shown of its conflicts and notifications, and which records it may
act on (the API and the CLI's local backend both show these)."""

from __future__ import annotations

import pytest
from tests.hub.scenario import make_hub, vol

from deconflict.errors import NotFound
from deconflict.hub.views import (
    find_notification,
    own_notice,
    own_notification,
    view_conflict,
    view_notifications,
)
from deconflict.model import Disclosure, NotificationKind


@pytest.mark.parametrize(("level", "named"), [(Disclosure.FULL, True), (Disclosure.NONE, False)])
def test_the_other_side_is_named_only_as_disclosed(tmp_path, level, named):
    """A conflict between two notices: each party sees its own side in full and the other's
    record, volume and version only when the agreement discloses them; its conflict
    notification names the other's notice only then, the conflict always."""
    hub, _ = make_hub(tmp_path, disclosure=level)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    hub.process()
    (conflict,) = hub.list_conflicts("faf")
    view = view_conflict(hub, "faf", conflict)
    assert (view.mine.record_id, view.mine.volume_id, view.mine.version) == ("N2", "b", 1)
    assert (view.theirs.party, view.theirs.kind) == ("usaf", "notice")
    theirs = (view.theirs.record_id, view.theirs.volume_id, view.theirs.version)
    assert theirs == (("N1", "a", 1) if named else (None, None, None))
    assert view.suggestion is not None
    assert view.suggestion.volume_id == "b"

    told = hub.list_notifications("faf")
    (seen,) = [
        n for n in view_notifications(hub, "faf", told) if n.kind is NotificationKind.CONFLICT
    ]
    assert seen.conflict_id == conflict.id
    assert seen.notice_id == ("N1" if named else None)
    hub.close()


@pytest.mark.parametrize("level", [Disclosure.FULL, Disclosure.NONE])
def test_notifications_naming_notices_seen_whole_read_no_notice(tmp_path, monkeypatch, level):
    """A notification names a notice of its own party or of one the agreements show it whole
    without reading the notice (an event stream views every batch it sends), and one made
    without disclosing it (its party did not see the notice whole then) is named by none."""
    hub, _ = make_hub(tmp_path, disclosure=level)
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    hub.process()
    asked: list[tuple[str, list[str]]] = []
    visible = hub.visible_volumes

    def looked_up(viewer: str, keys: list[str]) -> dict[str, frozenset[str]]:
        asked.append((viewer, list(keys)))
        return visible(viewer, keys)

    monkeypatch.setattr(hub, "visible_volumes", looked_up)
    seen = view_notifications(hub, "faf", hub.list_notifications("faf"))
    (conflict,) = [n for n in seen if n.kind is NotificationKind.CONFLICT]
    if level is Disclosure.FULL:
        assert (conflict.notice_id, asked) == ("N1", [])
    else:
        assert (conflict.notice_id, asked) == (None, [])
    hub.close()


def test_a_party_acts_only_on_its_own_records(tmp_path):
    """Another's notice (shown or hidden) and a notification relayed through a party or sent to
    another are refused with the same words as ones that do not exist."""
    hub, _ = make_hub(tmp_path, relay="caoc")
    hub.file_notice("usaf", [vol("a")], "air-activity", "N1")
    hub.file_notice("faf", [vol("b", lat=35.97)], "air-activity", "N2")
    hub.process()
    assert own_notice(hub, "usaf", "N1").id == "N1"
    for party, notice_id in (("faf", "N1"), ("caoc", "N1"), ("usaf", "N9")):
        with pytest.raises(NotFound, match=f"^no notice '{notice_id}'$"):
            own_notice(hub, party, notice_id)
    (to_faf, *_) = hub.list_notifications("faf")
    assert find_notification(hub, "caoc", to_faf.id) == to_faf
    assert own_notification(hub, "faf", to_faf.id) == to_faf
    for party, notification_id in (("caoc", to_faf.id), ("usaf", to_faf.id), ("faf", "M-0")):
        with pytest.raises(NotFound, match=f"^no notification '{notification_id}'$"):
            own_notification(hub, party, notification_id)
    hub.close()
