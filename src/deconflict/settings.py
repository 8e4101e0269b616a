"""The one registry of settings: name, default, help. It feeds CLI options, ``DECONFLICT_*``
environment variables and the README's settings table (a test checks they agree)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deconflict import owner_only
from deconflict.errors import InvalidInput

__all__ = [
    "SETTINGS",
    "Setting",
    "index_file_path",
    "ledger_key_path",
    "local_state_path",
    "number_setting",
    "setting_value",
    "webhook_key_path",
    "whole_setting",
]


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting. ``env`` is derived: ``DECONFLICT_`` + the name in upper case."""

    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "DECONFLICT_" + self.name.upper().replace("-", "_")


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("db", "deconflict.db", "The SQLite database file, or a postgresql:// URL."),
        Setting("max-vertices", "10000", "Most vertices a footprint may have."),
        Setting("max-area-m2", "5e12", "Largest footprint area accepted, in square metres."),
        Setting(
            "max-record-points",
            "200000",
            "Most points a notice's or plan's footprints may have in all, as given and as "
            "densified (every 10 km along long edges).",
        ),
        Setting("report", "report", "Folder the demo writes its report into."),
        Setting(
            "state-dir",
            ".deconflict",
            "Folder for a service's local files (the local issuer's key, the ledger and webhook "
            "keys) when --db is a database URL; beside the SQLite file otherwise. Idempotency-Key "
            "responses and webhooks are kept in the database, shared by every worker.",
        ),
        Setting(
            "ledger-key",
            "",
            "File holding the hub's Ed25519 ledger signing key (made with mode 0600 when "
            "missing); by default <db>.ledger-key beside the SQLite file, or hub.ledger-key in "
            "the state-dir for a database URL. Every hub process on one database must read the "
            "same key.",
        ),
        Setting(
            "index-file",
            "",
            "File the detector keeps its index in between runs, so that a restart reads it "
            "back instead of every stored volume (rebuilt from the store when missing or not "
            "valid); by default <db>.index beside the SQLite file, or hub.index in the "
            "state-dir for a database URL; off: none.",
        ),
        Setting(
            "webhook-key",
            "",
            "File holding the key that seals webhook secrets in the database (made with mode "
            "0600 when missing); by default <db>.webhook-key beside the SQLite file, or "
            "hub.webhook-key in the state-dir for a database URL. Every hub process on one "
            "database must read the same key; lost, every webhook must be set again.",
        ),
        Setting(
            "webhook-allow-networks",
            "",
            "Networks (CIDRs, comma-separated) webhooks may be sent to besides public "
            "addresses: receivers on a private network or on the hub's host. Cloud metadata "
            "addresses stay refused.",
        ),
        Setting("url", "", "URL of a remote hub; when set, commands act through its API."),
        Setting("token", "", "Bearer token for the remote hub (see `deconflict token issue`)."),
        Setting("host", "127.0.0.1", "Address `deconflict serve` listens on."),
        Setting("port", "8080", "Port `deconflict serve` listens on."),
        Setting(
            "issuers",
            "",
            "JSON file of further token issuers the server trusts (issuer, audience, keys).",
        ),
        Setting(
            "workers",
            "1",
            "Processes `deconflict serve` runs on one database (a SQLite file or PostgreSQL).",
        ),
        Setting(
            "detector-process",
            "1",
            "1: `deconflict serve` detects in a process of its own beside its HTTP workers (on "
            "another core); 0: in the HTTP worker that holds the detector lease.",
        ),
        Setting(
            "gc-threshold",
            "20000",
            "Allocations between young-generation garbage collections in each `deconflict serve` "
            "process (Python's default: 700), which also freezes what was allocated at start out "
            "of later collections; 0 leaves Python's collector as it is.",
        ),
        Setting("rate-per-s", "50", "Requests a second each party may make to `deconflict serve`."),
        Setting("rate-burst", "100", "Requests a party may make at once before the rate applies."),
        Setting(
            "map-history-days",
            "1",
            "How far back `GET /v1/map` (the operations view) reaches, in days: its default "
            "`start`, and the earliest it accepts (0: no limit, for a replay such as the "
            "demo's `make serve`).",
        ),
        Setting(
            "streams-per-party",
            "32",
            "Event streams (`GET /v1/events`) a party may hold open at once in each process of "
            "`deconflict serve`; more are refused with 429 (0: no cap).",
        ),
        Setting(
            "http-max-header-bytes",
            "65536",
            "Largest request line and headers `deconflict serve` reads (431 beyond).",
        ),
        Setting(
            "http-header-timeout-s",
            "10",
            "Seconds a connection has to send a request's headers, from its opening or the "
            "request's first byte (408 and closed beyond).",
        ),
        Setting(
            "http-body-timeout-s",
            "60",
            "Seconds a request has to send its body after its headers (408 and closed beyond).",
        ),
        Setting(
            "http-max-connections",
            "2048",
            "Open connections each `deconflict serve` process takes (beyond: 503, Retry-After).",
        ),
        Setting(
            "http-max-connections-per-client",
            "256",
            "Open connections each process takes from one client address (beyond: 503).",
        ),
        Setting(
            "world-atlas",
            "",
            "Country outlines (TopoJSON) for the maps; unset, the package's own copy of "
            "world-atlas countries-50m.json.",
        ),
    )
}


