"""Shared builders for hub tests: volumes near Raqqa, a hub on a temp file at simulated time."""

from __future__ import annotations

from pathlib import Path

from deconflict.engine import SeparationMinima
from deconflict.geo import Circle, Volume4D
from deconflict.hub import Hub, SimulatedClock
from deconflict.model import Agreement, Disclosure, Unlock

T0 = 1_447_000_000.0  # November 2015
HOUR = 3600.0


def vol(
    vid: str,
    lon: float = 39.0,
    lat: float = 35.95,
    radius_m: float = 5_000.0,
    lower_m: float = 1_000.0,
    upper_m: float = 8_000.0,
    start_s: float = T0 + 6 * HOUR,
    end_s: float = T0 + 8 * HOUR,
) -> Volume4D:
    return Volume4D.build(vid, Circle((lon, lat), radius_m), lower_m, upper_m, start_s, end_s)


def make_hub(
    path: Path,
    *,
    disclosure: Disclosure = Disclosure.FULL,
    relay: str | None = None,
    lead_s: float = 2 * HOUR,
    ack_s: float = 900.0,
    target: str | None = None,
    unlock: Unlock | None = None,
) -> tuple[Hub, SimulatedClock]:
    """The scenario's hub, on a SQLite file under ``path`` unless ``target`` names a store."""
    clock = SimulatedClock(T0)
    hub = Hub.open(target if target is not None else path / "hub.db", clock)
    hub.add_party("usaf", "US Air Force")
    hub.add_party("faf", "French Air Force")
    if relay:
        hub.add_party(relay, "Combined Air Operations Center")
    hub.add_agreement(
        Agreement(
            id="mou",
            parties=("usaf", "faf"),
            min_lead_time_s=lead_s,
            minima=SeparationMinima(horizontal_m=1_000.0, vertical_m=300.0, time_s=0.0),
            relay=relay,
            default_disclosure=disclosure,
            ack_deadline_s=ack_s,
            unlock=unlock if unlock is not None else Unlock(),
        )
    )
    return hub, clock
