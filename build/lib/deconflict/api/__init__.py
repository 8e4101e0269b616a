"""api: the HTTP service, a thin translation of requests to Hub calls; bearer-JWT auth, limits,
problem+json errors, server-sent events. ``create_app(ApiSettings(db=...))`` is the ASGI app."""

from deconflict.api.app import ApiSettings, create_app
from deconflict.api.auth import Principal, Scope, TokenVerifier, issue_local_token

__all__ = ["ApiSettings", "Principal", "Scope", "TokenVerifier", "create_app", "issue_local_token"]
