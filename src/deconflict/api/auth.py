"""Bearer JWTs: issuers, their keys, verification, and the local issuer for one machine.

A token is verified against the keys configured for its issuer (``iss``): Ed25519 keys verify
EdDSA tokens, RSA keys RS256 tokens (never the other way round, so no algorithm confusion); the
audience, the expiry and the issuer are always checked. The subject (``sub``) maps to a party
(through the issuer's ``subjects`` map, else the subject is the party id) and the ``scope`` claim
(space-separated, or a ``scp`` list) gives what the caller may do: read, notice, plan, ack, admin,
and the operator's metrics.

The local issuer is an Ed25519 key kept beside the database (mode 0600), made on first use by
``deconflict token issue``; the server trusts it by default, plus the issuers of a JSON file::

    [{"issuer": "https://auth.example", "audience": "deconflict",
      "keys": ["-----BEGIN PUBLIC KEY-----...", {"kty": "OKP", "crv": "Ed25519", "x": "..."}],
      "subjects": {"client-123": "US"}}]
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from deconflict import owner_only
from deconflict.api.problems import ApiError
from deconflict.errors import InvalidDocument, InvalidInput
from deconflict.ranges import MAX_TOKEN_TTL_S

__all__ = [
    "LOCAL_AUDIENCE",
    "LOCAL_ISSUER",
    "Issuer",
    "Principal",
    "Scope",
    "TokenVerifier",
    "issue_local_token",
    "load_issuers",
    "local_issuer",
    "local_key_path",
]

LOCAL_ISSUER = "deconflict-local"
LOCAL_AUDIENCE = "deconflict"
_LEEWAY_S = 30.0
_VERIFIED_MAX = 4096  # verified tokens remembered (forgotten all at once beyond)


class Scope(StrEnum):
    READ = "read"
    NOTICE = "notice"
    PLAN = "plan"
    ACK = "ack"
    ADMIN = "admin"
    #: the operator's: the hub-wide counts of ``/metrics`` (see security.md §3.7)
    METRICS = "metrics"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the party, and what its token lets it do."""

    party: str
    scopes: frozenset[Scope]
    issuer: str
    subject: str

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes


PublicKey = Ed25519PublicKey | RSAPublicKey


@dataclass(frozen=True, slots=True)
class Issuer:
    """An issuer the hub trusts: its name, the audience its tokens must carry, its keys."""

    issuer: str
    audience: str
    keys: tuple[PublicKey, ...]
    subjects: Mapping[str, str] = field(default_factory=dict)

    def party_of(self, subject: str) -> str:
        return self.subjects.get(subject, subject)


def _public_key(spec: object, where: str) -> PublicKey:
    try:
        if isinstance(spec, str):
            key = serialization.load_pem_public_key(spec.encode())
        elif isinstance(spec, Mapping):
            key = jwt.PyJWK.from_dict(dict(spec)).key
        else:
            raise InvalidDocument(f"{where}: a key is a PEM string or a JWK object")
    except (ValueError, TypeError, jwt.PyJWTError) as error:
        raise InvalidDocument(f"{where}: unreadable key ({error})") from None
    if isinstance(key, Ed25519PublicKey | RSAPublicKey):
        return key
    raise InvalidDocument(f"{where}: only Ed25519 and RSA public keys are accepted")


