"""The authorisation matrix: every record endpoint x own, other's, relayed and hidden records x
each scope. Hidden records are 404 whatever the scopes; acting on another's record is 404; a
missing scope is 403 only where the caller may see the record; lists never show hidden records."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from tests.api.harness import ALL_SCOPES, circle, client, make_db, notice_body, token

pytestmark = pytest.mark.anyio

SCOPE_SETS = [(s,) for s in ALL_SCOPES] + [ALL_SCOPES]
PARTIES = ("US", "RU", "CAOC", "FR")
FEATURES = {"type": "FeatureCollection", "features": [circle("v")]}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str
    mutates: bool
    ok: frozenset[int]
    body: dict | None = None


def endpoints(ids: dict[str, str]) -> dict[str, list[Endpoint]]:
    """The record endpoints, by the record they act on."""
    n, c, p, f = ids["notice"], ids["cancel"], ids["plan"], ids["notification"]
    stale = frozenset({412})  # authorised, reached the hub, refused for the stale version
    return {
        "notice": [
            Endpoint("GET", f"/v1/notices/{n}", "read", False, frozenset({200})),
            Endpoint("PUT", f"/v1/notices/{n}", "notice", True, stale, FEATURES),
            Endpoint("PATCH", f"/v1/notices/{n}", "notice", True, stale, {"category": "x"}),
        ],
        "cancel": [
            Endpoint("POST", f"/v1/notices/{c}/cancel", "notice", True, frozenset({200, 409})),
        ],
        "plan": [
            Endpoint("GET", f"/v1/plans/{p}", "read", False, frozenset({200})),
            Endpoint("PUT", f"/v1/plans/{p}", "plan", True, stale, FEATURES),
        ],
        "withdraw": [
            Endpoint(
                "POST", f"/v1/plans/{ids['withdraw']}/withdraw", "plan", True, frozenset({200, 409})
            ),
        ],
        "conflict": [
            Endpoint("GET", f"/v1/conflicts/{ids['conflict']}", "read", False, frozenset({200}))
        ],
        "notification": [
            Endpoint("GET", f"/v1/notifications/{f}", "read", False, frozenset({200})),
            Endpoint("POST", f"/v1/notifications/{f}/ack", "ack", True, frozenset({200, 409})),
        ],
    }


#: record -> relation -> parties: RU's notices are disclosed in full to US and relayed by CAOC;
#: US's plan and its conflict with RU's notice are US's alone; US's notification came via CAOC.
RELATIONS = {
    "notice": {"own": ["RU"], "other": ["US"], "relayed": ["CAOC"], "hidden": ["FR"]},
    "cancel": {"own": ["RU"], "other": ["US"], "relayed": ["CAOC"], "hidden": ["FR"]},
    "plan": {"own": ["US"], "hidden": ["RU", "CAOC", "FR"]},
    "withdraw": {"own": ["US"], "hidden": ["RU", "CAOC", "FR"]},
    "conflict": {"own": ["US"], "hidden": ["RU", "CAOC", "FR"]},
    "notification": {"own": ["US"], "relayed": ["CAOC"], "hidden": ["RU", "FR"]},
}


def expected(endpoint: Endpoint, relation: str, scopes: tuple[str, ...]) -> frozenset[int]:
    if relation == "hidden" or (endpoint.mutates and relation != "own"):
        return frozenset({404})
    if endpoint.scope not in scopes:
        return frozenset({403})
    return endpoint.ok


async def test_authorisation_matrix(tmp_path):
    """Every endpoint x relation x scope set answers as `expected` says; 404s name no owner."""
    db = make_db(tmp_path)
    async with client(db, rate_per_s=0) as http:
        ru, us = token(db, "RU"), token(db, "US")
        for nid in ("RU-N1", "RU-N2"):
            made = await http.post(
                "/v1/notices", json=notice_body(circle("ru-1"), id=nid), headers=ru
            )
            assert made.status_code == 201, made.text
        plan = await http.post(
            "/v1/plans", json=notice_body(circle("us-1", lon=39.02), id="US-P1"), headers=us
        )
        assert plan.status_code == 201, plan.text
        other = notice_body(circle("us-2", lon=45.0), id="US-P2")
        assert (await http.post("/v1/plans", json=other, headers=us)).status_code == 201
        conflicts = (await http.get("/v1/conflicts", headers=us)).json()
        notes = (await http.get("/v1/notifications", headers=us)).json()
        told = next(x for x in notes if x["notice_id"] == "RU-N1" and x["kind"] == "notice")
        assert told["via"] == "CAOC"
        ids = {
            "notice": "RU-N1",
            "cancel": "RU-N2",
            "plan": "US-P1",
            "withdraw": "US-P2",
            "conflict": conflicts[0]["id"],
            "notification": told["id"],
        }
        tokens = {(p, s): token(db, p, s) for p in PARTIES for s in SCOPE_SETS}
        failures = []
        checked = 0
        for record, eps in endpoints(ids).items():
            for relation, parties in RELATIONS[record].items():
                for party in parties:
                    for scopes in SCOPE_SETS:
                        for ep in eps:
                            headers = dict(tokens[(party, scopes)], **{"If-Match": '"999"'})
                            answer = await http.request(
                                ep.method, ep.path, json=ep.body, headers=headers
                            )
                            checked += 1
                            want = expected(ep, relation, scopes)
                            if answer.status_code not in want:
                                failures.append(
                                    (
                                        ep.method,
                                        ep.path,
                                        party,
                                        relation,
                                        scopes,
                                        answer.status_code,
                                        answer.text[:120],
                                    )
                                )
                            if answer.status_code == 404:
                                assert answer.headers["content-type"] == "application/problem+json"
                                owner = "RU" if record in ("notice", "cancel") else "US"
                                assert f"'{owner}'" not in answer.json()["detail"]
        assert failures == []
        assert checked == 240


async def test_lists_never_show_hidden_records(tmp_path):
    """Each party's lists hold only what it may see: no other party's plans, no undisclosed
    notices, no others' conflicts or notifications."""
    db = make_db(tmp_path)
    async with client(db) as http:
        ru, us = token(db, "RU"), token(db, "US")
        await http.post("/v1/notices", json=notice_body(circle("ru-1"), id="RU-N1"), headers=ru)
        await http.post("/v1/notices", json=notice_body(circle("us-1"), id="US-N1"), headers=us)
        await http.post("/v1/plans", json=notice_body(circle("us-p"), id="US-P1"), headers=us)
        seen = {}
        for party in PARTIES:
            headers = token(db, party, ["read"])
            seen[party] = {
                "notices": {
                    n["id"] for n in (await http.get("/v1/notices", headers=headers)).json()
                },
                "plans": {p["id"] for p in (await http.get("/v1/plans", headers=headers)).json()},
                "conflicts": (await http.get("/v1/conflicts", headers=headers)).json(),
                "notifications": (await http.get("/v1/notifications", headers=headers)).json(),
            }
        assert seen["RU"]["notices"] == {"RU-N1"}  # US -> RU: none
        assert seen["US"]["notices"] == {"RU-N1", "US-N1"}
        assert seen["FR"]["notices"] == {"US-N1"}  # US -> FR: full; no agreement with RU
        assert seen["CAOC"]["notices"] == {"RU-N1"}  # it relays what RU and US may see
        assert seen["RU"]["plans"] == set()
        assert seen["US"]["plans"] == {"US-P1"}
        for party in ("RU", "FR", "CAOC"):
            assert all(c["mine"]["party"] == party for c in seen[party]["conflicts"])
            assert all(
                n["recipient"] == party or n["via"] == party for n in seen[party]["notifications"]
            )
        # RU is told of the conflict with US's notice (safety), but not which notice it is
        assert "US-N1" not in {n["notice_id"] for n in seen["RU"]["notifications"]}
        assert {c["theirs"]["record_id"] for c in seen["RU"]["conflicts"]} <= {None}
