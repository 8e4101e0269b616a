"""model: the records of deconflict and their state machines: Party, Agreement, Notice, Plan,
Conflict, Notification. Frozen dataclasses; every change returns a new record; a change the state
machine does not allow raises InvalidTransition."""

from deconflict.model.activity import (
    Notice,
    NoticeState,
    Plan,
    PlanState,
    accept_volumes,
    check_volumes,
)
from deconflict.model.outcome import (
    Conflict,
    ConflictState,
    Notification,
    NotificationKind,
    NotificationState,
    RecordKind,
    Side,
)
from deconflict.model.parties import (
    Agreement,
    Disclosure,
    Party,
    Resolution,
    Unlock,
    check_agreement_accepted,
)

__all__ = [
    "Agreement",
    "Conflict",
    "ConflictState",
    "Disclosure",
    "Notice",
    "NoticeState",
    "Notification",
    "NotificationKind",
    "NotificationState",
    "Party",
    "Plan",
    "PlanState",
    "RecordKind",
    "Resolution",
    "Side",
    "Unlock",
    "accept_volumes",
    "check_agreement_accepted",
    "check_volumes",
]
