"""Bearer tokens: issuers from a config file (RS256 and Ed25519, PEM and JWK), and every way a
token can be wrong is a 401 problem; the operations view's session cookie, which stands in for
the token."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from tests.api.harness import circle, client, make_db, notice_body, token

from deconflict.api import ApiSettings, create_app, issue_local_token
from deconflict.api.auth import load_issuers, local_key_path
from deconflict.errors import InvalidDocument

pytestmark = pytest.mark.anyio

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def issuers_file(tmp_path):
    ed_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(ED_KEY.public_key()))
    path = tmp_path / "issuers.json"
    path.write_text(
        json.dumps(
            [
                {
                    "issuer": "https://idp.example",
                    "audience": "hub",
                    "keys": [pem(RSA_KEY), ed_jwk],
                    "subjects": {"client-7": "US"},
                }
            ]
        )
    )
    return path


def bearer(key, algorithm="RS256", **claims):
    now = int(time.time())
    body = {
        "iss": "https://idp.example",
        "aud": "hub",
        "sub": "client-7",
        "scope": "read",
        "exp": now + 600,
        **claims,
    }
    return {"Authorization": f"Bearer {jwt.encode(body, key, algorithm=algorithm)}"}


async def test_configured_issuer_rs256_and_eddsa(tmp_path):
    """RS256 (PEM key) and EdDSA (JWK) tokens of a configured issuer act for the mapped party."""
    db = make_db(tmp_path)
    async with client(db, issuers_file=issuers_file(tmp_path)) as http:
        for headers in (bearer(RSA_KEY), bearer(ED_KEY, "EdDSA")):
            answer = await http.get("/v1/agreements", headers=headers)
            assert answer.status_code == 200, answer.text
            assert {a["id"] for a in answer.json()} == {"MOU", "SHARE"}  # US's agreements


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("no token", {}),
        ("not bearer", {"Authorization": "Basic dXM6cHc="}),
        ("not a JWT", {"Authorization": "Bearer nonsense"}),
        ("expired", bearer(RSA_KEY, exp=int(time.time()) - 3600)),
        ("other audience", bearer(RSA_KEY, aud="elsewhere")),
        ("unknown issuer", bearer(RSA_KEY, iss="https://evil.example")),
        ("no expiry", None),
        ("other key", bearer(rsa.generate_private_key(public_exponent=65537, key_size=2048))),
        (
            "HS256 (a shared-secret algorithm)",
            {
                "Authorization": "Bearer "
                + jwt.api_jws.PyJWS().encode(
                    json.dumps(
                        {
                            "iss": "https://idp.example",
                            "aud": "hub",
                            "sub": "client-7",
                            "exp": int(time.time()) + 600,
                        }
                    ).encode(),
                    b"x" * 32,
                    algorithm="HS256",
                )
            },
        ),
    ],
)
async def test_bad_tokens_are_401(tmp_path, case, headers):
    """Each bad token is refused with a 401 problem and a WWW-Authenticate challenge."""
    if case == "no expiry":
        claims = {"iss": "https://idp.example", "aud": "hub", "sub": "client-7"}
        headers = {"Authorization": f"Bearer {jwt.encode(claims, RSA_KEY, algorithm='RS256')}"}
    db = make_db(tmp_path)
    async with client(db, issuers_file=issuers_file(tmp_path)) as http:
        answer = await http.get("/v1/notices", headers=headers)
    assert answer.status_code == 401, (case, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_local_tokens_of_another_database_are_refused(tmp_path):
    """A token from another hub's local issuer does not verify here."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    here = make_db(tmp_path / "a")
    there = make_db(tmp_path / "b")
    async with client(here) as http:
        assert (await http.get("/v1/notices", headers=token(here, "US"))).status_code == 200
        assert (await http.get("/v1/notices", headers=token(there, "US"))).status_code == 401


def test_issuer_file_errors_are_invalid_documents(tmp_path):
    """A malformed issuers file is refused with the reason."""
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps([{"issuer": "x", "keys": ["not a key"]}]))
    with pytest.raises(InvalidDocument, match="unreadable key"):
        load_issuers(path)
    path.write_text(json.dumps({"issuer": "x"}))
    with pytest.raises(InvalidDocument, match="list"):
        load_issuers(path)


# the operations view's session cookie ------------------------------------------------------

CSRF = {"X-Deconflict-CSRF": "1"}


def _cookie_of(answer) -> dict[str, str]:
    """The Set-Cookie of ``answer`` as {name: value, attribute: value or ""} (lower-case)."""
    (header,) = answer.headers.get_list("set-cookie")
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    out = {"name": name, "value": value}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        out[key.lower()] = val
    return out


