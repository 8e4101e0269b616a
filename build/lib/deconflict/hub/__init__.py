"""hub: the application service (``Hub``), its clocks, the change-log detector, its consumer of
the log (cursor, passes, commits) and the worker that runs it under the detector lease; the only
package that composes store, engine and policy."""

from deconflict.hub.clock import Clock, SimulatedClock, SystemClock
from deconflict.hub.service import Filing, Hub, ProcessReport, Suggestion, TickReport
from deconflict.hub.worker import DetectorWorker

__all__ = [
    "Clock",
    "DetectorWorker",
    "Filing",
    "Hub",
    "ProcessReport",
    "SimulatedClock",
    "Suggestion",
    "SystemClock",
    "TickReport",
]
