"""policy: agreements applied to records: lead-time checks, separation minima for a pair of
parties, routing through relays, and what a recipient may see of another party's notices."""

from deconflict.policy.rules import (
    LeadCheck,
    Route,
    ack_deadline_s,
    check_lead_time,
    disclosure,
    linked_parties,
    minima_for,
    route,
    search_minima,
    visible_volumes,
)

__all__ = [
    "LeadCheck",
    "Route",
    "ack_deadline_s",
    "check_lead_time",
    "disclosure",
    "linked_parties",
    "minima_for",
    "route",
    "search_minima",
    "visible_volumes",
]