async def test_a_session_cookie_stands_in_for_the_bearer_token(tmp_path):
    """POST /v1/session takes a token and sets it as an HttpOnly, SameSite=Strict cookie for
    /, living as long as the token and no longer; with it (and the CSRF header to change
    things) the view reads, files, listens to the stream and signs out."""
    db = make_db(tmp_path)
    bearer = issue_local_token(db, "US", ["read", "notice"], ttl_s=3600)
    async with client(db) as http:
        answer = await http.post(
            "/v1/session", json={"token": bearer}, headers={**CSRF, "Origin": "http://hub"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["party"] == "US"
        assert answer.json()["scopes"] == ["notice", "read"]
        cookie = _cookie_of(answer)
        assert cookie["name"] == "deconflict_session"
        assert cookie["value"] == bearer
        assert {"httponly", "path", "samesite", "max-age"} <= cookie.keys()
        assert "secure" not in cookie, "over http a Secure cookie would never come back"
        assert cookie["samesite"].lower() == "strict"
        assert cookie["path"] == "/"
        assert 3500 <= int(cookie["max-age"]) <= 3600, "no longer than the token"
        assert (await http.get("/v1/session")).json()["party"] == "US"
        assert (await http.get("/v1/map")).json()["party"] == "US"
        stream = await http.get("/v1/events", params={"once": "true"})
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        filed = await http.post(
            "/v1/notices", json=notice_body(circle("N-1")), headers={**CSRF, "Origin": "http://hub"}
        )
        assert filed.status_code == 201, filed.text
        out = await http.delete("/v1/session", headers=CSRF)
        assert out.status_code == 204
        gone = _cookie_of(out)
        assert gone["name"] == "deconflict_session"
        assert gone["max-age"] == "0"
        assert (await http.get("/v1/session")).status_code == 401


async def test_over_https_the_cookie_is_secure_and_bound_to_the_host(tmp_path):
    """Over https the cookie is Secure and named __Host- (no Domain, Path=/), so no other host
    of the domain can set or shadow it; the plain-named cookie is not read there."""
    db = make_db(tmp_path)
    bearer = issue_local_token(db, "US", ["read"])
    app = create_app(ApiSettings(db=db))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://hub") as http:
            answer = await http.post(
                "/v1/session", json={"token": bearer}, headers={**CSRF, "Origin": "https://hub"}
            )
            cookie = _cookie_of(answer)
            assert cookie["name"] == "__Host-deconflict_session"
            assert "secure" in cookie
            assert "domain" not in cookie
            assert (await http.get("/v1/session")).json()["party"] == "US"
            http.cookies.clear()
            plain = {"Cookie": f"deconflict_session={bearer}"}
            assert (await http.get("/v1/session", headers=plain)).status_code == 401


async def test_a_bad_token_signs_nothing_in(tmp_path):
    """An expired or unverifiable token is 401 and sets no cookie; what is not a JWT at all
    (or too long for a cookie) is 422 naming /token; an expired token in a cookie is 401."""
    db = make_db(tmp_path)
    issue_local_token(db, "US", ["read"])  # makes the local key
    private = serialization.load_pem_private_key(local_key_path(db).read_bytes(), None)
    now = int(time.time())
    claims = {"iss": "deconflict-local", "aud": "deconflict", "sub": "US", "scope": "read"}
    expired = jwt.encode({**claims, "exp": now - 3600}, private, algorithm="EdDSA")
    foreign = jwt.encode({**claims, "exp": now + 600}, ED_KEY, algorithm="EdDSA")
    headers = {**CSRF, "Origin": "http://hub"}
    async with client(db) as http:
        for bad in (expired, foreign):
            answer = await http.post("/v1/session", json={"token": bad}, headers=headers)
            assert answer.status_code == 401, answer.text
            assert "set-cookie" not in answer.headers
        for bad in ("not a token; Path=/x", "a" * 5000 + ".b"):
            answer = await http.post("/v1/session", json={"token": bad}, headers=headers)
            assert answer.status_code == 422, answer.text
            assert answer.json()["field"] == "/token"
            assert "set-cookie" not in answer.headers
        stale = {"Cookie": f"deconflict_session={expired}"}
        assert (await http.get("/v1/notices", headers=stale)).status_code == 401


async def test_metrics_need_a_token_with_the_metrics_scope(tmp_path):
    """security.md §3.7: ``/metrics`` (hub-wide counts) answers 401 without a token and 403
    naming the ``metrics`` scope to a party's token with every other scope; the operator's
    token with ``metrics`` reads them. Health and readiness still need none, and say only
    up and ready."""
    db = make_db(tmp_path)
    async with client(db) as http:
        await http.get("/v1/notices", headers=token(db, "US"))
        bare = await http.get("/metrics")
        assert bare.status_code == 401
        assert bare.headers["content-type"] == "application/problem+json"
        assert "deconflict_" not in bare.text
        party = await http.get("/metrics", headers=token(db, "US"))
        assert party.status_code == 403
        assert "'metrics'" in party.json()["detail"]
        assert "deconflict_" not in party.text
        operator = await http.get("/metrics", headers=token(db, "CAOC", ["metrics"]))
        assert operator.status_code == 200
        assert 'route="/v1/notices"' in operator.text
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json() == {"status": "ready"}
