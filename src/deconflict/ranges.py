"""The accepted range of every value the hub takes in and later gives back, decided in one place.

Whatever intake accepts (the API, the CLI, ``deconflict detect``, the scenario format, the Hub's
own methods) every party that may see it must be able to read, list, map and export, and every
value derived from it must be renderable: an RFC 3339 time (``geo.units``), a time for people
(``timefmt``), the map's outlines, the event stream, the ledger. So each range is chosen
with room for what is derived from it, and intake refuses a value outside it with an error that
names the field (422 on the API). Records stored before a range was narrowed are still read
back: the ranges are checked at intake only, never when the store reads a record.

Times (seconds since the Unix epoch, UTC): a volume's window lies within
[``EARLIEST_S``, ``LATEST_S``], 1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z, and lasts at most
``MAX_WINDOW_S``. What is derived from a window stays within a day of that span (an adjustment
suggestion shifts a window by at most a day) or is the hub clock plus a bounded duration (an
acknowledgement deadline is ``now + ack_deadline_s``), so every formatter sees years far inside
1..9999; the formatters are total over every finite time all the same.
"""

from __future__ import annotations

__all__ = [
    "EARLIEST_S",
    "LATEST_S",
    "MAX_ACK_DEADLINE_S",
    "MAX_ALTITUDE_M",
    "MAX_HORIZONTAL_M",
    "MAX_LEAD_TIME_S",
    "MAX_RESOLUTION_HORIZONTAL_M",
    "MAX_RESOLUTION_TIME_S",
    "MAX_RESOLUTION_VERTICAL_M",
    "MAX_TIME_SEPARATION_S",
    "MAX_TOKEN_TTL_S",
    "MAX_UNLOCK_AREA_M2",
    "MAX_UNLOCK_DURATION_S",
    "MAX_VERTICAL_M",
    "MAX_VOLUMES",
    "MAX_WINDOW_S",
    "MIN_WIDTH_M",
]

_DAY_S = 86_400.0

#: Earliest start of a volume's window: 1970-01-01T00:00:00Z (replays of past events included).
EARLIEST_S = 0.0
#: Latest end of a volume's window: 2200-01-01T00:00:00Z.
LATEST_S = 7_258_118_400.0
#: Longest window of one volume (366 days): a notice is of planned activity, not standing airspace.
MAX_WINDOW_S = 366 * _DAY_S
#: Altitudes lie within +-1,000 km of the WGS84 ellipsoid (launch ranges included).
MAX_ALTITUDE_M = 1_000_000.0
#: Narrowest circle radius and corridor half-width: a metre (narrower is no airspace, and has no
#: outline a map can draw).
MIN_WIDTH_M = 1.0
#: Most volumes in one notice or plan.
MAX_VOLUMES = 1_000
#: Longest minimum lead time an agreement may ask for (366 days).
MAX_LEAD_TIME_S = 366 * _DAY_S
#: Longest acknowledgement deadline an agreement may give (366 days).
MAX_ACK_DEADLINE_S = 366 * _DAY_S
#: Widest horizontal separation minimum (1,000 km): far beyond any procedural minimum.
MAX_HORIZONTAL_M = 1_000_000.0
#: Widest vertical separation minimum (100 km): above any aircraft's ceiling.
MAX_VERTICAL_M = 100_000.0
#: Widest time separation minimum (a day).
MAX_TIME_SEPARATION_S = _DAY_S
#: Longest lifetime of a token from the local issuer (366 days).
MAX_TOKEN_TTL_S = 366 * _DAY_S
#: Coarsest resolution an agreement may tell hidden volumes at (policy.need_to_know): a day, 10 km
#: of altitude and 100 km of distance (coarser tells nothing useful and keeps no one safer).
MAX_RESOLUTION_TIME_S = _DAY_S
MAX_RESOLUTION_VERTICAL_M = 10_000.0
MAX_RESOLUTION_HORIZONTAL_M = 100_000.0
#: The widest unlock bounds: a window's longest length, and the Earth's surface.
MAX_UNLOCK_DURATION_S = MAX_WINDOW_S
MAX_UNLOCK_AREA_M2 = 5.1e14
