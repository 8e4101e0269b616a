"""hub: the application service (``Hub``), its clocks and the change-log detector; the only
package that composes store, engine and policy."""

from deconflict.hub.clock import Clock, SimulatedClock, SystemClock
from deconflict.hub.service import Filing, Hub, ProcessReport, Suggestion, TickReport

__all__ = [
    "Clock",
    "Filing",
    "Hub",
    "ProcessReport",
    "SimulatedClock",
    "Suggestion",
    "SystemClock",
    "TickReport",
]
