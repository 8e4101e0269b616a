"""Bearer tokens: issuers from a config file (RS256 and Ed25519, PEM and JWK), and every way a
token can be wrong is a 401 problem."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from tests.api.harness import client, make_db, token

from deconflict.api.auth import load_issuers
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