def local_state_path(db: str, environ: Mapping[str, str] | None = None) -> Path:
    """The path the service's local files are named after: the SQLite file itself, or for a
    database URL a file in the ``state-dir`` folder (made owner-only, 0700, if missing;
    ``environ`` as in :func:`setting_value`)."""
    if "://" not in db:
        return Path(db)
    folder = Path(setting_value("state-dir", environ))
    owner_only.make_dir(folder)
    return folder / "hub"


def ledger_key_path(db: str, environ: Mapping[str, str] | None = None) -> Path:
    """The ledger signing key file of the hub on ``db``: the ``ledger-key`` setting if set, else
    beside the service's local files (:func:`local_state_path`)."""
    chosen = setting_value("ledger-key", environ)
    if chosen:
        return Path(chosen)
    state = local_state_path(db, environ)
    return state.with_name(state.name + ".ledger-key")


def index_file_path(db: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """The detector's index file of the hub on ``db``: the ``index-file`` setting if set (None
    if "off"), else beside the service's local files (:func:`local_state_path`)."""
    chosen = setting_value("index-file", environ)
    if chosen.strip().lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    state = local_state_path(db, environ)
    return state.with_name(state.name + ".index")


def webhook_key_path(state: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The file of the key sealing webhook secrets, for a service whose local files are named
    after ``state`` (:func:`local_state_path`): the ``webhook-key`` setting if set, else
    ``<state>.webhook-key`` (beside the ledger key)."""
    chosen = setting_value("webhook-key", environ)
    return Path(chosen) if chosen else state.with_name(state.name + ".webhook-key")


def setting_value(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of a setting: its environment variable if set, else its default."""
    setting = SETTINGS[name]
    env = os.environ if environ is None else environ
    return env.get(setting.env, setting.default)


def number_setting(name: str, environ: Mapping[str, str] | None = None) -> float:
    """A setting's value as a number; InvalidInput naming its variable if it is not one."""
    raw = setting_value(name, environ)
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{SETTINGS[name].env}={raw!r} is not a number") from None


def whole_setting(name: str, environ: Mapping[str, str] | None = None) -> int:
    """A setting's value as a whole number, 0 or more; InvalidInput naming its variable if it
    is not one."""
    raw = setting_value(name, environ)
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{SETTINGS[name].env}={raw!r} is not a whole number") from None
    if value < 0:
        raise InvalidInput(f"{SETTINGS[name].env}={raw!r} must not be negative")
    return value


#: The markers around the generated table in docs/settings.md.
TABLE_BEGIN = "<!-- settings table: generated by `python -m deconflict.settings`, do not edit -->"
TABLE_END = "<!-- end of settings table -->"


def markdown_table() -> str:
    """The settings as the Markdown table docs/settings.md shows (a test keeps it true)."""
    rows = [
        "| setting | environment variable | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for s in SETTINGS.values():
        default = f"`{s.default}`" if s.default else "(none)"
        meaning = s.help.replace("|", "\\|")
        rows.append(f"| `{s.name}` | `{s.env}` | {default} | {meaning} |")
    return "\n".join([TABLE_BEGIN, *rows, TABLE_END])


def rewrite_table(text: str) -> str:
    """``text`` (docs/settings.md) with its generated table replaced by today's."""
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    return head + markdown_table() + tail


if __name__ == "__main__":  # pragma: no cover - the docs' generator
    import sys

    if sys.argv[1:2] == ["--write"]:
        target = Path(sys.argv[2])
        target.write_text(rewrite_table(target.read_text()))
    else:
        print(markdown_table())