def load_issuers(path: Path) -> list[Issuer]:
    """The issuers of a JSON config file (see the module docstring)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidDocument(f"{path}: cannot read the issuers ({error})") from None
    if not isinstance(document, list):
        raise InvalidDocument(f"{path}: the issuers file must be a JSON list")
    out = []
    for i, item in enumerate(document):
        where = f"{path}: issuer [{i}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("issuer"), str):
            raise InvalidDocument(f"{where}: needs 'issuer' (a string)")
        keys = item.get("keys")
        if not isinstance(keys, list) or not keys:
            raise InvalidDocument(f"{where}: needs 'keys' (a non-empty list)")
        subjects = item.get("subjects", {})
        if not isinstance(subjects, Mapping):
            raise InvalidDocument(f"{where}: 'subjects' must map subjects to party ids")
        out.append(
            Issuer(
                issuer=item["issuer"],
                audience=str(item.get("audience", LOCAL_AUDIENCE)),
                keys=tuple(_public_key(k, where) for k in keys),
                subjects={str(k): str(v) for k, v in subjects.items()},
            )
        )
    return out


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


class TokenVerifier:
    """Verifies bearer tokens against the trusted issuers."""

    def __init__(self, issuers: Iterable[Issuer], clock: Callable[[], float] = time.time) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._clock = clock
        # Tokens already verified, until they expire: a party's systems send the same token on
        # every request, and verifying a signature costs more than the rest of a small request.
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization: Bearer ...`` header, else a 401 ApiError."""
        return self.verify_expiring(authorization)[0]

    def verify_expiring(self, authorization: str | None) -> tuple[Principal, float]:
        """:meth:`verify`, and when the token expires (its ``exp``, epoch seconds)."""
        if not authorization:
            raise ApiError(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        return self.verify_token(token.strip())

    def verify_token(self, token: str) -> tuple[Principal, float]:
        """The principal of a bare token and when it expires (its ``exp``, epoch seconds), else a
        401 ApiError."""
        known = self._verified.get(token)
        if known is not None:
            principal, expires_s = known
            if self._clock() <= expires_s + _LEEWAY_S:
                return principal, expires_s
            del self._verified[token]
        principal, expires_s = self._verify(token)
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = (principal, expires_s)
        return principal, expires_s

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _unauthorized("the token is not a JWT") from None
        issuer = self._issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise _unauthorized("the token's issuer is not trusted")
        claims = self._check(token, issuer)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise _unauthorized("the token has no subject")
        principal = Principal(issuer.party_of(subject), _scopes(claims), issuer.issuer, subject)
        return principal, float(claims["exp"])

    @staticmethod
    def _check(token: str, issuer: Issuer) -> dict[str, Any]:
        failure = "the token's signature does not verify"
        for key in issuer.keys:
            algorithm = "EdDSA" if isinstance(key, Ed25519PublicKey) else "RS256"
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=[algorithm],
                    audience=issuer.audience,
                    issuer=issuer.issuer,
                    leeway=_LEEWAY_S,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAlgorithmError:
                continue
            except jwt.ExpiredSignatureError:
                raise _unauthorized("the token has expired") from None
            except jwt.PyJWTError as error:
                failure = f"the token is not valid: {error}"
                if not isinstance(error, jwt.DecodeError):
                    raise _unauthorized(failure) from None
        raise _unauthorized(failure)


def _scopes(claims: Mapping[str, Any]) -> frozenset[Scope]:
    raw = claims.get("scope", claims.get("scp", ""))
    names: Sequence[Any] = raw.split() if isinstance(raw, str) else raw
    known = {s.value for s in Scope}
    if not isinstance(names, list | tuple):
        return frozenset()
    return frozenset(Scope(n) for n in names if n in known)


# the local issuer ---------------------------------------------------------------------------


def local_key_path(db: Path) -> Path:
    """Where the local issuer's private key lives: beside the database."""
    return db.with_name(db.name + ".issuer-key.pem")


def _local_private_key(db: Path, create: bool) -> Ed25519PrivateKey | None:
    path = local_key_path(db)
    if not path.exists():
        if not create:
            return None
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made meanwhile by another process: use that one
            return _local_private_key(db, create=False)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key
    mode = path.stat().st_mode
    if owner_only.open_to_others(mode):
        raise InvalidDocument(
            f"{path}: the local issuer's key is open to others (mode {stat.S_IMODE(mode):o}): "
            "anyone who read it can sign tokens for every party; chmod 600 it (or delete it to "
            "make a new one)"
        )
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise InvalidDocument(f"{path}: not an Ed25519 private key")
    return loaded


def local_issuer(db: Path, create: bool = True) -> Issuer | None:
    """The local issuer of the database at ``db`` (its key made on first use if ``create``)."""
    key = _local_private_key(db, create=create)
    if key is None:
        return None
    return Issuer(LOCAL_ISSUER, LOCAL_AUDIENCE, (key.public_key(),))


def issue_local_token(db: Path, party: str, scopes: Iterable[str], ttl_s: float = 86_400.0) -> str:
    """A token for ``party`` from the local issuer (its key made on first use)."""
    wanted = list(dict.fromkeys(scopes))
    for name in wanted:
        if name not in {s.value for s in Scope}:
            known = ", ".join(s.value for s in Scope)
            raise InvalidInput(f"unknown scope {name!r} ({known})")
    if not wanted:
        raise InvalidInput("give at least one scope")
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise InvalidInput(
            f"the token lifetime --ttl-s must be above 0 and at most {MAX_TOKEN_TTL_S:,.0f} s "
            f"({MAX_TOKEN_TTL_S / 86_400:g} days), got {ttl_s:g}"
        )
    key = _local_private_key(db, create=True)
    if key is None:  # pragma: no cover - create=True always returns a key
        raise InvalidInput("no local key")
    now = int(time.time())
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": party,
        "scope": " ".join(wanted),
        "iat": now,
        "exp": now + int(ttl_s),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm="EdDSA")
