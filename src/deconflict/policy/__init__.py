"""policy: agreements applied to records: lead-time checks, separation minima for a pair of
parties, routing through relays (``rules``), and what a party may see of another party's notices
and how it is told of what it may not see (``disclosure``)."""

from deconflict.policy.rules import (
    LeadCheck,
    Route,
    ack_deadline_s,
    check_lead_time,
    check_relays,
    disclosure,
    linked_parties,
    minima_for,
    relayed_by,
    route,
    search_minima,
)

__all__ = [
    "LeadCheck",
    "Route",
    "ack_deadline_s",
    "check_lead_time",
    "check_relays",
    "disclosure",
    "linked_parties",
    "minima_for",
    "relayed_by",
    "route",
    "search_minima",
]
